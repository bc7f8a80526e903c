/**
 * docs/openapi.yaml describes what the server answers (issue 14). A real relay (ffmpeg publishing
 * a live test pattern, srt-live-transmit playing it, a push to an srt-live-transmit listener (edited to another), a
 * stream with two sources, the SRTLA receiver on) is called on every operation of the spec; each
 * answer's status must be one the operation documents and its body must validate against the
 * schema the spec gives for that status (ajv, JSON Schema 2020-12, with schema/config.schema.json
 * for the refs into it). Every operation must have been answered with a 2xx at least once, and
 * every route the server serves must be in the spec.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testTempDir } from './helpers/ts-fixture.js';
import { ApiServer } from '../src/api/http-server.js';
import { openApi, pointer, specValidator } from '../src/api/openapi.js';
import { silentLogger } from '../src/logging.js';
import { Relay } from '../src/supervisor/relay.js';
import { freeUdpPort, freeUdpPorts } from './helpers/free-port.js';
import { ffmpegLiveEncoder, srtUrl } from './helpers/media.js';
import { relayOptions, serveApi, waitFor } from './helpers/relay-harness.js';
import { ffmpegHasEncoder, unmet } from './helpers/requirements.js';
import { SLT, startSlt } from './helpers/slt.js';
import { spawnSync } from 'node:child_process';

const skip = unmet(
  spawnSync(SLT, ['-version'], { encoding: 'utf8' }).error !== undefined
    ? `${SLT} not found (Debian package srt-tools)`
    : !ffmpegHasEncoder('libx264')
      ? 'ffmpeg with libx264 not found (Debian package ffmpeg)'
      : undefined,
);

type Doc = ReturnType<typeof openApi>['doc'];
type Json = Record<string, unknown>;

/** `/api/v1/streams/:name` → `/api/v1/streams/{name}`. */
function specPath(route: string): string {
  return route.replace(/:([A-Za-z]+)/g, '{$1}');
}

/** The response object of an operation for a status, `$ref`s to components/responses followed; with the pointer of its JSON schema. */
function responseOf(doc: Doc, path: string, method: string, status: number): { content?: Json; schemaPtr?: (type: string) => string } | undefined {
  const op = doc.paths[path]?.[method] as { responses?: Record<string, Json> } | undefined;
  assert.ok(op !== undefined, `docs/openapi.yaml has no ${method.toUpperCase()} ${path}`);
  let resp = op.responses?.[String(status)];
  if (resp === undefined) return undefined;
  let base = ['paths', path, method, 'responses', String(status)];
  const ref = resp['$ref'];
  if (typeof ref === 'string') {
    const name = ref.replace('#/components/responses/', '');
    resp = doc.components['responses']?.[name] as Json;
    base = ['components', 'responses', name];
  }
  const content = resp['content'] as Json | undefined;
  return { ...(content !== undefined ? { content } : {}), schemaPtr: (type) => pointer(...base, 'content', type, 'schema') };
}

class SpecClient {
  /** `METHOD path` → statuses seen. */
  readonly seen = new Map<string, Set<number>>();
  constructor(
    readonly base: string,
    readonly doc: Doc,
  ) {}

