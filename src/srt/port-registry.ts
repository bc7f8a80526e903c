/**
 * PortRegistry: the one owner of the UDP ports a relay node binds. Every bind path claims its
 * address first — the SRT ports (`srt.ports`), listener inputs (`srt://:PORT?mode=listener`
 * sources), listener pushes, the internal cluster listener — and releases it when it closes.
 * A second claim of an address that overlaps a held one (same port, and the same host or a
 * wildcard covering the other) throws PortInUseError naming the port and its holder.
 *
 * Before the first claim of an address, an optional probe asks the kernel whether anything else
 * holds it (see port-probe.ts): the relay's own sockets are bound with SO_REUSEADDR (and
 * SO_REUSEPORT for several listeners per port), so without the probe its bind would silently
 * join a socket of another process and share its callers.
 *
 * Another process may bind between the probe and the relay's own bind (both start at once): once
 * its sockets are bound, a claim can be confirmed (`confirm`) against the sockets the kernel lists
 * on the port, which refuses it when one is not the claim's own.
 *
 * Pure (no sockets): the config loader applies the same rule to the file with no probe.
 */
import { isIP } from 'node:net';
import { PortInUseError } from '../errors.js';
import type { SrtUrl } from './url.js';

/** An address on this node's UDP ports and who holds it. */
export interface PortHolding {
  readonly host: string;
  readonly port: number;
  /** Who holds it, in words: "the main SRT listener", "listener push 3 of stream 'cam'". */
  readonly holder: string;
}

export interface PortClaim extends PortHolding {
  /** Records a UDP socket bound under this claim (its /proc/net/udp inode), so the probe knows it for ours. */
  track(socket: { readonly inode: number } | undefined): void;
  /**
   * After binding: throws PortInUseError when another socket joined the address meanwhile (the
   * registry's `check` lists one that is neither tracked here nor a released one of ours).
   */
  confirm(): void;
  /** Gives the address back. Idempotent. */
  release(): void;
}

/** Another process (or a socket the registry does not know) holds the address. */
export interface ForeignHolder {
  pid?: number;
  /** The holder's command name (/proc/PID/comm). */
  command?: string;
}

/**
 * Asks whether something outside the registry holds host:port. `own`: inodes of UDP sockets bound
 * under claims since released (libsrt closes a listener's UDP socket ~5 s after srt_close).
 * Undefined: free.
 */
export type PortProbe = (host: string, port: number, own: ReadonlySet<number>) => ForeignHolder | undefined;

/** Lists a holder of host:port other than the sockets in `own` (after our own bind), if any. */
export type PortCheck = (host: string, port: number, own: ReadonlySet<number>) => ForeignHolder | undefined;

export interface PortRegistryOptions {
  probe?: PortProbe;
  check?: PortCheck;
}

function family(host: string): 0 | 4 | 6 {
  return isIP(host) as 0 | 4 | 6;
}

function isWildcardHost(host: string): boolean {
  return host === '' || host === '0.0.0.0' || (isIP(host) === 6 && /^[0:]+$/.test(host));
}

/** Two UDP binds on the same port collide when their addresses are equal or one is a wildcard covering the other. */
export function udpBindsCollide(a: { host: string; port: number }, b: { host: string; port: number }): boolean {
  if (a.port !== b.port || a.port === 0) return false;
  if (a.host === b.host) return true;
  if (a.host === '' || b.host === '') return true;
  if (isWildcardHost(a.host) && family(a.host) === family(b.host)) return true;
  if (isWildcardHost(b.host) && family(b.host) === family(a.host)) return true;
  return false;
}

/**
 * The local UDP address an srt:// URL binds to a fixed port, if any: a listener its host:port, a
 * rendezvous its adapter and local port (`port=`, else the peer's port). A caller binds a free port.
 */
export function boundAddress(url: SrtUrl): { host: string; port: number } | undefined {
  if (url.mode === 'listener') return { host: url.host, port: url.port };
  if (url.mode === 'rendezvous') return { host: url.adapter ?? '', port: url.localPort ?? url.port };
  return undefined;
}

