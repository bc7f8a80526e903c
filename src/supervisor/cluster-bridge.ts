/**
 * ClusterBridge: ties one node's Relay to its ClusterMember (src/cluster). It owns the three
 * things a cluster adds to a node:
 *
 * - Leases: a publisher from outside that goes live here claims the stream's lease (the
 *   conflict policy decides against another node: `refuse` closes the newcomer, `replace` takes
 *   the stream over); its end releases the lease; a lost lease closes the publisher here.
 * - Routing: a mirror of who owns which stream (routing notices, plus a periodic list that
 *   catches leases that expired without a notice, e.g. a killed node). A stream owned elsewhere
 *   is playable here at once; its viewers are served by one internal pull per stream from the
 *   owner's internal listener (encrypted with the cluster passphrase).
 * - Shared configuration: streams, pushes and auth settings in Redis, applied live on every
 *   node (API writes go there first); settings from the local file stay, Redis wins on a name.
 */
import type { Logger } from '../logging.js';
import { silentLogger } from '../logging.js';
import { normalizeConfig } from '../config/load.js';
import { normalizeStream } from '../config/stream-config.js';
import type { PushInput, StreamInput } from '../config/types.js';
import { parseSrtUrl } from '../srt/url.js';
import type { ClusterMember } from '../cluster/cluster-member.js';
import type { ConfigChange, PutResult } from '../cluster/config-store.js';
import { AUTH_SETTINGS, pushId } from '../cluster/config-store.js';
import { internalPullUrl } from '../cluster/internal-link.js';
import type { LeaseOwner } from '../cluster/lease.js';
import type { NodeInfo } from '../cluster/registry.js';
import type { RoutingNotice } from '../cluster/bus.js';
import { isSrtRelayError } from '../errors.js';
import { maskUrl } from '../config/secrets.js';
import { relayStreamFrom } from './from-config.js';
import type { AuthSettings, ClusterRelay, PushInfo, RelayPushOptions, RelayStreamOptions } from './relay-api.js';

export interface ClusterBridgeOptions {
  relay: ClusterRelay;
  member: ClusterMember;
  logger?: Logger;
  /** Keep pulling a stream from its owner this long after the last local viewer left. Default 20000. */
  idleTimeoutMs?: number;
  /** SRT latency of internal pulls, ms. Default 120. */
  pullLatencyMs?: number;
  /** How often the routing mirror is re-read in full (finds expired leases). Default 2000 ms. */
  routingRefreshMs?: number;
  /**
   * While the pull from a stream's owner brings no media (and the owner has not marked the
   * stream quiet), its lease is re-read this often, so a dead owner's lease is seen gone within
   * this time of expiring instead of at the next full refresh. Default 250 ms.
   */
  ownerWatchMs?: number;
  /** Webhook settings of the local file: the base that the shared auth settings change. */
  localAuth?: AuthSettings;
  /** The node's mediaRoot: file:// sources from the shared configuration must be inside it. */
  mediaRoot?: string;
}

/** Routing and lease counters, for the API and the tests. */
export interface ClusterBridgeView {
  node: string;
  redis: boolean;
  /** Streams this node holds the lease of, with the epoch. */
  owned: Record<string, number>;
  /** Streams other nodes own, with the owner. */
  remote: Record<string, string>;
  claims: number;
  conflicts: number;
  lost: number;
}

export class ClusterBridge {
  readonly #relay: ClusterRelay;
  readonly #member: ClusterMember;
  readonly #log: Logger;
  readonly #idleTimeoutMs: number;
  readonly #pullLatencyMs: number;
  readonly #refreshMs: number;
  readonly #ownerWatchMs: number;
  /** stream → the timer re-reading its lease while the pull from its owner is quiet. */
  readonly #watches = new Map<string, NodeJS.Timeout>();
  readonly #localAuth: AuthSettings;
  readonly #mediaRoot: string | undefined;
  /** stream → the local publisher session the lease is (being) claimed for. */
  readonly #holders = new Map<string, number>();
  /** stream → its owner, for streams other nodes own. */
  readonly #mirror = new Map<string, LeaseOwner>();
  /** `stream:<name>` / `push:<id>` / `auth:<name>` → JSON of what was applied from the cluster. */
  readonly #applied = new Map<string, string>();
  /** `stream:<name>` / `push:<id>` → why this node could not apply it (GET /api/v1/node). */
  readonly #notApplied = new Map<string, string>();
  /** Cluster push id → the Relay's push id. */
  readonly #pushes = new Map<string, number>();
  readonly #clusterAuth: Record<string, unknown> = {};
  #refreshTimer: NodeJS.Timeout | undefined;
  /** performance.now() when Redis last came back (0: never lost). */
  #restoredAt = 0;
  #stopped = false;
  #claims = 0;
  #conflicts = 0;
  #lost = 0;
  readonly #off: Array<() => void> = [];

