/**
 * A stream's latency policy (docs/streams.md#latency-policy) with real callers asking 20, 120,
 * 2000 and 9000 ms: srt-live-transmit publishers and ffmpeg players. The relay's side (default)
 * is the floor a caller gets, a caller over max is closed and counted as 1406, and every
 * session shows what it negotiated (latency, tlpktdrop, packet filter, payload size, key length)
 * in GET /api/v1/sessions and /metrics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Relay } from '../src/supervisor/relay.js';
import { normalizeStream } from '../src/config/stream-config.js';
import { relayOptions, serveApi, waitFor, connectFor, waitLive, rejectReason } from './helpers/relay-harness.js';
import { freeUdpPort } from './helpers/free-port.js';
import { SLT, srtUrl } from './helpers/slt.js';
import { spawnFor, type AfterHook, type Spawned } from './helpers/processes.js';
import { makeTsFile } from './helpers/media.js';
import { SrtlaSender } from './helpers/srtla-sender.js';

interface SessionBody {
  id: number;
  kind: string;
  stream: string;
  streamid: string;
  negotiated: null | { latencyMs: number; receiveLatencyMs: number; peerLatencyMs: number; tlpktdrop: boolean; packetFilter: string; payloadSize: number; keyLength: number };
}

const PASS = 'latency-policy-secret';

async function sessions(base: string): Promise<SessionBody[]> {
  return ((await (await fetch(`${base}/api/v1/sessions`)).json()) as { sessions: SessionBody[] }).sessions;
}

async function policyRelay(t: AfterHook): Promise<{ relay: Relay; port: number; base: string }> {
  const port = await freeUdpPort();
  const stream = (latency: unknown, extra: Record<string, unknown> = {}): ReturnType<typeof normalizeStream> =>
    normalizeStream('s', { source: 'push://', latency, ...extra }, { origin: 'file' });
  const pol = stream({ default: 500, max: 3000, onExceed: 'refuse' });
  const enc = stream({ default: 200 }, { passphrase: { publish: PASS } });
  const relay = new Relay(
    relayOptions(port, {
      workers: 1,
      streams: {
        pol: { source: 'push://', latency: pol.latency },
        loose: { source: 'push://', latency: { publish: { max: 3000, onExceed: 'accept' } } },
        enc: { source: 'push://', latency: enc.latency, passphrase: { publish: PASS } },
      },
    }, { latency: 120 }),
  );
  const base = await serveApi(t, relay);
  return { relay, port, base };
}

/** An srt-live-transmit publisher of `stream` asking `latency` ms, fed a TS file on stdin. */
async function sltPublisher(t: AfterHook, port: number, stream: string, params: Record<string, string | number>): Promise<Spawned> {
  const p = spawnFor(t, SLT, ['-a:no', '-q', '-chunk:1316', 'file://con', srtUrl('127.0.0.1', port, { streamid: `publish:${stream}`, ...params })], { name: `${SLT} latency=${String(params['latency'])}` });
  const ts = await makeTsFile({ name: 'latency-policy', seconds: 30 });
  const { createReadStream } = await import('node:fs');
  const src = createReadStream(ts);
  src.pipe(p.child.stdin!);
  p.child.stdin!.on('error', () => undefined);
  t.after(() => src.destroy());
  return p;
}

