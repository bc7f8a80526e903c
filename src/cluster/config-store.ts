/**
 * `ConfigStore`: the cluster's shared configuration in Redis: streams, pushes and auth settings,
 * each a hash of name → JSON (keys `config:streams`, `config:pushes`, `config:auth`, see
 * src/cluster/keys.ts). Values are stored in the config-file shape (`StreamInput`, `PushInput`,
 * one `AuthInput` setting per field), canonical: checked by the config loader's own rules,
 * defaults left out, relative `file://` paths made absolute, keys in a fixed order.
 *
 * Every write is one Lua script that changes the hash and publishes a `config-changed` notice
 * `{kind, name, op, by}` in the same atomic step (and publishes nothing when the value did not
 * change). Every member receives the notice (ClusterBus), reads the current value, checks it, and
 * emits a typed `change` event, so the relay applies it live. Notices missed while Redis or the
 * subscriber connection was down are covered by a `resync` event: re-read everything then
 * (`exportConfig()`).
 *
 * Push ids: a push has no name in the config file, so its id in Redis is `pushId()`: the first
 * 16 hex digits of SHA-256 of `stream + "\n" + target`; the same push always gets the same id.
 *
 * The values hold passphrases: protect Redis (bind address, ACL password, TLS with rediss://).
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import type { Redis } from 'ioredis';
import { AUTH_DEFAULTS, normalizeConfig } from '../config/load.js';
import { normalizeStream } from '../config/stream-config.js';
import type {
  AuthConfig,
  AuthInput,
  PushConfig,
  PushInput,
  RelayConfig,
  StreamConfig,
  StreamInput,
  StreamSource,
} from '../config/types.js';
import { sourceText } from '../config/types.js';
import { ConfigInvalidError } from '../errors.js';
import type { Logger } from '../logging.js';
import { silentLogger } from '../logging.js';
import type { ClusterBus, ConfigKind, ConfigNotice } from './bus.js';
import type { CommandCounter } from './counter.js';
import { ClusterUnavailableError } from './errors.js';
import type { ClusterKeys } from './keys.js';
import type { RedisHealth } from './redis-health.js';
import { callScript, defineScripts, queueScript } from './scripts.js';

export type { ConfigKind, ConfigNotice } from './bus.js';

/** The auth settings stored one per field of `config:auth`. */
export const AUTH_SETTINGS = Object.freeze(['webhook', 'timeoutMs', 'cacheMs', 'hold'] as const);
export type AuthSetting = (typeof AUTH_SETTINGS)[number];

/** The shared part of the configuration, in config-file shape (what import reads and export prints). */
export interface ClusterConfig {
  streams: Record<string, StreamInput>;
  pushes: PushInput[];
  auth: AuthInput;
}

interface ChangeBase {
  readonly name: string;
  /** Node id (or `cli:...`) that made the change. */
  readonly by: string;
  /** The change was made through this member (its own notice coming back). */
  readonly local: boolean;
}

/** A change of the shared configuration, as every member receives it. */
export type ConfigChange =
  | (ChangeBase & { readonly kind: 'stream'; readonly op: 'put'; readonly value: StreamInput })
  | (ChangeBase & { readonly kind: 'push'; readonly op: 'put'; readonly value: PushInput })
  | (ChangeBase & { readonly kind: 'auth'; readonly op: 'put'; readonly name: AuthSetting; readonly value: AuthInput[AuthSetting] })
  | (ChangeBase & { readonly kind: ConfigKind; readonly op: 'delete' });

/** Checks (and may normalize) values before they are written and after they are read. Throw to refuse. */
export interface ConfigValidators {
  stream(name: string, value: unknown): StreamInput;
  push(value: unknown): PushInput;
  auth(name: string, value: unknown): AuthInput[AuthSetting];
}

export interface ConfigStoreEvents {
  /** A stream, push or auth setting changed somewhere in the cluster (this member included). */
  change: [change: ConfigChange];
  /** Notices may have been missed (Redis or pub/sub was down): re-read the whole config. */
  resync: [];
}

export interface ConfigStoreOptions {
  /** The command connection. */
  redis: Redis;
  keys: ClusterKeys;
  health: RedisHealth;
  counter: CommandCounter;
  /** `by` of the notices this store publishes. */
  nodeId: string;
  /** Subscribe to notices (members); leave out for write-only use (the CLI). */
  bus?: ClusterBus;
  /** Default: `canonicalStream`, `canonicalPush`, `canonicalAuthSetting`. */
  validate?: Partial<ConfigValidators>;
  logger?: Logger;
}

