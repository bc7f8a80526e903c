/**
 * SrtlaServer: the SRTLA receiver. It owns one UDP port where bonding senders (BELABOX
 * srtla_send, Moblin, IRL Pro) register groups of links and send the SRT packets of one SRT
 * connection spread over them; each group becomes one ordinary SRT caller of the relay's SRT
 * listener (`target`), so stream ids, passphrases, the webhook, limits, takeover and failover
 * apply unchanged. `peerOf(local)` maps that caller's local address back to the sender's real
 * address.
 *
 * Registration (see protocol.ts for the bytes):
 *   REG1 from an address that is in no group → a new group, answered REG2 + the full id;
 *     the same REG1 again from its creator (its REG2 was lost) → the same REG2 again;
 *     from an address already in a group, or with `maxGroups` groups → REG_ERR.
 *   REG2 + id: unknown id → REG_NGP; an address that is a link of another group (or created
 *     another group) → REG_NAK; `maxLinksPerGroup` links already → REG_ERR; else the address
 *     becomes a link (again: REG3 is repeated) → REG3.
 * Anything from an address that is not a link is dropped without an answer (no reflection), as
 * are malformed SRTLA messages. A link's keepalives are echoed on it. Links silent for
 * `linkTimeoutMs` are removed; a group without links for `groupTimeoutMs` is closed.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { ConfigInvalidError } from '../errors.js';
import { silentLogger, type Logger } from '../logging.js';
import type { PortClaim, PortRegistry } from '../srt/port-registry.js';
import { SrtlaGroup, SrtlaLink, type SrtlaGroupStats } from './group.js';
import {
  buildReg,
  buildShort,
  classify,
  completeId,
  Kind,
  regId,
  sameSenderHalf,
  srtDataSeq,
  SRTLA_TYPE_REG2,
  SRTLA_TYPE_REG3,
  SRTLA_TYPE_REG_ERR,
  SRTLA_TYPE_REG_NAK,
  SRTLA_TYPE_REG_NGP,
} from './protocol.js';

export interface SrtlaServerOptions {
  /** UDP port of the SRTLA receiver (0: any free port, see `address()`). */
  port: number;
  /** Address to bind (default 0.0.0.0; an IPv6 address binds an IPv6 socket). */
  host?: string;
  /** The relay's SRT listener every group connects to. */
  target: { host: string; port: number };
  /** Most groups at once (default 64); a REG1 beyond is answered REG_ERR. */
  maxGroups?: number;
  /** Most links per group (default 16); a REG2 beyond is answered REG_ERR. */
  maxLinksPerGroup?: number;
  /** A link silent this long is removed (default 10 000 ms). */
  linkTimeoutMs?: number;
  /** A group without links this long is closed (default 10 000 ms). */
  groupTimeoutMs?: number;
  /** Kernel receive/send buffer of every socket, bytes (default 4 MiB; the kernel may clamp it to rmem_max). */
  socketBufferBytes?: number;
  logger?: Logger;
  /** The node's UDP ports (Relay.ports): the receiver claims its port there before it binds. */
  ports?: PortRegistry;
  /**
   * Asked before a REG1 from `address` creates a group (the relay's per-host limits on the
   * sender's real address): a reason refuses it with REG_ERR, undefined lets it in.
   */
  admitGroup?: (address: string) => string | undefined;
}

/** Counters of what the server refused or ignored (hostile or broken input). */
export interface SrtlaCounters {
  /** Datagrams from addresses that are not links (other than REG1/REG2). */
  unknownSource: number;
  /** Malformed SRTLA messages and runts. */
  malformed: number;
  regErr: number;
  regNgp: number;
  regNak: number;
  groupsCreated: number;
  groupsClosed: number;
  linksAdded: number;
  linksRemoved: number;
}

const DEFAULTS = { maxGroups: 64, maxLinksPerGroup: 16, linkTimeoutMs: 10_000, groupTimeoutMs: 10_000, socketBufferBytes: 4 << 20 };

function positiveInt(v: unknown, path: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new ConfigInvalidError(`${path} must be a positive integer, got ${JSON.stringify(v)}`, path);
  }
  return v;
}

/** `a.b.c.d` + port as one number (no allocation); -1 when `address` is not dotted-quad IPv4. */
export function ipv4Key(address: string, port: number): number {
  let ip = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return -1;
      ip = ip * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0 || part > 255) return -1;
  return (ip * 256 + part) * 65536 + port;
}

function addrKey(address: string, port: number): number | string {
  const k = ipv4Key(address, port);
  return k >= 0 ? k : `[${address}]:${port}`;
}

