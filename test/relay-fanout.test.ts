/**
 * Fan-out through a real Relay: many viewers get every packet, a viewer that stops reading does
 * not hold back the others or the publisher, and a worker thread that dies takes only its own
 * sessions with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SrtOptionValue } from '../src/srt/options.js';
import type { SrtSocket } from '../src/srt/socket.js';
import { delay, withTimeout } from './helpers/srt-io.js';
import {
  connectFor,
  countingReceiver,
  pacedPublisher,
  sessionOf,
  startRelay,
  waitAttached,
  waitFor,
  waitLive,
  whenClosed,
  type CountingReceiver,
} from './helpers/relay-harness.js';

test('20 viewers on one stream each receive every packet, in order and intact', { timeout: 60_000 }, async (t) => {
  const { relay, port } = await startRelay(t);
  const pub = await connectFor(t, port, { streamid: 'publish:fan' });
  await waitLive(relay, 'fan');

  const viewers: SrtSocket[] = [];
  for (let i = 0; i < 20; i++) viewers.push(await connectFor(t, port, { streamid: 'read:fan' }));
  const ids = await waitFor(() => {
    const s = viewers.map((v) => sessionOf(relay, v)?.id);
    return s.every((id) => id !== undefined) ? (s as number[]) : undefined;
  }, '20 viewer sessions listed');
  await waitAttached(relay, ids);
  const workers = new Set(relay.listSessions().filter((s) => s.kind === 'viewer').map((s) => s.worker));
  assert.equal(workers.size, 2, 'viewers are spread over both workers');

  const rx = viewers.map((v) => countingReceiver(v));
  const COUNT = 3000; // 3 s at 1000 packets/s (~10.5 Mbit/s in, ~210 Mbit/s out)
  const p = pacedPublisher(pub, { pps: 1000, count: COUNT });
  await waitFor(
    () => rx.every((r) => r.packets >= COUNT) || p.error,
    `every viewer received ${COUNT} packets`,
    30_000,
  ).catch((e: unknown) => {
    throw new Error(`${String(e)}; counts: ${rx.map((r) => r.packets).join(',')}`);
  });
  assert.equal(p.error, undefined);
  const expected = p.checksumFrom(0);
  for (const [i, r] of rx.entries()) {
    assert.equal(r.packets, COUNT, `viewer ${i} packet count`);
    assert.equal(r.bytes, COUNT * 1316, `viewer ${i} byte count`);
    assert.equal(r.firstSeq, 0, `viewer ${i} first sequence`);
    assert.equal(r.discontinuities, 0, `viewer ${i} sequence gaps`);
    assert.equal(r.corrupt, 0, `viewer ${i} corrupt packets`);
    assert.equal(r.checksum, expected, `viewer ${i} checksum`);
  }
});

interface SlowVariant {
  name: string;
  params: Readonly<Record<string, SrtOptionValue>>;
  ringSlots: number;
  /** The relay's sends to the slow viewer must be refused (it got fewer packets than were published). */
  heldBack: boolean;
  /** The slow viewer must fall further behind than the ring holds (skipped > 0) or be dropped. */
  overrun: boolean;
}

const SLOW_VARIANTS: SlowVariant[] = [
  // libsrt's sender drops what the receiver cannot take (too-late packet drop), so with default
  // buffers the relay may never see a full send buffer.
  { name: 'default buffers', params: { latency: 200 }, ringSlots: 8192, heldBack: false, overrun: false },
  // A 256-packet relay-side send buffer fills within ~0.15 s for a viewer that takes nothing, so
  // the relay's sends to it are refused and its cursor lags.
  { name: '256-packet relay send buffer', params: { latency: 200, sndbuf: 256 * 1500 }, ringSlots: 8192, heldBack: true, overrun: false },
  // ... and with a 1024-slot ring the lagging cursor falls out of the ring and skips ahead.
  { name: '256-packet relay send buffer, 1024-slot ring', params: { latency: 200, sndbuf: 256 * 1500 }, ringSlots: 1024, heldBack: true, overrun: true },
];