export type PutOutcome = 'created' | 'changed' | 'unchanged';

export interface PutResult<T> {
  /** The value as stored (after the validator). */
  readonly value: T;
  readonly outcome: PutOutcome;
}

export interface ImportSummary {
  readonly created: number;
  readonly changed: number;
  readonly unchanged: number;
  readonly deleted: number;
  /** Notices published (one per created, changed or deleted entry). */
  readonly notices: number;
}

// ---------------------------------------------------------------------------------------------
// canonical values

/** The id a push is stored under: 16 hex digits of SHA-256(stream + "\n" + target). */
export function pushId(push: { readonly stream: string; readonly target: string }): string {
  return createHash('sha256').update(`${push.stream}\n${push.target.trim()}`).digest('hex').slice(0, 16);
}


/** Fields of a checked stream that `streamInputFrom` writes itself (not copied generically). */
const STREAM_SPECIAL = new Set(['name', 'source', 'sources', 'passphrase']);

let streamDefaultsCache: Readonly<Record<string, unknown>> | undefined;
let pushDefaultsCache: Readonly<Record<string, unknown>> | undefined;

/** A checked stream with nothing but defaults (what `{source: "push://"}` becomes). */
function streamDefaults(): Readonly<Record<string, unknown>> {
  streamDefaultsCache ??= normalizeConfig({ srt: { ports: [] }, streams: { d: { source: 'push://' } } }).streams['d'] as unknown as Record<
    string,
    unknown
  >;
  return streamDefaultsCache;
}

/** A checked push with nothing but defaults. */
function pushDefaults(): Readonly<Record<string, unknown>> {
  pushDefaultsCache ??= normalizeConfig({ srt: { ports: [] }, pushes: [{ stream: 'd', target: 'srt://127.0.0.1:9' }] })
    .pushes[0] as unknown as Record<string, unknown>;
  return pushDefaultsCache;
}

/**
 * A checked stream as a minimal `StreamInput`: `source` (or `sources` when there are backups),
 * every other setting only when it differs from the default, in the checked config's key order.
 * Settings are copied generically (a setting added to the config later round-trips too, as long
 * as its checked value has the same shape as its input).
 */
export function streamInputFrom(s: StreamConfig): StreamInput {
  const loose = s as unknown as Readonly<Record<string, unknown>>;
  const list = loose['sources'];
  const sources = Array.isArray(list) && list.length > 0 ? (list as StreamSource[]) : [s.source];
  const out: Record<string, unknown> =
    sources.length > 1 ? { sources: sources.map(sourceText) } : { source: sourceText(sources[0] ?? s.source) };
  const defaults = streamDefaults();
  for (const [key, value] of Object.entries(loose)) {
    if (key === 'passphrase') {
      if (s.passphrase.publish !== undefined || s.passphrase.play !== undefined) {
        out['passphrase'] = {
          ...(s.passphrase.publish !== undefined ? { publish: s.passphrase.publish } : {}),
          ...(s.passphrase.play !== undefined ? { play: s.passphrase.play } : {}),
        };
      }
      continue;
    }
    if (STREAM_SPECIAL.has(key) || value === undefined || isDeepStrictEqual(value, defaults[key])) continue;
    out[key] = value;
  }
  return out as unknown as StreamInput;
}

/** A checked push as a minimal `PushInput` (target as written, other settings only when not default). */
export function pushInputFrom(p: PushConfig): PushInput {
  const out: Record<string, unknown> = { stream: p.stream, target: p.target.raw };
  const defaults = pushDefaults();
  for (const [key, value] of Object.entries(p as unknown as Readonly<Record<string, unknown>>)) {
    if (key === 'stream' || key === 'target' || value === undefined || isDeepStrictEqual(value, defaults[key])) continue;
    out[key] = value;
  }
  return out as unknown as PushInput;
}

/** Checked auth settings as a minimal `AuthInput` (defaults left out). */
export function authInputFrom(a: AuthConfig): AuthInput {
  const out: AuthInput = {};
  if (a.webhook !== undefined) out.webhook = a.webhook;
  if (a.timeoutMs !== AUTH_DEFAULTS.timeoutMs) out.timeoutMs = a.timeoutMs;
  if (a.cacheMs !== AUTH_DEFAULTS.cacheMs) out.cacheMs = a.cacheMs;
  if (a.hold !== AUTH_DEFAULTS.hold) out.hold = a.hold;
  return out;
}

