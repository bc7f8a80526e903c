/**
 * Recording (file:// pushes) with real peers: ffmpeg publishes, a binding viewer watches, the
 * recorder writes segments; ffprobe reads them. Issue 17.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, statSync, existsSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Relay, PushInfo } from '../src/supervisor/relay.js';
import { collect, waitUntil, type Collector } from './helpers/media.js';
import { spawnFor, type AfterHook, type Spawned } from './helpers/processes.js';
import { connectFor, serveApi, sessionOf, startRelay, waitAttached, waitFor } from './helpers/relay-harness.js';
import { freeUdpPort } from './helpers/free-port.js';
import { Relay as RelayClass } from '../src/supervisor/relay.js';
import { relayOptions } from './helpers/relay-harness.js';
import { checkContinuity, pesStarts } from './helpers/ts-stream.js';
import { skipOrFail } from './helpers/requirements.js';

const run = promisify(execFile);
const TS = 188;
const VIDEO = 0x100;

/**
 * ffmpeg publishing `seconds` of a live test pattern (-re, 25 fps, key frame every `gop` frames);
 * `muxrate` pads the TS with null packets to that constant rate (x264 stays well under `bitrate` on a test pattern).
 */
function publisher(t: AfterHook, port: number, stream: string, o: { seconds?: number; gop?: number; size?: string; bitrate?: string; muxrate?: string } = {}): Spawned {
  const gop = String(o.gop ?? 50);
  return spawnFor(
    t,
    'ffmpeg',
    [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
      '-f', 'lavfi', '-i', `testsrc=size=${o.size ?? '320x240'}:rate=25`,
      '-f', 'lavfi', '-i', 'sine=frequency=1000',
      ...(o.seconds !== undefined ? ['-t', String(o.seconds)] : []),
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', gop, '-keyint_min', gop, '-sc_threshold', '0',
      ...(o.bitrate !== undefined ? ['-b:v', o.bitrate, '-minrate', o.bitrate, '-maxrate', o.bitrate, '-bufsize', o.bitrate] : []),
      '-c:a', 'aac',
      ...(o.muxrate !== undefined ? ['-muxrate', o.muxrate] : []),
      '-f', 'mpegts', `srt://127.0.0.1:${port}?streamid=publish:${stream}`,
    ],
    { name: `ffmpeg ${stream}` },
  );
}

async function viewer(t: AfterHook, relay: Relay, port: number, stream: string): Promise<{ rx: Collector; id: number }> {
  const socket = await connectFor(t, port, { streamid: `read:${stream}` });
  const rx = collect(socket);
  const id = await waitFor(() => sessionOf(relay, socket)?.id, 'the viewer session is registered');
  await waitAttached(relay, [id]);
  return { rx, id };
}

function recordingPush(relay: Relay, stream: string): PushInfo {
  const p = relay.listPushes().find((x) => x.stream === stream && x.target.startsWith('file:'));
  assert.ok(p, `a file push of ${stream}`);
  return p;
}

function segmentFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push(p);
    }
  };
  walk(dir);
  return out.sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs || (a < b ? -1 : 1));
}

function pidsOf(b: Uint8Array, n: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < n * TS; p += TS) out.push(((b[p + 1]! & 0x1f) << 8) | b[p + 2]!);
  return out;
}

/** Offset of the PAT that precedes the first H.264 IDR of `b` (the stream's first keyframe). */
function firstKeyframePat(b: Buffer): number {
  const kf = pesStarts(b, VIDEO, 'h264').find((s) => s.keyframe);
  assert.ok(kf, 'a keyframe in the capture');
  for (let i = kf.packet - 1; i >= 0; i--) if (((b[i * TS + 1]! & 0x1f) << 8 | b[i * TS + 2]!) === 0) return i * TS;
  return kf.packet * TS;
}

/** Where a recording and a viewer's capture part: sizes, first differing TS packet, whether one is a prefix of the other, the recorder's losses. */
function captureDiff(viewer: Buffer, recording: Buffer, segmentSizes: number[], push: PushInfo): string {
  const n = Math.min(viewer.length, recording.length);
  let i = 0;
  while (i < n && viewer[i] === recording[i]) i++;
  const pid = (b: Buffer, at: number): string => (at + 3 <= b.length ? (((b[at + 1]! & 0x1f) << 8) | b[at + 2]!).toString(16) : '-');
  const pkt = Math.floor(i / TS);
  const tail = (b: Buffer): string => Array.from({ length: Math.min(8, Math.floor(b.length / TS)) }, (_, k) => pid(b, b.length - (8 - k) * TS)).join(' ');
  return [
    `viewer ${viewer.length} B, recording ${recording.length} B in segments of ${segmentSizes.join('/')} B`,
    i === n ? `the ${viewer.length < recording.length ? 'viewer capture' : 'recording'} is a prefix of the other` : `first difference at byte ${i} (TS packet ${pkt}: pid ${pid(viewer, pkt * TS)} viewer, ${pid(recording, pkt * TS)} recording)`,
    `last 8 packets' pids: viewer ${tail(viewer)}; recording ${tail(recording)}`,
    `recorder lostPackets ${push.recording?.lostPackets ?? '?'}, bytes ${push.recording?.bytes ?? '?'}`,
  ].join('; ');
}

