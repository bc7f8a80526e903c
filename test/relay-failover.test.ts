/**
 * Source failover end to end: a stream fed by publishers (push://) with a looping file slate
 * as backup. Viewers stay connected while the relay switches publisher → slate → publisher (an
 * ffmpeg player keeps decoding through every switch; a binding viewer keeps receiving a
 * continuous TS stream that restarts at a key frame); without a backup, viewers are closed only
 * after failoverTimeoutMs without a source; and an audio-only stream (no key frames to restart
 * at) continues after its publisher reconnects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Relay } from '../src/supervisor/relay.js';
import { capturingLogger } from './helpers/log-capture.js';
import { spawnFor } from './helpers/processes.js';
import { delay, sendFile } from './helpers/srt-io.js';
import { testTempDir, tsFixture } from './helpers/ts-fixture.js';
import { connectFor, sessionOf, startRelay, waitAttached, waitFor, waitLive } from './helpers/relay-harness.js';
import { collect, ffmpegLiveEncoder, fileSize, makeTsFile, progressFrames, srtUrl, waitLiveWhile, waitUntil } from './helpers/media.js';
import { checkContinuity, header, isAlignedTs, pesStarts, videoOf, TS } from './helpers/ts-stream.js';

const run = promisify(execFile);
const fileUrl = (path: string): string => `file://${path}`;

/** The slate: 4 s of colour bars at 320x240 with a 440 Hz tone (the publishers send 640x360 test patterns). */
function slateFile(): Promise<string> {
  return makeTsFile({ name: 'slate', seconds: 4, size: '320x240', source: 'smptebars', gop: 25, frequency: 440 });
}

/** Waits until the stream's active source is `index` after at least `switches` switches. */
async function waitActive(relay: Relay, stream: string, index: number, switches: number, what: string, timeoutMs = 15_000): Promise<void> {
  await waitUntil(
    () => {
      const v = relay.sourcesOf(stream);
      return v !== undefined && v.active === index && v.switches >= switches;
    },
    () => `${what} (sources: ${JSON.stringify(relay.sourcesOf(stream))})`,
    timeoutMs,
  );
}

