/**
 * Every setting flag has an SRT_RELAY_* environment variable (one table, FLAGS, drives the flags,
 * the variables and --help), the precedence is flag > variable > config file > default in a real
 * `srt-relay` process, and --srt-host binds the first SRT port to one address only.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLAGS, USAGE, parseCliArgs } from '../src/config/cli-args.js';
import { RELAY_BIN, startRelayProcess } from './helpers/relay-process.js';
import { spawnFor } from './helpers/processes.js';
import { connectBinding } from './helpers/srt-io.js';

/** The flags that pick a command or print secrets: no variable, on purpose. */
const NO_VARIABLE = ['show-secrets', 'example', 'mask-secrets', 'help', 'version'];

/** The test process's environment without any SRT_RELAY_* variable, plus `extra`. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SRT_RELAY_')) env[k] = v;
  return { ...env, ...extra };
}

/** CliArgs without `overrides.from` (where a value came from), to compare flag and variable. */
function withoutFrom(a: ReturnType<typeof parseCliArgs>): unknown {
  const { from: _from, ...overrides } = a.overrides;
  return { ...a, overrides };
}

describe('SRT_RELAY_* environment variables', () => {
  it('every setting flag has its SRT_RELAY_ variable, which sets exactly what the flag sets, and --help names it', () => {
    const withVariable = FLAGS.filter((f) => typeof f.env === 'string');
    assert.deepEqual(
      FLAGS.filter((f) => typeof f.env !== 'string').map((f) => f.name),
      NO_VARIABLE,
      'only the command/secret-printing flags go without a variable',
    );
    assert.ok(withVariable.length >= 15);
    for (const f of withVariable) {
      const variable = f.env as string;
      assert.equal(variable, `SRT_RELAY_${f.name.toUpperCase().replace(/-/g, '_')}`, `--${f.name}'s variable name`);
      assert.ok(USAGE.includes(variable), `--help names ${variable}`);
      // --watch-config needs a config file; give one to both sides.
      const base = f.name === 'config' ? [] : ['--config', 'relay.yml'];
      const value = f.type === 'boolean' ? undefined : f.example!;
      const byFlag = parseCliArgs([...base, `--${f.name}`, ...(value !== undefined ? [value] : [])], {});
      const byEnv = parseCliArgs(base, { [variable]: value ?? 'true' });
      assert.notDeepEqual(withoutFrom(byFlag), withoutFrom(parseCliArgs(base, {})), `--${f.name} ${value ?? ''} changes something`);
      assert.deepEqual(withoutFrom(byEnv), withoutFrom(byFlag), `${variable} sets what --${f.name} sets`);
    }
  });

  it('a bad value in a variable is an error naming the variable; a yes/no variable takes 1/0, true/false, yes/no', () => {
    assert.throws(() => parseCliArgs([], { SRT_RELAY_SRT_PORT: 'abc' }), /SRT_RELAY_SRT_PORT: must be a port number 1 to 65535 \(got "abc"\)/);
    assert.throws(() => parseCliArgs([], { SRT_RELAY_SRT_HOST: 'not a host!' }), /SRT_RELAY_SRT_HOST: must be an IP address or host name/);
    assert.throws(() => parseCliArgs([], { SRT_RELAY_WATCH_CONFIG: 'maybe', SRT_RELAY_CONFIG: 'a.yml' }), /SRT_RELAY_WATCH_CONFIG: must be 1, true/);
    assert.throws(() => parseCliArgs([], { SRT_RELAY_WATCH_CONFIG: '1' }), /SRT_RELAY_WATCH_CONFIG: needs a config file to watch/);
    assert.equal(parseCliArgs([], { SRT_RELAY_WATCH_CONFIG: '0', SRT_RELAY_CONFIG: 'a.yml' }).watchConfig, undefined);
    assert.equal(parseCliArgs([], { SRT_RELAY_WATCH_CONFIG: 'yes', SRT_RELAY_CONFIG: 'a.yml' }).watchConfig, true);
    // A flag on the command line wins: its variable is not even read.
    assert.equal(parseCliArgs(['--srt-port', '9000'], { SRT_RELAY_SRT_PORT: 'abc' }).overrides.srtPort, 9000);
  });

  it('flag > SRT_RELAY_ variable > config file > default, in a real srt-relay process', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'srt-relay-env-'));
    const file = join(dir, 'relay.yml');
    await writeFile(file, 'api:\n  port: 5001\nsrt:\n  ports:\n    - port: 9001\n      host: 127.0.0.1\n      direction: both\nworkers: 3\n');
    const effective = async (args: string[], env: Record<string, string>): Promise<{ api: { port: number }; srt: { ports: Array<{ port: number; host: string }> }; workers: number }> => {
      const p = spawnFor(t, process.execPath, [RELAY_BIN, 'config', ...args], { env: cleanEnv(env) });
      const exit = await p.exited;
      assert.equal(exit.code, 0, p.output());
      return JSON.parse(p.stdout().toString()) as never;
    };
    const fromFile = await effective(['--config', file], {});
    assert.deepEqual([fromFile.api.port, fromFile.srt.ports[0], fromFile.workers], [5001, { ...fromFile.srt.ports[0], port: 9001, host: '127.0.0.1' }, 3]);
    const env = { SRT_RELAY_API_PORT: '5002', SRT_RELAY_SRT_HOST: '127.0.0.2', SRT_RELAY_WORKERS: '2' };
    const fromEnv = await effective(['--config', file], env);
    assert.deepEqual([fromEnv.api.port, fromEnv.srt.ports[0]?.host, fromEnv.srt.ports[0]?.port, fromEnv.workers], [5002, '127.0.0.2', 9001, 2], 'the variables win over the file');
    const fromFlags = await effective(['--config', file, '--api-port', '5003', '--srt-host', '127.0.0.3'], env);
    assert.deepEqual([fromFlags.api.port, fromFlags.srt.ports[0]?.host, fromFlags.workers], [5003, '127.0.0.3', 2], 'the flags win over the variables');
    const configFromEnv = await effective([], { SRT_RELAY_CONFIG: file });
    assert.equal(configFromEnv.api.port, 5001, 'SRT_RELAY_CONFIG names the file');
    const defaults = await effective([], {});
    assert.deepEqual([defaults.api.port, defaults.srt.ports[0]?.host, defaults.srt.ports[0]?.port], [4242, '0.0.0.0', 8889]);

    const bad = spawnFor(t, process.execPath, [RELAY_BIN, 'config'], { env: cleanEnv({ SRT_RELAY_API_PORT: '70000' }) });
    assert.equal((await bad.exited).code, 2);
    assert.match(bad.stderr().toString(), /SRT_RELAY_API_PORT: must be a port number 1 to 65535 \(got "70000"\)/);
  });
});

