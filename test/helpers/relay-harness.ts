/**
 * Relay end-to-end test harness: an in-process Relay on a free loopback port (stopped when the
 * test ends), sequence-numbered packets with a running checksum, a continuous paced publisher,
 * counting receivers, rejection probes and polling helpers.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { ApiServer, type ApiServerOptions } from '../../src/api/http-server.js';
import { SrtRejectedError } from '../../src/errors.js';
import { silentLogger } from '../../src/logging.js';
import type { SrtSocket } from '../../src/srt/socket.js';
import { Relay, type RelayOptions, type SessionInfo } from '../../src/supervisor/relay.js';
import { freeUdpPort } from './free-port.js';
import type { AfterHook } from './processes.js';
import { connectBinding, delay, type Options } from './srt-io.js';

export interface RelayUnderTest {
  relay: Relay;
  port: number;
}

/** Default options of the brief: 2 workers, one 'both' port with 2 reuse-port listeners, dynamic streams. */
export function relayOptions(port: number, overrides: Partial<RelayOptions> = {}, portParams: Options = { latency: 200 }): RelayOptions {
  return {
    nodeId: 'test',
    workers: 2,
    ports: [{ port, host: '127.0.0.1', direction: 'both', params: portParams, reusePort: 2 }],
    streams: {},
    pushes: [],
    limits: {},
    ringSlots: 8192,
    ...overrides,
  };
}

/** Starts a Relay on a free port (its SRT options: `portParams`); it is stopped when `t` ends. */
export async function startRelay(
  t: AfterHook,
  overrides: Partial<RelayOptions> = {},
  portParams: Options = { latency: 200 },
): Promise<RelayUnderTest> {
  const port = await freeUdpPort();
  const relay = new Relay(relayOptions(port, overrides, portParams));
  t.after(() => relay.stop());
  await relay.start();
  return { relay, port };
}

/** Connects a binding caller that is closed when `t` ends. */
export async function connectFor(t: AfterHook, port: number, options: Options): Promise<SrtSocket> {
  const s = await connectBinding(port, { latency: 200, ...options });
  t.after(() => s.close());
  return s;
}

/**
 * Connects as a publisher of `stream` on `port`, retrying while the relay answers 1409 (another
 * publisher holds the stream); `refused` counts those answers.
 */
export async function publishWhenFree(port: number, stream: string, timeoutMs: number): Promise<{ socket: SrtSocket; refused: number }> {
  let refused = 0;
  const socket = await waitFor(async () => {
    try {
      return await connectBinding(port, { latency: 200, streamid: `publish:${stream}` });
    } catch (e) {
      if (e instanceof SrtRejectedError && e.reason === 1409) {
        refused++;
        await new Promise((r) => setTimeout(r, 50));
        return undefined;
      }
      throw e;
    }
  }, `a new publisher of ${stream} accepted`, timeoutMs);
  return { socket, refused };
}

/** Connects and expects a rejection; returns the reject reason. */
export async function rejectReason(port: number, options: Options): Promise<number> {
  try {
    const s = await connectBinding(port, { latency: 200, ...options });
    s.close();
  } catch (e) {
    assert.ok(e instanceof SrtRejectedError, `expected SrtRejectedError, got ${String(e)}`);
    return e.reason;
  }
  assert.fail(`connection with ${JSON.stringify({ ...options, passphrase: undefined })} was accepted; a rejection was expected`);
}

/** Polls `cond` every 20 ms until it is truthy; fails the test after `timeoutMs`. */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== null && v !== false) return v as NonNullable<T>;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await delay(20);
  }
}

/** The relay's session whose peer is `socket`'s local address (identifies a binding caller's session). */
export function sessionOf(relay: Relay, socket: SrtSocket): SessionInfo | undefined {
  const { port } = socket.localAddress();
  return relay.listSessions().find((s) => s.peer.port === port);
}

/**
 * Waits until the worker threads host every session in `ids` (sessionStats answers from the
 * workers, so a listed session is attached to its ring and will get everything published next).
 */
export async function waitAttached(relay: Relay, ids: readonly number[], timeoutMs = 10_000): Promise<void> {
  await waitFor(
    async () => {
      const stats = await relay.sessionStats();
      return ids.every((id) => stats.has(id));
    },
    `sessions ${ids.join(', ')} attached on their workers`,
    timeoutMs,
  );
}

/** Waits until the stream has a publisher. */
export async function waitLive(relay: Relay, name: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(() => relay.getStream(name)?.publisher !== undefined, `stream '${name}' live`, timeoutMs);
}

// ---- sequence-numbered packets ----------------------------------------------------------------

export const PACKET = 1316;

const packetCache = new Map<string, { packet: Buffer; sum: number }>();

