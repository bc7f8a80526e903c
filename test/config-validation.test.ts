import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigInvalidError, isSrtRelayError } from '../src/errors.js';
import { parseCliArgs, USAGE } from '../src/config/cli-args.js';
import { configSchemaPath, defaultConfig, defaultWorkers, loadConfig, normalizeConfig } from '../src/config/load.js';
import type { RelayConfig } from '../src/config/types.js';
import type { SrtUrl } from '../src/srt/url.js';

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));

let dir: string;
let n = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'srt-relay-config-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Write `content` (an object, or raw text) to a fresh file in the temp dir. */
async function writeConfig(content: unknown): Promise<string> {
  const file = join(dir, `config-${++n}.json`);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

/** Load `content` and return the ConfigInvalidError it must raise. */
async function configError(content: unknown): Promise<ConfigInvalidError> {
  const file = await writeConfig(content);
  try {
    await loadConfig({ file });
  } catch (err) {
    assert.ok(err instanceof ConfigInvalidError, `expected ConfigInvalidError, got ${String(err)}`);
    assert.equal(err.code, 'ERR_CONFIG_INVALID');
    return err;
  }
  assert.fail('expected the config to be rejected');
}

function lines(err: Error): string[] {
  return err.message.split('\n');
}

function isDeepFrozen(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return true;
  return Object.isFrozen(v) && Object.values(v).every(isDeepFrozen);
}

describe('examples', () => {
  it('examples/relay.json loads and is normalized', async () => {
    const c = await loadConfig({ file: join(examples, 'relay.json') });
    assert.equal(c.nodeId, 'relay-1');
    assert.equal(c.workers, 4);
    assert.deepEqual(c.limits, { ...defaultConfig().limits, maxSessions: 500, maxStreams: 50, maxBitrateMbps: 25 });
    assert.equal(c.srt.ports.length, 2);
    const [both, studio] = c.srt.ports;
    assert.deepEqual(both, { port: 8889, host: '0.0.0.0', direction: 'both', params: { latency: 120 }, reusePort: 4 });
    assert.deepEqual(studio, {
      port: 9000,
      host: '0.0.0.0',
      direction: 'incoming',
      stream: 'studio',
      params: { latency: 200, tlpktdrop: true },
      reusePort: 2,
    });
    const s = c.streams['studio'];
    assert.ok(s);
    assert.deepEqual(s.source, { kind: 'push' });
    assert.equal(s.passphrase.publish, 'studio-publish-secret');
    assert.equal(s.passphrase.play, 'studio-play-secret');
    assert.equal(s.onPublisherConflict, 'replace');
    assert.equal(s.acceptStreamIds, 'ignore');
    const cam = c.streams['camera1'];
    assert.ok(cam && cam.source.kind === 'srt');
    assert.equal(cam.source.url.mode, 'caller');
    assert.equal(cam.source.url.host, '192.0.2.10');
    assert.equal(cam.source.url.port, 9001);
    assert.deepEqual({ ...cam.source.url.options }, { latency: 200 });
    assert.equal(cam.bufferTimeMs, 50_000);
    assert.equal(c.pushes.length, 2);
    assert.equal((c.pushes[0]?.target as SrtUrl | undefined)?.mode, 'listener');
    assert.equal(c.pushes[0]?.auto, true);
    assert.equal((c.pushes[1]?.target as SrtUrl | undefined)?.options.streamid, '#!::r=camera1,m=publish');
    assert.equal(c.pushes[1]?.auto, true);
    assert.equal(c.api.token, 'change-this-api-token');
    assert.equal(c.configFile, join(examples, 'relay.json'));
    assert.ok(isDeepFrozen(c), 'the config is deeply frozen');
    assert.throws(() => {
      (c.srt.ports as SrtPortsMutable).push({});
    }, TypeError);
  });

  it('examples/minimal.json loads', async () => {
    const c = await loadConfig({ file: join(examples, 'minimal.json') });
    assert.deepEqual(Object.keys(c.streams), ['live']);
    assert.equal(c.streams['live']?.source.kind, 'push');
    assert.equal(c.srt.ports[0]?.port, 8889);
  });

  it('docs/config.md shows examples/relay.json and names every top-level key', async () => {
    const docs = await readFile(fileURLToPath(new URL('../../docs/config.md', import.meta.url)), 'utf8');
    const section = docs.slice(docs.indexOf('## Full example'));
    const block = /```json\n([\s\S]*?)\n```/.exec(section)?.[1];
    assert.ok(block !== undefined, 'docs/config.md has a full example');
    const example: unknown = JSON.parse(await readFile(join(examples, 'relay.json'), 'utf8'));
    assert.deepEqual(JSON.parse(block), example);
    const schema = JSON.parse(await readFile(configSchemaPath(), 'utf8')) as { properties: Record<string, unknown> };
    for (const key of Object.keys(schema.properties)) assert.ok(docs.includes(`\`${key}`), `docs/config.md mentions ${key}`);
  });

  it('the schema documents every property', async () => {
    const schema = JSON.parse(await readFile(configSchemaPath(), 'utf8')) as Record<string, unknown>;
    const missing: string[] = [];
    const walk = (node: unknown, where: string): void => {
      if (node === null || typeof node !== 'object') return;
      const obj = node as Record<string, unknown>;
      if (obj['type'] === 'object' && obj['additionalProperties'] === undefined) missing.push(`${where}: additionalProperties`);
      for (const [key, prop] of Object.entries((obj['properties'] as Record<string, unknown> | undefined) ?? {})) {
        if (typeof (prop as Record<string, unknown>)['description'] !== 'string') missing.push(`${where}.${key}: description`);
        walk(prop, `${where}.${key}`);
      }
      for (const k of ['items', 'additionalProperties']) walk(obj[k], `${where}.${k}`);
      for (const [key, def] of Object.entries((obj['definitions'] as Record<string, unknown> | undefined) ?? {})) {
        walk(def, `definitions.${key}`);
      }
    };
    walk(schema, '');
    assert.deepEqual(missing, []);
  });
});

type SrtPortsMutable = unknown[];

describe('defaults', () => {
  it('no file and no flags gives every default', async () => {
    const c: RelayConfig = await loadConfig({});
    const workers = defaultWorkers();
    assert.match(c.nodeId, /^[A-Za-z0-9._-]+-\d+$/);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.workers, workers);
    assert.deepEqual(c.limits, {
      maxSessionsPerHost: 500,
      handshakesPerSecondPerHost: 50,
      handshakesPerSecond: 200,
      exemptHosts: ['127.0.0.1', '::1'],
      maxRingMemoryMb: c.limits.maxRingMemoryMb,
      maxWildcardStreams: 100,
    });
    assert.ok(c.limits.maxRingMemoryMb >= 16 && c.limits.maxRingMemoryMb <= 4096, 'a quarter of the memory, at most 4 GiB');
    assert.deepEqual(c.srt.ports, [
      { port: 8889, host: '0.0.0.0', direction: 'both', params: {}, reusePort: Math.min(workers, 16) },
    ]);
    assert.deepEqual(c.api, { port: 4242, host: '127.0.0.1', protectReads: false });
    assert.deepEqual(c.streams, {});
    assert.deepEqual(c.pushes, []);
    assert.deepEqual(c.auth, { timeoutMs: 2000, cacheMs: 5000, hold: true });
    assert.equal(c.redis, undefined);
    assert.equal(c.configFile, undefined);
    assert.ok(isDeepFrozen(c));
    assert.deepEqual({ ...defaultConfig(), nodeId: c.nodeId }, c);
  });

  it('fills stream defaults and resolves file sources against the config directory', async () => {
    const file = await writeConfig({
      streams: {
        a: { source: 'push://' },
        'live/b': { source: 'file://media/loop.ts', alwaysOn: true },
        c: { source: 'file:///srv/media/c.ts' },
        d: { source: 'srt://:9100?latency=200' },
      },
    });
    const c = await loadConfig({ file });
    assert.deepEqual(c.streams['a'], {
      name: 'a',
      source: { kind: 'push' },
      bufferTimeMs: 50_000,
      acceptStreamIds: 'ignore',
      alwaysOn: false,
      sources: [{ kind: 'push' }],
      loop: false,
      simulatedLive: true,
      join: 'keyframe',
      passphrase: {},
      onPublisherConflict: 'refuse',
      takeoverAfterMs: 1500,
      raw: false,
      idleTimeoutMs: 20_000,
      failoverTimeoutMs: 10_000,
      latency: {},
    });
    assert.deepEqual(c.streams['live/b']?.source, { kind: 'file', path: join(dir, 'media/loop.ts') });
    assert.deepEqual(c.streams['c']?.source, { kind: 'file', path: '/srv/media/c.ts' });
    const d = c.streams['d']?.source;
    assert.ok(d?.kind === 'srt' && d.url.mode === 'listener' && d.url.port === 9100);
  });

  it('"sources" lists the primary and its backups; each is checked and the first is the source', async () => {
    const file = await writeConfig({ streams: { main: { sources: ['push://', 'file://slate.ts'], loop: true } } });
    const c = await loadConfig({ file });
    assert.deepEqual(c.streams['main']?.sources, [{ kind: 'push' }, { kind: 'file', path: join(dir, 'slate.ts') }]);
    assert.deepEqual(c.streams['main']?.source, { kind: 'push' });
    const err = await configError({ streams: { main: { sources: ['push://', 'srt://:9000?latncy=1'] } } });
    assert.match(err.message, /^streams\.main\.sources\[1\]: .*latency/m);
  });

  it('params as an object and as a query string give the same typed options', () => {
    const a = normalizeConfig({ srt: { ports: [{ port: 9000, direction: 'both', params: { latency: '200', tlpktdrop: 0 } }] } });
    const b = normalizeConfig({ srt: { ports: [{ port: 9000, direction: 'both', params: 'latency=200&tlpktdrop=0' }] } });
    assert.deepEqual(a.srt.ports[0]?.params, { latency: 200, tlpktdrop: false });
    assert.deepEqual(b.srt.ports[0]?.params, a.srt.ports[0]?.params);
  });
});

