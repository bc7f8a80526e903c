/**
 * An impaired UDP link in user space: a proxy that forwards datagrams between its clients and one
 * target, delaying each by a fixed one-way time (plus optional jitter) and dropping each with a
 * probability, in both directions, like netem on the path (netem itself is not built into this
 * machine's kernel: CONFIG_NET_SCH_NETEM is off and modules cannot be loaded). An outage drops
 * everything until it is lifted. Loss is drawn from a seeded PRNG, so a run can be repeated.
 *
 * Each client address gets its own upstream socket, so the target sees one peer per client (as it
 * would through NAT), and replies go back to the client from the proxy's front port. With
 * `keepAddress` the upstream socket binds the client's own address (127.0.0.2 stays 127.0.0.2 on
 * loopback), so the target sees the client's host; else it binds 127.0.0.1.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { pathToFileURL } from 'node:url';
import { prng } from './srt-fuzzer.js';

export interface Impairment {
  /** Probability (0..1) of dropping a datagram, each direction. */
  loss: number;
  /** One-way delay, ms, each direction (RTT = 2 × delay). */
  delayMs: number;
  /** Extra uniformly random delay 0..jitterMs (reorders packets when larger than their spacing). */
  jitterMs?: number;
  /** Drop everything. */
  outage?: boolean;
}

/** A seed for both directions, or one per direction (up: client → target). */
export type Seeds = number | { up: number; down: number };

export interface LinkCounters {
  forwarded: number;
  dropped: number;
}

export class ImpairedLink {
  readonly #front: Socket;
  readonly #target: { host: string; port: number };
  readonly #clients = new Map<string, Socket>();
  readonly #rndUp: () => number;
  readonly #rndDown: () => number;
  readonly #keepAddress: boolean;
  #impairment: Impairment;
  #closed = false;
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Client → target and target → client. */
  readonly up: LinkCounters = { forwarded: 0, dropped: 0 };
  readonly down: LinkCounters = { forwarded: 0, dropped: 0 };

  private constructor(front: Socket, target: { host: string; port: number }, impairment: Impairment, seed: Seeds, keepAddress: boolean) {
    this.#front = front;
    this.#keepAddress = keepAddress;
    this.#target = target;
    this.#impairment = impairment;
    // One PRNG per direction: two links given the same seed for their data direction drop the
    // same packets of the same sequence.
    this.#rndUp = prng(typeof seed === 'number' ? seed : seed.up);
    this.#rndDown = prng(typeof seed === 'number' ? seed ^ 0x9e3779b9 : seed.down);
    front.on('message', (msg, rinfo) => this.#fromClient(msg, rinfo));
    front.on('error', () => undefined);
  }

  /** Opens a link on a free 127.0.0.1 port forwarding to `target`. */
  static async open(target: { host: string; port: number }, impairment: Impairment, seed: Seeds = 1, opts: { keepAddress?: boolean } = {}): Promise<ImpairedLink> {
    const front = createSocket('udp4');
    await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', () => resolve()));
    return new ImpairedLink(front, target, impairment, seed, opts.keepAddress === true);
  }

  /** Where callers connect. */
  get port(): number {
    return this.#front.address().port;
  }

  set(impairment: Impairment): void {
    this.#impairment = impairment;
  }

  get impairment(): Impairment {
    return this.#impairment;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#front.close();
    for (const s of this.#clients.values()) s.close();
  }

  #pass(counters: LinkCounters, rnd: () => number, send: () => void): void {
    const imp = this.#impairment;
    if (imp.outage === true || (imp.loss > 0 && rnd() < imp.loss)) {
      counters.dropped++;
      return;
    }
    counters.forwarded++;
    const ms = imp.delayMs + (imp.jitterMs !== undefined && imp.jitterMs > 0 ? rnd() * imp.jitterMs : 0);
    if (ms <= 0) {
      send();
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#closed) send();
    }, ms);
    this.#timers.add(timer);
  }

  #fromClient(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.#closed) return;
    const key = `${rinfo.address}:${rinfo.port}`;
    let upstream = this.#clients.get(key);
    if (upstream === undefined) {
      const s = createSocket('udp4');
      s.on('error', () => undefined);
      s.on('message', (reply) => {
        if (this.#closed) return;
        this.#pass(this.down, this.#rndDown, () => this.#front.send(reply, rinfo.port, rinfo.address));
      });
      s.bind(0, this.#keepAddress ? rinfo.address : '127.0.0.1');
      this.#clients.set(key, s);
      upstream = s;
    }
    const up = upstream;
    this.#pass(this.up, this.#rndUp, () => up.send(msg, this.#target.port, this.#target.host));
  }
}

/**
 * The links as their own process (so that the test's event loop does not delay packets):
 *   node dist/test/helpers/impair-proxy.js --serve '{"targets":[{"host":"127.0.0.1","port":9000},{"link":0}],"impairment":{...},"seed":1}'
 * prints {"ports":[...]} once listening, then reads commands on stdin, one JSON a line:
 *   {"set": Impairment}            applies to every link
 *   {"outageMs": N}                drops everything for N ms, then back to the impairment
 *   {"counters": true}             prints {"counters":[{up, down}, ...]}
 * It raises its own priority (nice -10) when allowed.
 */
export interface ServePlan {
  /** Where each link forwards to: an address, or `{ link: i }`, the front port of an earlier link (chains segments). */
  targets: Array<({ host: string; port: number } | { link: number }) & { seed?: Seeds }>;
  impairment: Impairment;
  seed: number;
}

async function serve(plan: ServePlan): Promise<void> {
  const { setPriority } = await import('node:os');
  try {
    setPriority(-10);
  } catch {
    // not root: normal priority
  }
  const links: ImpairedLink[] = [];
  for (const [i, t] of plan.targets.entries()) {
    const target = 'link' in t ? { host: '127.0.0.1', port: links[t.link]!.port } : { host: t.host, port: t.port };
    links.push(await ImpairedLink.open(target, plan.impairment, t.seed ?? plan.seed + i));
  }
  let base = plan.impairment;
  process.stdout.write(`${JSON.stringify({ ports: links.map((l) => l.port) })}\n`);
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const cmd = JSON.parse(line) as { set?: Impairment; outageMs?: number; counters?: boolean };
    if (cmd.set !== undefined) {
      base = cmd.set;
      for (const l of links) l.set(base);
    }
    if (cmd.outageMs !== undefined) {
      for (const l of links) l.set({ ...base, outage: true });
      setTimeout(() => {
        for (const l of links) l.set(base);
      }, cmd.outageMs);
    }
    if (cmd.counters === true) process.stdout.write(`${JSON.stringify({ counters: links.map((l) => ({ up: l.up, down: l.down })) })}\n`);
  });
  rl.on('close', () => {
    for (const l of links) l.close();
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === '--serve') {
  await serve(JSON.parse(process.argv[3] ?? '{}') as ServePlan);
}
