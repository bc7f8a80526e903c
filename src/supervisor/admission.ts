/**
 * Admission: what happens to a caller of one of the node's SRT ports once libsrt accepted it
 * (the gate said yes in the handshake): closed when the node is at limits.maxSessions, held while
 * the auth webhook decides (held admission, src/auth/webhook-auth.ts), then handed to the
 * sessions as the gate decided — publisher or viewer.
 */
import type { Logger } from '../logging.js';
import { MODE_PLAY, MODE_PUBLISH } from '../srt/constants.js';
import type { AcceptedConnection } from '../srt/socket.js';
import type { WebhookAuth } from '../auth/webhook-auth.js';
import type { StreamSessions } from './stream-sessions.js';

export interface AdmissionOptions {
  log: Logger;
  sessions: StreamSessions;
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
  accepted(c: AcceptedConnection, fixedStream: string | undefined): void {
    const name = fixedStream ?? c.resource;
    const log = this.#o.log.child({ stream: name, peer: `${c.host}:${c.port}`, streamid: c.streamid });
    if (this.#o.sessions.full) {
      log.warn('over session limit after handshake; closing');
      c.socket.close();
      return;
    }
    if (c.held) void this.#held(c, fixedStream, log);
    else this.#admit(c, name, log);
  }

  /** Hands an accepted caller to the sessions as the gate decided: publisher or viewer. */
  #admit(c: AcceptedConnection, name: string, log: Logger): void {
    const incoming = { name, socket: c.socket, peer: { host: c.host, port: c.port }, streamid: c.streamid, log, inferred: c.inferred };
    if (c.mode === MODE_PUBLISH) this.#o.sessions.acceptPublisher({ ...incoming, kind: 'publisher', leased: true });
    else if (c.mode === MODE_PLAY) this.#o.sessions.acceptViewer({ ...incoming, kind: 'viewer' });
    else {
      log.warn('connection without a gate decision; closing');
      c.socket.close();
    }
  }

  /**
   * A caller accepted before the webhook decided: it stays on this thread, off the stream, until
   * the verdict; then it goes on (renamed if the webhook says so) or is closed.
   */
  async #held(c: AcceptedConnection, fixedStream: string | undefined, log: Logger): Promise<void> {
    const auth = this.#o.auth();
    if (auth === undefined) {
      this.#admit(c, fixedStream ?? c.resource, log); // the webhook was turned off meanwhile
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
    this.#admit(c, name, name === c.resource ? log : log.child({ stream: name }));
  }
}