test('srt-live-transmit publishers asking 20, 120, 2000 ms negotiate 500, 500, 2000 under {default: 500, max: 3000}; one asking 9000 is closed, counted as 1406, and its retry rejected with 1406', { timeout: 120_000 }, async (t) => {
  const { relay, port, base } = await policyRelay(t);
  for (const [asked, want] of [[20, 500], [120, 500], [2000, 2000]] as const) {
    const slt = await sltPublisher(t, port, 'pol', { latency: asked });
    const s = await waitFor(async () => (await sessions(base)).find((x) => x.kind === 'publisher' && x.stream === 'pol'), `the publisher asking ${asked} ms connected`, 20_000);
    assert.equal(s.negotiated?.latencyMs, want, `a publisher asking ${asked} ms gets ${want}`);
    assert.equal(s.negotiated?.receiveLatencyMs, want);
    assert.equal(s.negotiated?.tlpktdrop, true);
    assert.equal(s.negotiated?.packetFilter, '');
    assert.equal(s.negotiated?.keyLength, 0, 'not encrypted');
    assert.ok((s.negotiated?.payloadSize ?? 0) >= 1316, `payload size ${String(s.negotiated?.payloadSize)}`);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.ok(metrics.includes(`srt_relay_session_latency_seconds{session="${s.id}",stream="pol",kind="publisher"} ${want / 1000}`), `latency metric of session ${s.id}`);
    slt.kill();
    await waitFor(async () => !(await sessions(base)).some((x) => x.kind === 'publisher' && x.stream === 'pol'), 'the publisher gone', 20_000);
    await waitFor(() => relay.getStream('pol')?.publisher === undefined, 'the stream free again', 20_000);
  }
  const before = relay.refusedHandshakes().find((r) => r.code === 1406)?.count ?? 0;
  const slt = await sltPublisher(t, port, 'pol', { latency: 9000 });
  await waitFor(() => (relay.refusedHandshakes().find((r) => r.code === 1406)?.count ?? 0) > before, 'the 9000 ms publisher refused with 1406', 20_000);
  await slt.exited;
  assert.equal(relay.getStream('pol')?.publisher, undefined, 'it never became the publisher');
  assert.equal(await rejectReason(port, { streamid: 'publish:pol', latency: 9000 }), 1406, 'its retry from the same address is refused with 1406 in the handshake');
  assert.equal(await rejectReason(port, { streamid: 'publish:pol', latency: 200 }), 1406, 'for a while, whatever it asks (docs/streams.md)');
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, new RegExp(`srt_relay_handshakes_refused_total\\{code="1406",listener="srt",port="${port}"\\} [1-9]`), 'counted on the port that closed it');

  // onExceed "accept": over max, kept.
  const loose = await sltPublisher(t, port, 'loose', { latency: 9000 });
  const s = await waitFor(async () => (await sessions(base)).find((x) => x.kind === 'publisher' && x.stream === 'loose'), 'the 9000 ms publisher kept under onExceed "accept"', 20_000);
  assert.equal(s.negotiated?.latencyMs, 9000);
  loose.kill();
});

test('ffmpeg players asking 20, 120, 2000 ms get 500, 500, 2000 as their latency; one asking 9000 is closed and counted as 1406', { timeout: 120_000 }, async (t) => {
  const { relay, port, base } = await policyRelay(t);
  const pub = await connectFor(t, port, { streamid: 'publish:pol', latency: 500 });
  await waitLive(relay, 'pol');
  void pub;
  const url = (ms: number): string => `srt://127.0.0.1:${port}?streamid=read:pol&latency=${ms * 1000}`; // ffmpeg: µs
  for (const [asked, want] of [[20, 500], [120, 500], [2000, 2000]] as const) {
    const ff = spawnFor(t, 'ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', url(asked), '-c', 'copy', '-f', 'null', '-'], { name: `ffmpeg latency=${asked}` });
    const s = await waitFor(async () => (await sessions(base)).find((x) => x.kind === 'viewer' && x.stream === 'pol'), `the player asking ${asked} ms connected`, 20_000);
    assert.equal(s.negotiated?.latencyMs, want, `a player asking ${asked} ms gets ${want}`);
    assert.equal(s.negotiated?.peerLatencyMs, want);
    ff.kill();
    await waitFor(async () => !(await sessions(base)).some((x) => x.kind === 'viewer' && x.stream === 'pol'), 'the player gone', 20_000);
  }
  const before = relay.refusedHandshakes().find((r) => r.code === 1406)?.count ?? 0;
  const ff = spawnFor(t, 'ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', url(9000), '-c', 'copy', '-f', 'null', '-'], { name: 'ffmpeg latency=9000' });
  await waitFor(() => (relay.refusedHandshakes().find((r) => r.code === 1406)?.count ?? 0) > before, 'the 9000 ms player refused with 1406', 20_000);
  const exit = await ff.exited;
  assert.notEqual(exit.code, 0, 'ffmpeg failed');
  assert.ok(!(await sessions(base)).some((x) => x.kind === 'viewer'), 'it never became a viewer');
});

