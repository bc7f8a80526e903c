/**
 * A bonding SRTLA sender for tests, written from the protocol facts (docs/srtla.md), in the role
 * of BELABOX's srtla_send: a real SRT caller (srt-live-transmit, ffmpeg, a binding socket)
 * connects to `port` on 127.0.0.1; the sender registers a group with the receiver over its
 * links and spreads the caller's datagrams over them; whatever the receiver sends on any link
 * goes back to the caller.
 *
 * Links: each binds its own local address (127.0.0.1, 127.0.0.2, … all work on Linux loopback)
 * and sends to the receiver either directly or through an in-process ImpairedLink (own loss and
 * delay). Registration: link 0 sends REG1 (repeated until REG2), then every link sends REG2 +
 * the full id (repeated until REG3); REG_NGP restarts with REG1. Keepalives every
 * `keepaliveMs` on every link; a link from which nothing (echo, SRTLA ACK, SRT) came for
 * `deadAfterMs` gets no new packets until it is heard again, as a real sender stops using a modem
 * that lost coverage. Scheduling: the live link with the fewest packets in flight (sent and not
 * yet acknowledged by an SRTLA ACK of that link or by a cumulative SRT ACK).
 *
 * Test helper only: it allocates freely.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import {
  buildReg,
  classify,
  Kind,
  newSenderId,
  parseAck,
  regId,
  sameSenderHalf,
  srtDataSeq,
  SRTLA_TYPE_KEEPALIVE,
  SRTLA_TYPE_REG1,
  SRTLA_TYPE_REG2,
} from '../../src/srtla/protocol.js';
import { ImpairedLink, type Impairment } from './impair-proxy.js';

export interface SrtlaLinkSpec {
  /** Local address the link binds (default 127.0.0.1). */
  bind?: string;
  /** Through an impairment proxy with this loss/delay (default: straight to the receiver). */
  impairment?: Impairment;
  /** Seed of the proxy's loss PRNG. */
  seed?: number;
  /** The proxy forwards from the link's own address (`bind`), so the receiver sees that host (ImpairedLink keepAddress). */
  keepAddress?: boolean;
}

export interface SenderLinkState {
  index: number;
  bind: string;
  localPort: number;
  registered: boolean;
  alive: boolean;
  closed: boolean;
  /** SRT packets sent on this link. */
  sent: number;
  /** SRTLA ACKs received on this link. */
  srtlaAcks: number;
  /** Keepalive echoes received. */
  keepaliveEchoes: number;
  /** SRT packets received from the receiver on this link. */
  srtReceived: number;
  /** REG_ERR / REG_NGP / REG_NAK answers received. */
  refusals: { err: number; ngp: number; nak: number };
  inFlight: number;
}

const REG_RETRY_MS = 250;

class Link {
  readonly index: number;
  readonly bind: string;
  readonly socket: Socket;
  readonly proxy: ImpairedLink | undefined;
  readonly target: { host: string; port: number };
  registered = false;
  closed = false;
  lastHeard = 0;
  lastRegAt = 0;
  lastKeepaliveAt = 0;
  sent = 0;
  srtlaAcks = 0;
  keepaliveEchoes = 0;
  srtReceived = 0;
  readonly refusals = { err: 0, ngp: 0, nak: 0 };
  readonly inFlight = new Set<number>();

  constructor(index: number, bind: string, socket: Socket, proxy: ImpairedLink | undefined, target: { host: string; port: number }) {
    this.index = index;
    this.bind = bind;
    this.socket = socket;
    this.proxy = proxy;
    this.target = target;
  }

  send(b: Uint8Array): void {
    if (!this.closed) this.socket.send(b, this.target.port, this.target.host);
  }
}

/** a < b in SRT's 31-bit sequence space. */
function seqLess(a: number, b: number): boolean {
  const d = (b - a) & 0x7fffffff;
  return d !== 0 && d < 0x40000000;
}

