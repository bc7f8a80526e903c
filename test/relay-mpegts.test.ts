/**
 * MPEG-TS awareness of the relay, end to end on loopback: a viewer that joins a live stream
 * starts at a key frame behind the stream's PAT/PMT (ffprobe and a binding viewer check it, also
 * when a small non-key frame starts in the same SRT message as the key frame); the publisher's
 * tracks, codecs and picture size are detected (sessionStats and the HTTP API); continuity-counter
 * errors the publisher sends are counted exactly; a raw stream passes any bytes through untouched
 * without analysis.
 */
import { skipOrFail } from './helpers/requirements.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ApiServer } from '../src/api/http-server.js';
import { silentLogger } from '../src/logging.js';
import type { TsInfo, TsTrackInfo } from '../src/ts/analyzer.js';
import { streamView } from '../src/api/views.js';
import type { Relay } from '../src/supervisor/relay.js';
import type { AfterHook } from './helpers/processes.js';
import { delay, sendFile } from './helpers/srt-io.js';
import { ffprobeStreams, hasEncoder, tsFile, tsFileBytes } from './helpers/ts-files.js';
import {
  connectFor,
  countingReceiver,
  pacedPublisher,
  sessionOf,
  startRelay,
  waitAttached,
  waitFor,
  waitLive,
} from './helpers/relay-harness.js';
import { collect, ffmpegFilePublisher, ffmpegLiveEncoder, ffprobeFirstFrame, makeTsFile, srtUrl, waitLiveWhile, waitUntil } from './helpers/media.js';
import { TS, checkContinuity, firstPids, header, isAlignedTs, pesStarts, pmtPidOf, videoOf } from './helpers/ts-stream.js';

/** The analyzer snapshot of `stream`'s publisher session once `ready` holds for it. */
async function publisherTs(relay: Relay, stream: string, ready: (ts: TsInfo) => boolean, what: string, timeoutMs = 15_000): Promise<TsInfo> {
  return waitFor(
    async () => {
      const pub = relay.getStream(stream)?.publisher;
      if (pub === undefined) return undefined;
      const ts = (await relay.sessionStats()).get(pub.session)?.ts;
      return ts !== undefined && ready(ts) ? ts : undefined;
    },
    what,
    timeoutMs,
  );
}

function tracksOf(ts: TsInfo): TsTrackInfo[] {
  return ts.programs.flatMap((p) => p.tracks);
}

/** A binding viewer with `streamid` that collects `bytes` bytes, then leaves; returns them. */
async function joinAndCollect(t: AfterHook, port: number, streamid: string, bytes: number): Promise<Buffer> {
  const viewer = await connectFor(t, port, { streamid });
  const rx = collect(viewer);
  await waitUntil(() => rx.bytes >= bytes || rx.closed, () => `viewer ${streamid} received ${bytes} bytes (${rx.bytes})`, 15_000);
  assert.equal(rx.closed, false, 'the viewer stays connected');
  viewer.close();
  return rx.data();
}

test('ffprobe joining a live H.264 stream (2 s GOP) at three different moments decodes a key frame first; join=live connects too', { timeout: 60_000 }, async (t) => {
  const { relay, port } = await startRelay(t);
  const enc = ffmpegLiveEncoder(t, srtUrl(port, 'publish:cam'), { gop: 50, name: 'ffmpeg publisher' });
  await waitLiveWhile(relay, 'cam', enc);
  await delay(3000);
  const url = `srt://127.0.0.1:${port}?streamid=read:cam`;
  // Join at different phases of the 2 s GOP (each ffprobe run also takes its own time).
  for (const [i, pause] of [0, 700, 1300].entries()) {
    await delay(pause);
    const { keyFrame, probe } = await ffprobeFirstFrame(t, url);
    assert.equal(keyFrame, 1, `join ${i + 1}: the first frame ffprobe decodes is a key frame\n${probe.output()}`);
  }
  // join=live starts at the live edge: it may or may not be a key frame, but it plays.
  const live = await ffprobeFirstFrame(t, `srt://127.0.0.1:${port}?streamid=#!::r=cam,m=request,join=live`);
  // (ffprobeFirstFrame asserted exit code 0: connected and read; the first packet may not even decode.)
  t.diagnostic(`join=live: first frame key_frame=${String(live.keyFrame)}`);
  assert.equal(enc.exit, undefined, `the publisher is still running\n${enc.output()}`);
});

