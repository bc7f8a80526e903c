/**
 * What the web dashboard needs from the API, without a browser: the per-second history of a
 * stream (GET /api/v1/streams/{name}/history, /api/v1/history, `?since=`), the Node page's
 * GET /api/v1/node (ports, limits, refusals by reject code), the login check GET /api/v1/token,
 * and the dashboard's files at /ui/: served without the token even under protectReads, and
 * without a token configured only on a loopback API address.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import type { ApiServerOptions } from '../src/api/http-server.js';
import { Relay } from '../src/supervisor/relay.js';
import { freeUdpPort } from './helpers/free-port.js';
import { ffmpegLiveEncoder, srtUrl, waitLiveWhile } from './helpers/media.js';
import { serveApi, waitFor } from './helpers/relay-harness.js';
import { needEncoder, unmet } from './helpers/requirements.js';
import { connectBinding } from './helpers/srt-io.js';

const TOKEN = 'dashboard-api-token';

async function startNode(t: TestContext, api: Partial<ApiServerOptions> = {}): Promise<{ relay: Relay; base: string; srtPort: number }> {
  const srtPort = await freeUdpPort();
  const ports = [{ port: srtPort, host: '127.0.0.1', direction: 'both' as const, params: {}, reusePort: 1 }];
  const relay = new Relay({ nodeId: 'dash-api', workers: 1, ports, streams: {}, pushes: [], limits: {}, ringSlots: 4096 });
  const base = await serveApi(t, relay, { srtPorts: ports, limits: { maxViewersPerStream: 7 }, ...api });
  return { relay, base, srtPort };
}

async function get<T>(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: T; headers: Record<string, unknown> }> {
  const res = await request(url, { headers });
  const text = await res.body.text();
  let body: unknown = text;
  if (String(res.headers['content-type']).startsWith('application/json')) body = JSON.parse(text);
  return { status: res.statusCode, body: body as T, headers: res.headers };
}

interface History {
  name: string;
  intervalMs: number;
  t: number[];
  ingestKbps: (number | null)[];
  rttMs: (number | null)[];
  lossPackets: (number | null)[];
  viewers: number[];
}

test('a stream\'s history has one sample a second with the ingest bitrate and the viewer count, and ?since= returns only newer samples', { skip: unmet(needEncoder('libx264')) }, async (t) => {
  const node = await startNode(t);
  const enc = ffmpegLiveEncoder(t, srtUrl(node.srtPort, 'publish:cam'));
  await waitLiveWhile(node.relay, 'cam', enc);
  const viewer = await connectBinding(node.srtPort, { streamid: 'read:cam' });
  t.after(() => viewer.close());
  const url = `${node.base}/api/v1/streams/cam/history`;
  const h = await waitFor(async () => {
    const r = (await get<History>(url)).body;
    return r.viewers.filter((v) => v === 1).length >= 2 && r.ingestKbps.filter((v) => v !== null && v > 0).length >= 3 ? r : undefined;
  }, 'three samples with a bitrate and two with the viewer', 15_000);
  assert.equal(h.name, 'cam');
  assert.equal(h.intervalMs, 1000);
  for (const col of [h.ingestKbps, h.rttMs, h.lossPackets, h.viewers]) assert.equal(col.length, h.t.length, 'every column as long as t');
  for (let i = 1; i < h.t.length; i++) assert.ok(h.t[i]! > h.t[i - 1]!, 'sample times ascend');
  // testsrc 640x360 with a tone at ffmpeg's defaults: a few hundred kbit/s, never 0 while live.
  const last = h.ingestKbps[h.ingestKbps.length - 1]!;
  assert.ok(last > 50 && last < 20_000, `ingest ${last} kbit/s`);

  const since = h.t[h.t.length - 1]!;
  const newer = await waitFor(async () => {
    const r = (await get<History>(`${url}?since=${since}`)).body;
    return r.t.length > 0 ? r : undefined;
  }, 'a sample after since', 5000);
  assert.ok(newer.t.every((x) => x > since), 'only samples after since');
  assert.ok(newer.t.length <= 2, `${newer.t.length} samples after the last one seen`);

  const all = (await get<{ streams: History[] }>(`${node.base}/api/v1/history?since=${since}`)).body;
  assert.deepEqual(all.streams.map((s) => s.name), ['cam']);
  assert.equal((await get(`${url}?since=yesterday`)).status, 400);
  assert.equal((await get(`${node.base}/api/v1/streams/nope/history`)).status, 404);
});

test('GET /api/v1/node lists the SRT port with its direction, the configured limits, and handshakes refused by reject code', async (t) => {
  const node = await startNode(t);
  // A viewer of a stream that does not exist: refused in the handshake with 1404.
  await assert.rejects(connectBinding(node.srtPort, { streamid: 'read:missing' }));
  interface NodeView {
    nodeId: string;
    ports: { port: number; direction: string }[];
    limits: { maxViewersPerStream: number };
    refused: { listener: string; port: number; code: number; count: number }[];
    history: { t: number[]; sessions: number[]; refused: Record<string, number[]> };
  }
  const n = await waitFor(async () => {
    const r = (await get<NodeView>(`${node.base}/api/v1/node`)).body;
    return r.refused.some((x) => x.code === 1404) && (r.history.refused['srt 1404']?.length ?? 0) > 0 ? r : undefined;
  }, 'the 1404 refusal counted', 10_000);
  assert.equal(n.nodeId, 'dash-api');
  assert.deepEqual(n.ports.map((p) => [p.port, p.direction]), [[node.srtPort, 'both']]);
  assert.equal(n.limits.maxViewersPerStream, 7);
  assert.deepEqual(n.refused.find((x) => x.code === 1404), { listener: 'srt', port: node.srtPort, code: 1404, count: 1 });
  const col = n.history.refused['srt 1404']!;
  assert.equal(col.length, n.history.t.length, 'the refusal column as long as t');
  assert.equal(col.reduce((a, b) => a + b, 0), 1, 'one refusal over the history');
});

test('GET /api/v1/token answers 401 to a wrong token and 200 to the right one, with protectReads off; 200 to anyone without a token', async (t) => {
  const node = await startNode(t, { token: TOKEN });
  assert.equal((await get(`${node.base}/api/v1/token`, { authorization: 'Bearer wrong' })).status, 401);
  assert.equal((await get(`${node.base}/api/v1/token`)).status, 401);
  const ok = await get<{ tokenRequired: boolean }>(`${node.base}/api/v1/token`, { authorization: `Bearer ${TOKEN}` });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.tokenRequired, true);
  const open = await startNode(t);
  const r = await get<{ tokenRequired: boolean }>(`${open.base}/api/v1/token`, { authorization: 'Bearer anything' });
  assert.equal(r.status, 200);
  assert.equal(r.body.tokenRequired, false);
});

test('the dashboard is served at /ui/ (gzip when asked) without the token even under protectReads, while the API behind it needs the token', async (t) => {
  const node = await startNode(t, { token: TOKEN, protectReads: true });
  const root = await request(`${node.base}/`);
  await root.body.dump();
  assert.equal(root.statusCode, 302);
  assert.equal(root.headers['location'], '/ui/');
  const index = await get<string>(`${node.base}/ui/`);
  assert.equal(index.status, 200);
  assert.match(String(index.headers['content-type']), /^text\/html/);
  assert.match(index.body, /<script type="module" src="app\.js">/);
  const js = await request(`${node.base}/ui/app.js`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(js.statusCode, 200);
  assert.equal(js.headers['content-encoding'], 'gzip');
  assert.match(String(js.headers['content-type']), /^text\/javascript/);
  await js.body.dump();
  assert.equal((await get(`${node.base}/ui/app.css`)).status, 200);
  assert.equal((await get(`${node.base}/ui/nothing.js`)).status, 404);
  assert.equal((await get(`${node.base}/api/v1/streams`)).status, 401, 'protectReads still guards the API');
});

test('without an API token the dashboard is served only on a loopback API address: on 0.0.0.0 it answers 404 naming api.token', async (t) => {
  const open = await startNode(t, { host: '0.0.0.0' });
  const r = await get<{ error: { code: string; message: string } }>(`${open.base}/ui/`);
  assert.equal(r.status, 404);
  assert.match(r.body.error.message, /api\.token/);
  const guarded = await startNode(t, { host: '0.0.0.0', token: TOKEN });
  assert.equal((await get(`${guarded.base}/ui/`)).status, 200);
  const loopback = await startNode(t);
  assert.equal((await get(`${loopback.base}/ui/`)).status, 200);
});
