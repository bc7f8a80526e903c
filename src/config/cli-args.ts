/**
 * Command-line arguments: `srt-relay [command] [flags]`.
 *
 * The first positional argument is the command (`run` when there is none). Flags before the
 * command are always the relay's flags; for `url`, `streamid` and `bench` everything after the command is
 * passed on untouched in `rest` (those commands have their own flags). Every flag value is
 * checked here, so a bad value fails before anything starts; errors are ConfigInvalidError with
 * the flag as the path.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigInvalidError, orList } from '../errors.js';
import { editDistance } from '../srt/options.js';
import { NODE_ID_PATTERN, checkHostText, checkRedisUrl } from './load.js';
import { LOG_LEVELS, type CliOverrides, type LogLevel } from './types.js';

export type { CliOverrides } from './types.js';

export const COMMANDS = Object.freeze(['run', 'url', 'streamid', 'config', 'help', 'version', 'bench'] as const);
export type Command = (typeof COMMANDS)[number];

export interface CliArgs {
  readonly command: Command;
  readonly configFile?: string;
  readonly overrides: CliOverrides;
  /** Arguments after the `url` or `bench` command, for that command to parse. */
  readonly rest: string[];
  /** `--show-secrets` (the `config` commands): print passphrases, passwords and tokens instead of `***`. */
  readonly showSecrets?: boolean;
  /** `config --example`: print the annotated example config (srt-relay.yml). */
  readonly example?: boolean;
  /** `--watch-config`: reload the config file when it changes (as on SIGHUP). */
  readonly watchConfig?: boolean;
  /** `--log-format`: pretty (human-readable) or json lines; default pretty on a terminal, json otherwise. */
  readonly logFormat?: LogFormat;
}

export const LOG_FORMATS = Object.freeze(['pretty', 'json'] as const);
export type LogFormat = (typeof LOG_FORMATS)[number];

export const USAGE = `usage: srt-relay [command] [flags]

commands:
  run                 run a relay node (the default)
  url '<srt-url>'     check an srt:// URL and print what it means
  streamid '<id>'     show how a port reads a stream id (stream, direction, user,
                      token, dialect); --config FILE --port N --from ADDRESS
  config              print the effective configuration (file + flags + defaults),
                      secrets shown as "***" unless --show-secrets
  config --example    print an annotated srt-relay.yml: every key, its default
  config import FILE --redis URL
                      write FILE's streams, pushes and auth to the cluster's Redis
  config export --redis URL
                      print the cluster's shared configuration as JSON (secrets
                      shown as "***" unless --show-secrets)
  bench               run the benchmarks
  help                show this text
  version             print the version

flags (they win over the config file, which wins over the defaults):
  --config FILE       config file, YAML or JSON (.json) (see docs/config.md,
                      srt-relay config --example); reloaded on SIGHUP
  --watch-config      also reload the config file whenever it changes
  --log-format F      pretty or json (default: pretty on a terminal, else json)
  --srt-port N        SRT port (1-65535): replaces the port of the first srt.ports entry
  --api-port N        HTTP API port (1-65535), default 4242
  --api-host HOST     HTTP API address, default 127.0.0.1
  --node-id ID        node name, default <hostname>-<pid>
  --log-level LEVEL   fatal, error, warn, info (default), debug or trace
  --workers N         worker threads, default: the number of CPU cores
  --redis URL         redis://host:port/db for clustering (better, as it may hold
                      a password: SRT_RELAY_REDIS, or SRT_RELAY_REDIS_FILE naming
                      a file that holds it; argv is visible in ps)
  --cluster-secret S  cluster secret, 16+ characters, same on every node (better:
                      SRT_RELAY_CLUSTER_SECRET or SRT_RELAY_CLUSTER_SECRET_FILE)
  --internal-port N   UDP port other nodes pull streams from (default: SRT port + 1)
  --advertise-host H  host other nodes reach this one at (default 127.0.0.1)
  --srtla-port N      UDP port of the SRTLA bonded-ingest receiver (default: off)
  --show-secrets      with config: print secrets instead of "***"
                      (--mask-secrets is accepted: masking is the default)
  -h, --help          show this text
  --version           print the version

examples:
  srt-relay --config srt-relay.yml
  srt-relay --srt-port 9000 --log-level debug
  srt-relay url 'srt://192.0.2.10:9001?latency=200'`;