test('an encrypted publisher with a packet filter shows its key length and filter in the session', { timeout: 60_000 }, async (t) => {
  const { base, port } = await policyRelay(t);
  const slt = await sltPublisher(t, port, 'enc', { latency: 120, passphrase: PASS, pbkeylen: 32, packetfilter: 'fec,cols:4,rows:2' });
  const s = await waitFor(async () => (await sessions(base)).find((x) => x.kind === 'publisher' && x.stream === 'enc'), 'the encrypted publisher connected', 20_000);
  assert.equal(s.negotiated?.keyLength, 32);
  assert.match(s.negotiated?.packetFilter ?? '', /^fec,.*cols:4/);
  assert.equal(s.negotiated?.latencyMs, 200, "the stream's default 200 over the caller's 120");
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.ok(metrics.includes(`srt_relay_session_key_length_bytes{session="${s.id}",stream="enc",kind="publisher"} 32`));
  assert.match(metrics, new RegExp(`srt_relay_session_packet_filter_info\\{session="${s.id}",stream="enc",kind="publisher",filter="fec,[^"]*"\\} 1`));
  slt.kill();
});

test('latency policies that cannot hold are config errors with key paths; "clamp" is not an option', () => {
  const bad = (latency: unknown): string => {
    try {
      normalizeStream('cam', { source: 'push://', latency }, { origin: 'file' });
    } catch (e) {
      return (e as Error).message;
    }
    assert.fail('expected ERR_CONFIG_INVALID');
  };
  assert.match(bad({ min: 3000, max: 1000 }), /streams\.cam\.latency\.min: min \(3000\) must not be above max \(1000\)/);
  assert.match(bad({ min: 500, publish: { default: 200 } }), /streams\.cam\.latency\.publish\.default: default \(200\) must not be below min \(500\)/);
  assert.match(bad({ default: 5000, max: 3000 }), /streams\.cam\.latency\.default: default \(5000\) must not be above max/);
  assert.match(bad({ max: 3000, onExceed: 'clamp' }), /streams\.cam\.latency\.onExceed: must be one of refuse, accept/);
  assert.match(bad({ max: 70000 }), /streams\.cam\.latency\.max/);
  const ok = normalizeStream('cam', { source: 'push://', latency: { min: 120, max: 3000, publish: { default: 2000, max: 8000 } } }, { origin: 'file' });
  assert.deepEqual(ok.latency, { publish: { min: 120, max: 8000, default: 2000, onExceed: 'refuse' }, play: { min: 120, max: 3000, onExceed: 'refuse' } });
});

test('a bonded (SRTLA) publisher asking 200 ms gets its stream\'s publish default of 2000 ms', { timeout: 60_000 }, async (t) => {
  const port = await freeUdpPort();
  const srtlaPort = await freeUdpPort();
  const bonded = normalizeStream('bonded', { source: 'push://', latency: { publish: { default: 2000, max: 3000 } } }, { origin: 'file' });
  const relay = new Relay(
    relayOptions(port, { workers: 1, streams: { bonded: { source: 'push://', latency: bonded.latency } }, srtla: { port: srtlaPort, host: '127.0.0.1', target: { host: '127.0.0.1', port } } }, { latency: 120, lossmaxttl: 40 }),
  );
  const base = await serveApi(t, relay);
  const sender = await SrtlaSender.start({ receiver: { host: '127.0.0.1', port: srtlaPort }, links: [{ bind: '127.0.0.2' }, { bind: '127.0.0.3' }] });
  t.after(() => sender.close());
  await waitFor(() => sender.registeredLinks() === 2, '2 links registered');
  await connectFor(t, sender.port, { streamid: 'publish:bonded', latency: 200 });
  const s = await waitFor(async () => (await sessions(base)).find((x) => x.kind === 'publisher' && x.stream === 'bonded'), 'the bonded publisher connected', 20_000);
  assert.equal(s.negotiated?.latencyMs, 2000);
});
