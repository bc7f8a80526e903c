/**
 * StreamRegistry: every stream the node knows, and the handshake gate kept in step with it, so
 * the native listen callback can answer each caller at once (1404 unknown, 1409 conflict,
 * per-direction passphrases) without asking JavaScript.
 */
import { relaySideMs } from '../config/latency-policy.js';
import { Gate, type GateRejection } from '../srt/gate.js';
import { REJECT } from '../srt/reject-codes.js';
import { Stream, type StreamSettings } from './stream.js';

export const REJECT_FORBIDDEN = REJECT.FORBIDDEN;
export const REJECT_NOT_FOUND = REJECT.NOT_FOUND;
export const REJECT_CONFLICT = REJECT.CONFLICT;
export const REJECT_UNAVAILABLE = REJECT.UNAVAILABLE;
/** Over a per-host limit (handshake rate or connections); set natively by gateLimits. */
export const REJECT_TOO_MANY = REJECT.TOO_MANY;
/** SRT_REJX_NOTACCEPTABLE: the caller's latency is over the stream's latency policy (closed after the handshake). */
export const REJECT_NOT_ACCEPTABLE = REJECT.NOT_ACCEPTABLE;

export interface RegistryPolicy {
  /** Accept a publish to a name no config mentions (embedded defaults: yes). */
  dynamicStreams: boolean;
  defaultRingSlots: number;
  /** Viewers of one stream beyond this are refused with 1503. */
  maxViewersPerStream?: number;
}

export class StreamRegistry {
  readonly gate: Gate;
  readonly #streams = new Map<string, Stream>();
  readonly #policy: RegistryPolicy;
  #overloaded = false;
  #full = false;
  #clusterDown = false;
  #workersDown = false;
  /** Gate of the internal (cluster) listener: plays of streams published here, nothing else. */
  #internalGate: Gate | undefined;

  constructor(policy: RegistryPolicy) {
    this.#policy = { ...policy };
    this.gate = Gate.create();
    this.#syncDefaults();
  }
  /** limits.maxViewersPerStream changed (a config reload); the caller syncs the streams. */
  setMaxViewersPerStream(max: number | undefined): void {
    if (max === undefined) delete this.#policy.maxViewersPerStream;
    else this.#policy.maxViewersPerStream = max;
  }


  get(name: string): Stream | undefined {
    return this.#streams.get(name);
  }

