/**
 * One SRTLA group: the bonded uplinks ("links") of one sender, and the one UDP socket that
 * carries the group's SRT connection to the relay's SRT listener.
 *
 * Towards the relay every SRT packet of any link goes out of the group socket unchanged, so the
 * relay sees one ordinary SRT caller (on 127.0.0.1 or wherever the listener is). Towards the
 * sender the relay's SRT ACKs go out on every link (each link's sender-side window learns from
 * them) and every other SRT packet on the link an SRT packet was most recently received from.
 *
 * Nothing here allocates per packet: links count in place, SRTLA ACKs are written into a small
 * ring of buffers made when the link registers. node:dgram itself allocates a Buffer per received
 * datagram and a request object per send; that cost is measured in bench/srtla.ts.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from '../logging.js';
import { newAckBuffer, putAckSeq, SRTLA_ACK_SEQS } from './protocol.js';

/** Per-link counters as shown to operators. */
export interface SrtlaLinkStats {
  /** The link's slot in its group (0..maxLinksPerGroup-1, the lowest free one when it registered): the bounded `link` label in /metrics. */
  slot: number;
  address: string;
  port: number;
  /** SRT packets (data and control) received on this link. */
  packets: number;
  bytes: number;
  /** This link's fraction (0..1) of the group's received SRT packets. */
  share: number;
  /** SRTLA ACKs sent on this link. */
  srtlaAcks: number;
  /** Epoch ms of the last datagram of any kind from this link. */
  lastHeard: number;
  /** Epoch ms of its REG3. */
  registeredAt: number;
}

export interface SrtlaGroupStats {
  /** A small number naming the group in logs and stats (not the secret 256-byte id). */
  id: number;
  /** The real address of the group's first link (what limits and the webhook should see). */
  peer: { address: string; port: number };
  /** Local address of the socket that carries the group's SRT connection to the relay. */
  local: { address: string; port: number } | undefined;
  /** The relay session of the group's SRT connection, once the relay accepted it. */
  session: number | undefined;
  stream: string | undefined;
  createdAt: number;
  /** SRT packets and bytes forwarded sender → relay and relay → sender. */
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  links: SrtlaLinkStats[];
}

/** Number of ACK buffers per link: a buffer is rewritten only 3 ACKs (30 packets) after it was handed to send(). */
const ACK_RING = 4;

export class SrtlaLink {
  readonly address: string;
  readonly port: number;
  readonly key: number | string;
  readonly group: SrtlaGroup;
  readonly slot: number;
  readonly registeredAt = Date.now();
  packets = 0;
  bytes = 0;
  srtlaAcks = 0;
  lastHeard = Date.now();
  readonly #acks: Buffer[] = [];
  #ackIndex = 0;
  #ackFill = 0;

  constructor(group: SrtlaGroup, address: string, port: number, key: number | string) {
    this.group = group;
    this.address = address;
    this.port = port;
    this.key = key;
    this.slot = group.freeSlot();
    for (let i = 0; i < ACK_RING; i++) this.#acks.push(newAckBuffer());
  }

