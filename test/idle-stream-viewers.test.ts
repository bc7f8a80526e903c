/**
 * Issue 12 defect 4: a stream that is not live never serves old data as if it were live. A
 * viewer of a configured stream that is not live is held until its source is live and then
 * gets the new source from its first keyframe; docs/auth.md's 1404 rule ("play of a stream that
 * is not live and not configured") holds exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Relay } from '../src/supervisor/relay.js';
import { collect, waitUntil, type Collector } from './helpers/media.js';
import { spawnFor, type AfterHook, type Spawned } from './helpers/processes.js';
import { connectFor, rejectReason, sessionOf, startRelay, waitAttached, waitFor } from './helpers/relay-harness.js';

const TS = 188;
/** ffmpeg's PIDs by default (PMT 0x1000, video 0x100, audio 0x101) and the ones the second encoder uses. */
const FIRST = { pmt: 0x1000, start: 0x100 };
const SECOND = { pmt: 0x1100, start: 0x200 };

/** ffmpeg at its defaults publishing a live test pattern (key frame every second) with the given PIDs. */
function encoder(t: AfterHook, port: number, stream: string, pids: { pmt: number; start: number }, name: string): Spawned {
  return spawnFor(
    t,
    'ffmpeg',
    [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
      '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25',
      '-f', 'lavfi', '-i', 'sine=frequency=1000',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '25',
      '-c:a', 'aac',
      '-mpegts_pmt_start_pid', String(pids.pmt), '-mpegts_start_pid', String(pids.start),
      '-f', 'mpegts', `srt://127.0.0.1:${port}?streamid=publish:${stream}`,
    ],
    { name },
  );
}

function pids(data: Buffer): Set<number> {
  const out = new Set<number>();
  for (let p = 0; p + TS <= data.length; p += TS) if (data[p] === 0x47) out.add(((data[p + 1]! & 0x1f) << 8) | data[p + 2]!);
  return out;
}

async function viewer(t: AfterHook, relay: Relay, port: number, stream: string): Promise<Collector> {
  const socket = await connectFor(t, port, { streamid: `read:${stream}` });
  const rx = collect(socket);
  const id = await waitFor(() => sessionOf(relay, socket)?.id, 'the viewer session is registered');
  await waitAttached(relay, [id]);
  return rx;
}

test('a viewer of a configured stream that is not live is accepted (not 1404) and held, then receives the publisher\'s stream', { timeout: 60_000 }, async (t) => {
  const { relay, port } = await startRelay(t, { streams: { cam: { source: 'push://' } } });
  const rx = await viewer(t, relay, port, 'cam');
  assert.equal(rx.bytes, 0, 'nothing before the stream is live');
  encoder(t, port, 'cam', FIRST, 'encoder');
  await waitUntil(() => rx.bytes >= 100 * TS, () => `the held viewer receives the stream (${rx.bytes} bytes)`, 20_000);
  const got = pids(rx.data());
  for (const pid of [0, FIRST.pmt, FIRST.start, FIRST.start + 1]) assert.ok(got.has(pid), `PID ${pid} received`);
  assert.equal(rx.closed, false);
});

test('after its publisher left, a new viewer of a configured stream gets nothing old: only the next publisher\'s stream, from its PAT/PMT and first keyframe', { timeout: 90_000 }, async (t) => {
  const { relay, port } = await startRelay(t, { streams: { cam: { source: 'push://' } } });
  const first = encoder(t, port, 'cam', FIRST, 'first encoder');
  // A viewer of the first publisher proves the ring holds its keyframes.
  const early = await viewer(t, relay, port, 'cam');
  await waitUntil(() => early.bytes >= 200 * TS, () => `the first publisher's stream reaches a viewer (${early.bytes} bytes)`, 20_000);
  await waitFor(async () => {
    const pub = relay.getStream('cam')?.publisher;
    const ts = pub === undefined ? undefined : (await relay.sessionStats()).get(pub.session)?.ts;
    return ts !== undefined && ts.keyframes >= 2;
  }, 'two keyframes of the first publisher in the ring', 20_000);
  await first.kill();
  await waitFor(() => relay.getStream('cam')?.publisher === undefined, 'the first publisher is gone');

  const late = await viewer(t, relay, port, 'cam');
  encoder(t, port, 'cam', SECOND, 'second encoder');
  await waitUntil(() => late.bytes >= 100 * TS, () => `the late viewer receives the second publisher (${late.bytes} bytes)`, 20_000);
  const data = late.data();
  const got = pids(data);
  for (const pid of [FIRST.pmt, FIRST.start, FIRST.start + 1]) assert.equal(got.has(pid), false, `no packet of the first publisher (PID ${pid})`);
  for (const pid of [SECOND.pmt, SECOND.start]) assert.ok(got.has(pid), `PID ${pid} of the second publisher received`);
  // PAT and the new PMT come before the first video packet, which starts a PES (the keyframe).
  const order = [];
  for (let p = 0; p + TS <= data.length; p += TS) order.push(((data[p + 1]! & 0x1f) << 8) | data[p + 2]!);
  const firstVideo = order.indexOf(SECOND.start);
  assert.ok(firstVideo > 0, 'video received');
  assert.ok(order.indexOf(0) >= 0 && order.indexOf(0) < firstVideo, `PAT before the video (PIDs ${order.slice(0, 8).join(', ')})`);
  assert.ok(order.indexOf(SECOND.pmt) >= 0 && order.indexOf(SECOND.pmt) < firstVideo, 'the new PMT before the video');
  assert.ok((data[firstVideo * TS + 1]! & 0x40) !== 0, 'the first video packet starts a PES');
});

test('a dynamic stream whose publisher left refuses new viewers with 1404 (not live, not configured); its viewers stay', { timeout: 60_000 }, async (t) => {
  const { relay, port } = await startRelay(t);
  const pub = encoder(t, port, 'dyn', FIRST, 'encoder');
  await waitFor(() => relay.getStream('dyn')?.publisher, 'the stream is live', 20_000);
  const stay = await viewer(t, relay, port, 'dyn');
  await waitUntil(() => stay.bytes > 0, () => 'the viewer receives', 20_000);
  await pub.kill();
  await waitFor(() => relay.getStream('dyn')?.publisher === undefined, 'the publisher is gone');
  assert.ok(relay.getStream('dyn') !== undefined, 'the stream still exists (it has a viewer)');
  assert.equal(await rejectReason(port, { streamid: 'read:dyn' }), 1404);
  assert.equal(stay.closed, false, 'the connected viewer stays');
});
