/**
 * Pulled `srt://` sources as docs/streams.md "Sources" describes them, with a real SRT listener
 * upstream: srt-live-transmit listening, fed over UDP with an MPEG-TS stream whose messages carry
 * their number and a source tag (helpers/numbered-ts.ts; one 1316-byte datagram per SRT message).
 * Failover to a backup pull and back to the publisher, counted in the API's `sources.switches`
 * and in /metrics `srt_relay_stream_source_switches_total`; an on-demand pull started by its first
 * viewer, who is held (not refused with 1404) while the pull connects, then receives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Relay } from '../src/supervisor/relay.js';
import type { SrtSocket } from '../src/srt/socket.js';
import { freeUdpPort, freeUdpPorts } from './helpers/free-port.js';
import { KF, numberedReceiver, PPS, tsMessage, tsPublisher, type Numbered } from './helpers/numbered-ts.js';
import type { AfterHook } from './helpers/processes.js';
import { startSlt } from './helpers/slt.js';
import { connectFor, publishWhenFree, relayOptions, serveApi, sessionOf, waitAttached, waitFor, waitLive, waitUdpBound } from './helpers/relay-harness.js';
import { TsWriter } from './helpers/ts-build.js';
import type { Spawned } from './helpers/processes.js';

const count = (got: readonly Numbered[], tag: number): number => got.filter((m) => m.tag === tag).length;

/**
 * srt-live-transmit listening for SRT callers on a free port (its defaults otherwise), its input
 * the numbered TS of source `tag` sent to it over UDP at PPS messages per second until the test ends.
 */
async function sltUpstream(t: AfterHook, tag: number): Promise<{ port: number; slt: Spawned }> {
  const [udpPort, srtPort] = await freeUdpPorts(2);
  const slt = startSlt(t, `udp://127.0.0.1:${udpPort!}`, `srt://127.0.0.1:${srtPort!}?mode=listener`);
  const udp = createSocket('udp4');
  const w = new TsWriter();
  const started = performance.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) * PPS) / 1000) + 1;
    for (; sent < due; sent++) udp.send(tsMessage(w, sent, tag), udpPort!, '127.0.0.1');
  }, 5);
  t.after(() => {
    clearInterval(timer);
    udp.close();
  });
  await waitUdpBound(srtPort!, 'srt-live-transmit listening');
  return { port: srtPort!, slt };
}

async function api<T>(base: string, path: string): Promise<T> {
  const r = await fetch(`${base}${path}`);
  assert.equal(r.status, 200, `GET ${path}`);
  return (await r.json()) as T;
}

interface SourcesBody {
  state: string;
  sources: { active?: number; activeSource?: string; switches: number; sources: Array<{ source: string; kind: string; state: string; attempts: number }> };
}

/** The value of `srt_relay_stream_source_switches_total{stream="NAME"}` in /metrics. */
async function switchesMetric(base: string, stream: string): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^srt_relay_stream_source_switches_total\\{[^}]*stream="${stream}"[^}]*\\} (\\d+)`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
}

test('failover to an srt:// backup pull (srt-live-transmit upstream) when the publisher leaves and back when it returns: the viewer stays and receives each source in turn, and the API and /metrics count both switches', { timeout: 90_000 }, async (t) => {
  const backup = await sltUpstream(t, 2);
  const port = await freeUdpPort();
  const backupUrl = `srt://127.0.0.1:${backup.port}?latency=200`;
  const relay = new Relay(relayOptions(port, { streams: { main: { source: 'push://', sources: ['push://', backupUrl] } } }));
  const base = await serveApi(t, relay);

  const first = await connectFor(t, port, { streamid: 'publish:main' });
  const p1 = tsPublisher(t, first, 1);
  await waitLive(relay, 'main');
  const viewer = await connectFor(t, port, { streamid: 'read:main' });
  const rx = numberedReceiver(viewer);
  await waitAttached(relay, [await waitFor(() => sessionOf(relay, viewer)?.id, 'the viewer is listed')]);
  await waitFor(() => count(rx, 1) >= 2 * KF, 'the viewer receives the publisher', 20_000);
  const before = await api<SourcesBody>(base, '/api/v1/streams/main');
  assert.equal(before.sources.active, 0, 'the publisher (push://) is the active source');
  assert.equal(before.sources.switches, 0);
  assert.equal(before.sources.sources[1]!.state, 'idle', 'the backup does not run while the publisher is live');

  // The publisher leaves: the backup pull starts and takes over.
  p1.stop();
  first.close();
  const failedOver = await waitFor(async () => {
    const v = await api<SourcesBody>(base, '/api/v1/streams/main');
    return v.sources.active === 1 ? v : undefined;
  }, 'the backup pull is the active source', 30_000);
  assert.equal(failedOver.sources.activeSource, backupUrl);
  assert.equal(failedOver.sources.switches, 1, 'one switch: publisher → backup');
  assert.equal(failedOver.state, 'live');
  assert.ok(relay.listSessions().some((s) => s.stream === 'main' && s.kind === 'pull'), 'the backup runs as a pull session');
  await waitFor(() => count(rx, 2) >= KF, 'the viewer receives the backup', 30_000);
  assert.equal(await switchesMetric(base, 'main'), 1, '/metrics counts the switch');

  // The publisher returns: it is the better source, switched in and the backup pull stopped.
  const { socket: second } = await publishWhenFree(port, 'main', 20_000);
  t.after(() => second.close());
  tsPublisher(t, second, 3);
  const back = await waitFor(async () => {
    const v = await api<SourcesBody>(base, '/api/v1/streams/main');
    return v.sources.active === 0 && v.sources.sources[1]!.state === 'idle' ? v : undefined;
  }, 'the returning publisher active again and the backup stopped', 30_000);
  assert.equal(back.sources.switches, 2, 'two switches: publisher → backup → publisher');
  await waitFor(() => count(rx, 3) >= KF, 'the viewer receives the returning publisher', 30_000);
  assert.equal(await switchesMetric(base, 'main'), 2, '/metrics counts both switches');
  assert.equal(relay.listSessions().some((s) => s.stream === 'main' && s.kind === 'pull'), false, 'no pull session left');
  assert.equal(viewer.isClosed, false, 'the viewer stayed connected through both switches');
  // In order: the first publisher, the backup, the returning publisher; each switched in at a key frame.
  const tags = rx.map((m) => m.tag);
  assert.ok(tags.lastIndexOf(1) < tags.indexOf(2) && tags.lastIndexOf(2) < tags.indexOf(3), 'switch order 1 → 2 → 3');
  for (const tag of [2, 3]) assert.equal(rx.find((m) => m.tag === tag)!.n % KF, 0, `source ${tag} starts at a key frame message`);
});

