/**
 * No printer shows a secret (issue 14): a config full of DISTINCT secret strings (SRT
 * passphrases of a port, a stream's publish and play sides, a pulled source and its backup, a
 * push target; the Redis password; the webhook's user:password and ?key=; the API token; the
 * cluster secret and the internal passphrase derived from it) goes through every printer:
 * `srt-relay config` and `config import|export` as child processes, the HTTP API of a running
 * cluster node (every GET, an error answer), and that node's pino log while a pull, a push and a
 * webhook call fail. Any secret string anywhere fails the test. `--show-secrets` does show them.
 * Redis (a real redis-server with a password) and the cluster secret come from the environment
 * and from files (`SRT_RELAY_REDIS[_FILE]`, `SRT_RELAY_CLUSTER_SECRET[_FILE]`), never from argv.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { internalPassphrase } from '../src/cluster/internal-link.js';
import { parseCliArgs } from '../src/config/cli-args.js';
import { SECRET_KEY_NAMES, maskSecrets, maskText, maskUrl } from '../src/config/secrets.js';
import { createLogger } from '../src/logging.js';
import { SrtSocket } from '../src/srt/socket.js';
import { freeUdpPorts, waitUdpBound } from './helpers/free-port.js';
import { RedisServer, freeTcpPort } from './helpers/redis-server.js';
import { spawnFor } from './helpers/processes.js';
import { RELAY_BIN } from './helpers/relay-process.js';
import { whenClosed } from './helpers/relay-harness.js';
import { delay } from './helpers/srt-io.js';

const SECRETS = {
  portPassphrase: 'PortParamsPass-q1w2e3r4',
  publishPassphrase: 'StreamPublishPass-a7s8d9',
  playPassphrase: 'StreamPlayPass-z5x6c7v8',
  sourcePassphrase: 'PulledSourcePass-m3n4b5',
  backupPassphrase: 'BackupSourcePass-k9j8h7',
  pushPassphrase: 'PushTargetPass-p0o9i8u7',
  redisPassword: 'RedisPassword-y6t5r4e3',
  webhookPassword: 'WebhookPassword-l1k2j3',
  webhookKey: 'WebhookKey-f4g5h6j7',
  apiToken: 'ApiToken-c3v4b5n6m7',
  clusterSecret: 'ClusterSecret-w2e3r4t5y6u7',
} as const;
/** Secrets that reach a printer without being in the config file. */
const DERIVED = {
  internalPassphrase: internalPassphrase(SECRETS.clusterSecret),
  apiBodyPassphrase: 'ApiBodyPassphrase-x1c2v3',
} as const;

/** The secret strings that occur in `text`, by name. */
function leaked(text: string, secrets: Readonly<Record<string, string>> = { ...SECRETS, ...DERIVED }): string[] {
  return Object.entries(secrets)
    .filter(([, s]) => text.includes(s))
    .map(([name]) => name);
}

function assertNoSecret(text: string, where: string): void {
  const found = leaked(text);
  assert.deepEqual(found, [], `${where} shows ${found.join(', ')}:\n${text.slice(0, 4000)}`);
}

interface Run {
  code: number | null;
  out: string;
}

