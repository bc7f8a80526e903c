/**
 * PortListeners: every SRT listener the node opens — its SRT ports (several SO_REUSEPORT
 * listeners per port, so libsrt spreads callers over several receive and send threads), the
 * internal cluster port and listener pushes — each claimed in the node's one PortRegistry
 * before it binds, gated, and watched for kernel UDP drops. Listener inputs of streams claim
 * their ports in the same registry (src/streams/stream-sources.ts), and so does SRTLA.
 */
import type { Logger } from '../logging.js';
import type { Gate } from '../srt/gate.js';
import type { SrtOptionValue } from '../srt/options.js';
import { SrtListener, type AcceptedConnection, type UdpSocketInfo } from '../srt/socket.js';
import { UdpDropWatch, type UdpDropCount, type UdpSocketLabels } from '../srt/udp-drops.js';
import { PortRegistry, type PortClaim } from '../srt/port-registry.js';
import { checkUdpPort, probeUdpPort } from '../srt/port-probe.js';
import type { SrtUrl } from '../srt/url.js';
import type { ListenerHealth } from './health.js';
import type { PortDirection, RelayPortOptions } from './relay-api.js';

/** The gate's direction code of a port (native/gate.cc). */
export const DIRECTION_CODE: Record<PortDirection, number> = { both: 0, incoming: 1, outgoing: 2 };

/** What libsrt asks the kernel for as a UDP receive buffer (udp_rcvbuf default: 8192 × 1500 bytes). */
const LIBSRT_UDP_RCVBUF = 8192 * 1500;

export interface PortListenersOptions {
  log: Logger;
  /** How often the kernel's UDP receive drops are read (default 5000 ms). */
  udpDropCheckMs?: number;
}

export class PortListeners {
  /** The one owner of this node's UDP ports: every listener claims its address here first. */
  readonly ports = new PortRegistry({ probe: probeUdpPort, check: checkUdpPort });
  readonly #log: Logger;
  readonly #listeners: SrtListener[] = [];
  /** Each SRT port's listeners and claim, by `host:port` (closePort ends them). */
  readonly #srtPorts = new Map<string, { port: RelayPortOptions; listeners: SrtListener[]; claim: PortClaim }>();
  readonly #udpDrops: UdpDropWatch;
  /** Ports already said to have a UDP receive buffer below libsrt's ask. */
  readonly #smallBufferPorts = new Set<number>();

  constructor(opts: PortListenersOptions) {
    this.#log = opts.log;
    this.#udpDrops = new UdpDropWatch({ log: opts.log.child({ component: 'udp' }), ...(opts.udpDropCheckMs !== undefined ? { intervalMs: opts.udpDropCheckMs } : {}) });
  }

  start(): void {
    this.#udpDrops.start();
  }

  /** Opens SRT port `p` (`index` 0 is the main one) with its gate; accepted callers go to `onConnection`. */
  listenPort(p: RelayPortOptions, index: number, gate: Gate, onConnection: (c: AcceptedConnection) => void): void {
    const count = Math.max(1, p.reusePort);
    const claim = this.ports.claim(p.host, p.port, index === 0 ? 'the main SRT listener' : `the SRT listener srt.ports[${index}]`);
    const listeners: SrtListener[] = [];
    this.#srtPorts.set(`${p.host}:${p.port}`, { port: p, listeners, claim });
    try {
      for (let i = 0; i < count; i++) {
        const l = SrtListener.create(p.host, p.port, p.params, { reusePort: count > 1 });
        claim.track(l.udpSocket);
        l.attachGate(gate, DIRECTION_CODE[p.direction], p.stream ?? '', 'ignore', p.dialects);
        l.listen(onConnection);
        this.#listeners.push(l);
        listeners.push(l);
        this.watchUdp(l.udpSocket, { role: 'srt-port', port: p.port });
      }
      claim.confirm();
    } catch (err) {
      this.closePort(p.host, p.port); // a port added at runtime that cannot bind leaves nothing behind
      throw err;
    }
  }

