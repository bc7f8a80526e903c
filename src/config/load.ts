/**
 * Loading the relay configuration: file (YAML or JSON, src/config/parse-file.ts) → JSON Schema
 * (schema/config.schema.json, via ajv, src/config/schema.ts) → command-line overrides → semantic
 * checks, one module per section (validate-*.ts; streams through normalizeStream in
 * stream-config.ts) → defaults → deep freeze.
 *
 * Every problem is reported as one `ConfigInvalidError` (ERR_CONFIG_INVALID) whose message has a
 * line per problem, `key.path: what is wrong (got ...)`, naming what to change. All schema
 * problems are reported at once, and all semantic ones. Passphrases and tokens are never echoed.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigInvalidError } from '../errors.js';
import { defaultNodeId, defaultWorkers } from './defaults.js';
import { deepFreeze, Problems, showValue } from './problems.js';
import { addSchemaProblems } from './schema.js';
import { parseConfigText, withPositions } from './parse-file.js';
import { applyOverrides } from './overrides.js';
import { addMissingSources, normalizeStream, streamListeners } from './stream-config.js';
import { normalizePorts } from './validate-ports.js';
import { normalizePushes } from './validate-pushes.js';
import { checkListenerClashes, type UdpListener } from './validate-listeners.js';
import { checkLimits, limitsWithDefaults } from './validate-limits.js';
import { apiWithDefaults, authWithDefaults, checkApiSrtlaAuth } from './validate-api.js';
import { checkCluster, clusterDefaults } from './validate-cluster.js';
import { bareHost } from './validate-values.js';
import type { CliOverrides, RelayConfig, RelayConfigInput, StreamConfig, StreamInput } from './types.js';

// What this module exported before it was split, for the modules and tests that import it from here.
export {
  AUTH_DEFAULTS,
  DEFAULT_API_HOST,
  DEFAULT_API_PORT,
  DEFAULT_SRT_HOST,
  DEFAULT_SRT_PORT,
  MAX_REUSE_PORT,
  NODE_ID_PATTERN,
  STREAM_DEFAULTS,
  STREAM_NAME_PATTERN,
  defaultNodeId,
  defaultRingMemoryMb,
  defaultWorkers,
} from './defaults.js';
export { formatKeyPath } from './problems.js';
export { configSchema, configSchemaPath, describeAjvError } from './schema.js';
export { parseConfigJson, parseConfigText } from './parse-file.js';
export { checkHostText, checkHttpUrl, checkRedisUrl } from './validate-values.js';

export interface NormalizeOptions {
  /** Directory relative `file://` sources are resolved against. Default: the current directory. */
  readonly baseDir?: string;
  readonly overrides?: CliOverrides;
  /** The file the input came from (for messages and `RelayConfig.configFile`). */
  readonly file?: string;
  /** `parsed`: file:// push targets are only parsed, not checked against a recordingsRoot (the cluster's shared configuration: each node checks them against its own when it applies them). */
  readonly fileTargets?: 'confined' | 'parsed';
}

/**
 * Check a config object (as parsed from the file) and return the frozen, normalized config.
 * Throws ConfigInvalidError listing every problem.
 */