test('failover keeps an ffmpeg viewer connected and decoding: publisher → slate → new publisher, output growing through both switches', { timeout: 60_000 }, async (t) => {
  const slate = await slateFile();
  const { relay, port } = await startRelay(t, {
    streams: { main: { source: 'push://', sources: ['push://', fileUrl(slate)], loop: true } },
  });
  const p1 = ffmpegLiveEncoder(t, srtUrl(port, 'publish:main'), { gop: 25, name: 'publisher 1' });
  await waitLiveWhile(relay, 'main', p1);
  await waitActive(relay, 'main', 0, 0, 'publisher 1 active');

  const out = join(testTempDir(), 'failover-viewer.ts');
  const viewer = spawnFor(
    t,
    'ffmpeg',
    [
      '-hide_banner', '-v', 'error', '-nostdin',
      '-i', `srt://127.0.0.1:${port}?streamid=read:main`,
      '-map', '0', '-c', 'copy', '-progress', 'pipe:1', '-stats_period', '0.2', '-y', '-f', 'mpegts', out,
    ],
    { name: 'ffmpeg viewer' },
  );
  const pid = viewer.pid;
  const alive = (stage: string): void => assert.equal(viewer.exit, undefined, `the viewer is still running (${stage})\n${viewer.output()}`);
  await waitFor(() => progressFrames(viewer) >= 25 || viewer.exit, 'the viewer writes frames', 15_000);
  alive('publisher 1');
  await waitFor(() => progressFrames(viewer) >= 50 || viewer.exit, 'the viewer has 2 s of publisher 1', 15_000);
  const marks: Array<{ stage: string; frames: number; bytes: number }> = [];
  const mark = (stage: string): void => {
    marks.push({ stage, frames: progressFrames(viewer), bytes: fileSize(out) });
  };
  mark('publisher 1');

  // Publisher 1 goes away: the slate takes over.
  await p1.kill();
  await waitActive(relay, 'main', 1, 1, 'the slate takes over');
  mark('slate starts');
  // 2.4 s of slate frames written (the checks below want 25 written and 25 decoded), or the viewer gone.
  await waitFor(() => progressFrames(viewer) >= marks[1]!.frames + 60 || viewer.exit, 'slate frames written', 15_000);
  alive('slate');
  mark('slate');
  assert.equal(relay.sourcesOf('main')!.active, 1, 'the slate is still the active source');

  // A new publisher: it takes over again (at its first key frame).
  const p2 = ffmpegLiveEncoder(t, srtUrl(port, 'publish:main'), { gop: 25, name: 'publisher 2' });
  await waitActive(relay, 'main', 0, 2, 'publisher 2 takes over');
  mark('publisher 2 starts');
  await waitFor(() => progressFrames(viewer) >= marks[3]!.frames + 60 || viewer.exit, 'publisher 2 frames written', 15_000);
  alive('publisher 2');
  mark('publisher 2');
  assert.equal(viewer.pid, pid, 'the same viewer process throughout');
  assert.equal(p2.exit, undefined, p2.output());
  t.diagnostic(JSON.stringify(marks));
  // The output kept growing: during the slate (after the first switch) and during publisher 2
  // (after the second), at least 1 s of frames each.
  for (let i = 1; i < marks.length; i++) {
    assert.ok(marks[i]!.frames >= marks[i - 1]!.frames, `frame count never goes back: ${JSON.stringify(marks)}`);
  }
  assert.ok(marks[2]!.frames - marks[1]!.frames >= 25, `the viewer got at least 1 s of slate frames: ${JSON.stringify(marks)}`);
  assert.ok(marks[4]!.frames - marks[3]!.frames >= 25, `the viewer got at least 1 s of publisher 2 frames: ${JSON.stringify(marks)}`);

  await viewer.kill(); // SIGTERM: ffmpeg finishes the file
  assert.ok(fileSize(out) > marks[0]!.bytes, `the output file grew after the first switch (${marks[0]!.bytes} → ${fileSize(out)} bytes)`);
  // Decodable video across the whole time: publisher 1 (640x360), slate (320x240), publisher 2 (640x360).
  const { stdout } = await run(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=width,key_frame', '-of', 'csv=p=0', out],
    { maxBuffer: 64 << 20, timeout: 30_000 },
  );
  const widths = stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => Number(l.split(',')[1]));
  const runs: Array<{ width: number; frames: number }> = [];
  for (const w of widths) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last.width === w) last.frames++;
    else runs.push({ width: w, frames: 1 });
  }
  t.diagnostic(`decoded runs: ${JSON.stringify(runs)}`);
  assert.deepEqual(
    runs.map((r) => r.width),
    [640, 320, 640],
    `decoded frames: publisher 1, then the slate, then publisher 2: ${JSON.stringify(runs)}`,
  );
  for (const r of runs) assert.ok(r.frames >= 25, `each stage decodes at least 1 s of frames: ${JSON.stringify(runs)}`);
});

