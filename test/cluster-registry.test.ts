/**
 * The node registry against a real redis-server: members see each other with their addresses
 * and load, a node that stops heartbeating disappears within 5 s, a clean close removes the
 * entry at once, a node id cannot be taken by a second live node, and a heartbeat is one command.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterMember, type ClusterMemberOptions } from '../src/cluster/cluster-member.js';
import type { NodeLoad } from '../src/cluster/registry.js';
import { TestMembers } from './helpers/cluster-members.js';
import { RedisServer, commandStats, eventually, statsDelta } from './helpers/redis-server.js';

let redis: RedisServer;

before(async () => {
  redis = await RedisServer.start();
});

after(async () => {
  await Promise.allSettled(members.map((m) => m.close()));
  await redis.close();
});


const cluster = new TestMembers('registry', 21000);
const members = cluster.members;
const prefix = (): string => cluster.prefix();
const member = (id: string, keyPrefix: string, extra: Partial<ClusterMemberOptions> = {}): Promise<ClusterMember> =>
  cluster.member(redis.url(), id, keyPrefix, extra);

test('two nodes see each other with their addresses', async () => {
  const p = prefix();
  const a = await member('node-a', p);
  const b = await member('node-b', p);
  for (const m of [a, b]) {
    const list = await m.registry.list();
    assert.deepEqual(
      list.map((n) => ({ id: n.id, srt: n.srtAddress, api: n.apiAddress })),
      [
        { id: 'node-a', srt: a.srtAddress, api: a.apiAddress },
        { id: 'node-b', srt: b.srtAddress, api: b.apiAddress },
      ],
    );
    for (const n of list) {
      assert.ok(n.startedAt > 0 && n.heartbeatAt >= n.startedAt - 1000, 'times from the Redis clock');
      assert.deepEqual(Object.keys(n.load).sort(), ['bandwidthMbps', 'cpu', 'sessions', 'streams']);
    }
  }
  const got = await a.registry.get('node-b');
  assert.equal(got?.srtAddress, b.srtAddress);
  assert.equal(await a.registry.get('node-zzz'), undefined);
});

test('a node that stops heartbeating disappears from list() when its entry\'s TTL (at most ttlMs) runs out', async (t) => {
  const p = prefix();
  const a = await member('node-a', p);
  const b = await member('node-b', p);
  assert.equal((await a.registry.list()).length, 2);
  // B hangs: no more heartbeats, nothing cleaned up (as if the process died).
  b.registry.stop();
  const stopped = Date.now();
  const pttl = await a.redis.pttl(a.keys.node('node-b'));
  assert.ok(pttl > 0 && pttl <= b.registry.ttlMs, `node-b's entry expires by itself: TTL left ${pttl} ms (at most ttlMs ${b.registry.ttlMs})`);
  await eventually(async () => (await a.registry.list()).every((n) => n.id !== 'node-b'), 'node-b disappears', 30_000);
  const goneAfter = Date.now() - stopped;
  assert.equal(await a.redis.exists(a.keys.node('node-b')), 0, 'its entry expired in Redis');
  t.diagnostic(`a node that stopped heartbeating was gone from list() after ${goneAfter} ms`);
  assert.equal(await a.registry.get('node-b'), undefined);
  assert.deepEqual((await a.registry.list()).map((n) => n.id), ['node-a'], 'the live node stays listed');
});

test('load fields come from the callback and follow it at each heartbeat', async () => {
  const p = prefix();
  let load: NodeLoad = { sessions: 7, streams: 2, cpu: 0.25, bandwidthMbps: 12.5 };
  const a = await member('node-a', p, { load: () => load });
  const b = await member('node-b', p);
  assert.deepEqual((await b.registry.get('node-a'))?.load, { sessions: 7, streams: 2, cpu: 0.25, bandwidthMbps: 12.5 });
  load = { sessions: 120, streams: 9, cpu: 0.5, bandwidthMbps: 480 };
  await eventually(async () => (await b.registry.get('node-a'))?.load.sessions === 120, 'the next heartbeat carries the new load', 5000);
  assert.deepEqual((await b.registry.get('node-a'))?.load, load);
  // The default load source reports this process' CPU share and zeros.
  const bl = (await a.registry.get('node-b'))?.load;
  assert.ok(bl !== undefined && bl.cpu >= 0 && bl.cpu <= 1 && bl.sessions === 0);
  // A callback that throws does not stop the heartbeats.
  a.registry.setLoadSource(() => {
    throw new Error('boom');
  });
  await a.registry.heartbeat();
  assert.deepEqual((await b.registry.get('node-a'))?.load, { sessions: 0, streams: 0, cpu: 0, bandwidthMbps: 0 });
});

test('close removes the entry at once; a live node id cannot be reused by another address', async () => {
  const p = prefix();
  const a = await member('node-a', p);
  const b = await member('node-b', p);
  await assert.rejects(
    member('node-a', p, { srtAddress: '127.0.0.1:29999', apiAddress: 'http://127.0.0.1:39999' }),
    (err: Error & { code?: string }) => err.code === 'ERR_CONFIG_INVALID' && /node id 'node-a' is used/.test(err.message),
  );
  await a.close();
  assert.deepEqual((await b.registry.list()).map((n) => n.id), ['node-b']);
  // Same id and addresses (the node restarted): allowed.
  const again = await member('node-b', p, { srtAddress: b.srtAddress, apiAddress: b.apiAddress });
  assert.deepEqual((await again.registry.list()).map((n) => n.id), ['node-b']);
});

test('a heartbeat is one command; listing N nodes is one command', async (t) => {
  const p = prefix();
  const a = await member('node-a', p, { heartbeatMs: 60_000, nodeTtlMs: 120_000 });
  await member('node-b', p, { heartbeatMs: 60_000, nodeTtlMs: 120_000 });
  await member('node-c', p, { heartbeatMs: 60_000, nodeTtlMs: 120_000 });
  // No background heartbeats or renewals (of any member in this file) during the measurement.
  for (const m of members) {
    m.registry.stop();
    m.leases.stop();
  }
  const ignore = new Set(['info', 'client|setinfo', 'client|setname', 'evalsha', 'eval']);
  const measure = async (what: string, fn: () => Promise<unknown>): Promise<{ client: number; server: Record<string, number> }> => {
    const c0 = a.counter.total;
    const s0 = await commandStats(redis);
    await fn();
    const s1 = await commandStats(redis);
    const server = statsDelta(s0, s1);
    const scripts = (server['evalsha'] ?? 0) + (server['eval'] ?? 0);
    for (const k of ignore) delete server[k];
    t.diagnostic(`${what}: ${a.counter.total - c0} command(s) sent (${scripts} script call); Redis ran ${JSON.stringify(server)}`);
    return { client: a.counter.total - c0, server };
  };
  const hb = await measure('heartbeat', () => a.registry.heartbeat());
  assert.equal(hb.client, 1);
  assert.deepEqual(hb.server, { time: 1, hset: 1, pexpire: 1, zadd: 1, zremrangebyscore: 1 });
  const list = await measure('list (3 nodes)', () => a.registry.list());
  assert.equal(list.client, 1);
  assert.equal(list.server['hgetall'], 3);
});
