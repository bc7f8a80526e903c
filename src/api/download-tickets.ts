/**
 * Short-lived download tickets for recording files: a link cannot carry the API's bearer token,
 * so the dashboard asks for a ticket (POST /api/v1/recordings/link, with the token) and the
 * browser then downloads `GET /api/v1/recordings/file?path=P&ticket=T` itself, streaming to disk
 * (range requests and resumes included). A ticket is 128 random bits, good for one path only,
 * for `ttlMs` (default 60 s); at most `capacity` are kept (the oldest go first).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface DownloadTicket {
  readonly ticket: string;
  /** Epoch ms after which it is refused. */
  readonly expiresAt: number;
}

export interface DownloadTicketsOptions {
  ttlMs?: number;
  capacity?: number;
  now?: () => number;
}

export class DownloadTickets {
  readonly #ttlMs: number;
  readonly #capacity: number;
  readonly #now: () => number;
  /** ticket → path and expiry, in insertion order (oldest first). */
  readonly #tickets = new Map<string, { path: string; expiresAt: number }>();

  constructor(opts: DownloadTicketsOptions = {}) {
    this.#ttlMs = opts.ttlMs ?? 60_000;
    this.#capacity = opts.capacity ?? 1024;
    this.#now = opts.now ?? Date.now;
  }

  /** A new ticket for `path` (relative to recordingsRoot, as the listing gives it). */
  issue(path: string): DownloadTicket {
    this.#sweep();
    while (this.#tickets.size >= this.#capacity) this.#tickets.delete(this.#tickets.keys().next().value!);
    const ticket = randomBytes(16).toString('base64url');
    const expiresAt = this.#now() + this.#ttlMs;
    this.#tickets.set(ticket, { path, expiresAt });
    return { ticket, expiresAt };
  }

  /** True when `ticket` was issued for exactly `path` and has not expired. */
  allows(ticket: string, path: string): boolean {
    const t = this.#tickets.get(ticket);
    if (t === undefined || t.expiresAt <= this.#now()) return false;
    const a = Buffer.from(t.path);
    const b = Buffer.from(path);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  get size(): number {
    return this.#tickets.size;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [k, t] of this.#tickets) if (t.expiresAt <= now) this.#tickets.delete(k);
  }
}
