/**
 * The `srt-relay` command as a user runs it: a node starts on the given ports, serves publish and
 * play on its SRT port and the API, and SIGTERM closes every session and exits 0 by its orderly
 * stop (not by the 5 s stop deadline).
 * `srt-relay url` checks URLs; a bad config file exits non-zero naming the key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SrtSocket } from '../src/srt/socket.js';
import { freeUdpPort, waitUdpBound } from './helpers/free-port.js';
import { freeTcpPort } from './helpers/redis-server.js';
import { spawnFor } from './helpers/processes.js';

const BIN = fileURLToPath(new URL('../../bin/srt-relay.js', import.meta.url));

test('srt-relay starts a node, serves publish and play, and on SIGTERM closes the viewer and exits 0 by its orderly stop, not its 5 s deadline', { timeout: 60_000 }, async (t) => {
  const srtPort = await freeUdpPort();
  const apiPort = await freeTcpPort(); // free for TCP (a UDP-free number may be a TCP connection's local port)
  const node = spawnFor(t, process.execPath, [BIN, '--srt-port', String(srtPort), '--api-port', String(apiPort), '--workers', '2', '--log-level', 'info']);
  await node.waitForLine('HTTP API listening', { timeoutMs: 20_000 });
  await waitUdpBound(srtPort);
  const health = (await (await fetch(`http://127.0.0.1:${apiPort}/healthz`)).json()) as { status: string };
  assert.equal(health.status, 'ok');

  const pub = SrtSocket.create({ streamid: 'publish:cli' });
  await pub.connect('127.0.0.1', srtPort);
  // Not MPEG-TS (no sync bytes): relayed as it comes, with no wait for a keyframe.
  const packet = new Uint8Array(1316).fill(0xab);
  for (let i = 0; i < 20; i++) pub.send(packet);
  // The node registers the publisher asynchronously after the handshake: play once it is live.
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`http://127.0.0.1:${apiPort}/api/v1/streams/cli`);
    if (r.status === 200 && ((await r.json()) as { state: string }).state === 'live') break;
    await new Promise((res) => setTimeout(res, 50));
  }
  const viewer = SrtSocket.create({ streamid: 'read:cli' });
  await viewer.connect('127.0.0.1', srtPort);
  let viewerClosed = false;
  const buf = new Uint8Array(1500);
  let got = 0;
  viewer.on({
    readable: () => {
      while (viewer.recv(buf) > 0) got++;
    },
    closed: () => {
      viewerClosed = true;
    },
  });
  for (let i = 0; i < 50 && got === 0; i++) {
    pub.send(packet);
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(got > 0, 'the viewer receives what the publisher sends');
  const streams = (await (await fetch(`http://127.0.0.1:${apiPort}/api/v1/streams/cli`)).json()) as { state: string; viewers: number };
  assert.equal(streams.state, 'live');
  assert.equal(streams.viewers, 1);

  const sent = Date.now();
  node.child.kill('SIGTERM');
  const exit = await node.waitExit(30_000);
  assert.equal(exit.code, 0, `exit code 0 (got ${exit.code}, signal ${exit.signal})`);
  t.diagnostic(`exited ${Date.now() - sent} ms after SIGTERM`);
  assert.match(node.output(), /"msg":"stopping"/, 'the node logged its orderly stop');
  assert.doesNotMatch(node.output(), /clean stop took too long/, 'the orderly stop finished before the 5 s stop deadline forced the exit');
  for (let i = 0; i < 600 && !viewerClosed; i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(viewerClosed, 'the viewer session was closed by the node');
  pub.close();
  viewer.close();
});

test('srt-relay url prints the parsed URL, or the error with exit code 2', { timeout: 30_000 }, async (t) => {
  const ok = spawnFor(t, process.execPath, [BIN, 'url', 'srt://127.0.0.1:9000?streamid=#!::r=cam,m=publish&latency=200']);
  const okExit = await ok.waitExit(15_000);
  assert.equal(okExit.code, 0);
  const parsed = JSON.parse(ok.stdout().toString()) as { mode: string; options: { streamid: string; latency: number } };
  assert.equal(parsed.mode, 'caller');
  assert.equal(parsed.options.streamid, '#!::r=cam,m=publish');
  assert.equal(parsed.options.latency, 200);
  const bad = spawnFor(t, process.execPath, [BIN, 'url', 'srt://:9000?latncy=200']);
  const badExit = await bad.waitExit(15_000);
  assert.equal(badExit.code, 2);
  assert.match(bad.stderr(), /ERR_SRT_OPTION_UNKNOWN.*latency/);
});

test('a bad config file exits non-zero naming the key and what is wrong', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'srt-relay-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.json');
  await writeFile(file, JSON.stringify({ srt: { ports: [{ port: 9000, direction: 'sideways' }] } }));
  const p = spawnFor(t, process.execPath, [BIN, '--config', file]);
  const exit = await p.waitExit(15_000);
  assert.notEqual(exit.code, 0);
  assert.match(p.stderr(), /srt\.ports\[0\]\.direction/);
});

test('srt-relay config import FILE then config export round-trips the shared configuration through Redis', { timeout: 60_000 }, async (t) => {
  const { RedisServer } = await import('./helpers/redis-server.js');
  const redis = await RedisServer.start({ t });
  const dir = await mkdtemp(join(tmpdir(), 'srt-relay-cfg-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'cluster.json');
  await writeFile(
    file,
    JSON.stringify({
      streams: { studio: { source: 'push://', passphrase: { play: 'viewer-secret-22' } } },
      pushes: [{ stream: 'studio', target: 'srt://127.0.0.1:9999', auto: true }],
    }),
  );
  const imp = spawnFor(t, process.execPath, [BIN, 'config', 'import', file, '--redis', redis.url()]);
  const impExit = await imp.waitExit(30_000);
  assert.equal(impExit.code, 0, imp.output());
  assert.match(imp.stdout().toString(), /1 created|created/);
  const exp = spawnFor(t, process.execPath, [BIN, 'config', 'export', '--mask-secrets', '--redis', redis.url()]);
  const expExit = await exp.waitExit(30_000);
  assert.equal(expExit.code, 0, exp.output());
  const exported = JSON.parse(exp.stdout().toString()) as { streams: Record<string, { source: string; passphrase?: { play?: string } }>; pushes: unknown[] };
  assert.equal(exported.streams['studio']?.source, 'push://');
  assert.notEqual(exported.streams['studio']?.passphrase?.play, 'viewer-secret-22', 'secrets masked');
  assert.equal(exported.pushes.length, 1);
  const noRedis = spawnFor(t, process.execPath, [BIN, 'config', 'export']);
  const noRedisExit = await noRedis.waitExit(30_000);
  assert.equal(noRedisExit.code, 2);
  assert.match(noRedis.stderr(), /--redis/);
});

test('srt-relay config prints the effective configuration with every secret masked (cluster secret, passphrases, Redis and webhook URL passwords, pull URL passphrases); srt-relay bench reaches the harness', { timeout: 60_000 }, async (t) => {
  const secret = 'a-cluster-secret-nobody-may-see';
  const dir = await mkdtemp(join(tmpdir(), 'srt-relay-cfg-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'relay.json');
  const secrets = ['publisher-secret-1', 'viewer-secret-22', 'hook-password-3', 'pull-passphrase-44', 'redis-password-5'];
  await writeFile(file, JSON.stringify({
    streams: {
      studio: { source: 'push://', passphrase: { publish: secrets[0], play: secrets[1] } },
      pulled: { source: `srt://192.0.2.1:9000?passphrase=${secrets[3]}` },
    },
    auth: { webhook: `http://hook:${secrets[2]}@127.0.0.1:9/auth` },
  }));
  const cfg = spawnFor(t, process.execPath, [BIN, 'config', '--config', file, '--redis', `redis://relay:${secrets[4]}@127.0.0.1:6379/0`, '--cluster-secret', secret, '--internal-port', '7001']);
  assert.equal((await cfg.waitExit(20_000)).code, 0, cfg.output());
  const out = cfg.stdout().toString();
  assert.ok(!out.includes(secret), 'the cluster secret is not printed');
  for (const s of secrets) assert.ok(!out.includes(s), `${s} is not printed:\n${out}`);
  const shown = JSON.parse(out) as { cluster: { secret: string; internalPort: number }; redis: string; auth: { webhook: string } };
  assert.deepEqual([shown.cluster.secret, shown.cluster.internalPort], ['***', 7001]);
  assert.equal(shown.redis, 'redis://relay:***@127.0.0.1:6379/0', 'the Redis URL is shown with its password masked');
  assert.equal(shown.auth.webhook, 'http://hook:***@127.0.0.1:9/auth', 'the webhook URL is shown with its password masked');
  const bench = spawnFor(t, process.execPath, [BIN, 'bench', '--help']);
  assert.equal((await bench.waitExit(20_000)).code, 0, bench.output());
  assert.match(bench.output(), /fanout\|ingest\|impaired/);
});