test('an on-demand srt:// pull starts for its first viewer, who is held (not 1404) while the pull connects and then receives; the pull stops idleTimeoutMs after the viewer left', { timeout: 90_000 }, async (t) => {
  // The upstream is not there yet when the viewer asks: the viewer waits through the pull's retries.
  const upstreamPort = await freeUdpPort();
  const port = await freeUdpPort();
  const relay = new Relay(relayOptions(port, { streams: { pulled: { source: `srt://127.0.0.1:${upstreamPort}?latency=200`, idleTimeoutMs: 1000 } } }));
  const base = await serveApi(t, relay);
  const idle = await api<SourcesBody>(base, '/api/v1/streams/pulled');
  assert.deepEqual(idle.sources.sources.map((s) => [s.kind, s.state, s.attempts]), [['srt-caller', 'idle', 0]], 'nothing pulled without a viewer');

  const viewer: SrtSocket = await connectFor(t, port, { streamid: 'read:pulled' });
  const firstPids: number[] = [];
  const rx = numberedReceiver(viewer, firstPids);
  await waitFor(async () => (await api<SourcesBody>(base, '/api/v1/streams/pulled')).sources.sources[0]!.attempts >= 1, 'the first viewer started the pull');
  const held = await api<SourcesBody>(base, '/api/v1/streams/pulled');
  t.diagnostic(`while the upstream is missing: ${JSON.stringify(held.sources.sources[0])}`);
  assert.equal(held.state, 'idle', 'not live yet');
  assert.equal(viewer.isClosed, false, 'the viewer is held, not refused or closed');
  assert.equal(rx.length, 0);

  // The upstream appears (srt-live-transmit on the port the pull calls): the pull connects.
  const [udpPort] = await freeUdpPorts(1);
  startSlt(t, `udp://127.0.0.1:${udpPort!}`, `srt://127.0.0.1:${upstreamPort}?mode=listener`);
  const udp = createSocket('udp4');
  const w = new TsWriter();
  let n = 0;
  const timer = setInterval(() => udp.send(tsMessage(w, n++, 7), udpPort!, '127.0.0.1'), 1000 / PPS);
  t.after(() => {
    clearInterval(timer);
    udp.close();
  });
  await waitLive(relay, 'pulled', 30_000);
  await waitFor(() => count(rx, 7) >= KF, 'the held viewer receives the pulled stream', 30_000);
  assert.equal(relay.listSessions().find((s) => s.stream === 'pulled' && s.kind !== 'viewer')?.kind, 'pull');
  // docs/streams.md: a held viewer gets the source from its PAT/PMT and first key frame.
  assert.deepEqual(firstPids.slice(0, 2), [0, 0x1000], `the first message starts with PAT and PMT (its PIDs: ${firstPids.join(', ')})`);
  assert.equal(rx[0]!.n % KF, 0, `the viewer starts at a key frame message (got message ${rx[0]!.n}; the upstream sent ${n} by then)`);

  // The last viewer leaves: the pull stops after idleTimeoutMs (waited for, not timed).
  viewer.close();
  await waitFor(async () => {
    const v = await api<SourcesBody>(base, '/api/v1/streams/pulled');
    return v.sources.sources[0]!.state === 'idle' && !relay.listSessions().some((s) => s.stream === 'pulled');
  }, 'the on-demand pull stopped after the viewer left', 30_000);
});