  /**
   * Records an SRT data packet's sequence number; every 10th returns the filled SRTLA ACK to
   * send on this link (a buffer of the ring, valid until 3 more ACKs were made), else undefined.
   */
  recordData(seq: number): Buffer | undefined {
    const ack = this.#acks[this.#ackIndex]!;
    putAckSeq(ack, this.#ackFill, seq);
    if (++this.#ackFill < SRTLA_ACK_SEQS) return undefined;
    this.#ackFill = 0;
    this.#ackIndex = (this.#ackIndex + 1) % ACK_RING;
    this.srtlaAcks++;
    return ack;
  }

  /** The group's logger (with stream and session once known) and this link's address. */
  get log(): Logger {
    return this.group.log.child({ link: `${this.address}:${this.port}`, slot: this.slot });
  }

  stats(groupPackets: number): SrtlaLinkStats {
    return {
      slot: this.slot,
      address: this.address,
      port: this.port,
      packets: this.packets,
      bytes: this.bytes,
      share: groupPackets === 0 ? 0 : this.packets / groupPackets,
      srtlaAcks: this.srtlaAcks,
      lastHeard: this.lastHeard,
      registeredAt: this.registeredAt,
    };
  }
}

export class SrtlaGroup {
  readonly number: number;
  /** The full 256-byte id (a copy). */
  readonly id: Buffer;
  /** Hex of `id`, the key of the group table. */
  readonly idKey: string;
  /** Address and key of the REG1 that created the group. */
  readonly creator: { address: string; port: number; key: number | string };
  readonly createdAt = Date.now();
  #log: Logger;
  readonly #baseLog: Logger;
  readonly links: SrtlaLink[] = [];
  /** The relay session (and stream) of the group's SRT connection (set by the relay when it accepts it). */
  session: number | undefined;
  stream: string | undefined;
  /** The link an SRT packet was last received from (non-ACK answers go there). */
  lastLink: SrtlaLink | undefined;
  /** Epoch ms since when the group has had no link (its creation, or the last link's removal). */
  emptySince: number = Date.now();
  /** First link ever registered (its address is the group's peer); kept after it leaves. */
  firstLinkAddress: { address: string; port: number } | undefined;
  packetsIn = 0;
  bytesIn = 0;
  packetsOut = 0;
  bytesOut = 0;
  readonly #socket: Socket;
  readonly #out: Socket;
  #local: { address: string; port: number } | undefined;
  #closed = false;

  /**
   * @param out the server's SRTLA socket (answers to the sender leave from it)
   * @param target the relay's SRT listener
   */
  constructor(
    number: number,
    id: Buffer,
    creator: { address: string; port: number; key: number | string },
    out: Socket,
    target: { host: string; port: number },
    log: Logger,
    recvBufferSize: number,
  ) {
    this.number = number;
    this.id = Buffer.from(id);
    this.idKey = this.id.toString('hex');
    this.creator = creator;
    this.#out = out;
    this.#baseLog = log.child({ srtlaGroup: number, peer: `${creator.address}:${creator.port}` });
    this.#log = this.#baseLog;
    const family = target.host.includes(':') ? 'udp6' : 'udp4';
    this.#socket = createSocket({ type: family, recvBufferSize, sendBufferSize: recvBufferSize });
    this.#socket.on('error', (err) => this.log.warn({ err }, 'srtla group socket error'));
    this.#socket.on('message', (msg) => this.#fromRelay(msg));
    this.#socket.connect(target.port, target.host, () => {
      if (this.#closed) return;
      const a = this.#socket.address();
      this.#local = { address: a.address, port: a.port };
      this.log.debug({ local: `${a.address}:${a.port}` }, 'srtla group connected to the SRT listener');
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get log(): Logger {
    return this.#log;
  }

  /** The relay accepted the group's SRT connection as `session` of `stream`: later log lines carry both. */
  bindSession(session: number, stream: string): void {
    this.session = session;
    this.stream = stream;
    this.#log = this.#baseLog.child({ stream, session });
  }

  /** The lowest slot number no link of the group holds. */
  freeSlot(): number {
    let slot = 0;
    while (this.links.some((l) => l.slot === slot)) slot++;
    return slot;
  }

  /** Local address of the group socket, once connected. */
  get local(): { address: string; port: number } | undefined {
    return this.#local;
  }

  /** The real address the group stands for: its first link, else the REG1 sender. */
  get peer(): { address: string; port: number } {
    return this.firstLinkAddress ?? { address: this.creator.address, port: this.creator.port };
  }

  addLink(link: SrtlaLink): void {
    this.links.push(link);
    this.firstLinkAddress ??= { address: link.address, port: link.port };
  }

  removeLink(link: SrtlaLink): void {
    const i = this.links.indexOf(link);
    if (i < 0) return;
    this.links.splice(i, 1);
    if (this.lastLink === link) this.lastLink = this.links[this.links.length - 1];
    if (this.links.length === 0) this.emptySince = Date.now();
  }

  /** An SRT packet from `link`: straight to the relay. */
  toRelay(link: SrtlaLink, msg: Buffer): void {
    this.lastLink = link;
    this.packetsIn++;
    this.bytesIn += msg.length;
    if (!this.#closed) this.#socket.send(msg);
  }

  #fromRelay(msg: Buffer): void {
    if (this.#closed || this.links.length === 0) return;
    this.packetsOut++;
    this.bytesOut += msg.length;
    // An SRT ACK (control type 2) goes out on every link, everything else on the latest.
    if (msg.length >= 16 && msg[0] === 0x80 && msg[1] === 0x02) {
      for (const l of this.links) this.#out.send(msg, l.port, l.address);
      return;
    }
    const l = this.lastLink ?? this.links[0]!;
    this.#out.send(msg, l.port, l.address);
  }

  stats(): SrtlaGroupStats {
    return {
      id: this.number,
      peer: this.peer,
      local: this.#local,
      session: this.session,
      stream: this.stream,
      createdAt: this.createdAt,
      packetsIn: this.packetsIn,
      bytesIn: this.bytesIn,
      packetsOut: this.packetsOut,
      bytesOut: this.bytesOut,
      links: this.links.map((l) => l.stats(this.packetsIn)),
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#socket.close();
    } catch {
      // already closed
    }
  }
}
