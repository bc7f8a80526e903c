/**
 * `ClusterBus`: the member's pub/sub side. One ioredis connection in subscriber mode listens on
 * the `config-changed` and `routing-changed` channels (src/cluster/keys.ts) and emits their
 * notices as typed events. Messages that are not valid notices are logged and dropped.
 *
 * Pub/sub is fire-and-forget: notices sent while this connection is down are lost. So after the
 * connection comes back the bus emits `resubscribed`, and whoever keeps state from notices
 * (ConfigStore, the relay's routing mirror) reloads it from Redis then.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from '../logging.js';
import { silentLogger } from '../logging.js';
import type { ClusterKeys } from './keys.js';
import { RedisHealth } from './redis-health.js';

export type ConfigKind = 'stream' | 'push' | 'auth';
export const CONFIG_KINDS: readonly ConfigKind[] = Object.freeze(['stream', 'push', 'auth']);

/** Published on `config-changed` after every write: which entry changed, how, and by which node. */
export interface ConfigNotice {
  readonly kind: ConfigKind;
  /** Stream name, push id, or auth setting name. */
  readonly name: string;
  readonly op: 'put' | 'delete';
  /** Node id (or `cli:<host>:<pid>` for `srt-relay config import`) that made the change. */
  readonly by: string;
}

/** Published on `routing-changed` by the claim script (new epoch) and the release script. */
export interface RoutingNotice {
  readonly stream: string;
  /** `quiet`: the owner's publisher stopped (quiet true) or resumed (false) sending media. */
  readonly op: 'claim' | 'release' | 'quiet';
  readonly node: string;
  readonly epoch: number;
  /** The new owner's SRT address (claims only). */
  readonly srtAddress?: string;
  /** The node the claim took the stream from (replace policy, or a quiet owner). */
  readonly previous?: string;
  /** `quiet` notices: whether the owner's publisher is quiet now. */
  readonly quiet?: boolean;
}

export interface ClusterBusEvents {
  config: [notice: ConfigNotice];
  routing: [notice: RoutingNotice];
  /** The subscriber connection is back after an outage: notices may have been missed. */
  resubscribed: [];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses a `config-changed` message; undefined when malformed. */
export function parseConfigNotice(text: string): ConfigNotice | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(v)) return undefined;
  const { kind, name, op, by } = v;
  if (typeof kind !== 'string' || !(CONFIG_KINDS as readonly string[]).includes(kind)) return undefined;
  if (typeof name !== 'string' || name === '' || (op !== 'put' && op !== 'delete') || typeof by !== 'string') return undefined;
  return { kind: kind as ConfigKind, name, op, by };
}

/** Parses a `routing-changed` message; undefined when malformed. */
export function parseRoutingNotice(text: string): RoutingNotice | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(v)) return undefined;
  const { stream, op, node, epoch, srtAddress, previous, quiet } = v;
  if (typeof stream !== 'string' || (op !== 'claim' && op !== 'release' && op !== 'quiet') || typeof node !== 'string') return undefined;
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch)) return undefined;
  return {
    stream,
    op,
    node,
    epoch,
    ...(typeof srtAddress === 'string' ? { srtAddress } : {}),
    ...(typeof previous === 'string' ? { previous } : {}),
    ...(typeof quiet === 'boolean' ? { quiet } : {}),
  };
}

export interface ClusterBusOptions {
  /** A connection from `createSubscriberConnection`; the bus owns it from now on. */
  subscriber: Redis;
  keys: ClusterKeys;
  logger?: Logger;
}

export class ClusterBus extends EventEmitter<ClusterBusEvents> {
  readonly health: RedisHealth;
  readonly #sub: Redis;
  readonly #keys: ClusterKeys;
  readonly #log: Logger;
  #started = false;

  constructor(opts: ClusterBusOptions) {
    super();
    this.#sub = opts.subscriber;
    this.#keys = opts.keys;
    this.#log = (opts.logger ?? silentLogger()).child({ component: 'cluster-bus' });
    this.health = new RedisHealth(this.#sub, { logger: opts.logger ?? silentLogger(), role: 'subscriber', probeMs: 0 });
    this.health.on('restored', () => this.emit('resubscribed'));
    this.#sub.on('message', (channel: string, message: string) => this.#message(channel, message));
  }

  /**
   * Connects (if needed) and subscribes to both channels. Resolves once subscribed; if Redis is
   * down the SUBSCRIBE waits in the connection's queue and the bus starts receiving when Redis
   * comes (`resubscribed` is emitted then). Never rejects for a Redis outage.
   */
  async start(waitMs = 2000): Promise<boolean> {
    if (this.#started) return this.health.available;
    this.#started = true;
    if (this.#sub.status === 'wait') this.#sub.connect().catch(() => undefined);
    const subscribed = this.#sub.subscribe(this.#keys.configChanged, this.#keys.routingChanged).then(
      () => true,
      (err: unknown) => {
        this.#log.warn({ err: String(err) }, 'SUBSCRIBE failed');
        return false;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), waitMs);
    });
    try {
      return await Promise.race([subscribed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #message(channel: string, message: string): void {
    if (channel === this.#keys.configChanged) {
      const notice = parseConfigNotice(message);
      if (notice === undefined) this.#log.warn({ channel, message: message.slice(0, 200) }, 'malformed config notice; ignored');
      else this.emit('config', notice);
    } else if (channel === this.#keys.routingChanged) {
      const notice = parseRoutingNotice(message);
      if (notice === undefined) this.#log.warn({ channel, message: message.slice(0, 200) }, 'malformed routing notice; ignored');
      else this.emit('routing', notice);
    }
  }

  /** Unsubscribes and closes the subscriber connection. */
  async close(): Promise<void> {
    this.health.close();
    await quitConnection(this.#sub);
    this.health.detach();
  }
}

/** QUIT, or a hard disconnect if QUIT gets no answer within `timeoutMs` (Redis down or hanging). */
export async function quitConnection(conn: Redis, timeoutMs = 500): Promise<void> {
  if (conn.status === 'end') return;
  if (conn.status !== 'ready') {
    conn.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  try {
    await Promise.race([conn.quit().then(() => undefined, () => undefined), timeout]);
  } finally {
    clearTimeout(timer);
    if ((conn.status as string) !== 'end') conn.disconnect();
  }
}
