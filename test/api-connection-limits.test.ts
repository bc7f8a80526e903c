/**
 * Issue 13 item 3 (docs/security.md, "The API port"): a stranger cannot exhaust the API port.
 * Real TCP clients on loopback against a real relay's API: idle connections, half-sent headers
 * and bodies that declare 64 KB and send 20 bytes, beyond the connection cap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { Relay } from '../src/supervisor/relay.js';
import { ApiServer } from '../src/api/http-server.js';
import { createLogger, silentLogger } from '../src/logging.js';
import { HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from '../src/api/connection-guard.js';
import { freeUdpPort } from './helpers/free-port.js';
import { relayOptions, waitFor } from './helpers/relay-harness.js';

async function startApi(t: { after(fn: () => unknown): void }, maxConnections: number, logLines?: string[]): Promise<{ api: ApiServer; port: number }> {
  const relay = new Relay(relayOptions(await freeUdpPort()));
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines?.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      done();
    },
  });
  const logger = logLines === undefined ? silentLogger() : createLogger('info', 'api-test', sink);
  const api = new ApiServer(relay, { host: '127.0.0.1', port: 0, logger, maxConnections });
  await relay.start();
  const { port } = await api.listen();
  t.after(async () => {
    await api.close();
    await relay.stop();
  });
  return { api, port };
}

/** A TCP connection to the API; `sent` is written once connected. Resolves once connected; `answer()` is what the server sent. */
function open(port: number, sent = ''): Promise<Socket & { closedByServer: Promise<void>; answer(): string }> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const s = connect(port, '127.0.0.1', () => {
      if (sent !== '') s.write(sent);
      resolve(Object.assign(s, { closedByServer: new Promise<void>((r) => s.once('close', () => r())), answer: () => answer }));
    });
    s.on('error', () => undefined); // a reset by the server is what some of these expect
    s.on('data', (d: Buffer) => (answer += d.toString('latin1'))); // read what the server answers (a 408), so its close is seen
    s.once('error', reject);
  });
}

test('a flood of idle, half-sent-header and stalled-body connections beyond the cap never locks out /healthz: the oldest of them are closed to make room', async (t) => {
  const { api, port } = await startApi(t, 20);
  const flood: Array<Socket & { closedByServer: Promise<void> }> = [];
  t.after(() => flood.forEach((s) => s.destroy()));
  for (let i = 0; i < 30; i++) flood.push(await open(port));
  for (let i = 0; i < 10; i++) flood.push(await open(port, 'GET /api/v1/streams HTTP/1.1\r\nHost: x\r\n'));
  for (let i = 0; i < 5; i++) flood.push(await open(port, 'PUT /api/v1/streams/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 65536\r\n\r\n{"source":"push://"'));
  await waitFor(() => api.connections.open <= 20, 'at most the cap open');
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(res.status, 200, `healthz ${i}`);
    await res.text();
  }
  assert.ok(api.connections.evicted >= 25, `evicted ${api.connections.evicted}`);
  // The oldest went first: the first idle connections were closed by the server.
  await Promise.all(flood.slice(0, 10).map((s) => s.closedByServer));
});

test('without a flood, a connection that sends no request is closed after the headers timeout, and a stalled body after the request timeout', { timeout: 60_000 }, async (t) => {
  const { port } = await startApi(t, 100);
  const idle = await open(port);
  const partial = await open(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n');
  const stalled = await open(port, 'PUT /api/v1/streams/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 65536\r\n\r\n{"so');
  t.after(() => [idle, partial, stalled].forEach((s) => s.destroy()));
  const t0 = Date.now();
  await Promise.all([idle.closedByServer, partial.closedByServer]);
  await stalled.closedByServer;
  // Reported, not judged (issue 18: no timing verdicts): the timeouts are HEADERS_TIMEOUT_MS and REQUEST_TIMEOUT_MS.
  t.diagnostic(`closed after ${Date.now() - t0} ms (headers timeout ${HEADERS_TIMEOUT_MS} ms, request timeout ${REQUEST_TIMEOUT_MS} ms)`);
  // What closed them is the server's timeout, which answers 408 (the old server held such connections 60-310 s and then reset them).
  assert.match(partial.answer(), /^HTTP\/1\.1 408 /, `the half-sent headers got 408 (got ${JSON.stringify(partial.answer().slice(0, 40))})`);
  assert.match(stalled.answer(), /^HTTP\/1\.1 408 /, `the stalled body got 408 (got ${JSON.stringify(stalled.answer().slice(0, 40))})`);
  assert.match(idle.answer(), /^HTTP\/1\.1 408 /, `the idle connection got 408 (got ${JSON.stringify(idle.answer().slice(0, 40))})`);
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(res.status, 200);
});

test('a client that aborts its upload is one info line, not an error with a stack trace', async (t) => {
  const lines: string[] = [];
  const { port } = await startApi(t, 100, lines);
  const s = await open(port, 'PUT /api/v1/streams/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 65536\r\n\r\n{"source":');
  await new Promise((r) => setTimeout(r, 200));
  s.destroy();
  await waitFor(() => lines.some((l) => l.includes('went away')), 'the info line');
  const entries = lines.map((l) => JSON.parse(l) as { level: string; msg: string; err?: unknown });
  const gone = entries.filter((e) => e.msg.includes('went away'));
  assert.equal(gone.length, 1);
  assert.equal(gone[0]!.level, 'info');
  assert.deepEqual(entries.filter((e) => e.level === 'error' || e.err !== undefined), [], 'no error line, no stack');
});