  /** Calls `method concrete` (an instance of the spec's `path`), checks the answer against the spec; returns the JSON body. */
  async call(method: string, path: string, concrete: string, body?: unknown): Promise<{ status: number; json: any }> {
    const init: RequestInit = { method, redirect: 'manual' };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'content-type': 'application/json' };
    }
    const res = await fetch(`${this.base}${concrete}`, init);
    const what = `${method} ${concrete} → ${res.status}`;
    const m = method.toLowerCase();
    const resp = responseOf(this.doc, path, m, res.status);
    const text = await res.text();
    assert.ok(resp !== undefined, `${what}: status not documented in docs/openapi.yaml (${path} ${m}); body ${text.slice(0, 300)}`);
    const key = `${method} ${path}`;
    if (!this.seen.has(key)) this.seen.set(key, new Set());
    this.seen.get(key)!.add(res.status);
    if (resp.content === undefined) {
      assert.equal(text, '', `${what}: the spec documents no body`);
      return { status: res.status, json: undefined };
    }
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    assert.ok(type in resp.content, `${what}: content-type ${type} is not among ${Object.keys(resp.content).join(', ')}`);
    if (type !== 'application/json') return { status: res.status, json: text };
    const json: unknown = JSON.parse(text);
    const validate = specValidator(resp.schemaPtr!(type));
    assert.ok(validate(json), `${what}: the body does not match docs/openapi.yaml:\n${JSON.stringify(validate.errors, null, 1).slice(0, 3000)}\nbody: ${text.slice(0, 2000)}`);
    return { status: res.status, json };
  }

  /** The live preview: reads until some MPEG-TS arrived, then aborts. */
  async preview(concrete: string): Promise<Buffer> {
    const ac = new AbortController();
    const res = await fetch(`${this.base}${concrete}`, { signal: ac.signal });
    const path = '/api/v1/streams/{name}/ts';
    const resp = responseOf(this.doc, path, 'get', res.status);
    assert.ok(resp?.content !== undefined && 'video/mp2t' in resp.content && res.status === 200, `preview ${res.status}`);
    assert.equal(res.headers.get('content-type'), 'video/mp2t');
    this.seen.set(`GET ${path}`, new Set([...(this.seen.get(`GET ${path}`) ?? []), 200]));
    const reader = res.body!.getReader();
    const chunks: Buffer[] = [];
    let n = 0;
    while (n < 188 * 7) {
      const r = await reader.read();
      if (r.done) break;
      chunks.push(Buffer.from(r.value));
      n += r.value.byteLength;
    }
    ac.abort();
    return Buffer.concat(chunks);
  }
}

