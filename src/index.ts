/**
 * srt-relay as a library (docs/library.md): `createRelay(config)` checks the config file's object
 * with the config loader and returns a `Relay` you start, drive and close from your own process.
 *
 *   import { createRelay } from 'srt-relay';
 *   const relay = createRelay({ srt: { ports: [{ port: 9000 }] } });
 *   relay.on('stream-live', (name) => console.log(name, 'is live'));
 *   await relay.start();
 *   ...
 *   await relay.close();
 *
 * Streams, sessions and pushes are the plain objects the HTTP API answers with (StreamView,
 * SessionView, PushView: docs/api.md); the methods check their input like the config file and the
 * API do, and throw the typed errors of `SrtRelayError` (stable `code`, docs/errors.md).
 * The HTTP API is not started: it belongs to the `srt-relay` command.
 */
import { EventEmitter } from 'node:events';
import { ConfigInvalidError, SrtRelayError } from './errors.js';
import { normalizeConfig } from './config/load.js';
import { normalizeStream } from './config/stream-config.js';
import type { RelayConfig, RelayConfigInput, StreamInput } from './config/types.js';
import { createLogger, type Logger } from './logging.js';
import { Relay as Supervisor, type RelayEvents as SupervisorEvents } from './supervisor/relay.js';
import { relayOptionsFrom, relayStreamFrom } from './supervisor/from-config.js';
import type { NodeHealth } from './supervisor/health.js';
import { parsePushBody } from './api/validate.js';
import { pushView, sessionView, statsSnapshot, streamView, type PushView, type SessionView, type StreamView } from './api/views.js';

export * from './errors.js';
export { ApiError } from './api/http.js';
export type { RelayConfig, RelayConfigInput, StreamInput, PushInput, SrtPortInput, LimitsInput, AuthInput, ApiInput, PassphraseInput, SrtlaInput, LogLevel } from './config/types.js';
export type { StreamView, SessionView, PushView, PublisherView, SessionStatsView } from './api/views.js';
export type { SessionKind } from './supervisor/relay.js';
export type { NodeHealth } from './supervisor/health.js';
export type { Logger } from './logging.js';

/** The events a `Relay` emits, with their arguments: the supervisor's, without the cluster-only `remote-failed` and `remote-quiet`. */
export type RelayEvents = Omit<SupervisorEvents, 'remote-failed' | 'remote-quiet'>;

/** The events forwarded from the supervisor (the cluster-only ones are not). */
const FORWARDED = ['stream-live', 'stream-idle', 'publisher-started', 'publisher-ended', 'publisher-quiet'] as const satisfies ReadonlyArray<keyof RelayEvents & keyof SupervisorEvents>;

export interface CreateRelayOptions {
  /** A pino logger for the relay's logs; default: pino JSON on stdout at the config's `logLevel`. */
  logger?: Logger;
  /** Directory relative `file://` sources are resolved against (default: the current directory). */
  baseDir?: string;
}

export interface PushRequest {
  stream: string;
  /** An srt:// URL (caller, listener or rendezvous). */
  target: string;
  /** true: started whenever the stream goes live. */
  auto?: boolean;
}

/**
 * Checks `config` (the object a config file holds: schema/config.schema.json, docs/config.md) and
 * returns a Relay that is not started yet. Throws ConfigInvalidError (ERR_CONFIG_INVALID) listing
 * every problem with its key path. `redis` / `cluster` are refused: a cluster node is the CLI's job.
 */
export function createRelay(config: RelayConfigInput = {}, options: CreateRelayOptions = {}): Relay {
  const checked = normalizeConfig(config, options.baseDir !== undefined ? { baseDir: options.baseDir } : {});
  return new Relay(checked, options);
}

/** One relay node inside your process: SRT ports, streams, sessions and pushes. */
export class Relay extends EventEmitter<RelayEvents> {
  /** The checked, frozen configuration the relay was made from. */
  readonly config: RelayConfig;
  readonly #relay: Supervisor;
  readonly #baseDir: string | undefined;
  #closed: Promise<void> | undefined;

