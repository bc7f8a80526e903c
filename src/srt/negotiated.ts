/**
 * What a connected socket negotiated with its peer, read once when the relay takes the
 * connection (GET /api/v1/sessions `negotiated`, /metrics): latencies, too-late packet drop, the
 * packet filter (FEC), payload size and key length. libsrt fixes them in the handshake.
 */
import type { SrtSocket } from './socket.js';

export interface NegotiatedOptions {
  /** The relay's receive latency, ms (what a publisher's packets wait for: SRTO_RCVLATENCY). */
  receiveLatencyMs: number;
  /** The peer's receive latency, ms (what a player buffers: SRTO_PEERLATENCY). */
  peerLatencyMs: number;
  /** Too-late packet drop (SRTO_TLPKTDROP). */
  tlpktdrop: boolean;
  /** The packet filter in force (SRTO_PACKETFILTER, "" = none). */
  packetFilter: string;
  /** Most bytes per message (SRTO_PAYLOADSIZE). */
  payloadSize: number;
  /** AES key length in bytes (16, 24, 32), 0 when the connection is not encrypted. */
  keyLength: number;
}

/** SRT_KM_S_SECURED. */
const KM_SECURED = 2;

function num(s: SrtSocket, name: string): number {
  const v = s.getOption(name);
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'boolean' ? Number(v) : 0;
}

/** The negotiated options of a connected socket; undefined when libsrt no longer knows it. */
export function readNegotiated(s: SrtSocket): NegotiatedOptions | undefined {
  try {
    const pf = s.getOption('packetfilter');
    return {
      receiveLatencyMs: num(s, 'rcvlatency'),
      peerLatencyMs: num(s, 'peerlatency'),
      tlpktdrop: s.getOption('tlpktdrop') === true,
      packetFilter: typeof pf === 'string' ? pf : '',
      payloadSize: num(s, 'payloadsize'),
      keyLength: num(s, 'kmstate') === KM_SECURED ? num(s, 'pbkeylen') : 0,
    };
  } catch {
    return undefined;
  }
}
