/**
 * `StreamLeases`: which node owns (takes the publisher of) each stream, cluster-wide.
 *
 * A node that accepts a publisher claims the stream's lease in Redis: an atomic Lua script
 * (src/cluster/scripts.ts) that gives the lease to the node if it is free or expired, keeps it if
 * the node holds it already, and either refuses (policy `refuse`: the relay answers 1409) or takes
 * it over (policy `replace`) if another node holds it. Every change of owner increments the
 * stream's epoch, a fencing token: renew and release succeed only with the current epoch, so an
 * owner that was replaced (or whose lease lapsed and was claimed by another node) learns it at
 * its next renewal at the latest and must stop (`lost` event). A takeover is also published on
 * `routing-changed`, so the old owner usually learns it at once.
 *
 * Held leases are renewed every `renewMs` (1000 ms) with a TTL of `ttlMs` (3000 ms), all in one
 * pipelined round trip. While Redis is unavailable renewals are skipped and the node keeps
 * serving what it serves; when Redis returns, `reclaimAll()` (called by ClusterMember on
 * `restored`) renews or re-claims each held lease, never taking one another node holds now.
 *
 * A lease can be marked quiet (`markQuiet`) while its publisher sends no media: a claim with the
 * refuse policy then takes it over as replace would (an encoder reconnecting through the load
 * balancer lands on any node).
 *
 * Cost: claim, renew, release, quiet and owner are one command each, O(1) in Redis (see the scripts);
 * `counter` counts them per op (`lease.claim`, `lease.renew`, `lease.release`, `lease.owner`,
 * `lease.list`).
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from '../logging.js';
import { silentLogger } from '../logging.js';
import type { ClusterBus, RoutingNotice } from './bus.js';
import type { CommandCounter } from './counter.js';
import { ClusterFencedError, ClusterUnavailableError, classifyRedisError } from './errors.js';
import type { ClusterKeys } from './keys.js';
import type { RedisHealth } from './redis-health.js';
import { callScript, defineScripts, queueScript } from './scripts.js';

export const DEFAULT_LEASE_TTL_MS = 3000;
export const DEFAULT_LEASE_RENEW_MS = 1000;

export type ConflictPolicy = 'refuse' | 'replace';

/** Who holds a stream's lease. */
export interface LeaseOwner {
  /** Node id. */
  readonly node: string;
  /** Fencing token: increases with every change of owner. */
  readonly epoch: number;
  /** `host:port` where the owner serves internal pulls of the stream. */
  readonly srtAddress: string;
  /** The owner's publisher sends no media: a claim under the refuse policy takes the stream over. */
  readonly quiet?: boolean;
}

export type ClaimResult =
  /** This node holds the lease now. `previous`: the node it was taken from (policy replace). */
  | { readonly ok: true; readonly epoch: number; readonly previous?: LeaseOwner }
  /** Another node holds it and the policy is refuse: answer the publisher 1409. */
  | { readonly ok: false; readonly owner: LeaseOwner };

export interface ClaimOptions {
  /** What to do when another node holds the stream: `refuse` (1409) or `replace` (take it over). */
  policy: ConflictPolicy;
  /** The new epoch is at least `minEpoch + 1` (keeps epochs increasing if Redis lost its data). */
  minEpoch?: number;
}

/** A held lease this node lost. Stop publishing `stream` here. */
export interface LeaseLost {
  readonly stream: string;
  /** The epoch this node held. */
  readonly epoch: number;
  /** `taken-over`: a routing notice said another node claimed it; `fenced`: a renewal was refused. */
  readonly reason: 'taken-over' | 'fenced';
  /** The new owner, when known. */
  readonly owner: LeaseOwner | undefined;
  /** ERR_CLUSTER_FENCED, ready to log or to close the publisher with. */
  readonly error: ClusterFencedError;
}

export interface StreamLeasesEvents {
  /** A held lease is gone (another node's epoch is newer): stop publishing the stream. */
  lost: [lost: LeaseLost];
  /** After Redis returned, a held lease had to be claimed anew and got a new epoch. */
  reclaimed: [stream: string, epoch: number, previousEpoch: number];
  /** Every routing notice from any node (claims with a new epoch, releases). */
  routing: [notice: RoutingNotice];
}

export interface StreamLeasesOptions {
  /** The command connection (`createCommandConnection`). */
  redis: Redis;
  keys: ClusterKeys;
  health: RedisHealth;
  counter: CommandCounter;
  nodeId: string;
  /** `host:port` other nodes pull this node's streams from. */
  srtAddress: string;
  /** Lease TTL. Default 3000 ms. */
  ttlMs?: number;
  /** Renewal interval; must be below ttlMs. Default 1000 ms. */
  renewMs?: number;
  /** Routing notices: immediate takeover detection and the `routing` event. */
  bus?: ClusterBus;
  logger?: Logger;
}

