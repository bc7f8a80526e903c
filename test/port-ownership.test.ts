/**
 * One owner of the node's UDP ports (src/srt/port-registry.ts): the API cannot bind a port the
 * relay already uses (the main SRT port, a listener input), and a second process cannot join a
 * port a running node holds (SO_REUSEPORT would let it take a share of new callers).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { isSrtRelayError, PortInUseError } from '../src/errors.js';
import { PortRegistry } from '../src/srt/port-registry.js';
import { checkUdpPort } from '../src/srt/port-probe.js';
import { SrtListener, type SrtSocket } from '../src/srt/socket.js';
import { Relay, type RelayOptions } from '../src/supervisor/relay.js';
import { SrtlaServer } from '../src/srtla/server.js';
import { freeUdpPort } from './helpers/free-port.js';
import { freeTcpPort } from './helpers/redis-server.js';
import { countingReceiver, pacedPublisher, relayOptions, waitFor, waitLive, serveApi } from './helpers/relay-harness.js';
import { RELAY_BIN, startRelayProcess } from './helpers/relay-process.js';
import { spawnFor } from './helpers/processes.js';
import { ClusterNode } from './helpers/cluster-nodes.js';
import { RedisServer } from './helpers/redis-server.js';
import { connectBinding } from './helpers/srt-io.js';

async function startApiRelay(t: TestContext, overrides: Partial<RelayOptions> = {}): Promise<{ relay: Relay; base: string; port: number }> {
  const port = await freeUdpPort();
  const relay = new Relay(relayOptions(port, overrides));
  const base = await serveApi(t, relay);
  return { relay, base, port };
}

async function call(base: string, method: string, path: string, json?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    ...(json !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

async function connectFor(t: TestContext, port: number, streamid?: string): Promise<SrtSocket> {
  const s = await connectBinding(port, { latency: 200, ...(streamid !== undefined ? { streamid } : {}) });
  t.after(() => s.close());
  return s;
}

/** A viewer of `streamid` on `port` that must receive packets tagged `tag` (another stream's count as corrupt). */
async function assertViewerGets(t: TestContext, port: number, streamid: string, tag: number, ignoreTag?: number): Promise<void> {
  const viewer = await connectFor(t, port, streamid);
  const rx = countingReceiver(viewer, tag, ignoreTag);
  await waitFor(() => rx.packets >= 50, `${streamid}: 50 packets`);
  rx.stop();
  assert.equal(rx.corrupt, 0, `${streamid}: every packet is its own stream's (tag ${tag})`);
}

test('PortRegistry refuses a second claim of an overlapping address, names its holder, and frees it on release', () => {
  const probed: string[] = [];
  const ports = new PortRegistry({ probe: (host, port) => (probed.push(`${host}:${port}`), undefined) });
  const main = ports.claim('127.0.0.1', 9000, 'the main SRT listener');
  for (const host of ['127.0.0.1', '', '0.0.0.0']) {
    assert.throws(
      () => ports.claim(host, 9000, 'listener push 1'),
      (e: unknown) => e instanceof PortInUseError && isSrtRelayError(e, 'ERR_PORT_IN_USE') && /port 9000 is used by the main SRT listener/.test(e.message),
      `a claim of ${host || 'every address'}:9000`,
    );
  }
  ports.claim('127.0.0.2', 9000, 'an input on another address').release();
  ports.claim('::1', 9000, 'IPv6 loopback').release();
  assert.equal(ports.holderOf('127.0.0.1', 9000)?.holder, 'the main SRT listener');
  main.release();
  main.release();
  assert.equal(ports.holderOf('127.0.0.1', 9000), undefined);
  ports.claim('', 9000, 'listener source of x');
  ports.claim('127.0.0.1', 0, 'a caller (kernel-chosen port)');
  ports.claim('127.0.0.1', 0, 'another caller');
  assert.deepEqual(probed, ['127.0.0.1:9000', '127.0.0.2:9000', '::1:9000', ':9000'], 'the probe asks only for addresses nobody here holds (never for port 0)');

  const foreign = new PortRegistry({ probe: () => ({ pid: 4242, command: 'srt-relay' }) });
  assert.throws(
    () => foreign.claim('0.0.0.0', 9000, 'the main SRT listener'),
    (e: unknown) => e instanceof PortInUseError && e.pid === 4242 && /port 9000 is used by another process \(pid 4242, srt-relay\)/.test(e.message),
  );
  assert.deepEqual(foreign.list(), [], 'a refused claim holds nothing');
});