/** The shared part (streams, pushes, auth) of a loaded configuration, canonical. */
export function clusterConfigFrom(config: RelayConfig): ClusterConfig {
  const streams: Record<string, StreamInput> = {};
  for (const name of Object.keys(config.streams).sort()) streams[name] = streamInputFrom(config.streams[name]!);
  return { streams, pushes: config.pushes.map(pushInputFrom), auth: authInputFrom(config.auth) };
}

/** Checks a whole `{streams?, pushes?, auth?}` object with the config loader's rules; canonical result. */
export function canonicalClusterConfig(value: unknown): ClusterConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigInvalidError('the cluster configuration must be a JSON object {streams, pushes, auth}');
  }
  const v = value as Record<string, unknown>;
  // No SRT ports: only the shared part is checked (sources must not collide with each other).
  const config = normalizeConfig({
    srt: { ports: [] },
    ...(v['streams'] !== undefined ? { streams: v['streams'] } : {}),
    ...(v['pushes'] !== undefined ? { pushes: v['pushes'] } : {}),
    ...(v['auth'] !== undefined ? { auth: v['auth'] } : {}),
  }, { fileTargets: 'parsed' });
  return clusterConfigFrom(config);
}

/** Default stream validator: the config loader's checks, canonical `StreamInput`. Throws ERR_CONFIG_INVALID. */
export function canonicalStream(name: string, value: unknown): StreamInput {
  return streamInputFrom(normalizeStream(name, value, { origin: 'shared' }));
}

/** Default push validator: the config loader's checks, canonical `PushInput`. Throws ERR_CONFIG_INVALID. */
export function canonicalPush(value: unknown): PushInput {
  // A file:// target is parsed only: each node checks it against its own recordingsRoot when it applies it.
  const config = normalizeConfig({ srt: { ports: [] }, pushes: [value] }, { fileTargets: 'parsed' });
  const p = config.pushes[0];
  if (p === undefined) throw new ConfigInvalidError('push was not accepted', 'pushes[0]');
  return pushInputFrom(p);
}

/** Default auth validator: one setting (`webhook`, `timeoutMs`, `cacheMs`, `hold`) checked by the loader. */
export function canonicalAuthSetting(name: string, value: unknown): AuthInput[AuthSetting] {
  if (!(AUTH_SETTINGS as readonly string[]).includes(name)) {
    throw new ConfigInvalidError(`unknown auth setting '${name}'; allowed: ${AUTH_SETTINGS.join(', ')}`, `auth.${name}`);
  }
  const config = normalizeConfig({ srt: { ports: [] }, auth: { [name]: value } });
  return config.auth[name as AuthSetting];
}

const DEFAULT_VALIDATORS: ConfigValidators = {
  stream: canonicalStream,
  push: canonicalPush,
  auth: canonicalAuthSetting,
};

// ---------------------------------------------------------------------------------------------

export class ConfigStore extends EventEmitter<ConfigStoreEvents> {
  readonly nodeId: string;
  readonly #redis: Redis;
  readonly #keys: ClusterKeys;
  readonly #health: RedisHealth;
  readonly #counter: CommandCounter;
  readonly #validate: ConfigValidators;
  readonly #log: Logger;
  /** Notices are handled one after the other, so events keep their order. */
  #queue: Promise<void> = Promise.resolve();
  #missed = false;

  constructor(opts: ConfigStoreOptions) {
    super();
    this.nodeId = opts.nodeId;
    this.#redis = opts.redis;
    this.#keys = opts.keys;
    this.#health = opts.health;
    this.#counter = opts.counter;
    this.#validate = { ...DEFAULT_VALIDATORS, ...opts.validate };
    this.#log = (opts.logger ?? silentLogger()).child({ component: 'cluster-config' });
    defineScripts(this.#redis);
    if (opts.bus !== undefined) {
      opts.bus.on('config', (n) => {
        this.#queue = this.#queue.then(() => this.#onNotice(n));
      });
      opts.bus.on('resubscribed', () => this.#resync());
      this.#health.on('restored', () => {
        if (this.#missed) this.#resync();
      });
    }
  }

  #hash(kind: ConfigKind): string {
    return kind === 'stream' ? this.#keys.configStreams : kind === 'push' ? this.#keys.configPushes : this.#keys.configAuth;
  }