  constructor(opts: ClusterBridgeOptions) {
    this.#relay = opts.relay;
    this.#member = opts.member;
    this.#log = (opts.logger ?? silentLogger()).child({ component: 'cluster' });
    this.#idleTimeoutMs = opts.idleTimeoutMs ?? 20000;
    this.#pullLatencyMs = opts.pullLatencyMs ?? 120;
    this.#refreshMs = opts.routingRefreshMs ?? 2000;
    this.#ownerWatchMs = opts.ownerWatchMs ?? 250;
    this.#localAuth = opts.localAuth ?? { timeoutMs: 2000, cacheMs: 5000 };
    this.#mediaRoot = opts.mediaRoot;
  }

  /** Wires the events, reads the shared configuration and the routing table once. */
  async start(): Promise<void> {
    const relay = this.#relay;
    const m = this.#member;
    this.#on(relay, 'publisher-started', (stream: string, session: number, policy: 'refuse' | 'replace') => this.#publisherStarted(stream, session, policy));
    this.#on(relay, 'publisher-ended', (stream: string, session: number) => this.#publisherEnded(stream, session));
    this.#on(relay, 'publisher-quiet', (stream: string, session: number, quiet: boolean) => this.#publisherQuiet(stream, session, quiet));
    this.#on(relay, 'remote-failed', (stream: string) => this.#resolveOwner(stream));
    this.#on(relay, 'remote-quiet', (stream: string, quiet: boolean) => this.#watchOwner(stream, quiet));
    this.#on(m.leases, 'lost', (lost: { stream: string }) => this.#leaseLost(lost.stream));
    this.#on(m.leases, 'routing', (n: RoutingNotice) => this.#routing(n));
    this.#on(m.config, 'change', (c: ConfigChange) => this.#applyChange(c));
    this.#on(m.config, 'resync', () => void this.syncConfig());
    this.#on(m.bus, 'resubscribed', () => void this.refreshRouting());
    this.#on(m, 'unavailable', () => relay.setClusterAvailable(false));
    this.#on(m, 'restored', () => {
      this.#restoredAt = performance.now();
      relay.setClusterAvailable(true);
      void this.refreshRouting();
      void this.syncConfig();
    });
    relay.setClusterAvailable(m.available);
    await Promise.all([this.syncConfig(), this.refreshRouting()]);
    this.#refreshTimer = setInterval(() => void this.refreshRouting(), this.#refreshMs);
    this.#refreshTimer.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#refreshTimer !== undefined) clearInterval(this.#refreshTimer);
    for (const t of this.#watches.values()) clearInterval(t);
    this.#watches.clear();
    for (const off of this.#off.splice(0)) off();
  }

  /** Every live member of the cluster with its load, from the registry (one Redis command). */
  nodes(): Promise<NodeInfo[]> {
    return this.#member.registry.list();
  }

  view(): ClusterBridgeView {
    const owned: Record<string, number> = {};
    for (const [stream, epoch] of this.#member.leases.held()) owned[stream] = epoch;
    const remote: Record<string, string> = {};
    for (const [stream, owner] of this.#mirror) remote[stream] = owner.node;
    return { node: this.#member.nodeId, redis: this.#member.available, owned, remote, claims: this.#claims, conflicts: this.#conflicts, lost: this.#lost };
  }

  // ---- leases ------------------------------------------------------------------------------

  #publisherStarted(stream: string, session: number, policy: 'refuse' | 'replace'): void {
    const leases = this.#member.leases;
    const previous = this.#holders.get(stream);
    this.#holders.set(stream, session);
    // A local publisher replaced another local one: the lease stays this node's.
    if (previous !== undefined && leases.epochOf(stream) !== undefined) return;
    this.#claims++;
    leases.claim(stream, { policy }).then(
      (res) => {
        if (this.#holders.get(stream) !== session) {
          // The publisher left while the claim was in flight.
          if (res.ok && !this.#holders.has(stream)) void leases.release(stream, res.epoch).catch(() => undefined);
          return;
        }
        if (!res.ok) {
          this.#conflicts++;
          this.#holders.delete(stream);
          this.#log.warn({ stream, session, owner: res.owner.node }, 'stream is live on another node (conflict policy refuse): closing this publisher');
          this.#relay.closePublisher(stream, session, `stream is live on node ${res.owner.node}`);
          this.#setOwner(stream, res.owner);
          return;
        }
        this.#setOwner(stream, undefined);
        this.#log.info({ stream, session, epoch: res.epoch, replaced: res.previous?.node }, 'stream lease claimed');
      },
      (err: unknown) => {
        if (this.#holders.get(stream) !== session) return;
        this.#holders.delete(stream);
        const reason = err instanceof Error ? err.message : String(err);
        this.#log.warn({ stream, session, err: reason }, 'could not claim the stream lease: closing this publisher');
        this.#relay.closePublisher(stream, session, `cluster unavailable: ${reason}`);
      },
    );
  }

  #publisherEnded(stream: string, session: number): void {
    if (this.#holders.get(stream) !== session) return;
    this.#holders.delete(stream);
    const epoch = this.#member.leases.epochOf(stream);
    if (epoch === undefined) return;
    this.#member.leases.release(stream, epoch).then(
      () => this.#log.info({ stream, epoch }, 'stream lease released'),
      (err: unknown) => this.#log.warn({ stream, err: (err as Error).message }, 'releasing the lease failed; it expires by itself'),
    );
  }

  /** Tells the cluster that the lease holder's publisher went quiet (or resumed): see StreamLeases.markQuiet. */
  #publisherQuiet(stream: string, session: number, quiet: boolean): void {
    if (this.#holders.get(stream) !== session) return;
    this.#member.leases.markQuiet(stream, quiet).then(
      (ok) => {
        if (ok) this.#log.info({ stream, session, quiet }, quiet ? 'lease marked quiet: a publisher on another node may take the stream over' : 'lease no longer quiet');
      },
      (err: unknown) => this.#log.warn({ stream, err: (err as Error).message }, 'could not mark the lease quiet'),
    );
  }

  #leaseLost(stream: string): void {
    this.#lost++;
    const session = this.#holders.get(stream);
    this.#holders.delete(stream);
    if (session !== undefined) this.#relay.closePublisher(stream, session, 'another node took the stream over');
  }

  // ---- routing -----------------------------------------------------------------------------

  #routing(n: RoutingNotice): void {
    if (n.op === 'quiet') {
      const known = this.#mirror.get(n.stream);
      if (n.node === this.#member.nodeId || known === undefined || known.node !== n.node || known.epoch !== n.epoch) return;
      this.#mirror.set(n.stream, { ...known, ...(n.quiet === true ? { quiet: true } : { quiet: false }) });
      this.#relay.setRemoteQuiet(n.stream, n.quiet === true);
      return;
    }
    if (n.op === 'claim') {
      if (n.node === this.#member.nodeId) this.#setOwner(n.stream, undefined);
      else if (n.srtAddress !== undefined) this.#setOwner(n.stream, { node: n.node, epoch: n.epoch, srtAddress: n.srtAddress });
      else void this.#resolveOwner(n.stream);
    } else if (this.#mirror.get(n.stream)?.node === n.node) {
      this.#setOwner(n.stream, undefined);
    }
  }

  /** Re-reads the whole routing table (start, after outages, and every routingRefreshMs). */
  async refreshRouting(): Promise<void> {
    if (this.#stopped || !this.#member.available) return;
    let leases;
    try {
      leases = await this.#member.leases.list();
    } catch {
      return; // Redis went away meanwhile: the health watcher logs it
    }
    if (this.#stopped) return;
    const seen = new Set<string>();
    for (const l of leases) {
      if (l.node === this.#member.nodeId) continue;
      seen.add(l.stream);
      this.#setOwner(l.stream, l);
    }
    // Right after Redis came back (empty after a restart), an owner may not have re-claimed its
    // lease yet: each node reconnects on its own backoff (up to ~2.4 s apart). A lease missing then
    // is no sign that its owner is gone; dropping the route would cut the working pull. For one
    // lease TTL plus one refresh after the restore, missing leases are kept (a dead owner is still
    // found by its pull failing: remote-failed).
    const grace = this.#member.leases.ttlMs + this.#refreshMs;
    if (this.#restoredAt > 0 && performance.now() - this.#restoredAt < grace) return;
    for (const stream of [...this.#mirror.keys()]) if (!seen.has(stream)) this.#setOwner(stream, undefined);
  }

  /**
   * The pull from the owner brings no media (quiet) or brings it again. Quiet while the owner
   * has not said its publisher is quiet: the owner may be dead. Its lease lapses one TTL after
   * its last renewal, and the periodic refresh would see that up to routingRefreshMs later
   * (measured in the chaos bench: survivors dropped a killed owner's route 2.5–4.7 s after the
   * kill). Meanwhile an encoder reconnecting to this node gets 1409. So the lease is re-read
   * every ownerWatchMs until it changes or lapses (at most one TTL plus one refresh), or media
   * flows again.
   */
  #watchOwner(stream: string, quiet: boolean): void {
    const running = this.#watches.get(stream);
    if (!quiet || this.#stopped) {
      if (running !== undefined) clearInterval(running);
      this.#watches.delete(stream);
      return;
    }
    const known = this.#mirror.get(stream);
    if (running !== undefined || known === undefined || known.quiet === true) return;
    this.#log.info({ stream, owner: known.node, epoch: known.epoch }, 'no media from the owner: watching its lease');
    let left = Math.ceil((this.#member.leases.ttlMs + this.#refreshMs) / this.#ownerWatchMs);
    const timer = setInterval(() => {
      const now = this.#mirror.get(stream);
      if (left-- <= 0 || now === undefined || now.node !== known.node || now.epoch !== known.epoch || now.quiet === true) {
        clearInterval(timer);
        if (this.#watches.get(stream) === timer) this.#watches.delete(stream);
        return;
      }
      // Right after a Redis restart leases may be missing only because owners have not re-claimed yet (refreshRouting).
      if (this.#restoredAt > 0 && performance.now() - this.#restoredAt < this.#member.leases.ttlMs + this.#refreshMs) return;
      void this.#resolveOwner(stream);
    }, this.#ownerWatchMs);
    timer.unref();
    this.#watches.set(stream, timer);
  }

  /** The pull from the owner failed: ask Redis who owns the stream now. */
  async #resolveOwner(stream: string): Promise<void> {
    if (this.#stopped || !this.#member.available) return;
    try {
      const owner = await this.#member.leases.owner(stream);
      this.#setOwner(stream, owner !== undefined && owner.node !== this.#member.nodeId ? owner : undefined);
    } catch {
      /* unavailable: keep the mirror as it is */
    }
  }

  #setOwner(stream: string, owner: LeaseOwner | undefined): void {
    if (this.#stopped) return;
    const known = this.#mirror.get(stream);
    if (owner === undefined) {
      if (known === undefined) return;
      this.#mirror.delete(stream);
      this.#log.info({ stream, owner: known.node }, 'stream no longer owned by another node');
      this.#relay.setRemoteOwner(stream, undefined);
      return;
    }
    if (known !== undefined && known.node === owner.node && known.srtAddress === owner.srtAddress && known.epoch >= owner.epoch) {
      // Same owner: only its quiet mark may have changed (a periodic list after a missed notice).
      if (known.epoch === owner.epoch && (known.quiet === true) !== (owner.quiet === true)) {
        this.#mirror.set(stream, owner);
        this.#relay.setRemoteQuiet(stream, owner.quiet === true);
      }
      return;
    }
    this.#mirror.set(stream, owner);
    let url;
    try {
      url = parseSrtUrl(
        internalPullUrl({
          ownerAddress: owner.srtAddress,
          stream,
          nodeId: this.#member.nodeId,
          passphrase: this.#member.internalPassphrase,
          latencyMs: this.#pullLatencyMs,
        }),
      );
    } catch (err) {
      this.#log.warn({ stream, owner: owner.node, err: (err as Error).message }, 'cannot pull this stream from its owner');
      return;
    }
    if (known?.node !== owner.node) this.#log.info({ stream, owner: owner.node, epoch: owner.epoch }, 'stream is owned by another node');
    this.#relay.setRemoteOwner(stream, {
      node: owner.node,
      epoch: owner.epoch,
      source: { label: `cluster://${owner.node}`, url, idleTimeoutMs: this.#idleTimeoutMs },
      ...(owner.quiet === true ? { quiet: true } : {}),
    });
  }

  // ---- shared configuration ----------------------------------------------------------------

  /** What of the shared configuration this node could not apply, and why (e.g. a file:// push outside its recordingsRoot). */
  notApplied(): string[] {
    return [...this.#notApplied.values()];
  }

  /** Writes a stream to the cluster (checked like the config file) and applies it here at once. */
  async putStream(name: string, body: unknown): Promise<PutResult<StreamInput>> {
    const res = await this.#member.config.putStream(name, body);
    this.#applyStream(name, res.value);
    return res;
  }

  /** Deletes a stream from the cluster and here. False when neither had it. */
  async deleteStream(name: string): Promise<boolean> {
    const existed = await this.#member.config.deleteStream(name);
    const here = this.#unapplyStream(name) || this.#relay.deleteStream(name);
    return existed || here;
  }

  /** Adds a push to the cluster (its id is derived from stream and target) and applies it here. */
  async putPush(body: unknown): Promise<PutResult<PushInput> & { readonly id: string; readonly local: number | undefined }> {
    const res = await this.#member.config.putPush(body);
    this.#applyPush(res.id, res.value);
    return { ...res, local: this.#pushes.get(res.id) };
  }

  /**
   * Replaces the shared push the Relay knows as `localId` with `body` (checked like POST): the old
   * one leaves the cluster's configuration, the new one is stored and applied here (a new cluster
   * id, derived from stream and target, so a new local id). A push of this node's own config file
   * is changed here only, under the same id. Undefined: no push `localId`.
   */
  async updatePush(localId: number, body: RelayPushOptions): Promise<PushInfo | undefined> {
    const id = [...this.#pushes].find(([, local]) => local === localId)?.[0];
    if (id === undefined) return this.#relay.updatePush(localId, body);
    const old = await this.#member.config.getPush(id);
    await this.#member.config.deletePush(id);
    this.#unapplyPush(id);
    let res;
    try {
      res = await this.#member.config.putPush(body);
    } catch (err) {
      if (old !== undefined) this.#applyPush((await this.#member.config.putPush(old)).id, old);
      throw err;
    }
    this.#applyPush(res.id, res.value);
    const local = this.#pushes.get(res.id);
    return local === undefined ? undefined : this.#relay.listPushes().find((p) => p.id === local);
  }

  /** Deletes the push the Relay knows as `localId` from the cluster (or only here if it is local). */
  async deletePush(localId: number): Promise<boolean> {
    const id = [...this.#pushes].find(([, local]) => local === localId)?.[0];
    if (id === undefined) return this.#relay.removePush(localId);
    await this.#member.config.deletePush(id);
    this.#unapplyPush(id);
    return true;
  }

  /**
   * Writes the auth webhook settings to the cluster and applies them here at once: each setting
   * given is stored; a webhook of undefined removes the shared one (every node then falls back to
   * its own file's), timeoutMs, cacheMs and hold are always stored.
   */
  async putAuth(settings: AuthSettings): Promise<void> {
    const config = this.#member.config;
    // The settings first, the webhook last: no node runs the new webhook with the old settings.
    await config.putAuthSetting('timeoutMs', settings.timeoutMs);
    await config.putAuthSetting('cacheMs', settings.cacheMs);
    await config.putAuthSetting('hold', settings.hold ?? true);
    if (settings.webhook !== undefined) await config.putAuthSetting('webhook', settings.webhook);
    else await config.deleteAuthSetting('webhook');
    this.#clusterAuth['webhook'] = settings.webhook;
    this.#clusterAuth['timeoutMs'] = settings.timeoutMs;
    this.#clusterAuth['cacheMs'] = settings.cacheMs;
    this.#clusterAuth['hold'] = settings.hold ?? true;
    this.#applyAuth();
  }

  /** Reads the whole shared configuration and applies what differs (start, resync). */
  async syncConfig(): Promise<void> {
    if (this.#stopped || !this.#member.available) return;
    let config;
    try {
      config = await this.#member.config.exportConfig();
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'could not read the shared configuration; keeping what is applied');
      return;
    }
    const streams = new Set(Object.keys(config.streams));
    for (const [name, value] of Object.entries(config.streams)) this.#applyStream(name, value);
    for (const key of [...this.#applied.keys()]) {
      if (key.startsWith('stream:') && !streams.has(key.slice(7))) this.#unapplyStream(key.slice(7));
    }
    const pushes = new Set<string>();
    for (const p of config.pushes) {
      const id = pushId(p);
      pushes.add(id);
      this.#applyPush(id, p);
    }
    for (const id of [...this.#pushes.keys()]) if (!pushes.has(id)) this.#unapplyPush(id);
    for (const name of AUTH_SETTINGS) this.#clusterAuth[name] = (config.auth as Record<string, unknown>)[name];
    this.#applyAuth();
  }

  #applyChange(c: ConfigChange): void {
    if (c.kind === 'stream') {
      if (c.op === 'put') this.#applyStream(c.name, c.value);
      else this.#unapplyStream(c.name);
    } else if (c.kind === 'push') {
      if (c.op === 'put') this.#applyPush(c.name, c.value);
      else this.#unapplyPush(c.name);
    } else {
      this.#clusterAuth[c.name] = c.op === 'put' ? c.value : undefined;
      this.#applyAuth();
    }
  }

  #applyStream(name: string, value: StreamInput): void {
    const json = JSON.stringify(value);
    const key = `stream:${name}`;
    if (this.#applied.get(key) === json) return;
    let opts: RelayStreamOptions;
    try {
      const s = normalizeStream(name, value, { origin: 'shared', ...(this.#mediaRoot !== undefined ? { mediaRoot: this.#mediaRoot } : {}) });
      opts = relayStreamFrom(s);
      this.#relay.putStream(name, opts);
    } catch (err) {
      const message = isSrtRelayError(err) ? err.message : String(err);
      this.#notApplied.set(key, `shared stream '${name}' not applied here: ${message}`);
      this.#log.warn({ stream: name, err: message }, 'shared stream setting not applied here');
      return;
    }
    this.#notApplied.delete(key);
    this.#applied.set(key, json);
    this.#log.info({ stream: name }, 'applied shared stream settings');
  }

  #unapplyStream(name: string): boolean {
    this.#notApplied.delete(`stream:${name}`);
    if (!this.#applied.delete(`stream:${name}`)) return false;
    this.#relay.deleteStream(name);
    this.#log.info({ stream: name }, 'removed stream deleted from the shared configuration');
    return true;
  }

  #applyPush(id: string, value: PushInput): void {
    const json = JSON.stringify(value);
    const key = `push:${id}`;
    if (this.#applied.get(key) === json) return;
    this.#unapplyPush(id);
    try {
      // A file:// target is checked here against this node's own recordingsRoot (by addPush).
      const p = normalizeConfig({ srt: { ports: [] }, pushes: [value] }, { fileTargets: 'parsed' }).pushes[0];
      if (p === undefined) return;
      const info = this.#relay.addPush({ stream: p.stream, target: p.target.raw, auto: p.auto });
      this.#pushes.set(id, info.id);
    } catch (err) {
      const message = isSrtRelayError(err) ? err.message : String(err);
      this.#notApplied.set(key, `shared push (${value.stream} → ${maskUrl(value.target)}) not applied here: ${message}`);
      this.#log.warn({ push: id, err: message }, 'shared push not applied here');
      return;
    }
    this.#notApplied.delete(key);
    this.#applied.set(key, json);
  }

  #unapplyPush(id: string): void {
    this.#applied.delete(`push:${id}`);
    this.#notApplied.delete(`push:${id}`);
    const local = this.#pushes.get(id);
    this.#pushes.delete(id);
    if (local !== undefined) this.#relay.removePush(local);
  }

  #applyAuth(): void {
    const merged = { ...this.#localAuth };
    for (const name of AUTH_SETTINGS) {
      const v = this.#clusterAuth[name];
      if (v !== undefined) (merged as Record<string, unknown>)[name] = v;
    }
    const json = JSON.stringify(merged);
    if (this.#applied.get('auth') === json) return;
    this.#applied.set('auth', json);
    this.#relay.setAuth(merged);
  }

  #on(emitter: { on(e: string, f: (...a: never[]) => void): unknown; off(e: string, f: (...a: never[]) => void): unknown }, event: string, fn: (...a: never[]) => void): void {
    emitter.on(event, fn);
    this.#off.push(() => emitter.off(event, fn));
  }
}
