/**
 * The HTTP API against a real Relay: health, stream CRUD and validation, bearer-token auth,
 * pushes, sessions with a live SRT publisher (stats, kick) and the Prometheus exposition.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { SrtRejectedError } from '../src/errors.js';
import { ApiServer } from '../src/api/http-server.js';
import { silentLogger } from '../src/logging.js';
import { SrtSocket } from '../src/srt/socket.js';
import { Relay } from '../src/supervisor/relay.js';
import { freeUdpPort } from './helpers/free-port.js';
import { startWebhook } from './helpers/webhook.js';
import { delay, sendFile, withTimeout } from './helpers/srt-io.js';

interface Harness {
  relay: Relay;
  api: ApiServer;
  base: string;
  srtPort: number;
}

async function startRelay(t: TestContext, opts: { token?: string; protectReads?: boolean } = {}): Promise<Harness> {
  const srtPort = await freeUdpPort();
  const relay = new Relay({
    nodeId: 'api-test',
    workers: 1,
    ports: [{ port: srtPort, host: '127.0.0.1', direction: 'both', params: {}, reusePort: 1 }],
    streams: {},
    pushes: [],
    limits: {},
    ringSlots: 1024,
  });
  const api = new ApiServer(relay, {
    host: '127.0.0.1',
    port: 0,
    logger: silentLogger(),
    ...(opts.token !== undefined ? { token: opts.token } : {}),
    ...(opts.protectReads !== undefined ? { protectReads: opts.protectReads } : {}),
  });
  t.after(async () => {
    await api.close();
    await relay.stop();
  });
  await relay.start();
  const addr = await api.listen();
  assert.ok(addr.port > 0, 'listen() reports the real port');
  return { relay, api, base: `http://127.0.0.1:${addr.port}`, srtPort };
}

interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

async function call(
  base: string,
  method: string,
  path: string,
  opts: { json?: unknown; raw?: string; token?: string; contentType?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (opts.json !== undefined) body = JSON.stringify(opts.json);
  if (opts.raw !== undefined) body = opts.raw;
  if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  if (opts.token !== undefined) headers['authorization'] = `Bearer ${opts.token}`;
  const res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, headers: res.headers, body: type.includes('json') && text !== '' ? JSON.parse(text) : text };
}

function assertError(r: Reply, status: number, code: string): void {
  assert.equal(r.status, status, `status (body: ${JSON.stringify(r.body)})`);
  assert.equal(r.body?.error?.code, code, `error code (body: ${JSON.stringify(r.body)})`);
  assert.equal(typeof r.body.error.message, 'string');
}

/** Checks the text is Prometheus exposition format 0.0.4; returns sample lines by metric name. */
function parsePrometheus(text: string): Map<string, Array<{ labels: Record<string, string>; value: number }>> {
  const types = new Map<string, string>();
  const samples = new Map<string, Array<{ labels: Record<string, string>; value: number }>>();
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const sampleRe = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: -?[0-9]+)?$`);
  const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME})(?: (.*))?$`).exec(line);
      assert.ok(m !== null, `bad comment line: ${line}`);
      if (m[1] === 'TYPE') {
        assert.match(m[3] ?? '', /^(counter|gauge|histogram|summary|untyped)$/, line);
        types.set(m[2]!, m[3]!);
      }
      continue;
    }
    const m = sampleRe.exec(line);
    assert.ok(m !== null, `bad sample line: ${line}`);
    const value = Number(m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : m[3]);
    // NaN in any case: Prometheus parses values with Go's ParseFloat, and prom-client writes the
    // event-loop lag of a monitor with no samples yet as "Nan".
    assert.ok(!Number.isNaN(value) || m[3]!.toLowerCase() === 'nan', `bad value: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2] !== undefined && m[2] !== '') {
      labelRe.lastIndex = 0;
      let consumed = 0;
      let lm: RegExpExecArray | null;
      while ((lm = labelRe.exec(m[2])) !== null) {
        labels[lm[1]!] = lm[2]!;
        consumed = labelRe.lastIndex;
      }
      assert.equal(consumed, m[2].length, `bad labels: ${line}`);
    }
    const name = m[1]!;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count|created|total)$/, '');
    assert.ok(types.has(family) || types.has(name), `sample without # TYPE: ${line}`);
    const list = samples.get(name) ?? [];
    list.push({ labels, value });
    samples.set(name, list);
  }
  return samples;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}