export function normalizeConfig(input: unknown, opts: NormalizeOptions = {}): RelayConfig {
  const baseDir = opts.baseDir ?? (opts.file !== undefined ? dirname(resolve(opts.file)) : process.cwd());

  // The file alone must be an object before overrides can be merged into it.
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    const p = new Problems();
    p.add([], `the configuration must be a JSON object ({...}) or YAML mapping (key: value lines) (got ${showValue(input)})`);
    p.throwIfAny(opts.file);
  }

  const { merged, flagPaths } = applyOverrides(input as RelayConfigInput, opts.overrides);
  const problems = new Problems(flagPaths);

  // 1. shape: JSON Schema
  addSchemaProblems(merged, problems);
  addMissingSources((merged as { streams?: unknown }).streams, problems);
  problems.throwIfAny(opts.file);
  const cfg = merged;

  // 2. meaning, section by section
  const workers = cfg.workers ?? defaultWorkers();
  const mediaRoot = typeof cfg.mediaRoot === 'string' ? resolve(baseDir, cfg.mediaRoot) : undefined;
  const listeners: UdpListener[] = [];
  const ports = normalizePorts(cfg.srt?.ports, workers, problems, listeners);

  const streams: [string, StreamConfig][] = [];
  for (const [name, s] of Object.entries(cfg.streams ?? {}) as [string, StreamInput | boolean][]) {
    if (name === 'dynamic' || typeof s === 'boolean') continue;
    try {
      const stream = normalizeStream(name, s, { origin: 'file', baseDir, ...(mediaRoot !== undefined ? { mediaRoot } : {}) });
      streams.push([name, stream]);
      listeners.push(...streamListeners(name, s, stream));
    } catch (err) {
      problems.absorb(err);
    }
  }

  const recordingsRoot = typeof cfg.recordingsRoot === 'string' ? resolve(baseDir, cfg.recordingsRoot) : undefined;
  const pushes = normalizePushes(cfg.pushes, problems, listeners, { root: recordingsRoot, node: cfg.nodeId ?? 'node', parseOnly: opts.fileTargets === 'parsed' });
  checkListenerClashes(listeners, problems);
  checkApiSrtlaAuth(cfg, ports, problems);
  checkLimits(cfg, problems);
  const internalPort = checkCluster(cfg, ports, problems);
  problems.throwIfAny(opts.file);

  // 3. defaults
  const config: RelayConfig = {
    nodeId: cfg.nodeId ?? defaultNodeId(),
    logLevel: cfg.logLevel ?? 'info',
    workers,
    limits: limitsWithDefaults(cfg),
    srt: { ports },
    ...(cfg.srtla !== undefined ? { srtla: { ...cfg.srtla, host: cfg.srtla.host !== undefined ? bareHost(cfg.srtla.host) : '0.0.0.0' } } : {}),
    api: apiWithDefaults(cfg),
    // fromEntries defines own properties, so a stream named "__proto__" stays a stream.
    streams: Object.fromEntries(streams),
    dynamicStreams: typeof cfg.streams?.['dynamic'] === 'boolean' ? cfg.streams['dynamic'] : true,
    pushes,
    auth: authWithDefaults(cfg),
    metrics: { sessionSeries: cfg.metrics?.sessionSeries ?? 'auto', sessionSeriesLimit: cfg.metrics?.sessionSeriesLimit ?? 100 },
    ...(mediaRoot !== undefined ? { mediaRoot } : {}),
    ...(recordingsRoot !== undefined ? { recordingsRoot } : {}),
    ...(cfg.redis !== undefined ? { redis: cfg.redis, cluster: clusterDefaults(cfg.cluster ?? {}, internalPort) } : {}),
    ...(opts.file !== undefined ? { configFile: resolve(opts.file) } : {}),
  };
  return deepFreeze(config);
}

/** The configuration with no file and no flags: every default. */
export function defaultConfig(): RelayConfig {
  return normalizeConfig({});
}

export interface LoadConfigOptions {
  /** Config file (YAML, or JSON when it ends in .json); relative paths are resolved against the current directory. */
  readonly file?: string;
  /** Command-line values; they win over the file. */
  readonly overrides?: CliOverrides;
}

/** Read, check and normalize the configuration (flags > file > defaults). Throws ConfigInvalidError. */
export async function loadConfig(opts: LoadConfigOptions = {}): Promise<RelayConfig> {
  if (opts.file === undefined) return normalizeConfig({}, opts.overrides === undefined ? {} : { overrides: opts.overrides });
  const file = resolve(opts.file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'config file not found'
        : code === 'EISDIR'
          ? 'the config path is a directory, not a file'
          : code === 'EACCES' || code === 'EPERM'
            ? 'config file cannot be read (permission denied)'
            : `config file cannot be read (${code ?? (err as Error).message})`;
    throw new ConfigInvalidError(`${file}: ${why}; check the --config path`, undefined, { file, ...(code !== undefined ? { errno: code } : {}) });
  }
  const input = parseConfigText(text, file);
  try {
    return normalizeConfig(input, { file, ...(opts.overrides !== undefined ? { overrides: opts.overrides } : {}) });
  } catch (err) {
    throw withPositions(err, text, file);
  }
}