const OPTIONS = {
  config: { type: 'string' },
  'srt-port': { type: 'string' },
  'api-port': { type: 'string' },
  'api-host': { type: 'string' },
  'node-id': { type: 'string' },
  'log-level': { type: 'string' },
  workers: { type: 'string' },
  redis: { type: 'string' },
  'cluster-secret': { type: 'string' },
  'internal-port': { type: 'string' },
  'advertise-host': { type: 'string' },
  'srtla-port': { type: 'string' },
  'show-secrets': { type: 'boolean' },
  example: { type: 'boolean' },
  'watch-config': { type: 'boolean' },
  'log-format': { type: 'string' },
  'mask-secrets': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

type FlagName = keyof typeof OPTIONS;

const FLAG_NAMES = Object.keys(OPTIONS) as FlagName[];

function validFlagsText(): string {
  return FLAG_NAMES.map((n) => `--${n}`).join(', ');
}

function flagError(flag: string, message: string): ConfigInvalidError {
  return new ConfigInvalidError(`${flag}: ${message}`, flag);
}

function show(s: string): string {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);
}

/** Commands whose arguments after the command word belong to the command itself. */
const PASS_THROUGH: ReadonlySet<Command> = new Set<Command>(['url', 'streamid', 'bench']);

function isCommand(word: string): word is Command {
  return (COMMANDS as readonly string[]).includes(word);
}

function parsePortFlag(flag: string, text: string): number {
  if (!/^[0-9]{1,5}$/.test(text.trim()) || Number(text) < 1 || Number(text) > 65535) {
    throw flagError(flag, `must be a port number 1 to 65535 (got ${show(text)})`);
  }
  return Number(text);
}

function parseWorkers(flag: string, text: string): number {
  if (!/^[0-9]{1,6}$/.test(text.trim()) || Number(text) < 1) {
    throw flagError(flag, `must be a whole number of 1 or more (got ${show(text)})`);
  }
  return Number(text);
}

function suggestFlag(name: string): string {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const f of FLAG_NAMES) {
    const d = editDistance(name.toLowerCase(), f);
    if (d < bestDist) {
      best = f;
      bestDist = d;
    }
  }
  return best !== undefined && bestDist <= 3 && bestDist < name.length ? `did you mean --${best}? ` : '';
}

/**
 * A setting from the environment: `NAME`, or the contents of the file `NAME_FILE` names (one
 * trailing newline removed), so that secrets stay out of argv (visible in `ps`). Both set is an
 * error. Returns the value and the variable it came from.
 */