test('backup slate takes over when the publisher leaves and hands back to the next publisher, twice; the binding viewer’s TS stays continuous', { timeout: 60_000 }, async (t) => {
  const slate = await slateFile();
  const { relay, port } = await startRelay(t, {
    streams: { main: { source: 'push://', sources: ['push://', fileUrl(slate)], loop: true } },
  });
  assert.deepEqual(relay.sourcesOf('main')!.sources.map((s) => [s.kind, s.state]), [['push', 'idle'], ['file', 'idle']]);

  const p1 = ffmpegLiveEncoder(t, srtUrl(port, 'publish:main'), { gop: 25, name: 'publisher 1' });
  await waitLiveWhile(relay, 'main', p1);
  const viewer = await connectFor(t, port, { streamid: 'read:main' });
  const rx = collect(viewer);
  const stages: Array<{ stage: string; active: number | undefined; switches: number; from: number; to: number }> = [];
  /** Bytes keep arriving while the stage lasts (1 s). */
  const stage = async (name: string): Promise<void> => {
    const from = rx.bytes;
    await delay(1000);
    const v = relay.sourcesOf('main')!;
    stages.push({ stage: name, active: v.active, switches: v.switches, from, to: rx.bytes });
    assert.ok(rx.bytes > from, `the viewer receives during '${name}' (${from} → ${rx.bytes} bytes)`);
    assert.equal(rx.closed, false, `the viewer is connected during '${name}'`);
  };

  await waitActive(relay, 'main', 0, 0, 'publisher 1 active');
  await stage('publisher 1');
  await p1.kill();
  await waitActive(relay, 'main', 1, 1, 'slate after publisher 1');
  assert.equal(relay.sourcesOf('main')!.sources[1]!.state, 'live');
  await stage('slate 1');
  const p2 = ffmpegLiveEncoder(t, srtUrl(port, 'publish:main'), { gop: 25, name: 'publisher 2' });
  await waitActive(relay, 'main', 0, 2, 'publisher 2 takes over from the slate');
  await waitFor(() => relay.sourcesOf('main')!.sources[1]!.state === 'idle', 'the slate is stopped');
  await stage('publisher 2');
  await p2.kill();
  await waitActive(relay, 'main', 1, 3, 'slate after publisher 2');
  await stage('slate 2');
  t.diagnostic(JSON.stringify(stages));
  assert.deepEqual(
    stages.map((s) => [s.stage, s.active, s.switches]),
    [
      ['publisher 1', 0, 0],
      ['slate 1', 1, 1],
      ['publisher 2', 0, 2],
      ['slate 2', 1, 3],
    ],
  );

  // What the viewer got is one TS stream: whole packets, continuity counters continued across
  // every switch (jumps only where the discontinuity_indicator announces them), and after each
  // switch the video restarts at a key frame.
  rx.stop();
  const data = rx.data();
  assert.ok(isAlignedTs(data), 'whole TS packets');
  const cc = checkContinuity(data);
  t.diagnostic(`CC: ${JSON.stringify({ ...cc, errors: cc.errors.slice(0, 10) })}`);
  assert.deepEqual(cc.errors.slice(0, 10), [], `no CC error that is not announced (${cc.errors.length} in all)`);
  const video = videoOf(data)!;
  const pes = pesStarts(data, video.pid, 'h264');
  const switchPoints: number[] = [];
  for (let p = 0, i = 0; p + TS <= data.length; p += TS, i++) {
    const h = header(data, p);
    if (h.pid === video.pid && h.discontinuity) switchPoints.push(i);
  }
  assert.ok(switchPoints.length >= 3, `the video PID carries the discontinuity_indicator at each switch (${switchPoints.length})`);
  for (const at of switchPoints) {
    const next = pes.find((x) => x.packet >= at);
    assert.equal(next?.keyframe, true, `the video restarts at a key frame after the switch at packet ${at}`);
  }
});

