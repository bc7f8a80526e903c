/**
 * file:// sources end to end: a TS file is played into its stream as if it were live (paced by
 * its PCR), loops without breaking players or continuity counters, fails clearly when the file
 * is missing or not MPEG-TS, runs on demand (started by the first viewer, stopped after the
 * idle timeout), and feeds the DVR window that time-shifted viewers join.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Relay, type RelayOptions } from '../src/supervisor/relay.js';
import { freeUdpPort } from './helpers/free-port.js';
import { spawnFor, type AfterHook } from './helpers/processes.js';
import { testTempDir, tsFixture } from './helpers/ts-fixture.js';
import {
  connectFor,
  countingReceiver,
  pacedPublisher,
  relayOptions,
  sessionOf,
  startRelay,
  waitAttached,
  waitFor,
  waitLive,
} from './helpers/relay-harness.js';
import { collect, ffprobeFirstFrame, makeTsFile, progressFrames, waitUntil } from './helpers/media.js';
import { checkContinuity, firstPids, isAlignedTs, pcrSpan, pesStarts, pmtPidOf, videoOf } from './helpers/ts-stream.js';

/** A Relay with the events recorded from before start() (an always-on source goes live during start). */
async function startRelayRecording(
  t: AfterHook,
  overrides: Partial<RelayOptions>,
): Promise<{ relay: Relay; port: number; events: Array<{ event: 'live' | 'idle'; stream: string; at: number }> }> {
  const port = await freeUdpPort();
  const relay = new Relay(relayOptions(port, overrides));
  const events: Array<{ event: 'live' | 'idle'; stream: string; at: number }> = [];
  relay.on('stream-live', (stream) => events.push({ event: 'live', stream, at: performance.now() }));
  relay.on('stream-idle', (stream) => events.push({ event: 'idle', stream, at: performance.now() }));
  t.after(() => relay.stop());
  await relay.start();
  return { relay, port, events };
}

const fileUrl = (path: string): string => `file://${path}`;

test('file source pacing: the file is played out, not read out at once (still live when the viewer has half of it), then idle with "file ended"; the viewer stays connected', { timeout: 60_000 }, async (t) => {
  const file = await tsFixture(); // 4 s
  const bytes = readFileSync(file);
  const video = videoOf(bytes)!;
  const span = pcrSpan(bytes, video.pcrPid)!.seconds * 1000;
  assert.ok(span > 3500 && span < 4500, `fixture PCR span ${span} ms`);

  const { relay, port, events } = await startRelayRecording(t, {
    streams: { f: { source: fileUrl(file), sources: [fileUrl(file)], alwaysOn: true } },
  });
  const viewer = await connectFor(t, port, { streamid: 'read:f' });
  const rx = collect(viewer);
  const isIdle = (): boolean => events.some((e) => e.stream === 'f' && e.event === 'idle');
  // Read out at once, the file would end (stream idle) before the viewer's SRT latency delivered
  // anything; paced by its PCR it is still playing when the viewer has half of it.
  await waitUntil(() => rx.bytes >= bytes.length / 2 || isIdle() || rx.closed, () => `the viewer receives half the file (${rx.bytes} of ${bytes.length} bytes)`, 30_000);
  assert.equal(isIdle(), false, `the stream was still live when the viewer had ${rx.bytes} of the file's ${bytes.length} bytes: the file is paced, not read out at once`);
  const idle = await waitFor(() => events.find((e) => e.stream === 'f' && e.event === 'idle'), 'the file source ended (stream idle)', 30_000);
  const live = events.find((e) => e.stream === 'f' && e.event === 'live');
  assert.ok(live !== undefined && live.at < idle.at, 'the stream went live, then idle');
  assert.equal(relay.sourcesOf('f')!.sources[0]!.lastError, 'file ended');
  await waitUntil(() => rx.bytes >= bytes.length * 0.7 || rx.closed, () => `the viewer receives most of the file (${rx.bytes} of ${bytes.length} bytes)`, 30_000);
  assert.equal(rx.closed, false, 'the viewer stays connected when the file ends');
  assert.ok(isAlignedTs(rx.data()), 'whole TS packets');

  // How close to real time it played is reported, not judged (a loaded machine stretches it).
  const a = rx.arrivals;
  let end = 1;
  while (end < a.length && a[end]!.at - a[end - 1]!.at < 300) end++;
  const viewed = a[end - 1]!.at - a[0]!.at;
  t.diagnostic(`PCR span ${Math.round(span)} ms, live→idle ${Math.round(idle.at - live.at)} ms, viewer received over ${Math.round(viewed)} ms, ${rx.bytes}/${bytes.length} bytes`);
});

