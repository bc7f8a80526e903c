/**
 * SrtSocket and SrtListener: the TypeScript face of one libsrt socket. Non-blocking throughout;
 * readiness arrives from the native reactor (edge-triggered: after a readable event, read until
 * recv() returns 0). Arguments are validated here, so the addon can trust them.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { SrtNativeError, SrtRejectedError, SrtRelayError } from '../errors.js';
import { EV_ERR, EV_IN, EV_OUT, native, type AcceptResult } from './native.js';
import { registerHandler, reportHandlerError, unregisterHandler, type HandlerErrorContext } from './reactor.js';
import type { Gate } from './gate.js';
import { MODE_OF_DOMAIN, nativeAddressMap, nativeDomains, type GateDialects } from './streamid.js';
import { SRT_FEC_MAX_PAYLOAD, SRT_LIVE_MAX_PAYLOAD, type SrtOptionValue } from './options.js';

/**
 * The payload size srt-relay gives a live socket that the options leave at libsrt's default
 * (1316). SRTO_PAYLOADSIZE limits what a socket may send: a relay forwards messages as
 * received, and live-mode publishers may send up to 1456 bytes (srt-live-transmit's default
 * -chunk), so every live socket is allowed the largest message libsrt accepts (1452 with a
 * packet filter, which takes 4 bytes). Returns undefined when nothing is to be set: the options
 * name a payload size, or the socket is in file mode.
 */
export function relayPayloadSize(options: Readonly<Record<string, SrtOptionValue>>): number | undefined {
  if (options['payloadsize'] !== undefined || options['transtype'] === 'file') return undefined;
  return options['packetfilter'] !== undefined ? SRT_FEC_MAX_PAYLOAD : SRT_LIVE_MAX_PAYLOAD;
}

/** libsrt SRT_SOCKSTATUS values. */
export const SocketState = Object.freeze({
  INIT: 1,
  OPENED: 2,
  LISTENING: 3,
  CONNECTING: 4,
  CONNECTED: 5,
  BROKEN: 6,
  CLOSING: 7,
  CLOSED: 8,
  NONEXIST: 9,
});

/** Per-connection statistics (srt_bistats, instantaneous values for rates and buffers). */
export type SrtStats = Readonly<Record<(typeof STAT_FIELDS)[number], number>>;

export const STAT_FIELDS = Object.freeze(native.statFields()) as readonly string[];
const statBuffer = new Float64Array(STAT_FIELDS.length);

function wrapNative(err: unknown): never {
  if (err instanceof Error && (err as { code?: string }).code === 'ERR_SRT_NATIVE') {
    const e = err as Error & { srtErrno?: number; sysErrno?: number };
    const colon = e.message.indexOf(': ');
    const call = colon > 0 ? e.message.slice(0, colon) : 'libsrt';
    const msg = colon > 0 ? e.message.slice(colon + 2) : e.message;
    throw new SrtNativeError(call, e.srtErrno ?? -1, msg, e.sysErrno);
  }
  throw err;
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SrtRelayError('ERR_SRT_URL_INVALID', `${what} must be an integer 0..65535 (got ${String(port)})`);
  }
}

/** Resolves a host name to a numeric address without blocking the thread (dns.lookup runs off-thread). */
export async function resolveHost(host: string): Promise<string> {
  if (host === '' || isIP(host) !== 0) return host;
  try {
    const r = await lookup(host);
    return r.address;
  } catch (cause) {
    throw new SrtRelayError('ERR_SRT_URL_INVALID', `cannot resolve host '${host}': check the name`, { host }, { cause });
  }
}

export interface SrtSocketHandlers {
  /** Data can be read: call recv()/recvSlots() until they return 0. */
  readable?: () => void;
  /** The send buffer has room again after send() returned 0. */
  writable?: () => void;
  /** The connection broke or was closed by the peer. Fired once. */
  closed?: () => void;
}

/** A UDP socket the relay created for an SRT socket. */
export interface UdpSocketInfo {
  /** Its inode: its line in /proc/net/udp{,6}, where the kernel counts receive drops. */
  readonly inode: number;
  /** Effective SO_RCVBUF in bytes (the kernel doubles the asked size and caps it at net.core.rmem_max). */
  readonly receiveBufferBytes: number;
}

function udpSocketInfo(r: [number, number] | null): UdpSocketInfo | undefined {
  return r === null ? undefined : Object.freeze({ inode: r[0], receiveBufferBytes: r[1] });
}

export class SrtSocket {
  #id: number;
  #token = -1;
  #closed = false;
  #handlers: SrtSocketHandlers = {};
  #connectWait: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #udpSocket: UdpSocketInfo | undefined;
  /** What this socket serves (e.g. `{ session }`): reported with an exception its handlers throw. */
  context: HandlerErrorContext = {};

