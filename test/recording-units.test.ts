/**
 * src/recording, without peers: path templates, targets and their confinement under
 * recordingsRoot, the segmenter's cuts (keyframes only, PAT/PMT first, no byte lost or
 * duplicated), and retention's choice of what to delete.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandTemplate, templateBase, templatePattern, substituteVars } from '../src/recording/template.js';
import { checkFileTarget, confine, parseFileTarget } from '../src/recording/target.js';
import { Segmenter, type SegmentEnd, type SegmentStart } from '../src/recording/segmenter.js';
import { applyRetention, chooseDeletions, findSegments, type SegmentFile } from '../src/recording/segments.js';
import { isSrtRelayError } from '../src/errors.js';
import { MessageChannel } from 'node:worker_threads';
import { PacketRing } from '../src/ring/packet-ring.js';
import { runRecorder, type RecorderEvent } from '../src/recording/recorder.js';
import { TsWriter, annexB, h264Slice, h264Sps, H264_PPS, patSection, pmtSection } from './helpers/ts-build.js';

const TS = 188;
const VIDEO = 0x100;
const AUDIO = 0x101;
const PMT = 0x1000;

function isTargetError(err: unknown): boolean {
  return isSrtRelayError(err, 'ERR_RECORDING_TARGET_INVALID');
}

test('a template fills $stream, $node and the strftime fields in UTC, or in the configured time zone', () => {
  const at = new Date(Date.UTC(2026, 11, 3, 23, 5, 9));
  assert.equal(expandTemplate('$stream/$node/%Y-%m-%d/%H-%M-%S.ts', { stream: 'cam/1', node: 'n1' }, at), 'cam/1/n1/2026-12-03/23-05-09.ts');
  assert.equal(expandTemplate('%Y%m%d-%H%M%S-100%%.ts', { stream: 's', node: 'n' }, at, 'Asia/Tokyo'), '20261204-080509-100%.ts');
  assert.throws(() => parseFileTarget('file://a/%j.ts'), isTargetError);
  assert.throws(() => parseFileTarget('file://a/$foo.ts'), isTargetError);
  assert.throws(() => parseFileTarget('file://a.ts?timeZone=Mars/Olympus'), isTargetError);
});

test("a template's pattern matches the files it writes (and their -N twins), nothing else; its base is the fixed folder part", () => {
  const t = substituteVars('rec/$stream/%Y-%m-%d/%H-%M-%S.ts', { stream: 'cam', node: 'n' });
  assert.equal(templateBase(t), 'rec/cam/');
  const re = templatePattern(t);
  assert.ok(re.test('2026-12-03/14-05-09.ts'));
  assert.ok(re.test('2026-12-03/14-05-09-2.ts'));
  assert.ok(!re.test('2026-12-03/14-05-09.ts.tmp'));
  assert.ok(!re.test('other/14-05-09.ts'));
  assert.ok(!re.test('2026-12-03/14-05-09.m3u8'));
});

test('a target parses its parameters; "..", unknown parameters and bad numbers are refused with ERR_RECORDING_TARGET_INVALID', () => {
  const t = parseFileTarget('file:///srv/rec/$stream/%H.ts?segmentSeconds=10&keepMaxBytes=5000&keepMaxAgeHours=1.5&timeZone=Europe/Berlin&playlist=0');
  assert.deepEqual(
    { template: t.template, seconds: t.segmentSeconds, bytes: t.segmentBytes, keep: t.keep, tz: t.timeZone, playlist: t.playlist },
    { template: '/srv/rec/$stream/%H.ts', seconds: 10, bytes: undefined, keep: { maxBytes: 5000, maxAgeHours: 1.5 }, tz: 'Europe/Berlin', playlist: false },
  );
  assert.equal(parseFileTarget('file://a.ts').segmentSeconds, 60, 'default: 60 s segments');
  assert.equal(parseFileTarget('file://a.ts?segmentBytes=1000000').segmentSeconds, undefined);
  for (const bad of ['file://../x.ts', 'file://a/../../x.ts', 'file:///srv/rec/../../etc/x.ts', 'file://a.ts?segments=3', 'file://a.ts?segmentSeconds=0', 'file://a.ts?segmentBytes=1.5', 'file://dir/', 'file:a.ts']) {
    assert.throws(() => parseFileTarget(bad), isTargetError, bad);
  }
});

test('confinement: inside recordingsRoot only, lexically and through symbolic links; no root, no recording', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rec-units-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  const outside = join(dir, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  symlinkSync(outside, join(root, 'escape'));
  const vars = { stream: 'cam', node: 'n' };
  assert.equal(confine(root, 'cam/x.ts'), join(root, 'cam/x.ts'));
  assert.ok(checkFileTarget(`file://${root}/$stream/%H.ts`, root, vars));
  assert.ok(checkFileTarget('file://$stream/%H.ts', root, vars));
  assert.throws(() => checkFileTarget(`file://${outside}/$stream.ts`, root, vars), isTargetError);
  assert.throws(() => checkFileTarget('file://escape/$stream/%H.ts', root, vars), isTargetError, 'a symlink out of the root');
  assert.throws(() => checkFileTarget('file://$stream.ts', undefined, vars), isTargetError, 'no recordingsRoot');
  assert.throws(() => confine(root, 'a/../../x.ts'), isTargetError);
});

// ---- segmenter --------------------------------------------------------------------------------

const SPS = h264Sps({ profile: 66, widthMbs: 20, heightMapUnits: 15 });

/**
 * A synthetic 25 fps H.264 + audio stream: `seconds` long, a keyframe every `gop` frames, PAT
 * and PMT before every keyframe (as ffmpeg writes them) when `psiBeforeKeyframes`, else only at
 * the start. It begins with `lead` non-key frames (a join in mid-GOP).
 */