/** makePacket(seq, tag) and its checksum, cached (receivers compare with memcmp instead of rebuilding). */
export function expectedPacket(seq: number, tag = 0): { packet: Buffer; sum: number } {
  const key = `${tag}:${seq}`;
  let e = packetCache.get(key);
  if (e === undefined) {
    const packet = makePacket(seq, tag);
    e = { packet, sum: checksum(packet) };
    if (packetCache.size < 200_000) packetCache.set(key, e);
  }
  return e;
}

/** Packet `seq`: [u32 seq][u32 tag][pseudo-random bytes derived from seq and tag]. */
export function makePacket(seq: number, tag = 0, size = PACKET): Buffer {
  const b = Buffer.allocUnsafe(size);
  b.writeUInt32BE(seq >>> 0, 0);
  b.writeUInt32BE(tag >>> 0, 4);
  let x = (seq * 2654435761 + tag * 40503 + 1) >>> 0;
  for (let i = 8; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** Running checksum (FNV-1a over every byte, in order), continued from `h`. */
export function checksum(data: Uint8Array, h = 0x811c9dc5): number {
  for (let i = 0; i < data.length; i++) {
    h ^= data[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export interface PacedPublisher {
  /** Packets sent so far (sequence numbers 0..sent-1). */
  readonly sent: number;
  /** Running checksum of packets sent from `since` on (see checksumFrom). */
  checksumFrom(since: number): number;
  /** Stops sending; resolves with the number of packets sent. */
  stop(): Promise<number>;
  /** Set when the socket broke while sending. */
  readonly error: Error | undefined;
}

/**
 * Sends sequence-numbered packets continuously at `pps` until stopped (or until `count`
 * packets were sent). Packets the send buffer refused are retried, never skipped.
 */
export function pacedPublisher(socket: SrtSocket, opts: { pps: number; count?: number; tag?: number }): PacedPublisher {
  const start = performance.now();
  const sums: number[] = []; // checksum of each packet, kept to compute a checksum from any point
  let sent = 0;
  let error: Error | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let resolveDone: (() => void) | undefined;
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const finish = (): void => {
    stopped = true;
    clearTimeout(timer);
    resolveDone?.();
  };
  const pump = (): void => {
    timer = undefined;
    if (stopped) return;
    if (socket.isClosed) {
      error = new Error(`publisher socket closed after ${sent} packets`);
      finish();
      return;
    }
    const due = Math.floor(((performance.now() - start) * opts.pps) / 1000) + 1;
    while (sent < due && (opts.count === undefined || sent < opts.count)) {
      const { packet: p, sum: pSum } = expectedPacket(sent, opts.tag ?? 0);
      const n = socket.send(p);
      if (n === 0) break; // send buffer full: retry the same packet shortly
      if (n < 0) {
        error = new Error(`publisher socket broke after ${sent} packets`);
        finish();
        return;
      }
      sums.push(pSum);
      sent++;
    }
    if (opts.count !== undefined && sent >= opts.count) {
      finish();
      return;
    }
    timer = setTimeout(pump, 2);
  };
  pump();
  return {
    get sent() {
      return sent;
    },
    get error() {
      return error;
    },
    checksumFrom(since: number) {
      // Combine per-packet checksums order-sensitively.
      let h = 0x811c9dc5;
      for (let i = since; i < sums.length; i++) h = combine(h, sums[i]!, i);
      return h;
    },
    async stop() {
      if (!stopped) finish();
      await done;
      return sent;
    },
  };
}

/** Order-sensitive combination of per-packet checksums, matching PacedPublisher.checksumFrom. */
export function combine(h: number, packetSum: number, seq: number): number {
  return (Math.imul(h ^ packetSum, 0x01000193) + seq) >>> 0;
}

export interface CountingReceiver {
  /** Packets received. */
  readonly packets: number;
  /** Bytes received. */
  readonly bytes: number;
  /** Sequence number of the first packet received (undefined before any). */
  readonly firstSeq: number | undefined;
  /** Sequence number of the last packet received. */
  readonly lastSeq: number | undefined;
  /** Packets whose sequence number was not the previous one + 1 (gaps, repeats, reordering). */
  readonly discontinuities: number;
  /** Packets whose payload differs from makePacket(seq, tag). */
  readonly corrupt: number;
  /** Checksum over the received packets, comparable to PacedPublisher.checksumFrom(firstSeq). */
  readonly checksum: number;
  /** True once the connection closed. */
  readonly closed: boolean;
  /** Resolves when the connection closes. */
  readonly closedPromise: Promise<void>;
  /** Stop counting (detach the handlers; the socket stays open). */
  stop(): void;
}

/**
 * Counts sequence-numbered packets arriving on `socket`, checking each one against
 * makePacket(seq, tag). Packets carrying `ignoreTag` (e.g. a publisher's priming packets sent
 * before the viewer joined) are skipped.
 */
export function countingReceiver(socket: SrtSocket, tag = 0, ignoreTag?: number): CountingReceiver {
  const buf = new Uint8Array(1500);
  let packets = 0;
  let bytes = 0;
  let firstSeq: number | undefined;
  let lastSeq: number | undefined;
  let discontinuities = 0;
  let corrupt = 0;
  let sum = 0x811c9dc5;
  let closed = false;
  let stopped = false;
  let onClosed: (() => void) | undefined;
  const closedPromise = new Promise<void>((resolve) => {
    onClosed = resolve;
  });
  const markClosed = (): void => {
    if (closed) return;
    closed = true;
    onClosed?.();
  };
  const drain = (): void => {
    if (stopped) return;
    for (;;) {
      if (socket.isClosed) break;
      const n = socket.recv(buf);
      if (n <= 0) break;
      const p = Buffer.from(buf.buffer, 0, n);
      if (ignoreTag !== undefined && n >= 8 && p.readUInt32BE(4) === ignoreTag) continue;
      bytes += n;
      packets++;
      const seq = n >= 8 ? p.readUInt32BE(0) : -1;
      if (firstSeq === undefined) firstSeq = seq;
      else if (seq !== ((lastSeq! + 1) >>> 0)) discontinuities++;
      lastSeq = seq;
      const expected = seq >= 0 ? expectedPacket(seq, tag) : undefined;
      let pkSum: number;
      if (expected !== undefined && expected.packet.equals(p)) pkSum = expected.sum;
      else {
        corrupt++;
        pkSum = checksum(p);
      }
      sum = combine(sum, pkSum, seq);
    }
    if (socket.isClosed) markClosed();
  };
  socket.on({ readable: drain, closed: markClosed });
  if (socket.isClosed) markClosed();
  else drain();
  return {
    get packets() {
      return packets;
    },
    get bytes() {
      return bytes;
    },
    get firstSeq() {
      return firstSeq;
    },
    get lastSeq() {
      return lastSeq;
    },
    get discontinuities() {
      return discontinuities;
    },
    get corrupt() {
      return corrupt;
    },
    get checksum() {
      return sum;
    },
    get closed() {
      return closed;
    },
    closedPromise,
    stop() {
      stopped = true;
    },
  };
}

/** Resolves when `socket` reports closed (installs only a closed handler). */
export function whenClosed(socket: SrtSocket): { readonly closed: boolean; promise: Promise<void> } {
  let closed = socket.isClosed;
  const promise = new Promise<void>((resolve) => {
    if (closed) resolve();
    socket.on({
      closed: () => {
        closed = true;
        resolve();
      },
    });
  });
  return {
    get closed() {
      return closed;
    },
    promise,
  };
}

/** First offset o (< 188) from which every 188-byte packet of `buf` starts with 0x47, or -1. */
export function tsAlignment(buf: Buffer): number {
  for (let o = 0; o < 188 && o < buf.length; o++) {
    let ok = true;
    for (let i = o; i + 188 <= buf.length; i += 188) {
      if (buf[i] !== 0x47) {
        ok = false;
        break;
      }
    }
    if (ok) return o;
  }
  return -1;
}

/** True when something is bound to UDP 127.0.0.1:port (a probe bind fails with EADDRINUSE). */
export function udpPortInUse(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const sock = createSocket({ type: 'udp4', reuseAddr: false });
    sock.once('error', () => {
      sock.close();
      resolve(true);
    });
    sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(false)));
  });
}

/** Waits until a process has bound UDP 127.0.0.1:port (e.g. an SRT listener started by a tool). */
export async function waitUdpBound(port: number, what: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(() => udpPortInUse(port), `${what} bound UDP port ${port}`, timeoutMs);
}

/**
 * Starts `relay` and an HTTP API over it on a free loopback port (options beyond host, port and
 * a silent logger from `opts`); both are stopped when `t` ends. Returns the API's base URL.
 */
export async function serveApi(t: AfterHook, relay: Relay, opts: Partial<ApiServerOptions> = {}): Promise<string> {
  const api = new ApiServer(relay, { host: '127.0.0.1', port: 0, logger: silentLogger(), ...opts });
  t.after(async () => {
    await api.close();
    await relay.stop();
  });
  await relay.start();
  return `http://127.0.0.1:${(await api.listen()).port}`;
}

/**
 * A relay with its HTTP API, a paced publisher of `cam`, one viewer of it and one handshake
 * refused with 1404 (what /metrics tests scrape); all stopped when `t` ends.
 */
export async function liveRelayWithApi(t: AfterHook, opts: Partial<ApiServerOptions> = {}): Promise<{ relay: Relay; port: number; base: string }> {
  const port = await freeUdpPort();
  const relay = new Relay(relayOptions(port));
  const base = await serveApi(t, relay, opts);
  const publisher = pacedPublisher(await connectFor(t, port, { streamid: 'publish:cam' }), { pps: 500 });
  t.after(() => publisher.stop());
  await waitLive(relay, 'cam');
  await connectFor(t, port, { streamid: 'read:cam' });
  assert.equal(await rejectReason(port, { streamid: 'read:nothing-here' }), 1404, 'play of an unknown stream is refused');
  return { relay, port, base };
}
