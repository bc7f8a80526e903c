/**
 * Single-node deploys are first-class (issue 14): the systemd unit's ExecStart, run as systemd
 * would run it with none of the Redis/cluster variables (and no EnvironmentFile), starts a node
 * that serves and stops with status 0 on SIGTERM; `systemd-analyze verify` accepts the unit; the
 * PM2 file without a cluster secret lists one app, `srt-relay`, whose script and args start a
 * node, and with the secret still lists the 3-node demo.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeUdpPort } from './helpers/free-port.js';
import { spawnFor, type AfterHook } from './helpers/processes.js';
import { waitFor } from './helpers/relay-harness.js';
import { freeTcpPort } from './helpers/redis-server.js';
import { unmet } from './helpers/requirements.js';
import { testTempDir } from './helpers/ts-fixture.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const UNIT = join(ROOT, 'deploy/systemd/srt-relay.service');

/** The unit's [Service] settings (continuation lines joined), each key with all its values. */
function serviceSettings(): Map<string, string[]> {
  const text = readFileSync(UNIT, 'utf8').replace(/\\\n\s*/g, ' ');
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s !== null) {
      section = s[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    if (section !== 'Service' || eq < 0) continue;
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

/** The environment of the test process without any SRT_RELAY_* variable. */
function envWithoutRelayVars(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SRT_RELAY_')) env[k] = v;
  return { ...env, ...extra };
}

async function configWithFreePorts(name: string): Promise<{ path: string; apiPort: number }> {
  const srtPort = await freeUdpPort();
  const apiPort = await freeTcpPort();
  const path = join(testTempDir(), name);
  writeFileSync(path, JSON.stringify({ srt: { ports: [{ port: srtPort, host: '127.0.0.1', direction: 'both' }] }, api: { port: apiPort }, workers: 1, logLevel: 'warn' }));
  return { path, apiPort };
}

async function servesAlone(t: AfterHook, command: string, args: string[], env: NodeJS.ProcessEnv, apiPort: number, what: string): Promise<void> {
  const node = spawnFor(t, command, args, { env, name: what });
  const health = await waitFor(async () => {
    if (node.exit !== undefined) assert.fail(`${what} exited: ${node.output()}`);
    try {
      return (await (await fetch(`http://127.0.0.1:${apiPort}/healthz`)).json()) as { status: string };
    } catch {
      return undefined;
    }
  }, `${what} answering /healthz`, 15_000);
  assert.equal(health.status, 'ok', what);
  const cluster = (await (await fetch(`http://127.0.0.1:${apiPort}/api/v1/cluster`)).json()) as { enabled: boolean };
  assert.equal(cluster.enabled, false, `${what} runs without Redis`);
  node.child.kill('SIGTERM');
  const exit = await node.waitExit(10_000);
  assert.equal(exit.code, 0, `${what} stops with 0 on SIGTERM: ${node.output()}`);
}

test('the systemd unit starts a single node with no Redis or cluster variables and no env file', async (t) => {
  const s = serviceSettings();
  for (const f of s.get('EnvironmentFile') ?? []) assert.ok(f.startsWith('-'), `EnvironmentFile=${f} must be optional ('-' prefix): a single node has none`);
  const exec = s.get('ExecStart') ?? [];
  assert.equal(exec.length, 1);
  assert.doesNotMatch(exec[0]!, /\$/, 'ExecStart expands no variable (an unset one would become an empty argument)');
  const [node, script, ...args] = exec[0]!.trim().split(/\s+/);
  assert.equal(node, '/usr/bin/node');
  assert.equal(script, '/opt/srt-relay/bin/srt-relay.js');
  const config = await configWithFreePorts('systemd-relay.json');
  const i = args.indexOf('--config');
  assert.ok(i >= 0 && args[i + 1] === '/etc/srt-relay/relay.json');
  args[i + 1] = config.path;
  await servesAlone(t, process.execPath, [join(ROOT, 'bin/srt-relay.js'), ...args], envWithoutRelayVars(), config.apiPort, 'the unit\'s ExecStart');
});

test('systemd-analyze verify accepts the unit', { skip: unmet(spawnSync('systemd-analyze', ['--version']).error !== undefined ? 'systemd-analyze not found (install systemd)' : undefined) }, () => {
  const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no warning');
});

function pm2Apps(env: NodeJS.ProcessEnv): Array<{ name: string; script: string; args: string[]; cwd: string; env?: Record<string, string> }> {
  const r = spawnSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(join(ROOT, 'ecosystem.config.cjs'))}).apps))`], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as ReturnType<typeof pm2Apps>;
}

test('the PM2 file has a single-node app without a cluster secret (it starts a node), and the 3-node demo with one', async (t) => {
  const config = await configWithFreePorts('pm2-relay.json');
  const single = pm2Apps(envWithoutRelayVars({ SRT_RELAY_CONFIG: config.path }));
  assert.deepEqual(single.map((a) => a.name), ['srt-relay']);
  const app = single[0]!;
  assert.equal(app.env, undefined, 'no Redis or secret in its environment');
  await servesAlone(t, process.execPath, [join(app.cwd, app.script), ...app.args], envWithoutRelayVars(), config.apiPort, 'the PM2 single-node app');

  const demo = pm2Apps(envWithoutRelayVars({ SRT_RELAY_CLUSTER_SECRET: 'a-cluster-secret-of-24-ch' }));
  assert.deepEqual(demo.map((a) => a.name), ['srt-relay-1', 'srt-relay-2', 'srt-relay-3']);
});
