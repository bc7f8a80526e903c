/**
 * Redis restarted empty: each node reconnects on its own backoff, so a node that pulls a stream
 * may be back before the stream's owner has re-claimed its lease. Found by the chaos bench
 * (bench/chaos.ts): viewers on a pulling node lost ~20 messages after a Redis restart, because
 * that node's routing refresh saw no lease and stopped the working pull. The route and its pull
 * must survive until the owner has had one lease TTL to re-claim.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterNode } from './helpers/cluster-nodes.js';
import type { AfterHook } from './helpers/processes.js';
import { RedisServer } from './helpers/redis-server.js';
import { pulledStream } from './helpers/cluster-stream.js';
import { waitFor } from './helpers/relay-harness.js';
import { delay } from './helpers/srt-io.js';

test('after a Redis restart, a node back before the owner keeps routing and pulling the owner\'s stream (the owner re-claims late)', { timeout: 90_000 }, async (t) => {
  const cleanups: Array<() => unknown> = [];
  const hook: AfterHook = { after: (fn) => void cleanups.push(fn) };
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const redis = await RedisServer.start({ t: hook });
  const [owner, puller] = await Promise.all(['owner', 'puller'].map((id) => ClusterNode.start(hook, id, redis.url(), ['--log-level', 'info'])));
  const { pub, viewer } = await pulledStream(hook, owner!, puller!);
  const pullsBefore = (await puller!.sessions()).filter((s) => s.kind === 'cluster-pull' && s.stream === 'cam').map((s) => s.id);
  assert.equal(pullsBefore.length, 1, 'one internal pull');

  await redis.stop();
  await waitFor(async () => !(await puller!.cluster()).redis && !(await owner!.cluster()).redis, 'both nodes see Redis down');
  // The owner is held (SIGSTOP) while Redis comes back: the puller is back first, the owner late.
  owner!.proc.child.kill('SIGSTOP');
  let resumed = false;
  const resume = (): void => {
    if (!resumed) owner!.proc.child.kill('SIGCONT');
    resumed = true;
  };
  cleanups.push(resume);
  await redis.start();
  await waitFor(async () => (await puller!.cluster()).redis, 'the puller is back on Redis', 15_000);
  await delay(2500); // its restore refresh and one periodic refresh (2 s) ran with the lease absent
  const during = await puller!.cluster();
  resume();
  assert.equal(during.remote['cam'], 'owner', `the puller still routes cam to the owner while the owner has not re-claimed yet (${JSON.stringify(during.remote)})`);
  await waitFor(async () => (await owner!.cluster()).owned['cam'] !== undefined && (await owner!.cluster()).redis, 'the owner re-claimed cam', 15_000);
  const mark = viewer.packets;
  await waitFor(() => viewer.packets > mark + 200, 'the viewer receives after the owner is back', 15_000);
  const pullsAfter = (await puller!.sessions()).filter((s) => s.kind === 'cluster-pull' && s.stream === 'cam').map((s) => s.id);
  assert.deepEqual(pullsAfter, pullsBefore, 'the same internal pull carried the stream through the Redis restart');
  assert.equal(viewer.closed, false, 'the viewer stayed connected');
  await pub.stop();
});
