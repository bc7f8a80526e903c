/**
 * The kernel's view of a UDP port, for PortRegistry: `probeUdpPort` binds a plain UDP socket
 * (no SO_REUSEADDR, no SO_REUSEPORT) to the address, which the kernel refuses while any socket of
 * any process holds an overlapping one. The relay's own sockets carry SO_REUSEADDR and, with
 * several listeners per port, SO_REUSEPORT: a second process binding the same way would join them
 * silently and take a share of new callers; the probe is what tells it apart.
 *
 * On EADDRINUSE the holder is looked up: its line in /proc/net/udp{,6} (inode), then the process
 * whose /proc/PID/fd links to `socket:[inode]` (visible for processes of the same user).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { isIP, SocketAddress } from 'node:net';
import { native } from './native.js';
import type { ForeignHolder } from './port-registry.js';

/** EADDRINUSE on Linux, macOS and FreeBSD. */
const ADDR_IN_USE = new Set([98, 48]);

export interface ProcUdpSocket {
  host: string;
  port: number;
  inode: number;
}

function v4FromHex(hex: string): string {
  // /proc prints the address in host byte order (little-endian on x86 and arm).
  const n = Number.parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.');
}

function v6FromHex(hex: string): string {
  const words: string[] = [];
  for (let w = 0; w < 4; w++) {
    const le = hex.slice(w * 8, w * 8 + 8);
    const be = le.slice(6, 8) + le.slice(4, 6) + le.slice(2, 4) + le.slice(0, 2);
    words.push(be.slice(0, 4), be.slice(4, 8));
  }
  const text = words.map((g) => g.replace(/^0+(?=.)/, '')).join(':');
  if (/^0:0:0:0:0:ffff:/.test(text)) return v4FromHex(hex.slice(24, 32));
  return new SocketAddress({ address: text, family: 'ipv6' }).address; // the short form: "::", "::1"
}

/** Sockets bound to `port`, from the text of /proc/net/udp or /proc/net/udp6 (header line first). */
export function parseProcUdpPort(text: string, port: number, v6: boolean): ProcUdpSocket[] {
  const out: ProcUdpSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const [addr, portHex] = (f[1] ?? '').split(':');
    if (addr === undefined || portHex === undefined || Number.parseInt(portHex, 16) !== port) continue;
    const inode = Number(f[9]);
    if (!Number.isSafeInteger(inode) || inode <= 0) continue;
    out.push({ host: v6 ? v6FromHex(addr) : v4FromHex(addr), port, inode });
  }
  return out;
}

function wild(h: string): boolean {
  return h === '' || h === '0.0.0.0' || (isIP(h) === 6 && /^[0:]+$/.test(h));
}

function short(h: string): string {
  return isIP(h) === 6 ? new SocketAddress({ address: h, family: 'ipv6' }).address : h;
}

/** Loose (any wildcard of either family): only names a holder after the kernel refused the probe. */
function overlaps(a: string, b: string): boolean {
  return short(a) === short(b) || wild(a) || wild(b);
}

/** Same family, and equal or one the wildcard: sockets that share callers with ours. */
function shares(a: string, b: string): boolean {
  const fa = a === '' ? 4 : isIP(a);
  const fb = b === '' ? 4 : isIP(b);
  return fa === fb && (short(a) === short(b) || wild(a) || wild(b));
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The pid whose file descriptors hold socket `inode` (this process first), if /proc shows it. */
export function pidOfSocketInode(inode: number): number | undefined {
  const link = `socket:[${inode}]`;
  const holds = (pid: string): boolean => {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      return false;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === link) return true;
      } catch {
        // closed meanwhile
      }
    }
    return false;
  };
  if (holds('self')) return process.pid;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const pid of pids) if (Number(pid) !== process.pid && holds(pid)) return Number(pid);
  return undefined;
}

/** The process's command in words: "srt-relay" for a node started by bin/srt-relay.js, else /proc/PID/comm. */
function commandOf(pid: number): { command?: string } {
  const argv = readOr(`/proc/${pid}/cmdline`).split('\0');
  if (argv.slice(0, 2).some((a) => /(^|\/)srt-relay(\.js)?$/.test(a))) return { command: 'srt-relay' };
  const comm = readOr(`/proc/${pid}/comm`).trim();
  return comm !== '' ? { command: comm } : {};
}

/** PortProbe for PortRegistry: undefined when host:port is free or held only by sockets in `own`. */
export function probeUdpPort(host: string, port: number, own: ReadonlySet<number>): ForeignHolder | undefined {
  let errno: number;
  try {
    errno = native.probePort(host, port);
  } catch {
    return undefined; // no socket to probe with (e.g. out of file descriptors): the real bind reports it
  }
  // Free, or a refusal that is not about sharing (e.g. EACCES): the real bind reports that one.
  if (errno === 0 || !ADDR_IN_USE.has(errno)) return undefined;
  const holders = socketsOn(host, port);
  const foreign = holders.filter((s) => !own.has(s.inode));
  // Only our own listeners, closed a moment ago and not yet gone (libsrt closes them later).
  if (holders.length > 0 && foreign.length === 0) return undefined;
  return holderOf(foreign);
}

function socketsOn(host: string, port: number, match = overlaps): ProcUdpSocket[] {
  return [
    ...parseProcUdpPort(readOr('/proc/net/udp'), port, false),
    ...parseProcUdpPort(readOr('/proc/net/udp6'), port, true),
  ].filter((s) => match(s.host, host));
}

function holderOf(foreign: readonly ProcUdpSocket[]): ForeignHolder {
  for (const s of foreign) {
    const pid = pidOfSocketInode(s.inode);
    if (pid === undefined) continue;
    return { pid, ...commandOf(pid) };
  }
  return {};
}

/**
 * PortCheck for PortRegistry, after the relay bound host:port: a socket the kernel lists on it that
 * is not in `own` joined it (e.g. another process bound between the probe and our bind).
 */
export function checkUdpPort(host: string, port: number, own: ReadonlySet<number>): ForeignHolder | undefined {
  const foreign = socketsOn(host, port, shares).filter((s) => !own.has(s.inode));
  return foreign.length === 0 ? undefined : holderOf(foreign);
}
