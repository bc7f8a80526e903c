/**
 * Publishers that do not cut their MPEG-TS into 1316-byte (7 × 188) messages, each tool at its
 * defaults: srt-live-transmit sends 1456-byte messages unless told otherwise (`-chunk`), ffmpeg
 * with pkt_size=1456 too. Every message libsrt accepts in live mode must reach every viewer
 * byte-exact (binding, srt-live-transmit and ffprobe as viewers, at their defaults), and the TS
 * analyzer must still find the programs, tracks and keyframes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Relay } from '../src/supervisor/relay.js';
import type { TsInfo } from '../src/ts/analyzer.js';
import { collect, makeTsFile, waitUntil } from './helpers/media.js';
import { spawnFor, type AfterHook, type Spawned } from './helpers/processes.js';
import { connectFor, startRelay, waitAttached, waitFor } from './helpers/relay-harness.js';
import { delay } from './helpers/srt-io.js';

const SLT = 'srt-live-transmit';

function url(port: number, streamid: string, extra = ''): string {
  return `srt://127.0.0.1:${port}?streamid=${streamid}${extra}`;
}

/** Writes `data` to `p`'s stdin at about `bytesPerSecond`, in 16 KB pieces. */
async function feed(p: Spawned, data: Buffer, bytesPerSecond: number): Promise<void> {
  const piece = 16 * 1024;
  const pause = (piece / bytesPerSecond) * 1000;
  for (let o = 0; o < data.length; o += piece) {
    if (p.exit !== undefined) throw new Error(`${p.name} exited early\n${p.output()}`);
    p.child.stdin!.write(data.subarray(o, Math.min(o + piece, data.length)));
    await delay(pause);
  }
  p.child.stdin!.end();
}

/** The publisher's analyzer snapshot once it has found video with a picture size and keyframes. */
async function analyzed(relay: Relay, stream: string): Promise<TsInfo> {
  return waitFor(
    async () => {
      const pub = relay.getStream(stream)?.publisher;
      if (pub === undefined) return undefined;
      const ts = (await relay.sessionStats()).get(pub.session)?.ts;
      const video = ts?.programs.flatMap((p) => p.tracks).find((x) => x.kind === 'video');
      return ts !== undefined && video?.width !== undefined && ts.keyframes > 0 ? ts : undefined;
    },
    `${stream}: the analyzer finds the video and its keyframes`,
    15_000,
  );
}

/** The ids of the viewer sessions of `big` once there are `n` of them, hosted on their workers. */
async function viewersAttached(relay: Relay, n: number): Promise<void> {
  const ids = await waitFor(() => {
    const v = relay.listSessions().filter((x) => x.stream === 'big' && x.kind === 'viewer');
    return v.length >= n ? v.map((x) => x.id) : undefined;
  }, `${n} viewer sessions of big`);
  await waitAttached(relay, ids);
}

/**
 * A relay with a configured stream `big`, srt-live-transmit connected as its publisher (at
 * `args`, nothing sent yet: it drops what it reads from stdin before it is connected), then a
 * binding viewer (and, with `sltViewer`, a srt-live-transmit viewer) attached before any data.
 */
async function setUp(t: AfterHook, args: readonly string[], opts: { sltViewer?: boolean } = {}) {
  const { relay, port } = await startRelay(t, { streams: { big: { source: 'push://' } } });
  const pub = spawnFor(t, SLT, ['-a:no', ...args, 'file://con', url(port, 'publish:big')], { name: `${SLT} publisher` });
  await waitFor(() => relay.getStream('big')?.publisher, 'the publisher session exists', 15_000);
  const viewer = await connectFor(t, port, { streamid: 'read:big' });
  const rx = collect(viewer);
  const sltViewer = opts.sltViewer === true ? spawnFor(t, SLT, ['-a:no', url(port, 'read:big'), 'file://con'], { name: `${SLT} viewer` }) : undefined;
  await viewersAttached(relay, sltViewer === undefined ? 1 : 2);
  return { relay, port, pub, rx, sltViewer };
}