test('healthz, stream CRUD, routing errors', async (t) => {
  const { base } = await startRelay(t);

  const h = await call(base, 'GET', '/healthz');
  assert.equal(h.status, 200);
  assert.equal(h.body.status, 'ok');
  assert.equal(h.body.nodeId, 'api-test');
  assert.equal(typeof h.body.uptimeS, 'number');

  const created = await call(base, 'PUT', '/api/v1/streams/news', { json: { source: 'push://' } });
  assert.equal(created.status, 201);
  assert.deepEqual(created.body, {
    name: 'news',
    state: 'idle',
    source: 'push://',
    configured: true,
    publisher: null,
    viewers: 0,
    bytesIn: 0,
    bytesOut: 0,
    media: null,
    sources: { switches: 0, sources: [{ source: 'push://', kind: 'push', state: 'idle', attempts: 0 }] },
    window: { slots: 0, bytes: 0, oldestMs: null },
  });

  const got = await call(base, 'GET', '/api/v1/streams/news');
  assert.equal(got.status, 200);
  assert.equal(got.body.name, 'news');
  assert.equal(got.body.state, 'idle');

  const again = await call(base, 'PUT', '/api/v1/streams/news', {
    json: { source: 'push://', passphrase: { publish: 'publisher-secret-1' }, onPublisherConflict: 'replace' },
  });
  assert.equal(again.status, 200);
  assert.ok(!JSON.stringify(again.body).includes('publisher-secret-1'), 'passphrases are never returned');

  // A name with an inner slash travels as one percent-encoded segment.
  const nested = await call(base, 'PUT', '/api/v1/streams/live%2Fcam1', { json: { source: 'push://' } });
  assert.equal(nested.status, 201);
  assert.equal(nested.body.name, 'live/cam1');

  const list = await call(base, 'GET', '/api/v1/streams');
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.streams.map((s: { name: string }) => s.name).sort(), ['live/cam1', 'news']);

  assert.equal((await call(base, 'DELETE', '/api/v1/streams/news')).status, 204);
  assertError(await call(base, 'GET', '/api/v1/streams/news'), 404, 'ERR_API_NOT_FOUND');
  assertError(await call(base, 'DELETE', '/api/v1/streams/news'), 404, 'ERR_API_NOT_FOUND');
  assert.equal((await call(base, 'DELETE', '/api/v1/streams/live%2Fcam1')).status, 204);

  assertError(await call(base, 'GET', '/api/v1/nothing'), 404, 'ERR_API_NOT_FOUND');
  assertError(await call(base, 'GET', '/api/v1/streams/a/b'), 404, 'ERR_API_NOT_FOUND');
  const wrong = await call(base, 'POST', '/api/v1/streams', { json: {} });
  assertError(wrong, 405, 'ERR_API_METHOD_NOT_ALLOWED');
  assert.match(wrong.headers.get('allow') ?? '', /GET/);
});

