/**
 * `streams.dynamic` (issue 12 defect 5): listing streams in the config file no longer switches
 * dynamic publishing off; `"dynamic": false` does, with 1404 for a publish to an unlisted name
 * (docs/auth.md), the same on one node (bin/srt-relay.js with --config) and on cluster nodes
 * joined to a real redis-server, where streams of the shared configuration count as listed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeConfig } from '../src/config/load.js';
import { ClusterNode } from './helpers/cluster-nodes.js';
import { spawnFor, type AfterHook } from './helpers/processes.js';
import { RedisServer } from './helpers/redis-server.js';
import { RELAY_BIN, startRelayProcess } from './helpers/relay-process.js';
import type { SrtSocket } from '../src/srt/socket.js';
import { connectFor, countingReceiver, pacedPublisher, rejectReason, waitFor } from './helpers/relay-harness.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'srt-relay-dynamic-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, config: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

interface Sessions {
  sessions: Array<{ kind: string; stream: string }>;
}

/** Publishes `stream` on `srtPort` and waits until the node's API lists the publisher. */
async function publishes(t: AfterHook, srtPort: number, stream: string, get: (path: string) => Promise<Sessions>): Promise<SrtSocket> {
  const socket = await connectFor(t, srtPort, { streamid: `publish:${stream}` });
  await waitFor(async () => (await get('/api/v1/sessions')).sessions.some((s) => s.kind === 'publisher' && s.stream === stream), `publisher of '${stream}' listed`);
  return socket;
}

test('a node whose config lists one stream accepts a publish to an unlisted name (streams.dynamic defaults to true)', { timeout: 30_000 }, async (t) => {
  const file = configFile('listed.json', { streams: { known: { source: 'push://' } } });
  const node = await startRelayProcess(t, { workers: 1, logLevel: 'warn', args: ['--config', file] });
  const get = async (path: string): Promise<Sessions> => (await node.api<Sessions>(path)).body;
  await publishes(t, node.srtPort, 'unlisted', get);
  await publishes(t, node.srtPort, 'known', get);
});

test('with streams.dynamic false a node refuses a publish to an unlisted name with 1404 and accepts the listed one', { timeout: 30_000 }, async (t) => {
  const file = configFile('closed.json', { streams: { dynamic: false, known: { source: 'push://' } } });
  const node = await startRelayProcess(t, { workers: 1, logLevel: 'warn', args: ['--config', file] });
  const get = async (path: string): Promise<Sessions> => (await node.api<Sessions>(path)).body;
  assert.equal(await rejectReason(node.srtPort, { streamid: 'publish:unlisted' }), 1404);
  assert.equal(await rejectReason(node.srtPort, { streamid: '#!::r=unlisted,m=publish' }), 1404);
  await publishes(t, node.srtPort, 'known', get);
  // A stream added through the API is listed from then on.
  const put = await node.api('/api/v1/streams/added', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ source: 'push://' }) });
  assert.ok(put.status === 200 || put.status === 201, JSON.stringify(put));
  await publishes(t, node.srtPort, 'added', get);
  assert.equal(await rejectReason(node.srtPort, { streamid: 'publish:unlisted' }), 1404, 'still refused');
});

test('cluster nodes honour streams.dynamic the same: default open with a listed stream; false refuses unlisted names with 1404 (also one live on another node, which still plays), shared streams publish', { timeout: 60_000 }, async (t) => {
  const redis = await RedisServer.start({ t });
  const open = configFile('cluster-open.json', { streams: { known: { source: 'push://' } } });
  const closed = configFile('cluster-closed.json', { streams: { dynamic: false, known: { source: 'push://' } } });
  const [a, b] = await Promise.all([
    ClusterNode.start(t, 'node-open', redis.url(), ['--config', open, '--log-level', 'warn']),
    ClusterNode.start(t, 'node-closed', redis.url(), ['--config', closed, '--log-level', 'warn']),
  ]);
  const getA = (path: string): Promise<Sessions> => a.get<Sessions>(path);
  const getB = (path: string): Promise<Sessions> => b.get<Sessions>(path);
  const pub = pacedPublisher(await publishes(t, a.srtPort, 'unlisted-a', getA), { pps: 200 });
  t.after(() => pub.stop());

  assert.equal(await rejectReason(b.srtPort, { streamid: 'publish:unlisted-b' }), 1404);
  // A stream the closed node does not list, live on the open node: viewers play it there, publishers are refused.
  await waitFor(async () => (await b.cluster()).remote['unlisted-a'] === a.id, `${b.id} routes 'unlisted-a' to ${a.id}`);
  const rx = countingReceiver(await connectFor(t, b.srtPort, { streamid: 'read:unlisted-a' }));
  await waitFor(() => rx.packets >= 50, `a viewer on ${b.id} receives 'unlisted-a' from ${a.id}`, 15_000);
  assert.equal(await rejectReason(b.srtPort, { streamid: 'publish:unlisted-a' }), 1404, 'not 1409: the closed node does not list it');
  await publishes(t, b.srtPort, 'known', getB);
  // A stream of the shared configuration (put through the other node) is listed on every node.
  const put = await a.send('PUT', '/api/v1/streams/shared', { source: 'push://' });
  assert.equal(put.status, 201, JSON.stringify(put.json));
  await waitFor(async () => (await fetch(`http://127.0.0.1:${b.apiPort}/api/v1/streams/shared`)).status === 200, `'shared' reaches ${b.id}`);
  await publishes(t, b.srtPort, 'shared', getB);
  assert.equal(await rejectReason(b.srtPort, { streamid: 'publish:unlisted-b' }), 1404, 'still refused');
});

test('config import of a file with streams.dynamic false stores its streams in Redis, not the node setting', { timeout: 30_000 }, async (t) => {
  const redis = await RedisServer.start({ t });
  const file = configFile('import.json', { streams: { dynamic: false, known: { source: 'push://' } } });
  const run = async (args: string[]): Promise<string> => {
    const p = spawnFor(t, process.execPath, [RELAY_BIN, 'config', ...args, '--redis', redis.url()], { name: `config ${args[0]}` });
    const exit = await p.waitExit(20_000);
    assert.equal(exit.code, 0, p.output());
    return p.stdout().toString('utf8');
  };
  await run(['import', file]);
  const exported = JSON.parse(await run(['export'])) as { streams: Record<string, unknown> };
  assert.deepEqual(exported.streams, { known: { source: 'push://' } });
});

test('streams.dynamic is a boolean defaulting to true, so no stream can be named "dynamic"', () => {
  assert.equal(normalizeConfig({ srt: { ports: [] } }).dynamicStreams, true);
  assert.equal(normalizeConfig({ srt: { ports: [] }, streams: { a: { source: 'push://' } } }).dynamicStreams, true);
  const closed = normalizeConfig({ srt: { ports: [] }, streams: { dynamic: false, a: { source: 'push://' } } });
  assert.equal(closed.dynamicStreams, false);
  assert.deepEqual(Object.keys(closed.streams), ['a']);
  assert.throws(() => normalizeConfig({ srt: { ports: [] }, streams: { dynamic: { source: 'push://' } } }), /streams\.dynamic: must be true or false/);
});