test('failoverTimeoutMs: without a source viewers stay connected at first and are closed by the failover timer; a publisher back in time keeps them', { timeout: 90_000 }, async (t) => {
  const fixture = readFileSync(await tsFixture());
  const pps = Math.ceil(fixture.length / 1316 / 4); // the 4 s file in real time
  const log = capturingLogger();
  const { relay, port } = await startRelay(t, {
    logger: log.logger,
    streams: { main: { source: 'push://', sources: ['push://'], failoverTimeoutMs: 1500 } },
  });
  const timerClosed = (): number => log.find(/^no source came back: closing viewers$/, { stream: 'main' }).length;
  const idleAt: number[] = [];
  relay.on('stream-idle', (s) => s === 'main' && idleAt.push(performance.now()));

  /** A binding publisher sending the fixture in real time for `ms`, then leaving. */
  const publishFor = async (ms: number): Promise<void> => {
    const pub = await connectFor(t, port, { streamid: 'publish:main' });
    await waitLive(relay, 'main');
    const sending = sendFile(pub, fixture, { pps }).catch(() => undefined); // rejects when closed below
    await delay(ms);
    pub.close();
    await sending;
  };

  // 1. The publisher leaves for good: the viewer is closed by the failover timer, not at once.
  const first = publishFor(2500);
  await waitLive(relay, 'main');
  const v1 = await connectFor(t, port, { streamid: 'read:main' });
  const v1id = await waitFor(() => sessionOf(relay, v1)?.id, 'viewer 1 listed');
  await waitAttached(relay, [v1id]);
  const rx1 = collect(v1);
  await first;
  await waitFor(() => idleAt.length === 1, 'the stream has no source');
  assert.ok(rx1.bytes > 0, 'viewer 1 received the stream');
  assert.equal(rx1.closed, false, 'viewer 1 stays connected when the source goes away');
  assert.equal(timerClosed(), 0, 'the failover timer has not fired when the source goes away');
  await Promise.race([rx1.closedPromise, delay(30_000)]);
  assert.equal(rx1.closed, true, 'viewer 1 is closed without a source');
  assert.equal(timerClosed(), 1, 'closed by the failover timer (logged "no source came back: closing viewers")');
  await waitFor(() => log.find(/^session ended$/, { session: v1id }).length > 0, 'viewer 1 session ended', 30_000);
  assert.deepEqual(log.find(/^session ended$/, { session: v1id }).map((l) => l['reason']), ['no source within failoverTimeoutMs'], 'viewer 1 ended for the failover timeout');
  t.diagnostic(`viewer closed ${Math.round(rx1.closedAt! - idleAt[0]!)} ms after the stream lost its source (failoverTimeoutMs 1500)`);
  await waitFor(() => !relay.listSessions().some((s) => s.kind === 'viewer'), 'viewer 1 session ended');

  // 2. A publisher comes back within the timeout: the viewer stays and gets the new stream.
  const second = publishFor(1500);
  await waitLive(relay, 'main');
  const v2 = await connectFor(t, port, { streamid: 'read:main' });
  await waitAttached(relay, [await waitFor(() => sessionOf(relay, v2)?.id, 'viewer 2 listed')]);
  const rx2 = collect(v2);
  await second;
  await waitFor(() => idleAt.length === 2, 'the stream lost its source again');
  const before = rx2.bytes;
  const third = publishFor(4000); // reconnects at once, well within 1.5 s, and publishes for longer than it
  await third;
  assert.equal(rx2.closed, false, 'viewer 2 stays connected: a source came back within failoverTimeoutMs');
  assert.equal(timerClosed(), 1, 'the failover timer did not fire again while the third publisher was on');
  assert.ok(rx2.bytes > before, `viewer 2 receives the new publisher (${before} → ${rx2.bytes} bytes)`);
});

test('an audio-only TS stream (no video, no key frames) reaches its viewers again after the publisher reconnects', { timeout: 30_000 }, async (t) => {
  const audio = join(testTempDir(), 'audio-only.ts');
  await run('ffmpeg', ['-hide_banner', '-v', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i', 'sine=frequency=1000', '-t', '4', '-c:a', 'aac', '-f', 'mpegts', audio], {
    timeout: 30_000,
  });
  const bytes = readFileSync(audio);
  const pps = Math.ceil(bytes.length / 1316 / 4);
  const { relay, port } = await startRelay(t, { streams: { radio: { source: 'push://' } } });
  const p1 = await connectFor(t, port, { streamid: 'publish:radio' });
  await waitLive(relay, 'radio');
  const viewer = await connectFor(t, port, { streamid: 'read:radio' });
  await waitAttached(relay, [await waitFor(() => sessionOf(relay, viewer)?.id, 'viewer listed')]);
  const rx = collect(viewer);
  await sendFile(p1, bytes.subarray(0, 20 * 1316), { pps });
  await waitUntil(() => rx.bytes >= 20 * 1316, () => `the viewer got the first publisher’s 20 messages (${rx.bytes})`);
  p1.close();
  await waitFor(() => relay.getStream('radio')!.publisher === undefined, 'the first publisher left');

  const before = rx.bytes;
  const p2 = await connectFor(t, port, { streamid: 'publish:radio' });
  await waitLive(relay, 'radio');
  await sendFile(p2, bytes, { pps });
  await waitUntil(() => rx.bytes - before >= bytes.length * 0.9 || rx.closed, () => `the viewer gets the new publisher’s audio (${rx.bytes - before} of ${bytes.length} bytes)`, 8000);
  assert.equal(rx.closed, false);
  const cc = checkContinuity(rx.data());
  assert.deepEqual(cc.errors.slice(0, 5), [], 'continuity counters continue across the reconnect');
});