export function settingFromEnv(env: NodeJS.ProcessEnv, name: string): { value: string; from: string } | undefined {
  const direct = env[name];
  const fileVar = `${name}_FILE`;
  const file = env[fileVar];
  const hasDirect = direct !== undefined && direct !== '';
  const hasFile = file !== undefined && file !== '';
  if (hasDirect && hasFile) throw flagError(name, `is set, and so is ${fileVar}; keep one`);
  if (hasDirect) return { value: direct, from: name };
  if (!hasFile) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw flagError(fileVar, `cannot read ${show(file)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a file the relay's user can read`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw flagError(fileVar, `the file ${show(file)} is empty`);
  return { value, from: fileVar };
}

/**
 * Parse `process.argv.slice(2)`. Throws ConfigInvalidError (path = the flag) for bad flags or
 * values. The Redis URL and the cluster secret may also come from `env` (flag > environment > file).
 */
export function parseCliArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliArgs {
  // Tokenize leniently first, to find the command word and report unknown flags ourselves.
  const { tokens } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: false, tokens: true });

  let command: Command = 'run';
  let commandIndex = -1;
  let rest: string[] = [];
  const values = new Map<FlagName, string | boolean>();
  for (const t of tokens) {
    if (t.kind === 'option-terminator') continue;
    if (t.kind === 'positional') {
      if (commandIndex === -1) {
        if (!isCommand(t.value)) {
          const hint = /\.json$/i.test(t.value)
            ? `; to use a config file write --config ${t.value}`
            : `; commands are ${orList([...COMMANDS])}`;
          throw new ConfigInvalidError(`unknown command ${show(t.value)}${hint}`, 'command');
        }
        command = t.value;
        commandIndex = t.index;
        if (PASS_THROUGH.has(command)) {
          rest = argv.slice(commandIndex + 1);
          break;
        }
        continue;
      }
      if (command === 'config' && (t.value === 'import' || t.value === 'export')) {
        // `config import|export ...` has its own flags (src/cli/config-command.ts).
        rest = argv.slice(t.index);
        break;
      }
      throw new ConfigInvalidError(
        `unexpected argument ${show(t.value)} after the ${command} command; flags take their value as --flag VALUE`,
        'command',
      );
    }
    const name = t.name as FlagName;
    if (!Object.prototype.hasOwnProperty.call(OPTIONS, t.name)) {
      throw flagError(t.rawName, `unknown flag; ${suggestFlag(t.name)}valid flags are ${validFlagsText()}, -h`);
    }
    if (values.has(name)) throw flagError(t.rawName, 'is given twice; keep one');
    if (OPTIONS[name].type === 'boolean') {
      if (t.value !== undefined) throw flagError(t.rawName, `takes no value (got ${show(t.value)})`);
      values.set(name, true);
    } else {
      if (t.value === undefined || (t.inlineValue !== true && t.value.startsWith('--'))) {
        throw flagError(t.rawName, `needs a value, e.g. --${name} ${exampleFor(name)}`);
      }
      values.set(name, t.value);
    }
  }

  if (values.get('help') === true) return { command: 'help', overrides: {}, rest: [] };
  const showSecrets = values.get('show-secrets') === true;
  if (showSecrets && command !== 'config') throw flagError('--show-secrets', 'only applies to the config command (srt-relay config --show-secrets)');
  if (values.get('version') === true) return { command: 'version', overrides: {}, rest: [] };
  const example = values.get('example') === true;
  if (example && command !== 'config') throw flagError('--example', 'only applies to the config command (srt-relay config --example)');
  const watchConfig = values.get('watch-config') === true;
  if (watchConfig && values.get('config') === undefined) throw flagError('--watch-config', 'needs a config file to watch: add --config FILE');
  const logFormatText = values.get('log-format');
  let logFormat: LogFormat | undefined;
  if (typeof logFormatText === 'string') {
    const f = logFormatText.toLowerCase();
    if (!(LOG_FORMATS as readonly string[]).includes(f)) throw flagError('--log-format', `must be one of ${LOG_FORMATS.join(', ')} (got ${show(logFormatText)})`);
    logFormat = f as LogFormat;
  }

  const str = (n: FlagName): string | undefined => {
    const v = values.get(n);
    return typeof v === 'string' ? v : undefined;
  };
  const overrides: CliOverrides = {};
  const srtPort = str('srt-port');
  if (srtPort !== undefined) overrides.srtPort = parsePortFlag('--srt-port', srtPort);
  const apiPort = str('api-port');
  if (apiPort !== undefined) overrides.apiPort = parsePortFlag('--api-port', apiPort);
  const apiHost = str('api-host');
  if (apiHost !== undefined) {
    const problem = checkHostText(apiHost);
    if (problem !== undefined) throw flagError('--api-host', problem);
    overrides.apiHost = apiHost;
  }
  const nodeId = str('node-id');
  if (nodeId !== undefined) {
    if (!NODE_ID_PATTERN.test(nodeId)) {
      throw flagError('--node-id', `must be 1 to 128 letters, digits, '.', '_' or '-' (got ${show(nodeId)})`);
    }
    overrides.nodeId = nodeId;
  }
  const logLevel = str('log-level');
  if (logLevel !== undefined) {
    const level = logLevel.toLowerCase();
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw flagError('--log-level', `must be one of ${LOG_LEVELS.join(', ')} (got ${show(logLevel)})`);
    }
    overrides.logLevel = level as LogLevel;
  }
  const workers = str('workers');
  if (workers !== undefined) overrides.workers = parseWorkers('--workers', workers);
  const from: { redis?: string; clusterSecret?: string } = {};
  const redisFlag = str('redis');
  const redisEnv = redisFlag === undefined ? settingFromEnv(env, 'SRT_RELAY_REDIS') : undefined;
  const redis = redisFlag ?? redisEnv?.value;
  if (redis !== undefined) {
    const where = redisEnv?.from ?? '--redis';
    const problem = checkRedisUrl(redis);
    if (problem !== undefined) throw flagError(where, problem);
    overrides.redis = redis;
    if (redisEnv !== undefined) from.redis = redisEnv.from;
  }
  const secretFlag = str('cluster-secret');
  const secretEnv = secretFlag === undefined ? settingFromEnv(env, 'SRT_RELAY_CLUSTER_SECRET') : undefined;
  const secret = secretFlag ?? secretEnv?.value;
  if (secret !== undefined) {
    if (secret.length < 16) throw flagError(secretEnv?.from ?? '--cluster-secret', `must be at least 16 characters (got ${secret.length}); use the same long random string on every node`);
    overrides.clusterSecret = secret;
    if (secretEnv !== undefined) from.clusterSecret = secretEnv.from;
  }
  if (from.redis !== undefined || from.clusterSecret !== undefined) overrides.from = from;
  const internalPort = str('internal-port');
  if (internalPort !== undefined) overrides.internalPort = parsePortFlag('--internal-port', internalPort);
  const advertise = str('advertise-host');
  if (advertise !== undefined) {
    const problem = checkHostText(advertise);
    if (problem !== undefined) throw flagError('--advertise-host', problem);
    overrides.advertiseHost = advertise;
  }
  const srtlaPort = str('srtla-port');
  if (srtlaPort !== undefined) overrides.srtlaPort = parsePortFlag('--srtla-port', srtlaPort);
  const configFile = str('config');
  if (configFile !== undefined && configFile.trim() === '') throw flagError('--config', 'needs a file name');

  return {
    command,
    ...(configFile !== undefined ? { configFile } : {}),
    overrides,
    rest,
    ...(showSecrets ? { showSecrets } : {}),
    ...(example ? { example } : {}),
    ...(watchConfig ? { watchConfig } : {}),
    ...(logFormat !== undefined ? { logFormat } : {}),
  };
}

function exampleFor(name: FlagName): string {
  switch (name) {
    case 'config':
      return 'srt-relay.yml';
    case 'log-format':
      return 'json';
    case 'srt-port':
      return '8889';
    case 'api-port':
      return '4242';
    case 'api-host':
      return '127.0.0.1';
    case 'node-id':
      return 'relay-1';
    case 'log-level':
      return 'debug';
    case 'workers':
      return '4';
    case 'redis':
      return 'redis://127.0.0.1:6379/0';
    case 'cluster-secret':
      return 'a-long-random-shared-secret';
    case 'internal-port':
      return '8890';
    case 'advertise-host':
      return '10.0.0.5';
    case 'srtla-port':
      return '5000';
    default:
      return 'VALUE';
  }
}
