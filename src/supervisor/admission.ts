/**
 * Admission: what happens to a caller of one of the node's SRT ports once libsrt accepted it
 * (the gate said yes in the handshake): closed when the node is at limits.maxSessions or its
 * negotiated latency is over the stream's latency policy (1406), held while the auth webhook
 * decides (held admission, src/auth/webhook-auth.ts), then handed to the sessions as the gate
 * decided — publisher or viewer. A bonded (SRTLA) caller is known by its sender's real address.
 */
import type { Logger } from '../logging.js';
import { MODE_PLAY, MODE_PUBLISH } from '../srt/constants.js';
import type { AcceptedConnection } from '../srt/socket.js';
import type { WebhookAuth } from '../auth/webhook-auth.js';
import { overMax } from '../config/latency-policy.js';
import { readNegotiated } from '../srt/negotiated.js';
import { REJECT } from '../srt/reject-codes.js';
import type { Gate } from '../srt/gate.js';
import type { PeerAddress } from '../streams/stream.js';
import type { StreamRegistry } from '../streams/stream-registry.js';
import type { StreamSessions } from './stream-sessions.js';

/** After a caller was closed for its latency, its retries get 1406 in the handshake this long. */
const LATENCY_REFUSAL_MS = 10_000;

export interface AdmissionOptions {
  log: Logger;
  sessions: StreamSessions;
  registry: StreamRegistry;
  gate: Gate;
  /** The caller's real address (a bonded sender's, `via` the group socket), else host:port. */
  peerOf(host: string, port: number): PeerAddress;
  /** A bonded caller became session `id` of `stream` (the SRTLA group learns its session). */
  bonded(c: AcceptedConnection, id: number, stream: string): void;
  /** A refusal decided after the handshake on SRT port `port`, counted like the gate's. */
  refused(port: number, code: number): void;
  /** The webhook in force now, if any (it changes at runtime). */
  auth(): WebhookAuth | undefined;
  /** The node is stopping: held callers are closed. */
  stopped(): boolean;
}

export class Admission {
  readonly #o: AdmissionOptions;

  constructor(opts: AdmissionOptions) {
    this.#o = opts;
  }

  /** A caller accepted on a port (`fixedStream`: the port serves one stream). */
  accepted(c: AcceptedConnection, fixedStream: string | undefined, port = 0, host = ''): void {
    const name = fixedStream ?? c.resource;
    const peer = this.#o.peerOf(c.host, c.port);
    const log = this.#o.log.child({ stream: name, peer: `${peer.host}:${peer.port}`, streamid: c.streamid });
    if (this.#latencyRefused(c, name, peer, port, log)) return;
    const srtPort = `${host}:${port}`;
    if (c.held) void this.#held(c, fixedStream, peer, log, srtPort);
    else this.#admit(c, name, peer, log, srtPort);
  }

  /** Hands an accepted caller to the sessions as the gate decided: publisher or viewer. */
  #admit(c: AcceptedConnection, name: string, peer: PeerAddress, log: Logger, srtPort: string): void {
    // Checked here, not before a hold: a held caller may find the node full once the webhook answered.
    if (this.#o.sessions.full) {
      log.warn('over session limit after handshake; closing');
      c.socket.close();
      return;
    }
    const incoming = { name, socket: c.socket, peer, streamid: c.streamid, log, inferred: c.inferred, srtPort };
    let id: number | undefined;
    if (c.mode === MODE_PUBLISH) id = this.#o.sessions.acceptPublisher({ ...incoming, kind: 'publisher', leased: true });
    else if (c.mode === MODE_PLAY) id = this.#o.sessions.acceptViewer({ ...incoming, kind: 'viewer' });
    else {
      log.warn('connection without a gate decision; closing');
      c.socket.close();
    }
    if (id !== undefined && peer.via !== undefined) this.#o.bonded(c, id, name);
  }

  /**
   * The stream's latency policy, checked once the handshake fixed the latency (libsrt's listen
   * callback does not see what the caller asks): over `max`, "refuse" closes the connection and
   * counts it as refused with 1406; "accept" logs it. True when closed.
   */
  #latencyRefused(c: AcceptedConnection, name: string, peer: PeerAddress, port: number, log: Logger): boolean {
    const policy = this.#o.registry.get(name)?.settings.latency;
    if (policy === undefined) return false;
    const side = c.mode === MODE_PUBLISH ? 'publish' : 'play';
    const p = policy[side];
    const n = readNegotiated(c.socket);
    const over = n === undefined ? undefined : overMax(p, side === 'publish' ? n.receiveLatencyMs : n.peerLatencyMs);
    if (over === undefined) return false;
    if (p!.onExceed === 'accept') {
      log.warn({ latencyMs: over, max: p!.max }, `negotiated latency over the stream's latency.${side}.max; accepted (onExceed "accept")`);
      return false;
    }
    log.warn({ latencyMs: over, max: p!.max, code: REJECT.NOT_ACCEPTABLE }, `negotiated latency over the stream's latency.${side}.max: closing (the caller asked for more; raise max or lower the caller's latency)`);
    this.#o.refused(port, REJECT.NOT_ACCEPTABLE);
    // Its retry (same stream id, same address) gets 1406 in the handshake for a while; not for a
    // bonded caller, whose address in the gate is the node's group socket, shared by every group.
    if (peer.via === undefined) this.#o.gate.refuseFor(c.streamid, c.host, REJECT.NOT_ACCEPTABLE, LATENCY_REFUSAL_MS);
    c.socket.close();
    return true;
  }

  /**
   * A caller accepted before the webhook decided: it stays on this thread, off the stream, until
   * the verdict; then it goes on (renamed if the webhook says so) or is closed.
   */
  async #held(c: AcceptedConnection, fixedStream: string | undefined, peer: PeerAddress, log: Logger, srtPort: string): Promise<void> {
    const auth = this.#o.auth();
    if (auth === undefined) {
      this.#admit(c, fixedStream ?? c.resource, peer, log, srtPort); // the webhook was turned off meanwhile
      return;
    }
    const t0 = performance.now();
    const verdict = await auth.hold(c);
    const waitedMs = Math.round(performance.now() - t0);
    if (this.#o.stopped()) {
      c.socket.close();
      return;
    }
    if (verdict.code !== 0) {
      log.info({ code: verdict.code, waitedMs }, 'held connection denied by the webhook: closed (a retry gets the code in its handshake)');
      c.socket.close();
      return;
    }
    if (verdict.passphrase !== '') {
      log.info({ waitedMs }, 'the webhook set a connection passphrase, which only a new handshake can use: held connection closed, its retry is decided with it');
      c.socket.close();
      return;
    }
    const name = fixedStream ?? verdict.stream;
    log.debug({ waitedMs, stream: name }, 'held connection allowed by the webhook');
    this.#admit(c, name, peer, name === c.resource ? log : log.child({ stream: name }), srtPort);
  }
}
