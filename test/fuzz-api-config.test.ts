/**
 * Bad input on the HTTP API and in the config file: invalid JSON, wrong types, huge bodies,
 * unknown routes, odd paths and file:// sources. Every bad request gets a 4xx with an error code
 * that docs/errors.md lists, nothing is applied half-way (the relay's streams and pushes, their
 * settings included, are exactly as before), and the API keeps answering. A bad config file makes
 * `srt-relay` exit non-zero naming the key; the loader itself never throws anything but
 * ConfigInvalidError naming a path, whatever the input.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigInvalidError, ERROR_CODES, SrtRejectedError, isSrtRelayError } from '../src/errors.js';
import { normalizeConfig, parseConfigJson } from '../src/config/load.js';
import { Relay } from '../src/supervisor/relay.js';
import { freeUdpPort } from './helpers/free-port.js';
import { spawnFor } from './helpers/processes.js';
import { RELAY_BIN } from './helpers/relay-process.js';
import { prng } from './helpers/srt-fuzzer.js';
import { connectBinding } from './helpers/srt-io.js';
import { serveApi } from './helpers/relay-harness.js';

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES.map((e) => e.code));
const TOKEN = 'fuzz-token-0123456789';

interface Api {
  relay: Relay;
  base: string;
  srtPort: number;
}

async function startApi(t: TestContext): Promise<Api> {
  const srtPort = await freeUdpPort();
  const relay = new Relay({
    nodeId: 'api-fuzz',
    workers: 1,
    ports: [{ port: srtPort, host: '127.0.0.1', direction: 'both', params: { latency: 120 }, reusePort: 1 }],
    streams: {
      cam: { source: 'push://', passphrase: { publish: 'publish-secret-1', play: 'play-secret-12' }, onPublisherConflict: 'refuse' },
      pulled: { source: 'srt://127.0.0.1:9?latency=200' },
    },
    pushes: [{ stream: 'cam', target: 'srt://127.0.0.1:9?latency=200', auto: false }],
    limits: {},
    ringSlots: 1024,
  });
  const base = await serveApi(t, relay, { token: TOKEN });
  return { relay, base, srtPort };
}

/** Everything the API could change: streams with their settings (secrets included) and pushes. */
function snapshot(relay: Relay): string {
  return JSON.stringify({
    streams: relay
      .listStreams()
      .map((s) => ({ name: s.name, settings: s.settings }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    pushes: relay.listPushes().map((p) => ({ ...p })),
  });
}

interface Reply {
  status: number;
  body: { error?: { code?: string; message?: string } } | undefined;
}

async function call(base: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
  const h: Record<string, string> = { authorization: `Bearer ${TOKEN}`, ...headers };
  if (body !== undefined && h['content-type'] === undefined) h['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers: h, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: Reply['body'];
  try {
    parsed = text === '' ? undefined : (JSON.parse(text) as Reply['body']);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed };
}

/** A 4xx with a documented error code and a message. */
function assertClientError(r: Reply, what: string, statuses: readonly number[] = [400]): void {
  assert.ok(statuses.includes(r.status), `${what}: status ${r.status}, expected ${statuses.join('/')} (${JSON.stringify(r.body)})`);
  const code = r.body?.error?.code;
  assert.ok(code !== undefined && KNOWN_CODES.has(code), `${what}: error code ${String(code)} is one of docs/errors.md`);
  assert.equal(typeof r.body?.error?.message, 'string', `${what}: has a message`);
}

const INVALID_JSON: readonly string[] = [
  '{',
  '}',
  '{"source":',
  '{"source":"push://",}',
  "{'source':'push://'}",
  '{source:"push://"}',
  'nul',
  'undefined',
  'NaN',
  '{"source":"push://"}{"source":"push://"}',
  '{"source":"push://"} x',
  '\ufeff{"source":"push://"}',
  '{"source":"push:\\/\\/", "passphrase": {"publish": "\\ud800"}', // unterminated
  '[' .repeat(5000),
  '{"a":' .repeat(3000) + '1' + '}'.repeat(3000), // deep nesting, valid JSON, unknown field
  '\u0000',
  '"',
  '{"source":"push://"',
];

const WRONG_STREAM_BODIES: readonly unknown[] = [
  null,
  [],
  'push://',
  42,
  true,
  {},
  { source: 1 },
  { source: null },
  { source: [] },
  { source: {} },
  { source: '' },
  { source: 'http://example.com/x' },
  { source: 'file:///etc/passwd' },
  { source: 'file://../../../../etc/passwd' },
  { source: 'file://%2e%2e/%2e%2e/etc/shadow' },
  { source: 'srt://' },
  { source: 'srt://127.0.0.1' },
  { source: 'srt://127.0.0.1:99999' },
  { source: 'srt://127.0.0.1:9000?latncy=200' },
  { source: 'srt://127.0.0.1:9000?passphrase=short' },
  { source: 'srt://127.0.0.1:9000?latency=%ZZ' },
  { source: 'push://', passphrase: 'secret-secret' },
  { source: 'push://', passphrase: 5 },
  { source: 'push://', passphrase: { publish: 5 } },
  { source: 'push://', passphrase: { publish: 'short' } },
  { source: 'push://', passphrase: { publish: 'x'.repeat(80) } },
  { source: 'push://', passphrase: { publish: 'valid-secret-1', other: 'x' } },
  { source: 'push://', passphrase: { publish: 'valid-secret-1', play: ['valid-secret-2'] } },
  { source: 'push://', onPublisherConflict: 'steal' },
  { source: 'push://', onPublisherConflict: 1 },
  { source: 'push://', acceptStreamIds: true },
  { source: 'push://', unknownField: 1 },
  JSON.parse('{"source":"push://","__proto__":{"polluted":true}}') as unknown,
  { source: 'push://', constructor: { prototype: { polluted: true } } },
];

const WRONG_PUSH_BODIES: readonly unknown[] = [
  null,
  [],
  {},
  { stream: 'cam' },
  { stream: 5, target: 'srt://127.0.0.1:9000' },
  { stream: 'cam', target: 5 },
  { stream: 'cam', target: 'udp://127.0.0.1:9000' },
  { stream: 'cam', target: 'file:///tmp/out.ts' },
  { stream: 'cam', target: 'srt://127.0.0.1:9000', auto: 'yes' },
  { stream: 'bad name', target: 'srt://127.0.0.1:9000' },
  { stream: 'cam', target: 'srt://127.0.0.1:9000', extra: true },
  { stream: 'cam', target: 'srt://127.0.0.1:9000?streamid=%' },
];

test('the API answers invalid JSON and wrong types with 4xx and a documented code, and changes nothing', { timeout: 60_000 }, async (t) => {
  const { relay, base, srtPort } = await startApi(t);
  const before = snapshot(relay);
  let n = 0;
  for (const path of ['/api/v1/streams/cam', '/api/v1/streams/newstream', '/api/v1/pushes']) {
    const method = path === '/api/v1/pushes' ? 'POST' : 'PUT';
    for (const raw of INVALID_JSON) {
      assertClientError(await call(base, method, path, raw), `${method} ${path} ${JSON.stringify(raw.slice(0, 30))}`, [400]);
      n++;
    }
    for (const body of path === '/api/v1/pushes' ? WRONG_PUSH_BODIES : WRONG_STREAM_BODIES) {
      assertClientError(await call(base, method, path, JSON.stringify(body)), `${method} ${path} ${JSON.stringify(body)?.slice(0, 60)}`, [400]);
      n++;
    }
    // Right body, wrong content type; no body at all.
    assertClientError(await call(base, method, path, '{"source":"push://"}', { 'content-type': 'text/plain' }), `${method} ${path} text/plain`, [415]);
    assertClientError(await call(base, method, path), `${method} ${path} without a body`, [400]);
    n += 2;
    assert.equal(snapshot(relay), before, `nothing changed after the bad ${method}s on ${path}`);
  }
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'no prototype pollution');
  t.diagnostic(`${n} bad requests, all 4xx with a documented code, state unchanged`);

  // Nothing applied half-way, proven by behaviour too: the old publish passphrase still works,
  // the one a rejected update carried does not.
  const bad = await call(base, 'PUT', '/api/v1/streams/cam', JSON.stringify({ source: 'push://', passphrase: { publish: 'other-secret-99', play: 5 } }));
  assertClientError(bad, 'update with one bad passphrase field', [400]);
  await assert.rejects(
    connectBinding(srtPort, { streamid: 'publish:cam', passphrase: 'other-secret-99', latency: 120 }),
    (e: unknown) => e instanceof SrtRejectedError,
    'the passphrase of the rejected update was not applied',
  );
  const pub = await connectBinding(srtPort, { streamid: 'publish:cam', passphrase: 'publish-secret-1', latency: 120 });
  pub.close();
});

test('seeded random bodies: never a 5xx; every 4xx leaves the state as it was', { timeout: 60_000 }, async (t) => {
  const { relay, base } = await startApi(t);
  const rnd = prng(8);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(l: readonly T[]): T => l[int(l.length)]!;
  const randomString = (): string => {
    const alphabets = ['abc', 'push://', 'srt://127.0.0.1:', '%', '\u0000', '\ud800', 'é', '../', '#!::r=', '?latency=', '&', '=', ' ', '9000', 'x'.repeat(300)];
    let s = '';
    const k = int(5);
    for (let i = 0; i < k; i++) s += pick(alphabets);
    return s;
  };
  const randomValue = (depth = 0): unknown => {
    switch (int(depth > 2 ? 6 : 8)) {
      case 0:
        return null;
      case 1:
        return rnd() < 0.5;
      case 2:
        return pick([0, -1, 1.5, 1e308, -0, 2 ** 53, 65536]);
      case 3:
      case 4:
      case 5:
        return randomString();
      case 6:
        return Array.from({ length: int(3) }, () => randomValue(depth + 1));
      default: {
        const o: Record<string, unknown> = {};
        const keys = ['source', 'passphrase', 'publish', 'play', 'onPublisherConflict', 'acceptStreamIds', 'stream', 'target', 'auto', 'zzz'];
        for (let i = int(4); i >= 0; i--) o[pick(keys)] = randomValue(depth + 1);
        return o;
      }
    }
  };
  const statuses: Record<number, number> = {};
  for (let i = 0; i < 400; i++) {
    const before = snapshot(relay);
    const kind = int(3);
    const path = kind === 0 ? `/api/v1/streams/fz${int(4)}` : kind === 1 ? '/api/v1/streams/cam' : '/api/v1/pushes';
    const method = kind === 2 ? 'POST' : 'PUT';
    let body: string;
    if (rnd() < 0.1) body = randomString();
    else if (rnd() < 0.4) {
      // Near-valid: a good body with one field replaced by a random value.
      const good: Record<string, unknown> = kind === 2 ? { stream: 'cam', target: `srt://127.0.0.1:${9100 + int(3)}?latency=200` } : { source: 'push://', passphrase: { publish: 'valid-secret-1' }, onPublisherConflict: 'refuse' };
      const keys = Object.keys(good);
      good[pick(keys)] = randomValue(1);
      body = JSON.stringify(good);
    } else body = JSON.stringify(randomValue());
    const r = await call(base, method, path, body);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    assert.ok(r.status < 500, `${method} ${path} ${body.slice(0, 80)} → ${r.status} ${JSON.stringify(r.body)}`);
    if (r.status >= 400) {
      assertClientError(r, `${method} ${path} ${body.slice(0, 80)}`, [400, 409, 413, 415]);
      assert.equal(snapshot(relay), before, `a rejected request changed nothing: ${method} ${path} ${body.slice(0, 80)}`);
    }
  }
  t.diagnostic(`400 random requests: ${JSON.stringify(statuses)}`);
});

/** Sends `bytes` of body in chunks (no content-length unless `declare`); resolves with the status (or the error). */
function bigBody(base: string, bytes: number, declare: boolean): Promise<{ status?: number; code?: string; error?: string }> {
  return new Promise((resolve) => {
    const url = new URL(`${base}/api/v1/streams/huge`);
    const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
    if (declare) headers['content-length'] = String(bytes);
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'PUT', headers });
    let settled = false;
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        settled = true;
        let code: string | undefined;
        try {
          code = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { code?: string } }).error?.code;
        } catch {
          code = undefined;
        }
        resolve({ status: res.statusCode, ...(code !== undefined ? { code } : {}) });
      });
    });
    req.on('error', (e) => {
      if (!settled) resolve({ error: String(e) });
    });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    chunk[0] = 0x7b; // '{' then spaces: valid-looking JSON that never ends
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes && !req.destroyed) {
        const n = Math.min(chunk.length, bytes - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          req.once('drain', pump);
          return;
        }
      }
      if (!req.destroyed) req.end();
    };
    pump();
  });
}