describe('errors name the key path', () => {
  it('wrong type', async () => {
    const err = await configError({ workers: '4' });
    assert.equal(err.path, 'workers');
    assert.match(err.message, /^workers: must be a whole number \(got "4"\); write it without quotes: 4$/);
  });

  it('unknown key (additionalProperties), with a suggestion', async () => {
    const err = await configError({ srt: { ports: [{ port: 8889, direction: 'both', dirction: 'both' }] } });
    assert.equal(err.path, 'srt.ports[0].dirction');
    assert.match(err.message, /^srt\.ports\[0\]\.dirction: unknown key; did you mean "direction"\?/);
    assert.match(err.message, /valid keys here are port, host, direction, stream, params, reusePort/);
    const top = await configError({ logLevl: 'info' });
    assert.match(top.message, /^logLevl: unknown key; did you mean "logLevel"\?/);
  });

  it('bad direction', async () => {
    const err = await configError({ srt: { ports: [{ port: 8889, direction: 'in' }] } });
    assert.equal(err.message, 'srt.ports[0].direction: must be one of incoming, outgoing, both (got "in")');
    assert.equal(err.path, 'srt.ports[0].direction');
  });

  it('duplicate port', async () => {
    const err = await configError({
      srt: {
        ports: [
          { port: 8889, direction: 'both' },
          { port: 9000, direction: 'incoming' },
          { port: 8889, host: '0.0.0.0', direction: 'outgoing' },
        ],
      },
    });
    assert.equal(err.path, 'srt.ports[2].port');
    assert.match(err.message, /^srt\.ports\[2\]\.port: UDP port 8889 on 0\.0\.0\.0 is already used by srt\.ports\[0\]/);
    // The same port on two different specific addresses is fine.
    const c = normalizeConfig({
      srt: {
        ports: [
          { port: 8889, host: '127.0.0.1', direction: 'both' },
          { port: 8889, host: '192.0.2.1', direction: 'both' },
        ],
      },
    });
    assert.equal(c.srt.ports.length, 2);
    // A listener source on a port the relay already listens on collides too.
    const src = await configError({ streams: { x: { source: 'srt://:8889' } } });
    assert.equal(src.path, 'streams.x.source');
    assert.equal(src.message, 'streams.x.source: UDP port 8889 on every address is already used by srt.ports[0], which listens on 0.0.0.0 (every IPv4 address); use another port');
  });

  it('passphrase too short, without echoing it', async () => {
    const err = await configError({ streams: { cam1: { source: 'push://', passphrase: { play: 'abcde' } } } });
    assert.equal(err.message, 'streams.cam1.passphrase.play: must be 10 to 79 characters (got 5)');
    assert.equal(err.path, 'streams.cam1.passphrase.play');
    const wrongType = await configError({ streams: { cam1: { source: 'push://', passphrase: { publish: 1234567890 } } } });
    assert.doesNotMatch(wrongType.message, /1234567890/);
  });

  it('bad SRT option in an srt:// source suggests the right name', async () => {
    const err = await configError({ streams: { cam1: { source: 'srt://:9000?latncy=1' } } });
    assert.equal(err.path, 'streams.cam1.source');
    assert.match(err.message, /^streams\.cam1\.source: unknown SRT option 'latncy'; did you mean 'latency'/);
    assert.match(err.message, /latency/);
  });

  it('bad SRT options in port params name the option', async () => {
    const obj = await configError({ srt: { ports: [{ port: 9000, direction: 'both', params: { latncy: 1 } }] } });
    assert.equal(obj.path, 'srt.ports[0].params.latncy');
    assert.match(obj.message, /did you mean 'latency'/);
    const str = await configError({ srt: { ports: [{ port: 9000, direction: 'both', params: 'latency=2s' }] } });
    assert.equal(str.message, 'srt.ports[0].params: latency is in milliseconds, write latency=2000');
    const push = await configError({ pushes: [{ stream: 'a', target: 'srt://host:9000?passphrase=short' }] });
    assert.equal(push.path, 'pushes[0].target');
    assert.match(push.message, /passphrase must be 10 to 79 characters/);
    assert.doesNotMatch(push.message, /short/);
  });

  it('bad sources and stream names', async () => {
    const err = await configError({
      streams: { a: { source: 'rtmp://x/y' }, b: { source: 'push://10.0.0.1' } },
    });
    assert.deepEqual(
      lines(err).map((l) => l.slice(0, l.indexOf(':'))),
      ['streams.a.source', 'streams.b.source'],
    );
    assert.match(err.message, /write exactly "push:\/\/"/);
    const name = await configError({ streams: { '/bad': { source: 'push://' } }, pushes: [{ stream: 'x/', target: 'srt://:9500' }] });
    assert.match(name.message, /^streams\["\/bad"\]: invalid stream name: must be letters/m);
    assert.match(name.message, /^pushes\[0\]\.stream: must be letters/m);
    const doubled = await configError({ pushes: [{ stream: 'a//b', target: 'srt://:9500' }] });
    assert.match(doubled.message, /^pushes\[0\]\.stream: must be letters.*\(got "a\/\/b"\)$/);
    const long = await configError({ streams: { ['x'.repeat(201)]: { source: 'push://' } } });
    assert.match(long.message, /invalid stream name: must be 1 to 200 characters \(got 201\)/);
    const ok = normalizeConfig({ pushes: [{ stream: 'live/cam.1+b~c_d-e', target: 'srt://:9500' }] });
    assert.equal(ok.pushes[0]?.auto, false);
  });

  it('protectReads without a token', async () => {
    const err = await configError({ api: { protectReads: true } });
    assert.equal(err.path, 'api.protectReads');
    assert.match(err.message, /api\.token is not set/);
  });

  it('bad redis URL', async () => {
    const err = await configError({ redis: 'redis://:hunter2pass@cache.example:6379/db' });
    assert.equal(err.path, 'redis');
    assert.match(err.message, /^redis: the path is the database number/);
    assert.doesNotMatch(err.message, /hunter2pass/);
    const scheme = await configError({ redis: 'http://cache:6379' });
    assert.match(scheme.message, /^redis: must be a redis:\/\/ or rediss:\/\/ URL/);
  });

  it('missing file', async () => {
    const file = join(dir, 'does-not-exist.json');
    await assert.rejects(loadConfig({ file }), (err: unknown) => {
      assert.ok(isSrtRelayError(err, 'ERR_CONFIG_INVALID'));
      assert.match(err.message, /does-not-exist\.json: config file not found/);
      return true;
    });
  });

  it('invalid JSON, with line:column', async () => {
    const err = await configError('{\n  "logLevel": "info",\n  "workers": 2,\n}\n');
    assert.match(err.message, /config-\d+\.json:4:1: invalid JSON: trailing comma before '}'/);
    const comment = await configError('{\n  // comment\n  "workers": 2\n}');
    assert.match(comment.message, /:2:3: invalid JSON: comments are not allowed/);
    const missingComma = await configError('{"a": 1\n "b": 2}');
    assert.match(missingComma.message, /:2:2: invalid JSON: expected ',' or '}'/);
    const empty = await configError('');
    assert.match(empty.message, /empty/);
    const twice = await configError('{"streams": {"a": {"source": "push://"},\n  "a": {"source": "push://"}}}');
    assert.equal(twice.path, 'streams.a');
    assert.match(twice.message, /given twice \(at 1:14 and 2:3 in \S+\.json\)/);
  });

  it('reports every schema problem at once', async () => {
    const err = await configError({
      logLevel: 'verbose',
      workers: 0,
      api: { port: 70000 },
      streams: { cam1: { source: 'push://', passphrase: { play: 'short' } }, cam2: {} },
    });
    assert.deepEqual(
      lines(err).map((l) => l.slice(0, l.indexOf(': '))),
      ['logLevel', 'workers', 'api.port', 'streams.cam1.passphrase.play', 'streams.cam2.source'],
    );
    assert.match(err.message, /^api\.port: must be 1 to 65535 \(got 70000\)$/m);
    assert.match(err.message, /^streams\.cam2\.source: is required, e.g. "source": "push:\/\/"/m);
    const problems = err.details?.['problems'];
    assert.ok(Array.isArray(problems) && problems.length === 5);
  });
});

