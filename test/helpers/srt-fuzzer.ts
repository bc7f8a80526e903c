/**
 * A UDP fuzzer for an SRT listener port, run as its own process (so that its send loop does not
 * starve the test's event loop, which carries the publisher and viewer):
 *
 *   node dist/test/helpers/srt-fuzzer.js --fuzz '{"host":"127.0.0.1","port":9000,...}'
 *
 * It sends `handshakes` malformed or truncated SRT handshakes (wrong versions, bad extension
 * lengths, oversized stream ids, invalid UTF-8 and percent escapes in stream ids, garbage key
 * material, garbage after a valid induction; see KINDS) and `datagrams` random UDP datagrams
 * (pure noise, control-looking, handshake-looking and data-looking), paced at `rate` datagrams/s,
 * then prints one JSON line (FuzzReport) on stdout and exits. Everything is derived from `seed`.
 *
 * Without `--fuzz` (e.g. when a test runner loads every file under test/) it does nothing.
 */
import { createSocket, type Socket } from 'node:dgram';
import { pathToFileURL } from 'node:url';
import {
  HS_EXT_CONFIG,
  HS_EXT_HSREQ,
  HS_EXT_KMREQ,
  HS_MIN,
  HS_TYPE_AGREEMENT,
  HS_TYPE_CONCLUSION,
  HS_TYPE_WAVEAHAND,
  SRT_CMD_CONGESTION,
  SRT_CMD_FILTER,
  SRT_CMD_GROUP,
  SRT_CMD_HSREQ,
  SRT_CMD_KMREQ,
  SRT_CMD_SID,
  conclusionPacket,
  extension,
  handshakePacket,
  handshakeType,
  hsreqExtension,
  inductionCookie,
  inductionPacket,
  sidExtension,
} from './srt-handshake.js';

export interface FuzzPlan {
  host: string;
  port: number;
  /** Random datagrams to send. */
  datagrams: number;
  /** Malformed handshakes to send. */
  handshakes: number;
  /** Datagrams per second (random and handshake together). */
  rate: number;
  seed: number;
  /** Stream name the control conclusions ask to play (must not exist: they are rejected 1404). */
  missingStream?: string;
  /**
   * Never send an SRT_CMD_FILTER extension whose string libsrt reads as empty (first byte NUL):
   * libsrt before 1.5.4 crashes on it (SrtParseConfig on an empty string, Haivision/srt#3029),
   * which takes down any process using it. Set to false to send those too.
   */
  avoidEmptyFilterCrash?: boolean;
  /** Only these handshake kinds (default: all of KINDS, in turn). */
  kinds?: string[];
}

export interface FuzzReport {
  datagramsSent: number;
  handshakesSent: number;
  /** Handshakes sent per kind. */
  handshakeKinds: Record<string, number>;
  /** Induction responses with a cookie the fuzzer received (its inductions were understood). */
  cookies: number;
  /** Conclusion responses by handshake type (1000 + reject reason for rejections), from conclusions. */
  conclusionAnswers: Record<string, number>;
  /** Answers to the control conclusions (`read:<missingStream>`, valid except for the name). */
  controlAnswers: Record<string, number>;
  /** Datagrams the relay sent back to the random-datagram sockets. */
  noiseAnswers: number;
  sendErrors: number;
  /** Send errors by code (e.g. ECONNREFUSED: an ICMP port unreachable came back, nothing listened). */
  sendErrorCodes: Record<string, number>;
  elapsedMs: number;
}

const errorCodes: Record<string, number> = {};
function countError(e: Error & { code?: string }): void {
  const k = e.code ?? e.message;
  errorCodes[k] = (errorCodes[k] ?? 0) + 1;
}

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Stream ids with invalid UTF-8 (as bytes). */
const BAD_UTF8: readonly number[][] = [
  [0xc3, 0x28],
  [0xa0, 0xa1],
  [0xe2, 0x28, 0xa1],
  [0xf0, 0x28, 0x8c, 0x28],
  [0xc0, 0xaf], // overlong '/'
  [0xed, 0xa0, 0x80], // UTF-16 surrogate
  [0xff, 0xfe, 0xfd],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0x00],
];

