/**
 * The shared configuration in Redis against a real redis-server: a change on member A reaches
 * member B as a typed event with the value; values are checked by the config loader's rules;
 * deletes; pushes and auth settings; and `srt-relay config import FILE` / `config export`
 * (runConfigCommand) round-tripping a config file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ClusterMember, type ClusterMemberOptions } from '../src/cluster/cluster-member.js';
import { runConfigCommand } from '../src/cli/config-command.js';
import { pushId, type ConfigChange } from '../src/cluster/config-store.js';
import { TestMembers } from './helpers/cluster-members.js';
import { RedisServer, eventually, freeTcpPort } from './helpers/redis-server.js';

let redis: RedisServer;
let dir: string;

before(async () => {
  redis = await RedisServer.start();
  dir = mkdtempSync(join(tmpdir(), 'srt-relay-cluster-config-'));
});

after(async () => {
  await Promise.allSettled(members.map((m) => m.close()));
  await redis.close();
  rmSync(dir, { recursive: true, force: true });
});


const cluster = new TestMembers('config', 22000);
const members = cluster.members;
const prefix = (): string => cluster.prefix();
const member = (id: string, keyPrefix: string, extra: Partial<ClusterMemberOptions> = {}): Promise<ClusterMember> =>
  cluster.member(redis.url(), id, keyPrefix, extra);

/** Collects a member's change events. */
function changes(m: ClusterMember): { list: ConfigChange[]; next(pred?: (c: ConfigChange) => boolean, timeoutMs?: number): Promise<ConfigChange> } {
  const list: ConfigChange[] = [];
  let seen = 0;
  m.config.on('change', (c) => list.push(c));
  return {
    list,
    async next(pred = () => true, timeoutMs = 5000) {
      return eventually(
        () => {
          while (seen < list.length) {
            const c = list[seen++]!;
            if (pred(c)) return c;
          }
          return undefined;
        },
        'a config change event',
        timeoutMs,
      );
    },
  };
}

class Capture extends PassThrough {
  text = '';
  constructor() {
    super();
    this.on('data', (d: Buffer) => {
      this.text += d.toString('utf8');
    });
  }
}

async function cli(args: string[], keyPrefix: string, url: string | null = redis.url()): Promise<{ code: number; out: string; err: string }> {
  const out = new Capture();
  const err = new Capture();
  const code = await runConfigCommand(args, url ?? undefined, out, err, { keyPrefix, connectTimeoutMs: 10_000 });
  return { code, out: out.text, err: err.text };
}

test('a stream put on member A reaches member B as a change event with the stream JSON', async () => {
  const p = prefix();
  const a = await member('node-a', p);
  const b = await member('node-b', p);
  const onA = changes(a);
  const onB = changes(b);

  const res = await a.config.putStream('live/cam', {
    source: 'push://',
    passphrase: { publish: 'publish-secret-1' },
    onPublisherConflict: 'replace',
  });
  assert.equal(res.outcome, 'created');
  const expected = { source: 'push://', passphrase: { publish: 'publish-secret-1' }, onPublisherConflict: 'replace' };
  assert.deepEqual(res.value, expected, 'stored canonical: defaults left out');

  const got = await onB.next();
  assert.deepEqual(got, { kind: 'stream', op: 'put', name: 'live/cam', value: expected, by: 'node-a', local: false });
  const own = await onA.next();
  assert.equal(own.local, true, 'the writer receives its own change, marked local');

  assert.deepEqual(await b.config.getStream('live/cam'), expected);
  assert.deepEqual(await b.config.listStreams(), { 'live/cam': expected });

  // Writing the same value again changes nothing and notifies nobody.
  assert.equal((await a.config.putStream('live/cam', expected)).outcome, 'unchanged');
  const changed = await a.config.putStream('live/cam', { source: 'srt://10.0.0.9:9000?latency=200' });
  assert.equal(changed.outcome, 'changed');
  const next = await onB.next();
  assert.equal(next.op, 'put');
  assert.deepEqual(next.op === 'put' ? next.value : undefined, { source: 'srt://10.0.0.9:9000?latency=200' });

  // Every stream setting round-trips, backups and join mode included; defaults are left out.
  const multi = { sources: ['srt://10.0.0.1:9000', 'srt://10.0.0.2:9000'], join: 'live', alwaysOn: true };
  assert.deepEqual((await a.config.putStream('multi', { ...multi, raw: false })).value, multi);
  const m = await onB.next((c) => c.name === 'multi');
  assert.deepEqual(m.op === 'put' ? m.value : undefined, multi);
});