/** A bind address in words: "every address", "0.0.0.0 (every IPv4 address)", "127.0.0.1". */
export function hostWords(host: string): string {
  if (host === '') return 'every address';
  if (host === '0.0.0.0') return '0.0.0.0 (every IPv4 address)';
  if (isWildcardHost(host)) return `${host} (every IPv6 address)`;
  return host;
}

function foreignWords(f: ForeignHolder): string {
  if (f.pid === undefined) return 'another process (its pid is not visible in /proc)';
  if (f.pid === process.pid) return `another socket of this process (pid ${f.pid})`;
  return `another process (pid ${f.pid}${f.command !== undefined ? `, ${f.command}` : ''})`;
}

/**
 * Inodes of UDP sockets bound under claims that were released, by any registry of this process
 * (a relay stopped and another started on its ports): one number per listener ever closed.
 */
const released = new Set<number>();

function foreignError(host: string, port: number, foreign: ForeignHolder): PortInUseError {
  const who = foreignWords(foreign);
  return new PortInUseError(`UDP port ${port} is used by ${who}; stop it or use another port`, {
    port,
    host,
    holder: who,
    ...(foreign.pid !== undefined ? { pid: foreign.pid } : {}),
  });
}

export class PortRegistry {
  readonly #probe: PortProbe | undefined;
  readonly #check: PortCheck | undefined;
  readonly #held = new Set<PortClaim>();

  constructor(opts: PortRegistryOptions = {}) {
    this.#probe = opts.probe;
    this.#check = opts.check;
  }

  /** The claim that host:port overlaps, if any. */
  holderOf(host: string, port: number): PortHolding | undefined {
    for (const c of this.#held) if (udpBindsCollide(c, { host, port })) return c;
    return undefined;
  }

  /** Every address held now. */
  list(): PortHolding[] {
    return [...this.#held].map((c) => ({ host: c.host, port: c.port, holder: c.holder }));
  }

  /**
   * Claims host:port for `holder`; throws PortInUseError when a held claim overlaps it or (with a
   * probe) another process holds it. Port 0 (the kernel picks a free port) is never refused.
   */
  claim(host: string, port: number, holder: string): PortClaim {
    const held = this.holderOf(host, port);
    if (held !== undefined) {
      const where = held.host === host ? `on the same address (${hostWords(host)}); use another port or host` : `which listens on ${hostWords(held.host)}; use another port`;
      throw new PortInUseError(`UDP port ${port} is used by ${held.holder}, ${where}`, { port, host, holder: held.holder });
    }
    if (port !== 0 && this.#probe !== undefined) {
      const foreign = this.#probe(host, port, released);
      if (foreign !== undefined) throw foreignError(host, port, foreign);
    }
    const check = this.#check;
    const held2 = this.#held;
    const inodes: number[] = [];
    const claim: PortClaim = {
      host,
      port,
      holder,
      track(socket) {
        if (socket !== undefined && socket.inode > 0) inodes.push(socket.inode);
      },
      confirm() {
        if (check === undefined || port === 0 || inodes.length === 0) return;
        const foreign = check(host, port, new Set([...inodes, ...released]));
        if (foreign !== undefined) throw foreignError(host, port, foreign);
      },
      release() {
        if (!held2.delete(claim)) return;
        for (const inode of inodes) released.add(inode);
      },
    };
    if (port !== 0) this.#held.add(claim);
    return claim;
  }

  /** Throws like `claim` when host:port cannot be claimed now; holds nothing. */
  ensureFree(host: string, port: number): void {
    this.claim(host, port, 'a check').release();
  }

  /** Releases every claim (the node stops). */
  close(): void {
    for (const c of [...this.#held]) c.release();
  }

  /**
   * Claims host:port and runs `bind` (which opens the sockets and may `track` them); the claim is
   * released when `bind` throws.
   */
  bindWith<T>(host: string, port: number, holder: string, bind: (claim: PortClaim) => T): T {
    const claim = this.claim(host, port, holder);
    try {
      const bound = bind(claim);
      claim.confirm();
      return bound;
    } catch (err) {
      claim.release();
      throw err;
    }
  }
}