test('huge bodies are refused with 413 whether declared or streamed, and the API keeps answering', { timeout: 60_000 }, async (t) => {
  const { relay, base } = await startApi(t);
  const before = snapshot(relay);
  for (const [bytes, declare] of [
    [64 * 1024 + 1, true],
    [64 * 1024 + 1, false],
    [8 * 1024 * 1024, true],
    [8 * 1024 * 1024, false],
  ] as const) {
    const r = await bigBody(base, bytes, declare);
    t.diagnostic(`${bytes} bytes ${declare ? 'with' : 'without'} content-length: ${JSON.stringify(r)}`);
    assert.equal(r.status, 413, `${bytes} bytes (${declare ? 'declared' : 'chunked'}): ${JSON.stringify(r)}`);
    assert.equal(r.code, 'ERR_API_PAYLOAD_TOO_LARGE');
    const health = await call(base, 'GET', '/healthz');
    assert.equal(health.status, 200, 'the API still answers');
  }
  assert.equal(snapshot(relay), before);
});

test('unknown routes, odd paths and wrong methods get 404/405/400 with a code; path traversal reaches nothing', { timeout: 60_000 }, async (t) => {
  const { relay, base } = await startApi(t);
  const before = snapshot(relay);
  const paths = [
    '/api',
    '/api/v2/streams',
    '/api/v1/stream',
    '/api/v1/streams/cam/extra',
    '/api/v1/streams/cam/../../../etc/passwd',
    '/api/v1/streams/..%2F..%2F..%2Fetc%2Fpasswd',
    '/api/v1/streams/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '/../../etc/passwd',
    '/api/v1/streams/%ZZ',
    '/api/v1/streams/%',
    '/api/v1/streams/%C3%28',
    '/api/v1/sessions/abc',
    '/api/v1/sessions/-1',
    '/api/v1/sessions/99999999999999999999',
    '/api/v1/pushes/0',
    '//api/v1/streams',
    `/api/v1/streams/${'a'.repeat(5000)}`,
    '/api/v1/streams/cam%00',
  ];
  const seen: Record<number, number> = {};
  for (const path of paths) {
    for (const method of ['GET', 'DELETE']) {
      const r = await call(base, method, path);
      seen[r.status] = (seen[r.status] ?? 0) + 1;
      if (r.status < 400) {
        // Only real resources may answer: a GET or DELETE of /api/v1/streams/<real stream>.
        assert.fail(`${method} ${path} answered ${r.status}: ${JSON.stringify(r.body)?.slice(0, 200)}`);
      }
      assertClientError(r, `${method} ${path.slice(0, 80)}`, [400, 404, 405]);
      assert.ok(!JSON.stringify(r.body).includes('root:'), 'no file content in the answer');
    }
  }
  for (const method of ['PATCH', 'OPTIONS', 'POST']) {
    assertClientError(await call(base, method, '/api/v1/streams/cam', '{}'), `${method} /api/v1/streams/cam`, [405]);
  }
  assert.equal(snapshot(relay), before);
  t.diagnostic(`statuses: ${JSON.stringify(seen)}`);
});