/** Runs `srt-relay ARGS` to its end; stdout and stderr together. */
function runCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RELAY_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('secrets are never printed', () => {
  let dir: string;
  let redis: RedisServer;
  let redisUrl: string;
  let configFile: string;
  let env: NodeJS.ProcessEnv;
  const ports = { srt: 0, secondSrt: 0, internal: 0, api: 0, source: 0, backup: 0, push: 0, webhook: 0 };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'srt-relay-secrets-'));
    redis = await RedisServer.start();
    const admin = new Redis(redis.url(), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await admin.connect();
    await admin.config('SET', 'requirepass', SECRETS.redisPassword);
    admin.disconnect();
    redisUrl = `redis://:${SECRETS.redisPassword}@127.0.0.1:${redis.port}/0`;
    [ports.srt, ports.secondSrt, ports.internal, ports.source, ports.backup, ports.push] = (await freeUdpPorts(6)) as [number, number, number, number, number, number];
    ports.api = await freeTcpPort();
    ports.webhook = await freeTcpPort(); // nothing listens: every webhook call fails
    const config = {
      srt: {
        ports: [
          { port: ports.srt, host: '127.0.0.1', direction: 'both' },
          { port: ports.secondSrt, host: '127.0.0.1', direction: 'incoming', params: { passphrase: SECRETS.portPassphrase, latency: 120 } },
        ],
      },
      api: { port: ports.api, host: '127.0.0.1', token: SECRETS.apiToken },
      workers: 1,
      streams: {
        studio: { source: 'push://', passphrase: { publish: SECRETS.publishPassphrase, play: SECRETS.playPassphrase } },
        pulled: {
          sources: [
            `srt://127.0.0.1:${ports.source}?passphrase=${SECRETS.sourcePassphrase}&latency=200`,
            `srt://127.0.0.1:${ports.backup}?latency=300&passphrase=${SECRETS.backupPassphrase}`,
          ],
          alwaysOn: true,
        },
      },
      pushes: [{ stream: 'studio', target: `srt://127.0.0.1:${ports.push}?passphrase=${SECRETS.pushPassphrase}&latency=200`, auto: true }],
      auth: { webhook: `http://hook:${SECRETS.webhookPassword}@127.0.0.1:${ports.webhook}/auth?key=${SECRETS.webhookKey}`, timeoutMs: 1000, cacheMs: 1000 },
      cluster: { internalPort: ports.internal, advertiseHost: '127.0.0.1' },
    };
    configFile = join(dir, 'relay.json');
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    const redisFile = join(dir, 'redis-url');
    writeFileSync(redisFile, `${redisUrl}\n`, { mode: 0o600 });
    const secretFile = join(dir, 'cluster-secret');
    writeFileSync(secretFile, `${SECRETS.clusterSecret}\n`, { mode: 0o600 });
    // The Redis URL and the cluster secret only through files named in the environment.
    env = { SRT_RELAY_REDIS_FILE: redisFile, SRT_RELAY_CLUSTER_SECRET_FILE: secretFile, SRT_RELAY_REDIS: '', SRT_RELAY_CLUSTER_SECRET: '' };
  });

  after(async () => {
    await redis?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('srt-relay config prints every secret as *** (sources, push targets, redis, webhook, cluster), and --show-secrets prints them', async () => {
    const masked = await runCli(['--config', configFile, 'config'], env);
    assert.equal(masked.code, 0, masked.out);
    assertNoSecret(masked.out, 'srt-relay config');
    // It is the whole config, with the URLs still readable around the masks.
    assert.match(masked.out, /"raw": "srt:\/\/127\.0\.0\.1:\d+\?passphrase=\*\*\*&latency=200"/);
    assert.match(masked.out, /"webhook": "http:\/\/hook:\*\*\*@127\.0\.0\.1:\d+\/auth\?key=\*\*\*"/);
    assert.match(masked.out, /"redis": "redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0"/);

    const old = await runCli(['--config', configFile, 'config', '--mask-secrets'], env);
    assert.equal(old.code, 0, old.out);
    assertNoSecret(old.out, 'srt-relay config --mask-secrets');

    const shown = await runCli(['--config', configFile, 'config', '--show-secrets'], env);
    assert.equal(shown.code, 0, shown.out);
    assert.deepEqual(leaked(shown.out, SECRETS).sort(), Object.keys(SECRETS).sort(), shown.out);
  });

  it('config import and config export print no secret; export --show-secrets prints the stored ones', async () => {
    const imported = await runCli(['config', 'import', configFile], { ...env, SRT_RELAY_REDIS_FILE: '', SRT_RELAY_REDIS: redisUrl });
    assert.equal(imported.code, 0, imported.out);
    assert.match(imported.out, /imported into redis:\/\/:\*\*\*@/);
    assertNoSecret(imported.out, 'config import');

    const exported = await runCli(['config', 'export'], env);
    assert.equal(exported.code, 0, exported.out);
    assertNoSecret(exported.out, 'config export');
    assert.match(exported.out, /"studio"/);

    const shown = await runCli(['config', 'export', '--show-secrets'], env);
    assert.equal(shown.code, 0, shown.out);
    const stored = ['publishPassphrase', 'playPassphrase', 'sourcePassphrase', 'backupPassphrase', 'pushPassphrase', 'webhookPassword', 'webhookKey'];
    assert.deepEqual(leaked(shown.out, SECRETS).sort(), stored.sort(), shown.out);

    // A bad Redis password is reported without the URL's password.
    const wrong = await runCli(['config', 'export'], { ...env, SRT_RELAY_REDIS_FILE: '', SRT_RELAY_REDIS: `redis://:${DERIVED.apiBodyPassphrase}@127.0.0.1:${redis.port}/0` });
    assert.notEqual(wrong.code, 0, wrong.out);
    assertNoSecret(wrong.out, 'config export with a wrong password');
  });

  it('a running cluster node shows no secret in any API answer nor in its log, while a pull, a push and the webhook fail', async (t) => {
    const node = spawnFor(t, process.execPath, [RELAY_BIN, '--config', configFile, '--log-level', 'debug', '--node-id', 'secrets-1'], {
      name: 'srt-relay',
      env: { ...process.env, ...env },
    });
    const base = `http://127.0.0.1:${ports.api}`;
    const deadline = Date.now() + 20_000;
    while (!(await fetch(`${base}/healthz`).then((r) => r.ok, () => false))) {
      if (node.exit !== undefined || Date.now() > deadline) assert.fail(`the node did not start\n${node.output()}`);
      await delay(100);
    }
    await waitUdpBound(ports.srt);

    // A viewer without a cached decision: the relay asks the webhook, which is not there. Held
    // admission accepts and holds it until the webhook's failure (1403) closes it; it gets nothing.
    const s = SrtSocket.create({ streamid: '#!::r=studio,m=request', passphrase: SECRETS.playPassphrase });
    await s.connect('127.0.0.1', ports.srt).then(
      async () => {
        await whenClosed(s).promise;
      },
      () => undefined,
    );
    s.close();
    await node.waitForLine('webhook call failed', { stream: 'stdout', timeoutMs: 10_000 });
    await node.waitForLine('source failed', { stream: 'stdout', timeoutMs: 15_000 });

    const answers: string[] = [];
    for (const path of ['/api/v1/streams', '/api/v1/streams/pulled', '/api/v1/streams/studio', '/api/v1/pushes', '/api/v1/sessions', '/api/v1/auth', '/api/v1/cluster', '/api/v1/udp', '/metrics', '/healthz']) {
      const res = await fetch(`${base}${path}`);
      const text = await res.text();
      assert.equal(res.status, 200, `${path}: ${text}`);
      assertNoSecret(text, `GET ${path}`);
      answers.push(text);
    }
    const all = answers.join('\n');
    // The views did show the URLs, masked.
    assert.match(all, new RegExp(`srt://127\\.0\\.0\\.1:${ports.source}\\?passphrase=\\*\\*\\*&latency=200`));
    assert.match(all, new RegExp(`srt://127\\.0\\.0\\.1:${ports.push}\\?passphrase=\\*\\*\\*&latency=200`));
    assert.match(all, /"webhook":"http:\/\/hook:\*\*\*@127\.0\.0\.1:\d+\/auth\?key=\*\*\*"/);

    // An error answer quoting a bad body.
    const bad = await fetch(`${base}/api/v1/streams/bad`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRETS.apiToken}` },
      body: JSON.stringify({ source: `srt://127.0.0.1:1?passphrase=${DERIVED.apiBodyPassphrase}&latency=nope` }),
    });
    const badText = await bad.text();
    assert.equal(bad.status, 400, badText);
    assertNoSecret(badText, 'the 400 answer');

    node.child.kill('SIGTERM');
    await node.waitExit(10_000);
    const log = node.output();
    assert.match(log, /"msg":"webhook call failed; denying"/);
    assert.match(log, /"url":"http:\/\/hook:\*\*\*@127\.0\.0\.1:\d+\/auth\?key=\*\*\*"/);
    assertNoSecret(log, 'the node log');
  });

  it('the Redis URL and the cluster secret come from VAR or VAR_FILE (flag > environment); both forms set is an error', () => {
    const redisFile = join(dir, 'redis-url');
    const secretFile = join(dir, 'cluster-secret');
    const fromFiles = parseCliArgs([], { SRT_RELAY_REDIS_FILE: redisFile, SRT_RELAY_CLUSTER_SECRET_FILE: secretFile });
    assert.equal(fromFiles.overrides.redis, redisUrl);
    assert.equal(fromFiles.overrides.clusterSecret, SECRETS.clusterSecret);
    const fromEnv = parseCliArgs([], { SRT_RELAY_REDIS: 'redis://127.0.0.1:1/0', SRT_RELAY_CLUSTER_SECRET: 'x'.repeat(16) });
    assert.equal(fromEnv.overrides.redis, 'redis://127.0.0.1:1/0');
    const flag = parseCliArgs(['--redis', 'redis://127.0.0.1:2/0'], { SRT_RELAY_REDIS_FILE: redisFile });
    assert.equal(flag.overrides.redis, 'redis://127.0.0.1:2/0');
    assert.throws(() => parseCliArgs([], { SRT_RELAY_REDIS: redisUrl, SRT_RELAY_REDIS_FILE: redisFile }), /SRT_RELAY_REDIS: is set, and so is SRT_RELAY_REDIS_FILE/);
    assert.throws(() => parseCliArgs([], { SRT_RELAY_CLUSTER_SECRET_FILE: join(dir, 'missing') }), /SRT_RELAY_CLUSTER_SECRET_FILE: cannot read/);
    // A bad URL from a file is reported without its password.
    writeFileSync(join(dir, 'bad-url'), `http://:${SECRETS.redisPassword}@h/0`);
    assert.throws(
      () => parseCliArgs([], { SRT_RELAY_REDIS_FILE: join(dir, 'bad-url') }),
      (e: Error) => /SRT_RELAY_REDIS_FILE: must be a redis:\/\//.test(e.message) && !e.message.includes(SECRETS.redisPassword),
    );
  });
});

