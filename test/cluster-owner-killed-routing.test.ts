/**
 * A stream's owner node killed (SIGKILL): a node that pulls the stream from it must stop routing
 * the stream there as soon as the dead owner's lease lapses (one lease TTL, 3 s, after its last
 * renewal), not at its next full routing refresh: until then an encoder that reconnects to this
 * node gets 1409. Found by the chaos bench (bench/chaos.ts, "owner kills step by step"): the
 * survivors dropped the route 2.5–4.7 s after the kill, with the 2 s refresh. The node sees that
 * the pull from the owner brings no media and re-reads the lease until it changes or lapses.
 *
 * The routing refresh is set to 60 s here, so only that watch can drop the route before the
 * internal pull itself ends by libsrt's 5 s peer idle timeout: the proof is that the pull session
 * is closed by the route drop ("stream no longer live in the cluster") while still open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterNode } from './helpers/cluster-nodes.js';
import type { AfterHook } from './helpers/processes.js';
import { RedisServer } from './helpers/redis-server.js';
import { pulledStream } from './helpers/cluster-stream.js';
import { pacedPublisher, publishWhenFree, waitFor } from './helpers/relay-harness.js';

interface LogLine {
  msg?: string;
  kind?: string;
  stream?: string;
  reason?: string;
}

function logLines(node: ClusterNode): LogLine[] {
  const out: LogLine[] = [];
  for (const line of node.proc.stdout().toString('utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // a partial line
    }
  }
  return out;
}

test('owner node killed: a node pulling from it drops the route when the lease lapses, closing its still-open pull, and takes a new publisher', { timeout: 60_000 }, async (t) => {
  const cleanups: Array<() => unknown> = [];
  const hook: AfterHook = { after: (fn) => void cleanups.push(fn) };
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const dir = mkdtempSync(join(tmpdir(), 'srt-relay-owner-killed-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'node.json');
  writeFileSync(config, JSON.stringify({ cluster: { routingRefreshMs: 60_000 } }));
  const redis = await RedisServer.start({ t: hook });
  const [owner, puller] = await Promise.all(['owner', 'puller'].map((id) => ClusterNode.start(hook, id, redis.url(), ['--config', config, '--log-level', 'info'])));

  const { pub, pubSock, viewer } = await pulledStream(hook, owner!, puller!);
  assert.equal((await puller!.sessions()).filter((s) => s.kind === 'cluster-pull' && s.stream === 'cam').length, 1, 'one internal pull');

  await owner!.kill();
  await pub.stop();
  pubSock.close();
  await waitFor(async () => (await puller!.cluster()).remote['cam'] === undefined, 'the puller no longer routes cam to the dead owner', 20_000);

  // The pull's "session ended" line follows the route drop (the worker closes it, then reports).
  const pullEnded = (): LogLine[] => logLines(puller!).filter((l) => l.msg === 'session ended' && l.kind === 'cluster-pull' && l.stream === 'cam');
  await waitFor(() => pullEnded().length > 0, 'the internal pull ended', 5_000);
  const ended = pullEnded();
  assert.equal(ended.length, 1, `the internal pull ended once: ${JSON.stringify(ended)}`);
  assert.equal(ended[0]!.reason, 'stream no longer live in the cluster', `the route drop closed the internal pull while it was still open (not libsrt's idle timeout): ${JSON.stringify(ended[0])}`);

  // The encoder comes back on the puller: accepted, and the viewer there receives it without reconnecting.
  const { socket: again } = await publishWhenFree(puller!.srtPort, 'cam', 15_000);
  cleanups.push(() => again.close());
  const pub2 = pacedPublisher(again, { pps: 200, tag: 1 });
  cleanups.push(() => pub2.stop());
  const mark = viewer.packets;
  await waitFor(() => viewer.packets > mark + 100, 'the viewer on the puller receives the new publisher', 15_000);
  assert.equal(viewer.closed, false, 'the viewer stayed connected');
  await pub2.stop();
});
