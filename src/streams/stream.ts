/** Stream: one named stream of the relay, its ring, its publisher and its viewers. */
import { PacketRing } from '../ring/packet-ring.js';

export type StreamState = 'idle' | 'live';

export interface StreamSettings {
  /** Where packets come from: push:// (publishers connect), an srt:// pull, or a file. */
  source: string;
  passphrase?: { publish?: string; play?: string };
  onPublisherConflict: 'refuse' | 'replace';
  /** true when the stream comes from config/API; false when made by a first publish. */
  configured: boolean;
  /** Publishers may connect although the source is not push:// (a listener input's port). */
  publishable?: boolean;
  /** Slots in the ring (power of two). */
  ringSlots: number;
}

export interface PeerAddress {
  host: string;
  port: number;
}

export interface PublisherInfo {
  session: number;
  peer: PeerAddress;
  since: number;
}

export class Stream {
  readonly name: string;
  settings: StreamSettings;
  publisher: PublisherInfo | undefined;
  readonly viewers = new Set<number>();
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

  get hasRing(): boolean {
    return this.#ring !== undefined;
  }
}
