/**
 * `NodeRegistry`: the cluster's member list. Each node writes its entry (`node:<id>` hash with
 * its addresses and load, and its id in the `nodes` sorted set, see src/cluster/keys.ts) with a
 * heartbeat every `heartbeatMs` (1000 ms) and a TTL of `ttlMs` (3000 ms). A node that dies stops
 * heartbeating and vanishes from `list()` within ttlMs (+ the heartbeat in flight), well within
 * 5 s. Times come from the Redis clock, so node clocks need not agree.
 *
 * Load fields are read from a callback the relay supplies (`load`) at every heartbeat. Each
 * heartbeat is one command (a Lua script: TIME, HSET, PEXPIRE, ZADD, ZREMRANGEBYSCORE); the
 * heartbeat also re-creates the entry after a Redis restart, so re-registering needs nothing
 * else. `list()` is one command (O(nodes)).
 */
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from '../logging.js';
import { silentLogger } from '../logging.js';
import type { CommandCounter } from './counter.js';
import type { ClusterKeys } from './keys.js';
import type { RedisHealth } from './redis-health.js';
import { callScript, defineScripts } from './scripts.js';

export const DEFAULT_HEARTBEAT_MS = 1000;
export const DEFAULT_NODE_TTL_MS = 3000;

/** A node's load, as the relay reports it at each heartbeat. */
export interface NodeLoad {
  /** SRT sessions (publishers, viewers, pushes, pulls). */
  readonly sessions: number;
  /** Streams with a publisher on this node. */
  readonly streams: number;
  /** Process CPU use, 0..1 of the whole machine (see `cpuSampler`). */
  readonly cpu: number;
  /** Media bandwidth in and out, Mbit/s. */
  readonly bandwidthMbps: number;
}

/** What a node registers about itself. */
export interface NodeAddresses {
  /** Node id (`nodeId` in the config). */
  readonly id: string;
  /** `host:port` other nodes reach for internal pulls of this node's streams. */
  readonly srtAddress: string;
  /** The HTTP API, e.g. `http://10.0.0.5:4242`. */
  readonly apiAddress: string;
}

/** A live node, as `list()` and `get()` return it. */
export interface NodeInfo extends NodeAddresses {
  /** When the node registered (ms since the epoch, Redis clock). */
  readonly startedAt: number;
  /** Its last heartbeat (ms since the epoch, Redis clock). */
  readonly heartbeatAt: number;
  readonly load: NodeLoad;
}

export interface NodeRegistryEvents {
  /** A heartbeat reached Redis after earlier ones had failed (the entry exists again). */
  reregistered: [];
}

export interface NodeRegistryOptions {
  /** The command connection. */
  redis: Redis;
  keys: ClusterKeys;
  health: RedisHealth;
  counter: CommandCounter;
  /** Default 1000 ms. */
  heartbeatMs?: number;
  /** Default 3000 ms; must be above heartbeatMs. */
  ttlMs?: number;
  /** Read at every heartbeat. Default: sessions/streams/bandwidth 0 and `cpuSampler()`. */
  load?: () => NodeLoad;
  logger?: Logger;
}

const ZERO_LOAD: NodeLoad = Object.freeze({ sessions: 0, streams: 0, cpu: 0, bandwidthMbps: 0 });

/**
 * A function returning this process' CPU use since its previous call, as a share of the whole
 * machine (0..1): user + system time over wall time × cores.
 */
export function cpuSampler(): () => number {
  let last = process.cpuUsage();
  let at = process.hrtime.bigint();
  let cores = 1;
  try {
    cores = Math.max(1, availableParallelism());
  } catch {
    cores = 1;
  }
  return () => {
    const now = process.hrtime.bigint();
    const usage = process.cpuUsage(last);
    last = process.cpuUsage();
    const wallUs = Number(now - at) / 1000;
    at = now;
    if (wallUs <= 0) return 0;
    return Math.min(1, Math.max(0, (usage.user + usage.system) / (wallUs * cores)));
  };
}

function finite(n: number): number {
  return Number.isFinite(n) ? n : 0;
}

/** Turns the hash fields of `node:<id>` into a NodeInfo; undefined when essential fields are missing. */
export function parseNodeHash(id: string, fields: Readonly<Record<string, string>>): NodeInfo | undefined {
  const srt = fields['srt'];
  const api = fields['api'];
  if (srt === undefined || api === undefined) return undefined;
  const n = (k: string): number => {
    const v = Number(fields[k]);
    return Number.isFinite(v) ? v : 0;
  };
  return {
    id,
    srtAddress: srt,
    apiAddress: api,
    startedAt: n('startedAt'),
    heartbeatAt: n('heartbeat'),
    load: { sessions: n('sessions'), streams: n('streams'), cpu: n('cpu'), bandwidthMbps: n('bandwidthMbps') },
  };
}

function pairsToRecord(flat: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(flat)) return out;
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
  return out;
}

export class NodeRegistry extends EventEmitter<NodeRegistryEvents> {
  readonly heartbeatMs: number;
  readonly ttlMs: number;
  readonly #redis: Redis;
  readonly #keys: ClusterKeys;
  readonly #health: RedisHealth;
  readonly #counter: CommandCounter;
  readonly #log: Logger;
  #load: () => NodeLoad;
  #self: NodeAddresses | undefined;
  #startedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #beating = false;
  #failing = false;