export class SrtlaServer {
  readonly #opts: Required<Omit<SrtlaServerOptions, 'logger' | 'ports' | 'admitGroup'>>;
  readonly #admitGroup: ((address: string) => string | undefined) | undefined;
  readonly #log: Logger;
  readonly #socket: Socket;
  /** Links by source address key. */
  readonly #links = new Map<number | string, SrtlaLink>();
  /** Groups by hex id. */
  readonly #groups = new Map<string, SrtlaGroup>();
  /** Groups by the address key of the REG1 that created them. */
  readonly #creators = new Map<number | string, SrtlaGroup>();
  #nextGroup = 1;
  #sweep: NodeJS.Timeout | undefined;
  #started = false;
  #closed = false;
  readonly #ports: PortRegistry | undefined;
  #claim: PortClaim | undefined;
  readonly #reg3 = buildShort(SRTLA_TYPE_REG3);
  readonly #regErr = buildShort(SRTLA_TYPE_REG_ERR);
  readonly #regNgp = buildShort(SRTLA_TYPE_REG_NGP);
  readonly #regNak = buildShort(SRTLA_TYPE_REG_NAK);
  readonly counters: SrtlaCounters = {
    unknownSource: 0,
    malformed: 0,
    regErr: 0,
    regNgp: 0,
    regNak: 0,
    groupsCreated: 0,
    groupsClosed: 0,
    linksAdded: 0,
    linksRemoved: 0,
  };

