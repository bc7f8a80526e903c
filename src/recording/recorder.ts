/**
 * The recorder: one worker thread per active file:// push. It reads the stream's ring the way a
 * viewer does (its own cursor; the ring's writer never waits for it), hands the bytes to the
 * Segmenter, whose sink is a SegmentWriter. A reader that falls further behind than the ring
 * holds (a slow disk) skips to the oldest slot still there: the skipped slots are counted as
 * lost, the open segment ends and the next one starts at a keyframe.
 *
 * Messages: RecorderInit in workerData; 'stop' from the supervisor (drain to the head, close,
 * exit); the worker posts RecorderEvent.
 */
import type { MessagePort } from 'node:worker_threads';
import { PacketRing } from '../ring/packet-ring.js';
import { Segmenter } from './segmenter.js';
import { SegmentWriter } from './segment-writer.js';
import type { RecordingKeep } from './target.js';

export interface RecorderInit {
  push: number;
  stream: string;
  ring: SharedArrayBuffer;
  /** Ring sequence to start reading at. */
  start: number;
  root: string;
  /** Template with $stream/$node filled in. */
  template: string;
  timeZone: string | undefined;
  segmentSeconds: number | undefined;
  segmentBytes: number | undefined;
  keep: RecordingKeep;
  playlist: string | undefined;
  /** How often the ring is read (default 20 ms). */
  pollMs?: number;
}

export type RecorderCommand = { type: 'stop' };

export type RecorderEvent =
  | { type: 'opened'; path: string }
  | { type: 'finished'; path: string; bytes: number; durationSeconds: number; startMs: number }
  | { type: 'deleted'; paths: string[] }
  /** Every second and at the end: counters. */
  | { type: 'progress'; bytes: number; lostSlots: number; segments: number }
  /** The recording cannot go on (the segment was ended cleanly); the worker exits. */
  | { type: 'failed'; reason: string; errno: string | undefined }
  | { type: 'stopped' };

/** Slots copied out of the ring per step (then checked not overwritten meanwhile). */
const BATCH_SLOTS = 256;

export function runRecorder(init: RecorderInit, port: MessagePort): void {
  const ring = PacketRing.attach(init.ring);
  const post = (m: RecorderEvent): void => port.postMessage(m);
  const writer = new SegmentWriter(
    { root: init.root, template: init.template, timeZone: init.timeZone, keep: init.keep, playlist: init.playlist },
    {
      opened: (path) => post({ type: 'opened', path }),
      finished: (s) => post({ type: 'finished', ...s }),
      deleted: (paths) => post({ type: 'deleted', paths }),
    },
  );
  const psiLen = new DataView(ring.psi.buffer, ring.psi.byteOffset, 16).getInt32(0, true);
  const initialPsi = psiLen > 0 ? ring.psi.slice(16, 16 + psiLen) : undefined;
  const seg = new Segmenter(writer, { segmentSeconds: init.segmentSeconds, segmentBytes: init.segmentBytes, initialPsi });
  let cursor = init.start >>> 0;
  let lost = 0;
  let stopping = false;
  let done = false;
  const copy = new Uint8Array(BATCH_SLOTS * ring.slotSize);
  const lens = new Int32Array(BATCH_SLOTS);
  const times = new Float64Array(BATCH_SLOTS);
  let timer: NodeJS.Timeout | undefined;
  let lastProgress = 0;

  const progress = (): void => post({ type: 'progress', bytes: writer.bytesWritten, lostSlots: lost, segments: seg.segments });

  const finish = (failure: Error | undefined): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    if (failure !== undefined) {
      writer.abort();
      progress();
      const errno = (failure as NodeJS.ErrnoException).code;
      post({ type: 'failed', reason: failure.message, errno });
    } else {
      seg.end();
      writer.housekeeping(true);
      progress();
      if (writer.failure !== undefined) post({ type: 'failed', reason: writer.failure.message, errno: (writer.failure as NodeJS.ErrnoException).code });
      else post({ type: 'stopped' });
    }
    port.close();
  };

  /** Reads everything up to the head; false once the recording failed. */
  const drain = (): boolean => {
    for (;;) {
      const head = ring.head();
      const oldest = ring.oldest();
      if (((cursor - oldest) | 0) < 0) {
        lost += (oldest - cursor) >>> 0;
        cursor = oldest;
        seg.gap();
      }
      const avail = (head - cursor) >>> 0;
      if (avail === 0 || avail > 0x7fffffff) return writer.failure === undefined;
      const n = Math.min(avail, BATCH_SLOTS);
      let bytes = 0;
      for (let i = 0; i < n; i++) {
        const s = (cursor + i) >>> 0;
        const len = Math.max(0, Math.min(ring.length(s), ring.slotSize - 16));
        const at = ring.payloadOffset(s);
        copy.set(ring.slots.subarray(at, at + len), bytes);
        lens[i] = len;
        times[i] = ring.timeOf(s);
        bytes += len;
      }
      // The writer may have gone past what was copied: those bytes cannot be trusted.
      if (((cursor - ring.oldest()) | 0) < 0) continue;
      let o = 0;
      for (let i = 0; i < n; i++) {
        const len = lens[i]!;
        if (len > 0) seg.push(copy.subarray(o, o + len), times[i]!);
        o += len;
        if (writer.failure !== undefined) return false;
      }
      cursor = (cursor + n) >>> 0;
    }
  };

  const tick = (): void => {
    timer = undefined;
    if (done) return;
    const ok = drain() && !writer.checkDeleted();
    if (!ok) {
      finish(writer.failure);
      return;
    }
    if (stopping) {
      finish(undefined);
      return;
    }
    const now = Date.now();
    if (now - lastProgress >= 1000) {
      lastProgress = now;
      progress();
    }
    timer = setTimeout(tick, init.pollMs ?? 20);
  };

  port.on('message', (m: RecorderCommand) => {
    if (m.type === 'stop') {
      stopping = true;
      if (timer !== undefined) {
        clearTimeout(timer);
        tick();
      }
    }
  });
  writer.housekeeping();
  tick();
}