function stream(o: { seconds: number; gop: number; lead?: number; psiBeforeKeyframes?: boolean }): Uint8Array {
  const w = new TsWriter();
  const pat = patSection([{ number: 1, pmtPid: PMT }]);
  const pmt = pmtSection(1, VIDEO, [{ type: 0x1b, pid: VIDEO }, { type: 0x0f, pid: AUDIO }]);
  const lead = o.lead ?? 0;
  const frames = o.seconds * 25;
  w.psi(0, pat);
  w.psi(PMT, pmt);
  for (let f = -lead; f < frames; f++) {
    const key = f >= 0 && f % o.gop === 0;
    if (key && (f > 0 || lead > 0) && o.psiBeforeKeyframes !== false) {
      w.psi(0, pat);
      w.psi(PMT, pmt);
    }
    const pts = 90000 + (f + lead) * 3600;
    const es = key ? annexB([SPS, H264_PPS, h264Slice(5, 7, 900)]) : annexB([h264Slice(1, 0, 300)]);
    w.pes(VIDEO, 0xe0, es, { pts, ...(key ? { rai: true } : {}) });
    if (f % 2 === 0) w.pes(AUDIO, 0xc0, new Uint8Array(200).fill(0x33), { pts });
  }
  return w.bytes();
}

interface Recorded {
  files: Uint8Array[];
  starts: SegmentStart[];
  ends: SegmentEnd[];
}

function record(data: Uint8Array, opts: ConstructorParameters<typeof Segmenter>[1], chunks: (i: number) => number, gapAt?: number): Recorded {
  const out: Recorded = { files: [], starts: [], ends: [] };
  let cur: Uint8Array[] = [];
  const seg = new Segmenter(
    {
      open: (s) => {
        out.starts.push(s);
        cur = [];
      },
      write: (b) => cur.push(b.slice()),
      close: (e) => {
        out.ends.push(e);
        out.files.push(Buffer.concat(cur));
      },
    },
    opts,
  );
  let o = 0;
  for (let i = 0; o < data.length; i++) {
    const n = Math.min(chunks(i), data.length - o);
    if (gapAt !== undefined && o <= gapAt && gapAt < o + n) {
      seg.gap();
      o += n; // these bytes are lost
      continue;
    }
    seg.push(data.subarray(o, o + n), o);
    o += n;
  }
  seg.end();
  return out;
}

