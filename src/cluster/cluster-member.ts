/**
 * `ClusterMember`: what a node started with `--redis` owns to take part in the cluster. It makes
 * the two Redis connections (commands, pub/sub), and from them the health watcher, the node
 * registry (heartbeat), the stream leases, the shared config store and the pub/sub bus, and wires
 * the recovery: when Redis returns after an outage it re-registers the node, renews or re-claims
 * every held lease and asks for a config resync, then emits `restored`.
 *
 * How the relay uses it (sketch):
 * - publisher accepted for stream S: `leases.claim(S, {policy})`; `{ok: false}` → reject 1409;
 *   ERR_CLUSTER_UNAVAILABLE → reject 1503; on publisher end `leases.release(S, epoch)`.
 * - `leases.on('lost')`: close S's publisher on this node (its viewers follow the new owner).
 * - viewer of S not live here: `leases.owner(S)` → pull from `internalPullUrl(S, owner)` once per
 *   stream; `leases.on('routing')` keeps a local mirror current (for the handshake gate).
 * - API PUT/DELETE: `config.putStream/deleteStream/putPush/...`; apply `config.on('change')`
 *   (every member, the writer included: `change.local`) and re-read all on `config.on('resync')`.
 * - metrics: `counter.snapshot()`, `health.available`.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { maskUrl } from '../config/secrets.js';
import { ConfigInvalidError } from '../errors.js';
import type { Logger } from '../logging.js';
import { silentLogger } from '../logging.js';
import { ClusterBus, quitConnection } from './bus.js';
import { ConfigStore, type ConfigValidators } from './config-store.js';
import { CommandCounter } from './counter.js';
import { ClusterUnavailableError } from './errors.js';
import { internalPassphrase, internalPullUrl, splitHostPort, formatInternalStreamId } from './internal-link.js';
import { clusterKeys, DEFAULT_KEY_PREFIX, type ClusterKeys } from './keys.js';
import { StreamLeases, type LeaseOwner } from './lease.js';
import {
  RedisHealth,
  createCommandConnection,
  createSubscriberConnection,
  type RedisConnectionOptions,
} from './redis-health.js';
import { NodeRegistry, type NodeLoad } from './registry.js';

export interface ClusterMemberOptions {
  /** `redis://[user:password@]host:port/db` or `rediss://...` (TLS). */
  redisUrl: string;
  nodeId: string;
  /** `host:port` of this node's internal SRT listener, reachable by the other nodes. */
  srtAddress: string;
  /** This node's HTTP API as others reach it, e.g. `http://10.0.0.5:4242`. */
  apiAddress: string;
  /** Shared by every node (≥ 16 characters); the internal link's passphrase is derived from it. */
  clusterSecret: string;
  logger?: Logger;
  /** Key prefix (default `srt-relay:`): one cluster per prefix. */
  keyPrefix?: string;
  /** Load reported with every heartbeat. */
  load?: () => NodeLoad;
  /** Checks for config values (defaults: the config loader's rules). */
  validate?: Partial<ConfigValidators>;
  /** Lease TTL (3000 ms) and renewal interval (1000 ms). */
  leaseTtlMs?: number;
  leaseRenewMs?: number;
  /** Heartbeat interval (1000 ms) and node entry TTL (3000 ms). */
  heartbeatMs?: number;
  nodeTtlMs?: number;
  /** Timeouts and reconnect backoff of the Redis connections. */
  redis?: RedisConnectionOptions;
  /** How long `connect` waits for Redis. Default 5000 ms. */
  connectTimeoutMs?: number;
  /**
   * Resolve `connect` even when Redis is not reachable in time: the member then registers,
   * subscribes and emits `restored` when Redis comes. Default false: `connect` rejects with
   * ERR_CLUSTER_UNAVAILABLE.
   */
  startWithoutRedis?: boolean;
}

