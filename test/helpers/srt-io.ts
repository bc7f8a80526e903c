/**
 * Moving bytes through binding sockets in tests: collect everything a socket receives, send a
 * buffer paced in 1316-byte live packets, and set up listener/caller pairs on loopback.
 */
import { SrtListener, SrtSocket, type AcceptedConnection } from '../../src/srt/socket.js';
import type { SrtOptionValue } from '../../src/srt/options.js';

export type Options = Readonly<Record<string, SrtOptionValue>>;

/** TS over SRT: 7 × 188 bytes per live packet. */
export const TS_OVER_SRT_PACKET = 1316;

export interface ReceiveOptions {
  /** Resolve as soon as this many bytes have arrived. */
  untilBytes?: number;
  /** Resolve (with what has arrived) after this long. Default 15 s. */
  timeoutMs?: number;
  /** Resolve when nothing arrived for this long after the first byte. */
  idleMs?: number;
}

export interface Received {
  data: Buffer;
  messages: number;
  /** Why collection stopped. */
  ended: 'bytes' | 'closed' | 'timeout' | 'idle';
}

/**
 * Collects every message `socket` receives into one Buffer until `untilBytes` arrived, the
 * connection closed, nothing arrived for `idleMs`, or `timeoutMs` passed (never rejects: compare
 * the data to what you expected). Reads until recv() returns 0 on every readable event.
 */
export function receiveDetailed(socket: SrtSocket, opts: ReceiveOptions = {}): Promise<Received> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const chunks: Buffer[] = [];
  const buf = new Uint8Array(1500);
  let total = 0;
  let messages = 0;
  return new Promise<Received>((resolve) => {
    let finished = false;
    let idleTimer: NodeJS.Timeout | undefined;
    const finish = (ended: Received['ended']): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(idleTimer);
      if (!socket.isClosed) socket.on({ readable: () => undefined, closed: () => undefined });
      resolve({ data: Buffer.concat(chunks, total), messages, ended });
    };
    const drain = (): void => {
      if (finished) return;
      let got = false;
      for (;;) {
        if (socket.isClosed) break;
        const n = socket.recv(buf);
        if (n <= 0) break;
        chunks.push(Buffer.from(buf.subarray(0, n)));
        total += n;
        messages++;
        got = true;
        if (opts.untilBytes !== undefined && total >= opts.untilBytes) {
          finish('bytes');
          return;
        }
      }
      if (socket.isClosed) {
        finish('closed');
        return;
      }
      if (got && opts.idleMs !== undefined) {
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => finish('idle'), opts.idleMs);
      }
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on({ readable: drain, closed: () => finish('closed') });
    if (socket.isClosed) finish('closed');
    else drain(); // edge-triggered: data may be waiting already
  });
}

/** receiveDetailed, returning only the bytes. */
export async function receiveAll(socket: SrtSocket, opts: ReceiveOptions = {}): Promise<Buffer> {
  return (await receiveDetailed(socket, opts)).data;
}

export interface SendOptions {
  /** Bytes per message (default 1316). */
  packet?: number;
  /** Packets per second; default 2500 (~26 Mbit/s with 1316-byte packets). 0: as fast as the send buffer allows. */
  pps?: number;
  /** Give up (reject) after this long. Default 20 s. */
  timeoutMs?: number;
}

/**
 * Sends `data` as `packet`-byte messages, paced at `pps`. When send() returns 0 (send buffer
 * full) it waits for the socket's writable event or a 5 ms timer, whichever is first. Resolves
 * with the bytes sent; rejects if the connection breaks or on timeout.
 */