  #check(kind: ConfigKind, name: string, value: unknown): unknown {
    if (kind === 'stream') return this.#validate.stream(name, value);
    if (kind === 'push') return this.#validate.push(value);
    return this.#validate.auth(name, value);
  }

  // ---- generic ------------------------------------------------------------------------------

  /** The stored value of one entry (checked), or undefined. */
  async get(kind: ConfigKind, name: string): Promise<unknown> {
    const text = await this.#health.run(`read ${kind} config`, () => {
      this.#counter.add('config.get');
      return this.#redis.hget(this.#hash(kind), name);
    });
    return text === null ? undefined : this.#check(kind, name, JSON.parse(text) as unknown);
  }

  /** Every entry of a kind: name → value. Entries that fail the check are logged and left out. */
  async list(kind: ConfigKind): Promise<Map<string, unknown>> {
    const all = await this.#health.run(`read ${kind} config`, () => {
      this.#counter.add('config.list');
      return this.#redis.hgetall(this.#hash(kind));
    });
    const out = new Map<string, unknown>();
    for (const name of Object.keys(all).sort()) {
      try {
        out.set(name, this.#check(kind, name, JSON.parse(all[name]!) as unknown));
      } catch (err) {
        this.#log.warn({ kind, name, err: (err as Error).message }, 'stored config entry is invalid; ignored');
      }
    }
    return out;
  }

  /** Checks and writes one entry, and notifies every member (unless unchanged). */
  async put(kind: ConfigKind, name: string, value: unknown): Promise<PutResult<unknown>> {
    const checked = this.#check(kind, name, value);
    const reply = await this.#health.run(`write ${kind} config`, () => {
      this.#counter.add('config.put');
      return callScript(this.#redis, 'srConfigPut', [this.#hash(kind)], [
        name,
        JSON.stringify(checked),
        this.#keys.configChanged,
        kind,
        this.nodeId,
      ]);
    });
    const outcome: PutOutcome = Number(reply) === 1 ? 'created' : Number(reply) === 2 ? 'changed' : 'unchanged';
    return { value: checked, outcome };
  }

  /** Deletes one entry and notifies every member. False if it did not exist. */
  async delete(kind: ConfigKind, name: string): Promise<boolean> {
    const reply = await this.#health.run(`delete ${kind} config`, () => {
      this.#counter.add('config.delete');
      return callScript(this.#redis, 'srConfigDelete', [this.#hash(kind)], [name, this.#keys.configChanged, kind, this.nodeId]);
    });
    return Number(reply) === 1;
  }

  // ---- typed --------------------------------------------------------------------------------

  async getStream(name: string): Promise<StreamInput | undefined> {
    return (await this.get('stream', name)) as StreamInput | undefined;
  }

  async listStreams(): Promise<Record<string, StreamInput>> {
    return Object.fromEntries(await this.list('stream')) as Record<string, StreamInput>;
  }

  async putStream(name: string, value: unknown): Promise<PutResult<StreamInput>> {
    return (await this.put('stream', name, value)) as PutResult<StreamInput>;
  }

  async deleteStream(name: string): Promise<boolean> {
    return this.delete('stream', name);
  }

  async getPush(id: string): Promise<PushInput | undefined> {
    return (await this.get('push', id)) as PushInput | undefined;
  }

  /** push id → push. */
  async listPushes(): Promise<Record<string, PushInput>> {
    return Object.fromEntries(await this.list('push')) as Record<string, PushInput>;
  }

  /** Stores a push under `pushId(push)`; returns the id. */
  async putPush(value: unknown): Promise<PutResult<PushInput> & { readonly id: string }> {
    const push = this.#validate.push(value);
    const id = pushId(push);
    const res = (await this.put('push', id, push)) as PutResult<PushInput>;
    return { ...res, id };
  }

  async deletePush(id: string): Promise<boolean> {
    return this.delete('push', id);
  }

  /** The stored auth settings (those not stored take their defaults in the relay). */
  async getAuth(): Promise<AuthInput> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of await this.list('auth')) out[k] = v;
    return out as AuthInput;
  }

  async putAuthSetting<K extends AuthSetting>(name: K, value: AuthInput[K]): Promise<PutResult<AuthInput[K]>> {
    return (await this.put('auth', name, value)) as PutResult<AuthInput[K]>;
  }

  async deleteAuthSetting(name: AuthSetting): Promise<boolean> {
    return this.delete('auth', name);
  }

  // ---- whole config -------------------------------------------------------------------------

  /** Streams, pushes and auth as a config-file fragment (import accepts it back). Three commands. */
  async exportConfig(): Promise<ClusterConfig> {
    const [streams, pushes, auth] = await Promise.all([this.listStreams(), this.listPushes(), this.getAuth()]);
    const list = Object.values(pushes).sort((a, b) =>
      a.stream === b.stream ? (a.target < b.target ? -1 : a.target > b.target ? 1 : 0) : a.stream < b.stream ? -1 : 1,
    );
    return { streams, pushes: list, auth };
  }

  /**
   * Writes `value` (`{streams?, pushes?, auth?}`, checked whole by the config loader's rules) in
   * one MULTI/EXEC transaction, one notice per entry that changes. `replace` (default) also
   * deletes stored entries `value` does not have, so Redis then holds exactly `value`; `merge`
   * keeps them. Throws ERR_CONFIG_INVALID (nothing written) or ERR_CLUSTER_UNAVAILABLE.
   */
  async importConfig(value: unknown, opts: { mode?: 'replace' | 'merge' } = {}): Promise<ImportSummary> {
    const cfg = canonicalClusterConfig(value);
    const want = new Map<ConfigKind, Map<string, string>>([
      ['stream', new Map(Object.entries(cfg.streams).map(([k, v]) => [k, JSON.stringify(this.#validate.stream(k, v))]))],
      ['push', new Map(cfg.pushes.map((p) => [pushId(p), JSON.stringify(this.#validate.push(p))]))],
      [
        'auth',
        new Map(
          Object.entries(cfg.auth)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]) => [k, JSON.stringify(this.#validate.auth(k, v))]),
        ),
      ],
    ]);
    return this.#health.run('import config', async () => {
      this.#counter.add('config.list', 3);
      const current = new Map<ConfigKind, Record<string, string>>();
      const [s, p, a] = await Promise.all([
        this.#redis.hgetall(this.#keys.configStreams),
        this.#redis.hgetall(this.#keys.configPushes),
        this.#redis.hgetall(this.#keys.configAuth),
      ]);
      current.set('stream', s);
      current.set('push', p);
      current.set('auth', a);
      const tx = this.#redis.multi();
      let created = 0;
      let changed = 0;
      let unchanged = 0;
      let deleted = 0;
      let queued = 0;
      for (const [kind, entries] of want) {
        const have = current.get(kind) ?? {};
        for (const [name, json] of entries) {
          if (have[name] === json) {
            unchanged++;
            continue;
          }
          if (have[name] === undefined) created++;
          else changed++;
          queueScript(tx, 'srConfigPut', [this.#hash(kind)], [name, json, this.#keys.configChanged, kind, this.nodeId]);
          queued++;
        }
        if (opts.mode !== 'merge') {
          for (const name of Object.keys(have)) {
            if (entries.has(name)) continue;
            deleted++;
            queueScript(tx, 'srConfigDelete', [this.#hash(kind)], [name, this.#keys.configChanged, kind, this.nodeId]);
            queued++;
          }
        }
      }
      if (queued > 0) {
        this.#counter.add('config.import', queued + 2); // MULTI + scripts + EXEC
        const results = await tx.exec();
        const failed = results?.find(([err]) => err !== null);
        if (results === null || failed !== undefined) {
          throw failed?.[0] ?? new ClusterUnavailableError('import config', 'transaction aborted');
        }
      } else {
        tx.discard();
      }
      return { created, changed, unchanged, deleted, notices: created + changed + deleted };
    });
  }

  // ---- notices ------------------------------------------------------------------------------

  async #onNotice(n: ConfigNotice): Promise<void> {
    const local = n.by === this.nodeId;
    if (n.op === 'delete') {
      this.emit('change', { kind: n.kind, op: 'delete', name: n.name, by: n.by, local });
      return;
    }
    let text: string | null;
    try {
      text = await this.#health.run(`read ${n.kind} config`, () => {
        this.#counter.add('config.get');
        return this.#redis.hget(this.#hash(n.kind), n.name);
      });
    } catch (err) {
      this.#missed = true;
      this.#log.warn({ kind: n.kind, name: n.name, err: (err as Error).message }, 'could not read a changed config entry; resync when Redis returns');
      return;
    }
    if (text === null) return; // deleted again since; its delete notice follows
    let value: unknown;
    try {
      value = this.#check(n.kind, n.name, JSON.parse(text) as unknown);
    } catch (err) {
      this.#log.warn({ kind: n.kind, name: n.name, by: n.by, err: (err as Error).message }, 'changed config entry is invalid; ignored');
      return;
    }
    this.emit('change', { kind: n.kind, op: 'put', name: n.name, value, by: n.by, local } as ConfigChange);
  }

  #resync(): void {
    this.#missed = false;
    this.#log.info('config notices may have been missed: resync');
    this.emit('resync');
  }
}