function tempRoot(t: AfterHook, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `rec-${name}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('10 s from ffmpeg with a 2 s GOP and segmentSeconds 4: 3 files, each ffprobes clean and starts with PAT, PMT and a keyframe; together they are byte-equal to what a viewer got from the first keyframe on; the API lists them', { timeout: 90_000 }, async (t) => {
  const root = tempRoot(t, 'segments');
  const port = await freeUdpPort();
  const relay = new RelayClass(relayOptions(port, {
    streams: { cam: { source: 'push://' } },
    pushes: [{ stream: 'cam', target: 'file://$stream/%Y-%m-%d/%H-%M-%S.ts?segmentSeconds=4', auto: true }],
    recordingsRoot: root,
  }));
  const api = await serveApi(t, relay);
  const { rx } = await viewer(t, relay, port, 'cam');
  const ff = publisher(t, port, 'cam', { seconds: 10 });
  const exit = await ff.exited;
  assert.equal(exit.code, 0, ff.output());
  await waitUntil(() => recordingPush(relay, 'cam').recording?.segments === 3 && recordingPush(relay, 'cam').state === 'waiting', () => `3 finished segments and the push waiting (${JSON.stringify(recordingPush(relay, 'cam'))})`, 15_000);
  const files = segmentFiles(join(root, 'cam'));
  assert.equal(files.length, 3, files.join(', '));
  const parts = files.map((f) => readFileSync(f));
  for (const [i, b] of parts.entries()) {
    assert.deepEqual(pidsOf(b, 2), [0, 0x1000], `${files[i]} starts with PAT, PMT`);
    const first = pesStarts(b, VIDEO, 'h264', 1)[0];
    assert.ok(first?.keyframe && first.packet === 2, `${files[i]}: the first video packet (packet 2) starts a keyframe`);
    const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', files[i]!]);
    assert.equal(probe.stderr, '', `ffprobe ${files[i]} reports no error`);
    const duration = Number(probe.stdout.trim());
    assert.ok(Math.abs(duration - (i < 2 ? 4 : 2)) < 0.6, `${files[i]} lasts ${duration} s`);
  }
  const all = Buffer.concat(parts);
  const seen = rx.data();
  const from = firstKeyframePat(seen);
  const where = (): string => captureDiff(seen.subarray(from), all, parts.map((p) => p.length), recordingPush(relay, 'cam'));
  assert.equal(seen.length - from, all.length, `as many bytes as the viewer got from the first keyframe's PAT on (${where()})`);
  assert.ok(seen.subarray(from).equals(all), `byte-equal to the viewer's capture from the first keyframe's PAT (${where()})`);
  // The listing reads the files.
  const res = await fetch(`${api}/api/v1/recordings?stream=cam`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { recordings: Array<{ path: string; bytes: number; start: string; durationSeconds: number; push: number }> };
  assert.deepEqual(body.recordings.map((r) => join(root, r.path)), files);
  assert.deepEqual(body.recordings.map((r) => r.bytes), parts.map((p) => p.length));
  assert.deepEqual(body.recordings.map((r) => Math.round(r.durationSeconds)), [4, 4, 2]);
  for (const r of body.recordings) assert.ok(Number.isFinite(Date.parse(r.start)));
  const playlist = readFileSync(join(root, 'cam', 'cam.m3u8'), 'utf8');
  assert.equal(playlist.match(/#EXTINF:/g)?.length, 3);
  assert.ok(playlist.includes('#EXT-X-ENDLIST'));
  const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', join(root, 'cam', 'cam.m3u8')]);
  assert.ok(Math.abs(Number(probe.stdout.trim()) - 10) < 1, `the playlist plays the whole 10 s (${probe.stdout.trim()})`);
});

test('retention by bytes (keepMaxBytes) deletes the oldest finished segments of that target only', { timeout: 60_000 }, async (t) => {
  const root = tempRoot(t, 'retention');
  mkdirSync(join(root, 'cam'));
  const other = join(root, 'cam', 'not-a-segment.ts');
  execFileSync('sh', ['-c', `head -c 100000 /dev/zero > ${other}`]);
  const { relay, port } = await startRelay(t, {
    streams: { cam: { source: 'push://' } },
    pushes: [{ stream: 'cam', target: 'file://$stream/%H-%M-%S.ts?segmentSeconds=1&keepMaxBytes=200000', auto: true }],
    recordingsRoot: root,
  });
  const ff = publisher(t, port, 'cam', { seconds: 8, gop: 25, bitrate: '600k' });
  assert.equal((await ff.exited).code, 0, ff.output());
  await waitUntil(() => recordingPush(relay, 'cam').state === 'waiting' && (recordingPush(relay, 'cam').recording?.segments ?? 0) >= 6, () => JSON.stringify(recordingPush(relay, 'cam')), 15_000);
  const kept = segmentFiles(join(root, 'cam')).filter((f) => f !== other);
  const total = kept.reduce((s, f) => s + statSync(f).size, 0);
  const made = recordingPush(relay, 'cam').recording!.segments;
  assert.ok(total <= 200000, `kept ${total} bytes`);
  assert.ok(kept.length < made, `${kept.length} of ${made} segments kept`);
  assert.ok(existsSync(other), 'a file the target did not write is left alone');
  const names = kept.map((f) => f.slice(-11));
  assert.deepEqual([...names].sort(), names, 'the newest are the ones kept');
});

test('a full disk (tmpfs of 2 MB) fails the push with the reason, the viewers lose nothing, and recording resumes once space is freed', { timeout: 120_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'rec-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', root], { stdio: 'pipe' });
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    skipOrFail(t, `cannot mount a tmpfs (root needed): ${(err as Error).message}`);
    return;
  }
  const port = await freeUdpPort();
  const relay = new RelayClass(relayOptions(port, {
    streams: { cam: { source: 'push://' } },
    pushes: [{ stream: 'cam', target: 'file://$stream/%H-%M-%S.ts?segmentSeconds=1', auto: true }],
    recordingsRoot: root,
  }));
  const api = await serveApi(t, relay);
  // After the relay has stopped (after hooks run in the order they were added).
  t.after(() => {
    execFileSync('umount', [root]);
    rmSync(root, { recursive: true, force: true });
  });
  const { rx, id } = await viewer(t, relay, port, 'cam');
  // 4 Mbit/s of TS (null-packet padded): the 2 MB fill up in ~4 s.
  publisher(t, port, 'cam', { gop: 25, bitrate: '2000k', muxrate: '4000k' });
  const failed = await waitUntil(() => {
    const p = recordingPush(relay, 'cam');
    return p.state === 'failed' ? p : undefined;
  }, () => JSON.stringify(recordingPush(relay, 'cam')), 40_000);
  assert.equal(failed.recording?.errno, 'ENOSPC');
  assert.match(failed.lastError ?? '', /no space left on device/i);
  const view = (await (await fetch(`${api}/api/v1/pushes/${failed.id}`)).json()) as { state: string; lastError: string };
  assert.equal(view.state, 'failed');
  assert.match(view.lastError, /no space left/i);
  // Every file left is whole TS packets and ffprobes.
  const left = segmentFiles(join(root, 'cam'));
  assert.ok(left.length > 0);
  for (const f of left) assert.equal(statSync(f).size % TS, 0, `${f} ends at a whole packet`);
  const before = recordingPush(relay, 'cam').recording!.segments;
  // Free the space: the retries find room and recording goes on.
  for (const f of left) unlinkSync(f);
  await waitUntil(() => (recordingPush(relay, 'cam').recording?.segments ?? 0) >= before + 2, () => `recording resumes (${JSON.stringify(recordingPush(relay, 'cam'))})`, 30_000);
  assert.ok(segmentFiles(join(root, 'cam')).length >= 2);
  // The viewer got everything, in order, all along.
  const stats = (await relay.sessionStats()).get(id);
  assert.equal(stats?.skipped, 0, 'the viewer skipped nothing');
  const cc = checkContinuity(rx.data());
  assert.deepEqual(cc.errors.slice(0, 3), [], 'no continuity error in the viewer\'s capture');
  assert.equal(rx.closed, false);
});