test('a keyframe join gets PAT, then PMT, then media whose first video PES is a key frame', { timeout: 60_000 }, async (t) => {
  const { relay, port } = await startRelay(t);
  const enc = ffmpegLiveEncoder(t, srtUrl(port, 'publish:cam'), { gop: 50, name: 'ffmpeg publisher' });
  await waitLiveWhile(relay, 'cam', enc);
  await publisherTs(relay, 'cam', (ts) => ts.keyframes >= 1, 'the publisher’s first key frame');
  for (const pause of [1100, 900]) {
    await delay(pause);
    const data = await joinAndCollect(t, port, 'read:cam', 150_000);
    assert.ok(isAlignedTs(data), 'the viewer receives whole TS packets');
    const pmtPid = pmtPidOf(data);
    assert.ok(pmtPid !== undefined, 'the stream has a PAT');
    const [first, second] = firstPids(data, 2);
    assert.equal(first, 0, 'the first TS packet is the PAT (PID 0)');
    assert.equal(second, pmtPid, 'the second TS packet is the PMT');
    const video = videoOf(data);
    assert.equal(video?.codec, 'h264');
    const pes = pesStarts(data, video!.pid, 'h264', 3);
    assert.ok(pes.length > 0, 'video PES packets follow');
    assert.equal(pes[0]!.keyframe, true, `the first video PES is an IDR picture (NAL types ${pes[0]!.nalTypes.join(',')})`);
    // No video PES starts before the PMT: the PSI really precedes the media.
    assert.ok(pes[0]!.packet > 1);
  }
});

test('a keyframe join starts on the key frame even when a small non-key frame starts in the same SRT message', { timeout: 60_000 }, async (t) => {
  // Low-motion 320x240 H.264: P frames of a packet or two, so that now and then one starts in the
  // same 7-packet message as the next key frame (after it come PAT, PMT and the IDR picture).
  const file = await makeTsFile({ name: 'small-frames-12s', seconds: 12, size: '320x240', gop: 25 });
  const bytes = readFileSync(file);
  const video = videoOf(bytes)!;
  const starts = pesStarts(bytes, video.pid, 'h264');
  const MESSAGE = 7 * TS;
  const hit = starts.find((p, i) => p.keyframe && i > 0 && !starts[i - 1]!.keyframe && Math.floor(starts[i - 1]!.packet / 7) === Math.floor(p.packet / 7));
  if (hit === undefined) {
    skipOrFail(t, 'ffmpeg made no message where a non-key frame starts before a key frame');
    return;
  }
  const message = Math.floor(hit.packet / 7);
  t.diagnostic(`message ${message}: a non-key PES starts at packet ${starts[starts.indexOf(hit) - 1]!.packet}, the key frame at ${hit.packet}`);

  const { relay, port } = await startRelay(t);
  const pub = await connectFor(t, port, { streamid: 'publish:cam' });
  await waitLive(relay, 'cam');
  // Publish up to and including the message after that one, as 1316-byte messages (ring slot = message).
  const upTo = (message + 2) * MESSAGE;
  await sendFile(pub, bytes.subarray(0, upTo), { pps: 2000 });
  await publisherTs(relay, 'cam', (s) => s.messages >= message + 2 && s.lastKeyframeSeq === message, `the key frame in message ${message} is the newest`);

  const viewer = await connectFor(t, port, { streamid: 'read:cam' });
  const rx = collect(viewer);
  // PAT+PMT, the key frame's message from the key frame's packet on, then the next message.
  await waitFor(() => rx.bytes >= MESSAGE + 3 * TS, 'the viewer got the key frame’s messages', 10_000);
  await delay(300);
  const data = rx.data();
  const pmtPid = pmtPidOf(data);
  assert.deepEqual(firstPids(data, 2), [0, pmtPid], 'PAT, then PMT');
  const pes = pesStarts(data, video.pid, 'h264');
  assert.ok(pes.length > 0, 'video follows');
  assert.equal(pes[0]!.keyframe, true, `the first video PES the viewer gets is the key frame (got NAL types ${pes[0]!.nalTypes.join(',')}, PTS ${pes[0]!.pts})`);
});

