/**
 * Stream: one named stream of the relay and what belongs to it — its ring, its publisher, its
 * viewers, its sources (failover and on-demand timers: StreamSources), the options it was
 * configured with and, in a cluster, the node that owns it. Closing a stream stops its sources.
 */
import type { StreamLatency } from '../config/latency-policy.js';
import { PacketRing } from '../ring/packet-ring.js';
import { srtNow } from '../srt/clock.js';
import type { RelayStreamOptions } from './stream-options.js';
import type { RemoteSource, StreamSources } from './stream-sources.js';

const nowUs = (): number => srtNow();

export type StreamState = 'idle' | 'live';

export interface StreamSettings {
  /** Where packets come from: push:// (publishers connect), an srt:// pull, or a file. */
  source: string;
  passphrase?: { publish?: string; play?: string };
  onPublisherConflict: 'refuse' | 'replace';
  /** Under "refuse": a publisher silent this long may be taken over (0 = never; absent = the default). */
  takeoverAfterMs?: number;
  /** true when the stream comes from config/API; false when made by a first publish. */
  configured: boolean;
  /** Publishers may connect although the source is not push:// (a listener input's port). */
  publishable?: boolean;
  /** Sources the relay runs (pull, file): a viewer may wait for the stream while it starts. */
  startable?: boolean;
  /** Priority of a publisher that connects by itself (index of push:// in `sources`). */
  pushIndex?: number;
  /** Not MPEG-TS: no analysis, pure byte relay. */
  raw?: boolean;
  /** Where a new viewer starts: the newest keyframe (default) or the live edge. */
  join?: 'keyframe' | 'live';
  /** Slots in the ring (power of two). */
  ringSlots: number;
  /** Per-direction latency policy of callers: the relay's side goes to the gate, `max` is checked on accept. */
  latency?: StreamLatency;
}

export interface PeerAddress {
  host: string;
  port: number;
  /** A bonded (SRTLA) caller: the local address of the node's group socket it came through; host/port are then the sender's real address. */
  via?: { host: string; port: number };
}

export interface PublisherInfo {
  session: number;
  peer: PeerAddress;
  since: number;
  /** Which of the stream's sources feeds it (0 = primary). */
  sourceIndex: number;
  /** An internal pull from the node that owns the stream in the cluster (not a local source). */
  fromCluster?: boolean;
}

/** The cluster node that holds the stream's lease, when it is not this node. */
export interface RemoteOwner {
  node: string;
  epoch: number;
  /** Its publisher sends no media for the stream's takeoverAfterMs: a publisher here may take over. */
  quiet?: boolean;
  /** How this node pulls the stream from there. */
  source: RemoteSource;
}

export class Stream {
  readonly name: string;
  settings: StreamSettings;
  publisher: PublisherInfo | undefined;
  /** Live on another node of the cluster (this node can pull it from there). */
  remote: RemoteOwner | undefined;
  /** The publisher has sent no media for the stream's takeoverAfterMs: a new publisher may take over. */
  publisherStalled = false;
  readonly viewers = new Set<number>();
  /** What feeds it, in failover order (undefined until configured or owned by another node). */
  sources: StreamSources | undefined;
  /** The options it was last configured with (config file or API); undefined for a dynamic stream. */
  options: RelayStreamOptions | undefined;
  #ring: PacketRing | undefined;
  readonly createdAt = Date.now();

  constructor(name: string, settings: StreamSettings) {
    this.name = name;
    this.settings = settings;
  }

  get state(): StreamState {
    return this.publisher === undefined ? 'idle' : 'live';
  }

  /** The stream's ring, made on first use and kept while the stream exists (viewers survive a publisher change). */
  ring(): PacketRing {
    this.#ring ??= PacketRing.create(this.settings.ringSlots);
    return this.#ring;
  }

  /** The memory window: ring slots, bytes, and how far back (ms) the oldest packet is. */
  window(): { slots: number; bytes: number; oldestMs: number | null } {
    const ring = this.#ring;
    if (ring === undefined) return { slots: 0, bytes: 0, oldestMs: null };
    const head = ring.head();
    const oldest = head > ring.slotCount ? ring.oldest() : 0;
    const held = (head - oldest) >>> 0;
    const t = held > 0 ? ring.timeOf(oldest) : 0;
    return { slots: ring.slotCount, bytes: ring.byteLength, oldestMs: held > 0 && t > 0 ? Math.round((nowUs() - t) / 1000) : null };
  }

  /**
   * Viewers may connect (docs/auth.md: 1404 otherwise): the stream is live here or on another
   * node, or configured (its viewers wait for its source), or its source starts on demand.
   */
  get playable(): boolean {
    return this.publisher !== undefined || this.remote !== undefined || this.settings.configured || this.settings.startable === true;
  }

  get hasRing(): boolean {
    return this.#ring !== undefined;
  }

  /** Puts in new sources, stopping the previous ones. */
  setSources(sources: StreamSources | undefined): void {
    if (this.sources !== sources) this.sources?.stop();
    this.sources = sources;
  }

  /** The stream goes away (deleted, or a dynamic stream nobody uses): its sources stop. */
  close(): void {
    this.setSources(undefined);
  }
}
