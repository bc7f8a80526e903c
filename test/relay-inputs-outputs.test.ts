/**
 * Stream sources other than publishers (a pull as caller, a listener input with each
 * acceptStreamIds policy) and outputs other than viewers (caller and listener pushes, and an
 * automatic push that reconnects when its target restarts), against real tools on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Relay } from '../src/supervisor/relay.js';
import { freeUdpPort, freeUdpPorts } from './helpers/free-port.js';
import { spawnFor, type Spawned } from './helpers/processes.js';
import { tsFixture } from './helpers/ts-fixture.js';
import { delay, listenBinding, receiveDetailed, sendFile, withTimeout, type ListeningServer } from './helpers/srt-io.js';
import {
  connectFor,
  countingReceiver,
  makePacket,
  pacedPublisher,
  rejectReason,
  sessionOf,
  startRelay,
  tsAlignment,
  waitAttached,
  waitFor,
  waitLive,
  waitUdpBound,
} from './helpers/relay-harness.js';

/** ffmpeg sending the looping TS fixture in real time to `target` ('-' for stdout). */
async function ffmpegTs(t: { after(fn: () => unknown): void }, target: string, name: string): Promise<Spawned> {
  const fixture = await tsFixture();
  return spawnFor(
    t,
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-stream_loop', '-1', '-i', fixture, '-c', 'copy', '-f', 'mpegts', target],
    { name },
  );
}

/** A binding viewer on the relay's port that collects ~`bytes` of the stream and checks it is TS. */
async function expectTsOnViewer(t: { after(fn: () => unknown): void }, relay: Relay, port: number, stream: string, bytes = 150_000): Promise<void> {
  const viewer = await connectFor(t, port, { streamid: `read:${stream}` });
  await waitFor(() => sessionOf(relay, viewer), `viewer of ${stream} listed`);
  const got = await receiveDetailed(viewer, { untilBytes: bytes, timeoutMs: 20_000 });
  assert.equal(got.ended, 'bytes', `viewer of '${stream}' got ${got.data.length} of ${bytes} bytes (${got.ended})`);
  const o = tsAlignment(got.data);
  assert.ok(o >= 0, `viewer of '${stream}' receives a contiguous 188-byte-aligned TS stream`);
  assert.ok((got.data.length - o) / 188 > 500, 'hundreds of TS packets');
}

test('caller input: a stream pulled from an srt-live-transmit listener (fed by ffmpeg) is received by a viewer', { timeout: 60_000 }, async (t) => {
  const sltPort = await freeUdpPort();
  const slt = spawnFor(
    t,
    'srt-live-transmit',
    ['-q', 'file://con', `srt://127.0.0.1:${sltPort}?mode=listener&latency=200`],
    { name: 'srt-live-transmit source' },
  );
  const ffmpeg = await ffmpegTs(t, '-', 'ffmpeg feeding srt-live-transmit');
  ffmpeg.child.stdout!.pipe(slt.child.stdin!);
  await waitUdpBound(sltPort, 'srt-live-transmit');

  const { relay, port } = await startRelay(t, { streams: { src: { source: `srt://127.0.0.1:${sltPort}?latency=200`, alwaysOn: true } } });
  await waitLive(relay, 'src', 15_000);
  const pull = relay.listSessions().find((s) => s.stream === 'src');
  assert.equal(pull?.kind, 'pull', 'the pulled source is the stream’s publisher session');
  await expectTsOnViewer(t, relay, port, 'src');
});

test('listener input, no streamid (ffmpeg caller): the stream named by the config goes live', { timeout: 60_000 }, async (t) => {
  const inPort = await freeUdpPort();
  const { relay, port } = await startRelay(t, { streams: { ing: { source: `srt://:${inPort}` } } });
  await ffmpegTs(t, `srt://127.0.0.1:${inPort}`, 'ffmpeg caller');
  await waitLive(relay, 'ing', 15_000);
  const s = relay.listSessions().find((x) => x.stream === 'ing');
  assert.equal(s?.kind, 'pull');
  await expectTsOnViewer(t, relay, port, 'ing');
});

/** Publishes sequence-numbered packets from a binding caller to a listener input and checks a viewer of `expectStream` gets them. */
async function publishToInput(
  t: { after(fn: () => unknown): void },
  relay: Relay,
  port: number,
  inPort: number,
  streamid: string | undefined,
  expectStream: string,
): Promise<void> {
  const pub = await connectFor(t, inPort, streamid === undefined ? {} : { streamid });
  await waitLive(relay, expectStream);
  assert.equal(relay.getStream(expectStream)?.publisher?.session, sessionOf(relay, pub)?.id);
  const viewer = await connectFor(t, port, { streamid: `read:${expectStream}` });
  const vid = await waitFor(() => sessionOf(relay, viewer)?.id, 'viewer listed');
  await waitAttached(relay, [vid]);
  const rx = countingReceiver(viewer);
  const p = pacedPublisher(pub, { pps: 1000, count: 200 });
  await waitFor(() => rx.packets >= 200 || p.error, `viewer of ${expectStream} received 200 packets (${rx.packets})`, 15_000);
  assert.equal(p.error, undefined);
  assert.equal(rx.packets, 200);
  assert.equal(rx.corrupt, 0);
  assert.equal(rx.checksum, p.checksumFrom(0));
}

