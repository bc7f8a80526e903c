/**
 * WebhookAuth: decides publishes and plays with an HTTP webhook (undici), without ever making
 * libsrt's handshake thread wait. The native gate refuses a caller whose (streamid, address)
 * has no cached decision with 1503 and wakes us; we POST
 *   {action: "publish"|"play", stream, streamid, remoteAddr, nodeId}
 * and cache the answer in the gate for `cacheMs`, so the caller's retry is decided at once:
 *   2xx {allow: true, stream?, passphrase?}  accept (optionally renamed / with this passphrase)
 *   401                                      1401 (credentials missing)
 *   anything else, or no reply in timeoutMs  1403
 *
 * Held admission (`hold`, the default): instead of refusing a caller with no cached verdict, the
 * gate accepts it (every other rule of the gate applied first-hand: 1400, 1404, 1405, 1409...)
 * and marks it held; `hold()` keeps it off the stream — a player gets nothing, a publisher's
 * data reaches nobody and displaces no one — until the webhook answers, then the relay goes on
 * or closes it. So a one-shot `ffmpeg` publish or `ffprobe` play succeeds at its first try. A
 * denial cannot reach a held caller as its reject code (its handshake is over): it sees the
 * connection close, and its retry within `cacheMs` gets the exact code in the handshake. A
 * verdict with a passphrase cannot be applied after the handshake either: the held caller is
 * closed and its retry is decided with the passphrase. At most MAX_HELD callers are held at
 * once; beyond, callers get `pendingCode` (1503) and retry as without hold.
 */
import { STREAM_NAME_PATTERN } from '../streams/stream-name.js';
import { request } from 'undici';
import { maskText, maskUrl } from '../config/secrets.js';
import type { Logger } from '../logging.js';
import { MODE_PUBLISH } from '../srt/constants.js';
import type { Gate } from '../srt/gate.js';
import { allocateChannel, subscribeChannel } from '../srt/reactor.js';
import { parseStreamId } from '../srt/streamid.js';
import { REJECT } from '../srt/reject-codes.js';

export const REJECT_PENDING = REJECT.UNAVAILABLE;
export const REJECT_UNAUTHORIZED = REJECT.UNAUTHORIZED;
export const REJECT_FORBIDDEN = REJECT.FORBIDDEN;

/** Callers held at once while the webhook decides (beyond: 1503 and retry). */
export const MAX_HELD = 256;

export interface WebhookAuthOptions {
  gate: Gate;
  url: string;
  timeoutMs: number;
  cacheMs: number;
  /** Held admission (default true): see the module comment. */
  hold?: boolean;
  nodeId: string;
  logger: Logger;
  /** The caller's real address behind host:port (a bonded SRTLA sender behind the node's group socket). */
  peerOf?: (host: string, port: number) => { host: string; port: number };
}

export interface WebhookVerdict {
  code: number;
  stream: string;
  passphrase: string;
}

interface WebhookReply {
  allow?: unknown;
  stream?: unknown;
  passphrase?: unknown;
}

const STREAM_NAME = STREAM_NAME_PATTERN;

export class WebhookAuth {
  readonly #opts: WebhookAuthOptions;
  readonly #channel = allocateChannel();
  #unsubscribe: (() => void) | undefined;
  #inFlight = 0;
  /** Webhook calls under way, by `${streamid}\n${host}`: a held caller waits for the same answer. */
  readonly #asking = new Map<string, Promise<WebhookVerdict>>();
  /**
   * Verdicts of the last `cacheMs`, by the same key, as the gate caches them: a held caller's
   * handshake both queues a pending entry (drained here) and reaches `hold()` once accepted; the
   * second of the two may come after the first one's call has ended, and must not ask again.
   */
  readonly #recent = new Map<string, { verdict: WebhookVerdict; until: number }>();
  #held = 0;
  #stopped = false;

  constructor(opts: WebhookAuthOptions) {
    this.#opts = opts;
  }

  start(): void {
    this.#unsubscribe = subscribeChannel(this.#channel, () => this.#drain());
    this.#opts.gate.enableAuth(true, REJECT_PENDING, this.#channel);
    this.#setRoom();
  }