test('POST /api/v1/pushes refuses a file:// target with "..", outside recordingsRoot or escaping through a symbolic link with 400 ERR_RECORDING_TARGET_INVALID', { timeout: 30_000 }, async (t) => {
  const root = tempRoot(t, 'api');
  const outside = tempRoot(t, 'outside');
  symlinkSync(outside, join(root, 'escape'));
  const port = await freeUdpPort();
  const relay = new RelayClass(relayOptions(port, { recordingsRoot: root }));
  const api = await serveApi(t, relay);
  const post = (target: string): Promise<Response> =>
    fetch(`${api}/api/v1/pushes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ stream: 'cam', target }) });
  for (const target of ['file://../x/$stream.ts', 'file://$stream/../../x.ts', `file://${outside}/$stream.ts`, 'file://escape/$stream.ts', 'file://$stream/%q.ts']) {
    const res = await post(target);
    assert.equal(res.status, 400, target);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'ERR_RECORDING_TARGET_INVALID', target);
  }
  assert.equal(relay.listPushes().length, 0, 'nothing was added');
  const ok = await post('file://$stream/%H-%M-%S.ts?segmentSeconds=5');
  assert.equal(ok.status, 201);
  const created = (await ok.json()) as { state: string; target: string };
  assert.equal(created.state, 'waiting');
});