test('file source loop: one session plays more than 1.5× the file without going idle, ffmpeg decodes across the loop point, CCs stay continuous', { timeout: 90_000 }, async (t) => {
  const file = await tsFixture(); // 4 s
  const size = readFileSync(file).length;
  const { relay, port, events } = await startRelayRecording(t, {
    streams: { f: { source: fileUrl(file), sources: [fileUrl(file)], alwaysOn: true, loop: true } },
  });
  await waitLive(relay, 'f');
  const fileSession = relay.listSessions().find((s) => s.kind === 'file')!.id;
  const viewer = await connectFor(t, port, { streamid: 'read:f' });
  const rx = collect(viewer);
  // A player reading 6 s of a 4 s file crosses the loop point.
  const player = spawnFor(
    t,
    'ffmpeg',
    ['-hide_banner', '-v', 'error', '-nostdin', '-i', `srt://127.0.0.1:${port}?streamid=read:f`, '-t', '6', '-progress', 'pipe:1', '-f', 'null', '-'],
    { name: 'ffmpeg player' },
  );
  await waitUntil(() => rx.bytes > 1.5 * size || rx.closed, () => `the viewer receives more than 1.5× the ${size}-byte file (${rx.bytes})`, 35_000);
  assert.equal(rx.closed, false);
  // One file session played it all: it looped, it was not restarted after an end.
  assert.deepEqual(events.filter((e) => e.event === 'idle'), [], 'the stream never went idle');
  assert.equal(relay.listSessions().find((s) => s.kind === 'file')?.id, fileSession, 'the same file session is still playing');
  const exit = await player.waitExit(20_000);
  assert.equal(exit.code, 0, `ffmpeg played 6 s of the looping stream\n${player.output()}`);
  const frames = progressFrames(player);
  assert.ok(frames >= 125, `ffmpeg decoded ${frames} frames: more than the file's 100, so it went through the loop point`);
  assert.ok(relay.sourcesOf('f')!.sources[0]!.state === 'live', 'the looping source is still live');

  const data = rx.data();
  assert.ok(isAlignedTs(data), 'whole TS packets');
  const cc = checkContinuity(data);
  assert.deepEqual(cc.errors.slice(0, 5), [], `no CC errors except where announced (${cc.errors.length} errors)`);
  assert.ok(cc.discontinuityPackets >= 1, 'the loop point carries the discontinuity_indicator');
  t.diagnostic(`${rx.bytes} bytes (file ${size}), ffmpeg ${frames} frames, CC: ${JSON.stringify({ ...cc, errors: cc.errors.length })}`);
});