export class SrtlaSender {
  readonly #receiver: { host: string; port: number };
  readonly #local: Socket;
  readonly #links: Link[] = [];
  readonly #senderId = newSenderId();
  #groupId: Buffer | undefined;
  #caller: { address: string; port: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #keepaliveMs: number;
  readonly #deadAfterMs: number;
  #lastReg = 0;
  /** Journal number of the last SRT ACK passed to the caller (the receiver sends each on every link). */
  #lastAckJournal = -1;
  /** SRT datagrams from the caller that no live link could take. */
  unsent = 0;
  /** REG2 answers to our REG1 (groups registered). */
  groupsRegistered = 0;

  private constructor(receiver: { host: string; port: number }, local: Socket, keepaliveMs: number, deadAfterMs: number) {
    this.#receiver = receiver;
    this.#local = local;
    this.#keepaliveMs = keepaliveMs;
    this.#deadAfterMs = deadAfterMs;
    local.on('message', (msg, rinfo) => this.#fromCaller(msg, rinfo));
    local.on('error', () => undefined);
  }

  /** Opens the local SRT port and the links; registration starts at once (see `registered()`). */
  static async start(opts: { receiver: { host: string; port: number }; links: SrtlaLinkSpec[]; keepaliveMs?: number; deadAfterMs?: number }): Promise<SrtlaSender> {
    const local = createSocket('udp4');
    await new Promise<void>((resolve) => local.bind(0, '127.0.0.1', () => resolve()));
    const s = new SrtlaSender(opts.receiver, local, opts.keepaliveMs ?? 200, opts.deadAfterMs ?? 1000);
    for (const spec of opts.links) await s.addLink(spec);
    s.#timer = setInterval(() => s.#tick(), 50);
    s.#tick();
    return s;
  }

  /** Where the SRT caller connects (127.0.0.1). */
  get port(): number {
    return this.#local.address().port;
  }

  /** The full group id (after REG2). */
  get groupId(): Buffer | undefined {
    return this.#groupId;
  }

  /** Adds a link (registers it as soon as the group exists); returns its index. */
  async addLink(spec: SrtlaLinkSpec): Promise<number> {
    const bind = spec.bind ?? '127.0.0.1';
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, bind, () => resolve()));
    let target = this.#receiver;
    let proxy: ImpairedLink | undefined;
    if (spec.impairment !== undefined) {
      proxy = await ImpairedLink.open(this.#receiver, spec.impairment, spec.seed ?? this.#links.length + 1, { keepAddress: spec.keepAddress === true });
      target = { host: '127.0.0.1', port: proxy.port };
    }
    const link = new Link(this.#links.length, bind, socket, proxy, target);
    socket.on('message', (msg, rinfo) => this.#fromReceiver(link, msg, rinfo));
    socket.on('error', () => undefined);
    this.#links.push(link);
    this.#tick();
    return link.index;
  }

  /** The impairment proxy of link `i` (to cut it with an outage, or change loss). */
  proxyOf(i: number): ImpairedLink | undefined {
    return this.#links[i]?.proxy;
  }

  /** Closes link `i` at the sender (its modem is gone): nothing more is sent or received on it. */
  closeLink(i: number): void {
    const l = this.#links[i];
    if (l === undefined || l.closed) return;
    l.closed = true;
    l.registered = false;
    l.socket.close();
    l.proxy?.close();
  }

  /** Sends raw bytes on link `i` (hostile-input tests: a registered link misbehaving). */
  sendRaw(i: number, b: Uint8Array): void {
    this.#links[i]?.send(b);
  }

  linkStates(): SenderLinkState[] {
    const now = Date.now();
    return this.#links.map((l) => ({
      index: l.index,
      bind: l.bind,
      localPort: l.closed ? 0 : l.socket.address().port,
      registered: l.registered,
      alive: this.#alive(l, now),
      closed: l.closed,
      sent: l.sent,
      srtlaAcks: l.srtlaAcks,
      keepaliveEchoes: l.keepaliveEchoes,
      srtReceived: l.srtReceived,
      refusals: { ...l.refusals },
      inFlight: l.inFlight.size,
    }));
  }

  /** Number of links that got REG3 and are not closed. */
  registeredLinks(): number {
    return this.#links.filter((l) => l.registered && !l.closed).length;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#local.close();
    for (const l of this.#links) {
      if (!l.closed) {
        l.closed = true;
        l.socket.close();
      }
      l.proxy?.close();
    }
  }

  #alive(l: Link, now: number): boolean {
    return l.registered && !l.closed && now - l.lastHeard <= this.#deadAfterMs;
  }

  #tick(): void {
    if (this.#closed) return;
    const now = Date.now();
    const first = this.#links.find((l) => !l.closed);
    if (this.#groupId === undefined) {
      if (first !== undefined && now - this.#lastReg >= REG_RETRY_MS) {
        this.#lastReg = now;
        first.send(buildReg(SRTLA_TYPE_REG1, this.#senderId));
      }
      return;
    }
    const reg2 = buildReg(SRTLA_TYPE_REG2, this.#groupId);
    const keepalive = Buffer.from([SRTLA_TYPE_KEEPALIVE >> 8, SRTLA_TYPE_KEEPALIVE & 0xff]);
    for (const l of this.#links) {
      if (l.closed) continue;
      if (!l.registered) {
        if (now - l.lastRegAt >= REG_RETRY_MS) {
          l.lastRegAt = now;
          l.send(reg2);
        }
      } else if (now - l.lastKeepaliveAt >= this.#keepaliveMs) {
        l.lastKeepaliveAt = now;
        l.send(keepalive);
      }
    }
  }

  #fromCaller(msg: Buffer, rinfo: RemoteInfo): void {
    this.#caller = { address: rinfo.address, port: rinfo.port };
    const now = Date.now();
    let best: Link | undefined;
    for (const l of this.#links) {
      if (!this.#alive(l, now)) continue;
      if (best === undefined || l.inFlight.size < best.inFlight.size) best = l;
    }
    if (best === undefined) {
      this.unsent++;
      return;
    }
    if (classify(msg) === Kind.SrtData) best.inFlight.add(srtDataSeq(msg));
    best.sent++;
    best.send(msg);
  }

  #fromReceiver(link: Link, msg: Buffer, _rinfo: RemoteInfo): void {
    if (this.#closed || link.closed) return;
    const kind = classify(msg);
    switch (kind) {
      case Kind.Reg2: {
        if (this.#groupId === undefined && sameSenderHalf(regId(msg), this.#senderId)) {
          this.#groupId = Buffer.from(regId(msg));
          this.groupsRegistered++;
          this.#tick();
        }
        return;
      }
      case Kind.Reg3:
        if (!link.registered) {
          link.registered = true;
          link.lastHeard = Date.now();
        }
        return;
      case Kind.RegErr:
        link.refusals.err++;
        return;
      case Kind.RegNak:
        link.refusals.nak++;
        return;
      case Kind.RegNgp:
        // The receiver forgot the group: register again.
        link.refusals.ngp++;
        this.#groupId = undefined;
        for (const l of this.#links) l.registered = false;
        return;
      default:
        break;
    }
    if (!link.registered) return;
    link.lastHeard = Date.now();
    if (kind === Kind.Keepalive) {
      link.keepaliveEchoes++;
      return;
    }
    if (kind === Kind.Ack) {
      link.srtlaAcks++;
      for (const seq of parseAck(msg)) link.inFlight.delete(seq);
      return;
    }
    if (kind === Kind.SrtControl || kind === Kind.SrtData) {
      link.srtReceived++;
      if (kind === Kind.SrtControl && msg[1] === 0x02 && msg.length >= 20) {
        // SRT ACK: everything before the acknowledged sequence number arrived.
        const ackSeq = msg.readUInt32BE(16) & 0x7fffffff;
        for (const l of this.#links) for (const s of l.inFlight) if (seqLess(s, ackSeq)) l.inFlight.delete(s);
        const journal = msg.readUInt32BE(4);
        if (journal !== 0 && journal === this.#lastAckJournal) return; // the same ACK from another link
        this.#lastAckJournal = journal;
      }
      if (this.#caller !== undefined) this.#local.send(msg, this.#caller.port, this.#caller.address);
    }
  }
}