export interface ClusterMemberEvents {
  /** Redis became unusable: refuse what needs it (1503); keep serving the rest. */
  unavailable: [reason: string];
  /** Redis is back and the node entry and the held leases are re-established. */
  restored: [downMs: number];
}

export class ClusterMember extends EventEmitter<ClusterMemberEvents> {
  readonly nodeId: string;
  readonly srtAddress: string;
  readonly apiAddress: string;
  readonly keys: ClusterKeys;
  readonly counter: CommandCounter;
  /** The command connection. */
  readonly redis: Redis;
  /** Health of the command connection: `available`, `unavailable`/`restored` events. */
  readonly health: RedisHealth;
  readonly bus: ClusterBus;
  readonly registry: NodeRegistry;
  readonly leases: StreamLeases;
  readonly config: ConfigStore;
  /** SRT passphrase of internal links (derived from the cluster secret). */
  readonly internalPassphrase: string;
  readonly #log: Logger;
  #closed = false;
  #reestablishing: Promise<void> | undefined;

  private constructor(opts: ClusterMemberOptions, redis: Redis, sub: Redis) {
    super();
    this.nodeId = opts.nodeId;
    this.srtAddress = opts.srtAddress;
    this.apiAddress = opts.apiAddress;
    this.internalPassphrase = internalPassphrase(opts.clusterSecret);
    const logger = opts.logger ?? silentLogger();
    this.#log = logger.child({ component: 'cluster' });
    this.keys = clusterKeys(opts.keyPrefix ?? DEFAULT_KEY_PREFIX);
    this.counter = new CommandCounter();
    this.redis = redis;
    this.health = new RedisHealth(redis, { logger, role: 'commands', counter: this.counter });
    this.bus = new ClusterBus({ subscriber: sub, keys: this.keys, logger });
    this.registry = new NodeRegistry({
      redis,
      keys: this.keys,
      health: this.health,
      counter: this.counter,
      logger,
      ...(opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {}),
      ...(opts.nodeTtlMs !== undefined ? { ttlMs: opts.nodeTtlMs } : {}),
      ...(opts.load !== undefined ? { load: opts.load } : {}),
    });
    this.leases = new StreamLeases({
      redis,
      keys: this.keys,
      health: this.health,
      counter: this.counter,
      nodeId: opts.nodeId,
      srtAddress: opts.srtAddress,
      bus: this.bus,
      logger,
      ...(opts.leaseTtlMs !== undefined ? { ttlMs: opts.leaseTtlMs } : {}),
      ...(opts.leaseRenewMs !== undefined ? { renewMs: opts.leaseRenewMs } : {}),
    });
    this.config = new ConfigStore({
      redis,
      keys: this.keys,
      health: this.health,
      counter: this.counter,
      nodeId: opts.nodeId,
      bus: this.bus,
      logger,
      ...(opts.validate !== undefined ? { validate: opts.validate } : {}),
    });
    this.health.on('unavailable', (reason) => this.emit('unavailable', reason));
    this.health.on('restored', (downMs) => void this.#reestablish(downMs));
  }

  /**
   * Connects to Redis, subscribes, checks that no other live node uses `nodeId`, and registers
   * this node. Rejects with ERR_CLUSTER_UNAVAILABLE if Redis is not reachable within
   * `connectTimeoutMs` (unless `startWithoutRedis`), ERR_CONFIG_INVALID for a bad secret,
   * address or a node id in use.
   */
  static async connect(opts: ClusterMemberOptions): Promise<ClusterMember> {
    splitHostPort(opts.srtAddress); // throws on a malformed address before any connection exists
    internalPassphrase(opts.clusterSecret);
    const name = `srt-relay:${opts.nodeId}`;
    const redis = createCommandConnection(opts.redisUrl, { ...opts.redis, connectionName: name });
    const sub = createSubscriberConnection(opts.redisUrl, { ...opts.redis, connectionName: `${name}:sub` });
    const member = new ClusterMember(opts, redis, sub);
    const log = member.#log;
    log.info({ redis: maskUrl(opts.redisUrl), prefix: member.keys.prefix }, 'joining the cluster');
    redis.connect().catch(() => undefined); // failures are reported by RedisHealth; ioredis keeps retrying
    const waitMs = opts.connectTimeoutMs ?? 5000;
    const ready = await member.health.waitReady(waitMs);
    if (!ready && opts.startWithoutRedis !== true) {
      const reason = member.health.reason ?? 'no connection';
      await member.close();
      throw new ClusterUnavailableError('join the cluster', `${reason}; Redis at ${maskUrl(opts.redisUrl)} not reachable within ${waitMs} ms`);
    }
    await member.bus.start(ready ? 2000 : 0);
    if (ready) {
      try {
        const existing = await member.registry.get(opts.nodeId);
        if (existing !== undefined && (existing.srtAddress !== opts.srtAddress || existing.apiAddress !== opts.apiAddress)) {
          await member.close();
          throw new ConfigInvalidError(
            `node id '${opts.nodeId}' is used by a live node at ${existing.srtAddress} (API ${existing.apiAddress}); give every node its own nodeId`,
            'nodeId',
          );
        }
        await member.registry.register({ id: opts.nodeId, srtAddress: opts.srtAddress, apiAddress: opts.apiAddress });
      } catch (err) {
        if (!(err instanceof ClusterUnavailableError) || opts.startWithoutRedis !== true) {
          if (!member.#closed) await member.close();
          throw err;
        }
      }
    } else {
      // Heartbeats start now and register the node as soon as Redis answers.
      void member.registry.register({ id: opts.nodeId, srtAddress: opts.srtAddress, apiAddress: opts.apiAddress }).catch(() => undefined);
    }
    log.info({ node: opts.nodeId, srt: opts.srtAddress, api: opts.apiAddress, redis: ready }, 'cluster member started');
    return member;
  }

  /** True when Redis can be used now. */
  get available(): boolean {
    return this.health.available;
  }

  /** The stream id this node uses to pull `stream` from its owner. */
  internalStreamId(stream: string, epoch?: number): string {
    return formatInternalStreamId({ stream, node: this.nodeId, ...(epoch !== undefined ? { epoch } : {}) });
  }

  /** The srt:// URL to pull `stream` from `owner` (from `leases.owner`). */
  internalPullUrl(stream: string, owner: LeaseOwner, latencyMs?: number): string {
    return internalPullUrl({
      ownerAddress: owner.srtAddress,
      stream,
      nodeId: this.nodeId,
      passphrase: this.internalPassphrase,
      epoch: owner.epoch,
      ...(latencyMs !== undefined ? { latencyMs } : {}),
    });
  }

  /**
   * After an outage: heartbeat (re-creates the node entry), renew or re-claim held leases; the
   * config store emits `resync` by itself. Then `restored`. Retried on the next restore if Redis
   * goes away again meanwhile.
   */
  #reestablish(downMs: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#reestablishing ??= (async () => {
      try {
        if (this.registry.self !== undefined) await this.registry.heartbeat();
        else this.#log.warn('Redis available but the node was never registered');
        await this.leases.reclaimAll();
        this.#log.info({ downMs, leases: this.leases.held().size }, 'cluster membership re-established');
        this.emit('restored', downMs);
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, 're-establishing the cluster membership failed; retrying when Redis returns');
      } finally {
        this.#reestablishing = undefined;
      }
    })();
    return this.#reestablishing;
  }

  /** Releases held leases, removes the node entry, closes both connections. Idempotent; never throws. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#reestablishing?.catch(() => undefined);
    await this.leases.releaseAll().catch(() => undefined);
    await this.registry.deregister().catch(() => undefined);
    this.health.close();
    await Promise.allSettled([this.bus.close(), quitConnection(this.redis)]);
    this.health.detach();
    this.#log.info('left the cluster');
  }
}