test('every endpoint of docs/openapi.yaml answers a live relay (publisher, viewer, push, sources, SRTLA) with bodies its schemas accept', { skip, timeout: 120_000 }, async (t) => {
  const { doc } = openApi();
  const port = await freeUdpPort();
  const [firstPushPort, sourcePort, pushPort] = await freeUdpPorts(3);
  const recordingsRoot = mkdtempSync(join(testTempDir(), 'openapi-rec-'));
  const opts = relayOptions(port, { srtla: { port: 0, host: '127.0.0.1', target: { host: '127.0.0.1', port } }, recordingsRoot }, {});
  const relay = new Relay(opts);
  const base = await serveApi(t, relay, { srtPorts: opts.ports });
  const api = new SpecClient(base, doc);

  // Every route the server has is in the spec.
  const routes = new ApiServer(relay, { host: '127.0.0.1', port: 0, logger: silentLogger() });
  const served = routes.routePaths.map(specPath);
  await routes.close();
  for (const p of served) assert.ok(p in doc.paths, `the server serves ${p}, docs/openapi.yaml does not list it`);

  // A live publisher (ffmpeg), a viewer (srt-live-transmit), a push to an srt-live-transmit listener.
  const ffmpeg = ffmpegLiveEncoder(t, srtUrl(port, 'publish:cam'), { size: '320x180' });
  await waitFor(() => relay.getStream('cam')?.publisher !== undefined || ffmpeg.exit !== undefined, 'ffmpeg publishing cam', 20_000);
  assert.equal(ffmpeg.exit, undefined, `ffmpeg exited: ${ffmpeg.output()}`);
  const viewerSlt = startSlt(t, `srt://127.0.0.1:${port}?streamid=read:cam`, 'file://con');
  startSlt(t, `srt://127.0.0.1:${firstPushPort}?mode=listener`, 'file://con');
  startSlt(t, `srt://127.0.0.1:${pushPort}?mode=listener`, 'file://con');
  await waitFor(() => (relay.getStream('cam')?.viewers.size ?? 0) >= 1 || viewerSlt.exit !== undefined, 'the srt-live-transmit viewer');
  assert.equal(viewerSlt.exit, undefined, viewerSlt.output());

  await api.call('GET', '/healthz', '/healthz');
  await api.call('GET', '/metrics', '/metrics');
  await api.call('GET', '/api/v1/udp', '/api/v1/udp');
  await api.call('GET', '/api/v1/cluster', '/api/v1/cluster');
  const srtla = await api.call('GET', '/api/v1/srtla', '/api/v1/srtla');
  assert.equal(srtla.json.enabled, true);

  // Auth settings: read, set, refused, reset.
  await api.call('GET', '/api/v1/auth', '/api/v1/auth');
  assert.equal((await api.call('PUT', '/api/v1/auth', '/api/v1/auth', { timeoutMs: 1500 })).json.timeoutMs, 1500);
  assert.equal((await api.call('PUT', '/api/v1/auth', '/api/v1/auth', { timeoutMs: -1 })).status, 400);
  await api.call('PUT', '/api/v1/auth', '/api/v1/auth', {});

  // Pushes.
  const pushes = '/api/v1/pushes';
  const added = await api.call('POST', pushes, pushes, { stream: 'cam', target: `srt://127.0.0.1:${firstPushPort}` });
  assert.equal(added.status, 201, JSON.stringify(added.json));
  assert.equal((await api.call('POST', pushes, pushes, { stream: 'cam', target: `srt://127.0.0.1:${firstPushPort}` })).status, 409);
  assert.equal((await api.call('POST', pushes, pushes, { stream: 'cam' })).status, 400);
  const recording = await api.call('POST', pushes, pushes, { stream: 'cam', target: 'file://$stream/%H-%M-%S.ts?segmentSeconds=1' });
  assert.equal(recording.status, 201, JSON.stringify(recording.json));
  const pushPath = '/api/v1/pushes/{id}';
  const edited = await api.call('PUT', pushPath, `${pushes}/${added.json.id}`, { stream: 'cam', target: `srt://127.0.0.1:${pushPort}?latency=250`, auto: true });
  assert.equal(edited.status, 200, JSON.stringify(edited.json));
  assert.equal((await api.call('PUT', pushPath, `${pushes}/${added.json.id}`, { stream: 'cam', target: 'srt://127.0.0.1:1?latncy=1' })).status, 400);
  assert.equal((await api.call('PUT', pushPath, `${pushes}/999999`, { stream: 'cam', target: `srt://127.0.0.1:${pushPort}` })).status, 404);
  const active = await waitFor(async () => {
    const r = await api.call('GET', pushPath, `${pushes}/${added.json.id}`);
    return r.json.state === 'active' && r.json.session !== null ? r.json : undefined;
  }, 'the push active with a session', 15_000);

  // A stream with sources (one a caller to nothing: it retries and shows its error).
  const streamPath = '/api/v1/streams/{name}';
  const created = await api.call('PUT', streamPath, '/api/v1/streams/multi', { sources: ['push://', `srt://127.0.0.1:${sourcePort}?conntimeo=500`], alwaysOn: true });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  assert.equal((await api.call('PUT', streamPath, '/api/v1/streams/multi', { sources: ['push://', `srt://127.0.0.1:${sourcePort}?conntimeo=500`], alwaysOn: true })).status, 200);
  assert.equal((await api.call('PUT', streamPath, '/api/v1/streams/bad', { source: 'srt://h:9000?latncy=200' })).status, 400);
  const multi = await api.call('GET', streamPath, '/api/v1/streams/multi');
  assert.ok(multi.json.sources !== null && multi.json.sources.sources.length === 2, 'the stream shows its two sources');

  // The live stream with what the relay reads in its MPEG-TS, and the sessions with libsrt statistics.
  const cam = await waitFor(async () => {
    const r = await api.call('GET', streamPath, '/api/v1/streams/cam');
    return r.json.media !== null && r.json.media.programs.length > 0 && r.json.publisher?.bitrateKbps !== null ? r.json : undefined;
  }, 'cam with media info and a publisher bitrate', 15_000);
  assert.ok(cam.window.slots > 0);
  assert.equal(cam.sources, null, 'a stream its publisher created has no sources');
  await api.call('GET', '/api/v1/streams', '/api/v1/streams');
  const sessions = await waitFor(async () => {
    const r = await api.call('GET', '/api/v1/sessions', '/api/v1/sessions');
    const list = r.json.sessions as Array<{ kind: string; stats: unknown }>;
    return ['publisher', 'viewer', 'push'].every((k) => list.some((s) => s.kind === k && s.stats !== null)) ? list : undefined;
  }, 'publisher, viewer and push sessions with statistics', 15_000);
  const sessionPath = '/api/v1/sessions/{id}';
  const viewer = sessions.find((s) => s.kind === 'viewer') as unknown as { id: number };
  await api.call('GET', sessionPath, `/api/v1/sessions/${viewer.id}`);
  assert.equal((await api.call('GET', sessionPath, '/api/v1/sessions/999999')).status, 404);

  const ts = await api.preview('/api/v1/streams/cam/ts');
  assert.equal(ts[0], 0x47, 'the preview is MPEG-TS');
  assert.equal((await api.call('GET', streamPath, '/api/v1/streams/nothing')).status, 404);

  // Removals.
  assert.equal((await api.call('DELETE', sessionPath, `/api/v1/sessions/${viewer.id}`)).status, 204);
  assert.equal((await api.call('DELETE', sessionPath, '/api/v1/sessions/999999')).status, 404);
  assert.equal((await api.call('DELETE', pushPath, `${pushes}/${active.id}`)).status, 204);
  assert.equal((await api.call('DELETE', pushPath, `${pushes}/${active.id}`)).status, 404);
  assert.equal((await api.call('GET', pushPath, `${pushes}/${active.id}`)).status, 404);
  await api.call('GET', pushes, pushes);
  assert.equal((await api.call('DELETE', streamPath, '/api/v1/streams/multi')).status, 204);
  assert.equal((await api.call('DELETE', streamPath, '/api/v1/streams/multi')).status, 404);

  // The dashboard's API routes and static files (served on loopback without a token).
  await api.call('GET', '/api/v1/token', '/api/v1/token');
  await api.call('GET', '/api/v1/node', '/api/v1/node');
  await api.call('GET', '/api/v1/history', '/api/v1/history');
  await api.call('GET', '/api/v1/streams/{name}/history', '/api/v1/streams/cam/history?since=0');
  assert.equal((await api.call('GET', '/api/v1/streams/{name}/history', '/api/v1/streams/nothing/history')).status, 404);
  await api.call('GET', '/api/v1/cluster/nodes', '/api/v1/cluster/nodes');
  await api.call('GET', '/api/v1/recordings', '/api/v1/recordings');
  const segments = await waitFor(async () => {
    const r = await api.call('GET', '/api/v1/recordings', '/api/v1/recordings?stream=cam');
    return r.json.recordings.length > 0 ? (r.json.recordings as Array<{ path: string; bytes: number }>) : undefined;
  }, 'a finished recording segment of cam', 20_000);
  const file = '/api/v1/recordings/file';
  const got = await api.call('GET', file, `${file}?path=${encodeURIComponent(segments[0]!.path)}`);
  assert.equal(got.status, 200);
  assert.equal((await api.call('GET', file, `${file}?path=${encodeURIComponent('../x.ts')}`)).status, 400);
  assert.equal((await api.call('GET', file, file)).status, 400);
  assert.equal((await api.call('GET', file, `${file}?path=no-such.ts`)).status, 404);
  const link = await api.call('POST', '/api/v1/recordings/link', '/api/v1/recordings/link', { path: segments[0]!.path });
  assert.equal(link.status, 200);
  assert.equal((await api.call('GET', file, link.json.url as string)).status, 200);
  assert.equal((await api.call('POST', '/api/v1/recordings/link', '/api/v1/recordings/link', { path: 'no-such.ts' })).status, 404);
  assert.equal((await api.call('POST', '/api/v1/recordings/link', '/api/v1/recordings/link', {})).status, 400);
  assert.equal((await api.call('GET', '/', '/')).status, 302);
  assert.equal((await api.call('GET', '/ui', '/ui')).status, 302);
  assert.equal((await api.call('GET', '/ui/', '/ui/')).status, 200);
  assert.equal((await api.call('GET', '/ui/{file}', '/ui/app.js')).status, 200);
  assert.equal((await api.call('GET', '/ui/{file}', '/ui/no-such-file.js')).status, 404);

  // Every operation of the spec was answered, with a 2xx at least once (a redirect-only one: its 3xx).
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of Object.keys(item).filter((k) => ['get', 'put', 'post', 'delete', 'patch'].includes(k))) {
      const statuses = [...(api.seen.get(`${method.toUpperCase()} ${path}`) ?? [])];
      const responses = Object.keys((item[method] as { responses: Record<string, unknown> }).responses);
      const success = responses.some((r) => r.startsWith('2')) ? (s: number) => s >= 200 && s < 300 : (s: number) => s >= 300 && s < 400;
      assert.ok(statuses.some(success), `${method.toUpperCase()} ${path} was not answered with a success status (seen: ${statuses.join(', ') || 'none'})`);
    }
  }
});