test('listener input, acceptStreamIds ignore: a caller with streamid x publishes to the configured stream', { timeout: 30_000 }, async (t) => {
  const inPort = await freeUdpPort();
  const { relay, port } = await startRelay(t, {
    streams: { ing: { source: `srt://127.0.0.1:${inPort}?mode=listener&latency=200`, acceptStreamIds: 'ignore' } },
  });
  await publishToInput(t, relay, port, inPort, 'x', 'ing');
  assert.equal(relay.getStream('ing+x'), undefined);
});

test('listener input, acceptStreamIds wildcard: a caller with streamid x publishes stream ing+x', { timeout: 30_000 }, async (t) => {
  const inPort = await freeUdpPort();
  const { relay, port } = await startRelay(t, {
    streams: { ing: { source: `srt://127.0.0.1:${inPort}?mode=listener&latency=200`, acceptStreamIds: 'wildcard' } },
  });
  await publishToInput(t, relay, port, inPort, 'x', 'ing+x');
  assert.equal(relay.getStream('ing')?.publisher, undefined, 'the base stream stays idle');
});

test('listener input, acceptStreamIds wildcard: a caller without streamid publishes the configured stream', { timeout: 30_000 }, async (t) => {
  const inPort = await freeUdpPort();
  const { relay, port } = await startRelay(t, {
    streams: { ing: { source: `srt://127.0.0.1:${inPort}?mode=listener&latency=200`, acceptStreamIds: 'wildcard' } },
  });
  await publishToInput(t, relay, port, inPort, undefined, 'ing');
});

test('listener input, acceptStreamIds wildcard: callers with streamids x and y and one without publish three streams at once', { timeout: 30_000 }, async (t) => {
  const inPort = await freeUdpPort();
  const { relay, port } = await startRelay(t, {
    streams: { ing: { source: `srt://127.0.0.1:${inPort}?mode=listener&latency=200`, acceptStreamIds: 'wildcard' } },
  });
  await publishToInput(t, relay, port, inPort, undefined, 'ing');
  await publishToInput(t, relay, port, inPort, 'x', 'ing+x');
  await publishToInput(t, relay, port, inPort, 'y', 'ing+y');
  for (const name of ['ing', 'ing+x', 'ing+y']) assert.notEqual(relay.getStream(name)?.publisher, undefined, `${name} live`);
});

test('listener input, acceptStreamIds wildcard: a second caller with the same streamid is refused with 1409 and the first keeps the stream', { timeout: 30_000 }, async (t) => {
  const inPort = await freeUdpPort();
  const { relay } = await startRelay(t, {
    streams: { ing: { source: `srt://127.0.0.1:${inPort}?mode=listener&latency=200`, acceptStreamIds: 'wildcard' } },
  });
  const first = await connectFor(t, inPort, { streamid: 'x' });
  await waitLive(relay, 'ing+x');
  const firstId = sessionOf(relay, first)?.id;
  assert.equal(await rejectReason(inPort, { streamid: 'x' }), 1409);
  assert.equal(relay.getStream('ing+x')?.publisher?.session, firstId);
});

test('listener input, acceptStreamIds refuse: a caller with a streamid is rejected with 1403, one without is accepted', { timeout: 30_000 }, async (t) => {
  const inPort = await freeUdpPort();
  const { relay, port } = await startRelay(t, {
    streams: { ing: { source: `srt://127.0.0.1:${inPort}?mode=listener&latency=200`, acceptStreamIds: 'refuse' } },
  });
  assert.equal(await rejectReason(inPort, { streamid: 'x' }), 1403);
  assert.equal(await rejectReason(inPort, { streamid: 'publish:ing' }), 1403);
  assert.equal(relay.getStream('ing')?.publisher, undefined);
  await publishToInput(t, relay, port, inPort, undefined, 'ing');
});