export function sendFile(socket: SrtSocket, data: Uint8Array, opts: SendOptions = {}): Promise<number> {
  const packet = opts.packet ?? TS_OVER_SRT_PACKET;
  const pps = opts.pps ?? 2500;
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const start = performance.now();
  let offset = 0;
  let sent = 0;
  return new Promise<number>((resolve, reject) => {
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err?: Error): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(deadline);
      if (!socket.isClosed) socket.on({ writable: () => undefined, closed: () => undefined });
      if (err === undefined) resolve(offset);
      else reject(err);
    };
    const later = (ms: number): void => {
      clearTimeout(timer);
      timer = setTimeout(pump, ms);
    };
    const pump = (): void => {
      timer = undefined;
      if (finished) return;
      if (socket.isClosed) {
        finish(new Error(`connection closed after ${offset} of ${data.byteLength} bytes`));
        return;
      }
      const elapsed = performance.now() - start;
      const due = pps > 0 ? Math.floor((elapsed * pps) / 1000) + 1 : Number.POSITIVE_INFINITY;
      while (offset < data.byteLength && sent < due) {
        const len = Math.min(packet, data.byteLength - offset);
        const n = socket.send(data.subarray(offset, offset + len));
        if (n === 0) {
          later(5); // or the writable event, whichever comes first
          return;
        }
        if (n < 0) {
          finish(new Error(`connection broke after ${offset} of ${data.byteLength} bytes`));
          return;
        }
        offset += len;
        sent++;
      }
      if (offset >= data.byteLength) {
        finish();
        return;
      }
      later(Math.max(1, ((sent * 1000) / pps) - (performance.now() - start)));
    };
    const deadline = setTimeout(
      () => finish(new Error(`sendFile: only ${offset} of ${data.byteLength} bytes sent in ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on({
      writable: () => {
        if (timer !== undefined && !finished) {
          clearTimeout(timer);
          pump();
        }
      },
      closed: () => finish(new Error(`connection closed after ${offset} of ${data.byteLength} bytes`)),
    });
    pump();
  });
}

export interface ListeningServer {
  listener: SrtListener;
  port: number;
  /** Resolves with the next accepted connection. */
  accepted(): Promise<AcceptedConnection>;
  /** Every connection accepted so far. */
  connections: AcceptedConnection[];
  /** Closes the listener and every accepted socket. */
  close(): void;
}

/**
 * A binding listener on 127.0.0.1 (port 0: the system picks one). `beforeListen` runs between
 * bind and listen (e.g. to attach a gate).
 */
export function listenBinding(
  options: Options = {},
  opts: { port?: number; beforeListen?: (l: SrtListener) => void } = {},
): ListeningServer {
  const listener = SrtListener.create('127.0.0.1', opts.port ?? 0, options);
  const connections: AcceptedConnection[] = [];
  const waiting: Array<(c: AcceptedConnection) => void> = [];
  let taken = 0;
  try {
    opts.beforeListen?.(listener);
    listener.listen((c) => {
      connections.push(c);
      const w = waiting.shift();
      if (w !== undefined) {
        taken++;
        w(c);
      }
    });
  } catch (e) {
    listener.close();
    throw e;
  }
  return {
    listener,
    port: listener.port,
    connections,
    accepted() {
      if (taken < connections.length) return Promise.resolve(connections[taken++]!);
      return new Promise<AcceptedConnection>((resolve) => waiting.push(resolve));
    },
    close() {
      for (const c of connections) c.socket.close();
      listener.close();
    },
  };
}

/** A binding caller connected to 127.0.0.1:port (closes the socket if connect fails). */
export async function connectBinding(port: number, options: Options = {}, host = '127.0.0.1'): Promise<SrtSocket> {
  const s = SrtSocket.create(options);
  try {
    await s.connect(host, port);
  } catch (e) {
    s.close();
    throw e;
  }
  return s;
}

/** Rejects with a descriptive error if `p` does not settle within `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits until everything `socket` sent has been acknowledged (send buffer empty) and then
 * `extraMs` more (let the receiver's TSBPD delay release the last packets), so that closing it
 * loses nothing. Rejects after `timeoutMs`.
 */
export async function waitDelivered(socket: SrtSocket, extraMs = 500, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = socket.stats();
    if (st === undefined) throw new Error('waitDelivered: no statistics (socket closed?)');
    if (st['pktSndBuf'] === 0) break;
    if (Date.now() > deadline) throw new Error(`waitDelivered: ${st['pktSndBuf']} packets still unacknowledged after ${timeoutMs} ms`);
    await delay(20);
  }
  await delay(extraMs);
}