  /** Use createRelay(config). */
  constructor(config: RelayConfig, options: CreateRelayOptions = {}) {
    super();
    if (config.redis !== undefined) {
      throw new ConfigInvalidError('redis: a cluster node cannot be embedded; run `srt-relay --redis ...` for a cluster, or remove `redis`', 'redis');
    }
    this.config = config;
    this.#baseDir = options.baseDir;
    const logger = options.logger ?? createLogger(config.logLevel, config.nodeId);
    this.#relay = new Supervisor(relayOptionsFrom(config, logger));
    for (const event of FORWARDED) {
      this.#relay.on(event, (...args: unknown[]) => (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args));
    }
  }

  get nodeId(): string {
    return this.#relay.nodeId;
  }

  /** Starts the workers, binds every SRT port, applies the configured streams and pushes. Throws PortInUseError (ERR_PORT_IN_USE) when a port is taken. */
  async start(): Promise<void> {
    if (this.#closed !== undefined) throw new SrtRelayError('ERR_CONFIG_INVALID', 'this relay was closed; create a new one with createRelay()');
    await this.#relay.start();
  }

  /** Closes every session, listener and worker. Idempotent: later calls return the same promise. */
  close(): Promise<void> {
    this.#closed ??= this.#relay.stop();
    return this.#closed;
  }

  /** The same as close(). */
  stop(): Promise<void> {
    return this.close();
  }

  /** Every stream, as `GET /api/v1/streams` shows it. */
  async listStreams(): Promise<StreamView[]> {
    const stats = await statsSnapshot(this.#relay);
    return this.#relay.listStreams().map((s) => streamView(s, stats, this.#relay.sourcesOf(s.name)));
  }

  /** One stream, or undefined when there is none of that name. */
  async getStream(name: string): Promise<StreamView | undefined> {
    const s = this.#relay.getStream(name);
    if (s === undefined) return undefined;
    return streamView(s, await statsSnapshot(this.#relay), this.#relay.sourcesOf(name));
  }

  /**
   * Creates or changes a stream from the config file's stream object (`streams.<name>`), checked
   * like the file (ConfigInvalidError with `streams.<name>.<key>` paths). All or nothing: a source
   * that cannot be set up (PortInUseError) leaves the stream as it was.
   */
  async putStream(name: string, stream: StreamInput): Promise<StreamView> {
    const checked = normalizeStream(name, stream, {
      origin: 'file',
      ...(this.config.mediaRoot !== undefined ? { mediaRoot: this.config.mediaRoot } : {}),
      ...(this.#baseDir !== undefined ? { baseDir: this.#baseDir } : {}),
    });
    const s = this.#relay.putStream(name, relayStreamFrom(checked));
    return streamView(s, await statsSnapshot(this.#relay), this.#relay.sourcesOf(name));
  }

  /** Removes a stream and closes its sessions; false when there was none. */
  deleteStream(name: string): boolean {
    return this.#relay.deleteStream(name);
  }

  /** Every connected session (publishers, viewers, pushes, pulls) with its libsrt statistics. */
  async listSessions(): Promise<SessionView[]> {
    const stats = await statsSnapshot(this.#relay);
    return this.#relay.listSessions().map((s) => sessionView(s, stats, this.#relay));
  }

  /** Closes one session; false when there is none with that id. */
  kickSession(id: number): boolean {
    return this.#relay.kickSession(id);
  }

  /** Every push (secrets in targets masked). */
  listPushes(): PushView[] {
    return this.#relay.listPushes().map(pushView);
  }

  /**
   * Sends `stream` to `target` (as `POST /api/v1/pushes`). Throws SrtUrlInvalidError and the other
   * URL errors for a bad target, PortInUseError when a listener target's port is taken.
   */
  addPush(push: PushRequest): PushView {
    const opts = parsePushBody(push);
    const before = new Set(this.#relay.listPushes().map((p) => p.id));
    try {
      return pushView(this.#relay.addPush(opts));
    } catch (err) {
      // The supervisor records a push before a listener target binds: remove it when that fails.
      for (const p of this.#relay.listPushes()) if (!before.has(p.id)) this.#relay.removePush(p.id);
      throw err;
    }
  }

  /** Stops and removes one push; false when there is none with that id. */
  removePush(id: number): boolean {
    return this.#relay.removePush(id);
  }

  /** Whether every SRT port can take callers and every worker runs (what `/healthz` answers). */
  health(): NodeHealth {
    return this.#relay.health();
  }
}