test('srt-live-transmit at its default -chunk (1456-byte messages): binding, srt-live-transmit and ffprobe viewers at their defaults get the stream; byte-exact; the analyzer finds programs and keyframes', { timeout: 120_000 }, async (t) => {
  const file = await makeTsFile({ name: 'chunks-default', seconds: 8 });
  const data = readFileSync(file);
  const { relay, port, pub, rx, sltViewer } = await setUp(t, [], { sltViewer: true });
  const feeding = feed(pub, data, data.length / 8);

  // ffprobe at its defaults joins while the stream is live.
  await delay(2500);
  const probe = spawnFor(t, 'ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', url(port, 'read:big')], { name: 'ffprobe viewer' });
  const probed = await probe.exited;
  assert.equal(probed.code, 0, `ffprobe decodes the stream\n${probe.output()}`);
  const streams = (JSON.parse(probe.stdout().toString()) as { streams: Array<{ codec_name: string; width?: number; height?: number }> }).streams;
  assert.deepEqual(streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
  assert.deepEqual(streams.filter((s) => s.codec_name === 'h264').map((s) => [s.width, s.height]), [[320, 240]]);

  const ts = await analyzed(relay, 'big');
  await feeding;
  assert.deepEqual(ts.programs.flatMap((p) => p.tracks.map((x) => x.codec)).sort(), ['aac', 'h264']);
  assert.equal(ts.nonTsMessages, 0, 'no message counted as non-TS');

  // srt-live-transmit sends whole 1456-byte chunks (it drops a final partial one).
  const expected = data.subarray(0, data.length - (data.length % 1456));
  await waitUntil(() => rx.bytes >= expected.length, () => `binding viewer: ${rx.bytes} of ${expected.length} bytes; prefix ${expected.subarray(0, rx.bytes).equals(rx.data())}; sizes ${JSON.stringify(rx.arrivals.slice(0, 5))}`, 20_000);
  assert.equal(rx.arrivals[0]!.bytes, 1456, 'messages arrive as sent: 1456 bytes');
  assert.ok(rx.data().equals(expected), 'binding viewer: byte-exact');
  assert.equal(rx.closed, false);

  // The srt-live-transmit viewer flushes its output when its peer closes.
  await relay.stop();
  await Promise.race([sltViewer!.exited, delay(10_000)]);
  assert.ok(sltViewer!.stdout().equals(expected), `srt-live-transmit viewer: byte-exact (${sltViewer!.stdout().length} of ${expected.length} bytes)\n${sltViewer?.output().slice(-2000)}`);
});

test('srt-live-transmit -chunk 1000: 1000-byte messages reach a viewer byte-exact and the analyzer finds programs and keyframes', { timeout: 90_000 }, async (t) => {
  const file = await makeTsFile({ name: 'chunks-1000', seconds: 4 });
  const data = readFileSync(file);
  const { relay, pub, rx } = await setUp(t, ['-chunk:1000']);
  const feeding = feed(pub, data, data.length / 4);
  const ts = await analyzed(relay, 'big');
  assert.deepEqual(ts.programs.flatMap((p) => p.tracks.map((x) => x.codec)).sort(), ['aac', 'h264']);
  assert.equal(ts.nonTsMessages, 0);
  await feeding;
  const expected = data.subarray(0, data.length - (data.length % 1000));
  await waitUntil(() => rx.bytes >= expected.length, () => `viewer: ${rx.bytes} of ${expected.length} bytes`, 20_000);
  assert.equal(rx.arrivals[0]!.bytes, 1000);
  assert.ok(rx.data().equals(expected), 'byte-exact');
});

test('ffmpeg publishing with pkt_size=1456: a viewer joining at a keyframe receives 1456-byte messages that decode, and the analyzer finds programs and keyframes', { timeout: 90_000 }, async (t) => {
  const file = await makeTsFile({ name: 'chunks-ffmpeg', seconds: 6 });
  const { relay, port } = await startRelay(t, { streams: { big: { source: 'push://' } } });
  const pub = spawnFor(t, 'ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-i', file, '-c', 'copy', '-f', 'mpegts', url(port, 'publish:big', '&pkt_size=1456')], { name: 'ffmpeg publisher' });
  const ts = await analyzed(relay, 'big');
  assert.deepEqual(ts.programs.flatMap((p) => p.tracks.map((x) => x.codec)).sort(), ['aac', 'h264']);
  assert.equal(ts.nonTsMessages, 0);
  assert.equal(ts.syncErrors, 0);
  const viewer = await connectFor(t, port, { streamid: 'read:big' });
  const rx = collect(viewer);
  const exit = await pub.exited;
  assert.equal(exit.code, 0, pub.output());
  await waitUntil(() => rx.bytes > 0 && performance.now() - rx.lastAt! > 1000, () => `viewer idle after the publisher (${rx.bytes} bytes)`, 20_000);
  // ffmpeg fills messages up to pkt_size and flushes at some frame ends: 1456 bytes, and sizes that are no multiple of 188.
  const sizes = rx.arrivals.map((a) => a.bytes);
  assert.ok(sizes.filter((n) => n === 1456).length > sizes.length / 4, `many messages of 1456 bytes: ${JSON.stringify(sizes.slice(0, 12))}`);
  assert.ok(sizes.some((n) => n % 188 !== 0), 'messages that are not whole TS packets');
  // What the viewer got decodes, from a key frame on, to the end of the file.
  const frames = spawnFor(t, 'ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', '-i', 'pipe:0'], { name: 'ffprobe frames' });
  frames.child.stdin!.end(rx.data());
  assert.equal((await frames.exited).code, 0, frames.output());
  const n = Number(frames.stdout().toString().trim().split(/\s+/)[0]);
  assert.ok(n >= 2 * 25 && n <= 6 * 25, `the viewer's bytes hold ${n} decodable frames\n${frames.output()}`);
});