test('the spec\'s schemas are closed: a StreamView without media, sources and window, or with a field the spec lacks, is refused', () => {
  const validate = specValidator(pointer('components', 'schemas', 'StreamView'));
  const view = { name: 'cam', state: 'idle', source: 'push://', configured: true, publisher: null, viewers: 0, bytesIn: 0, bytesOut: 0, media: null, sources: null, window: { slots: 8, bytes: 10528, oldestMs: null } };
  assert.ok(validate(view), JSON.stringify(validate.errors));
  const { media: _m, sources: _s, window: _w, ...old } = view;
  assert.equal(validate(old), false, 'the fields the spec once lacked are required');
  assert.equal(validate({ ...view, extra: 1 }), false, 'an undocumented field is refused');
});

test('docs/api.md\'s PUT example answer is a StreamView the spec accepts, and its curl lines use the default API port 4242 with $TOKEN in double quotes', () => {
  const md = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
  const curls = md.split('\n').filter((l) => /curl /.test(l));
  assert.ok(curls.length >= 2);
  for (const l of curls) {
    assert.doesNotMatch(l, /127\.0\.0\.1:(?!4242\b)\d+/, `curl on another port than 4242: ${l}`);
  }
  assert.doesNotMatch(md, /'[^'\n]*\$TOKEN[^'\n]*'/, '$TOKEN inside single quotes is not expanded by the shell');
  const block = /\$ curl -sX PUT [^\n]*\n(?:[^\n]*\n)*?(\{"name"[^\n]*\})\n/.exec(md);
  assert.ok(block !== null, 'the PUT example with its answer');
  const validate = specValidator(pointer('components', 'schemas', 'StreamView'));
  assert.ok(validate(JSON.parse(block[1]!)), JSON.stringify(validate.errors));
  const spec = openApi().doc as unknown as { servers: Array<{ url: string }>; info: { version: string } };
  assert.equal(spec.servers[0]!.url, 'http://127.0.0.1:4242', 'the spec\'s server is the default API address');
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(spec.info.version, pkg.version, 'info.version is the package version');
});

