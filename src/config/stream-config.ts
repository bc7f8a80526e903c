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
import { resolve } from 'node:path';
import { ConfigInvalidError } from '../errors.js';
import { SRT_OPTIONS } from '../srt/options.js';
import { STREAM_DEFAULTS } from './defaults.js';
import { deepFreeze, formatKeyPath, Problems, type Seg } from './problems.js';
import { addSchemaProblems } from './schema.js';
import { parseSource } from './validate-sources.js';
import { checkListenerClashes, type UdpListener } from './validate-listeners.js';
import { normalizeLatency } from './latency-policy.js';
import type { StreamConfig, StreamInput, StreamSource } from './types.js';

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
  const baseDir = ctx.baseDir ?? ctx.mediaRoot ?? process.cwd();
  const mediaRoot = ctx.mediaRoot !== undefined ? resolve(baseDir, ctx.mediaRoot) : undefined;
  // The stream checked as the config file's only stream: the same schema, the same messages.
  const problems = new Problems();
  const streams = { [name]: input };
  addSchemaProblems({ srt: { ports: [] }, ...(ctx.mediaRoot !== undefined ? { mediaRoot: ctx.mediaRoot } : {}), streams }, problems);
  addMissingSources(streams, problems);
  problems.throwIfAny(undefined);
  if (name === 'dynamic' || input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigInvalidError(`${formatKeyPath(['streams', name])}: must be a stream object ({"source": ...})`, formatKeyPath(['streams', name]));
  }
  const listeners: UdpListener[] = [];
  const stream = streamFromInput(name, input as StreamInput, baseDir, mediaRoot, problems, listeners);
  checkListenerClashes(listeners, problems);
  problems.throwIfAny(undefined);
  return deepFreeze(stream);
}

/** "source" or "sources" (the schema cannot say "one of two" without strict-mode noise). */
export function addMissingSources(streamsIn: unknown, problems: Problems): void {
  if (streamsIn === null || typeof streamsIn !== 'object') return;
  for (const [name, st] of Object.entries(streamsIn as Record<string, unknown>)) {
    if (name === 'dynamic') continue;
    if (st !== null && typeof st === 'object' && !('source' in st) && !('sources' in st)) {
      problems.add(['streams', name, 'source'], 'is required, e.g. "source": "push://" (or "sources": [primary, backup, ...])');
    }
  }
}

/** The UDP listeners a checked stream opens (its `srt://:port` sources), with their key paths. */
export function streamListeners(name: string, input: StreamInput, stream: StreamConfig): UdpListener[] {
  const listed = input.sources !== undefined && input.sources.length > 0;
  const out: UdpListener[] = [];
  stream.sources.forEach((src, i) => {
    if (src.kind !== 'srt' || src.url.mode !== 'listener') return;
    const at: Seg[] = listed ? ['streams', name, 'sources', i] : ['streams', name, 'source'];
    out.push({ segs: at, host: src.url.host, port: src.url.port, what: formatKeyPath(at) });
  });
  return out;
}

/** A stream object that passed the schema → its StreamConfig with every default; adds problems and listeners. */
function streamFromInput(name: string, s: StreamInput, baseDir: string, mediaRoot: string | undefined, problems: Problems, listeners: UdpListener[]): StreamConfig {
  const segs: Seg[] = ['streams', name];
  const sourceTexts = s.sources !== undefined && s.sources.length > 0 ? s.sources : s.source !== undefined ? [s.source] : [];
  const sources: StreamSource[] = [];
  sourceTexts.forEach((text, i) => {
    const at: Seg[] = s.sources !== undefined && s.sources.length > 0 ? [...segs, 'sources', i] : [...segs, 'source'];
    const parsed = parseSource(text, at, baseDir, problems, mediaRoot);
    if (parsed === undefined) return;
    sources.push(parsed);
    if (parsed.kind === 'srt' && parsed.url.mode === 'listener') {
      listeners.push({ segs: at, host: parsed.url.host, port: parsed.url.port, what: formatKeyPath(at) });
    }
  });
  const source = sources[0];
  for (const side of ['publish', 'play'] as const) {
    const pass = s.passphrase?.[side];
    if (pass === undefined) continue;
    try {
      SRT_OPTIONS.passphrase.validate(pass);
    } catch (err) {
      problems.wrap([...segs, 'passphrase', side], err);
    }
  }
  return {
    name,
    source: source ?? { kind: 'push' },
    bufferTimeMs: s.bufferTimeMs ?? STREAM_DEFAULTS.bufferTimeMs,
    acceptStreamIds: s.acceptStreamIds ?? STREAM_DEFAULTS.acceptStreamIds,
    alwaysOn: s.alwaysOn ?? STREAM_DEFAULTS.alwaysOn,
    sources: sources.length > 0 ? sources : [{ kind: 'push' }],
    loop: s.loop ?? false,
    simulatedLive: s.simulatedLive ?? true,
    join: s.join ?? 'keyframe',
    passphrase: {
      ...(s.passphrase?.publish !== undefined ? { publish: s.passphrase.publish } : {}),
      ...(s.passphrase?.play !== undefined ? { play: s.passphrase.play } : {}),
    },
    onPublisherConflict: s.onPublisherConflict ?? STREAM_DEFAULTS.onPublisherConflict,
    takeoverAfterMs: s.takeoverAfterMs ?? STREAM_DEFAULTS.takeoverAfterMs,
    raw: s.raw ?? STREAM_DEFAULTS.raw,
    idleTimeoutMs: s.idleTimeoutMs ?? STREAM_DEFAULTS.idleTimeoutMs,
    failoverTimeoutMs: s.failoverTimeoutMs ?? STREAM_DEFAULTS.failoverTimeoutMs,
    latency: normalizeLatency(s.latency, [...segs, 'latency'], (at, message) => problems.add(at, message)),
  };
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