test('a missing file and a non-TS file fail with an error naming the path; the relay keeps serving', { timeout: 30_000 }, async (t) => {
  const dir = testTempDir();
  const missing = join(dir, 'no-such-file.ts');
  const text = join(dir, 'not-ts.ts');
  writeFileSync(text, 'this is not an MPEG transport stream\n'.repeat(100));
  const { relay, port } = await startRelay(t, {
    streams: {
      missing: { source: fileUrl(missing), sources: [fileUrl(missing)], alwaysOn: true },
      text: { source: fileUrl(text), sources: [fileUrl(text)], alwaysOn: true },
      ok: { source: 'push://' },
    },
  });
  for (const [name, path, why] of [
    ['missing', missing, /cannot open|ENOENT/],
    ['text', text, /not MPEG-TS/],
  ] as const) {
    const src = await waitFor(() => {
      const s = relay.sourcesOf(name)!.sources[0]!;
      return s.lastError !== undefined ? s : undefined;
    }, `${name}: the source failed`);
    assert.ok(src.lastError!.includes(path), `${name}: the error names the path: ${src.lastError}`);
    assert.match(src.lastError!, why, `${name}: the error says why`);
    assert.notEqual(src.state, 'live');
    assert.equal(relay.getStream(name)!.publisher, undefined, `${name} is not live`);
  }

  // The relay still publishes and plays.
  const pub = await connectFor(t, port, { streamid: 'publish:ok' });
  await waitLive(relay, 'ok');
  const viewer = await connectFor(t, port, { streamid: 'read:ok' });
  const vid = await waitFor(() => sessionOf(relay, viewer)?.id, 'viewer listed');
  await waitAttached(relay, [vid]);
  const rx = countingReceiver(viewer);
  const p = pacedPublisher(pub, { pps: 1000, count: 200 });
  await waitUntil(() => rx.packets >= 200 || p.error, () => `viewer received 200 packets (${rx.packets})`);
  assert.equal(rx.corrupt, 0);
  // And it keeps retrying the broken sources (with back-off), still failing the same way.
  await waitFor(() => relay.sourcesOf('missing')!.sources[0]!.attempts >= 2, 'the missing file is retried');
});

test('on-demand file source: idle until a viewer, started for it (held, not refused), kept through the idle timeout after it leaves, then stopped', { timeout: 60_000 }, async (t) => {
  const file = await tsFixture();
  const { relay, port } = await startRelay(t, {
    streams: {
      f: { source: fileUrl(file), sources: [fileUrl(file)], alwaysOn: false, idleTimeoutMs: 1000, loop: true },
      // The control: an always-on file source in the same relay. Once it plays, the relay has
      // started its sources; the on-demand one must not have been.
      g: { source: fileUrl(file), sources: [fileUrl(file)], alwaysOn: true, loop: true },
    },
  });
  await waitLive(relay, 'g');
  const src = relay.sourcesOf('f')!.sources[0]!;
  assert.deepEqual([src.state, src.attempts], ['idle', 0], 'nothing runs before a viewer');
  assert.equal(relay.getStream('f')!.state, 'idle');
  assert.deepEqual(relay.listSessions().map((s) => s.stream), ['g'], 'only the always-on control has a session');

  const viewer = await connectFor(t, port, { streamid: 'read:f' }); // throws SrtRejectedError if refused (1404)
  const rx = collect(viewer);
  await waitUntil(() => rx.bytes >= 50_000 || rx.closed, () => `the viewer receives the file (${rx.bytes} bytes)`, 10_000);
  assert.equal(rx.closed, false);
  assert.equal(relay.sourcesOf('f')!.sources[0]!.state, 'live');
  assert.equal(relay.sourcesOf('f')!.active, 0);
  assert.equal(relay.getStream('f')!.state, 'live');

  const vid = sessionOf(relay, viewer)!.id;
  viewer.close();
  await waitFor(() => !relay.listSessions().some((s) => s.id === vid), 'the viewer session ended');
  const left = performance.now();
  assert.equal(relay.sourcesOf('f')!.sources[0]!.state, 'live', 'the source keeps running during the idle timeout');
  await waitFor(() => relay.sourcesOf('f')!.sources[0]!.state === 'idle', 'the source stopped', 30_000);
  t.diagnostic(`stopped ${Math.round(performance.now() - left)} ms after the last viewer left (idleTimeoutMs 1000)`);
  await waitFor(() => relay.getStream('f')!.state === 'idle' && !relay.listSessions().some((s) => s.kind === 'file' && s.stream === 'f'), 'the file session ended', 30_000);
  assert.equal(relay.getStream('g')!.state, 'live', 'the always-on control keeps playing');
});