test('bad bodies are 400 with a typed code', async (t) => {
  const { base, relay } = await startRelay(t);
  const put = (json: unknown): Promise<Reply> => call(base, 'PUT', '/api/v1/streams/cam', { json });

  assertError(await put({ source: 'srt://127.0.0.1:notaport' }), 400, 'ERR_SRT_URL_INVALID');
  assertError(await put({ source: 'srt://127.0.0.1:9000?latncy=200' }), 400, 'ERR_SRT_OPTION_UNKNOWN');
  assertError(await put({ source: 'http://example.com/' }), 400, 'ERR_API_BAD_REQUEST');
  assertError(await put({}), 400, 'ERR_API_BAD_REQUEST');
  const short = await put({ source: 'push://', passphrase: { play: 'short' } });
  assertError(short, 400, 'ERR_SRT_OPTION_INVALID');
  assert.match(short.body.error.message, /10 to 79/);
  assert.ok(!JSON.stringify(short.body).includes('short"'), 'the passphrase is not echoed');
  assertError(await put({ source: 'push://', onPublisherConflict: 'maybe' }), 400, 'ERR_API_BAD_REQUEST');
  assertError(await put({ source: 'push://', extra: 1 }), 400, 'ERR_API_BAD_REQUEST');
  assertError(await put(['push://']), 400, 'ERR_API_BAD_REQUEST');
  assertError(await call(base, 'PUT', '/api/v1/streams/cam', { raw: '{"source": "push://"' }), 400, 'ERR_API_BAD_REQUEST');
  const garbled = await call(base, 'PUT', '/api/v1/streams/cam', { raw: 'passphrase=very-secret-words' });
  assertError(garbled, 400, 'ERR_API_BAD_REQUEST');
  assert.ok(!garbled.body.error.message.includes('very-secret'), 'bad JSON is not quoted back');
  assertError(await call(base, 'PUT', '/api/v1/streams/cam'), 400, 'ERR_API_BAD_REQUEST');
  assertError(
    await call(base, 'PUT', '/api/v1/streams/cam', { raw: 'source=push://', contentType: 'application/x-www-form-urlencoded' }),
    415,
    'ERR_API_UNSUPPORTED_MEDIA_TYPE',
  );
  assertError(
    await call(base, 'PUT', '/api/v1/streams/cam', { raw: JSON.stringify({ source: 'push://', pad: 'x'.repeat(70_000) }) }),
    413,
    'ERR_API_PAYLOAD_TOO_LARGE',
  );
  assertError(await call(base, 'PUT', '/api/v1/streams/bad%20name', { json: { source: 'push://' } }), 400, 'ERR_API_BAD_REQUEST');
  assertError(await call(base, 'PUT', '/api/v1/streams/a%2F%2Fb', { json: { source: 'push://' } }), 400, 'ERR_API_BAD_REQUEST');
  assertError(await call(base, 'PUT', '/api/v1/streams/%E0%A4%A', { json: { source: 'push://' } }), 400, 'ERR_API_BAD_REQUEST');
  assert.equal(relay.listStreams().length, 0, 'no rejected request created a stream');
});

test('a listener on a taken port is 409 and leaves no stream or push behind', async (t) => {
  const { base } = await startRelay(t);
  const holder = createSocket('udp4');
  await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', resolve));
  t.after(() => holder.close());
  const busy = holder.address().port;

  const s = await call(base, 'PUT', '/api/v1/streams/in', { json: { source: `srt://127.0.0.1:${busy}?mode=listener` } });
  assertError(s, 409, 'ERR_PORT_IN_USE');
  assert.match(s.body.error.message, new RegExp(`UDP port ${busy} is used by another socket of this process \\(pid ${process.pid}\\)`));
  assertError(await call(base, 'GET', '/api/v1/streams/in'), 404, 'ERR_API_NOT_FOUND');

  const p = await call(base, 'POST', '/api/v1/pushes', { json: { stream: 'in', target: `srt://127.0.0.1:${busy}?mode=listener` } });
  assertError(p, 409, 'ERR_PORT_IN_USE');
  assert.deepEqual((await call(base, 'GET', '/api/v1/pushes')).body, { pushes: [] });
});

test('a token guards PUT/POST/DELETE; GETs stay open', async (t) => {
  const token = 's3cret-token';
  const { base } = await startRelay(t, { token });

  const anon = await call(base, 'PUT', '/api/v1/streams/cam', { json: { source: 'push://' } });
  assertError(anon, 401, 'ERR_API_UNAUTHORIZED');
  assert.equal(anon.headers.get('www-authenticate'), 'Bearer');
  assertError(await call(base, 'PUT', '/api/v1/streams/cam', { json: { source: 'push://' }, token: 'wrong' }), 401, 'ERR_API_UNAUTHORIZED');
  assertError(await call(base, 'PUT', '/api/v1/streams/cam', { json: { source: 'push://' }, token: `${token}x` }), 401, 'ERR_API_UNAUTHORIZED');
  assert.equal((await call(base, 'PUT', '/api/v1/streams/cam', { json: { source: 'push://' }, token })).status, 201);

  assert.equal((await call(base, 'GET', '/api/v1/streams/cam')).status, 200);
  assert.equal((await call(base, 'GET', '/api/v1/streams')).status, 200);
  assert.equal((await call(base, 'GET', '/healthz')).status, 200);

  assertError(await call(base, 'DELETE', '/api/v1/streams/cam'), 401, 'ERR_API_UNAUTHORIZED');
  assertError(await call(base, 'POST', '/api/v1/pushes', { json: { stream: 'cam', target: 'srt://127.0.0.1:9' } }), 401, 'ERR_API_UNAUTHORIZED');
  assert.equal((await call(base, 'DELETE', '/api/v1/streams/cam', { token })).status, 204);
});