describe('command line', () => {
  it('flags override the file, which overrides defaults', async () => {
    const file = await writeConfig({
      logLevel: 'debug',
      workers: 3,
      srt: { ports: [{ port: 9000, direction: 'incoming' }, { port: 9001, direction: 'outgoing' }] },
      api: { port: 5000, host: '0.0.0.0' },
    });
    const args = parseCliArgs(['--config', file, '--srt-port', '9100', '--log-level', 'warn', '--api-port', '5001', '--node-id', 'edge-7']);
    assert.equal(args.command, 'run');
    assert.equal(args.configFile, file);
    const c = await loadConfig({ file: args.configFile as string, overrides: args.overrides });
    assert.equal(c.logLevel, 'warn');
    assert.equal(c.nodeId, 'edge-7');
    assert.equal(c.workers, 3);
    assert.deepEqual(
      c.srt.ports.map((p) => [p.port, p.direction, p.reusePort]),
      [
        [9100, 'incoming', 3],
        [9001, 'outgoing', 3],
      ],
    );
    assert.deepEqual(c.api, { port: 5001, host: '0.0.0.0', protectReads: false });
  });

  it('--srt-port creates the default port when the file has none', async () => {
    const c = await loadConfig({ overrides: parseCliArgs(['--srt-port', '7000', '--workers', '2']).overrides });
    assert.deepEqual(c.srt.ports, [{ port: 7000, host: '0.0.0.0', direction: 'both', params: {}, reusePort: 2 }]);
  });

  it('a flag that breaks the file says so', async () => {
    const file = await writeConfig({ srt: { ports: [{ port: 8889, direction: 'both' }, { port: 9000, direction: 'both' }] } });
    await assert.rejects(loadConfig({ file, overrides: { srtPort: 9000 } }), (err: unknown) => {
      assert.ok(err instanceof ConfigInvalidError);
      assert.equal(err.message, 'srt.ports[1].port: UDP port 9000 on 0.0.0.0 is already used by srt.ports[0] (set by --srt-port); use another port or host');
      return true;
    });
    await assert.rejects(loadConfig({ overrides: { apiPort: 0 } }), {
      name: 'ConfigInvalidError',
      message: 'api.port: must be 1 to 65535 (got 0) (set by --api-port)',
    });
  });

  it('--srt-port abc is a typed error', () => {
    assert.throws(
      () => parseCliArgs(['--srt-port', 'abc']),
      (err: unknown) => {
        assert.ok(err instanceof ConfigInvalidError);
        assert.equal(err.code, 'ERR_CONFIG_INVALID');
        assert.equal(err.path, '--srt-port');
        assert.equal(err.message, '--srt-port: must be a port number 1 to 65535 (got "abc")');
        return true;
      },
    );
    assert.throws(() => parseCliArgs(['--api-port', '65536']), /--api-port: must be a port number 1 to 65535/);
    assert.throws(() => parseCliArgs(['--workers', '1.5']), /--workers: must be a whole number/);
    assert.throws(() => parseCliArgs(['--log-level', 'loud']), /--log-level: must be one of fatal, error, warn, info, debug, trace/);
    assert.throws(() => parseCliArgs(['--redis', 'localhost:6379']), /--redis: must be a redis:\/\/ or rediss:\/\//);
    assert.throws(() => parseCliArgs(['--config']), /--config: needs a value/);
  });

  it('unknown flags are named, with the valid ones', () => {
    assert.throws(
      () => parseCliArgs(['--srt-prot', '9000']),
      (err: unknown) => {
        assert.ok(err instanceof ConfigInvalidError);
        assert.equal(err.path, '--srt-prot');
        assert.match(err.message, /^--srt-prot: unknown flag; did you mean --srt-port\? valid flags are --config, (--[a-z-]+, )*--srt-port, --srt-host,/);
        return true;
      },
    );
  });

  it('commands', () => {
    assert.deepEqual(parseCliArgs([]), { command: 'run', overrides: {}, rest: [] });
    assert.equal(parseCliArgs(['-h']).command, 'help');
    assert.equal(parseCliArgs(['--help']).command, 'help');
    assert.equal(parseCliArgs(['--version']).command, 'version');
    assert.deepEqual(parseCliArgs(['config', '--config', 'a.json']), {
      command: 'config',
      configFile: 'a.json',
      overrides: {},
      rest: [],
    });
    // url and bench keep their own arguments.
    assert.deepEqual(parseCliArgs(['url', 'srt://:9000?latency=200', '--show-secrets']), {
      command: 'url',
      overrides: {},
      rest: ['srt://:9000?latency=200', '--show-secrets'],
    });
    assert.deepEqual(parseCliArgs(['--log-level', 'debug', 'bench', '--seconds', '5']), {
      command: 'bench',
      overrides: { logLevel: 'debug' },
      rest: ['--seconds', '5'],
    });
    assert.throws(() => parseCliArgs(['relay.json']), /unknown command "relay\.json"; to use a config file write --config relay\.json/);
    assert.throws(() => parseCliArgs(['run', 'extra']), /unexpected argument "extra"/);
    assert.match(USAGE, /--srt-port N/);
  });
});

describe('cluster settings', () => {
  it('a node with redis needs the cluster secret, and gets the internal port and advertised host by default', () => {
    assert.throws(
      () => normalizeConfig({ redis: 'redis://127.0.0.1:6379/0' }),
      (e: unknown) => e instanceof ConfigInvalidError && /cluster\.secret: is required with redis/.test(e.message),
    );
    const c = normalizeConfig({ redis: 'redis://127.0.0.1:6379/0', cluster: { secret: 'sixteen-chars-ok' } });
    assert.equal(c.cluster?.internalPort, 8890, 'first SRT port + 1');
    assert.equal(c.cluster?.advertiseHost, '127.0.0.1');
    assert.equal(c.cluster?.keyPrefix, 'srt-relay:');
    const specific = normalizeConfig({ redis: 'redis://r:6379/0', cluster: { secret: 'sixteen-chars-ok', internalHost: '10.0.0.7' } });
    assert.equal(specific.cluster?.advertiseHost, '10.0.0.7', 'a specific bind address is what others reach');
    assert.equal(normalizeConfig({}).cluster, undefined, 'no redis, no cluster section');
  });

  it('a short secret, an internal port that is an SRT port, or a bad host is refused naming the key; the secret is never printed', () => {
    assert.throws(
      () => normalizeConfig({ redis: 'redis://r:6379/0', cluster: { secret: 'short-secret-x' } }),
      (e: unknown) => e instanceof ConfigInvalidError && /cluster\.secret/.test(e.message) && !e.message.includes('short-secret-x'),
    );
    assert.throws(
      () => normalizeConfig({ redis: 'redis://r:6379/0', srt: { ports: [{ port: 9000, direction: 'both' }] }, cluster: { secret: 'sixteen-chars-ok', internalPort: 9000 } }),
      /cluster\.internalPort: UDP port 9000 is already an SRT port/,
    );
    assert.throws(() => normalizeConfig({ redis: 'redis://r:6379/0', cluster: { secret: 'sixteen-chars-ok', advertiseHost: 'bad host!' } }), /cluster\.advertiseHost/);
  });

  it('flags and SRT_RELAY_CLUSTER_SECRET set the cluster settings (flag > environment > file)', () => {
    const saved = process.env['SRT_RELAY_CLUSTER_SECRET'];
    try {
      process.env['SRT_RELAY_CLUSTER_SECRET'] = 'secret-from-the-environment';
      const env = parseCliArgs(['--redis', 'redis://r:6379/0', '--internal-port', '7001', '--advertise-host', '10.1.2.3']).overrides;
      assert.equal(env.clusterSecret, 'secret-from-the-environment');
      const c = normalizeConfig({ cluster: { secret: 'secret-from-the-file-x' } }, { overrides: env });
      assert.deepEqual([c.cluster?.secret, c.cluster?.internalPort, c.cluster?.advertiseHost], ['secret-from-the-environment', 7001, '10.1.2.3']);
      assert.equal(parseCliArgs(['--cluster-secret', 'secret-from-the-flag-x']).overrides.clusterSecret, 'secret-from-the-flag-x');
      assert.throws(() => parseCliArgs(['--cluster-secret', 'short']), /--cluster-secret: must be at least 16 characters/);
      process.env['SRT_RELAY_CLUSTER_SECRET'] = 'short';
      assert.throws(() => parseCliArgs([]), /SRT_RELAY_CLUSTER_SECRET: must be at least 16 characters/);
    } finally {
      if (saved === undefined) delete process.env['SRT_RELAY_CLUSTER_SECRET'];
      else process.env['SRT_RELAY_CLUSTER_SECRET'] = saved;
    }
  });
});

describe('mediaRoot', () => {
  it('file:// sources must be inside mediaRoot, symbolic links followed; without it any path is allowed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'srt-relay-media-'));
    try {
      const { mkdir, symlink } = await import('node:fs/promises');
      await mkdir(join(dir, 'media'));
      await writeFile(join(dir, 'media', 'slate.ts'), '');
      await symlink('/etc/passwd', join(dir, 'media', 'escape.ts'));
      const inside = normalizeConfig({ mediaRoot: 'media', streams: { s: { source: 'file://media/slate.ts' } } }, { baseDir: dir });
      assert.equal(inside.mediaRoot, join(dir, 'media'));
      for (const source of ['file:///etc/passwd', 'file://media/../../x.ts', 'file://media/escape.ts']) {
        assert.throws(
          () => normalizeConfig({ mediaRoot: 'media', streams: { s: { source } } }, { baseDir: dir }),
          (e: unknown) => e instanceof ConfigInvalidError && /streams\.s\.source: the file .* is outside mediaRoot/.test(e.message),
          source,
        );
      }
      assert.doesNotThrow(() => normalizeConfig({ streams: { s: { source: 'file:///etc/passwd' } } }));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