test('DVR: a viewer with t=-4s joins 4 s back in the window of a looping file source: PAT/PMT, then a key frame', { timeout: 60_000 }, async (t) => {
  // 12 s, so that 5 s in there is no loop point in the last 4 s and PTS compare directly.
  const file = await makeTsFile({ name: 'dvr-12s-640', seconds: 12, size: '640x360', gop: 25 });
  {
    // Test data: no 1316-byte message of the file holds a non-key frame's PES start before a key
    // frame's (that case is relay-mpegts.test.ts's); here a wrong start can only be the time shift's.
    const bytes = readFileSync(file);
    const v = videoOf(bytes)!;
    const starts = pesStarts(bytes, v.pid, 'h264');
    const shared = starts.filter((p, i) => p.keyframe && i > 0 && Math.floor(starts[i - 1]!.packet / 7) === Math.floor(p.packet / 7));
    assert.deepEqual(shared, [], 'test data: every key frame is the first PES to start in its message');
  }
  const { relay, port } = await startRelay(t, {
    streams: { f: { source: fileUrl(file), sources: [fileUrl(file)], alwaysOn: true, loop: true } },
  });
  await waitLive(relay, 'f');
  // The window reaches 5 s back (4 s and the GOP before): far enough, and before the loop point.
  await waitFor(() => (relay.getStream('f')!.window().oldestMs ?? 0) >= 5000, 'the window holds 5 s', 20_000);
  const dvr = await connectFor(t, port, { streamid: '#!::r=f,m=request,t=-4s' });
  const dvrRx = collect(dvr);
  const live = await connectFor(t, port, { streamid: '#!::r=f,m=request,join=live' });
  const liveRx = collect(live);
  // Until both viewers have a video PES with a PTS (and the DVR one 10 kB).
  const firstPts = (b: Buffer): boolean => {
    const v = videoOf(b);
    return v !== undefined && pesStarts(b, v.pid, 'h264', 1)[0]?.pts !== undefined;
  };
  await waitUntil(() => dvrRx.bytes > 10_000 && firstPts(dvrRx.data()) && firstPts(liveRx.data()), () => `both viewers have a video frame (DVR ${dvrRx.bytes} bytes, live ${liveRx.bytes})`, 15_000);
  const d = dvrRx.data();
  const l = liveRx.data();
  assert.ok(d.length > 10_000, `the DVR viewer receives data (${d.length} bytes)`);
  assert.ok(isAlignedTs(d));
  const pmtPid = pmtPidOf(d);
  assert.deepEqual(firstPids(d, 2), [0, pmtPid], 'PAT, then PMT first');
  const video = videoOf(d)!;
  const dvrPes = pesStarts(d, video.pid, 'h264');
  assert.equal(dvrPes[0]?.keyframe, true, 'the first video PES is a key frame');
  // 4 s back: the DVR viewer's first picture is 4 s (up to one 1 s GOP more) older than the live edge.
  const livePes = pesStarts(l, video.pid, 'h264');
  assert.ok(livePes.length > 0 && livePes[0]!.pts !== undefined && dvrPes[0]!.pts !== undefined);
  const behind = (livePes[0]!.pts! - dvrPes[0]!.pts!) / 90_000;
  assert.ok(behind >= 3 && behind <= 5.5, `the DVR viewer starts ${behind.toFixed(2)} s behind the live viewer`);
  assert.equal(dvrRx.closed, false);
  // A player asking for the same time shift starts on a key frame too.
  const probe = await ffprobeFirstFrame(t, `srt://127.0.0.1:${port}?streamid=#!::r=f,m=request,t=-4s`);
  assert.equal(probe.keyFrame, 1, probe.probe.output());
});