test('auth webhook settings: read, set at runtime (decides the next publish), turned off; bad bodies change nothing', async (t) => {
  const { base, srtPort } = await startRelay(t, { token: 'sekret-token' });
  const deny = await startWebhook(() => ({ status: 200, body: { allow: false } }));
  t.after(() => deny.server.close());
  const hook = deny.url;
  const defaults = { webhook: null, timeoutMs: 2000, cacheMs: 5000, hold: true };
  assert.deepEqual((await call(base, 'GET', '/api/v1/auth')).body, defaults);
  assertError(await call(base, 'PUT', '/api/v1/auth', { json: { webhook: hook } }), 401, 'ERR_API_UNAUTHORIZED');
  for (const bad of [{ webhook: 'ftp://example.com/x' }, { webhook: 5 }, { timeoutMs: -1 }, { cacheMs: 'soon' }, { hold: 'yes' }, { hook }, []]) {
    const r = await call(base, 'PUT', '/api/v1/auth', { json: bad, token: 'sekret-token' });
    assert.equal(r.status, 400, `${JSON.stringify(bad)} → ${JSON.stringify(r.body)}`);
  }
  assert.deepEqual((await call(base, 'GET', '/api/v1/auth')).body, defaults, 'bad bodies changed nothing');

  // hold: false, the retry protocol (held admission has its own tests: webhook-held-admission.test.ts).
  const set = await call(base, 'PUT', '/api/v1/auth', { json: { webhook: hook, timeoutMs: 1000, hold: false }, token: 'sekret-token' });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.deepEqual(set.body, { webhook: hook, timeoutMs: 1000, cacheMs: 5000, hold: false });
  // The webhook decides now: the first handshake waits for it (1503), a retry once it answered is denied (1403).
  const reasons: number[] = [];
  for (let i = 0; i < 30 && reasons.at(-1) !== 1403; i++) {
    const s = SrtSocket.create({ streamid: 'publish:guarded', latency: 120 });
    try {
      await s.connect('127.0.0.1', srtPort);
      reasons.push(0);
    } catch (e) {
      reasons.push(e instanceof SrtRejectedError ? e.reason : -1);
    } finally {
      s.close();
    }
    await delay(300);
  }
  assert.equal(reasons[0], 1503, `first handshake: ${reasons.join(', ')}`);
  assert.equal(reasons.at(-1), 1403, `retries: ${reasons.join(', ')}`);
  assert.ok(reasons.slice(1, -1).every((r) => r === 1503), `only 1503 while the webhook is asked: ${reasons.join(', ')}`);

  const off = await call(base, 'PUT', '/api/v1/auth', { json: { webhook: null }, token: 'sekret-token' });
  assert.deepEqual(off.body, defaults);
  const pub = SrtSocket.create({ streamid: 'publish:guarded', latency: 120 });
  t.after(() => pub.close());
  await pub.connect('127.0.0.1', srtPort);
});

test('with protectReads the token guards reads too (metrics included); /healthz stays open', async (t) => {
  const token = 'r3ad-guard-token';
  const { base } = await startRelay(t, { token, protectReads: true });
  for (const path of ['/api/v1/streams', '/api/v1/sessions', '/api/v1/pushes', '/api/v1/auth', '/api/v1/udp', '/api/v1/cluster', '/metrics', '/api/v1/streams/none']) {
    assertError(await call(base, 'GET', path), 401, 'ERR_API_UNAUTHORIZED');
    assertError(await call(base, 'GET', path, { token: 'wrong' }), 401, 'ERR_API_UNAUTHORIZED');
    const ok = await call(base, 'GET', path, { token });
    assert.ok(ok.status === 200 || (path.endsWith('/none') && ok.status === 404), `${path} with the token: ${ok.status}`);
  }
  assert.equal((await call(base, 'GET', '/healthz')).status, 200, 'health checks need no token');
  assertError(await call(base, 'PUT', '/api/v1/streams/cam', { json: { source: 'push://' } }), 401, 'ERR_API_UNAUTHORIZED');
});