test('POST /api/v1/pushes and PUT /api/v1/auth refuse bodies by their schemas in docs/openapi.yaml: 400, typed code, one `<key path>: <what>` line per problem in details.problems, the allowed keys read from the spec', async (t) => {
  const { doc } = openApi();
  const port = await freeUdpPort();
  const base = await serveApi(t, new Relay(relayOptions(port)));
  const bodySchema = (path: string, method: string): { properties: Json } => {
    const op = doc.paths[path]![method] as { requestBody: { content: Record<string, { schema: Json }> } };
    let schema = op.requestBody.content['application/json']!.schema;
    const ref = schema['$ref'];
    if (typeof ref === 'string') schema = doc.components['schemas']![ref.replace('#/components/schemas/', '')] as Json;
    return schema as { properties: Json };
  };
  const cases: Array<{ path: string; method: string; url: string; body: unknown; code: string; paths: string[] }> = [
    { path: '/api/v1/pushes', method: 'post', url: '/api/v1/pushes', body: { stream: 'cam' }, code: 'ERR_API_BAD_REQUEST', paths: ['target'] },
    { path: '/api/v1/pushes', method: 'post', url: '/api/v1/pushes', body: { stream: 'a/../b', target: 'srt://h:1', auto: 'yes' }, code: 'ERR_API_BAD_REQUEST', paths: ['stream', 'auto'] },
    { path: '/api/v1/pushes', method: 'post', url: '/api/v1/pushes', body: { stream: 'cam', target: 'srt://h:1', tagret: 'x' }, code: 'ERR_API_BAD_REQUEST', paths: ['tagret'] },
    { path: '/api/v1/auth', method: 'put', url: '/api/v1/auth', body: { timeoutMs: 0, cacheMs: 'soon' }, code: 'ERR_CONFIG_INVALID', paths: ['auth.timeoutMs', 'auth.cacheMs'] },
    { path: '/api/v1/auth', method: 'put', url: '/api/v1/auth', body: { webhook: 'ftp://x/y' }, code: 'ERR_CONFIG_INVALID', paths: ['auth.webhook'] },
    { path: '/api/v1/auth', method: 'put', url: '/api/v1/auth', body: { hook: 'http://x/y' }, code: 'ERR_API_BAD_REQUEST', paths: ['auth.hook'] },
  ];
  for (const c of cases) {
    const res = await fetch(`${base}${c.url}`, { method: c.method.toUpperCase(), headers: { 'content-type': 'application/json' }, body: JSON.stringify(c.body) });
    const body = (await res.json()) as { error: { code: string; message: string; details?: { problems?: Array<{ path: string; message: string }> } } };
    const what = `${c.method.toUpperCase()} ${c.url} ${JSON.stringify(c.body)} → ${JSON.stringify(body)}`;
    assert.equal(res.status, 400, what);
    assert.equal(body.error.code, c.code, what);
    const problems = body.error.details?.problems ?? [];
    assert.deepEqual(problems.map((p) => p.path), c.paths, what);
    assert.equal(body.error.message, problems.map((p) => `${p.path}: ${p.message}`).join('; '), what);
    const unknown = problems.find((p) => p.message.startsWith('unknown key'));
    if (unknown !== undefined) {
      const keys = Object.keys(bodySchema(c.path, c.method).properties);
      assert.ok(unknown.message.includes(`valid keys here are ${keys.join(', ')}`), `${what}: the allowed keys are the spec's ${keys.join(', ')}`);
    }
  }
});

test('every example in docs/openapi.yaml validates against the schema beside it, and PUT /streams/{name} takes the config file\'s stream schema', () => {
  const { doc } = openApi();
  let checked = 0;
  const visit = (node: unknown, at: string[]): void => {
    if (node === null || typeof node !== 'object') return;
    const o = node as Json;
    if ('schema' in o && 'example' in o && at.includes('content')) {
      const validate = specValidator(pointer(...at, 'schema'));
      assert.ok(validate(o['example']), `example at ${at.join('/')} does not match its schema: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
      checked++;
    }
    for (const [k, v] of Object.entries(o)) if (k !== 'schema' && k !== 'example') visit(v, [...at, k]);
  };
  visit(doc.paths, ['paths']);
  visit(doc.components['responses'], ['components', 'responses']);
  assert.ok(checked >= 5, `${checked} examples checked`);
  assert.equal((doc.components['schemas']!['StreamPut'] as Json)['$ref'], '../schema/config.schema.json#/definitions/stream', 'the stream body is the config file\'s stream object, checked by normalizeStream with that schema');
});