  stop(): void {
    this.#stopped = true;
    this.#opts.gate.setHoldRoom(0);
    this.#opts.gate.enableAuth(false, REJECT_PENDING, 0);
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Callers held now, waiting for the webhook. */
  get held(): number {
    return this.#held;
  }

  /**
   * A caller the gate accepted before the webhook decided (`held`): resolves with the verdict
   * (code 0: go on, as `verdict.stream`) once the webhook answered. `mode` is the gate's decision.
   */
  async hold(c: { streamid: string; host: string; port: number; mode: number; resource: string }): Promise<WebhookVerdict> {
    this.#held++;
    this.#setRoom();
    try {
      return await this.#decision(c.streamid, c.host, c.port, c.mode === MODE_PUBLISH ? 'publish' : 'play', c.resource);
    } finally {
      this.#held--;
      this.#setRoom();
    }
  }

  /** Room for more held callers in the gate (it takes one unit per held handshake until we set it again). */
  #setRoom(): void {
    if (this.#stopped) return;
    this.#opts.gate.setHoldRoom(this.#opts.hold === false ? 0 : Math.max(0, MAX_HELD - this.#held));
  }

  #drain(): void {
    for (const [streamid, host, port, mode, resource] of this.#opts.gate.pending()) {
      void this.#decision(streamid, host, port, mode === MODE_PUBLISH ? 'publish' : 'play', resource);
    }
  }

  /** The webhook's verdict for (streamid, host): the call under way for it, or a new one. */
  #decision(streamid: string, host: string, port: number, action: 'publish' | 'play', stream: string): Promise<WebhookVerdict> {
    const key = `${streamid}\n${host}`;
    const recent = this.#recent.get(key);
    if (recent !== undefined && recent.until > Date.now()) return Promise.resolve(recent.verdict);
    let p = this.#asking.get(key);
    if (p === undefined) {
      p = this.#decide(streamid, host, port, action, stream).then(
        (verdict) => {
          this.#remember(key, verdict);
          return verdict;
        },
      ).finally(() => this.#asking.delete(key));
      this.#asking.set(key, p);
    }
    return p;
  }

  #remember(key: string, verdict: WebhookVerdict): void {
    const now = Date.now();
    if (this.#recent.size >= 4096) {
      for (const [k, r] of this.#recent) if (r.until <= now) this.#recent.delete(k);
      if (this.#recent.size >= 4096) this.#recent.delete(this.#recent.keys().next().value as string);
    }
    this.#recent.set(key, { verdict, until: now + this.#opts.cacheMs });
  }

  async #decide(streamid: string, host: string, port: number, action: 'publish' | 'play', stream: string): Promise<WebhookVerdict> {
    this.#inFlight++;
    const real = this.#opts.peerOf?.(host, port) ?? { host, port };
    const remoteAddr = `${real.host}:${real.port}`;
    const log = this.#opts.logger.child({ stream, streamid, peer: remoteAddr, action });
    try {
      const { user, token } = parseStreamId(streamid);
      const verdict = await this.ask({ action, stream, streamid, remoteAddr, ...(user !== undefined ? { user } : {}), ...(token !== undefined ? { token } : {}) });
      if (!this.#stopped) this.#opts.gate.setAuth(streamid, host, verdict.code, verdict.passphrase, verdict.stream === stream ? '' : verdict.stream, this.#opts.cacheMs);
      log.info({ code: verdict.code, renamed: verdict.stream !== stream ? verdict.stream : undefined }, 'webhook decided');
      return verdict;
    } finally {
      this.#inFlight--;
    }
  }

  /** One webhook call. Never throws: failures become a 1403 verdict. */
  async ask(body: { action: 'publish' | 'play'; stream: string; streamid: string; remoteAddr: string; user?: string; token?: string }): Promise<WebhookVerdict> {
    const deny = (code: number): WebhookVerdict => ({ code, stream: body.stream, passphrase: '' });
    try {
      const res = await request(this.#opts.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, nodeId: this.#opts.nodeId }),
        headersTimeout: this.#opts.timeoutMs,
        bodyTimeout: this.#opts.timeoutMs,
        signal: AbortSignal.timeout(this.#opts.timeoutMs),
      });
      const text = await res.body.text();
      if (res.statusCode === 401) return deny(REJECT_UNAUTHORIZED);
      if (res.statusCode < 200 || res.statusCode > 299) return deny(REJECT_FORBIDDEN);
      let reply: WebhookReply;
      try {
        reply = JSON.parse(text) as WebhookReply;
      } catch {
        this.#opts.logger.warn({ url: maskUrl(this.#opts.url) }, 'webhook replied with invalid JSON; denying');
        return deny(REJECT_FORBIDDEN);
      }
      if (reply.allow !== true) return deny(REJECT_FORBIDDEN);
      const stream = typeof reply.stream === 'string' && STREAM_NAME.test(reply.stream) ? reply.stream : body.stream;
      const pass = typeof reply.passphrase === 'string' ? reply.passphrase : '';
      if (pass !== '' && (pass.length < 10 || pass.length > 79)) {
        this.#opts.logger.warn('webhook passphrase must be 10 to 79 characters; denying');
        return deny(REJECT_FORBIDDEN);
      }
      return { code: 0, stream, passphrase: pass };
    } catch (err) {
      this.#opts.logger.warn({ err: maskText((err as Error).message), url: maskUrl(this.#opts.url) }, 'webhook call failed; denying');
      return deny(REJECT_FORBIDDEN);
    }
  }
}