test('a segment file deleted while it is written fails the push with that reason, and an auto push records again into a new file', { timeout: 60_000 }, async (t) => {
  const root = tempRoot(t, 'deleted');
  const { relay, port } = await startRelay(t, {
    streams: { cam: { source: 'push://' } },
    pushes: [{ stream: 'cam', target: 'file://$stream/%H-%M-%S.ts?segmentSeconds=60', auto: true }],
    recordingsRoot: root,
  });
  publisher(t, port, 'cam', { gop: 25 });
  const first = await waitUntil(() => recordingPush(relay, 'cam').recording?.segment, () => JSON.stringify(recordingPush(relay, 'cam')), 20_000);
  await waitUntil(() => existsSync(first) && statSync(first).size > 10_000, () => `${first} grows`, 10_000);
  unlinkSync(first);
  const failed = await waitUntil(() => {
    const p = recordingPush(relay, 'cam');
    return p.state === 'failed' ? p : undefined;
  }, () => JSON.stringify(recordingPush(relay, 'cam')), 10_000);
  assert.match(failed.lastError ?? '', /was deleted while it was being written/);
  const next = await waitUntil(() => {
    const p = recordingPush(relay, 'cam');
    // A new file: another name, or the same name (the clock's second did not move) made again after the unlink.
    const seg = p.recording?.segment;
    return p.state === 'active' && seg !== undefined && (seg !== first || existsSync(seg)) ? seg : undefined;
  }, () => JSON.stringify(recordingPush(relay, 'cam')), 15_000);
  await waitUntil(() => existsSync(next) && statSync(next).size > 10_000, () => `${next} grows`, 10_000);
  const b = readFileSync(next);
  assert.deepEqual(pidsOf(b, 2), [0, 0x1000], 'the new segment starts with PAT, PMT');
  assert.equal(pesStarts(b, VIDEO, 'h264', 1)[0]?.keyframe, true, 'and a keyframe');
});

test('a missing recordingsRoot (ENOENT: never created) and then a read-only one (EROFS) fail the push with the reason; recording starts once it is there and writable', { timeout: 90_000 }, async (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'rec-ro-'));
  const root = join(parent, 'mnt');
  const port = await freeUdpPort();
  const relay = new RelayClass(relayOptions(port, {
    streams: { cam: { source: 'push://' } },
    pushes: [{ stream: 'cam', target: 'file://$stream/%H-%M-%S.ts?segmentSeconds=1', auto: true }],
    recordingsRoot: root,
  }));
  await relay.start();
  let mounted = false;
  t.after(async () => {
    await relay.stop();
    if (mounted) execFileSync('umount', [root]);
    rmSync(parent, { recursive: true, force: true });
  });
  publisher(t, port, 'cam', { gop: 25 });
  const missing = await waitUntil(() => {
    const p = recordingPush(relay, 'cam');
    return p.state === 'failed' ? p : undefined;
  }, () => JSON.stringify(recordingPush(relay, 'cam')), 20_000);
  assert.equal(missing.recording?.errno, 'ENOENT');
  assert.match(missing.lastError ?? '', /recordingsRoot .* does not exist/);
  assert.equal(existsSync(root), false, 'the relay did not create recordingsRoot');
  mkdirSync(root);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=2m', 'tmpfs', root], { stdio: 'pipe' });
    mounted = true;
  } catch (err) {
    skipOrFail(t, `cannot mount a tmpfs (root needed): ${(err as Error).message}`);
    return;
  }
  await waitUntil(() => recordingPush(relay, 'cam').recording?.errno === 'EROFS', () => JSON.stringify(recordingPush(relay, 'cam')), 30_000);
  assert.equal(recordingPush(relay, 'cam').state, 'failed');
  execFileSync('mount', ['-o', 'remount,rw', root]);
  const before = recordingPush(relay, 'cam').recording!.segments;
  await waitUntil(() => (recordingPush(relay, 'cam').recording?.segments ?? 0) > before, () => `recording starts (${JSON.stringify(recordingPush(relay, 'cam'))})`, 30_000);
  assert.ok(segmentFiles(join(root, 'cam')).length >= 1);
});