describe('the secrets module', () => {
  it('masks srt, http and redis URLs however the secret is written, and keeps the rest readable', () => {
    const cases: Array<[string, string]> = [
      ['srt://h:9000?latency=200&passphrase=abc;def#ghi&x=1', 'srt://h:9000?latency=200&passphrase=***&x=1'],
      ['srt://h:9000?PassPhrase=abcdefghijk', 'srt://h:9000?PassPhrase=***'],
      ['srt://h:9000?srto_passphrase=abcdefghijk', 'srt://h:9000?srto_passphrase=***'],
      ['srt://h:9000?pass%70hrase=abcdefghijk&latency=1', 'srt://h:9000?pass%70hrase=***&latency=1'],
      ['srt://h:9000?streamid=%23!::r=a,m=publish&pbkeylen=32', 'srt://h:9000?streamid=%23!::r=a,m=publish&pbkeylen=32'],
      ['https://u:p@ss:w@rd@auth.example.com/srt?key=k1&token=t1&a=b', 'https://u:***@auth.example.com/srt?key=***&token=***&a=b'],
      ['https://tok3n@auth.example.com/srt', 'https://***@auth.example.com/srt'],
      ['redis://:pw@10.0.0.5:6379/0', 'redis://:***@10.0.0.5:6379/0'],
      ['rediss://default:pw@10.0.0.5:6379/0', 'rediss://default:***@10.0.0.5:6379/0'],
      ['push://', 'push://'],
    ];
    for (const [input, want] of cases) assert.equal(maskUrl(input), want, input);
    assert.equal(
      maskText('webhook http://u:pw@h/a?key=k failed; got "srt://h:1?passphrase=zzzzzzzzzz" and passphrase=yyy'),
      'webhook http://u:***@h/a?key=*** failed; got "srt://h:1?passphrase=***" and passphrase=***',
    );
    assert.deepEqual(maskSecrets({ passphrase: { publish: 'a', play: 'b' }, api: { token: 't', port: 1 }, params: { pbkeylen: 32 }, keyPrefix: 'srt-relay:' }), {
      passphrase: { publish: '***', play: '***' },
      api: { token: '***', port: 1 },
      params: { pbkeylen: 32 },
      keyPrefix: 'srt-relay:',
    });
    // A shared object is not a cycle.
    const shared = { raw: 'srt://h:1?passphrase=abcdefghijk' };
    assert.deepEqual(maskSecrets({ source: shared, sources: [shared] }), { source: { raw: 'srt://h:1?passphrase=***' }, sources: [{ raw: 'srt://h:1?passphrase=***' }] });
  });

  it('pino loggers hide secret keys, URLs in fields, child bindings, errors and messages', () => {
    const lines: string[] = [];
    const log = createLogger('debug', 'n1', { write: (s: string) => void lines.push(s) });
    log.warn({ url: 'http://u:PW-1@h/?key=KEY-1', x: { passphrase: 'PASS-1', y: { secret: 'SEC-1' } } }, 'call to http://u:PW-2@h/ failed');
    log.error({ err: new Error('bad srt://h:1?passphrase=PASS-2') }, 'boom %s', 'srt://h:1?passphrase=PASS-3');
    log.child({ source: 'srt://h:1?passphrase=PASS-4' }).info({ token: 'TOK-1' }, 'child');
    const out = lines.join('');
    assert.equal(lines.length, 3);
    for (const s of ['PW-1', 'PW-2', 'KEY-1', 'PASS-1', 'SEC-1', 'PASS-2', 'PASS-3', 'PASS-4', 'TOK-1']) assert.ok(!out.includes(s), `${s} in ${out}`);
    assert.match(out, /"url":"http:\/\/u:\*\*\*@h\/\?key=\*\*\*"/);
    assert.match(out, /"msg":"boom srt:\/\/h:1\?passphrase=\*\*\*"/);
  });

  it('docs/config.md "Secrets" names every secret key the module knows', () => {
    const docs = readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8');
    const section = docs.slice(docs.indexOf('### Secrets'));
    for (const name of SECRET_KEY_NAMES) assert.ok(section.includes(`\`${name}\``), `docs/config.md Secrets lists ${name}`);
  });
});
