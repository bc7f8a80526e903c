/**
 * Stream leases against a real redis-server: claim, renew and release with fencing epochs; two
 * members racing for one stream; the replace policy taking a stream over (the old owner is fenced
 * and told); a lease lapsing when its owner stops renewing; and what a claim costs in Redis.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterMember, type ClusterMemberOptions } from '../src/cluster/cluster-member.js';
import { CommandCounter } from '../src/cluster/counter.js';
import { ClusterFencedError } from '../src/cluster/errors.js';
import { clusterKeys } from '../src/cluster/keys.js';
import { StreamLeases, type LeaseLost } from '../src/cluster/lease.js';
import { RedisHealth, createCommandConnection } from '../src/cluster/redis-health.js';
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


const cluster = new TestMembers('leases', 20000);
const members = cluster.members;
const prefix = (): string => cluster.prefix();
const member = (id: string, keyPrefix: string, extra: Partial<ClusterMemberOptions> = {}): Promise<ClusterMember> =>
  cluster.member(redis.url(), id, keyPrefix, extra);

function nextLost(m: ClusterMember, timeoutMs: number): Promise<LeaseLost> {
  return new Promise<LeaseLost>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no lost event within ${timeoutMs} ms`)), timeoutMs);
    m.leases.once('lost', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
  });
}

test('claim, renew and release: epochs increase, and only the current epoch may renew or release', async () => {
  const p = prefix();
  const a = await member('node-a', p);
  const first = await a.leases.claim('live/cam', { policy: 'refuse' });
  assert.deepEqual(first, { ok: true, epoch: 1 });
  assert.deepEqual(await a.leases.owner('live/cam'), { node: 'node-a', epoch: 1, srtAddress: a.srtAddress });
  assert.equal(a.leases.epochOf('live/cam'), 1);

  // Claiming a stream the node holds already renews it: same epoch.
  assert.deepEqual(await a.leases.claim('live/cam', { policy: 'refuse' }), { ok: true, epoch: 1 });
  assert.equal(await a.leases.renew('live/cam', 1), true);

  // Wrong epochs are fenced.
  assert.equal(await a.leases.release('live/cam', 7), false);
  assert.deepEqual(await a.leases.owner('live/cam'), { node: 'node-a', epoch: 1, srtAddress: a.srtAddress });

  assert.equal(await a.leases.release('live/cam', 1), true);
  assert.equal(await a.leases.owner('live/cam'), undefined);
  assert.equal(a.leases.epochOf('live/cam'), undefined);
  assert.equal(await a.leases.release('live/cam', 1), false, 'a second release finds nothing');

  // The epoch counter survives the lease: the next owner gets a higher epoch.
  assert.deepEqual(await a.leases.claim('live/cam', { policy: 'refuse' }), { ok: true, epoch: 2 });
  const list = await a.leases.list();
  assert.deepEqual(list, [{ stream: 'live/cam', node: 'node-a', epoch: 2, srtAddress: a.srtAddress }]);
});

test('two members race for the same streams: exactly one wins each, the loser learns the owner', async () => {
  const p = prefix();
  const a = await member('node-a', p);
  const b = await member('node-b', p);
  const streams = Array.from({ length: 25 }, (_, i) => `race-${i}`);
  const results = await Promise.all(
    streams.map(async (s) => {
      const [ra, rb] = await Promise.all([
        a.leases.claim(s, { policy: 'refuse' }),
        b.leases.claim(s, { policy: 'refuse' }),
      ]);
      return { s, ra, rb };
    }),
  );
  for (const { s, ra, rb } of results) {
    assert.equal(Number(ra.ok) + Number(rb.ok), 1, `exactly one winner for ${s}`);
    const [win, lose, winner] = ra.ok ? [ra, rb, a] : [rb, ra, b];
    assert.ok(win.ok && !lose.ok);
    assert.equal(win.epoch, 1);
    assert.deepEqual(lose.owner, { node: winner.nodeId, epoch: 1, srtAddress: winner.srtAddress });
    assert.deepEqual(await a.leases.owner(s), { node: winner.nodeId, epoch: 1, srtAddress: winner.srtAddress });
  }
});

test('replace takes the stream over with a new epoch; the old owner is fenced and told (lost)', async () => {
  const p = prefix();
  const a = await member('node-a', p);
  const b = await member('node-b', p);
  const ca = await a.leases.claim('news', { policy: 'refuse' });
  assert.ok(ca.ok);

  // refuse: B is told who holds it (the relay answers 1409).
  const refused = await b.leases.claim('news', { policy: 'refuse' });
  assert.deepEqual(refused, { ok: false, owner: { node: 'node-a', epoch: ca.epoch, srtAddress: a.srtAddress } });

  const lost = nextLost(a, 3000);
  const cb = await b.leases.claim('news', { policy: 'replace' });
  assert.ok(cb.ok);
  assert.equal(cb.epoch, ca.epoch + 1);
  assert.deepEqual(cb.previous, { node: 'node-a', epoch: ca.epoch, srtAddress: a.srtAddress });

  const l = await lost;
  assert.equal(l.stream, 'news');
  assert.equal(l.epoch, ca.epoch);
  assert.equal(l.reason, 'taken-over', 'the routing notice tells the old owner at once');
  assert.equal(l.owner?.node, 'node-b');
  assert.ok(l.error instanceof ClusterFencedError);
  assert.equal(l.error.code, 'ERR_CLUSTER_FENCED');
  assert.equal(a.leases.epochOf('news'), undefined);

  // The stale owner cannot renew or release (fencing), and B still owns it.
  assert.equal(await a.leases.renew('news', ca.epoch), false);
  assert.equal(await a.leases.release('news', ca.epoch), false);
  assert.deepEqual(await a.leases.owner('news'), { node: 'node-b', epoch: cb.epoch, srtAddress: b.srtAddress });
});

test('a lease marked quiet is taken over by a refuse claim; only its holder may mark it, and the mark keeps the TTL', async () => {
  const p = prefix();
  const a = await member('node-a', p);
  const b = await member('node-b', p);
  const ca = await a.leases.claim('quiet/cam', { policy: 'refuse' });
  assert.ok(ca.ok);
  const notices: unknown[] = [];
  b.leases.on('routing', (n) => {
    if (n.stream === 'quiet/cam' && n.op === 'quiet') notices.push(n);
  });
  assert.equal(await b.leases.markQuiet('quiet/cam', true), false, 'a node that does not hold the lease cannot mark it');
  assert.equal(await a.leases.markQuiet('quiet/cam', true), true);
  assert.deepEqual(await b.leases.owner('quiet/cam'), { node: 'node-a', epoch: ca.epoch, srtAddress: a.srtAddress, quiet: true });
  const ttl = await a.redis.pttl(a.keys.streamLease('quiet/cam'));
  assert.ok(ttl > 0 && ttl <= a.leases.ttlMs, `the lease keeps its TTL (${ttl} ms)`);
  await eventually(() => notices.length >= 1, 'the quiet notice reached the other node');
  assert.deepEqual(notices[0], { stream: 'quiet/cam', op: 'quiet', node: 'node-a', epoch: ca.epoch, srtAddress: a.srtAddress, quiet: true });

  // Not quiet any more: refuse holds again.
  assert.equal(await a.leases.markQuiet('quiet/cam', false), true);
  assert.deepEqual(await b.leases.claim('quiet/cam', { policy: 'refuse' }), { ok: false, owner: { node: 'node-a', epoch: ca.epoch, srtAddress: a.srtAddress } });

  // Quiet again: a refuse claim takes it over like replace, and the old owner is told.
  assert.equal(await a.leases.markQuiet('quiet/cam', true), true);
  const lost = nextLost(a, 3000);
  const cb = await b.leases.claim('quiet/cam', { policy: 'refuse' });
  assert.ok(cb.ok);
  assert.equal(cb.epoch, ca.epoch + 1);
  assert.equal(cb.previous?.node, 'node-a');
  assert.equal((await lost).reason, 'taken-over');
  assert.deepEqual(await a.leases.owner('quiet/cam'), { node: 'node-b', epoch: cb.epoch, srtAddress: b.srtAddress }, 'the new lease is not quiet');
  assert.equal(await a.leases.markQuiet('quiet/cam', true), false, 'the old owner cannot mark it any more');
});

test('without routing notices, the stale owner learns it at its next renewal (fenced)', async (t) => {
  const p = prefix();
  const keys = clusterKeys(p);
  const conn = createCommandConnection(redis.url(), { commandTimeoutMs: 5000 });
  t.after(() => conn.disconnect());
  await conn.connect();
  const health = new RedisHealth(conn);
  // A StreamLeases with no bus: only the renewal timer can notice the takeover.
  const counter = new CommandCounter();
  const a = new StreamLeases({ redis: conn, keys, health, counter, nodeId: 'node-a', srtAddress: '127.0.0.1:1', renewMs: 200, ttlMs: 1000 });
  t.after(() => a.stop());
  const b = await member('node-b', p);
  const ca = await a.claim('sports', { policy: 'refuse' });
  assert.ok(ca.ok);
  const lost = new Promise<LeaseLost>((resolve) => a.once('lost', resolve));
  const started = Date.now();
  const cb = await b.leases.claim('sports', { policy: 'replace' });
  assert.ok(cb.ok);
  const renewsBefore = counter.count('lease.renew');
  const l = await lost;
  assert.equal(l.reason, 'fenced');
  assert.equal(l.epoch, ca.epoch);
  assert.deepEqual(l.owner, { node: 'node-b', epoch: cb.epoch, srtAddress: b.srtAddress });
  assert.ok(counter.count('lease.renew') > renewsBefore, 'learnt by a renewal sent after the takeover (no bus to tell it)');
  t.diagnostic(`the stale owner noticed the takeover ${Date.now() - started} ms after it (renewMs 200)`);
});

test('held leases are renewed automatically past their TTL; one that is no longer renewed lapses when its TTL runs out', async (t) => {
  const p = prefix();
  const a = await member('node-a', p);
  const b = await member('node-b', p);
  const ca = await a.leases.claim('movie', { policy: 'refuse' });
  assert.ok(ca.ok);
  const claimedAt = Date.now();
  const renewsBefore = a.counter.count('lease.renew');
  // Wait (generous deadline) until the lease has outlived its 3000 ms TTL, renewed at least twice.
  await eventually(() => Date.now() - claimedAt > 3500 && a.counter.count('lease.renew') - renewsBefore >= 2, 'the lease outlives its TTL with renewals', 30_000);
  assert.deepEqual(await b.leases.owner('movie'), { node: 'node-a', epoch: ca.epoch, srtAddress: a.srtAddress }, 'still held after its TTL: the renewals kept it');
  t.diagnostic(`${a.counter.count('lease.renew') - renewsBefore} renewals in ${Date.now() - claimedAt} ms (renewMs 1000)`);

  // The owner stops renewing (as if it hung): the lease expires by its TTL in Redis, nothing else removes it.
  a.leases.stop();
  const renewsAtStop = a.counter.count('lease.renew');
  const pttl = await a.redis.pttl(a.keys.streamLease('movie'));
  assert.ok(pttl > 0 && pttl <= 3000, `the lease key expires by itself: TTL left ${pttl} ms (at most the 3000 ms TTL)`);
  const stopped = Date.now();
  await eventually(async () => (await b.leases.owner('movie')) === undefined, 'the lease lapses', 30_000);
  assert.equal(await a.redis.exists(a.keys.streamLease('movie')), 0, 'the lease key is gone from Redis');
  assert.equal(a.counter.count('lease.renew'), renewsAtStop, 'no renewal after stop()');
  t.diagnostic(`lapsed ${Date.now() - stopped} ms after renewals stopped (TTL left ${pttl} ms)`);

  const cb = await b.leases.claim('movie', { policy: 'refuse' });
  assert.deepEqual(cb, { ok: true, epoch: ca.epoch + 1 });
});

test('each claim, renew and release is one command, O(1) in Redis', async (t) => {
  const p = prefix();
  const a = await member('node-a', p);
  const b = await member('node-b', p);
  // No background renewals or heartbeats (of any member in this file) during the measurement.
  for (const m of members) {
    m.leases.stop();
    m.registry.stop();
  }

  const measure = async (what: string, fn: () => Promise<unknown>): Promise<{ client: number; server: Record<string, number> }> => {
    const c0 = a.counter.total + b.counter.total;
    const s0 = await commandStats(redis);
    await fn();
    const s1 = await commandStats(redis);
    const client = a.counter.total + b.counter.total - c0;
    const server = statsDelta(s0, s1);
    delete server['info'];
    delete server['client|setinfo'];
    delete server['client|setname'];
    t.diagnostic(`${what}: ${client} command(s) sent; Redis ran ${JSON.stringify(server)}`);
    return { client, server };
  };

  const claimNew = await measure('claim (free stream)', () => a.leases.claim('m1', { policy: 'refuse' }));
  assert.equal(claimNew.client, 1);
  assert.deepEqual(
    Object.fromEntries(Object.entries(claimNew.server).filter(([k]) => !k.startsWith('eval'))),
    { get: 1, incr: 1, set: 1, publish: 1 },
  );
  assert.equal((claimNew.server['evalsha'] ?? 0) + (claimNew.server['eval'] ?? 0), 1);

  const claimSelf = await measure('claim (held by self)', () => a.leases.claim('m1', { policy: 'refuse' }));
  assert.equal(claimSelf.client, 1);
  const claimRefused = await measure('claim (refused)', () => b.leases.claim('m1', { policy: 'refuse' }));
  assert.equal(claimRefused.client, 1);
  const claimReplace = await measure('claim (replace)', () => b.leases.claim('m1', { policy: 'replace' }));
  assert.equal(claimReplace.client, 1);
  const renew = await measure('renew', () => b.leases.renew('m1', b.leases.epochOf('m1')!));
  assert.equal(renew.client, 1);
  assert.equal(renew.server['get'], 1);
  assert.equal(renew.server['pexpire'], 1);
  const owner = await measure('owner', () => a.leases.owner('m1'));
  assert.equal(owner.client, 1);
  const release = await measure('release', () => b.leases.release('m1', b.leases.epochOf('m1')!));
  assert.equal(release.client, 1);

  // The counter accounts per operation, and over many claims grows by exactly one per claim.
  const before = a.counter.count('lease.claim');
  for (let i = 0; i < 50; i++) await a.leases.claim(`bulk-${i}`, { policy: 'refuse' });
  assert.equal(a.counter.count('lease.claim') - before, 50);

  // Renewing N held leases is N commands in one round trip.
  const n = a.leases.held().size;
  const r0 = a.counter.count('lease.renew');
  await a.leases.renewAll();
  assert.equal(a.counter.count('lease.renew') - r0, n);
  const snap = a.counter.snapshot();
  assert.equal(snap.byOp['lease.renew'], a.counter.count('lease.renew'));
});
