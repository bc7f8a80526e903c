/**
 * RingWriter at a switch of sources (issue 13 item 7): the new source is relayed from its first
 * keyframe, but a source that never sends one (no PAT/PMT, raw-ish TS, keyframes rarer than the
 * wait) is relayed after a bounded wait instead of being dropped forever. No sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketRing, WRITE_BATCH } from '../src/ring/packet-ring.js';
import { RingWriter, MAX_KEYFRAME_WAIT_MS } from '../src/ring/ring-writer.js';
import { messagesOf, tsFileBytes } from './helpers/ts-files.js';
import { delay } from './helpers/srt-io.js';

const TS = 188;

/** `n` 1316-byte messages of TS packets on one PID, no PAT/PMT, counters running. */
function psiLessMessages(n: number, pid = 0x300): Uint8Array[] {
  const out: Uint8Array[] = [];
  let cc = 0;
  for (let m = 0; m < n; m++) {
    const b = new Uint8Array(7 * TS).fill(0xaa);
    for (let p = 0; p < b.length; p += TS) {
      b[p] = 0x47;
      b[p + 1] = (pid >> 8) & 0x1f;
      b[p + 2] = pid & 0xff;
      b[p + 3] = 0x10 | (cc++ & 0xf);
    }
    out.push(b);
  }
  return out;
}

function commitAll(ring: PacketRing, writer: RingWriter, messages: Uint8Array[]): void {
  for (let i = 0; i < messages.length; i += WRITE_BATCH) {
    const first = ring.head();
    const batch = messages.slice(i, i + WRITE_BATCH);
    batch.forEach((m, k) => ring.fill(m, k));
    writer.commit(first, batch.length);
  }
}

test('a source that takes over and sends no keyframe and no PAT/PMT is relayed after the bounded wait, not dropped forever', async () => {
  assert.equal(MAX_KEYFRAME_WAIT_MS, 5000);
  const ring = PacketRing.create(4096);
  const first = new RingWriter(ring, { raw: false });
  commitAll(ring, first, messagesOf(await tsFileBytes('h264Aac')));
  assert.ok(ring.lastKeyframe() !== undefined, 'the first source had keyframes');
  first.end();
  assert.equal(ring.lastKeyframe(), undefined, 'not live: no keyframe to join at');

  const second = new RingWriter(ring, { raw: false, maxKeyframeWaitMs: 100 });
  const before = ring.head();
  commitAll(ring, second, psiLessMessages(10));
  for (let s = before; s < ring.head(); s++) assert.equal(ring.length(s), 0, `slot ${s} dropped while waiting for a keyframe`);
  assert.equal(second.dropped, 10);
  await delay(150);
  const after = ring.head();
  commitAll(ring, second, psiLessMessages(10));
  for (let s = after; s < ring.head(); s++) assert.equal(ring.length(s), 7 * TS, `slot ${s} relayed after the wait`);
  commitAll(ring, second, psiLessMessages(3));
  assert.equal(second.dropped, 10, 'nothing dropped after the wait');
});