describe('--srt-host', () => {
  for (const [how, bound, other] of [
    ['--srt-host 127.0.0.1', '127.0.0.1', '127.0.0.2'],
    ['SRT_RELAY_SRT_HOST=127.0.0.2', '127.0.0.2', '127.0.0.1'],
  ] as const) {
    it(`${how}: a caller to ${bound} is served, a caller to ${other} (the same port) does not reach the relay`, async (t) => {
      const relay = await startRelayProcess(t, {
        args: how.startsWith('--') ? ['--srt-host', bound] : [],
        env: cleanEnv(how.startsWith('--') ? {} : { SRT_RELAY_SRT_HOST: bound }),
        workers: 1,
      });
      const served = await connectBinding(relay.srtPort, { streamid: 'publish:cam', conntimeo: 3000 }, bound);
      t.after(() => served.close());
      await assert.rejects(connectBinding(relay.srtPort, { streamid: 'publish:other', conntimeo: 1500 }, other), `no SRT listener answers on ${other}:${relay.srtPort}`);
      const { body } = await relay.api<{ sessions: Array<{ stream: string }> }>('/api/v1/sessions');
      assert.deepEqual(
        body.sessions.map((s) => s.stream),
        ['cam'],
        'only the caller to the bound address has a session',
      );
    });
  }
});
