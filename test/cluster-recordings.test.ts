/**
 * file:// pushes (recordings) in the cluster's shared configuration (issue 17): Redis stores the
 * target parsed but not tied to a folder, and each node checks it against its own recordingsRoot
 * when it applies it. Two bin/srt-relay.js nodes on a real redis-server: node-a has a
 * recordingsRoot and records a real ffmpeg publisher; node-b has none, so it does not apply the
 * push and says so in GET /api/v1/node (`config.problems`). An edit (PUT) replaces the shared push.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClusterNode } from './helpers/cluster-nodes.js';
import { ffmpegLiveEncoder } from './helpers/media.js';
import { RedisServer } from './helpers/redis-server.js';
import { waitFor } from './helpers/relay-harness.js';
import { needEncoder, unmet } from './helpers/requirements.js';
import { testTempDir } from './helpers/ts-fixture.js';

const skip = unmet(needEncoder('libx264') ?? (existsSync('/usr/bin/redis-server') ? undefined : 'redis-server not found (Debian package redis-server)'));

interface PushJson { id: number; stream: string; target: string; state: string }
interface NodeJson { config: { problems: Array<{ source: string; message: string }> } }

test('a file:// push through a member\'s API is shared: the node with a recordingsRoot records the stream, the node without one lists it as not applied; PUT replaces it cluster-wide', { skip, timeout: 120_000 }, async (t) => {
  const dir = join(testTempDir(), `cluster-recordings-${process.pid}`);
  const root = join(dir, 'rec');
  mkdirSync(root, { recursive: true });
  const cfg = join(dir, 'a.json');
  writeFileSync(cfg, JSON.stringify({ srt: { ports: [{ port: 9000, direction: 'both' }] }, recordingsRoot: root }));
  const redis = await RedisServer.start({ t });
  const a = await ClusterNode.start(t, 'node-a', redis.url(), ['--config', cfg]);
  const b = await ClusterNode.start(t, 'node-b', redis.url());

  const target = 'file://$stream/%Y-%m-%d/%H-%M-%S.ts?segmentSeconds=1';
  // node-b cannot record it itself: its own API refuses it before it is shared.
  const refused = await b.send('POST', '/api/v1/pushes', { stream: 'cam', target, auto: true });
  assert.equal(refused.status, 400, JSON.stringify(refused.json));
  assert.equal((refused.json as { error: { code: string } }).error.code, 'ERR_RECORDING_TARGET_INVALID');
  const added = await a.send('POST', '/api/v1/pushes', { stream: 'cam', target, auto: true });
  assert.equal(added.status, 201, JSON.stringify(added.json));
  assert.equal((added.json as PushJson).target, target);

  // node-b got it from Redis and could not apply it: a config problem it reports.
  const problem = await waitFor(async () => (await b.get<NodeJson>('/api/v1/node')).config.problems.find((p) => p.source === 'cluster'), 'node-b reports the shared push it cannot apply', 15_000);
  assert.match(problem.message, /^shared push \(cam → file:\/\/\$stream\/.*\) not applied here: file:\/\/ push targets need recordingsRoot/);
  assert.deepEqual((await a.get<NodeJson>('/api/v1/node')).config.problems, [], 'node-a applied it');

  // ffmpeg publishes cam to node-a: node-a records it under its root.
  ffmpegLiveEncoder(t, `srt://127.0.0.1:${a.srtPort}?streamid=publish:cam`, { size: '320x180', gop: 25 });
  interface RecordingJson { path: string; bytes: number }
  const recs = await waitFor(async () => {
    const r = (await a.get<{ recordings: RecordingJson[] }>('/api/v1/recordings?stream=cam')).recordings;
    return r.length > 0 ? r : undefined;
  }, 'a finished segment recorded on node-a', 30_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${a.log()}`);
  });
  assert.ok(existsSync(join(root, recs[0]!.path)), 'the segment is under node-a\'s recordingsRoot');
  assert.ok(recs[0]!.bytes > 0);

  // PUT replaces the shared push (a new cluster id: it derives from stream and target).
  const edited = await a.send('PUT', `/api/v1/pushes/${(added.json as PushJson).id}`, { stream: 'cam', target: 'file://$stream/edited-%H-%M-%S.ts?segmentSeconds=1', auto: true });
  assert.equal(edited.status, 200, JSON.stringify(edited.json));
  const filePushes = async (n: ClusterNode): Promise<string[]> => (await n.get<{ pushes: PushJson[] }>('/api/v1/pushes')).pushes.map((p) => p.target);
  assert.deepEqual(await filePushes(a), ['file://$stream/edited-%H-%M-%S.ts?segmentSeconds=1']);
  await waitFor(async () => {
    const msgs = (await b.get<NodeJson>('/api/v1/node')).config.problems.map((p) => p.message);
    return msgs.length === 1 && msgs[0]!.includes('edited-') ? msgs : undefined;
  }, 'node-b reports the edited push in place of the old one', 15_000);
});