test('a socket that joined the port between the probe and the bind is found after the bind and the claim refused', async (t) => {
  const port = await freeUdpPort();
  // Bound with SO_REUSEADDR like the relay's own sockets, so the relay's bind succeeds beside it.
  const intruder = createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((resolve) => intruder.bind(port, '127.0.0.1', resolve));
  t.after(() => intruder.close());
  const ports = new PortRegistry({ check: checkUdpPort }); // no probe: as if the intruder came just after it
  let listener: SrtListener | undefined;
  assert.throws(
    () =>
      ports.bindWith('127.0.0.1', port, 'the main SRT listener', (claim) => {
        listener = SrtListener.create('127.0.0.1', port, {});
        claim.track(listener.udpSocket);
      }),
    (e: unknown) => e instanceof PortInUseError && e.pid === process.pid && new RegExp(`port ${port} is used by another socket of this process`).test(e.message),
  );
  listener?.close();
  assert.equal(ports.holderOf('127.0.0.1', port), undefined, 'the refused claim is released');
  // Alone on its port, the same bind is confirmed.
  const free = await freeUdpPort();
  const alone = ports.bindWith('127.0.0.1', free, 'the main SRT listener', (claim) => {
    const l = SrtListener.create('127.0.0.1', free, {}, { reusePort: true });
    claim.track(l.udpSocket);
    const l2 = SrtListener.create('127.0.0.1', free, {}, { reusePort: true });
    claim.track(l2.udpSocket);
    return [l, l2];
  });
  for (const l of alone) l.close();
});

test('an API push listening on the main SRT port is 409 ERR_PORT_IN_USE; callers of other streams on that port still get their own stream', async (t) => {
  const { relay, base, port } = await startApiRelay(t);
  const pubA = pacedPublisher(await connectFor(t, port, 'publish:a'), { pps: 500, tag: 1 });
  const pubX = pacedPublisher(await connectFor(t, port, 'publish:x'), { pps: 500, tag: 2 });
  t.after(() => Promise.all([pubA.stop(), pubX.stop()]));
  await waitLive(relay, 'a');
  await waitLive(relay, 'x');

  for (const target of [`srt://:${port}`, `srt://127.0.0.1:${port}?mode=listener`]) {
    const r = await call(base, 'POST', '/api/v1/pushes', { stream: 'x', target });
    assert.equal(r.status, 409, `POST push to ${target}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, 'ERR_PORT_IN_USE');
    assert.match(r.body.error.message, new RegExp(`port ${port} is used by the main SRT listener`));
    assert.equal(r.body.error.details.port, port);
  }
  assert.deepEqual((await call(base, 'GET', '/api/v1/pushes')).body, { pushes: [] }, 'no push left behind');

  for (let i = 0; i < 4; i++) await assertViewerGets(t, port, 'read:a', 1);
  await assertViewerGets(t, port, 'read:x', 2);
});

test('a listener source or push on a listener input\'s port is 409 ERR_PORT_IN_USE; the live contribution on it continues', async (t) => {
  const inPort = await freeUdpPort();
  const { relay, base, port } = await startApiRelay(t, {
    streams: { ing: { source: `srt://127.0.0.1:${inPort}?mode=listener&latency=200` } },
  });
  const pub = pacedPublisher(await connectFor(t, inPort), { pps: 500, tag: 3 });
  t.after(() => pub.stop());
  await waitLive(relay, 'ing');
  const publisher = relay.getStream('ing')?.publisher?.session;
  const viewer = await connectFor(t, port, 'read:ing');
  const rx = countingReceiver(viewer, 3);
  await waitFor(() => rx.packets >= 50, 'viewer of ing: 50 packets');

  const put = await call(base, 'PUT', '/api/v1/streams/other', { source: `srt://:${inPort}?mode=listener` });
  assert.equal(put.status, 409, JSON.stringify(put.body));
  assert.equal(put.body.error.code, 'ERR_PORT_IN_USE');
  assert.match(put.body.error.message, new RegExp(`port ${inPort} is used by the listener source of stream 'ing'`));
  assert.equal((await call(base, 'GET', '/api/v1/streams/other')).status, 404, 'no half-made stream');
  const push = await call(base, 'POST', '/api/v1/pushes', { stream: 'ing', target: `srt://127.0.0.1:${inPort}?mode=listener` });
  assert.equal(push.status, 409, JSON.stringify(push.body));
  assert.equal(push.body.error.code, 'ERR_PORT_IN_USE');

  const before = rx.packets;
  await waitFor(() => rx.packets >= before + 250, 'viewer of ing: 250 more packets after the refusals');
  assert.equal(pub.error, undefined, 'the contribution was not broken');
  assert.equal(relay.getStream('ing')?.publisher?.session, publisher, 'the same publisher session feeds ing');
  assert.equal(rx.corrupt, 0);
  assert.equal(rx.closed, false);
});