test(
  "stream names made only of dots ('.', '..') are refused by the API",
  { timeout: 30_000 },
  async (t) => {
    const { relay, base } = await startApi(t);
    const before = snapshot(relay);
    for (const name of ['..%2F..%2Fetc%2Fpasswd', '..', '.', 'a%2F..%2Fb', 'a%2F.%2Fb']) {
      // A bare '.' or '..' path segment is resolved by URL parsing before routing (404, no route);
      // encoded ones reach the name check (400). Either way nothing is created.
      const literal = name === '.' || name === '..';
      assertClientError(await call(base, 'PUT', `/api/v1/streams/${name}`, '{"source":"push://"}'), `PUT /api/v1/streams/${name}`, literal ? [400, 404] : [400]);
    }
    const push = await call(base, 'POST', '/api/v1/pushes', JSON.stringify({ stream: '../cam', target: 'srt://127.0.0.1:9000' }));
    assertClientError(push, "POST /api/v1/pushes of stream '../cam'", [400]);
    assert.equal(snapshot(relay), before);
  },
);

// ---- config loader -------------------------------------------------------------------------

const BAD_CONFIGS: ReadonlyArray<[string, string, RegExp]> = [
  // JSON syntax errors name the place (file:line:column) instead of a key.
  ['trailing comma', '{"workers": 2,}', /\.json:1:\d+: invalid JSON: trailing comma/],
  ['truncated', '{"srt": {"ports": [{"port": 9000', /end of the file|not closed/i],
  ['not an object', '[1,2,3]', /JSON object|top level/i],
  ['port as a string', '{"srt":{"ports":[{"port":"9000"}]}}', /srt\.ports\[0\]\.port/],
  ['port out of range', '{"srt":{"ports":[{"port":70000}]}}', /srt\.ports\[0\]\.port/],
  ['workers as a word', '{"workers":"two"}', /workers/],
  ['negative limit', '{"limits":{"maxSessions":-1}}', /limits\.maxSessions/],
  ['unknown top-level key', '{"prots":[]}', /prots/],
  ['source as a number', '{"streams":{"cam":{"source":5}}}', /streams\.cam\.source/],
  ['http source', '{"streams":{"cam":{"source":"http://x/y"}}}', /streams\.cam\.source/],
  ['bad percent escape in file source', '{"streams":{"cam":{"source":"file://%ZZ.ts"}}}', /streams\.cam\.source/],
  ['short passphrase', '{"streams":{"cam":{"source":"push://","passphrase":{"publish":"abc"}}}}', /streams\.cam\.passphrase\.publish/],
  ['api port wrong type', '{"api":{"port":true}}', /api\.port/],
  ['log level unknown', '{"logLevel":"loud"}', /logLevel/],
  ['push without target', '{"pushes":[{"stream":"cam"}]}', /pushes\[0\]/],
];