test('invalid values are refused before anything is written', async () => {
  const p = prefix();
  const a = await member('node-a', p);
  await assert.rejects(a.config.putStream('bad', { source: 'http://nope' }), (e: Error & { code?: string }) => e.code === 'ERR_CONFIG_INVALID');
  await assert.rejects(
    a.config.putStream('short', { source: 'push://', passphrase: { play: 'short' } }),
    (e: Error & { code?: string }) => e.code === 'ERR_CONFIG_INVALID' && !e.message.includes('short"'),
  );
  await assert.rejects(a.config.putStream('bad name!', { source: 'push://' }), (e: Error & { code?: string }) => e.code === 'ERR_CONFIG_INVALID');
  await assert.rejects(a.config.putPush({ stream: 'x', target: 'srt://host' }), (e: Error & { code?: string }) => e.code !== undefined);
  await assert.rejects(a.config.putAuthSetting('timeoutMs', -5), (e: Error & { code?: string }) => e.code === 'ERR_CONFIG_INVALID');
  assert.deepEqual(await a.config.exportConfig(), { streams: {}, pushes: [], auth: {} });
});

test('delete reaches every member; pushes and auth settings work the same way', async () => {
  const p = prefix();
  const a = await member('node-a', p);
  const b = await member('node-b', p);
  const onB = changes(b);

  await a.config.putStream('news', { source: 'push://' });
  await onB.next((c) => c.name === 'news');
  assert.equal(await a.config.deleteStream('news'), true);
  assert.deepEqual(await onB.next(), { kind: 'stream', op: 'delete', name: 'news', by: 'node-a', local: false });
  assert.equal(await a.config.deleteStream('news'), false, 'deleting again finds nothing (and notifies nobody)');
  assert.equal(await b.config.getStream('news'), undefined);

  const push = { stream: 'news', target: 'srt://203.0.113.7:9000?latency=300' };
  const put = await b.config.putPush(push);
  assert.equal(put.id, pushId(push));
  assert.equal(put.outcome, 'created');
  const onA = changes(a);
  await a.config.putAuthSetting('webhook', 'https://auth.example.com/srt');
  const pc = await onB.next((c) => c.kind === 'push');
  assert.deepEqual(pc, { kind: 'push', op: 'put', name: put.id, value: push, by: 'node-b', local: true });
  const ac = await onB.next((c) => c.kind === 'auth');
  assert.deepEqual(ac, { kind: 'auth', op: 'put', name: 'webhook', value: 'https://auth.example.com/srt', by: 'node-a', local: false });
  await onA.next((c) => c.kind === 'auth');
  assert.deepEqual(await a.config.listPushes(), { [put.id]: push });
  assert.deepEqual(await b.config.getAuth(), { webhook: 'https://auth.example.com/srt' });
  assert.equal(await a.config.deletePush(put.id), true);
  assert.deepEqual(await onB.next((c) => c.kind === 'push'), { kind: 'push', op: 'delete', name: put.id, by: 'node-a', local: false });
});