test('a listener push holds its port until it is deleted; then a stream source can listen there at once', async (t) => {
  const { relay, base, port } = await startApiRelay(t);
  const pushPort = await freeUdpPort();
  const created = await call(base, 'POST', '/api/v1/pushes', { stream: 'cam', target: `srt://127.0.0.1:${pushPort}?mode=listener` });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const refused = await call(base, 'PUT', '/api/v1/streams/in', { source: `srt://:${pushPort}` });
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.match(refused.body.error.message, new RegExp(`port ${pushPort} is used by listener push ${created.body.id} of stream 'cam', which listens on 127.0.0.1`));
  assert.equal((await call(base, 'DELETE', `/api/v1/pushes/${created.body.id}`)).status, 204);
  const put = await call(base, 'PUT', '/api/v1/streams/in', { source: `srt://127.0.0.1:${pushPort}?mode=listener&latency=200` });
  assert.equal(put.status, 201, JSON.stringify(put.body));
  const pub = pacedPublisher(await connectFor(t, pushPort), { pps: 500, tag: 6 });
  t.after(() => pub.stop());
  await waitLive(relay, 'in');
  await assertViewerGets(t, port, 'read:in', 6);
});

test('a rendezvous push or source holds its local port: one on the main port is 409, and two on one port are refused', async (t) => {
  const { base, port } = await startApiRelay(t);
  const peer = await freeUdpPort();
  const onMain = await call(base, 'POST', '/api/v1/pushes', { stream: 'cam', target: `srt://127.0.0.1:${peer}?mode=rendezvous&port=${port}` });
  assert.equal(onMain.status, 409, JSON.stringify(onMain.body));
  assert.match(onMain.body.error.message, new RegExp(`port ${port} is used by the main SRT listener`));
  const local = await freeUdpPort();
  const first = await call(base, 'POST', '/api/v1/pushes', { stream: 'cam', target: `srt://127.0.0.1:${peer}?mode=rendezvous&port=${local}` });
  assert.equal(first.status, 201, JSON.stringify(first.body));
  const second = await call(base, 'PUT', '/api/v1/streams/in', { source: `srt://127.0.0.1:${peer + 1}?mode=rendezvous&port=${local}` });
  assert.equal(second.status, 409, JSON.stringify(second.body));
  assert.match(second.body.error.message, new RegExp(`port ${local} is used by rendezvous push ${first.body.id} of stream 'cam'`));
  assert.deepEqual((await call(base, 'GET', '/api/v1/pushes')).body.pushes.map((p: { id: number }) => p.id), [first.body.id]);
});

test('the internal cluster listener and the SRTLA receiver claim their ports like every other listener', async (t) => {
  const { relay, base, port } = await startApiRelay(t);
  const passphrase = 'internal-passphrase-0123456789';
  assert.throws(
    () => relay.listenInternal('127.0.0.1', port, passphrase),
    (e: unknown) => isSrtRelayError(e, 'ERR_PORT_IN_USE') && new RegExp(`port ${port} is used by the main SRT listener`).test(e.message),
  );
  const internalPort = await freeUdpPort();
  relay.listenInternal('127.0.0.1', internalPort, passphrase);
  const push = await call(base, 'POST', '/api/v1/pushes', { stream: 'cam', target: `srt://:${internalPort}` });
  assert.equal(push.status, 409, JSON.stringify(push.body));
  assert.match(push.body.error.message, new RegExp(`port ${internalPort} is used by the internal cluster listener`));

  const onMain = new SrtlaServer({ port, host: '127.0.0.1', target: { host: '127.0.0.1', port }, ports: relay.ports });
  await assert.rejects(onMain.start(), (e: unknown) => isSrtRelayError(e, 'ERR_PORT_IN_USE') && /the main SRT listener/.test(e.message));
  const srtlaPort = await freeUdpPort();
  const srtla = new SrtlaServer({ port: srtlaPort, host: '127.0.0.1', target: { host: '127.0.0.1', port }, ports: relay.ports });
  t.after(() => srtla.close());
  await srtla.start();
  const source = await call(base, 'PUT', '/api/v1/streams/in', { source: `srt://127.0.0.1:${srtlaPort}?mode=listener` });
  assert.equal(source.status, 409, JSON.stringify(source.body));
  assert.equal(source.body.error.code, 'ERR_PORT_IN_USE');
  assert.match(source.body.error.message, new RegExp(`port ${srtlaPort} is used by the SRTLA receiver`));
  srtla.close();
  assert.equal(relay.ports.holderOf('127.0.0.1', srtlaPort), undefined, 'closing the receiver gives its port back');
});