/** Stream ids with bad percent escapes or odd forms (strings). */
const ODD_SIDS: readonly string[] = [
  'read:%',
  'read:%Z',
  'publish:%ZZ',
  'read:%C3%28',
  'publish:%00',
  'read:%ff%fe',
  '#!::r=%,m=request',
  '#!::r=%E2%82,m=publish',
  '#!::r=a%00b,m=request',
  '#!::',
  '#!::r=,m=',
  '#!::m=publish',
  '#!::r=x,m=publish,m=request',
  '#!::r=x,,,,m=request',
  '#!::u=%%%,r=y,m=request',
  '#!:{r=x,m=request}',
  '#!::r=../../etc/passwd,m=request',
  'read:../../../etc/passwd',
  'publish:/',
  'read:a/../../b',
  ':',
  'read:',
  'publish:',
  'PUBLISH:cam',
  'read:cam\n',
  'read:\u0000cam',
  'read:\u202ecam',
  '\u{1F600}\u{1F600}\u{1F600}',
];

type Kind =
  | 'induction-bad-version'
  | 'induction-bad-type'
  | 'induction-truncated'
  | 'induction-oversized'
  | 'conclusion-bad-cookie'
  | 'conclusion-bad-version'
  | 'conclusion-bad-ext-length'
  | 'conclusion-oversized-sid'
  | 'conclusion-bad-utf8-sid'
  | 'conclusion-odd-sid'
  | 'conclusion-garbage-ext'
  | 'conclusion-garbage-km'
  | 'conclusion-truncated'
  | 'conclusion-bad-flags'
  | 'garbage-after-induction'
  | 'rendezvous-types'
  | 'control';

export const KINDS: readonly Kind[] = [
  'induction-bad-version',
  'induction-bad-type',
  'induction-truncated',
  'induction-oversized',
  'conclusion-bad-cookie',
  'conclusion-bad-version',
  'conclusion-bad-ext-length',
  'conclusion-oversized-sid',
  'conclusion-bad-utf8-sid',
  'conclusion-odd-sid',
  'conclusion-garbage-ext',
  'conclusion-garbage-km',
  'conclusion-truncated',
  'conclusion-bad-flags',
  'garbage-after-induction',
  'rendezvous-types',
  'control',
];

class HandshakeFuzzer {
  readonly #rnd: () => number;
  readonly #plan: FuzzPlan;
  readonly #sockets: Array<{ socket: Socket; cookie: number | undefined; pending: Map<number, 'control' | 'other'> }> = [];
  readonly kinds: Record<string, number> = {};
  readonly conclusionAnswers: Record<string, number> = {};
  readonly controlAnswers: Record<string, number> = {};
  cookies = 0;
  sendErrors = 0;
  #next = 0;
  readonly #kinds: readonly Kind[];