  constructor(opts: NodeRegistryOptions) {
    super();
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.ttlMs = opts.ttlMs ?? DEFAULT_NODE_TTL_MS;
    if (!(this.heartbeatMs > 0 && this.heartbeatMs < this.ttlMs)) {
      throw new RangeError(`heartbeatMs (${this.heartbeatMs}) must be above 0 and below ttlMs (${this.ttlMs})`);
    }
    this.#redis = opts.redis;
    this.#keys = opts.keys;
    this.#health = opts.health;
    this.#counter = opts.counter;
    this.#log = (opts.logger ?? silentLogger()).child({ component: 'registry' });
    const cpu = cpuSampler();
    this.#load = opts.load ?? (() => ({ ...ZERO_LOAD, cpu: cpu() }));
    defineScripts(this.#redis);
  }

  /** This node's addresses once registered. */
  get self(): NodeAddresses | undefined {
    return this.#self;
  }

  /** Replaces the load callback (read at the next heartbeat). */
  setLoadSource(load: () => NodeLoad): void {
    this.#load = load;
  }

  /**
   * Writes this node's entry and starts heartbeating. Throws ERR_CLUSTER_UNAVAILABLE if the
   * first heartbeat cannot reach Redis; the heartbeat timer keeps trying either way.
   */
  async register(self: NodeAddresses): Promise<void> {
    this.#self = { id: self.id, srtAddress: self.srtAddress, apiAddress: self.apiAddress };
    this.#startedAt = Date.now();
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => void this.#tick(), this.heartbeatMs);
      this.#timer.unref();
    }
    await this.heartbeat();
  }

  /** One heartbeat now. Throws ERR_CLUSTER_UNAVAILABLE when Redis cannot be reached. */
  async heartbeat(): Promise<void> {
    const self = this.#self;
    if (self === undefined) throw new Error('NodeRegistry.heartbeat before register');
    let load: NodeLoad;
    try {
      load = this.#load();
    } catch (err) {
      this.#log.warn({ err: String(err) }, 'load callback failed; reporting zero load');
      load = ZERO_LOAD;
    }
    const fields: Array<string | number> = [
      'id', self.id,
      'srt', self.srtAddress,
      'api', self.apiAddress,
      'startedAt', this.#startedAt,
      'sessions', finite(load.sessions),
      'streams', finite(load.streams),
      'cpu', finite(load.cpu),
      'bandwidthMbps', finite(load.bandwidthMbps),
    ];
    await this.#health.run('register node', () => {
      this.#counter.add('registry.heartbeat');
      return callScript(this.#redis, 'srHeartbeat', [this.#keys.node(self.id), this.#keys.nodes], [self.id, this.ttlMs, ...fields]);
    });
  }

  async #tick(): Promise<void> {
    if (this.#beating || !this.#health.available) {
      if (!this.#health.available) this.#failing = true;
      return;
    }
    this.#beating = true;
    try {
      await this.heartbeat();
      if (this.#failing) {
        this.#failing = false;
        this.#log.info('node entry re-registered');
        this.emit('reregistered');
      }
    } catch (err) {
      this.#failing = true;
      this.#log.debug({ err: String(err) }, 'heartbeat failed');
    } finally {
      this.#beating = false;
    }
  }

  /** Every live node (this one included once registered), sorted by id. One command. */
  async list(): Promise<NodeInfo[]> {
    return this.#query('');
  }

  /** One live node, or undefined. One command. */
  async get(id: string): Promise<NodeInfo | undefined> {
    if (id === '') return undefined;
    return (await this.#query(id))[0];
  }

  async #query(id: string): Promise<NodeInfo[]> {
    const reply = await this.#health.run(id === '' ? 'list nodes' : 'look up node', () => {
      this.#counter.add(id === '' ? 'registry.list' : 'registry.get');
      return callScript(this.#redis, 'srNodes', [this.#keys.nodes], [this.#keys.node(''), id]);
    });
    const flat = Array.isArray(reply) ? reply : [];
    const out: NodeInfo[] = [];
    for (let i = 1; i + 1 < flat.length; i += 2) {
      const info = parseNodeHash(String(flat[i]), pairsToRecord(flat[i + 1]));
      if (info !== undefined) out.push(info);
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Stops heartbeating without removing the entry: it lapses within ttlMs (as if the node died). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Stops heartbeating and removes the entry at once (clean shutdown). Never throws. */
  async deregister(): Promise<void> {
    this.stop();
    const self = this.#self;
    if (self === undefined || !this.#health.available) return;
    try {
      await this.#health.run('deregister node', async () => {
        this.#counter.add('registry.deregister', 2);
        await Promise.all([this.#redis.del(this.#keys.node(self.id)), this.#redis.zrem(this.#keys.nodes, self.id)]);
      });
    } catch (err) {
      this.#log.debug({ err: String(err) }, 'deregister failed; the entry lapses by itself');
    }
  }
}