  protected constructor(id: number) {
    this.#id = id;
  }

  /** A new socket with the given options applied (options validated by the caller, e.g. from parseSrtUrl). */
  static create(options: Readonly<Record<string, SrtOptionValue>> = {}): SrtSocket {
    let id: number;
    try {
      id = native.socket();
    } catch (e) {
      wrapNative(e);
    }
    const s = new SrtSocket(id);
    try {
      s.setOptions(options);
      // After transtype (which resets the payload size): see relayPayloadSize().
      const payloadSize = relayPayloadSize(options);
      if (payloadSize !== undefined) s.setOption('payloadsize', payloadSize);
    } catch (e) {
      s.close();
      throw e;
    }
    return s;
  }

  /** Wraps a socket accepted by a listener on this thread. */
  static fromAccepted(id: number): SrtSocket {
    return new SrtSocket(id);
  }

  /** Takes over a socket another thread released with detach(). */
  static adopt(id: number): SrtSocket {
    native.adopt(id);
    return new SrtSocket(id);
  }

  /**
   * Closes a socket released with detach() that no thread took over (its worker died before it
   * adopted it). Harmless when the socket is closed already.
   */
  static closeDetached(id: number): void {
    try {
      native.close(id);
    } catch {
      // closed already
    }
  }

  /** Releases this socket to another thread (which calls SrtSocket.adopt(id)); this object is then closed. */
  detach(): number {
    if (this.#closed) throw new SrtRelayError('ERR_SRT_NATIVE', 'cannot detach a closed socket');
    this.#closed = true;
    native.disown(this.#id);
    if (this.#token >= 0) unregisterHandler(this.#token);
    this.#token = -1;
    return this.#id;
  }

  get id(): number {
    return this.#id;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  setOptions(options: Readonly<Record<string, SrtOptionValue>>): void {
    // transtype resets other options in libsrt, so it goes first.
    if (options['transtype'] !== undefined) this.setOption('transtype', options['transtype']);
    for (const [name, value] of Object.entries(options)) {
      if (name !== 'transtype') this.setOption(name, value);
    }
  }

  setOption(name: string, value: SrtOptionValue): void {
    let v: SrtOptionValue = value;
    if (name === 'transtype' && typeof value === 'string') v = value === 'file' ? 1 : 0;
    try {
      native.setOption(this.#id, name, v);
    } catch (e) {
      wrapNative(e);
    }
  }

  getOption(name: string): SrtOptionValue {
    try {
      return native.getOption(this.#id, name);
    } catch (e) {
      wrapNative(e);
    }
  }

  /**
   * Binds to host:port. `reusePort`: SO_REUSEPORT (several listeners on one port); `guard`: the
   * kernel handshake guard (native/guard.cc) that drops handshakes libsrt 1.5.1 crashes on.
   */
  bind(host: string, port: number, opts: { reusePort?: boolean; guard?: boolean } = {}): void {
    checkPort(port, 'port');
    try {
      this.#udpSocket = udpSocketInfo(native.bind(this.#id, host, port, opts.reusePort === true, opts.guard === true));
    } catch (e) {
      wrapNative(e);
    }
  }

  /**
   * The UDP socket this SRT socket bound itself (`reusePort`, `guard`, a guarded connect);
   * undefined when libsrt chose the UDP socket.
   */
  get udpSocket(): UdpSocketInfo | undefined {
    return this.#udpSocket;
  }

  /** Connects as caller; resolves when connected, rejects with SrtRejectedError (reason) on failure. */
  /**
   * Connects as a caller. `guard`: first bind an own local UDP socket (any address, a free port)
   * with the handshake guard, so a hostile listener cannot crash this process with its answer.
   */
  async connect(host: string, port: number, opts: { guard?: boolean } = {}): Promise<void> {
    checkPort(port, 'port');
    const addr = await resolveHost(host);
    if (opts.guard === true) {
      try {
        this.#udpSocket = udpSocketInfo(native.bind(this.#id, isIP(addr) === 6 ? '::' : '0.0.0.0', 0, false, true));
      } catch (e) {
        wrapNative(e);
      }
    }
    return this.#startConnect(() => native.connect(this.#id, addr, port), `connect to ${host}:${port}`);
  }

  /** Rendezvous connect: both sides call this with each other's address. */
  async rendezvous(localHost: string, localPort: number, host: string, port: number): Promise<void> {
    checkPort(localPort, 'local port');
    checkPort(port, 'port');
    const addr = await resolveHost(host);
    return this.#startConnect(
      () => native.rendezvous(this.#id, localHost === '' ? '0.0.0.0' : localHost, localPort, addr, port),
      `rendezvous with ${host}:${port}`,
    );
  }

  #startConnect(start: () => void, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#connectWait = { resolve, reject };
      this.#watch(EV_OUT | EV_ERR);
      try {
        start();
      } catch (e) {
        this.#connectWait = undefined;
        try {
          wrapNative(e);
        } catch (w) {
          reject(w as Error);
        }
        return;
      }
      // Connection errors surface as ERR events; a completed connection as OUT.
      void what;
    }).catch((e: unknown) => {
      throw e instanceof SrtRejectedError ? new SrtRejectedError(e.reason, what) : e;
    });
  }

  /** Installs handlers; readiness events start flowing. */
  on(handlers: SrtSocketHandlers): this {
    this.#handlers = { ...this.#handlers, ...handlers };
    if (this.#connectWait === undefined && !this.#closed) this.#watch(EV_IN | EV_ERR | (handlers.writable ? EV_OUT : 0));
    return this;
  }

  #watch(flags: number): void {
    if (this.#closed) return;
    if (this.#token < 0) this.#token = registerHandler((f) => this.#onEvent(f), () => ({ socket: this.#id, ...this.context }));
    native.watch(this.#id, flags, this.#token);
  }

  #onEvent(flags: number): void {
    const wait = this.#connectWait;
    if (wait !== undefined) {
      const state = native.state(this.#id);
      if (state === SocketState.CONNECTED) {
        this.#connectWait = undefined;
        this.#watch(EV_IN | EV_ERR | (this.#handlers.writable ? EV_OUT : 0));
        wait.resolve();
        // Edge-triggered: data may already be waiting.
        this.#handlers.readable?.();
      } else if ((flags & EV_ERR) !== 0 || state >= SocketState.BROKEN) {
        this.#connectWait = undefined;
        const reason = native.rejectReason(this.#id);
        this.close();
        wait.reject(new SrtRejectedError(reason));
      }
      return;
    }
    if ((flags & EV_IN) !== 0) this.#handlers.readable?.();
    if ((flags & EV_OUT) !== 0) this.#handlers.writable?.();
    if ((flags & EV_ERR) !== 0 || native.state(this.#id) >= SocketState.BROKEN) this.#broken();
  }

  #broken(): void {
    if (this.#closed) return;
    const closed = this.#handlers.closed;
    this.close();
    closed?.();
  }

  /** Receives one message into buf. Returns bytes, 0 when nothing is waiting; on a broken connection closes and returns -1. */
  recv(buf: Uint8Array): number {
    const n = native.recv(this.#id, buf);
    if (n < 0) this.#broken();
    return n;
  }

  /** Sends buf[0..length). Returns bytes, 0 when the send buffer is full, -1 (and closes) when broken. */
  send(buf: Uint8Array, length = buf.byteLength): number {
    const n = native.send(this.#id, buf, length);
    if (n < 0) this.#broken();
    return n;
  }

  /** Batch receive into ring slots; see native/srt_native.h. Returns the count; -1 - count when broken (not closed here). */
  recvSlots(slots: Uint8Array, slotSize: number, slotCount: number, first: number, max: number): number {
    return native.recvSlots(this.#id, slots, slotSize, slotCount, first, max);
  }

  /** Batch send from ring slots; returns the count sent; -1 - count when broken (not closed here). */
  sendSlots(slots: Uint8Array, slotSize: number, slotCount: number, first: number, count: number, srcTime = false): number {
    return native.sendSlots(this.#id, slots, slotSize, slotCount, first, count, srcTime);
  }

  state(): number {
    return native.state(this.#id);
  }

  rejectReason(): number {
    return native.rejectReason(this.#id);
  }

  stats(clear = false): SrtStats | undefined {
    if (!native.stats(this.#id, clear, statBuffer)) return undefined;
    const out: Record<string, number> = {};
    for (let i = 0; i < STAT_FIELDS.length; i++) out[STAT_FIELDS[i]!] = statBuffer[i]!;
    return out as SrtStats;
  }

  localAddress(): { host: string; port: number } {
    try {
      const [host, port] = native.localAddress(this.#id);
      return { host, port };
    } catch (e) {
      wrapNative(e);
    }
  }

  peerAddress(): { host: string; port: number } | undefined {
    try {
      const [host, port] = native.peerAddress(this.#id);
      return { host, port };
    } catch {
      return undefined;
    }
  }

  /** Closes the socket. Idempotent. Does not call the closed handler. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    native.close(this.#id);
    if (this.#token >= 0) unregisterHandler(this.#token);
    this.#token = -1;
    const wait = this.#connectWait;
    this.#connectWait = undefined;
    wait?.reject(new SrtRelayError('ERR_SRT_NATIVE', 'socket closed while connecting'));
  }
}

export interface AcceptedConnection {
  socket: SrtSocket;
  host: string;
  port: number;
  streamid: string;
  /** Gate decision: 0 unknown (no gate), 1 publish, 2 play. */
  mode: number;
  /** Stream name the gate resolved from the streamid (or the port's fixed stream). */
  resource: string;
  /** The streamid named no direction; a "both" port guessed `mode` from the stream's state. */
  inferred: boolean;
  /** Accepted before the auth webhook decided (held admission): keep it off the stream until it has. */
  held: boolean;
}

export interface ListenOptions {
  backlog?: number;
  /** Own UDP socket with SO_REUSEPORT, so several listeners on one port get their own libsrt threads. */
  reusePort?: boolean;
}

export class SrtListener {
  #socket: SrtSocket;
  #onConnection: ((c: AcceptedConnection) => void) | undefined;
  #token: number;
  #closed = false;
  #acceptError: Error | undefined;

  private constructor(socket: SrtSocket) {
    this.#socket = socket;
    this.#token = registerHandler(() => this.#acceptAll(), () => ({ listener: this.#socket.id }));
  }

  /** Set when srt_accept failed on this listener: it accepts nobody any more (see #acceptAll). */
  get acceptError(): Error | undefined {
    return this.#acceptError;
  }

  /** Binds and listens. Options are applied to the listener and inherited by accepted sockets. */
  static create(
    host: string,
    port: number,
    options: Readonly<Record<string, SrtOptionValue>> = {},
    listen: ListenOptions = {},
  ): SrtListener {
    const socket = SrtSocket.create(options);
    try {
      // Every listener gets the handshake guard: its port faces the internet.
      socket.bind(host, port, { reusePort: listen.reusePort === true, guard: true });
    } catch (e) {
      socket.close();
      throw e;
    }
    return new SrtListener(socket);
  }

  get id(): number {
    return this.#socket.id;
  }

  get port(): number {
    return this.#socket.localAddress().port;
  }

  /** The listener's own UDP socket (see SrtSocket.udpSocket). */
  get udpSocket(): UdpSocketInfo | undefined {
    return this.#socket.udpSocket;
  }

  /** Sends every handshake through a gate (see src/srt/gate.ts) before listen(). */
  attachGate(
    gate: Gate | number,
    direction: number,
    fixedResource = '',
    sidPolicy: 'ignore' | 'wildcard' | 'refuse' = 'ignore',
    dialects: GateDialects = {},
  ): void {
    const policy = sidPolicy === 'wildcard' ? 1 : sidPolicy === 'refuse' ? 2 : 0;
    try {
      native.gateAttach(
        typeof gate === 'number' ? gate : gate.id,
        this.#socket.id,
        direction,
        fixedResource,
        policy,
        nativeDomains(dialects.domains),
        dialects.streamIdless?.default ?? '',
        nativeAddressMap(dialects.streamIdless?.byAddress),
        MODE_OF_DOMAIN[dialects.streamIdless?.direction ?? 'both'],
      );
    } catch (e) {
      wrapNative(e);
    }
  }

  listen(onConnection: (c: AcceptedConnection) => void, backlog = 128): void {
    this.#onConnection = onConnection;
    try {
      native.listen(this.#socket.id, backlog);
    } catch (e) {
      wrapNative(e);
    }
    native.watch(this.#socket.id, EV_IN | EV_ERR, this.#token);
  }

  /**
   * Accepts everything libsrt has queued. The listener is edge-triggered: it is not woken again
   * for connections already queued, so this loop drains the queue whatever a connection's
   * handler does (an exception is reported with the listener and socket, and that socket closed
   * unless the handler took it).
   */
  #acceptAll(): void {
    for (;;) {
      if (this.#closed) return;
      let r: AcceptResult | null;
      try {
        r = native.accept(this.#socket.id);
      } catch (err) {
        // The listener itself is broken (libsrt closed it): nothing more will be accepted here.
        this.#acceptError = err instanceof Error ? err : new Error(String(err));
        reportHandlerError(err, { listener: this.#socket.id, what: 'srt_accept failed; the listener accepts no more callers' });
        return;
      }
      if (r === null) return;
      const [id, host, port, streamid, mode, resource, inferred, held] = r;
      const socket = SrtSocket.fromAccepted(id);
      if (this.#onConnection === undefined) {
        socket.close();
        continue;
      }
      try {
        this.#onConnection({ socket, host, port, streamid, mode, resource, inferred, held });
      } catch (err) {
        reportHandlerError(err, { listener: this.#socket.id, socket: id, peer: `${host}:${port}`, streamid });
        // Still ours (not handed to a worker): close it rather than leave the caller hanging.
        if (!socket.isClosed) socket.close();
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    unregisterHandler(this.#token);
    this.#socket.close();
  }
}