function pids(b: Uint8Array, n: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < n * TS && p + TS <= b.length; p += TS) out.push(((b[p + 1]! & 0x1f) << 8) | b[p + 2]!);
  return out;
}

/** Offset of the PAT right before the first keyframe PES (the first video PES with the RAI flag). */
function firstKeyframePat(b: Uint8Array): number {
  let lastPat = -1;
  for (let p = 0; p + TS <= b.length; p += TS) {
    const pid = ((b[p + 1]! & 0x1f) << 8) | b[p + 2]!;
    if (pid === 0 && (b[p + 1]! & 0x40) !== 0) lastPat = p;
    if (pid === VIDEO && (b[p + 1]! & 0x40) !== 0 && (b[p + 3]! & 0x20) !== 0 && (b[p + 5]! & 0x40) !== 0) return lastPat;
  }
  return -1;
}

test('segmentSeconds 10 on 25 s with a 2 s GOP: 3 segments, each PAT, PMT, keyframe first; their concatenation is the stream from the first keyframe\'s PAT, whatever the chunking', () => {
  const data = stream({ seconds: 25, gop: 50, lead: 7 });
  const from = firstKeyframePat(data);
  assert.ok(from > 0);
  for (const chunking of [() => 1316, () => 1456, (i: number) => 1 + ((i * 7919) % 3000)]) {
    const r = record(data, { segmentSeconds: 10 }, chunking);
    assert.equal(r.files.length, 3);
    for (const f of r.files) {
      assert.deepEqual(pids(f, 3), [0, PMT, VIDEO]);
      assert.ok((f[2 * TS + 5]! & 0x40) !== 0, 'the first video packet carries the keyframe (RAI)');
    }
    assert.deepEqual(r.ends.map((e) => Math.round(e.durationSeconds * 100) / 100), [10, 10, 5]);
    assert.deepEqual(r.starts.map((s) => s.insertedBytes), [0, 0, 0]);
    assert.ok(Buffer.from(Buffer.concat(r.files)).equals(Buffer.from(data.subarray(from))), 'byte-equal to the stream from the first keyframe on');
    assert.deepEqual(r.ends.map((e) => e.bytes), r.files.map((f) => f.length));
  }
});

test('a stream without PAT/PMT before its keyframes gets the latest ones inserted at each cut, and nothing else added', () => {
  const data = stream({ seconds: 12, gop: 50, psiBeforeKeyframes: false });
  const r = record(data, { segmentSeconds: 4 }, () => 1316);
  assert.equal(r.files.length, 3);
  for (const f of r.files) assert.deepEqual(pids(f, 3), [0, PMT, VIDEO]);
  assert.deepEqual(r.starts.map((s) => s.insertedBytes), [0, 2 * TS, 2 * TS]);
  const withoutInserted = Buffer.concat(r.files.map((f, i) => f.subarray(r.starts[i]!.insertedBytes)));
  assert.ok(withoutInserted.equals(Buffer.from(data)));
});

test('segmentBytes cuts at the first keyframe past the size; a gap closes the segment and the next starts at a keyframe', () => {
  const data = stream({ seconds: 20, gop: 50 });
  const bySize = record(data, { segmentBytes: 100_000 }, () => 1316);
  assert.ok(bySize.files.length >= 2);
  for (const f of bySize.files.slice(0, -1)) assert.ok(f.length >= 100_000);
  assert.ok(Buffer.concat(bySize.files).equals(Buffer.from(data.subarray(firstKeyframePat(data)))));
  const gapped = record(data, { segmentSeconds: 100 }, () => 1316, Math.floor(data.length / 2));
  assert.equal(gapped.files.length, 2, 'the gap ends the first segment, the second starts at the next keyframe');
  for (const f of gapped.files) assert.deepEqual(pids(f, 3), [0, PMT, VIDEO]);
});

// ---- retention ----------------------------------------------------------------------------------

