/**
 * SessionHost: runs on a worker thread and owns the SRT sessions the supervisor hands it.
 * Publishers are received straight into their stream's shared ring (native batch receive);
 * viewers are fed from the rings by FanoutGroup, woken by the ring's channel signal.
 */
import type { MessagePort } from 'node:worker_threads';
import { PacketRing, WRITE_BATCH } from '../ring/packet-ring.js';
import { signalChannel, subscribeChannel } from '../srt/reactor.js';
import { SrtSocket } from '../srt/socket.js';
import { FanoutGroup, type GroupMember } from './fanout-group.js';
import type { FromWorker, SessionStats, ToWorker } from './messages.js';

interface HostedSession {
  readonly id: number;
  readonly socket: SrtSocket;
  packets(): number;
  skipped(): number;
  close(reason: string): void;
}

interface RingUse {
  ring: PacketRing;
  group: FanoutGroup;
  unsubscribe: () => void;
}

const DRAIN = new Uint8Array(1500);

export class SessionHost {
  readonly #port: MessagePort;
  readonly #worker: number;
  readonly #sessions = new Map<number, HostedSession>();
  readonly #rings = new Map<SharedArrayBuffer, RingUse>();
  #done: (() => void) | undefined;

  constructor(port: MessagePort, worker: number) {
    this.#port = port;
    this.#worker = worker;
  }

  /** Serves until the supervisor says shutdown. */
  run(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#done = resolve;
      this.#port.on('message', (m: ToWorker) => this.#onMessage(m));
      this.#post({ type: 'ready', worker: this.#worker });
    });
  }

  #post(m: FromWorker): void {
    this.#port.postMessage(m);
  }

  #onMessage(m: ToWorker): void {
    switch (m.type) {
      case 'attach-publisher':
        this.#attachPublisher(m.session, m.sock, m.ring);
        break;
      case 'attach-viewer':
        this.#attachViewer(m.session, m.sock, m.ring);
        break;
      case 'close-session':
        this.#sessions.get(m.session)?.close(m.reason);
        break;
      case 'stats-request':
        this.#post({ type: 'stats', id: m.id, worker: this.#worker, sessions: this.#stats() });
        break;
      case 'crash':
        setImmediate(() => {
          throw new Error('worker crash requested (fault injection)');
        });
        break;
      case 'shutdown':
        for (const s of [...this.#sessions.values()]) s.close('shutdown');
        this.#port.close();
        this.#done?.();
        break;
    }
  }

  #stats(): SessionStats[] {
    const out: SessionStats[] = [];
    for (const s of this.#sessions.values()) {
      out.push({ session: s.id, packets: s.packets(), skipped: s.skipped(), srt: s.socket.stats() as Record<string, number> | undefined });
    }
    return out;
  }

  #ended(id: number, reason: string): void {
    if (!this.#sessions.delete(id)) return;
    this.#post({ type: 'session-ended', session: id, reason });
  }

  #useRing(buffer: SharedArrayBuffer): RingUse {
    let use = this.#rings.get(buffer);
    if (use === undefined) {
      const ring = PacketRing.attach(buffer);
      const group = new FanoutGroup(ring);
      const unsubscribe = subscribeChannel(ring.channel, () => group.flush());
      use = { ring, group, unsubscribe };
      this.#rings.set(buffer, use);
    }
    return use;
  }

  #releaseRing(buffer: SharedArrayBuffer): void {
    const use = this.#rings.get(buffer);
    if (use !== undefined && use.group.size === 0) {
      use.unsubscribe();
      this.#rings.delete(buffer);
    }
  }

  #attachPublisher(id: number, sock: number, buffer: SharedArrayBuffer): void {
    const socket = SrtSocket.adopt(sock);
    const ring = PacketRing.attach(buffer);
    let packets = 0;
    let open = true;
    const close = (reason: string): void => {
      if (!open) return;
      open = false;
      socket.close();
      this.#ended(id, reason);
    };
    const pump = (): void => {
      let moved = 0;
      for (;;) {
        const head = ring.head();
        const r = socket.recvSlots(ring.slots, ring.slotSize, ring.slotCount, ring.index(head), WRITE_BATCH);
        const count = r < 0 ? -r - 1 : r;
        if (count > 0) {
          ring.publish(head + count);
          moved += count;
        }
        if (r < 0) {
          if (moved > 0) signalChannel(ring.channel);
          packets += moved;
          close('publisher disconnected');
          return;
        }
        if (count < WRITE_BATCH) break;
      }
      if (moved > 0) {
        packets += moved;
        signalChannel(ring.channel);
      }
    };
    this.#sessions.set(id, { id, socket, packets: () => packets, skipped: () => 0, close });
    socket.on({ readable: pump, closed: () => close('publisher disconnected') });
    pump();
  }

  #attachViewer(id: number, sock: number, buffer: SharedArrayBuffer): void {
    const socket = SrtSocket.adopt(sock);
    const use = this.#useRing(buffer);
    let open = true;
    const member: GroupMember = {
      sock,
      sent: 0,
      skipped: 0,
      onBroken: () => close('viewer disconnected'),
    };
    const close = (reason: string): void => {
      if (!open) return;
      open = false;
      use.group.remove(member);
      socket.close();
      this.#releaseRing(buffer);
      this.#ended(id, reason);
    };
    this.#sessions.set(id, { id, socket, packets: () => member.sent, skipped: () => member.skipped, close });
    use.group.add(member, use.ring.head());
    socket.on({
      // A viewer sends nothing we use; drain it so libsrt's buffer does not fill.
      readable: () => {
        while (socket.recv(DRAIN) > 0);
      },
      writable: () => use.group.flush(),
      closed: () => close('viewer disconnected'),
    });
  }
}