for (const variant of SLOW_VARIANTS) {
  test(`a viewer that stops reading does not hold back a fast viewer or the publisher (${variant.name})`, { timeout: 60_000 }, async (t) => {
    const { relay, port } = await startRelay(t, { ringSlots: variant.ringSlots }, variant.params);
    const pub = await connectFor(t, port, { streamid: 'publish:mixed' });
    await waitLive(relay, 'mixed');
    const pubSession = sessionOf(relay, pub)!.id;
    const pubClosed = whenClosed(pub);

    // The slow viewer never calls recv(): its receive buffer (32 packets) fills and its flow
    // window closes, so the relay cannot send to it.
    const slow = await connectFor(t, port, { streamid: 'read:mixed', fc: 32, rcvbuf: 32 * 1456 });
    slow.on({ closed: () => undefined });
    const fast = await connectFor(t, port, { streamid: 'read:mixed' });
    const slowId = await waitFor(() => sessionOf(relay, slow)?.id, 'slow viewer listed');
    const fastId = await waitFor(() => sessionOf(relay, fast)?.id, 'fast viewer listed');
    await waitAttached(relay, [slowId, fastId]);

    const rx = countingReceiver(fast);
    const COUNT = 5700; // 3 s at 1900 packets/s, ~20 Mbit/s
    const p = pacedPublisher(pub, { pps: 1900, count: COUNT });
    await waitFor(() => rx.packets >= COUNT || p.error, `fast viewer received ${COUNT} packets`, 30_000).catch((e: unknown) => {
      throw new Error(`${String(e)}; fast viewer has ${rx.packets}`);
    });
    assert.equal(p.error, undefined, 'publisher kept sending');
    assert.equal(rx.packets, COUNT);
    assert.equal(rx.firstSeq, 0);
    assert.equal(rx.discontinuities, 0);
    assert.equal(rx.corrupt, 0);
    assert.equal(rx.checksum, p.checksumFrom(0));

    assert.equal(pubClosed.closed, false, 'the publisher connection was never closed');
    assert.ok(relay.listSessions().some((s) => s.id === pubSession), 'the publisher session is still there');
    assert.equal(relay.getStream('mixed')?.publisher?.session, pubSession);

    const stats = await relay.sessionStats();
    const slowStats = stats.get(slowId);
    t.diagnostic(
      slowStats === undefined
        ? 'slow viewer session was dropped by the relay'
        : `slow viewer: sent ${slowStats.packets}, skipped ${slowStats.skipped}`,
    );
    if (variant.heldBack && slowStats !== undefined) {
      assert.ok(slowStats.packets < COUNT, `the slow viewer was really held back (sent ${slowStats.packets} of ${COUNT})`);
    }
    if (variant.overrun && slowStats !== undefined) {
      assert.ok(slowStats.skipped > 0, `the slow viewer skipped ahead in the ring (skipped ${slowStats.skipped})`);
    }
  });
}

test('a crashed worker ends only its own sessions; the other worker’s viewers keep receiving and a new viewer can join', { timeout: 60_000 }, async (t) => {
  const { relay, port } = await startRelay(t, { workers: 2 });
  const pub = await connectFor(t, port, { streamid: 'publish:crash' });
  await waitLive(relay, 'crash');
  const pubInfo = sessionOf(relay, pub)!;
  assert.notEqual(pubInfo.worker, undefined);
  const pubWorker = pubInfo.worker!;
  const crashed = pubWorker === 0 ? 1 : 0;

  const viewers: Array<{ socket: SrtSocket; id: number; worker: number; rx?: CountingReceiver }> = [];
  for (let i = 0; i < 6; i++) {
    const socket = await connectFor(t, port, { streamid: 'read:crash' });
    const info = await waitFor(() => sessionOf(relay, socket), 'viewer listed');
    viewers.push({ socket, id: info.id, worker: info.worker! });
  }
  await waitAttached(relay, [pubInfo.id, ...viewers.map((v) => v.id)]);
  const survivors = viewers.filter((v) => v.worker === pubWorker);
  const victims = viewers.filter((v) => v.worker === crashed);
  assert.ok(survivors.length > 0 && victims.length > 0, `viewers on both workers (${viewers.map((v) => v.worker).join(',')})`);
  for (const v of viewers) v.rx = countingReceiver(v.socket);

  const p = pacedPublisher(pub, { pps: 500 });
  t.after(() => p.stop());
  await waitFor(() => viewers.every((v) => v.rx!.packets >= 100), 'every viewer receiving before the crash', 15_000);

  relay.crashWorker(crashed);

  for (const v of victims) {
    await withTimeout(v.rx!.closedPromise, 15_000, `viewer session ${v.id} on the crashed worker sees its socket closed`);
  }
  await waitFor(
    () => !relay.listSessions().some((s) => victims.some((v) => v.id === s.id)),
    'the crashed worker’s sessions are gone from listSessions',
  );

  // Viewers on the surviving worker keep receiving, without gaps.
  const before = survivors.map((v) => v.rx!.packets);
  await waitFor(
    () => survivors.every((v, i) => v.rx!.packets >= before[i]! + 500),
    'survivors received 500 more packets after the crash',
    15_000,
  );
  for (const v of survivors) {
    assert.equal(v.rx!.closed, false);
    assert.equal(v.rx!.discontinuities, 0, `survivor ${v.id} has no gaps`);
    assert.equal(v.rx!.corrupt, 0);
  }
  assert.equal(p.error, undefined, 'the publisher kept sending');
  assert.ok(relay.listSessions().some((s) => s.id === pubInfo.id), 'the publisher session is still there');

  // The pool replaces the dead worker: new viewers are placed on it again (least loaded) and receive.
  let joined: { socket: SrtSocket; worker: number; rx: CountingReceiver } | undefined;
  for (let attempt = 0; attempt < 20 && joined === undefined; attempt++) {
    const socket = await connectFor(t, port, { streamid: 'read:crash' });
    const info = await waitFor(() => sessionOf(relay, socket), 'new viewer listed');
    const rx = countingReceiver(socket);
    if (info.worker === crashed) joined = { socket, worker: info.worker, rx };
    else await delay(250);
  }
  assert.ok(joined !== undefined, 'a new viewer was placed on the replaced worker');
  await waitFor(() => joined!.rx.packets >= 200, 'the new viewer on the replaced worker receives', 15_000);
  assert.equal(joined.rx.discontinuities, 0);
  assert.equal(joined.rx.corrupt, 0);
});