test('in a cluster, a push onto the SRT or internal port of the node (or a stream source onto a port in use) is 409 ERR_PORT_IN_USE and is not shared', { timeout: 60_000 }, async (t) => {
  const redis = await RedisServer.start({ t });
  const node = await ClusterNode.start(t, 'ports-a', redis.url(), ['--log-level', 'warn']);
  for (const [port, holder] of [[node.srtPort, 'the main SRT listener'], [node.internalPort, 'the internal cluster listener']] as const) {
    const r = await node.send('POST', '/api/v1/pushes', { stream: 'cam', target: `srt://:${port}` });
    assert.equal(r.status, 409, JSON.stringify(r.json));
    const body = r.json as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'ERR_PORT_IN_USE');
    assert.match(body.error.message, new RegExp(`port ${port} is used by ${holder}`));
  }
  assert.deepEqual(await node.get('/api/v1/pushes'), { pushes: [] }, 'nothing stored or applied');
  const free = await freeUdpPort();
  const ok = await node.send('POST', '/api/v1/pushes', { stream: 'cam', target: `srt://:${free}` });
  assert.equal(ok.status, 201, JSON.stringify(ok.json));
  const again = await node.send('POST', '/api/v1/pushes', { stream: 'cam', target: `srt://:${free}` });
  assert.equal(again.status, 200, `the same push again is an update, not a port conflict: ${JSON.stringify(again.json)}`);

  const onPush = await node.send('PUT', '/api/v1/streams/in', { source: `srt://:${free}` });
  assert.equal(onPush.status, 409, JSON.stringify(onPush.json));
  assert.match((onPush.json as { error: { message: string } }).error.message, new RegExp(`port ${free} is used by listener push`));
  assert.equal((await node.send('PUT', '/api/v1/streams/other', { source: `srt://127.0.0.1:${node.srtPort}?mode=listener` })).status, 409);
  const inPort = await freeUdpPort();
  assert.equal((await node.send('PUT', '/api/v1/streams/in', { source: `srt://:${inPort}` })).status, 201);
  const update = await node.send('PUT', '/api/v1/streams/in', { source: `srt://:${inPort}`, alwaysOn: true });
  assert.equal(update.status, 200, `changing the stream keeps its own port: ${JSON.stringify(update.json)}`);
  assert.deepEqual((await node.get<{ streams: { name: string }[] }>('/api/v1/streams')).streams.map((x) => x.name), ['in'], 'no refused stream was shared');
});

test('a second srt-relay on the port a node holds exits 1 naming the port and the first pid; the first still serves', { timeout: 60_000 }, async (t) => {
  const first = await startRelayProcess(t, { logLevel: 'warn' });
  const apiPort = await freeTcpPort();
  const second = spawnFor(t, process.execPath, [RELAY_BIN, '--srt-port', String(first.srtPort), '--api-port', String(apiPort), '--workers', '2', '--log-level', 'warn'], { name: 'second srt-relay' });
  const exit = await second.waitExit(10_000);
  assert.equal(exit.code, 1, `exit code (output: ${second.output()})`);
  assert.match(second.stderr(), new RegExp(`ERR_PORT_IN_USE: UDP port ${first.srtPort} is used by another process \\(pid ${first.proc.pid}, srt-relay\\)`));

  const pub = pacedPublisher(await connectFor(t, first.srtPort, 'publish:cam'), { pps: 500, tag: 5 });
  t.after(() => pub.stop());
  await waitFor(async () => (await first.api<{ streams: { name: string; live?: boolean; publisher?: unknown }[] }>('/api/v1/streams')).body.streams.some((s) => s.name === 'cam'), 'cam listed on the first node');
  for (let i = 0; i < 3; i++) await assertViewerGets(t, first.srtPort, 'read:cam', 5);
  assert.equal(first.proc.exit, undefined, 'the first node still runs');
});