  list(): Stream[] {
    return [...this.#streams.values()];
  }

  /** Adds or changes a configured stream. */
  configure(name: string, settings: Omit<StreamSettings, 'configured' | 'ringSlots'> & { ringSlots?: number }): Stream {
    const full: StreamSettings = { ringSlots: this.#policy.defaultRingSlots, ...settings, configured: true };
    let s = this.#streams.get(name);
    if (s === undefined) {
      s = new Stream(name, full);
      this.#streams.set(name, s);
    } else {
      s.settings = full;
    }
    this.sync(s);
    return s;
  }

  /** The stream a publisher may create (dynamic) or undefined when the policy forbids it. */
  forPublish(name: string): Stream | undefined {
    let s = this.#streams.get(name);
    if (s === undefined && this.#policy.dynamicStreams && !this.#full) {
      s = new Stream(name, {
        source: 'push://',
        onPublisherConflict: 'refuse',
        configured: false,
        ringSlots: this.#policy.defaultRingSlots,
      });
      this.#streams.set(name, s);
    }
    return s;
  }

  /** The stream a node of the cluster publishes: known here so viewers can pull it from there. */
  forRemote(name: string): Stream {
    let s = this.#streams.get(name);
    if (s === undefined) {
      s = new Stream(name, {
        source: 'push://',
        onPublisherConflict: 'refuse',
        configured: false,
        ringSlots: this.#policy.defaultRingSlots,
      });
      this.#streams.set(name, s);
    }
    return s;
  }

  /** A stream made on the fly from a configured one (wildcard listener input: "base+id"). */
  derive(base: Stream, name: string): Stream {
    let s = this.#streams.get(name);
    if (s === undefined) {
      s = new Stream(name, { ...base.settings, configured: false, publishable: true });
      this.#streams.set(name, s);
      this.sync(s);
    }
    return s;
  }

  remove(name: string): Stream | undefined {
    const s = this.#streams.get(name);
    if (s === undefined) return undefined;
    this.#streams.delete(name);
    s.close();
    this.gate.delete(name);
    this.#internalGate?.delete(name);
    return s;
  }

  /** Drops a dynamic stream nobody uses any more. */
  collect(s: Stream): void {
    if (!s.settings.configured && s.publisher === undefined && s.remote === undefined && s.viewers.size === 0) this.remove(s.name);
  }

  /** Bytes of every ring made so far. */
  ringBytes(): number {
    let sum = 0;
    for (const s of this.#streams.values()) if (s.hasRing) sum += s.ring().byteLength;
    return sum;
  }

  /** At limits.maxStreams: publishes that would make a new stream are refused with 1503. */
  setFull(on: boolean): void {
    if (on === this.#full) return;
    this.#full = on;
    this.#syncDefaults();
  }

  /** Redis is unreachable: new publishes (they need a lease) are refused with 1503. */
  setClusterDown(on: boolean): void {
    if (on === this.#clusterDown) return;
    this.#clusterDown = on;
    this.#syncDefaults();
    for (const s of this.#streams.values()) this.sync(s);
  }

  /** The gate of the internal listener (made on first use): plays of locally published streams only. */
  internalGate(): Gate {
    if (this.#internalGate === undefined) {
      this.#internalGate = Gate.create();
      this.#internalGate.setDefaults(REJECT_FORBIDDEN, '', REJECT_NOT_FOUND, '');
      for (const s of this.#streams.values()) this.sync(s);
    }
    return this.#internalGate;
  }

  /**
   * No worker thread runs: nothing accepted now could be served, so every publish and play is
   * refused with 1503 (try again later) instead of being accepted and closed.
   */
  setWorkersDown(on: boolean): void {
    if (on === this.#workersDown) return;
    this.#workersDown = on;
    this.#syncDefaults();
    for (const s of this.#streams.values()) this.sync(s);
  }

  setOverloaded(on: boolean): void {
    if (on === this.#overloaded) return;
    this.#overloaded = on;
    this.#syncDefaults();
    for (const s of this.#streams.values()) this.sync(s);
  }

  /** Writes the stream's current decisions into the native gate. */
  sync(s: Stream): void {
    const live = s.publisher !== undefined;
    const liveHere = live && s.publisher!.fromCluster !== true;
    const remote = s.remote !== undefined;
    const isPush = s.settings.source.startsWith('push://') || s.settings.publishable === true;
    // A live backup source gives way to a publisher of the push:// source (failover back).
    const backupLive = liveHere && s.publisher!.sourceIndex > (s.settings.pushIndex ?? 0);
    const refuse = s.settings.onPublisherConflict === 'refuse';
    let publish = 0;
    if (!isPush) publish = REJECT_FORBIDDEN;
    // streams.dynamic false: a stream this node knows but does not list (live on another node) is not publishable here.
    else if (!this.#policy.dynamicStreams && !s.settings.configured && s.settings.publishable !== true) publish = REJECT_NOT_FOUND;
    else if (liveHere && !backupLive && refuse && !s.publisherStalled) publish = REJECT_CONFLICT;
    // Live on another node: the conflict policy holds cluster-wide.
    else if (remote && refuse && s.remote!.quiet !== true) publish = REJECT_CONFLICT;
    // docs/auth.md: 1404 for a play of a stream that is not live and not configured. Viewers of
    // a configured stream that is not live wait for its source (they get nothing old meanwhile).
    let play = s.playable ? 0 : REJECT_NOT_FOUND;
    if (this.#overloaded) {
      if (publish === 0 && !live) publish = REJECT_UNAVAILABLE;
      if (play === 0) play = REJECT_UNAVAILABLE;
    }
    const maxViewers = this.#policy.maxViewersPerStream;
    if (maxViewers !== undefined && play === 0 && s.viewers.size >= maxViewers) play = REJECT_UNAVAILABLE;
    // Without Redis no lease can be taken: a publish that would need one waits for Redis.
    if (this.#clusterDown && publish === 0 && !liveHere) publish = REJECT_UNAVAILABLE;
    if (this.#workersDown) {
      if (publish === 0) publish = REJECT_UNAVAILABLE;
      if (play === 0) play = REJECT_UNAVAILABLE;
    }
    this.#internalGate?.set(s.name, REJECT_FORBIDDEN, '', !liveHere ? REJECT_NOT_FOUND : this.#workersDown ? REJECT_UNAVAILABLE : 0, '', false);
    this.gate.set(
      s.name,
      publish,
      s.settings.passphrase?.publish ?? '',
      play,
      s.settings.passphrase?.play ?? '',
      live || remote,
      relaySideMs(s.settings.latency?.publish),
      relaySideMs(s.settings.latency?.play),
    );
  }

  #syncDefaults(): void {
    const publish = this.#overloaded || this.#full || this.#clusterDown || this.#workersDown ? REJECT_UNAVAILABLE : this.#policy.dynamicStreams ? 0 : REJECT_NOT_FOUND;
    this.gate.setDefaults(publish, '', REJECT_NOT_FOUND, '');
  }

  /** Refusals of this node's gates (the ports' and the internal port's) since the last call, for logs and metrics. */
  rejections(): GateRejection[] {
    const own = this.gate.rejections();
    return this.#internalGate === undefined ? own : own.concat(this.#internalGate.rejections());
  }

  close(): void {
    for (const s of this.#streams.values()) s.close();
    this.gate.destroy();
    this.#internalGate?.destroy();
    this.#streams.clear();
  }
}