test('pushes: validation, add, list, duplicate, delete', async (t) => {
  const { base } = await startRelay(t);

  const bad = await call(base, 'POST', '/api/v1/pushes', { json: { stream: 'cam', target: 'srt://127.0.0.1:9000?latncy=200' } });
  assertError(bad, 400, 'ERR_SRT_OPTION_UNKNOWN');
  assert.match(bad.body.error.message, /latency/);
  assertError(await call(base, 'POST', '/api/v1/pushes', { json: { stream: 'cam' } }), 400, 'ERR_API_BAD_REQUEST');
  assertError(await call(base, 'POST', '/api/v1/pushes', { json: { stream: 'cam', target: 'srt://h:1', auto: 'yes' } }), 400, 'ERR_API_BAD_REQUEST');

  const target = 'srt://127.0.0.1:9?passphrase=push-secret-123';
  const added = await call(base, 'POST', '/api/v1/pushes', { json: { stream: 'cam', target } });
  assert.equal(added.status, 201);
  assert.equal(added.body.stream, 'cam');
  assert.equal(added.body.state, 'waiting', 'a caller push waits for the stream to go live');
  assert.ok(!added.body.target.includes('push-secret-123'), 'the target is redacted');
  assert.equal(added.body.session, null);

  assertError(await call(base, 'POST', '/api/v1/pushes', { json: { stream: 'cam', target } }), 409, 'ERR_API_CONFLICT');

  const list = await call(base, 'GET', '/api/v1/pushes');
  assert.equal(list.status, 200);
  assert.equal(list.body.pushes.length, 1);
  assert.equal(list.body.pushes[0].id, added.body.id);

  assert.equal((await call(base, 'DELETE', `/api/v1/pushes/${added.body.id}`)).status, 204);
  assertError(await call(base, 'DELETE', `/api/v1/pushes/${added.body.id}`), 404, 'ERR_API_NOT_FOUND');
  assertError(await call(base, 'DELETE', '/api/v1/pushes/abc'), 404, 'ERR_API_NOT_FOUND');
  assert.deepEqual((await call(base, 'GET', '/api/v1/pushes')).body, { pushes: [] });
});

