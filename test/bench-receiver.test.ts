/**
 * The bench receiver's accounting (bench/lib/receiver.ts): fed the synthetic TS with known drops,
 * duplicates, reorders and delays, it reports exactly those.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MSG_BYTES, TsSynth } from '../bench/lib/synth-ts.js';
import { HIST_BIN_US, Receiver, histCdf, histQuantileMs } from '../bench/lib/receiver.js';

/** n messages of stream 0 at 10 Mbit/s; message i sent at t0 + i * 1000 µs. */
function messages(n: number, stream = 0): Uint8Array[] {
  const s = new TsSynth({ bitrate: 10_000_000, stream, gopFrames: 25 });
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const b = new Uint8Array(MSG_BYTES);
    s.fill(b, 0, 1_000_000 + i * 1000);
    out.push(b);
  }
  return out;
}

function feed(r: Receiver, v: number, msgs: Uint8Array[], order: number[], delayUs: (i: number) => number): void {
  for (const i of order) r.onMessage(v, msgs[i]!, 0, MSG_BYTES, 1_000_000 + i * 1000 + delayUs(i));
}

test('a clean stream: no loss, no duplicates, no CC errors, exact bytes and latency', () => {
  const msgs = messages(2000);
  const r = new Receiver(1);
  feed(r, 0, msgs, msgs.map((_, i) => i), () => 10_000);
  const c = r.counters(0);
  assert.equal(c.packets, 2000);
  assert.equal(c.bytes, 2000 * MSG_BYTES);
  assert.equal(c.stamps, 2000);
  assert.equal(c.lost, 0);
  assert.equal(c.dup, 0);
  assert.equal(c.reordered, 0);
  assert.equal(c.ccErrors, 0);
  assert.equal(c.foreign, 0);
  assert.equal(c.latMaxUs, 10_000);
  assert.equal(c.latSumUs / c.latCount, 10_000);
  assert.equal(histQuantileMs(r.hist, 0.5), (10_000 + HIST_BIN_US) / 1000);
});

test('known drops, duplicates, reorders and delays are counted exactly', () => {
  const msgs = messages(3000);
  const drop = new Set([100, 200, 201, 202, 1500, 2999]); // 2999: last packet, never followed: not detectable
  const order: number[] = [];
  for (let i = 0; i < 3000; i++) {
    if (drop.has(i)) continue;
    if (i === 400) continue; // 400 arrives after 402 (reordered by 2)
    order.push(i);
    if (i === 402) order.push(400);
    if (i === 700 || i === 701) order.push(i); // immediate duplicates
    if (i === 900) order.push(850); // a late duplicate of 850
  }
  // latency: 20 ms for most, 60 ms for 60 of them (2 %), 5 ms for message 1000
  const slow = (i: number): boolean => i % 50 === 7;
  const r = new Receiver(2);
  feed(r, 1, msgs, order, (i) => (i === 1000 ? 5_000 : slow(i) ? 60_000 : 20_000));
  const c = r.counters(1);
  assert.equal(c.lost, 5, 'drops 100, 200-202, 1500 (2999 is after the last received packet)');
  assert.equal(c.dup, 3);
  assert.equal(c.reordered, 1);
  assert.equal(c.stale, 0);
  assert.equal(c.packets, 3000 - 6 + 3);
  assert.equal(c.stamps, c.packets);
  assert.equal(c.latCount, 3000 - 6, 'latency of first receptions only');
  assert.equal(c.latMaxUs, 60_000);
  assert.ok(c.ccErrors >= 3, 'each drop or reorder breaks the CC of the stamp PID at least');
  assert.equal(histQuantileMs(r.hist, 0.5), (20_000 + HIST_BIN_US) / 1000);
  assert.equal(histQuantileMs(r.hist, 0.99), (60_000 + HIST_BIN_US) / 1000);
  assert.equal(histQuantileMs(r.hist, 0), (5_000 + HIST_BIN_US) / 1000);
  const cdf = histCdf(r.hist);
  assert.equal(cdf[cdf.length - 1]![1], 1);
  // the other viewer saw nothing
  assert.equal(r.counters(0).packets, 0);
});

test('a single drop breaks the CC of exactly the PIDs in the dropped message (that come again)', () => {
  const msgs = messages(400);
  // message 50: which non-null PIDs does it carry?
  const pids = new Set<number>();
  for (let k = 0; k < 7; k++) {
    const p = k * 188;
    const pid = ((msgs[50]![p + 1]! & 0x1f) << 8) | msgs[50]![p + 2]!;
    if (pid !== 0x1fff) pids.add(pid);
  }
  const r = new Receiver(1);
  feed(r, 0, msgs, msgs.map((_, i) => i).filter((i) => i !== 50), () => 1000);
  assert.equal(r.counters(0).lost, 1);
  assert.equal(r.counters(0).ccErrors, pids.size);
});

test('the window counts only packets that arrive inside it; a foreign stream is flagged', () => {
  const msgs = messages(1000);
  const r = new Receiver(1);
  r.setWindow(1_000_000 + 200 * 1000 + 10_000, 1_000_000 + 700 * 1000 + 10_000); // arrivals of 200 .. 699
  feed(r, 0, msgs, msgs.map((_, i) => i).filter((i) => i !== 100 && i !== 300), () => 10_000);
  assert.equal(r.counters(0, 'total').lost, 2);
  assert.equal(r.counters(0, 'window').lost, 1);
  assert.equal(r.counters(0, 'window').packets, 499);
  assert.equal(r.counters(0, 'window').bytes, 499 * MSG_BYTES);
  // sent (not arrived) in the window: messages 210 .. 709 minus the dropped 300
  assert.equal(r.counters(0, 'total').sentInWindow, 499);
  const other = messages(10, 7);
  r.expectStream(0, 0);
  r.onMessage(0, other[0]!, 0, MSG_BYTES, 5e9);
  assert.equal(r.counters(0, 'total').foreign, 1);
});

test('a gap larger than the duplicate window and a stale packet are handled', () => {
  const msgs = messages(10_000);
  const r = new Receiver(1);
  const order = [0, 1, 2, 9000, 3, 9001];
  feed(r, 0, msgs, order, () => 1000);
  const c = r.counters(0, 'total');
  assert.equal(c.lost, 9000 - 3);
  assert.equal(c.stale, 1);
  assert.equal(c.dup, 0);
});
