/**
 * Kernel receive drops of the relay's own UDP sockets.
 *
 * When a UDP socket's receive buffer is full the kernel drops the datagram and counts it in the
 * socket's line of /proc/net/udp{,6} ("drops"); libsrt never sees it, and at high rates it is
 * the first loss a relay suffers (SO_RCVBUF capped by net.core.rmem_max, or a starved receive
 * thread). UdpDropWatch reads those files every few seconds for the sockets the relay bound
 * itself (known by inode, see SrtSocket.udpSocket), logs a warning for every socket whose count
 * grew, and keeps totals for the API and metrics. Datagrams removed by the handshake guard's
 * kernel filter (native/guard.cc) are counted there too; they are rare (crafted handshakes).
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from '../logging.js';
import type { UdpSocketInfo } from './socket.js';

/** What a UDP socket is for. */
export type UdpSocketRole = 'srt-port' | 'cluster-internal' | 'listener-input' | 'listener-push' | 'pull' | 'push';

export interface UdpSocketLabels {
  readonly role: UdpSocketRole;
  /** Local port, for listening sockets (callers bind a new ephemeral port each time). */
  readonly port?: number;
  readonly stream?: string;
}

export interface UdpDropCount extends UdpSocketLabels {
  /** Effective SO_RCVBUF of the newest socket with these labels, bytes. */
  readonly receiveBufferBytes: number;
  /** Datagrams the kernel dropped since the relay started, over every socket with these labels. */
  readonly dropped: number;
}

/** inode → drops, from the text of /proc/net/udp or /proc/net/udp6 (header line first). */
export function parseProcNetUdp(text: string, into: Map<number, number> = new Map()): Map<number, number> {
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
    if (f.length < 13) continue;
    const inode = Number(f[9]);
    const drops = Number(f[12]);
    if (Number.isSafeInteger(inode) && inode > 0 && Number.isSafeInteger(drops)) into.set(inode, drops);
  }
  return into;
}

async function readProcNetUdp(): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    try {
      parseProcNetUdp(await readFile(file, 'utf8'), out);
    } catch {
      // no IPv6, or not Linux: nothing to count there
    }
  }
  return out;
}

function labelKey(l: UdpSocketLabels): string {
  return `${l.role}\u0000${l.port ?? ''}\u0000${l.stream ?? ''}`;
}

export interface UdpDropWatchOptions {
  log: Logger;
  /** How often /proc/net/udp{,6} is read (default 5000 ms). */
  intervalMs?: number;
  /** inode → drops (tests replace /proc). */
  read?: () => Promise<Map<number, number>>;
}

export class UdpDropWatch {
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #read: () => Promise<Map<number, number>>;
  /** inode → its labels' key, its drops at the last reading, the reading count when added. */
  readonly #sockets = new Map<number, { key: string; last: number; addedAt: number }>();
  readonly #totals = new Map<string, { labels: UdpSocketLabels; dropped: number; receiveBufferBytes: number }>();
  /** Readings started so far. */
  #readings = 0;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;

  constructor(options: UdpDropWatchOptions) {
    this.#log = options.log;
    this.#intervalMs = options.intervalMs ?? 5000;
    this.#read = options.read ?? readProcNetUdp;
  }

  /**
   * Watches a new socket (its count starts at 0) until it is closed: a socket missing from a
   * reading that started after it was added is forgotten (its drops stay in the totals).
   */
  add(socket: UdpSocketInfo | undefined, labels: UdpSocketLabels): void {
    if (socket === undefined || socket.inode <= 0) return;
    const key = labelKey(labels);
    const t = this.#totals.get(key);
    if (t === undefined) this.#totals.set(key, { labels: { ...labels }, dropped: 0, receiveBufferBytes: socket.receiveBufferBytes });
    else t.receiveBufferBytes = socket.receiveBufferBytes;
    this.#sockets.set(socket.inode, { key, last: 0, addedAt: this.#readings });
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.poll(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Reads the kernel's counters once (concurrent calls share one reading). */
  poll(): Promise<void> {
    this.#polling ??= this.#poll().finally(() => {
      this.#polling = undefined;
    });
    return this.#polling;
  }

  async #poll(): Promise<void> {
    if (this.#sockets.size === 0) return;
    const reading = ++this.#readings;
    let now: Map<number, number>;
    try {
      now = await this.#read();
    } catch (e) {
      this.#log.debug({ err: e }, 'reading UDP drop counters failed');
      return;
    }
    const grown = new Map<string, number>();
    for (const [inode, s] of this.#sockets) {
      const drops = now.get(inode);
      if (drops === undefined) {
        if (s.addedAt < reading) this.#sockets.delete(inode); // closed
        continue;
      }
      if (drops <= s.last) continue;
      grown.set(s.key, (grown.get(s.key) ?? 0) + drops - s.last);
      s.last = drops;
    }
    for (const [key, delta] of grown) {
      const t = this.#totals.get(key)!;
      t.dropped += delta;
      const where = t.labels.port !== undefined ? `UDP port ${t.labels.port}` : `the UDP socket of a ${t.labels.role}`;
      this.#log.warn(
        { role: t.labels.role, port: t.labels.port, stream: t.labels.stream, dropped: delta, droppedTotal: t.dropped },
        `the kernel dropped ${delta} datagrams arriving on ${where} (${t.labels.role}${t.labels.stream === undefined ? '' : ` of stream ${t.labels.stream}`}) since the last check: its receive buffer was full. ` +
          'Raise net.core.rmem_max (sysctl) and the udp_rcvbuf option of this port or URL, or give the node more CPU',
      );
    }
  }

  /** Totals per role/port/stream, sockets closed since included. */
  counts(): UdpDropCount[] {
    return [...this.#totals.values()].map((t) => ({ ...t.labels, receiveBufferBytes: t.receiveBufferBytes, dropped: t.dropped }));
  }

  /** Sockets being watched (open ones, as of the last reading). */
  get watching(): number {
    return this.#sockets.size;
  }
}
