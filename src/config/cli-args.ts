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

/** One command-line flag: its `SRT_RELAY_*` variable and its line in `--help` come from here. */
export interface FlagSpec {
  readonly name: string;
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** Its environment variable, or why it has none (flags that pick a command or print secrets). */
  readonly env: string | { readonly none: string };
  /** `<env>_FILE` may name a file that holds the value (secrets: argv and the environment show in `ps` / `/proc`). */
  readonly envFile?: boolean;
  /** The value's placeholder in `--help` (string flags). */
  readonly arg?: string;
  /** `--help` text; `\n` starts a continuation line. */
  readonly help: string;
  /** A value for "needs a value, e.g. ..." (string flags). */
  readonly example?: string;
}

/** Every flag of the relay, in `--help` order. Flag > environment variable > config file > default. */
export const FLAGS: readonly FlagSpec[] = Object.freeze([
  { name: 'config', type: 'string', env: 'SRT_RELAY_CONFIG', arg: 'FILE', example: 'srt-relay.yml', help: 'config file, YAML or JSON (.json) (see docs/config.md,\nsrt-relay config --example); reloaded on SIGHUP' },
  { name: 'watch-config', type: 'boolean', env: 'SRT_RELAY_WATCH_CONFIG', help: 'also reload the config file whenever it changes' },
  { name: 'log-format', type: 'string', env: 'SRT_RELAY_LOG_FORMAT', arg: 'F', example: 'json', help: 'pretty or json (default: pretty on a terminal, else json)' },
  { name: 'srt-port', type: 'string', env: 'SRT_RELAY_SRT_PORT', arg: 'N', example: '8889', help: 'SRT port (1-65535): replaces the port of the first srt.ports entry' },
  { name: 'srt-host', type: 'string', env: 'SRT_RELAY_SRT_HOST', arg: 'HOST', example: '192.0.2.10', help: 'address the first srt.ports entry (the default port) binds to,\ndefault 0.0.0.0 (every IPv4 address)' },
  { name: 'api-port', type: 'string', env: 'SRT_RELAY_API_PORT', arg: 'N', example: '4242', help: 'HTTP API port (1-65535), default 4242' },
  { name: 'api-host', type: 'string', env: 'SRT_RELAY_API_HOST', arg: 'HOST', example: '127.0.0.1', help: 'HTTP API address, default 127.0.0.1' },
  { name: 'node-id', type: 'string', env: 'SRT_RELAY_NODE_ID', arg: 'ID', example: 'relay-1', help: 'node name, default <hostname>-<pid>' },
  { name: 'log-level', type: 'string', env: 'SRT_RELAY_LOG_LEVEL', arg: 'LEVEL', example: 'debug', help: 'fatal, error, warn, info (default), debug or trace' },
  { name: 'workers', type: 'string', env: 'SRT_RELAY_WORKERS', arg: 'N', example: '4', help: 'worker threads, default: the number of CPU cores' },
  { name: 'redis', type: 'string', env: 'SRT_RELAY_REDIS', envFile: true, arg: 'URL', example: 'redis://127.0.0.1:6379/0', help: 'redis://host:port/db for clustering (better, as it may hold\na password: SRT_RELAY_REDIS, or SRT_RELAY_REDIS_FILE naming\na file that holds it; argv is visible in ps)' },
  { name: 'cluster-secret', type: 'string', env: 'SRT_RELAY_CLUSTER_SECRET', envFile: true, arg: 'S', example: 'a-long-random-shared-secret', help: 'cluster secret, 16+ characters, same on every node (better:\nSRT_RELAY_CLUSTER_SECRET or SRT_RELAY_CLUSTER_SECRET_FILE)' },
  { name: 'internal-port', type: 'string', env: 'SRT_RELAY_INTERNAL_PORT', arg: 'N', example: '8890', help: 'UDP port other nodes pull streams from (default: SRT port + 1)' },
  { name: 'advertise-host', type: 'string', env: 'SRT_RELAY_ADVERTISE_HOST', arg: 'H', example: '10.0.0.5', help: 'host other nodes reach this one at (default 127.0.0.1)' },
  { name: 'srtla-port', type: 'string', env: 'SRT_RELAY_SRTLA_PORT', arg: 'N', example: '5000', help: 'UDP port of the SRTLA bonded-ingest receiver (default: off)' },
  { name: 'show-secrets', type: 'boolean', env: { none: 'prints secrets: only ever asked for on the command line' }, help: 'with config: print secrets instead of "***"\n(--mask-secrets is accepted: masking is the default)' },
  { name: 'example', type: 'boolean', env: { none: 'part of the config command (config --example)' }, help: '' },
  { name: 'mask-secrets', type: 'boolean', env: { none: 'accepted for compatibility; masking is the default' }, help: '' },
  { name: 'help', type: 'boolean', short: 'h', env: { none: 'a command (help)' }, help: 'show this text' },
  { name: 'version', type: 'boolean', env: { none: 'a command (version)' }, help: 'print the version' },
] satisfies FlagSpec[]);