test('config import FILE / config export round trip, with live notices to members', async () => {
  const p = prefix();
  const b = await member('node-b', p);
  const onB = changes(b);
  writeFileSync(join(dir, 'clip.ts'), '');
  const file = join(dir, 'relay.json');
  writeFileSync(
    file,
    JSON.stringify({
      nodeId: 'whatever',
      srt: { ports: [{ port: 8889, direction: 'both' }] },
      streams: {
        'live/cam': { source: 'push://', passphrase: { publish: 'publish-secret-1', play: 'play-secret-22' } },
        studio: { source: 'srt://10.1.2.3:9000?latency=250', onPublisherConflict: 'replace', bufferTimeMs: 20000 },
        loop: { source: 'file://clip.ts', alwaysOn: true },
      },
      pushes: [{ stream: 'live/cam', target: 'srt://198.51.100.4:7000', auto: true }],
      auth: { webhook: 'https://auth.example.com/srt', timeoutMs: 1500 },
    }),
  );
  const imp = await cli(['import', file], p);
  assert.equal(imp.code, 0, imp.err);
  assert.match(imp.out, /6 created, 0 changed, 0 unchanged, 0 deleted/);

  const expected = {
    streams: {
      'live/cam': { source: 'push://', passphrase: { publish: 'publish-secret-1', play: 'play-secret-22' } },
      loop: { source: `file://${join(dir, 'clip.ts')}`, alwaysOn: true },
      studio: { source: 'srt://10.1.2.3:9000?latency=250', bufferTimeMs: 20000, onPublisherConflict: 'replace' },
    },
    pushes: [{ stream: 'live/cam', target: 'srt://198.51.100.4:7000', auto: true }],
    auth: { webhook: 'https://auth.example.com/srt', timeoutMs: 1500 },
  };
  // Every entry reached the running member live.
  await eventually(() => onB.list.length >= 6, 'six change events (3 streams, 1 push, 2 auth settings)');
  assert.deepEqual(
    onB.list.map((c) => `${c.kind}:${c.name}:${c.op}`).sort(),
    ['auth:timeoutMs:put', 'auth:webhook:put', `push:${pushId(expected.pushes[0]!)}:put`, 'stream:live/cam:put', 'stream:loop:put', 'stream:studio:put'],
  );
  assert.ok(onB.list.every((c) => c.by.startsWith('cli:') && !c.local));

  // A backup to import back needs the secrets: --show-secrets (masked by default).
  const exp = await cli(['export', '--show-secrets'], p);
  assert.equal(exp.code, 0, exp.err);
  const exported = JSON.parse(exp.out) as unknown;
  assert.deepEqual(exported, expected);

  // The export is a config file import accepts back: nothing changes.
  const again = join(dir, 'exported.json');
  writeFileSync(again, exp.out);
  const imp2 = await cli(['import', again], p);
  assert.equal(imp2.code, 0, imp2.err);
  assert.match(imp2.out, /0 created, 0 changed, 6 unchanged, 0 deleted/);

  // The export hides passphrases by default, also inside srt:// URLs (--mask-secrets, the old flag, too).
  await b.config.putStream('secret', { source: 'srt://10.9.9.9:9000?passphrase=supersecretpass' });
  await eventually(() => onB.list.some((c) => c.name === 'secret'), 'the secret stream event');
  for (const args of [['export'], ['export', '--mask-secrets']]) {
    const masked = await cli(args, p);
    assert.equal(masked.code, 0);
    assert.ok(!masked.out.includes('publish-secret-1') && !masked.out.includes('supersecretpass'), masked.out);
  }

  // Import replaces: a file with one stream leaves exactly that stream (and no pushes, no auth).
  const small = join(dir, 'small.json');
  writeFileSync(small, JSON.stringify({ streams: { studio: { source: 'push://' } } }));
  onB.list.length = 0;
  const imp3 = await cli(['import', small], p);
  assert.equal(imp3.code, 0, imp3.err);
  // studio changed; live/cam, loop, secret, the push, webhook and timeoutMs deleted.
  assert.match(imp3.out, /0 created, 1 changed, 0 unchanged, 6 deleted/);
  assert.deepEqual(await b.config.exportConfig(), { streams: { studio: { source: 'push://' } }, pushes: [], auth: {} });
  await eventually(() => onB.list.length >= 7, 'one put and six deletes');
  assert.deepEqual(onB.list.map((c) => c.op).sort(), ['delete', 'delete', 'delete', 'delete', 'delete', 'delete', 'put']);
  // --merge keeps what the file does not name.
  const other = join(dir, 'other.json');
  writeFileSync(other, JSON.stringify({ streams: { extra: { source: 'push://' } } }));
  const imp4 = await cli(['import', '--merge', other], p);
  assert.equal(imp4.code, 0, imp4.err);
  assert.deepEqual(Object.keys((await b.config.exportConfig()).streams), ['extra', 'studio']);
});

test('config command errors: invalid file (2, nothing written), no --redis (2), Redis unreachable (1)', async () => {
  const p = prefix();
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ streams: { x: { source: 'srt://:99999' } } }));
  const r1 = await cli(['import', bad], p);
  assert.equal(r1.code, 2);
  assert.match(r1.err, /^error ERR_CONFIG_INVALID: /);
  assert.equal((await cli(['export'], p)).out.trim(), JSON.stringify({ streams: {}, pushes: [], auth: {} }, null, 2));

  const r2 = await cli(['export'], p, null);
  assert.equal(r2.code, 2);
  assert.match(r2.err, /--redis/);

  const r3 = await cli(['frobnicate'], p);
  assert.equal(r3.code, 2);

  const closedPort = await freeTcpPort();
  const out = new Capture();
  const err = new Capture();
  const code = await runConfigCommand(['export'], `redis://127.0.0.1:${closedPort}/0`, out, err, { keyPrefix: p, connectTimeoutMs: 1000 });
  assert.equal(code, 1);
  assert.match(err.text, /^error ERR_CLUSTER_UNAVAILABLE: /);
});