  /** The SRT ports open now, in the order they were opened. */
  srtPorts(): RelayPortOptions[] {
    return [...this.#srtPorts.values()].map((x) => x.port);
  }

  /** Closes SRT port host:port's listeners and releases its claim; false when it is not open. */
  closePort(host: string, port: number): boolean {
    const key = `${host}:${port}`;
    const open = this.#srtPorts.get(key);
    if (open === undefined) return false;
    this.#srtPorts.delete(key);
    for (const l of open.listeners) {
      l.close();
      const i = this.#listeners.indexOf(l);
      if (i >= 0) this.#listeners.splice(i, 1);
    }
    open.claim.release();
    return true;
  }

  /** The internal cluster port: play only, every connection encrypted with the cluster passphrase (AES-256). */
  listenInternal(host: string, port: number, passphrase: string, gate: Gate, onConnection: (c: AcceptedConnection) => void): void {
    const claim = this.ports.claim(host, port, 'the internal cluster listener');
    const l = SrtListener.create(host, port, { passphrase, pbkeylen: 32 }, {});
    claim.track(l.udpSocket);
    claim.confirm();
    l.attachGate(gate, DIRECTION_CODE.outgoing, '');
    l.listen(onConnection);
    this.#listeners.push(l);
    this.watchUdp(l.udpSocket, { role: 'cluster-internal', port });
  }

  /**
   * A listener push's port (`holder` names it in ERR_PORT_IN_USE): serves `stream` to every
   * caller. The claim is released when the caller closes the listener and releases the claim.
   */
  listenPush(url: SrtUrl, holder: string, stream: string, gate: Gate, onConnection: (c: AcceptedConnection) => void): { listener: SrtListener; claim: PortClaim } {
    let claim: PortClaim | undefined;
    const l = this.ports.bindWith(url.host, url.port, holder, (c) => {
      const created = SrtListener.create(url.host, url.port, url.options as Record<string, SrtOptionValue>);
      c.track(created.udpSocket);
      claim = c;
      return created;
    });
    l.attachGate(gate, DIRECTION_CODE.outgoing, stream, 'ignore');
    l.listen(onConnection);
    this.watchUdp(l.udpSocket, { role: 'listener-push', port: url.port, stream });
    return { listener: l, claim: claim! };
  }

  /**
   * Counts the kernel's receive drops of a UDP socket the relay bound (UdpDropWatch), and says
   * once when the kernel gave a listener less receive buffer than libsrt asked for.
   */
  watchUdp(socket: UdpSocketInfo | undefined, labels: UdpSocketLabels): void {
    this.#udpDrops.add(socket, labels);
    if (socket === undefined || labels.port === undefined) return;
    // The kernel reports twice the size it was asked for, capped at net.core.rmem_max.
    if (socket.receiveBufferBytes > 0 && socket.receiveBufferBytes < LIBSRT_UDP_RCVBUF && !this.#smallBufferPorts.has(labels.port)) {
      this.#smallBufferPorts.add(labels.port); // once per port (SO_REUSEPORT opens several sockets)
      this.#log.info(
        { port: labels.port, role: labels.role, receiveBufferBytes: socket.receiveBufferBytes },
        'UDP receive buffer below the 12 MB libsrt asks for by default (the kernel caps it at twice net.core.rmem_max); for high bitrates raise net.core.rmem_max (docs/deploy.md)',
      );
    }
  }

  /** The kernel's UDP receive drops per socket role/port/stream since the start. */
  async udpDrops(): Promise<UdpDropCount[]> {
    await this.#udpDrops.poll();
    return this.#udpDrops.counts();
  }

  /** Each SRT port and internal listener: its port and whether its accept loop failed (for /healthz). */
  health(): ListenerHealth[] {
    return this.#listeners.map((l) => {
      let port: number | undefined;
      try {
        port = l.port;
      } catch {
        port = undefined;
      }
      return { port, acceptError: l.acceptError };
    });
  }

  close(): void {
    this.#udpDrops.stop();
    for (const l of this.#listeners) l.close();
    this.ports.close();
  }
}