/** The `--help` lines of the flags, with each one's environment variable. */
function flagsHelp(): string {
  const lines: string[] = [];
  for (const f of FLAGS) {
    if (f.help === '') continue;
    const head = `${f.short !== undefined ? `-${f.short}, ` : ''}--${f.name}${f.arg !== undefined ? ` ${f.arg}` : ''}`;
    const [first, ...more] = f.help.split('\n');
    lines.push(`  ${head.padEnd(18)}  ${first}`);
    for (const m of more) lines.push(`${' '.repeat(22)}${m}`);
    if (typeof f.env === 'string' && f.envFile !== true) lines.push(`${' '.repeat(22)}env ${f.env}`);
  }
  return lines.join('\n');
}

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

flags (a flag wins over its environment variable, "env NAME", which wins over the
config file, which wins over the defaults; a yes/no variable is 1/true/yes/on or
0/false/no/off):
${flagsHelp()}

examples:
  srt-relay --config srt-relay.yml
  srt-relay --srt-port 9000 --log-level debug
  SRT_RELAY_CONFIG=/etc/srt-relay/relay.yml SRT_RELAY_WATCH_CONFIG=1 srt-relay
  srt-relay url 'srt://192.0.2.10:9001?latency=200'`;

const OPTIONS: Record<string, { type: 'string' | 'boolean'; short?: string }> = Object.fromEntries(
  FLAGS.map((f) => [f.name, { type: f.type, ...(f.short !== undefined ? { short: f.short } : {}) }]),
);

type FlagName = string;

const FLAG_NAMES: readonly FlagName[] = FLAGS.map((f) => f.name);

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

type OverrideKey = Exclude<keyof CliOverrides, 'from'>;

/** The CliOverrides key each setting flag fills. */
const OVERRIDE_OF_FLAG: Readonly<Record<string, OverrideKey>> = {
  'srt-port': 'srtPort',
  'srt-host': 'srtHost',
  'api-port': 'apiPort',
  'api-host': 'apiHost',
  'node-id': 'nodeId',
  'log-level': 'logLevel',
  workers: 'workers',
  redis: 'redis',
  'cluster-secret': 'clusterSecret',
  'internal-port': 'internalPort',
  'advertise-host': 'advertiseHost',
  'srtla-port': 'srtlaPort',
};

/** A variable's value when it is set and not empty. */
function plainSetting(env: NodeJS.ProcessEnv, name: string): { value: string; from: string } | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : { value: v, from: name };
}

/** A yes/no flag's variable: 1/true/yes/on or 0/false/no/off. */
function envBoolean(name: string, text: string): boolean {
  const t = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off'].includes(t)) return false;
  throw flagError(name, `must be 1, true, yes, on or 0, false, no, off (got ${show(text)})`);
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
 * values. A flag not given may come from its `SRT_RELAY_*` variable in `env` (FLAGS; flag > environment > file).
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
    if (OPTIONS[name]?.type === 'boolean') {
      if (t.value !== undefined) throw flagError(t.rawName, `takes no value (got ${show(t.value)})`);
      values.set(name, true);
    } else {
      if (t.value === undefined || (t.inlineValue !== true && t.value.startsWith('--'))) {
        throw flagError(t.rawName, `needs a value, e.g. --${name} ${FLAGS.find((f) => f.name === name)?.example ?? 'VALUE'}`);
      }
      values.set(name, t.value);
    }
  }

  // Flags not on the command line: their SRT_RELAY_* variable (flag > environment > file).
  const fromEnv = new Map<FlagName, string>();
  for (const f of FLAGS) {
    if (typeof f.env !== 'string' || values.has(f.name)) continue;
    const got = f.envFile === true ? settingFromEnv(env, f.env) : plainSetting(env, f.env);
    if (got === undefined) continue;
    if (f.type === 'boolean') {
      if (envBoolean(got.from, got.value)) values.set(f.name, true);
    } else {
      values.set(f.name, got.value);
    }
    fromEnv.set(f.name, got.from);
  }
  /** Where a value came from, for messages: `--flag` or the variable's name. */
  const where = (n: FlagName): string => fromEnv.get(n) ?? `--${n}`;

  if (values.get('help') === true) return { command: 'help', overrides: {}, rest: [] };
  const showSecrets = values.get('show-secrets') === true;
  if (showSecrets && command !== 'config') throw flagError('--show-secrets', 'only applies to the config command (srt-relay config --show-secrets)');
  if (values.get('version') === true) return { command: 'version', overrides: {}, rest: [] };
  const example = values.get('example') === true;
  if (example && command !== 'config') throw flagError('--example', 'only applies to the config command (srt-relay config --example)');
  const watchConfig = values.get('watch-config') === true;
  if (watchConfig && values.get('config') === undefined) throw flagError(where('watch-config'), 'needs a config file to watch: add --config FILE (or SRT_RELAY_CONFIG)');
  const logFormatText = values.get('log-format');
  let logFormat: LogFormat | undefined;
  if (typeof logFormatText === 'string') {
    const f = logFormatText.toLowerCase();
    if (!(LOG_FORMATS as readonly string[]).includes(f)) throw flagError(where('log-format'), `must be one of ${LOG_FORMATS.join(', ')} (got ${show(logFormatText)})`);
    logFormat = f as LogFormat;
  }

  const str = (n: FlagName): string | undefined => {
    const v = values.get(n);
    return typeof v === 'string' ? v : undefined;
  };
  const overrides: CliOverrides = {};
  const srtPort = str('srt-port');
  if (srtPort !== undefined) overrides.srtPort = parsePortFlag(where('srt-port'), srtPort);
  const apiPort = str('api-port');
  if (apiPort !== undefined) overrides.apiPort = parsePortFlag(where('api-port'), apiPort);
  const apiHost = str('api-host');
  if (apiHost !== undefined) {
    const problem = checkHostText(apiHost);
    if (problem !== undefined) throw flagError(where('api-host'), problem);
    overrides.apiHost = apiHost;
  }
  const nodeId = str('node-id');
  if (nodeId !== undefined) {
    if (!NODE_ID_PATTERN.test(nodeId)) {
      throw flagError(where('node-id'), `must be 1 to 128 letters, digits, '.', '_' or '-' (got ${show(nodeId)})`);
    }
    overrides.nodeId = nodeId;
  }
  const logLevel = str('log-level');
  if (logLevel !== undefined) {
    const level = logLevel.toLowerCase();
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw flagError(where('log-level'), `must be one of ${LOG_LEVELS.join(', ')} (got ${show(logLevel)})`);
    }
    overrides.logLevel = level as LogLevel;
  }
  const workers = str('workers');
  if (workers !== undefined) overrides.workers = parseWorkers(where('workers'), workers);
  const redis = str('redis');
  if (redis !== undefined) {
    const problem = checkRedisUrl(redis);
    if (problem !== undefined) throw flagError(where('redis'), problem);
    overrides.redis = redis;
  }
  const secret = str('cluster-secret');
  if (secret !== undefined) {
    if (secret.length < 16) throw flagError(where('cluster-secret'), `must be at least 16 characters (got ${secret.length}); use the same long random string on every node`);
    overrides.clusterSecret = secret;
  }
  const internalPort = str('internal-port');
  if (internalPort !== undefined) overrides.internalPort = parsePortFlag(where('internal-port'), internalPort);
  const advertise = str('advertise-host');
  if (advertise !== undefined) {
    const problem = checkHostText(advertise);
    if (problem !== undefined) throw flagError(where('advertise-host'), problem);
    overrides.advertiseHost = advertise;
  }
  const srtlaPort = str('srtla-port');
  if (srtlaPort !== undefined) overrides.srtlaPort = parsePortFlag(where('srtla-port'), srtlaPort);
  const srtHost = str('srt-host');
  if (srtHost !== undefined) {
    const problem = checkHostText(srtHost);
    if (problem !== undefined) throw flagError(where('srt-host'), problem);
    overrides.srtHost = srtHost;
  }
  // Which overrides came from a variable, for "(set by SRT_RELAY_...)" in config errors.
  const from: Partial<Record<OverrideKey, string>> = {};
  for (const [flag, key] of Object.entries(OVERRIDE_OF_FLAG) as [FlagName, OverrideKey][]) {
    const variable = fromEnv.get(flag);
    if (variable !== undefined && overrides[key] !== undefined) from[key] = variable;
  }
  if (Object.keys(from).length > 0) overrides.from = from;
  const configFile = str('config');
  if (configFile !== undefined && configFile.trim() === '') throw flagError(where('config'), 'needs a file name');

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
