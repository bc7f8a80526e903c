/**
 * One stream model: `normalizeStream(name, input, ctx)` checks one stream object — the config
 * file's `streams.<name>` value, the body of `PUT /api/v1/streams/<name>` (single node or cluster)
 * and what a node reads back from the cluster's shared configuration — with the config loader's
 * rules (the JSON Schema's stream keys, sources, SRT URLs and options, passphrases, mediaRoot,
 * ports among its own sources) and returns the checked `StreamConfig`, every default filled in.
 *
 * Problems are one ConfigInvalidError (ERR_CONFIG_INVALID) whose lines are the ones the config
 * file gives for the same stream (`streams.<name>.<key path>: what is wrong`).
 *
 * Where the stream comes from decides which `file://` sources it may name:
 * - `file` (the config file) and `shared` (the cluster's configuration, stored after a check):
 *   anywhere, or inside `mediaRoot` when it is set;
 * - `api` (a single node's API): only inside `mediaRoot`, and never without one (the API must
 *   not read arbitrary files of the node); a relative path is relative to `mediaRoot`;
 * - `cluster-api` (a cluster member's API): never (the API never names files on the nodes).
 */
import { ConfigInvalidError } from '../errors.js';
import { formatKeyPath, normalizeConfig } from './load.js';
import type { StreamConfig } from './types.js';

export type StreamOrigin = 'file' | 'api' | 'cluster-api' | 'shared';

export interface StreamContext {
  readonly origin: StreamOrigin;
  /** Absolute directory every file:// source must be inside (the node's `mediaRoot`). */
  readonly mediaRoot?: string;
  /** Directory relative file:// sources are resolved against (default: mediaRoot, else the current directory). */
  readonly baseDir?: string;
}

/** Checks one stream; returns it normalized and frozen. Throws ConfigInvalidError (key paths under `streams.<name>`). */
export function normalizeStream(name: string, input: unknown, ctx: StreamContext): StreamConfig {
  refuseDeepNesting(name, input);
  refuseApiFiles(name, input, ctx);
  const baseDir = ctx.baseDir ?? ctx.mediaRoot;
  const config = normalizeConfig(
    { srt: { ports: [] }, ...(ctx.mediaRoot !== undefined ? { mediaRoot: ctx.mediaRoot } : {}), streams: { [name]: input } },
    baseDir !== undefined ? { baseDir } : {},
  );
  const s = Object.prototype.hasOwnProperty.call(config.streams, name) ? config.streams[name] : undefined;
  if (s === undefined) throw new ConfigInvalidError(`${formatKeyPath(['streams', name])}: must be a stream object ({"source": ...})`, formatKeyPath(['streams', name]));
  return s;
}

/** Deepest nesting a stream object can have (`passphrase.publish`, `sources[i]`) plus room for a wrong shape. */
const MAX_DEPTH = 8;

/** A value nested deeper than any stream key (e.g. a crafted API body) is refused before the loader walks it. */
function refuseDeepNesting(name: string, input: unknown): void {
  const stack: Array<[unknown, Array<string | number>]> = [[input, ['streams', name]]];
  while (stack.length > 0) {
    const [value, segs] = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (segs.length - 2 >= MAX_DEPTH) {
      const path = formatKeyPath(segs);
      const why = 'nested too deeply: no stream key is more than two levels deep (see docs/config.md)';
      throw new ConfigInvalidError(`${path}: ${why}`, path, { problems: [{ path, message: why }] });
    }
    for (const [k, v] of Object.entries(value)) stack.push([v, [...segs, Array.isArray(value) ? Number(k) : k]]);
  }
}

/** The file:// sources an API body may not name (see the module comment). */
function refuseApiFiles(name: string, input: unknown, ctx: StreamContext): void {
  if (ctx.origin !== 'api' && ctx.origin !== 'cluster-api') return;
  if (ctx.origin === 'api' && ctx.mediaRoot !== undefined) return; // the loader keeps them inside it
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return; // the loader says what is wrong
  const body = input as { source?: unknown; sources?: unknown };
  const at: Array<[Array<string | number>, unknown]> = [
    [['streams', name, 'source'], body.source],
    ...(Array.isArray(body.sources) ? body.sources.map((s, i): [Array<string | number>, unknown] => [['streams', name, 'sources', i], s]) : []),
  ];
  for (const [segs, text] of at) {
    if (typeof text !== 'string' || !/^\s*file:/i.test(text)) continue;
    const path = formatKeyPath(segs);
    const why =
      ctx.origin === 'cluster-api'
        ? 'the API of a cluster member never names files on the nodes; put file:// sources in a node\'s config file'
        : 'the API accepts file:// sources only inside mediaRoot, and this node has none; set mediaRoot in the config file';
    throw new ConfigInvalidError(`${path}: ${why}`, path, { problems: [{ path, message: why }] });
  }
}