test('retention deletes the oldest finished segments past keep.maxBytes and those older than keep.maxAgeHours, never the open one', () => {
  const f = (name: string, bytes: number, ageH: number): SegmentFile => ({ path: name, bytes, mtimeMs: 1e12 - ageH * 3600_000 });
  const files = [f('a', 100, 5), f('b', 100, 4), f('c', 100, 3), f('d', 100, 0)];
  assert.deepEqual(chooseDeletions(files, { maxBytes: 250 }, 1e12).map((x) => x.path), ['a', 'b']);
  assert.deepEqual(chooseDeletions(files, { maxAgeHours: 3.5 }, 1e12).map((x) => x.path), ['a', 'b']);
  assert.deepEqual(chooseDeletions(files, { maxBytes: 150 }, 1e12, new Set(['d'])).map((x) => x.path), ['a', 'b'], 'the open segment counts for nothing');
  assert.deepEqual(chooseDeletions(files, {}, 1e12), []);
});

test("retention on disk touches only that target's files and removes the folders it emptied", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rec-ret-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const template = 'cam/%Y-%m-%d/%H-%M-%S.ts';
  const base = join(dir, templateBase(template));
  const re = templatePattern(template);
  const mk = (rel: string, ageS: number): void => {
    const p = join(base, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, Buffer.alloc(1000));
    const t2 = new Date(Date.now() - ageS * 1000);
    utimesSync(p, t2, t2);
  };
  mk('2026-12-01/10-00-00.ts', 300);
  mk('2026-12-02/10-00-00.ts', 200);
  mk('2026-12-02/10-00-10.ts', 100);
  mk('2026-12-02/other.ts', 400);
  assert.equal(findSegments(base, re).length, 3);
  const deleted = applyRetention(base, re, { maxBytes: 1500 }, new Set());
  assert.deepEqual(deleted.map((d) => d.path), [join(base, '2026-12-01/10-00-00.ts'), join(base, '2026-12-02/10-00-00.ts')]);
  assert.deepEqual(findSegments(base, re).map((s) => s.path), [join(base, '2026-12-02/10-00-10.ts')]);
  assert.equal(existsSync(join(base, '2026-12-01')), false, 'the emptied day folder is gone');
  assert.equal(existsSync(join(base, '2026-12-02/other.ts')), true, 'a file the template did not write stays');
});

test('a recorder that falls further behind than the ring holds (a slow disk) counts the skipped packets as lost and records on from the next keyframe', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'rec-behind-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const ring = PacketRing.create(256);
  const data = stream({ seconds: 25, gop: 50 });
  // Everything is in the ring before the recorder first reads: it is 342 slots behind.
  let slots = 0;
  for (let o = 0; o < data.length; o += 1316, slots++) ring.write(data.subarray(o, Math.min(o + 1316, data.length)));
  const oldest = ring.oldest();
  assert.ok(oldest > 0);
  const { port1, port2 } = new MessageChannel();
  const events: RecorderEvent[] = [];
  const done = new Promise<void>((resolve) => {
    port2.on('message', (m: RecorderEvent) => {
      events.push(m);
      if (m.type === 'stopped' || m.type === 'failed') resolve();
    });
  });
  runRecorder(
    { push: 1, stream: 'cam', ring: ring.buffer, start: 0, root, template: 'cam/%H-%M-%S.ts', timeZone: undefined, segmentSeconds: 100, segmentBytes: undefined, keep: {}, playlist: undefined, pollMs: 5 },
    port1,
  );
  setTimeout(() => port2.postMessage({ type: 'stop' }), 100);
  await done;
  port2.close();
  const last = events.filter((e) => e.type === 'progress').at(-1);
  assert.equal(last?.type === 'progress' ? last.lostSlots : -1, oldest, 'every slot the writer overwrote is counted');
  assert.ok(events.some((e) => e.type === 'stopped'));
  const finished = events.filter((e): e is Extract<RecorderEvent, { type: 'finished' }> => e.type === 'finished');
  assert.equal(finished.length, 1);
  const file = readFileSync(finished[0]!.path);
  assert.deepEqual(pids(file, 3), [0, PMT, VIDEO], 'the recording goes on from a keyframe, PAT/PMT first');
  assert.equal(slots, ring.head());
});