  constructor(options: SrtlaServerOptions) {
    const port = options.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigInvalidError(`srtla.port must be an integer 0..65535, got ${JSON.stringify(port)}`, 'srtla.port');
    }
    const t = options.target;
    if (t === undefined || typeof t.host !== 'string' || !Number.isInteger(t.port) || t.port <= 0 || t.port > 65535) {
      throw new ConfigInvalidError('srtla target must be the relay SRT listener {host, port 1..65535}', 'srtla.target');
    }
    this.#opts = {
      port,
      host: options.host ?? '0.0.0.0',
      target: { host: t.host, port: t.port },
      maxGroups: positiveInt(options.maxGroups, 'srtla.maxGroups', DEFAULTS.maxGroups),
      maxLinksPerGroup: positiveInt(options.maxLinksPerGroup, 'srtla.maxLinksPerGroup', DEFAULTS.maxLinksPerGroup),
      linkTimeoutMs: positiveInt(options.linkTimeoutMs, 'srtla.linkTimeoutMs', DEFAULTS.linkTimeoutMs),
      groupTimeoutMs: positiveInt(options.groupTimeoutMs, 'srtla.groupTimeoutMs', DEFAULTS.groupTimeoutMs),
      socketBufferBytes: positiveInt(options.socketBufferBytes, 'srtla.socketBufferBytes', DEFAULTS.socketBufferBytes),
    };
    this.#log = (options.logger ?? silentLogger()).child({ component: 'srtla' });
    this.#ports = options.ports;
    this.#admitGroup = options.admitGroup;
    const type = this.#opts.host.includes(':') ? 'udp6' : 'udp4';
    this.#socket = createSocket({
      type,
      recvBufferSize: this.#opts.socketBufferBytes,
      sendBufferSize: this.#opts.socketBufferBytes,
    });
    this.#socket.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo));
    this.#socket.on('error', (err) => this.#log.warn({ err }, 'srtla socket error'));
  }

  /** Binds the SRTLA port. Rejects (e.g. EADDRINUSE) without leaving anything open. */
  async start(): Promise<void> {
    if (this.#started) throw new Error('SrtlaServer.start() called twice');
    this.#started = true;
    // Throws ERR_PORT_IN_USE naming the holder when the node already uses the port.
    this.#claim = this.#ports?.claim(this.#opts.host, this.#opts.port, 'the SRTLA receiver');
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        this.#closed = true;
        this.#claim?.release();
        try {
          this.#socket.close();
        } catch {
          // not bound
        }
        reject(err);
      };
      this.#socket.once('error', onError);
      this.#socket.bind(this.#opts.port, this.#opts.host, () => {
        this.#socket.off('error', onError);
        resolve();
      });
    });
    const every = Math.max(20, Math.min(1000, Math.floor(Math.min(this.#opts.linkTimeoutMs, this.#opts.groupTimeoutMs) / 4)));
    this.#sweep = setInterval(() => this.#expire(Date.now()), every);
    this.#sweep.unref();
    const a = this.#socket.address();
    this.#log.info({ port: a.port, host: a.address, target: `${this.#opts.target.host}:${this.#opts.target.port}` }, 'srtla receiver listening');
  }

  /** The bound address of the SRTLA port. */
  address(): { address: string; port: number } {
    const a = this.#socket.address();
    return { address: a.address, port: a.port };
  }

  /**
   * The real sender address behind the group socket whose local address is `local` (what the
   * relay sees as the SRT peer of a bonded connection); undefined when no group has it.
   */
  peerOf(local: { address?: string; port: number }): { address: string; port: number } | undefined {
    return this.#groupOf(local)?.peer;
  }

  /** The group whose socket to the relay has local address `local`. */
  #groupOf(local: { address?: string; port: number }): SrtlaGroup | undefined {
    for (const g of this.#groups.values()) {
      const l = g.local;
      if (l !== undefined && l.port === local.port && (local.address === undefined || local.address === l.address)) return g;
    }
    return undefined;
  }

  /**
   * The relay accepted the SRT connection from `local` as `session` of `stream`: the group's log
   * lines (links coming and going) carry both from now on. False when no group has that address.
   */
  bindSession(local: { address?: string; port: number }, session: number, stream: string): boolean {
    const g = this.#groupOf(local);
    if (g === undefined) return false;
    g.bindSession(session, stream);
    g.log.info({ links: g.links.map((l) => `${l.address}:${l.port}`) }, 'srtla group connected as a relay session');
    return true;
  }

  /** Groups standing for a sender at `address` (their first link's host, see peer) that no relay session has yet. */
  pendingGroupsOf(address: string): number {
    let n = 0;
    for (const g of this.#groups.values()) if (g.session === undefined && g.peer.address === address) n++;
    return n;
  }

  /** The SRT listener new groups call. */
  get target(): { host: string; port: number } {
    return { ...this.#opts.target };
  }

  /**
   * Sends new groups to another SRT listener (a reload removed the one they called). The groups
   * that called the old one are closed: their senders register again and reach the new one.
   * Returns how many groups were closed (0 when `target` is the current one).
   */
  retarget(target: { host: string; port: number }): number {
    const old = this.#opts.target;
    if (old.host === target.host && old.port === target.port) return 0;
    this.#opts.target = { host: target.host, port: target.port };
    const groups = [...this.#groups.values()];
    for (const g of groups) this.#closeGroup(g, `its SRT listener ${old.host}:${old.port} is gone`);
    return groups.length; // the caller (the config reloader) logs the move once
  }

  /** Every group with its links. */
  stats(): SrtlaGroupStats[] {
    return [...this.#groups.values()].map((g) => g.stats());
  }

  /** The group (and its links) whose SRT caller has local address `local`, as in peerOf. */
  groupStatsOf(local: { address?: string; port: number }): SrtlaGroupStats | undefined {
    return this.#groupOf(local)?.stats();
  }

  /** Closes the port and every group. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#claim?.release();
    clearInterval(this.#sweep);
    for (const g of [...this.#groups.values()]) this.#closeGroup(g, 'receiver closing');
    try {
      this.#socket.close();
    } catch {
      // never bound
    }
  }

  // ---- datagrams ------------------------------------------------------------------------------

  #onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.#closed) return;
    const key = addrKey(rinfo.address, rinfo.port);
    const link = this.#links.get(key);
    const kind = classify(msg);
    if (link !== undefined) {
      link.lastHeard = Date.now();
      if (kind === Kind.SrtData) {
        link.packets++;
        link.bytes += msg.length;
        link.group.toRelay(link, msg);
        const ack = link.recordData(srtDataSeq(msg));
        if (ack !== undefined) this.#socket.send(ack, link.port, link.address);
        return;
      }
      if (kind === Kind.SrtControl) {
        link.packets++;
        link.bytes += msg.length;
        link.group.toRelay(link, msg);
        return;
      }
      if (kind === Kind.Keepalive) {
        this.#socket.send(msg, link.port, link.address);
        return;
      }
    }
    switch (kind) {
      case Kind.Reg1:
        this.#onReg1(msg, rinfo, key, link);
        return;
      case Kind.Reg2:
        this.#onReg2(msg, rinfo, key, link);
        return;
      case Kind.Runt:
      case Kind.BadSrtla:
        this.counters.malformed++;
        return;
      default:
        // SRT, keepalives or answers from an address that is not a link; REG3/REG_* never come to a receiver.
        if (link === undefined) this.counters.unknownSource++;
        else this.counters.malformed++;
    }
  }

  #reply(b: Buffer, rinfo: RemoteInfo): void {
    this.#socket.send(b, rinfo.port, rinfo.address);
  }

  #refuse(which: 'regErr' | 'regNgp' | 'regNak', rinfo: RemoteInfo, why: string): void {
    this.counters[which]++;
    this.#reply(which === 'regErr' ? this.#regErr : which === 'regNgp' ? this.#regNgp : this.#regNak, rinfo);
    this.#log.debug({ peer: `${rinfo.address}:${rinfo.port}`, answer: which, why }, 'srtla registration refused');
  }

  #onReg1(msg: Buffer, rinfo: RemoteInfo, key: number | string, link: SrtlaLink | undefined): void {
    const senderId = regId(msg);
    const created = this.#creators.get(key);
    if (created !== undefined && link === undefined && sameSenderHalf(created.id, senderId)) {
      // Our REG2 was lost and the sender asks again: the same answer.
      this.#reply(buildReg(SRTLA_TYPE_REG2, created.id), rinfo);
      return;
    }
    if (link !== undefined || created !== undefined) {
      this.#refuse('regErr', rinfo, 'this address already belongs to a group');
      return;
    }
    if (this.#groups.size >= this.#opts.maxGroups) {
      this.#refuse('regErr', rinfo, `srtla.maxGroups (${this.#opts.maxGroups}) groups exist`);
      this.#log.warn({ peer: `${rinfo.address}:${rinfo.port}`, maxGroups: this.#opts.maxGroups }, 'srtla group refused: srtla.maxGroups reached; raise it to accept more bonded senders');
      return;
    }
    const refusal = this.#admitGroup?.(rinfo.address);
    if (refusal !== undefined) {
      this.#refuse('regErr', rinfo, refusal);
      this.#log.warn({ peer: `${rinfo.address}:${rinfo.port}`, why: refusal }, 'srtla group refused by the relay limits');
      return;
    }
    const id = completeId(senderId);
    const group = new SrtlaGroup(
      this.#nextGroup++,
      id,
      { address: rinfo.address, port: rinfo.port, key },
      this.#socket,
      this.#opts.target,
      this.#log,
      this.#opts.socketBufferBytes,
    );
    this.#groups.set(group.idKey, group);
    this.#creators.set(key, group);
    this.counters.groupsCreated++;
    group.log.info('srtla group created');
    this.#reply(buildReg(SRTLA_TYPE_REG2, group.id), rinfo);
  }

  #onReg2(msg: Buffer, rinfo: RemoteInfo, key: number | string, link: SrtlaLink | undefined): void {
    const group = this.#groups.get(Buffer.from(regId(msg)).toString('hex'));
    if (group === undefined) {
      this.#refuse('regNgp', rinfo, 'no group has this id');
      return;
    }
    if (link !== undefined) {
      if (link.group === group) {
        this.#reply(this.#reg3, rinfo);
        return;
      }
      this.#refuse('regNak', rinfo, `this address is a link of srtla group ${link.group.number}`);
      return;
    }
    const created = this.#creators.get(key);
    if (created !== undefined && created !== group) {
      this.#refuse('regNak', rinfo, `this address created srtla group ${created.number}`);
      return;
    }
    if (group.links.length >= this.#opts.maxLinksPerGroup) {
      this.#refuse('regErr', rinfo, `srtla.maxLinksPerGroup (${this.#opts.maxLinksPerGroup}) links in the group`);
      group.log.warn({ link: `${rinfo.address}:${rinfo.port}`, maxLinksPerGroup: this.#opts.maxLinksPerGroup }, 'srtla link refused: srtla.maxLinksPerGroup reached');
      return;
    }
    const l = new SrtlaLink(group, rinfo.address, rinfo.port, key);
    group.addLink(l);
    this.#links.set(key, l);
    this.counters.linksAdded++;
    l.log.info({ links: group.links.length }, 'srtla link registered');
    this.#reply(this.#reg3, rinfo);
  }

  // ---- timeouts -------------------------------------------------------------------------------

  #expire(now: number): void {
    for (const g of [...this.#groups.values()]) {
      for (const l of [...g.links]) {
        if (now - l.lastHeard > this.#opts.linkTimeoutMs) this.#removeLink(l, `silent for more than ${this.#opts.linkTimeoutMs} ms`);
      }
      if (g.links.length === 0 && now - g.emptySince > this.#opts.groupTimeoutMs) this.#closeGroup(g, `no link for more than ${this.#opts.groupTimeoutMs} ms`);
    }
  }

  #removeLink(l: SrtlaLink, why: string): void {
    l.group.removeLink(l);
    this.#links.delete(l.key);
    this.counters.linksRemoved++;
    l.log.info({ why, links: l.group.links.length, packets: l.packets, bytes: l.bytes }, 'srtla link removed');
  }

  #closeGroup(g: SrtlaGroup, why: string): void {
    for (const l of [...g.links]) this.#removeLink(l, why);
    g.close();
    this.#groups.delete(g.idKey);
    if (this.#creators.get(g.creator.key) === g) this.#creators.delete(g.creator.key);
    this.counters.groupsClosed++;
    g.log.info({ why, packetsIn: g.packetsIn, bytesIn: g.bytesIn }, 'srtla group closed');
  }
}
