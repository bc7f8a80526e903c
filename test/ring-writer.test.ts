/**
 * RingWriter at a switch of sources (issue 13 item 7): the new source is relayed from its first
 * keyframe, but a source that never sends one (no PAT/PMT, raw-ish TS, keyframes rarer than the
 * wait) is relayed after a bounded wait instead of being dropped forever; a new ring's first
 * source starts at its first keyframe too (issue 18). No sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketRing, WRITE_BATCH } from '../src/ring/packet-ring.js';
import { RingWriter, MAX_KEYFRAME_WAIT_MS } from '../src/ring/ring-writer.js';
import { messagesOf, tsFileBytes } from './helpers/ts-files.js';
import { delay } from './helpers/srt-io.js';
import { KF, readNumbered, tsMessage, type Numbered } from './helpers/numbered-ts.js';
import { TsWriter } from './helpers/ts-build.js';

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

test('a new ring’s first source starts at its first keyframe: the messages before it are dropped and the keyframe is preceded by its PAT/PMT', () => {
  const ring = PacketRing.create(1024);
  const writer = new RingWriter(ring, { raw: false });
  const w = new TsWriter();
  // Messages 37..99 of a GOP (no PAT/PMT: they come with the key frame), then the key frame 100 and on.
  commitAll(ring, writer, Array.from({ length: 80 }, (_, i) => tsMessage(w, 37 + i)));
  const kfNumber = KF * Math.ceil(37 / KF);
  const dropped = kfNumber - 37;
  assert.equal(writer.dropped, dropped, `the ${dropped} messages before the first key frame are dropped`);
  for (let s = 0; s < dropped - 1; s++) assert.equal(ring.length(s), 0, `slot ${s} (message ${37 + s}) dropped`);
  // The slot right before the key frame carries the source's PAT and PMT.
  const psiPids: number[] = [];
  readNumbered(ring.slots.subarray(ring.payloadOffset(dropped - 1)), ring.length(dropped - 1), [], psiPids);
  assert.deepEqual(psiPids, [0, 0x1000], 'PAT and PMT right before the key frame');
  assert.equal(ring.lastKeyframe(), dropped, 'the key frame message is the join point');
  const got: Numbered[] = [];
  const pids: number[] = [];
  readNumbered(ring.slots.subarray(ring.payloadOffset(dropped), ring.payloadOffset(dropped) + ring.length(dropped)), ring.length(dropped), got, pids);
  assert.deepEqual(got.map((m) => m.n), [kfNumber], 'the first message kept is the key frame’s');
  assert.deepEqual(pids.slice(0, 3), [0, 0x1000, 0x100], 'the key frame message itself starts with PAT, PMT, video');
});

test('a new ring’s first source that is not TS is relayed from its first message (nothing to wait for)', () => {
  const ring = PacketRing.create(1024);
  const writer = new RingWriter(ring, { raw: false });
  commitAll(ring, writer, Array.from({ length: 10 }, () => new Uint8Array(1316).fill(7)));
  assert.equal(writer.dropped, 0);
  for (let s = 0; s < 10; s++) assert.equal(ring.length(s), 1316, `slot ${s} relayed`);
});