/** An entry of `StreamLeases.list()`. */
export interface StreamLease extends LeaseOwner {
  readonly stream: string;
}

interface LeaseJson {
  node?: unknown;
  epoch?: unknown;
  srt?: unknown;
  quiet?: unknown;
}

/** Parses a lease value (JSON `{node, epoch, srt}`); undefined when malformed. */
export function parseLease(text: string | null | undefined): LeaseOwner | undefined {
  if (text === null || text === undefined) return undefined;
  let v: LeaseJson;
  try {
    v = JSON.parse(text) as LeaseJson;
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  if (typeof v.node !== 'string' || typeof v.epoch !== 'number' || typeof v.srt !== 'string') return undefined;
  return { node: v.node, epoch: v.epoch, srtAddress: v.srt, ...(v.quiet === true ? { quiet: true } : {}) };
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

export class StreamLeases extends EventEmitter<StreamLeasesEvents> {
  readonly nodeId: string;
  readonly srtAddress: string;
  readonly ttlMs: number;
  readonly renewMs: number;
  readonly #redis: Redis;
  readonly #keys: ClusterKeys;
  readonly #health: RedisHealth;
  readonly #counter: CommandCounter;
  readonly #log: Logger;
  /** Held leases: stream → epoch. */
  readonly #held = new Map<string, number>();
  /** Streams with a claim in flight (a late routing notice of our own claim is not a ghost then). */
  readonly #claiming = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #renewing = false;
  #stopped = false;

  constructor(opts: StreamLeasesOptions) {
    super();
    this.nodeId = opts.nodeId;
    this.srtAddress = opts.srtAddress;
    this.ttlMs = opts.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.renewMs = opts.renewMs ?? DEFAULT_LEASE_RENEW_MS;
    if (!(this.renewMs > 0 && this.renewMs < this.ttlMs)) {
      throw new RangeError(`lease renewMs (${this.renewMs}) must be above 0 and below ttlMs (${this.ttlMs})`);
    }
    this.#redis = opts.redis;
    this.#keys = opts.keys;
    this.#health = opts.health;
    this.#counter = opts.counter;
    this.#log = (opts.logger ?? silentLogger()).child({ component: 'leases' });
    defineScripts(this.#redis);
    opts.bus?.on('routing', (n) => this.#onRouting(n));
  }

  /** Held leases: stream → epoch (a copy). */
  held(): Map<string, number> {
    return new Map(this.#held);
  }

  /** The epoch this node holds `stream` with, or undefined. */
  epochOf(stream: string): number | undefined {
    return this.#held.get(stream);
  }

  /**
   * Claims `stream` for this node (see the module comment). On success the lease is renewed
   * automatically until `release`, `stop` or a `lost` event. Throws ERR_CLUSTER_UNAVAILABLE
   * (answer 1503) when Redis cannot be asked.
   */
  async claim(stream: string, opts: ClaimOptions): Promise<ClaimResult> {
    const keys = [this.#keys.streamLease(stream), this.#keys.streamEpoch(stream)];
    this.#claiming.set(stream, (this.#claiming.get(stream) ?? 0) + 1);
    let reply: unknown;
    try {
      reply = await this.#health.run('claim stream', () => {
        this.#counter.add('lease.claim');
        return callScript(this.#redis, 'srClaim', keys, [
          this.nodeId,
          this.srtAddress,
          this.ttlMs,
          opts.policy,
          Math.max(0, Math.floor(opts.minEpoch ?? 0)),
          this.#keys.routingChanged,
          stream,
        ]);
      });
    } finally {
      const n = (this.#claiming.get(stream) ?? 1) - 1;
      if (n <= 0) this.#claiming.delete(stream);
      else this.#claiming.set(stream, n);
    }
    const r = reply as unknown[];
    const epoch = num(r[1]);
    if (num(r[0]) !== 1) {
      return { ok: false, owner: { node: String(r[2]), epoch, srtAddress: String(r[3] ?? '') } };
    }
    this.#held.set(stream, epoch);
    this.#ensureTimer();
    if (r.length >= 5) {
      const previous: LeaseOwner = { node: String(r[2]), epoch: num(r[3]), srtAddress: String(r[4]) };
      this.#log.info({ stream, epoch, previous: previous.node }, 'stream lease taken over (replace policy, or its owner was quiet)');
      return { ok: true, epoch, previous };
    }
    return { ok: true, epoch };
  }

  /**
   * Renews `stream`'s lease if this node still holds it with `epoch` (fencing). False: another
   * node holds it now; if it was held, it is dropped and `lost` is emitted. Throws
   * ERR_CLUSTER_UNAVAILABLE when Redis cannot be asked.
   */
  async renew(stream: string, epoch: number): Promise<boolean> {
    const reply = await this.#health.run('renew stream lease', () => {
      this.#counter.add('lease.renew');
      return callScript(this.#redis, 'srRenew', [this.#keys.streamLease(stream), this.#keys.streamEpoch(stream)], [
        this.nodeId,
        epoch,
        this.ttlMs,
        this.srtAddress,
      ]);
    });
    const ok = num(reply) !== 0;
    if (!ok) this.#fenced(stream, epoch);
    return ok;
  }

  /**
   * Releases `stream` if this node holds it with `epoch` (publisher gone, stream deleted). True if
   * the lease was deleted; false if it was not ours (any more). Stops renewing it either way.
   */
  async release(stream: string, epoch: number): Promise<boolean> {
    if (this.#held.get(stream) === epoch) this.#held.delete(stream);
    const reply = await this.#health.run('release stream', () => {
      this.#counter.add('lease.release');
      return callScript(this.#redis, 'srRelease', [this.#keys.streamLease(stream)], [
        this.nodeId,
        epoch,
        this.#keys.routingChanged,
        stream,
      ]);
    });
    return num(reply) === 1;
  }

  /**
   * Marks a lease this node holds quiet (its publisher sends no media: another node's publisher
   * may take the stream over even under the refuse policy) or not. False when not held (any
   * more). Throws ERR_CLUSTER_UNAVAILABLE when Redis cannot be asked.
   */
  async markQuiet(stream: string, quiet: boolean): Promise<boolean> {
    const epoch = this.#held.get(stream);
    if (epoch === undefined) return false;
    const reply = await this.#health.run('mark stream lease quiet', () => {
      this.#counter.add('lease.quiet');
      return callScript(this.#redis, 'srQuiet', [this.#keys.streamLease(stream)], [
        this.nodeId,
        epoch,
        quiet ? '1' : '0',
        this.#keys.routingChanged,
        stream,
      ]);
    });
    return num(reply) === 1;
  }

  /** Who holds `stream` now, or undefined (not live anywhere). One GET. */
  async owner(stream: string): Promise<LeaseOwner | undefined> {
    const text = await this.#health.run('look up stream owner', () => {
      this.#counter.add('lease.owner');
      return this.#redis.get(this.#keys.streamLease(stream));
    });
    return parseLease(text);
  }

  /**
   * Every live lease in the cluster. SCAN over the keyspace plus MGET: O(keys in the database),
   * so for start-up and resync only; keep up to date from `routing` events in between.
   */
  async list(): Promise<StreamLease[]> {
    return this.#health.run('list stream leases', async () => {
      const keys: string[] = [];
      let cursor = '0';
      do {
        this.#counter.add('lease.list');
        const [next, batch] = await this.#redis.scan(cursor, 'MATCH', this.#keys.leasePattern, 'COUNT', 1000);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
      const unique = [...new Set(keys)];
      const out: StreamLease[] = [];
      for (let i = 0; i < unique.length; i += 500) {
        const chunk = unique.slice(i, i + 500);
        this.#counter.add('lease.list');
        const values = await this.#redis.mget(...chunk);
        chunk.forEach((key, j) => {
          const stream = this.#keys.streamOfLeaseKey(key);
          const owner = parseLease(values[j]);
          if (stream !== undefined && owner !== undefined) out.push({ stream, ...owner });
        });
      }
      return out.sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0));
    });
  }

  /**
   * Renews every held lease now, in one pipelined round trip (the timer calls this every
   * renewMs). Leases refused by Redis are dropped with a `lost` event. Does nothing while Redis
   * is unavailable; never throws.
   */
  async renewAll(): Promise<void> {
    if (this.#renewing || this.#held.size === 0 || !this.#health.available) return;
    this.#renewing = true;
    try {
      const batch = [...this.#held];
      const results = await this.#renewBatch(batch);
      batch.forEach(([stream, epoch], i) => {
        const r = results[i];
        if (r === 0) this.#fenced(stream, epoch);
        else if (r === 2) this.#log.info({ stream, epoch }, 'lapsed stream lease resumed (nobody claimed it meanwhile)');
      });
    } catch (err) {
      this.#log.debug({ err: String(err) }, 'lease renewal round failed');
    } finally {
      this.#renewing = false;
    }
  }

  /** One renew per lease in one pipeline: 1 = renewed, 2 = resumed, 0 = fenced, undefined = not answered. */
  async #renewBatch(batch: ReadonlyArray<readonly [string, number]>): Promise<Array<number | undefined>> {
    if (batch.length === 0) return [];
    const pipe = this.#redis.pipeline();
    for (const [stream, epoch] of batch) {
      queueScript(pipe, 'srRenew', [this.#keys.streamLease(stream), this.#keys.streamEpoch(stream)], [
        this.nodeId,
        epoch,
        this.ttlMs,
        this.srtAddress,
      ]);
    }
    this.#counter.add('lease.renew', batch.length);
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await pipe.exec();
    } catch (err) {
      throw this.#health.failure('renew stream leases', err);
    }
    return batch.map((_, i) => {
      const [err, value] = results?.[i] ?? [new Error('no reply'), undefined];
      if (err !== null) {
        const failure = this.#health.failure('renew stream leases', err);
        if (!(failure instanceof ClusterUnavailableError)) this.#log.error({ err: String(err) }, 'lease renewal script failed');
        return undefined;
      }
      return num(value);
    });
  }

  /**
   * After Redis was unavailable: renews each held lease, and claims anew (policy refuse, epoch
   * above the old one) each that lapsed and was lost from Redis; a lease another node holds now
   * is dropped with `lost`. Called by ClusterMember on `restored`. Throws ERR_CLUSTER_UNAVAILABLE
   * if Redis goes away again.
   */
  async reclaimAll(): Promise<void> {
    const batch = [...this.#held];
    if (batch.length === 0) return;
    this.#health.assertAvailable('re-claim stream leases');
    const results = await this.#renewBatch(batch);
    for (const [i, [stream, epoch]] of batch.entries()) {
      if (this.#held.get(stream) !== epoch) continue; // released or replaced meanwhile
      const r = results[i];
      if (r === 1 || r === 2) continue;
      if (r === undefined) throw new ClusterUnavailableError('re-claim stream leases', 'no reply');
      const res = await this.claim(stream, { policy: 'refuse', minEpoch: epoch });
      if (res.ok) {
        this.#log.info({ stream, epoch: res.epoch, previousEpoch: epoch }, 'stream lease re-claimed after Redis returned');
        if (res.epoch !== epoch) this.emit('reclaimed', stream, res.epoch, epoch);
      } else {
        this.#lose(stream, epoch, 'fenced', res.owner);
      }
    }
  }

  /** Stops the renewal timer (leases lapse within ttlMs unless released). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Stops renewing and releases every held lease (best effort; never throws). */
  async releaseAll(): Promise<void> {
    this.stop();
    const batch = [...this.#held];
    await Promise.allSettled(batch.map(([stream, epoch]) => this.release(stream, epoch)));
    this.#held.clear();
  }

  #ensureTimer(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = setInterval(() => void this.renewAll(), this.renewMs);
    this.#timer.unref();
  }

  /** A renewal was refused: find out who holds it (best effort) and emit `lost`. */
  #fenced(stream: string, epoch: number): void {
    if (this.#held.get(stream) !== epoch) return;
    this.#held.delete(stream);
    this.owner(stream).then(
      (owner) => this.#lose(stream, epoch, 'fenced', owner, true),
      () => this.#lose(stream, epoch, 'fenced', undefined, true),
    );
  }

  #lose(stream: string, epoch: number, reason: LeaseLost['reason'], owner: LeaseOwner | undefined, dropped = false): void {
    if (!dropped) {
      if (this.#held.get(stream) !== epoch) return;
      this.#held.delete(stream);
    }
    const error = new ClusterFencedError(stream, epoch, owner);
    this.#log.warn({ stream, epoch, reason, owner: owner?.node, ownerEpoch: owner?.epoch }, 'stream lease lost: stop publishing it here');
    this.emit('lost', { stream, epoch, reason, owner, error });
  }

  #onRouting(n: RoutingNotice): void {
    this.emit('routing', n);
    if (n.op !== 'claim') return;
    const held = this.#held.get(n.stream);
    if (n.node !== this.nodeId) {
      if (held !== undefined && n.epoch > held) {
        this.#lose(n.stream, held, 'taken-over', { node: n.node, epoch: n.epoch, srtAddress: n.srtAddress ?? '' });
      }
      return;
    }
    // Our own claim that nobody waits for: a claim whose reply timed out (Redis hung) and that
    // Redis ran later. Give it back so it does not block or replace a real publisher.
    if (held === undefined && !this.#claiming.has(n.stream)) {
      this.release(n.stream, n.epoch).then(
        (released) => {
          if (released) this.#log.info({ stream: n.stream, epoch: n.epoch }, 'released a lease claimed after its request had timed out');
        },
        () => undefined,
      );
    }
  }
}

/** True when `err` means "ask again later" (Redis unavailable) rather than a bug. */
export function isRetryable(err: unknown): boolean {
  return err instanceof ClusterUnavailableError || classifyRedisError(err) !== 'other';
}