test('srt-relay exits non-zero naming the key for each bad config file', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'srt-relay-fuzzcfg-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // All processes at once: each is a node start-up (~0.5 s), they only parse and exit.
  const runs = await Promise.all(
    BAD_CONFIGS.map(async ([name, text], i) => {
      const file = join(dir, `bad-${i}.json`);
      await writeFile(file, text);
      // No port flags: they would override the keys under test.
      const p = spawnFor(t, process.execPath, [RELAY_BIN, '--config', file], { name: `srt-relay (${name})` });
      return { name, p, exit: await p.waitExit(30_000) };
    }),
  );
  for (const [i, { name, p, exit }] of runs.entries()) {
    const pattern = BAD_CONFIGS[i]![2];
    assert.notEqual(exit.code, 0, `${name}: exit code`);
    assert.equal(exit.signal, null, `${name}: exited by itself`);
    assert.match(p.stderr(), /ERR_CONFIG_INVALID/, `${name}: names the error code\n${p.output()}`);
    assert.match(p.stderr(), pattern, `${name}: names the key\n${p.output()}`);
    assert.doesNotMatch(p.stderr(), /at .*\.js:\d+/, `${name}: no stack trace`);
  }
});

test('the config loader, fed 2000 seeded mutations of a valid config, throws only ConfigInvalidError naming a path', { timeout: 60_000 }, () => {
  const base = parseConfigJson(
    JSON.stringify({
      nodeId: 'n1',
      logLevel: 'info',
      workers: 2,
      limits: { maxSessions: 100, maxStreams: 10 },
      srt: { ports: [{ port: 9000, host: '127.0.0.1', direction: 'both', params: { latency: 120 } }] },
      api: { port: 4242, host: '127.0.0.1', token: 'token-token-token' },
      streams: { cam: { source: 'push://', passphrase: { publish: 'publish-secret-1' }, onPublisherConflict: 'refuse' }, pull: { source: 'srt://127.0.0.1:9001?latency=200' } },
      pushes: [{ stream: 'cam', target: 'srt://127.0.0.1:9100?latency=200', auto: true }],
    }),
  );
  normalizeConfig(base, { baseDir: tmpdir() }); // the unmutated config is valid
  const rnd = prng(11);
  const int = (n: number): number => Math.floor(rnd() * n);
  const junk: readonly unknown[] = [null, true, false, 0, -1, 1.5, 70000, 2 ** 53, '', 'x', '%ZZ', 'file:///etc/passwd', 'srt://', [], [1], {}, { a: 1 }, '\u0000', 'é'.repeat(300)];
  let rejected = 0;
  let accepted = 0;
  for (let i = 0; i < 2000; i++) {
    const cfg = structuredClone(base) as Record<string, unknown>;
    // Walk to a random node and replace, delete or add something there.
    const path: Array<string | number> = [];
    let node: unknown = cfg;
    for (let depth = 0; depth < 5 && node !== null && typeof node === 'object'; depth++) {
      const keys = Object.keys(node as object);
      if (keys.length === 0 || rnd() < 0.25) break;
      const k = keys[int(keys.length)]!;
      const child = (node as Record<string, unknown>)[k];
      if (child === null || typeof child !== 'object') {
        path.push(k);
        break;
      }
      path.push(Array.isArray(node) ? Number(k) : k);
      node = child;
    }
    const parentPath = path.slice(0, -1);
    let parent: unknown = cfg;
    for (const seg of parentPath) parent = (parent as Record<string | number, unknown>)[seg];
    const last = path[path.length - 1];
    const op = int(3);
    if (parent !== null && typeof parent === 'object') {
      if (op === 0 && last !== undefined) (parent as Record<string | number, unknown>)[last] = junk[int(junk.length)];
      else if (op === 1 && last !== undefined && !Array.isArray(parent)) delete (parent as Record<string, unknown>)[last as string];
      else if (!Array.isArray(parent)) (parent as Record<string, unknown>)[`unknownKey${int(3)}`] = junk[int(junk.length)];
    }
    try {
      normalizeConfig(cfg, { baseDir: tmpdir() });
      accepted++;
    } catch (err) {
      assert.ok(err instanceof ConfigInvalidError, `mutation ${i} (${JSON.stringify(path)}) threw ${String(err)}`);
      assert.ok(isSrtRelayError(err) && err.code === 'ERR_CONFIG_INVALID');
      assert.match(err.message, /^[A-Za-z(]/, 'message starts with the key path');
      const first = err.message.split('\n')[0]!;
      assert.ok(/^(\(top level\)|[A-Za-z_$][\w$-]*(\.|\[|:))/.test(first), `mutation ${i}: the first line names a key: ${first}`);
      rejected++;
    }
  }
  assert.ok(rejected > 500, `most mutations are rejected (${rejected} of 2000)`);
  assert.ok(accepted > 0, 'some mutations are harmless (deleting optional keys)');
});