test('codecs, tracks and picture size of ffmpeg-made H.264+AAC and HEVC+AC-3 streams in sessionStats and GET /api/v1/streams/:name', { timeout: 60_000 }, async (t) => {
  const { relay, port } = await startRelay(t);
  const api = new ApiServer(relay, { host: '127.0.0.1', port: 0, logger: silentLogger() });
  t.after(() => api.close());
  const { port: apiPort } = await api.listen();

  const cases: Array<{ stream: string; fixture: 'h264Aac' | 'hevcAc3'; video: string; audio: string }> = [
    { stream: 'cam264', fixture: 'h264Aac', video: 'h264', audio: 'aac' },
  ];
  if (await hasEncoder('libx265')) cases.push({ stream: 'cam265', fixture: 'hevcAc3', video: 'hevc', audio: 'ac3' });
  else skipOrFail(t, 'ffmpeg -encoders does not list libx265: the HEVC+AC-3 case cannot run');

  for (const c of cases) {
    const file = await tsFile(c.fixture);
    const probed = await ffprobeStreams(file);
    const pv = probed.find((s) => s.codecType === 'video')!;
    const pa = probed.find((s) => s.codecType === 'audio')!;
    const pub = ffmpegFilePublisher(t, file, srtUrl(port, `publish:${c.stream}`), `ffmpeg publisher ${c.stream}`);
    await waitLiveWhile(relay, c.stream, pub);
    const ts = await publisherTs(
      relay,
      c.stream,
      (s) => tracksOf(s).some((x) => x.kind === 'video' && x.width !== undefined) && tracksOf(s).some((x) => x.kind === 'audio' && x.packets > 0),
      `${c.stream}: tracks with picture size detected`,
    );
    const tracks = tracksOf(ts);
    const v = tracks.find((x) => x.kind === 'video')!;
    const a = tracks.find((x) => x.kind === 'audio')!;
    assert.deepEqual([v.codec, v.pid, v.width, v.height], [c.video, pv.pid, pv.width, pv.height], `${c.stream} video track`);
    assert.deepEqual([a.codec, a.pid], [c.audio, pa.pid], `${c.stream} audio track`);
    assert.equal(tracks.length, 2, `${c.stream}: exactly the two tracks ffprobe sees`);
    assert.equal(ts.videoPid, pv.pid);

    const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/streams/${c.stream}`);
    assert.equal(res.status, 200);
    const view = (await res.json()) as { state: string; media: TsInfo | null };
    assert.equal(view.state, 'live');
    assert.ok(view.media !== null, `${c.stream}: the API view has media`);
    const apiTracks = view.media.programs[0]!.tracks;
    const av = apiTracks.find((x) => x.kind === 'video');
    const aa = apiTracks.find((x) => x.kind === 'audio');
    assert.deepEqual([av?.codec, av?.pid, av?.width, av?.height], [c.video, pv.pid, pv.width, pv.height], `${c.stream}: API video track`);
    assert.deepEqual([aa?.codec, aa?.pid], [c.audio, pa.pid], `${c.stream}: API audio track`);
    await pub.kill();
  }
});

test('continuity errors: exactly 5 counted on the video track when the publisher sends 5 video packets with a wrong CC', { timeout: 60_000 }, async (t) => {
  const { relay, port } = await startRelay(t);
  const clean = await tsFileBytes('h264Aac');
  const video = videoOf(clean)!;
  const candidates: number[] = [];
  for (let p = 0; p + TS <= clean.length; p += TS) {
    const h = header(clean, p);
    if (h.pid === video.pid && h.hasPayload && !h.discontinuity) candidates.push(p);
  }
  const bytes = Buffer.from(clean);
  const N = 5;
  const chosen = Array.from({ length: N }, (_, i) => candidates[20 + i * 53]!);
  for (const p of chosen) bytes[p + 3] = bytes[p + 3]! ^ 0x08; // CC + 8 (mod 16): one packet out of sequence
  assert.equal(checkContinuity(bytes).errors.length, 2 * N, 'test data: each changed packet breaks the sequence twice for a naive checker');
  assert.equal(checkContinuity(clean).errors.length, 0, 'test data: the clean file is continuous');

  const pub = await connectFor(t, port, { streamid: 'publish:cam' });
  await waitLive(relay, 'cam');
  await sendFile(pub, bytes, { pps: 2000 });
  const packets = bytes.length / TS;
  const ts = await publisherTs(relay, 'cam', (s) => s.packets >= packets, `all ${packets} TS packets analyzed`);
  assert.equal(ts.packets, packets);
  const v = tracksOf(ts).find((x) => x.pid === video.pid);
  assert.equal(v?.ccErrors, N, 'CC errors on the video track');
  for (const other of tracksOf(ts).filter((x) => x.pid !== video.pid)) assert.equal(other.ccErrors, 0, `no CC errors on PID ${other.pid}`);
  assert.equal(ts.ccErrors, N, 'CC errors of the whole stream');
});

test('a raw stream passes non-TS bytes through untouched and has no media analysis', { timeout: 30_000 }, async (t) => {
  const { relay, port } = await startRelay(t, { streams: { r: { source: 'push://', raw: true }, n: { source: 'push://' } } });
  const pub = await connectFor(t, port, { streamid: 'publish:r' });
  await waitLive(relay, 'r');
  const viewer = await connectFor(t, port, { streamid: 'read:r' });
  const vid = await waitFor(() => sessionOf(relay, viewer)?.id, 'viewer listed');
  await waitAttached(relay, [vid]);
  const rx = countingReceiver(viewer);
  const p = pacedPublisher(pub, { pps: 1000, count: 500 });
  await waitUntil(() => rx.packets >= 500 || p.error, () => `viewer received 500 packets (${rx.packets})`, 15_000);
  assert.equal(p.error, undefined);
  assert.equal(rx.packets, 500);
  assert.equal(rx.corrupt, 0, 'every byte as sent');
  assert.equal(rx.discontinuities, 0);
  assert.equal(rx.checksum, p.checksumFrom(0));

  const stats = await relay.sessionStats();
  const pubSession = relay.getStream('r')!.publisher!.session;
  assert.ok(stats.has(pubSession), 'the raw publisher reports statistics');
  assert.equal(stats.get(pubSession)?.ts, undefined, 'no analyzer snapshot for a raw publisher');
  assert.equal(streamView(relay.getStream('r')!, stats, relay.sourcesOf('r')).media, null, 'the stream view has media: null');

  // The same bytes on a stream that is not raw are looked at (and found not to be TS).
  const pubN = await connectFor(t, port, { streamid: 'publish:n' });
  await waitLive(relay, 'n');
  const pn = pacedPublisher(pubN, { pps: 1000, count: 50 });
  const tsN = await publisherTs(relay, 'n', (s) => s.nonTsMessages >= 50, 'the analyzed stream counted 50 non-TS messages');
  assert.equal(tsN.packets, 0);
  await pn.stop();
});