test('caller push: srt-live-transmit listening as the push target receives exactly the bytes the publisher sends', { timeout: 60_000 }, async (t) => {
  const sinkPort = await freeUdpPort();
  const sink = spawnFor(
    t,
    'srt-live-transmit',
    ['-q', `srt://127.0.0.1:${sinkPort}?mode=listener&latency=200`, 'file://con'],
    { name: 'srt-live-transmit sink' },
  );
  await waitUdpBound(sinkPort, 'srt-live-transmit sink');
  const { relay, port } = await startRelay(t, {
    pushes: [{ stream: 'cam', target: `srt://127.0.0.1:${sinkPort}?latency=200`, auto: false }],
  });
  assert.equal(relay.listPushes()[0]?.state, 'waiting', 'the push waits for the stream to go live');

  const pub = await connectFor(t, port, { streamid: 'publish:cam' });
  await waitLive(relay, 'cam');
  const push = await waitFor(() => {
    const p = relay.listPushes()[0];
    if (p?.state === 'failed') assert.fail(`push failed: ${p.lastError}`);
    return p?.state === 'active' && p.session !== undefined ? p : undefined;
  }, 'push active');
  assert.equal(relay.listSessions().find((s) => s.id === push.session)?.kind, 'push');
  await waitAttached(relay, [push.session!]);

  const data = Buffer.concat(Array.from({ length: 1500 }, (_, i) => makePacket(i, 3)));
  await sendFile(pub, data, { pps: 1000 });
  // srt-live-transmit's stdout is block-buffered on a pipe: SIGINT flushes it.
  await waitFor(() => sink.stdout().length >= data.length - 65_536 || sink.exit !== undefined, 'the sink wrote the data', 20_000);
  await delay(500);
  sink.child.kill('SIGINT');
  await sink.waitExit(10_000);
  const out = sink.stdout();
  assert.equal(out.length, data.length, `the sink wrote ${out.length} of ${data.length} bytes`);
  assert.ok(out.equals(data), 'the sink’s bytes equal the published bytes');
});

test('listener push: a caller connecting to the push port receives the stream', { timeout: 30_000 }, async (t) => {
  const lPort = await freeUdpPort();
  const { relay, port } = await startRelay(t, {
    pushes: [{ stream: 'cam', target: `srt://127.0.0.1:${lPort}?mode=listener&latency=200` }],
  });
  assert.equal(relay.listPushes()[0]?.state, 'active');
  const pub = await connectFor(t, port, { streamid: 'publish:cam' });
  await waitLive(relay, 'cam');

  const caller = await connectFor(t, lPort, {});
  const info = await waitFor(() => sessionOf(relay, caller), 'push caller listed');
  assert.equal(info.kind, 'push');
  assert.equal(info.stream, 'cam');
  await waitAttached(relay, [info.id]);
  const rx = countingReceiver(caller);
  const p = pacedPublisher(pub, { pps: 1000, count: 500 });
  await waitFor(() => rx.packets >= 500 || p.error, `push caller received 500 packets (${rx.packets})`, 15_000);
  assert.equal(rx.packets, 500);
  assert.equal(rx.corrupt, 0);
  assert.equal(rx.discontinuities, 0);
  assert.equal(rx.checksum, p.checksumFrom(0));
});

/** A binding listener on `port`, retrying while the port is still held by a closing socket. */
async function listenOn(port: number): Promise<ListeningServer> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return listenBinding({ latency: 200 }, { port });
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await delay(100);
    }
  }
}

test('automatic push: after the target restarts on the same port the push reconnects and the new target receives', { timeout: 60_000 }, async (t) => {
  const [sinkPort] = await freeUdpPorts(1);
  let sink = await listenOn(sinkPort!);
  t.after(() => sink.close());
  const { relay, port } = await startRelay(t, {
    pushes: [{ stream: 'cam', target: `srt://127.0.0.1:${sinkPort}?latency=200`, auto: true }],
  });
  const pub = await connectFor(t, port, { streamid: 'publish:cam' });
  await waitLive(relay, 'cam');
  const p = pacedPublisher(pub, { pps: 500 });
  t.after(() => p.stop());

  const first = await withTimeout(sink.accepted(), 15_000, 'the push connects to the first sink');
  const rx1 = countingReceiver(first.socket);
  await waitFor(() => rx1.packets >= 200, 'the first sink receives', 15_000);
  const firstSession = relay.listPushes()[0]?.session;
  assert.notEqual(firstSession, undefined);
  assert.equal(relay.listPushes()[0]?.state, 'active');

  // The target goes away...
  sink.close();
  await waitFor(() => relay.listPushes()[0]?.state !== 'active', 'the push notices the target is gone', 15_000);
  assert.ok(!relay.listSessions().some((s) => s.id === firstSession), 'the old push session ended');
  await delay(1000);
  // ...and comes back on the same port.
  sink = await listenOn(sinkPort!);
  const second = await withTimeout(sink.accepted(), 30_000, 'the push reconnects to the restarted sink');
  const rx2 = countingReceiver(second.socket);
  await waitFor(() => rx2.packets >= 200, 'the restarted sink receives', 15_000);
  const again = await waitFor(() => {
    const x = relay.listPushes()[0];
    return x?.state === 'active' && x.session !== undefined ? x : undefined;
  }, 'listPushes shows the push active again');
  assert.notEqual(again.session, firstSession);
  assert.equal(rx2.corrupt, 0);
  assert.equal(rx2.discontinuities, 0);
  assert.equal(p.error, undefined);
});