test('sessions: a live publisher shows up with stats, can be kicked; /metrics', async (t) => {
  const { base, srtPort } = await startRelay(t);

  const publisher = SrtSocket.create({ streamid: 'publish:cam' });
  t.after(() => publisher.close());
  await withTimeout(publisher.connect('127.0.0.1', srtPort), 5000, 'publisher connect');
  const packets = 300;
  const payload = Buffer.alloc(packets * 1316, 0x47);
  await sendFile(publisher, payload, { pps: 2000 });

  const session = await waitFor('publisher stats', async () => {
    const r = await call(base, 'GET', '/api/v1/sessions');
    assert.equal(r.status, 200);
    const s = r.body.sessions[0];
    // libsrt counts bytes on arrival; the worker reads packets only after the TSBPD latency.
    return s?.stats?.bytesReceived >= payload.byteLength && s.packets >= packets ? s : undefined;
  });
  const sessions = (await call(base, 'GET', '/api/v1/sessions')).body.sessions;
  assert.equal(sessions.length, 1);
  assert.equal(session.kind, 'publisher');
  assert.equal(session.stream, 'cam');
  assert.equal(session.streamid, 'publish:cam');
  assert.match(session.peer, /^127\.0\.0\.1:\d+$/);
  assert.ok(!Number.isNaN(Date.parse(session.since)));
  assert.equal(session.worker, 0);
  assert.ok(session.packets >= packets, `packets ${session.packets}`);
  for (const key of [
    'rttMs', 'bandwidthMbps', 'sendRateMbps', 'recvRateMbps', 'lossSent', 'lossReceived', 'retransmitted',
    'dropsSent', 'dropsReceived', 'bytesSent', 'bytesReceived', 'undecrypted', 'belated', 'sendBufferMs',
    'receiveBufferMs', 'flightSize', 'fecExtraSent', 'fecRecovered', 'fecUnrecovered',
  ]) {
    assert.equal(typeof session.stats[key], 'number', `stats.${key}`);
  }

  const stream = await call(base, 'GET', '/api/v1/streams/cam');
  assert.equal(stream.status, 200);
  assert.equal(stream.body.state, 'live');
  assert.equal(stream.body.configured, false);
  assert.equal(stream.body.publisher.session, session.id);
  assert.match(stream.body.publisher.address, /^127\.0\.0\.1:\d+$/);
  assert.equal(typeof stream.body.publisher.bitrateKbps, 'number');
  assert.ok(stream.body.bytesIn >= payload.byteLength, `bytesIn ${stream.body.bytesIn}`);

  const one = await call(base, 'GET', `/api/v1/sessions/${session.id}`);
  assert.equal(one.status, 200);
  assert.equal(one.body.id, session.id);

  const metrics = await fetch(`${base}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
  const samples = parsePrometheus(await metrics.text());
  const byKind = new Map(samples.get('srt_relay_sessions')!.map((s) => [s.labels['kind'], s.value]));
  assert.equal(byKind.get('publisher'), 1);
  assert.equal(byKind.get('viewer'), 0);
  assert.deepEqual(samples.get('srt_relay_stream_live'), [{ labels: { stream: 'cam' }, value: 1 }]);
  const received = samples.get('srt_relay_session_received_bytes_total')!;
  assert.equal(received.length, 1);
  assert.deepEqual(received[0]!.labels, { session: String(session.id), stream: 'cam', kind: 'publisher' });
  assert.ok(received[0]!.value >= payload.byteLength);
  assert.equal(samples.get('srt_relay_session_packets_lost_total')!.length, 2);
  assert.ok(samples.has('srt_relay_session_rtt_seconds'));
  assert.ok(samples.has('process_cpu_user_seconds_total'), 'default process metrics');

  // A viewer: counted on the stream, its sent bytes summed into bytesOut.
  const viewer = SrtSocket.create({ streamid: 'read:cam' });
  t.after(() => viewer.close());
  await withTimeout(viewer.connect('127.0.0.1', srtPort), 5000, 'viewer connect');
  const viewing = await waitFor('viewer bytes', async () => {
    await sendFile(publisher, Buffer.alloc(20 * 1316, 0x47), { pps: 2000 });
    const r = await call(base, 'GET', '/api/v1/streams/cam');
    return r.body.viewers === 1 && r.body.bytesOut > 0 ? r.body : undefined;
  });
  assert.equal(viewing.state, 'live');
  const kinds = (await call(base, 'GET', '/api/v1/sessions')).body.sessions.map((s: { kind: string }) => s.kind).sort();
  assert.deepEqual(kinds, ['publisher', 'viewer']);
  const withViewer = parsePrometheus(await (await fetch(`${base}/metrics`)).text());
  assert.deepEqual(withViewer.get('srt_relay_stream_viewers'), [{ labels: { stream: 'cam' }, value: 1 }]);

  assertError(await call(base, 'DELETE', '/api/v1/sessions/9999'), 404, 'ERR_API_NOT_FOUND');
  assert.equal((await call(base, 'DELETE', `/api/v1/sessions/${session.id}`)).status, 204);
  await waitFor('the publisher session to end', async () => {
    const r = await call(base, 'GET', '/api/v1/sessions');
    return r.body.sessions.every((s: { kind: string }) => s.kind !== 'publisher') ? true : undefined;
  });
  const idle = await call(base, 'GET', '/api/v1/streams/cam');
  assert.equal(idle.body.state, 'idle', 'the viewer keeps the stream, now idle');
  assert.equal(idle.body.publisher, null);

  const viewerId = (await call(base, 'GET', '/api/v1/sessions')).body.sessions[0].id;
  assert.equal((await call(base, 'DELETE', `/api/v1/sessions/${viewerId}`)).status, 204);
  await waitFor('every session to end', async () => {
    const r = await call(base, 'GET', '/api/v1/sessions');
    return r.body.sessions.length === 0 ? true : undefined;
  });
  // The stream was made by the publish (no config): it goes away with its last session.
  assertError(await call(base, 'GET', '/api/v1/streams/cam'), 404, 'ERR_API_NOT_FOUND');
  const after = parsePrometheus(await (await fetch(`${base}/metrics`)).text());
  assert.equal(new Map(after.get('srt_relay_sessions')!.map((s) => [s.labels['kind'], s.value])).get('publisher'), 0);
  assert.equal(after.get('srt_relay_session_rtt_seconds'), undefined, 'per-session series vanish with the session');
});

test('close() ends idle keep-alive connections and is idempotent', async (t) => {
  const { api, base } = await startRelay(t);
  assert.equal((await call(base, 'GET', '/healthz')).status, 200); // leaves a keep-alive connection
  await withTimeout(api.close(), 2000, 'api.close');
  await api.close();
  await assert.rejects(fetch(`${base}/healthz`));
});
