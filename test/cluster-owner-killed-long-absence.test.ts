/**
 * A stream's owner node killed (SIGKILL) and its encoder away for a while (20 s here, longer
 * than the default failoverTimeoutMs of 10 s) before it publishes again on a surviving node:
 * the viewers already connected on the surviving nodes stay connected and receive the stream
 * again, on the node the encoder came back to and on the one that pulls from it. This is what a
 * viewer on the owner node itself gets for a stream published without configuration (a dynamic
 * stream): it is held until a publisher is back. Found through nginx with the deploy config's
 * max_fails=0 (cluster-relay.test.ts): the encoder needed 16-21 s to hash onto a live node and
 * the survivors had closed their viewers ("no source within failoverTimeoutMs") by then.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterNode } from './helpers/cluster-nodes.js';
import type { AfterHook } from './helpers/processes.js';
import { RedisServer } from './helpers/redis-server.js';
import { pulledStream } from './helpers/cluster-stream.js';
import { countingReceiver, pacedPublisher, publishWhenFree, waitFor } from './helpers/relay-harness.js';
import { connectBinding, delay } from './helpers/srt-io.js';

interface LogLine {
  msg?: string;
  kind?: string;
  stream?: string;
  reason?: string;
  time?: string;
}

/** The node's log lines about stream `stream`. */
function streamLog(node: ClusterNode, stream: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of node.proc.stdout().toString('utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const l = JSON.parse(line) as LogLine;
      if (l.stream === stream) out.push(l);
    } catch {
      // a partial line
    }
  }
  return out;
}

test('owner node killed and the encoder away 20 s: viewers on the surviving nodes stay connected and receive it again when it publishes on one of them', { timeout: 90_000 }, async (t) => {
  const cleanups: Array<() => unknown> = [];
  const hook: AfterHook = { after: (fn) => void cleanups.push(fn) };
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const redis = await RedisServer.start({ t: hook });
  const [owner, back, other] = await Promise.all(['owner', 'back', 'other'].map((id) => ClusterNode.start(hook, id, redis.url(), ['--log-level', 'info'])));

  const { pub, pubSock, viewer: onBack } = await pulledStream(hook, owner!, back!);
  await waitFor(async () => (await other!.cluster()).remote['cam'] === owner!.id, `${other!.id} routes cam to the owner`);
  const otherSock = await connectBinding(other!.srtPort, { streamid: 'read:cam', latency: 120 });
  cleanups.push(() => otherSock.close());
  const onOther = countingReceiver(otherSock, 1);
  await waitFor(() => onOther.packets > 100, `the viewer on ${other!.id} receives`);

  await owner!.kill();
  await pub.stop();
  pubSock.close();
  const killedAt = Date.now();
  for (const n of [back!, other!]) await waitFor(async () => (await n.cluster()).remote['cam'] === undefined, `${n.id} no longer routes cam to the dead owner`, 20_000);
  // The encoder stays away 20 s from the kill (it retries elsewhere, an LB sends it to the dead node...).
  await delay(Math.max(0, killedAt + 20_000 - Date.now()));

  const { socket: again } = await publishWhenFree(back!.srtPort, 'cam', 15_000);
  cleanups.push(() => again.close());
  const pub2 = pacedPublisher(again, { pps: 200, tag: 1 });
  cleanups.push(() => pub2.stop());
  const marks = [onBack.packets, onOther.packets];
  const viewers = [
    { node: back!, v: onBack },
    { node: other!, v: onOther },
  ];
  try {
    await waitFor(() => viewers.every(({ v }, i) => v.packets > marks[i]! + 100 || v.closed), 'the viewers on the surviving nodes receive the new publisher (or were closed)', 15_000);
  } finally {
    for (const { node } of viewers) t.diagnostic(`${node.id}: ${streamLog(node, 'cam').filter((l) => Date.parse(l.time ?? '') >= killedAt).map((l) => `+${Date.parse(l.time ?? '') - killedAt} ms ${l.msg}${l.kind !== undefined ? ` (${l.kind})` : ''}${l.reason !== undefined ? `: ${l.reason}` : ''}`).join(' | ')}`);
  }
  for (const { node, v } of viewers) {
    assert.equal(v.closed, false, `the viewer on ${node.id} stayed connected across the owner's death and the encoder's absence`);
    assert.ok(v.packets > 100, `the viewer on ${node.id} receives again`);
  }
  await pub2.stop();
});
