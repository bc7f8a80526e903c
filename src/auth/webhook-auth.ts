/**
 * WebhookAuth: decides publishes and plays with an HTTP webhook (undici), without ever making
 * libsrt's handshake thread wait. The native gate refuses a caller whose (streamid, address)
 * has no cached decision with 1503 and wakes us; we POST
 *   {action: "publish"|"play", stream, streamid, remoteAddr, nodeId}
 * and cache the answer in the gate for `cacheMs`, so the caller's retry is decided at once:
 *   2xx {allow: true, stream?, passphrase?}  accept (optionally renamed / with this passphrase)
 *   401                                      1401 (credentials missing)
 *   anything else, or no reply in timeoutMs  1403
 */
import { STREAM_NAME_PATTERN } from '../streams/stream-name.js';
import { request } from 'undici';
import { maskText, maskUrl } from '../config/secrets.js';
import type { Logger } from '../logging.js';
import { MODE_PUBLISH } from '../srt/constants.js';
import type { Gate } from '../srt/gate.js';
import { allocateChannel, subscribeChannel } from '../srt/reactor.js';
import { parseStreamId } from '../srt/streamid.js';

export const REJECT_PENDING = 1503;
export const REJECT_UNAUTHORIZED = 1401;
export const REJECT_FORBIDDEN = 1403;

export interface WebhookAuthOptions {
  gate: Gate;
  url: string;
  timeoutMs: number;
  cacheMs: number;
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

  constructor(opts: WebhookAuthOptions) {
    this.#opts = opts;
  }

  start(): void {
    this.#unsubscribe = subscribeChannel(this.#channel, () => this.#drain());
    this.#opts.gate.enableAuth(true, REJECT_PENDING, this.#channel);
  }

  stop(): void {
    this.#opts.gate.enableAuth(false, REJECT_PENDING, 0);
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  #drain(): void {
    for (const [streamid, host, port, mode, resource] of this.#opts.gate.pending()) {
      void this.#decide(streamid, host, port, mode === MODE_PUBLISH ? 'publish' : 'play', resource);
    }
  }

  async #decide(streamid: string, host: string, port: number, action: 'publish' | 'play', stream: string): Promise<void> {
    this.#inFlight++;
    const real = this.#opts.peerOf?.(host, port) ?? { host, port };
    const remoteAddr = `${real.host}:${real.port}`;
    const log = this.#opts.logger.child({ stream, streamid, peer: remoteAddr, action });
    try {
      const { user, token } = parseStreamId(streamid);
      const verdict = await this.ask({ action, stream, streamid, remoteAddr, ...(user !== undefined ? { user } : {}), ...(token !== undefined ? { token } : {}) });
      this.#opts.gate.setAuth(streamid, host, verdict.code, verdict.passphrase, verdict.stream === stream ? '' : verdict.stream, this.#opts.cacheMs);
      log.info({ code: verdict.code, renamed: verdict.stream !== stream ? verdict.stream : undefined }, 'webhook decided');
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