  constructor(plan: FuzzPlan, rnd: () => number) {
    this.#plan = plan;
    this.#rnd = rnd;
    this.#kinds = plan.kinds === undefined ? KINDS : KINDS.filter((k) => plan.kinds!.includes(k));
    if (this.#kinds.length === 0) throw new Error(`no known handshake kind in ${JSON.stringify(plan.kinds)}`);
  }

  async open(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const socket = createSocket('udp4');
      const entry = { socket, cookie: undefined as number | undefined, pending: new Map<number, 'control' | 'other'>() };
      socket.on('error', (e) => {
        this.sendErrors++;
        countError(e);
      });
      socket.on('message', (msg) => {
        const cookie = inductionCookie(msg);
        if (cookie !== undefined && cookie !== 0) {
          entry.cookie = cookie;
          this.cookies++;
          return;
        }
        const type = handshakeType(msg);
        if (type === undefined) return;
        // Answers name our socket id as the destination.
        const dest = msg.readUInt32BE(12);
        const origin = entry.pending.get(dest);
        if (origin === undefined) return;
        entry.pending.delete(dest);
        const key = type === HS_TYPE_CONCLUSION ? 'accepted' : String(type);
        const bucket = origin === 'control' ? this.controlAnswers : this.conclusionAnswers;
        bucket[key] = (bucket[key] ?? 0) + 1;
      });
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
      socket.connect(this.#plan.port, this.#plan.host);
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      this.#sockets.push(entry);
    }
  }

  /** A valid induction from every socket; resolves once most have a cookie (or after 2 s). */
  async induct(): Promise<void> {
    for (const s of this.#sockets) s.socket.send(inductionPacket(this.#socketId()));
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline && this.#sockets.some((s) => s.cookie === undefined)) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    for (const s of this.#sockets) s.socket.close();
  }

  #int(n: number): number {
    return Math.floor(this.#rnd() * n);
  }

  #bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.#int(256);
    return b;
  }

  #socketId(): number {
    return (1 + this.#int(0x3ffffffe)) >>> 0;
  }

  #pick<T>(list: readonly T[]): T {
    return list[this.#int(list.length)]!;
  }

  /** Sends one handshake of the next kind. */
  sendOne(): void {
    const kind = this.#kinds[this.#next++ % this.#kinds.length]!;
    const entry = this.#sockets[this.#int(this.#sockets.length)]!;
    const cookie = entry.cookie ?? 0;
    const id = this.#socketId();
    const hsreq = (o: { flags?: number } = {}): Buffer => hsreqExtension({ delayMs: 120, ...o });
    let packet: Buffer;
    let expectAnswer: 'control' | 'other' | undefined;
    switch (kind) {
      case 'induction-bad-version':
        packet = inductionPacket(id, { version: this.#pick([0, 1, 2, 3, 5, 6, 0x7fffffff, 0xffffffff, this.#int(2 ** 32)]) });
        break;
      case 'induction-bad-type':
        packet = inductionPacket(id, {
          extension: this.#pick([0, 1, 3, 0x4a17, 0xffff, this.#int(65536)]),
          encryption: this.#int(65536),
          mtu: this.#pick([0, 1, 76, 65536, 0xffffffff]),
          flightWindow: this.#pick([0, 1, 0xffffffff]),
        });
        break;
      case 'induction-truncated':
        packet = inductionPacket(id).subarray(0, this.#int(HS_MIN));
        break;
      case 'induction-oversized':
        packet = Buffer.concat([inductionPacket(id), this.#bytes(1 + this.#int(1400))]);
        break;
      case 'conclusion-bad-cookie':
        packet = conclusionPacket(id, (cookie + 1 + this.#int(1000)) >>> 0, [hsreq(), sidExtension(`read:${this.#plan.missingStream ?? 'nothing'}`)]);
        break;
      case 'conclusion-bad-version':
        packet = conclusionPacket(id, cookie, [hsreq(), sidExtension('read:x')], { version: this.#pick([0, 1, 2, 3, 4, 6, 0xffffffff]) });
        expectAnswer = 'other';
        break;
      case 'conclusion-bad-ext-length': {
        const variant = this.#int(5);
        const exts =
          variant === 0
            ? [extension(SRT_CMD_HSREQ, this.#bytes(12), this.#pick([0, 1, 2, 4, 0xffff]))]
            : variant === 1
              ? [hsreq(), sidExtension('read:x', this.#pick([0, 200, 0x7fff, 0xffff]))]
              : variant === 2
                ? [hsreq(), extension(SRT_CMD_CONGESTION, Buffer.from('live'), 0xffff)]
                : variant === 3
                  ? [extension(SRT_CMD_HSREQ, this.#bytes(4 * this.#int(3)))]
                  : [hsreq(), Buffer.from([0, SRT_CMD_SID, 0xff, 0xff])];
        packet = conclusionPacket(id, cookie, exts, { extension: HS_EXT_HSREQ | HS_EXT_CONFIG });
        expectAnswer = 'other';
        break;
      }
      case 'conclusion-oversized-sid': {
        const len = 513 + this.#int(900);
        const sid = `read:${'x'.repeat(len)}`;
        packet = conclusionPacket(id, cookie, [hsreq(), sidExtension(sid, this.#pick([undefined, 128, 0xffff]))]);
        expectAnswer = 'other';
        break;
      }
      case 'conclusion-bad-utf8-sid': {
        const bad = Buffer.from(this.#pick(BAD_UTF8));
        const prefix = Buffer.from(this.#pick(['read:', 'publish:', '#!::r=', '', 'publish:cam']), 'utf8');
        packet = conclusionPacket(id, cookie, [hsreq(), sidExtension(Buffer.concat([prefix, bad, this.#bytes(this.#int(8))]))]);
        expectAnswer = 'other';
        break;
      }
      case 'conclusion-odd-sid':
        packet = conclusionPacket(id, cookie, [hsreq(), sidExtension(this.#pick(ODD_SIDS))]);
        expectAnswer = 'other';
        break;
      case 'conclusion-garbage-ext': {
        const blocks: Buffer[] = [hsreq()];
        const n = 1 + this.#int(6);
        for (let i = 0; i < n; i++) {
          const type = this.#pick([SRT_CMD_SID, SRT_CMD_CONGESTION, SRT_CMD_FILTER, SRT_CMD_GROUP, SRT_CMD_HSREQ, 9, 100, 0xffff, this.#int(65536)]);
          let content = this.#bytes(this.#int(64));
          // libsrt reads each 4-byte group byte-reversed: wire byte 3 is the string's first byte
          // (zero padding included).
          if (type === SRT_CMD_FILTER && content.length > 0 && this.#plan.avoidEmptyFilterCrash !== false) {
            if (content.length < 4) content = Buffer.concat([content, Buffer.alloc(4 - content.length)]);
            if (content[3] === 0) content[3] = 0x66;
          }
          blocks.push(extension(type, content));
        }
        packet = conclusionPacket(id, cookie, blocks, { extension: this.#int(65536) | HS_EXT_HSREQ });
        expectAnswer = 'other';
        break;
      }
      case 'conclusion-garbage-km':
        packet = conclusionPacket(id, cookie, [hsreq({ flags: 0x3f | 0x04 }), extension(SRT_CMD_KMREQ, this.#bytes(this.#int(128))), sidExtension('read:x')], {
          extension: HS_EXT_HSREQ | HS_EXT_KMREQ | HS_EXT_CONFIG,
          encryption: this.#pick([2, 3, 4, 0xffff]),
        });
        expectAnswer = 'other';
        break;
      case 'conclusion-truncated': {
        const full = conclusionPacket(id, cookie, [hsreq(), sidExtension('read:somestream')]);
        packet = full.subarray(0, this.#int(full.length));
        break;
      }
      case 'conclusion-bad-flags':
        packet = conclusionPacket(id, cookie, [hsreqExtension({ version: this.#pick([0, 0x010000, 0x010200, 0xffffff]), flags: this.#int(2 ** 32), delayMs: this.#int(65536) }), sidExtension('read:x')], {
          mtu: this.#pick([0, 32, 100000]),
          flightWindow: this.#pick([0, 1, 0x7fffffff]),
        });
        expectAnswer = 'other';
        break;
      case 'garbage-after-induction': {
        // Valid header and cookie, then noise where the CIF rest and extensions belong.
        let ext = this.#int(65536);
        // Without HS_EXT_CONFIG libsrt reads no SID/congestion/filter blocks, so the noise cannot
        // form the empty filter that crashes libsrt < 1.5.4 (see avoidEmptyFilterCrash).
        if (this.#plan.avoidEmptyFilterCrash !== false) ext &= ~HS_EXT_CONFIG;
        const head = handshakePacket({ version: 5, extension: ext, type: HS_TYPE_CONCLUSION, socketId: id, cookie });
        packet = Buffer.concat([head.subarray(0, 16 + 32), this.#bytes(this.#int(1400))]);
        head.copy(packet, 0, 0, 16 + 32);
        break;
      }
      case 'rendezvous-types':
        packet = handshakePacket({ version: 5, extension: this.#int(65536), type: this.#pick([HS_TYPE_WAVEAHAND, HS_TYPE_AGREEMENT, 2, 1003, 0x80000000]), socketId: id, cookie });
        break;
      case 'control':
        // Everything valid except the stream name: must be rejected by the relay's gate (1404).
        packet = conclusionPacket(id, cookie, [hsreq(), sidExtension(`read:${this.#plan.missingStream ?? 'nothing'}`)]);
        expectAnswer = 'control';
        break;
    }
    if (expectAnswer !== undefined) {
      if (entry.pending.size > 1000) entry.pending.clear();
      entry.pending.set(id, expectAnswer);
    }
    this.kinds[kind] = (this.kinds[kind] ?? 0) + 1;
    entry.socket.send(packet);
    // Cookies are valid for a minute or two: refresh them now and then.
    if (this.#next % 500 === 0) for (const s of this.#sockets) s.socket.send(inductionPacket(this.#socketId()));
  }
}

class NoiseFuzzer {
  readonly #rnd: () => number;
  readonly #sockets: Socket[] = [];
  readonly #pool: Buffer;
  answers = 0;
  sendErrors = 0;

  constructor(rnd: () => number) {
    this.#rnd = rnd;
    this.#pool = Buffer.allocUnsafe(1 << 20);
    for (let i = 0; i < this.#pool.length; i++) this.#pool[i] = Math.floor(rnd() * 256);
  }

  async open(count: number, host: string, port: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const socket = createSocket('udp4');
      socket.on('error', (e) => {
        this.sendErrors++;
        countError(e);
      });
      socket.on('message', () => {
        this.answers++;
      });
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
      socket.connect(port, host);
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      this.#sockets.push(socket);
    }
  }

  close(): void {
    for (const s of this.#sockets) s.close();
  }

  #int(n: number): number {
    return Math.floor(this.#rnd() * n);
  }

  #slice(len: number): Buffer {
    const off = this.#int(this.#pool.length - len);
    return this.#pool.subarray(off, off + len);
  }

  sendOne(): void {
    const socket = this.#sockets[this.#int(this.#sockets.length)]!;
    const r = this.#rnd();
    // Mostly short datagrams (as a flood would be), some up to a full MTU.
    const len = this.#rnd() < 0.8 ? this.#int(128) : this.#int(1501);
    let packet: Buffer;
    if (r < 0.4) {
      packet = this.#slice(len); // pure noise (read-only view of the pool)
    } else {
      packet = Buffer.from(this.#slice(Math.max(16, len)));
      if (r < 0.6) {
        // control-looking: control bit, small type, any subtype, destination 0 or random
        packet.writeUInt32BE((0x80000000 | (this.#int(9) << 16) | this.#int(65536)) >>> 0, 0);
        if (this.#rnd() < 0.5) packet.writeUInt32BE(0, 12);
      } else if (r < 0.8) {
        // handshake-looking: handshake header to the listener, random CIF
        packet.writeUInt32BE(0x80000000, 0);
        packet.writeUInt32BE(0, 12);
      } else {
        // data-looking: data bit clear, random sequence number and destination socket
        packet[0] = packet[0]! & 0x7f;
      }
    }
    socket.send(packet);
  }
}

/** Runs the plan; resolves with the report. */
export async function runFuzz(plan: FuzzPlan): Promise<FuzzReport> {
  const rnd = prng(plan.seed);
  const start = performance.now();
  const hs = new HandshakeFuzzer(plan, prng(plan.seed ^ 0x5a5a5a5a));
  const noise = new NoiseFuzzer(rnd);
  await hs.open(16);
  await noise.open(8, plan.host, plan.port);
  await hs.induct();
  const total = plan.datagrams + plan.handshakes;
  let sentNoise = 0;
  let sentHs = 0;
  const tickMs = 5;
  const perTick = Math.max(1, Math.round((plan.rate * tickMs) / 1000));
  await new Promise<void>((resolve) => {
    const began = performance.now();
    let sent = 0;
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - began) * plan.rate) / 1000) + perTick);
      let burst = 0;
      while (sent < due && burst < perTick * 4) {
        // Interleave: handshakes spread evenly over the run.
        if (sentHs < plan.handshakes && sentHs * total <= sent * plan.handshakes) {
          hs.sendOne();
          sentHs++;
        } else if (sentNoise < plan.datagrams) {
          noise.sendOne();
          sentNoise++;
        } else {
          hs.sendOne();
          sentHs++;
        }
        sent++;
        burst++;
      }
      if (sent >= total) resolve();
      else setTimeout(tick, tickMs);
    };
    tick();
  });
  // Let the last answers arrive.
  await new Promise((r) => setTimeout(r, 500));
  hs.close();
  noise.close();
  return {
    datagramsSent: sentNoise,
    handshakesSent: sentHs,
    handshakeKinds: hs.kinds,
    cookies: hs.cookies,
    conclusionAnswers: hs.conclusionAnswers,
    controlAnswers: hs.controlAnswers,
    noiseAnswers: noise.answers,
    sendErrors: hs.sendErrors + noise.sendErrors,
    sendErrorCodes: errorCodes,
    elapsedMs: Math.round(performance.now() - start),
  };
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain && process.argv[2] === '--fuzz') {
  const plan = JSON.parse(process.argv[3] ?? '{}') as FuzzPlan;
  const report = await runFuzz(plan);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
