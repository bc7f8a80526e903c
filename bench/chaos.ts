/**
 * Chaos run (issue 13, "A chaos run"): faults at random, in a seeded order, while viewers watch,
 * against one node (setup A) and a 3-node cluster behind nginx's UDP load balancer (setup B).
 *
 *   npm run bench -- chaos [--duration 20m] [--seed 1] [--setups A,B] [--faults k1,k2,...] [--heap-snapshots DIR]
 *                          [--viewers 10] [--bitrate 1.5] [--max-faults N] [--count N] [--out DIR]
 *
 * Each setup gets half of --duration. Streams (the same on every node, from one config file):
 *   push    a synthetic paced TS publisher in this process (bench/lib/synth-ts.ts: PAT/PMT, H.264
 *           GOPs and a stamp packet with a message sequence number in every 1316-byte message),
 *           with a publish passphrase; it reconnects (through nginx in B) when its connection dies
 *   file    a looped `file://` source played as live (alwaysOn); TS continuity counters checked
 *   locked  a push stream with a publish passphrase nobody publishes (target of the handshake flood)
 * and --viewers in-process SRT viewers per stream (src/srt/socket.ts), each counting bytes,
 * messages, lost stamp sequence numbers, CC errors, gaps of ≥ 500 ms without data and reconnects
 * (a viewer whose connection dies reconnects at once, through nginx in B).
 *
 * Nodes are `dist/bench/lib/chaos-node.js`: srt-relay's own command line plus an IPC command
 * that crashes one worker thread through the relay's fault-injection hook. Setup B: a real
 * redis-server (test/helpers/redis-server.ts) and nginx (test/helpers/nginx-udp.ts, hash
 * $remote_addr$remote_port consistent), 3 nodes with 2 workers each.
 *
 * Faults (drawn from a shuffled bag, so every kind comes up; --seed fixes the order):
 *   worker-kill           crash one worker thread of one node
 *   wrong-secret-flood    300 publish handshakes with a wrong or no passphrase (locked and push)
 *   api-flood             300 idle + 50 half-sent-body + 50 half-sent-header API connections, 8 s
 *   truncate-0/-100       the file source's file truncated to 0 / 100 bytes for 5 s, then restored
 *   signal                SIGUSR2, SIGUSR1 or SIGHUP to one node
 *   redis-restart         (B) redis-server stopped and started again on its port, empty
 *   node-kill             (B) SIGKILL one node (the push stream's owner 60 % of the time), restart 2 s later
 * Per fault: which viewers lost data (touched vs untouched), the time until every viewer receives
 * again, /healthz answers during the fault and whether it told the truth afterwards (200 exactly
 * when a probe publisher can connect to that node's SRT port). Across the run: RSS, fds and
 * threads of every node (every 5 s), start vs end, slope per minute. At the end every port must
 * take a new publisher and viewer. PASS/FAIL lines for the issue's goals; it reports, it never
 * asserts. Writes bench/results/chaos-<date>.{json,md}.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SrtRejectedError } from '../src/errors.js';
import { native } from '../src/srt/native.js';
import { SrtSocket } from '../src/srt/socket.js';
import { NginxUdp, rewriteDeployConfig, streamModulePath } from '../test/helpers/nginx-udp.js';
import { freeTcpPort, RedisServer } from '../test/helpers/redis-server.js';
import type { AfterHook } from '../test/helpers/processes.js';
import { tsFixture } from '../test/helpers/ts-fixture.js';
import { MSG_BYTES, PID_STAMP, STAMP_MAGIC, STAMP_OFF_MAGIC, STAMP_OFF_SEQ, TsSynth } from './lib/synth-ts.js';
import { delay, distBench, fileStamp, fmt, freeUdpPorts, machineCpu, machineInfo, markdownTable, pidCpu, repoRoot, sourceInfo, udpPortBound } from './lib/util.js';

// ---- settings -------------------------------------------------------------------------------

const PUSH_SECRET = 'chaos-push-publish-secret';
const LOCKED_SECRET = 'chaos-locked-publish-secret';
const CLUSTER_SECRET = 'chaos-cluster-secret-0123456789';
const GAP_MS = 500;
const SAMPLE_MS = 5000;
const HEALTH_MS = 500;
const ALL_FAULTS = ['worker-kill', 'wrong-secret-flood', 'api-flood', 'truncate-0', 'truncate-100', 'signal', 'redis-restart', 'node-kill'] as const;
type FaultKind = (typeof ALL_FAULTS)[number];
const CLUSTER_ONLY = new Set<FaultKind>(['redis-restart', 'node-kill']);
type StreamName = 'push' | 'file';

export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (m === null) throw new Error(`--duration: expected e.g. 20m, 90s or 45 (seconds), got '${text}'`);
  const v = Number(m[1]);
  const unit = m[2] ?? 's';
  return v * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
}

/** mulberry32: a small seeded PRNG, so a seed gives the same fault order. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

const now = (): number => performance.now();

/** Node log lines that mark the steps of a failover (setup B logs at info for them). */
const TIMELINE_MSG = /"msg":"(publisher connected|stream lease claimed|stream is owned by another node|stream no longer owned by another node|source failed; retrying with backoff|source stopped|no source came back: closing viewers)"/;

// ---- nodes ----------------------------------------------------------------------------------

interface ResourceSample {
  t: number;
  node: string;
  incarnation: number;
  pid: number;
  rssKb: number;
  fds: number;
  threads: number;
  cpuS: number;
  /** The node's own answer to `{ cmd: 'mem' }` (the last one before this sample), MB. */
  mem?: MemAnswer;
}

/** Where a node's memory is, MB: glibc's heap over all arenas (in use, free in the arenas, mmapped chunks) and the main thread's V8 heap. */
interface MemAnswer {
  mallocInUse: number;
  mallocFree: number;
  mallocMmapped: number;
  v8HeapUsed: number;
  v8HeapTotal: number;
  arrayBuffers: number;
  rss: number;
  /** The node ran malloc_trim just before this answer. */
  trimmed: boolean;
}

class Node {
  readonly id: string;
  readonly srtPort: number;
  readonly apiPort: number;
  readonly args: string[];
  child: ChildProcess | undefined;
  incarnation = -1;
  exitedAt = 0;
  readonly logTail: string[] = [];
  /** Log lines at level error or fatal, with the bench time they were read. */
  readonly errors: Array<{ t: number; line: string }> = [];
  /** Failover milestones of the push stream (TIMELINE_MSGS), with the bench time they were read. */
  readonly timeline: Array<{ t: number; msg: string }> = [];
  #exit: Promise<void> = Promise.resolve();
  #mem: MemAnswer | undefined;
  #memTrimmed: MemAnswer | undefined;

  constructor(id: string, srtPort: number, apiPort: number, args: string[]) {
    this.id = id;
    this.srtPort = srtPort;
    this.apiPort = apiPort;
    this.args = args;
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(t0: number): void {
    this.incarnation++;
    // CHAOS_NODE_WRAP="heaptrack -o /tmp/ht": each node runs under that command (memory profiling).
    const wrap = (process.env.CHAOS_NODE_WRAP ?? '').split(' ').filter((w) => w !== '');
    const argv = [...wrap.slice(1), process.execPath, distBench('lib/chaos-node.js'), ...this.args];
    const child = spawn(wrap[0] ?? argv.shift()!, argv, {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, SRT_RELAY_CLUSTER_SECRET: CLUSTER_SECRET },
    });
    this.child = child;
    const onData = (d: Buffer): void => {
      for (const line of d.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        this.logTail.push(line);
        if (this.logTail.length > 200) this.logTail.shift();
        if (/"level":"(error|fatal)"/.test(line) || /"level":(50|60)\b/.test(line)) this.errors.push({ t: now() - t0, line: line.slice(0, 400) });
        const m = TIMELINE_MSG.exec(line);
        if (m !== null && line.includes('"stream":"push"')) {
          this.timeline.push({ t: now(), msg: m[1]! });
          if (this.timeline.length > 500) this.timeline.shift();
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('error', () => undefined);
    this.#mem = undefined;
    child.on('message', (m: { event?: string } & Record<string, number>) => {
      if (m.event !== 'mem') return;
      const mb = (k: string): number => Math.round((m[k] ?? 0) / 1024 / 102.4) / 10;
      const a: MemAnswer = { mallocInUse: mb('mallocInUse'), mallocFree: mb('mallocFree'), mallocMmapped: mb('mallocMmapped'), v8HeapUsed: mb('v8HeapUsed'), v8HeapTotal: mb('v8HeapTotal'), arrayBuffers: mb('arrayBuffers'), rss: Math.round((m.rssKb ?? 0) / 102.4) / 10, trimmed: m.trimmed === 1 };
      if (a.trimmed) this.#memTrimmed = a;
      else this.#mem = a;
    });
    this.#exit = new Promise((resolve) => child.once('exit', () => {
      this.exitedAt = now();
      resolve();
    }));
  }

  async waitReady(timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      if (!this.alive) throw new Error(`node ${this.id} exited at start:\n${this.logTail.slice(-20).join('\n')}`);
      const h = await health(this.apiPort, 1000);
      if (h.code === 200 && udpPortBound(this.srtPort)) return;
      if (Date.now() > end) throw new Error(`node ${this.id} not ready after ${timeoutMs} ms:\n${this.logTail.slice(-20).join('\n')}`);
      await delay(100);
    }
  }

  /** Writes the node's main-thread heap snapshot (chaos --heap-snapshots). */
  heapSnapshot(file: string): void {
    if (this.alive) this.child?.send({ cmd: 'heap-snapshot', file }, () => undefined);
  }

  /** Asks the node where its memory is; the answer goes into the next samples. */
  askMemory(): void {
    if (this.alive) this.child?.send({ cmd: 'mem' }, () => undefined);
  }

  /** Runs malloc_trim in the node and answers where its memory is then (once, at the end). */
  async memoryAfterTrim(): Promise<MemAnswer | undefined> {
    if (!this.alive) return undefined;
    this.#memTrimmed = undefined;
    this.child?.send({ cmd: 'mem', trim: true }, () => undefined);
    for (let i = 0; i < 50 && this.#memTrimmed === undefined; i++) await delay(100);
    return this.#memTrimmed;
  }

  crashWorker(index: number): void {
    this.child?.send({ cmd: 'crash-worker', index });
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (!this.alive) return;
    this.child!.kill(signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM') await this.#exit;
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    this.child!.kill('SIGTERM');
    const done = await Promise.race([this.#exit.then(() => true), delay(6000).then(() => false)]);
    if (!done) await this.kill('SIGKILL');
  }

  sample(t: number): ResourceSample | undefined {
    if (!this.alive) return undefined;
    const pid = this.pid;
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
      return { t, node: this.id, incarnation: this.incarnation, pid, rssKb: field('VmRSS'), fds: readdirSync(`/proc/${pid}/fd`).length, threads: field('Threads'), cpuS: pidCpu(pid) ?? 0, ...(this.#mem !== undefined ? { mem: this.#mem } : {}) };
    } catch {
      return undefined;
    }
  }
}

interface HealthAnswer {
  code: number; // 0: no answer (refused, timeout)
  status: string;
  ms: number;
  error?: string;
}

async function health(apiPort: number, timeoutMs = 2000): Promise<HealthAnswer> {
  const t = now();
  try {
    const res = await fetch(`http://127.0.0.1:${apiPort}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json().catch(() => ({}))) as { status?: string };
    return { code: res.status, status: body.status ?? '?', ms: now() - t };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    return { code: 0, status: 'no answer', ms: now() - t, error: err.cause?.code ?? err.name };
  }
}

interface SessionRow {
  kind: string;
  stream: string;
  streamid: string;
  worker: number | null;
}

async function sessionsOf(node: Node): Promise<SessionRow[]> {
  try {
    const res = await fetch(`http://127.0.0.1:${node.apiPort}/api/v1/sessions`, { signal: AbortSignal.timeout(3000) });
    return ((await res.json()) as { sessions: SessionRow[] }).sessions;
  } catch {
    return [];
  }
}

async function ownerOf(nodes: Node[], stream: string): Promise<Node | undefined> {
  for (const n of nodes) {
    if (!n.alive) continue;
    try {
      const res = await fetch(`http://127.0.0.1:${n.apiPort}/api/v1/cluster`, { signal: AbortSignal.timeout(2000) });
      const c = (await res.json()) as { owned?: Record<string, unknown> };
      if (c.owned?.[stream] !== undefined) return n;
    } catch {
      // not answering
    }
  }
  return undefined;
}

// ---- viewers and the publisher ----------------------------------------------------------------

interface Counters {
  bytes: number;
  msgs: number;
  lost: number;
  cc: number;
  reconnects: number;
}

class Viewer {
  readonly index: number;
  readonly stream: StreamName;
  readonly port: number;
  tag = '';
  socket: SrtSocket | undefined;
  stopped = false;
  bytes = 0;
  msgs = 0;
  lost = 0;
  cc = 0;
  reconnects = 0;
  connects = 0;
  lastRx = 0;
  lastSeq = -1;
  readonly gaps: Array<[number, number]> = [];
  readonly #cc = new Int8Array(8192).fill(-1);
  /** Set when the connection died: the next message closes an outage of any length. */
  #reconnected = false;
  readonly #buf = new Uint8Array(1500);
  readonly #view = new DataView(this.#buf.buffer);

  constructor(index: number, stream: StreamName, port: number) {
    this.index = index;
    this.stream = stream;
    this.port = port;
  }

  get receiving(): boolean {
    return this.socket !== undefined && now() - this.lastRx < 400;
  }

  counters(): Counters {
    return { bytes: this.bytes, msgs: this.msgs, lost: this.lost, cc: this.cc, reconnects: this.reconnects };
  }

  start(): void {
    void this.#connectLoop();
  }

  async #connectLoop(): Promise<void> {
    while (!this.stopped) {
      this.tag = `chaos-${this.stream}-v${this.index}-c${this.connects}`;
      const s = SrtSocket.create({ latency: 120, conntimeo: 1500, streamid: `#!::r=${this.stream},m=request,u=${this.tag}` });
      try {
        await s.connect('127.0.0.1', this.port);
      } catch {
        s.close();
        await delay(200);
        continue;
      }
      if (this.stopped) {
        s.close();
        return;
      }
      this.connects++;
      this.#cc.fill(-1);
      this.socket = s;
      s.on({ readable: () => this.#read(s), closed: () => this.#closed(s) });
      this.#read(s);
      return;
    }
  }

  #closed(s: SrtSocket): void {
    if (this.socket !== s) return;
    this.socket = undefined;
    if (this.stopped) return;
    this.reconnects++;
    this.#reconnected = true;
    setTimeout(() => void this.#connectLoop(), 50);
  }

  /**
   * Reads until the socket is empty: readiness is edge-triggered, so a socket left readable is not
   * woken again. After 256 messages the rest is read on the next turn of the event loop (fair to
   * the other viewers). Until 2026-12-04 this stopped at 256 and returned: after a stall of the
   * bench's event loop with more than 256 messages queued, such a viewer stayed connected and was
   * never read again (3 "lost" viewers in every later fault of chaos-2026-12-03T17-51-42Z).
   */
  #read(s: SrtSocket): void {
    for (let i = 0; i < 256; i++) {
      if (this.socket !== s) return;
      const n = s.recv(this.#buf);
      if (n <= 0) return;
      this.#message(n);
    }
    setImmediate(() => this.#read(s));
  }

  #message(n: number): void {
    const t = now();
    if (this.lastRx > 0 && (t - this.lastRx >= GAP_MS || this.#reconnected)) this.gaps.push([this.lastRx, t]);
    this.#reconnected = false;
    this.lastRx = t;
    this.bytes += n;
    this.msgs++;
    const b = this.#buf;
    for (let off = 0; off + 188 <= n; off += 188) {
      if (b[off] !== 0x47) {
        this.cc++;
        continue;
      }
      const pid = ((b[off + 1]! & 0x1f) << 8) | b[off + 2]!;
      if (pid === 0x1fff) continue;
      const afc = (b[off + 3]! >> 4) & 3;
      if ((afc & 1) === 0) continue;
      const cc = b[off + 3]! & 0x0f;
      const disc = (afc & 2) !== 0 && b[off + 4]! > 0 && (b[off + 5]! & 0x80) !== 0;
      const prev = this.#cc[pid]!;
      if (prev >= 0 && !disc && cc !== ((prev + 1) & 15) && cc !== prev) this.cc++;
      this.#cc[pid] = cc;
      if (pid === PID_STAMP && this.#view.getUint32(off + STAMP_OFF_MAGIC, true) === STAMP_MAGIC) {
        const seq = this.#view.getUint32(off + STAMP_OFF_SEQ, true) + this.#view.getUint32(off + STAMP_OFF_SEQ + 4, true) * 4294967296;
        if (this.lastSeq >= 0 && seq > this.lastSeq + 1) this.lost += seq - this.lastSeq - 1;
        if (seq > this.lastSeq) this.lastSeq = seq;
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close();
    this.socket = undefined;
  }
}

/** The push stream's encoder: paced synthetic TS; keeps producing (and losing) while disconnected. */
class Publisher {
  readonly port: number;
  readonly stream: string;
  readonly passphrase: string | undefined;
  /** SRTO_PEERIDLETIMEO of the publisher's connections, ms (undefined: libsrt's 5000). */
  readonly peerIdleMs: number | undefined;
  readonly synth: TsSynth;
  socket: SrtSocket | undefined;
  connecting = false;
  stopped = false;
  connects = 0;
  dropped = 0;
  /** performance.now() of each connection's end and start. */
  readonly events: Array<{ t: number; what: string }> = [];
  readonly #buf = new Uint8Array(MSG_BYTES);
  #timer: NodeJS.Timeout | undefined;
  #t0 = 0;

  constructor(port: number, stream: string, passphrase: string | undefined, bitrateMbps: number, peerIdleMs?: number) {
    this.port = port;
    this.stream = stream;
    this.passphrase = passphrase;
    this.peerIdleMs = peerIdleMs;
    this.synth = new TsSynth({ bitrate: bitrateMbps * 1e6 });
  }

  start(): void {
    this.#t0 = now();
    this.#timer = setInterval(() => this.#tick(), 5);
    void this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.connecting || this.stopped) return;
    this.connecting = true;
    while (!this.stopped) {
      const s = SrtSocket.create({ latency: 120, conntimeo: 1500, streamid: `publish:${this.stream}`, ...(this.passphrase !== undefined ? { passphrase: this.passphrase } : {}), ...(this.peerIdleMs !== undefined ? { peeridletimeo: this.peerIdleMs } : {}) });
      try {
        await s.connect('127.0.0.1', this.port);
        if (this.stopped) {
          s.close();
          break;
        }
        this.connects++;
        this.socket = s;
        this.events.push({ t: now(), what: 'connected' });
        s.on({ closed: () => this.#closed(s) });
        break;
      } catch (e) {
        s.close();
        const what = e instanceof SrtRejectedError ? `refused ${e.reason}` : 'no answer';
        const last = this.events[this.events.length - 1];
        if (last !== undefined && last.what.startsWith(what)) {
          const m = /×(\d+)$/.exec(last.what);
          last.what = `${what} ×${m === null ? 2 : Number(m[1]) + 1}`;
        } else this.events.push({ t: now(), what });
        await delay(200);
      }
    }
    this.connecting = false;
  }

  #closed(s: SrtSocket): void {
    if (this.socket !== s) return;
    this.socket = undefined;
    this.events.push({ t: now(), what: 'closed' });
    if (!this.stopped) setTimeout(() => void this.#connect(), 50);
  }

  #tick(): void {
    const due = Math.floor(((now() - this.#t0) / 1000) * this.synth.msgPerSec);
    while (this.synth.seq < due) {
      this.synth.fill(this.#buf, 0);
      const s = this.socket;
      if (s === undefined) {
        this.dropped++;
        continue;
      }
      if (s.send(this.#buf) <= 0) this.dropped++;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.socket?.close();
    this.socket = undefined;
  }
}

/** A new publisher and a new viewer on `port`: does the viewer receive ≥ 20 messages within 10 s? */
async function portAccepts(port: number, stream: string, passphrase?: string): Promise<{ ok: boolean; detail: string }> {
  const pub = new Publisher(port, stream, passphrase, 1);
  pub.start();
  const v = new Viewer(0, stream as StreamName, port);
  const t = now();
  try {
    while (pub.connects === 0 && now() - t < 10_000) await delay(50);
    if (pub.connects === 0) return { ok: false, detail: 'publisher not accepted within 10 s' };
    await delay(300);
    v.start();
    while (v.msgs < 20 && now() - t < 10_000) await delay(50);
    return v.msgs >= 20 ? { ok: true, detail: `viewer got ${v.msgs} messages after ${fmt((now() - t) / 1000, 1)} s` } : { ok: false, detail: `viewer got ${v.msgs} messages in 10 s (${v.connects} connects)` };
  } finally {
    v.stop();
    pub.stop();
  }
}

/** Does `port` accept a publish handshake right now (within 3 s)? For /healthz's truth. */
async function probePublish(port: number, stream: string): Promise<boolean> {
  const s = SrtSocket.create({ latency: 120, conntimeo: 3000, streamid: `publish:${stream}` });
  try {
    await s.connect('127.0.0.1', port);
    return true;
  } catch {
    return false;
  } finally {
    s.close();
  }
}

// ---- the faults ---------------------------------------------------------------------------------

interface FaultRecord {
  n: number;
  setup: string;
  kind: FaultKind;
  detail: string;
  /** ms since the setup's start. */
  at: number;
  recoverFrom: number;
  end: number;
  touchedStreams: string[];
  touched: number;
  touchedLost: number;
  untouched: number;
  untouchedLost: number;
  /** Of those, viewers that lost messages, saw CC errors or reconnected (not only a stall). */
  untouchedDataLost: number;
  /** Of the stall-only ones, those whose every gap was longer than this bench's own longest stall + 250 ms. */
  untouchedStallsBeyondBenchLag: number;
  untouchedLostDetail: string[];
  maxRecoveryS: number | null;
  notRecovered: number;
  survivorsRecoveryS?: number | null;
  /** Of that, the time after the publisher's new connection (the relay's share), s. */
  survivorsAfterPublisherS?: number | null;
  ownerKilled?: boolean;
  lostMessages: number;
  ccErrors: number;
  reconnects: number;
  healthDuring: string;
  healthAfter: Array<{ node: string; code: number; status: string; accepts: boolean; truthful: boolean }>;
  truthful: boolean;
  nodeErrors: number;
  /** Longest event-loop stall of this bench process in the window (its viewers' clocks), ms. */
  benchLagMaxMs: number;
  /** Each node's RSS change from just before the fault to the end of its window, MB. */
  rssDeltaMb: Record<string, number>;
  extra: Record<string, unknown>;
}

interface Env {
  name: 'A' | 'B';
  nodes: Node[];
  entryPort: number;
  viewers: Viewer[];
  publisher: Publisher;
  file: string;
  fileBytes: Buffer;
  redis?: RedisServer;
  t0: number;
  healthLog: Array<{ t: number; node: string } & HealthAnswer>;
  random: () => number;
}

interface Injected {
  detail: string;
  recoverFrom: number;
  touchedViewers: Set<Viewer>;
  touchedStreams: string[];
  extra: Record<string, unknown>;
  ownerKilled?: boolean;
  killed?: Node;
}

async function viewerSessions(env: Env): Promise<Map<string, { node: Node; worker: number | null }>> {
  const map = new Map<string, { node: Node; worker: number | null }>();
  for (const n of env.nodes) for (const s of await sessionsOf(n)) {
    const m = /u=(chaos-[a-z]+-v\d+-c\d+)/.exec(s.streamid);
    if (m !== null) map.set(m[1]!, { node: n, worker: s.worker });
  }
  return map;
}

function pick<T>(env: Env, xs: readonly T[]): T {
  return xs[Math.floor(env.random() * xs.length)]!;
}

async function inject(env: Env, kind: FaultKind): Promise<Injected> {
  const t = (): number => now() - env.t0;
  const alive = env.nodes.filter((n) => n.alive);
  const none = new Set<Viewer>();
  switch (kind) {
    case 'worker-kill': {
      const node = pick(env, alive);
      const index = Math.floor(env.random() * 2);
      const all = await sessionsOf(node);
      const map = await viewerSessions(env);
      const touched = new Set<Viewer>();
      const streams = new Set<string>();
      for (const s of all) {
        if (s.worker !== index || s.kind === 'viewer') continue;
        if (s.stream !== 'push' && s.stream !== 'file') continue;
        streams.add(s.stream);
        for (const v of env.viewers) {
          if (v.stream !== s.stream) continue;
          // A node's own ingest (file source, cluster pull) feeds only its own viewers.
          if (s.kind === 'file' || s.kind === 'cluster-pull' || s.kind === 'pull') {
            if (map.get(v.tag)?.node === node) touched.add(v);
          } else touched.add(v);
        }
      }
      for (const v of env.viewers) {
        const m = map.get(v.tag);
        if (m === undefined || (m.node === node && m.worker === index)) touched.add(v);
      }
      const at = t();
      node.crashWorker(index);
      const kinds = all.filter((s) => s.worker === index).map((s) => `${s.kind}:${s.stream}`);
      return { detail: `node ${node.id} worker ${index} (${kinds.length} sessions on it)`, recoverFrom: at, touchedViewers: touched, touchedStreams: [...streams], extra: { sessionsOnWorker: kinds.length } };
    }
    case 'wrong-secret-flood': {
      const total = 300;
      const at = t();
      // Meanwhile a legitimate viewer of `file` connects through the same entry every 300 ms
      // (conntimeo 1500 ms, like the bench's viewers): are callers with the right stream served during a flood?
      let flooding = true;
      const legit: Array<{ ok: boolean; ms: number }> = [];
      const prober = (async () => {
        while (flooding) {
          const s = SrtSocket.create({ latency: 120, conntimeo: 1500, streamid: '#!::r=file,m=request,u=chaos-probe' });
          const t1 = now();
          try {
            await s.connect('127.0.0.1', env.entryPort);
            legit.push({ ok: true, ms: now() - t1 });
          } catch {
            legit.push({ ok: false, ms: now() - t1 });
          }
          s.close();
          await delay(300);
        }
      })();
      const out = await new Promise<string>((resolve) => {
        const c = spawn(process.execPath, [distBench('lib/chaos-flood.js'), String(env.entryPort), String(total), '12'], { stdio: ['ignore', 'pipe', 'inherit'] });
        let text = '';
        c.stdout!.on('data', (d: Buffer) => (text += d.toString('utf8')));
        c.on('close', () => resolve(text));
      });
      flooding = false;
      await prober;
      const served = legit.filter((x) => x.ok).map((x) => x.ms).sort((x, y) => x - y);
      const legitText = `; legitimate viewers during it: ${served.length} of ${legit.length} connected${served.length > 0 ? ` (median ${fmt(served[Math.floor(served.length / 2)]!, 0)} ms, max ${fmt(served[served.length - 1]!, 0)} ms)` : ''}, ${legit.length - served.length} got no answer`;
      let parsed: { outcomes?: Record<string, number>; tookMs?: number } = {};
      try {
        parsed = JSON.parse(out.trim().split('\n').pop() ?? '{}') as typeof parsed;
      } catch {
        parsed = {};
      }
      const took = parsed.tookMs ?? t() - at;
      return { detail: `${total} wrong/no-secret publishes (a separate process) in ${fmt(took / 1000, 1)} s: ${JSON.stringify(parsed.outcomes ?? 'no result')}${legitText}`, recoverFrom: at, touchedViewers: none, touchedStreams: [], extra: { outcomes: parsed.outcomes, tookMs: took, legitimate: { tried: legit.length, connected: served.length, connectMs: served } } };
    }
    case 'api-flood': {
      const node = pick(env, alive);
      const socks: Socket[] = [];
      let closedByServer = 0;
      const open = (payload: string | undefined): void => {
        const s = createConnection({ host: '127.0.0.1', port: node.apiPort });
        s.on('error', () => undefined);
        s.on('close', () => closedByServer++);
        if (payload !== undefined) s.on('connect', () => s.write(payload));
        socks.push(s);
      };
      const at = t();
      for (let i = 0; i < 300; i++) open(undefined);
      for (let i = 0; i < 50; i++) open('POST /api/v1/streams HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 65536\r\n\r\n{"name":"x","source"');
      for (let i = 0; i < 50; i++) open('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      await delay(8000);
      const closedWhileHeld = closedByServer;
      for (const s of socks) s.destroy();
      return { detail: `node ${node.id}: 400 connections held 8 s (${closedWhileHeld} closed by the node meanwhile)`, recoverFrom: at, touchedViewers: none, touchedStreams: [], extra: { closedByNode: closedWhileHeld, node: node.id } };
    }
    case 'truncate-0':
    case 'truncate-100': {
      const size = kind === 'truncate-0' ? 0 : 100;
      const at = t();
      truncateSync(env.file, size);
      await delay(5000);
      writeFileSync(env.file, env.fileBytes);
      const restored = t();
      void at;
      return {
        detail: `file truncated to ${size} bytes for 5 s, then restored`,
        recoverFrom: restored,
        touchedViewers: new Set(env.viewers.filter((v) => v.stream === 'file')),
        touchedStreams: ['file'],
        extra: { restoredAtS: restored / 1000 },
      };
    }
    case 'signal': {
      const node = pick(env, alive);
      const signal = pick(env, ['SIGUSR2', 'SIGUSR1', 'SIGHUP'] as const);
      const at = t();
      await node.kill(signal);
      await delay(2000);
      return { detail: `${signal} to node ${node.id}: ${node.alive ? 'still running' : 'EXITED'}`, recoverFrom: at, touchedViewers: none, touchedStreams: [], extra: { signal, alive: node.alive } };
    }
    case 'redis-restart': {
      const at = t();
      await env.redis!.stop();
      await delay(1000);
      await env.redis!.start();
      return { detail: `redis-server down ${fmt((t() - at) / 1000, 1)} s, back empty`, recoverFrom: at, touchedViewers: none, touchedStreams: [], extra: {} };
    }
    case 'node-kill': {
      const owner = await ownerOf(env.nodes, 'push');
      const target = owner !== undefined && env.random() < 0.6 ? owner : pick(env, alive);
      const ownerKilled = owner === target;
      const map = await viewerSessions(env);
      const touched = new Set<Viewer>();
      for (const v of env.viewers) {
        const m = map.get(v.tag);
        if (m === undefined || m.node === target || (ownerKilled && v.stream === 'push')) touched.add(v);
      }
      const at = t();
      await target.kill('SIGKILL');
      await delay(2000);
      target.start(env.t0);
      let restartS: number | string;
      try {
        await target.waitReady(30_000);
        restartS = (t() - at) / 1000;
      } catch (e) {
        restartS = `not ready: ${(e as Error).message.slice(0, 200)}`;
      }
      const onKilled = [...touched].filter((v) => map.get(v.tag)?.node === target).length;
      return {
        detail: `SIGKILL node ${target.id}${ownerKilled ? ' (owner of push)' : ''}, ${onKilled} viewers on it; restarted, ready after ${typeof restartS === 'number' ? `${fmt(restartS, 1)} s` : restartS}`,
        recoverFrom: at,
        touchedViewers: touched,
        touchedStreams: ownerKilled ? ['push', 'file(on the node)'] : ['push,file (on the node)'],
        extra: { node: target.id, ownerKilled, restartS, survivors: env.viewers.filter((v) => map.get(v.tag) !== undefined && map.get(v.tag)!.node !== target).map((v) => v.tag) },
        ownerKilled,
        killed: target,
      };
    }
  }
}

function inj0(f: FaultRecord): string {
  const p = f.extra['publisher'] as string[] | undefined;
  return p === undefined ? '' : ` | publisher: ${p.join(', ')}`;
}

function summarizeHealth(rows: Array<{ node: string } & HealthAnswer>): string {
  const counts = new Map<string, number>();
  let max = 0;
  for (const r of rows) {
    const key = r.code === 0 ? `none(${r.error ?? '?'})` : `${r.code} ${r.status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (r.code !== 0) max = Math.max(max, r.ms);
  }
  return `${[...counts].map(([k, v]) => `${k}×${v}`).join(', ')}; max ${Math.round(max)} ms`;
}

async function runFault(env: Env, n: number, kind: FaultKind): Promise<FaultRecord> {
  const before = new Map(env.viewers.map((v) => [v, v.counters()]));
  const rssBefore = new Map(env.nodes.map((x) => [x, x.sample(0)]));
  const errorsBefore = env.nodes.reduce((a, x) => a + x.errors.length, 0);
  const at = now() - env.t0;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const inj = await inject(env, kind);
  // Observe: at least 3 s after recoverFrom, then until every viewer receives for 1 s (max 30 s).
  const start = env.t0 + inj.recoverFrom;
  let okSince = 0;
  while (now() - start < 30_000) {
    await delay(250);
    if (now() - start < 3000) continue;
    if (env.viewers.every((v) => v.receiving)) {
      if (okSince === 0) okSince = now();
      if (now() - okSince >= 1000) break;
    } else okSince = 0;
  }
  const end = now() - env.t0;
  lag.disable();
  const winFrom = env.t0 + at - 200;
  const rec = (v: Viewer): { lostData: boolean; recoveryMs: number } => {
    const b = before.get(v)!;
    const gaps = v.gaps.filter(([a, z]) => z >= winFrom && a <= env.t0 + end);
    const openGap = !v.receiving;
    const lostData = v.lost > b.lost || v.cc > b.cc || v.reconnects > b.reconnects || gaps.length > 0 || openGap;
    const lastEnd = gaps.reduce((m, g) => Math.max(m, g[1]), 0);
    const recoveryMs = openGap ? Number.POSITIVE_INFINITY : lastEnd > 0 ? Math.max(0, lastEnd - start) : 0;
    return { lostData, recoveryMs };
  };
  const touched = env.viewers.filter((v) => inj.touchedViewers.has(v));
  const untouched = env.viewers.filter((v) => !inj.touchedViewers.has(v));
  const rt = touched.map(rec);
  const ru = untouched.map((v) => ({ v, r: rec(v) }));
  const finite = rt.map((r) => r.recoveryMs).filter((x) => Number.isFinite(x));
  let survivorsRecoveryS: number | null | undefined;
  if (kind === 'node-kill' && inj.ownerKilled === true) {
    const tags = new Set((inj.extra['survivors'] as string[] | undefined) ?? []);
    const surv = env.viewers.filter((v) => v.stream === 'push' && [...tags].some((x) => x.startsWith(`chaos-push-v${v.index}-`)));
    const rs = surv.map(rec).map((r) => r.recoveryMs);
    // No push viewer on a surviving node (every one was on the killed node): nothing to measure.
    survivorsRecoveryS = rs.length === 0 ? undefined : rs.some((x) => !Number.isFinite(x)) ? null : Math.max(...rs) / 1000;
    if (rs.length === 0) inj.extra['noSurvivors'] = true;
  }
  const reconnected = env.publisher.events.find((e) => e.what === 'connected' && e.t >= start);
  const survivorsAfterPublisherS = survivorsRecoveryS === undefined ? undefined : survivorsRecoveryS === null || reconnected === undefined ? null : survivorsRecoveryS - (reconnected.t - start) / 1000;
  if (kind === 'node-kill' && inj.ownerKilled === true) {
    const steps = env.nodes.flatMap((x) => x.timeline.filter((e) => e.t >= env.t0 + at - 200 && e.t <= env.t0 + end).map((e) => ({ t: e.t, what: `${x.id} ${e.msg}` })));
    steps.sort((a, b) => a.t - b.t);
    inj.extra['timeline'] = steps.map((e) => `${e.what} +${fmt((e.t - start) / 1000, 2)} s`);
  }
  const pubEvents = env.publisher.events.filter((e) => e.t >= env.t0 + at - 200 && e.t <= env.t0 + end).map((e) => `${e.what} +${fmt((e.t - start) / 1000, 2)} s`);
  if (pubEvents.length > 0) inj.extra['publisher'] = pubEvents;
  const sum = (f: (c: Counters) => number): number => env.viewers.reduce((a, v) => a + f(v.counters()) - f(before.get(v)!), 0);
  // /healthz: what it said during the fault; after it, compared with a probe of each node's port.
  const during = env.healthLog.filter((h) => h.t >= at && h.t <= end);
  const healthAfter: FaultRecord['healthAfter'] = [];
  for (const node of env.nodes) {
    const [h, accepts] = await Promise.all([health(node.apiPort), probePublish(node.srtPort, `probe-${node.id}-${n}`)]);
    healthAfter.push({ node: node.id, code: h.code, status: h.status, accepts, truthful: (h.code === 200) === accepts });
  }
  const errorsAfter = env.nodes.reduce((a, x) => a + x.errors.length, 0);
  // RSS change of each node over the fault (same process only: a restarted node is left out).
  const rssDeltaMb: Record<string, number> = {};
  for (const x of env.nodes) {
    const b = rssBefore.get(x);
    const a = x.sample(0);
    if (b !== undefined && a !== undefined && a.pid === b.pid) rssDeltaMb[x.id] = Math.round((a.rssKb - b.rssKb) / 102.4) / 10;
  }
  return {
    n,
    setup: env.name,
    kind,
    detail: inj.detail,
    at,
    recoverFrom: inj.recoverFrom,
    end,
    touchedStreams: inj.touchedStreams,
    touched: touched.length,
    touchedLost: rt.filter((r) => r.lostData).length,
    untouched: untouched.length,
    untouchedLost: ru.filter((x) => x.r.lostData).length,
    untouchedDataLost: ru.filter((x) => {
      const b = before.get(x.v)!;
      return x.v.lost > b.lost || x.v.cc > b.cc || x.v.reconnects > b.reconnects;
    }).length,
    untouchedStallsBeyondBenchLag: ru.filter((x) => {
      const b = before.get(x.v)!;
      if (!x.r.lostData || x.v.lost > b.lost || x.v.cc > b.cc || x.v.reconnects > b.reconnects) return false;
      const gaps = x.v.gaps.filter(([a, z]) => z >= winFrom && a <= env.t0 + end);
      return gaps.some(([a, z]) => z - a > lag.max / 1e6 + 250);
    }).length,
    untouchedLostDetail: ru.filter((x) => x.r.lostData).map((x) => {
      const b = before.get(x.v)!;
      const gaps = x.v.gaps.filter(([a, z]) => z >= winFrom && a <= env.t0 + end).map(([a, z]) => `${fmt((a - start) / 1000, 2)}…${fmt((z - start) / 1000, 2)} s`);
      return `${x.v.stream}#${x.v.index}: lost ${x.v.lost - b.lost}, cc ${x.v.cc - b.cc}, reconnects ${x.v.reconnects - b.reconnects}, gaps ${gaps.join(' ') || 'none'}, recovery ${fmt(x.r.recoveryMs / 1000, 2)} s`;
    }),
    maxRecoveryS: finite.length === 0 ? (rt.length === 0 ? 0 : null) : Math.max(...finite) / 1000,
    notRecovered: rt.filter((r) => !Number.isFinite(r.recoveryMs)).length + ru.filter((x) => !Number.isFinite(x.r.recoveryMs)).length,
    ...(survivorsRecoveryS !== undefined ? { survivorsRecoveryS } : {}),
    ...(survivorsAfterPublisherS !== undefined ? { survivorsAfterPublisherS } : {}),
    ...(inj.ownerKilled !== undefined ? { ownerKilled: inj.ownerKilled } : {}),
    lostMessages: sum((c) => c.lost),
    ccErrors: sum((c) => c.cc),
    reconnects: sum((c) => c.reconnects),
    healthDuring: summarizeHealth(during),
    healthAfter,
    truthful: healthAfter.every((h) => h.truthful),
    nodeErrors: errorsAfter - errorsBefore,
    benchLagMaxMs: lag.max / 1e6,
    rssDeltaMb,
    extra: inj.extra,
  };
}

// ---- a setup ----------------------------------------------------------------------------------

interface SetupResult {
  name: 'A' | 'B';
  description: string;
  faults: FaultRecord[];
  samples: ResourceSample[];
  startSample: Record<string, ResourceSample>;
  endSample: Record<string, ResourceSample>;
  /** After the end sample: each node's memory once malloc_trim ran (what glibc only kept cached is gone). */
  afterTrim: Record<string, MemAnswer>;
  restarts: Record<string, number>;
  finalChecks: Array<{ what: string; ok: boolean; detail: string }>;
  viewersConnected: number;
  viewersTotal: number;
  totals: { msgs: number; lost: number; cc: number; reconnects: number; publisherConnects: number };
  nodeErrorLines: string[];
  /** nginx's error log (setup B), read when the setup ends. */
  nginxLog: {
    noLive: number;
    failed: number;
    sample: string[];
    /** "upstream server temporarily disabled" lines: nginx's passive marking (max_fails) at work. */
    disabled: number;
    /** The access log's first 300 lines: one line per finished UDP session (client -> upstream, bytes each way). */
    access: string[];
    /** Sessions per upstream, and of those the ones that never got a datagram back (to_client=0). */
    sessionsByUpstream: Record<string, { sessions: number; unanswered: number }>;
  };
  load: { machineBusyPct: number; oursPct: number; othersPct: number; loadavg: number[] };
}

interface Options {
  durationMs: number;
  seed: number;
  setups: Array<'A' | 'B'>;
  faults: FaultKind[];
  viewers: number;
  bitrate: number;
  /** SRTO_PEERIDLETIMEO of the push publisher, ms; 0: libsrt's default (5000). */
  publisherIdleMs: number;
  /** Directory for each node's main-thread heap snapshot at the start and the end sample (--heap-snapshots DIR). */
  heapSnapshots?: string;
  /** nginx stream config to rewrite for setup B instead of deploy/nginx/srt-lb.conf (to compare variants). */
  lbConfig?: string;
  maxFaults: number;
  /** > 0: exactly this many faults per setup, whatever the duration (for the harness's own test). */
  count: number;
  outDir: string;
}

async function runSetup(name: 'A' | 'B', opts: Options, budgetMs: number, random: () => number): Promise<SetupResult> {
  const cleanups: Array<() => unknown> = [];
  const hook: AfterHook = { after: (fn) => void cleanups.push(fn) };
  const dir = mkdtempSync(join(tmpdir(), `srt-relay-chaos-${name}-`));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const setupStart = now();
  const nodes: Node[] = [];
  const viewers: Viewer[] = [];
  let publisher: Publisher | undefined;
  const nginxLog: SetupResult['nginxLog'] = { noLive: 0, failed: 0, sample: [], disabled: 0, access: [], sessionsByUpstream: {} };
  try {
    const file = join(dir, 'loop.ts');
    copyFileSync(await tsFixture(), file);
    const fileBytes = readFileSync(file);
    const config = join(dir, 'chaos.json');
    writeFileSync(
      config,
      JSON.stringify({
        streams: {
          push: { source: 'push://', passphrase: { publish: PUSH_SECRET } },
          file: { source: `file://${file}`, loop: true, alwaysOn: true },
          locked: { source: 'push://', passphrase: { publish: LOCKED_SECRET } },
        },
      }),
    );
    let redis: RedisServer | undefined;
    let entryPort: number;
    let nginxPid = 0;
    if (name === 'A') {
      const [srt] = await freeUdpPorts(1);
      const api = await freeTcpPort();
      nodes.push(new Node('a', srt!, api, ['--config', config, '--srt-port', String(srt), '--api-port', String(api), '--workers', '2', '--log-level', 'warn']));
    } else {
      redis = await RedisServer.start({ t: hook });
      for (let i = 1; i <= 3; i++) {
        const [srt, internal] = await freeUdpPorts(2);
        const api = await freeTcpPort();
        nodes.push(
          new Node(`b${i}`, srt!, api, [
            '--config', config, '--node-id', `b${i}`, '--srt-port', String(srt), '--internal-port', String(internal), '--api-port', String(api),
            '--redis', redis.url(), '--workers', '2', '--log-level', 'info',
          ]),
        );
      }
    }
    const t0 = now();
    for (const n of nodes) {
      n.start(t0);
      cleanups.push(() => n.stop());
    }
    await Promise.all(nodes.map((n) => n.waitReady()));
    if (name === 'B') {
      // The operator's config (deploy/nginx/srt-lb.conf: hash consistent, max_fails=1 fail_timeout=10s, 8 MB buffers).
      const upstreams = nodes.map((n) => `127.0.0.1:${n.srtPort}`);
      const lbConf = readFileSync(opts.lbConfig ?? join(repoRoot(), 'deploy', 'nginx', 'srt-lb.conf'), 'utf8');
      const lb = await NginxUdp.start({ upstreams, t: { after: () => undefined }, streamBlock: (port, d) => rewriteDeployConfig(lbConf, port, upstreams, d) });
      cleanups.push(async () => {
        const log = lb.errorLog().split('\n');
        nginxLog.noLive = log.filter((l) => l.includes('no live upstreams')).length;
        nginxLog.failed = log.filter((l) => /\[error\]/.test(l)).length;
        nginxLog.sample = log.filter((l) => /\[error\]/.test(l)).slice(0, 5);
        nginxLog.disabled = log.filter((l) => l.includes('upstream server temporarily disabled')).length;
        try {
          nginxLog.access = readFileSync(join(lb.dir, 'access.log'), 'utf8').split('\n').filter((l) => l.trim() !== '');
        } catch {
          nginxLog.access = [];
        }
        for (const l of nginxLog.access) {
          const m = /-> (\S+) \S+ from_client=\d+ to_client=(\d+)/.exec(l);
          if (m === null) continue;
          const e = (nginxLog.sessionsByUpstream[m[1]!] ??= { sessions: 0, unanswered: 0 });
          e.sessions++;
          if (m[2] === '0') e.unanswered++;
        }
        nginxLog.access = nginxLog.access.slice(0, 300);
        await lb.stop();
      });
      entryPort = lb.port;
      try {
        nginxPid = Number(readFileSync(join(lb.dir, 'nginx.pid'), 'utf8').trim());
      } catch {
        nginxPid = 0;
      }
    } else entryPort = nodes[0]!.srtPort;

    publisher = new Publisher(entryPort, 'push', PUSH_SECRET, opts.bitrate, opts.publisherIdleMs > 0 ? opts.publisherIdleMs : undefined);
    publisher.start();
    for (let i = 0; i < 1000 && publisher.connects === 0; i++) await delay(20);
    for (const stream of ['push', 'file'] as const) for (let i = 0; i < opts.viewers; i++) viewers.push(new Viewer(i, stream, entryPort));
    for (const v of viewers) v.start();
    const env: Env = { name, nodes, entryPort, viewers, publisher, file, fileBytes, ...(redis !== undefined ? { redis } : {}), t0, healthLog: [], random };
    // Health poller and resource sampler for the whole setup.
    let polling = true;
    const samples: ResourceSample[] = [];
    const cpu0 = machineCpu();
    const self0 = process.cpuUsage();
    let oursAcc = 0;
    let oursLast = new Map<string, number>();
    const loads: number[] = [];
    const poller = (async () => {
      while (polling) {
        const t = now() - t0;
        await Promise.all(nodes.map(async (n) => env.healthLog.push({ t, node: n.id, ...(await health(n.apiPort)) })));
        await delay(HEALTH_MS);
      }
    })();
    const sampler = (async () => {
      while (polling) {
        const t = now() - t0;
        for (const n of nodes) {
          const s = n.sample(t);
          n.askMemory();
          if (s === undefined) continue;
          samples.push(s);
          const key = `${n.id}/${s.incarnation}`;
          oursAcc += s.cpuS - (oursLast.get(key) ?? s.cpuS);
          oursLast.set(key, s.cpuS);
        }
        loads.push(loadavg()[0]!);
        for (let i = 0; i < SAMPLE_MS / 100 && polling; i++) await delay(100);
      }
    })();

    // Warm-up: every viewer receives.
    const warmEnd = now() + 30_000;
    while (now() < warmEnd && !viewers.every((v) => v.receiving)) await delay(200);
    // The rings fill for bufferTimeMs (50 s by default) before memory is flat: the start sample after that.
    const warmUpMs = Math.min(60_000, budgetMs / 5);
    await delay(warmUpMs);
    const viewersConnected = viewers.filter((v) => v.receiving).length;
    say(`[${name}] ${nodes.length} node(s), ${viewersConnected}/${viewers.length} viewers receiving, publisher connected ${publisher.connects}×; warm-up ${fmt(warmUpMs / 1000, 0)} s, then faults until ${fmt((budgetMs - 25_000) / 60_000, 1)} min`);
    const startSample: Record<string, ResourceSample> = {};
    if (opts.heapSnapshots !== undefined) for (const n of nodes) n.heapSnapshot(join(opts.heapSnapshots, `${name}-${n.id}-start.heapsnapshot`));
    for (const n of nodes) {
      const s = n.sample(now() - t0);
      if (s !== undefined) startSample[n.id] = s;
    }
    const kinds = opts.faults.filter((k) => name === 'B' || !CLUSTER_ONLY.has(k));
    const faults: FaultRecord[] = [];
    const endFaultsAt = setupStart + budgetMs - 25_000;
    let bag: FaultKind[] = [];
    while ((opts.count > 0 ? faults.length < opts.count : now() < endFaultsAt && faults.length < opts.maxFaults) && kinds.length > 0) {
      if (bag.length === 0) {
        bag = [...kinds];
        for (let i = bag.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [bag[i], bag[j]] = [bag[j]!, bag[i]!];
        }
      }
      const kind = bag.shift()!;
      const f = await runFault(env, faults.length + 1, kind);
      faults.push(f);
      const mmss = `${String(Math.floor(f.at / 60_000)).padStart(2, '0')}:${String(Math.floor((f.at / 1000) % 60)).padStart(2, '0')}`;
      say(
        `[${name} ${mmss}] #${f.n} ${kind}: ${f.detail} | touched ${f.touchedLost}/${f.touched} lost data, untouched ${f.untouchedLost}/${f.untouched}` +
          ` | recovery ${f.maxRecoveryS === null ? 'NOT RECOVERED' : `${fmt(f.maxRecoveryS, 2)} s`}${f.survivorsRecoveryS !== undefined ? `, survivors ${f.survivorsRecoveryS === null ? 'n/a' : `${fmt(f.survivorsRecoveryS, 2)} s`} (${f.survivorsAfterPublisherS === null || f.survivorsAfterPublisherS === undefined ? 'n/a' : fmt(f.survivorsAfterPublisherS, 2)} s after the publisher reconnected)` : ''}` +
          `${inj0(f)} | bench lag max ${Math.round(f.benchLagMaxMs)} ms | healthz during: ${f.healthDuring}; after: ${f.truthful ? 'truthful' : `UNTRUE ${JSON.stringify(f.healthAfter.filter((h) => !h.truthful))}`}`,
      );
      // Quiet time between faults.
      await delay(3000);
    }
    // Quiet end, then the end sample.
    await delay(10_000);
    const endSample: Record<string, ResourceSample> = {};
    for (const n of nodes) {
      const s = n.sample(now() - t0);
      if (s !== undefined) endSample[n.id] = s;
    }
    const afterTrim: Record<string, MemAnswer> = {};
    for (const n of nodes) {
      const m = await n.memoryAfterTrim();
      if (m !== undefined) afterTrim[n.id] = m;
    }
    if (opts.heapSnapshots !== undefined) for (const n of nodes) n.heapSnapshot(join(opts.heapSnapshots, `${name}-${n.id}-end.heapsnapshot`));
    const cpu1 = machineCpu();
    const self = process.cpuUsage(self0);
    const wall = cpu1.total - cpu0.total;
    const busy = cpu1.busy - cpu0.busy;
    const oursS = oursAcc + (self.user + self.system) / 1e6 + (nginxPid > 0 ? pidCpu(nginxPid) ?? 0 : 0) + (redis?.pid !== undefined ? pidCpu(redis.pid) ?? 0 : 0);
    // Every port still accepts: a new publisher and viewer on a new stream, and on `locked` with its secret.
    const finalChecks: SetupResult['finalChecks'] = [];
    const check = async (what: string, port: number, stream: string, pass?: string): Promise<void> => {
      const r = await portAccepts(port, stream, pass);
      finalChecks.push({ what, ...r });
    };
    if (name === 'B') await check(`nginx :${entryPort} (new stream)`, entryPort, 'final-lb');
    for (const n of nodes) await check(`node ${n.id} SRT :${n.srtPort} (new stream)`, n.srtPort, `final-${n.id}`);
    await check(`${name === 'B' ? 'nginx' : `node ${nodes[0]!.id}`} locked stream with its secret (after the wrong-secret floods)`, entryPort, 'locked', LOCKED_SECRET);
    for (const n of nodes) {
      const h = await health(n.apiPort);
      finalChecks.push({ what: `node ${n.id} API :${n.apiPort} /healthz`, ok: h.code === 200, detail: `${h.code} ${h.status} in ${Math.round(h.ms)} ms` });
    }
    polling = false;
    await Promise.all([poller, sampler]);
    oursLast = new Map();
    const restarts: Record<string, number> = {};
    for (const n of nodes) restarts[n.id] = n.incarnation;
    const result: SetupResult = {
      name,
      description: name === 'A' ? `1 node (2 workers), ${opts.viewers} viewers × 2 streams` : `3 nodes (2 workers each), redis-server, nginx UDP LB, ${opts.viewers} viewers × 2 streams through nginx`,
      faults,
      samples,
      startSample,
      endSample,
      afterTrim,
      restarts,
      finalChecks,
      viewersConnected,
      viewersTotal: viewers.length,
      totals: {
        msgs: viewers.reduce((a, v) => a + v.msgs, 0),
        lost: viewers.reduce((a, v) => a + v.lost, 0),
        cc: viewers.reduce((a, v) => a + v.cc, 0),
        reconnects: viewers.reduce((a, v) => a + v.reconnects, 0),
        publisherConnects: publisher.connects,
      },
      nginxLog,
      nodeErrorLines: nodes.flatMap((n) => n.errors.slice(0, 20).map((e) => `${n.id} +${fmt(e.t / 1000, 1)}s ${e.line}`)),
      load: {
        machineBusyPct: (100 * busy) / Math.max(1e-9, wall),
        oursPct: (100 * oursS) / Math.max(1e-9, wall),
        othersPct: Math.max(0, (100 * (busy - oursS)) / Math.max(1e-9, wall)),
        loadavg: [Math.min(...loads), loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length), Math.max(...loads)],
      },
    };
    return result;
  } finally {
    for (const v of viewers) v.stop();
    publisher?.stop();
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // best effort
      }
    }
  }
}

// ---- report -----------------------------------------------------------------------------------

function slopePerMin(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return Number.NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60_000;
}

interface Goal {
  goal: string;
  pass: boolean;
  detail: string;
}

function memoryRows(r: SetupResult): string[][] {
  const rows: string[][] = [];
  for (const [id, start] of Object.entries(r.startSample)) {
    const end = r.endSample[id];
    if (end === undefined || end.incarnation !== start.incarnation || start.mem === undefined || end.mem === undefined) continue;
    const own = r.samples.filter((s) => s.node === id && s.incarnation === end.incarnation && s.t >= start.t);
    if (own.length < 4) continue;
    const at = (q: number): ResourceSample => own[Math.min(own.length - 1, Math.floor(q * (own.length - 1)))]!;
    const half = own.filter((s) => s.t >= (start.t + end.t) / 2);
    const pair = (f: (m: MemAnswer) => number): string => `${fmt(f(start.mem!), 1)} → ${fmt(f(end.mem!), 1)}`;
    rows.push([
      id,
      `${fmt(start.rssKb / 1024, 1)} → ${fmt(end.rssKb / 1024, 1)}`,
      pair((m) => m.mallocInUse),
      pair((m) => m.mallocFree),
      pair((m) => m.mallocMmapped),
      pair((m) => m.v8HeapUsed),
      [0.25, 0.5, 0.75, 1].map((q) => fmt(at(q).rssKb / 1024, 1)).join(' '),
      fmt(slopePerMin(half.map((s) => s.t), half.map((s) => s.rssKb / 1024)), 3),
      r.afterTrim[id] !== undefined ? `${fmt(r.afterTrim[id]!.rss, 1)}, ${fmt(r.afterTrim[id]!.mallocInUse, 1)}` : '–',
    ]);
  }
  return rows;
}

function resourceRows(r: SetupResult): { rows: string[][]; goals: Goal[] } {
  const rows: string[][] = [];
  const goals: Goal[] = [];
  for (const [id, start] of Object.entries(r.startSample)) {
    const end = r.endSample[id];
    const restarted = (r.restarts[id] ?? 0) > 0;
    const own = r.samples.filter((s) => s.node === id && s.incarnation === (end?.incarnation ?? 0));
    const xs = own.map((s) => s.t);
    const pct = (a: number, b: number): number => (100 * (b - a)) / a;
    if (end === undefined) {
      rows.push([id, 'not running at the end', '', '', '', '', '', '']);
      continue;
    }
    rows.push([
      `${id}${restarted ? ` (restarted ${r.restarts[id]}×; end = incarnation ${end.incarnation})` : ''}`,
      `${fmt(start.rssKb / 1024, 1)} → ${fmt(end.rssKb / 1024, 1)}`,
      restarted ? 'n/a' : `${fmt(pct(start.rssKb, end.rssKb), 1)} %`,
      fmt(slopePerMin(xs, own.map((s) => s.rssKb / 1024)), 3),
      `${start.fds} → ${end.fds}`,
      fmt(slopePerMin(xs, own.map((s) => s.fds)), 3),
      `${start.threads} → ${end.threads}`,
      fmt(slopePerMin(xs, own.map((s) => s.threads)), 3),
    ]);
    if (!restarted) {
      const rssOk = Math.abs(pct(start.rssKb, end.rssKb)) <= 10;
      const fdOk = Math.abs(pct(start.fds, end.fds)) <= 10;
      goals.push({ goal: `[${r.name}] node ${id}: RSS and fds back to start ±10 %`, pass: rssOk && fdOk, detail: `RSS ${fmt(pct(start.rssKb, end.rssKb), 1)} %, fds ${fmt(pct(start.fds, end.fds), 1)} % (${start.fds} → ${end.fds})` });
    }
  }
  return { rows, goals };
}

function report(opts: Options, results: SetupResult[], started: number): { md: string; goals: Goal[] } {
  const goals: Goal[] = [];
  let md = `# chaos run ${fileStamp(new Date(started))}\n\n`;
  md += `Duration ${fmt(opts.durationMs / 60_000, 1)} min (half per setup), seed ${opts.seed}, faults ${opts.faults.join(', ')}; ${opts.viewers} viewers per stream; push stream ${opts.bitrate} Mbit/s synthetic TS (its publisher's peer idle timeout ${opts.publisherIdleMs > 0 ? `${opts.publisherIdleMs} ms` : "libsrt's default, 5000 ms"}); file stream a looped 4 s 320×240 H.264/AAC file (alwaysOn)${opts.lbConfig !== undefined ? `; nginx config ${opts.lbConfig}` : ''}. `;
  md += `"Lost data" for a viewer in a fault's window: a lost stamp sequence number, a TS continuity error, a reconnect or a gap ≥ ${GAP_MS} ms without data. Recovery: from the fault (for a truncation: from the file's restore) until the last such gap ended. /healthz "truthful" after a fault: it answered 200 exactly on the nodes whose SRT port took a probe publisher. This is a bench on a shared 2-core machine: it reports, it never asserts.\n\n`;
  for (const r of results) {
    md += `## Setup ${r.name}: ${r.description}\n\n`;
    md += `Viewers receiving before the first fault: ${r.viewersConnected}/${r.viewersTotal}. Machine busy ${fmt(r.load.machineBusyPct, 0)} % over the setup (this run's processes ${fmt(r.load.oursPct, 0)} %, others ${fmt(r.load.othersPct, 0)} %), load average min/mean/max ${r.load.loadavg.map((x) => fmt(x, 2)).join('/')}. `;
    md += `Totals: ${r.totals.msgs} messages received, ${r.totals.lost} lost push messages, ${r.totals.cc} CC errors, ${r.totals.reconnects} viewer reconnects, publisher connected ${r.totals.publisherConnects}×.\n\n`;
    const header = ['#', 't s', 'fault', 'detail', 'touched: lost/all', 'untouched: lost/all', 'recovery s', 'lost msgs', 'CC err', 'reconn.', '/healthz during', 'after: truthful', 'node error lines', 'bench lag ms', 'RSS Δ MB'];
    const rows = r.faults.map((f) => [
      String(f.n),
      fmt(f.at / 1000, 0),
      f.kind,
      f.detail.replace(/\|/g, '/'),
      `${f.touchedLost}/${f.touched}`,
      `${f.untouchedLost}/${f.untouched}`,
      `${f.maxRecoveryS === null ? 'NOT RECOVERED' : fmt(f.maxRecoveryS, 2)}${f.survivorsRecoveryS !== undefined ? ` (survivors: ${f.survivorsRecoveryS === null ? 'n/a' : fmt(f.survivorsRecoveryS, 2)}; after the publisher's reconnect: ${f.survivorsAfterPublisherS === null || f.survivorsAfterPublisherS === undefined ? 'n/a' : fmt(f.survivorsAfterPublisherS, 2)})` : ''}`,
      String(f.lostMessages),
      String(f.ccErrors),
      String(f.reconnects),
      f.healthDuring,
      f.truthful ? 'yes' : `NO: ${f.healthAfter.filter((h) => !h.truthful).map((h) => `${h.node} ${h.code} ${h.status}, port ${h.accepts ? 'accepts' : 'refuses'}`).join('; ')}`,
      String(f.nodeErrors),
      String(Math.round(f.benchLagMaxMs)),
      Object.entries(f.rssDeltaMb).map(([k, v]) => `${k} ${v >= 0 ? '+' : ''}${v}`).join(' '),
    ]);
    md += `${markdownTable(header, rows)}\n\n`;
    const untouchedDetail = r.faults.filter((f) => f.untouchedLostDetail.length > 0);
    if (untouchedDetail.length > 0) {
      md += `Untouched viewers that lost data:\n\n`;
      for (const f of untouchedDetail) md += `- #${f.n} ${f.kind}: ${f.untouchedLostDetail.join('; ')}\n`;
      md += '\n';
    }
    const ownerKills = r.faults.filter((f) => f.kind === 'node-kill' && f.ownerKilled === true);
    if (ownerKills.length > 0) {
      md += `Owner kills step by step (times from the SIGKILL; node lines about the push stream at info level, read from the nodes' stdout):\n\n`;
      for (const f of ownerKills) {
        const pub = (f.extra['publisher'] as string[] | undefined) ?? [];
        const steps = (f.extra['timeline'] as string[] | undefined) ?? [];
        md += `- #${f.n} (${String(f.extra['node'])}): publisher ${pub.join(', ') || '–'}; nodes ${steps.join(', ') || '–'}; ${f.extra['noSurvivors'] === true ? 'no push viewer on a surviving node' : `survivors received again after ${f.survivorsRecoveryS === null || f.survivorsRecoveryS === undefined ? 'n/a' : `${fmt(f.survivorsRecoveryS, 2)} s`}`}\n`;
      }
      md += '\n';
    }
    const res = resourceRows(r);
    md += `Resources (start = before the first fault, end = after the last one and 10 s of quiet; slopes per minute over the samples of the last incarnation):\n\n`;
    md += `${markdownTable(['node', 'RSS MB', 'RSS Δ', 'RSS MB/min', 'fds', 'fds/min', 'threads', 'threads/min'], res.rows)}\n\n`;
    const mem = memoryRows(r);
    if (mem.length > 0) md += `Where the memory is, MB (start → end; glibc heap over all arenas from mallinfo2, V8 = the main thread's heap; RSS at each quarter of the setup and its slope over the second half tell a warm-up from a leak):\n\n${markdownTable(['node', 'RSS', 'malloc in use', 'malloc free', 'malloc mmapped', 'V8 heap used', 'RSS at ¼ ½ ¾ end', 'RSS MB/min, 2nd half', 'after malloc_trim: RSS, malloc in use'], mem)}\n\n`;
    md += `Final checks:\n\n${r.finalChecks.map((c) => `- ${c.ok ? 'ok' : 'FAILED'}: ${c.what}: ${c.detail}`).join('\n')}\n\n`;
    if (r.name === 'B') md += `nginx access log: sessions (of them never answered) per upstream: ${Object.entries(r.nginxLog.sessionsByUpstream).map(([u, c]) => `${u} ${c.sessions} (${c.unanswered})`).join(', ') || '–'}; "upstream server temporarily disabled" ${r.nginxLog.disabled}×.\n\n`;
    if (r.name === 'B') md += `nginx error log: ${r.nginxLog.failed} [error] lines, ${r.nginxLog.noLive} "no live upstreams"${r.nginxLog.sample.length > 0 ? `; first ones:\n\n\`\`\`\n${r.nginxLog.sample.join('\n')}\n\`\`\`` : ''}\n\n`;
    if (r.nodeErrorLines.length > 0) md += `Node log lines at level error/fatal (first 20 per node):\n\n\`\`\`\n${r.nodeErrorLines.join('\n')}\n\`\`\`\n\n`;
    // Goals of this setup.
    const allUntouched = r.faults.reduce((a, f) => a + f.untouched, 0);
    const lostUntouched = r.faults.reduce((a, f) => a + f.untouchedLost, 0);
    const dataUntouched = r.faults.reduce((a, f) => a + f.untouchedDataLost, 0);
    const stallsBeyond = r.faults.reduce((a, f) => a + f.untouchedStallsBeyondBenchLag, 0);
    goals.push({
      goal: `[${r.name}] viewers of streams a fault did not touch lose nothing`,
      pass: lostUntouched === 0,
      detail: `${lostUntouched} of ${allUntouched} untouched viewer-faults lost data or stalled ≥ ${GAP_MS} ms: ${dataUntouched} lost messages, saw CC errors or reconnected; ${lostUntouched - dataUntouched} only stalled, ${stallsBeyond} of them longer than this bench's own longest event-loop stall + 250 ms (the others may be the bench's)`,
    });
    const kills = ownerKills.filter((f) => f.extra['noSurvivors'] !== true);
    const vacuous = ownerKills.length - kills.length;
    if (kills.length > 0) {
      const worst = kills.map((f) => f.survivorsRecoveryS ?? Number.POSITIVE_INFINITY);
      const share = kills.map((f) => (f.survivorsAfterPublisherS === null || f.survivorsAfterPublisherS === undefined ? 'n/a' : fmt(f.survivorsAfterPublisherS, 2)));
      goals.push({
        goal: `[${r.name}] viewers on surviving nodes receive again ≤ 5 s after the owner node dies`,
        pass: worst.every((x) => x <= 5),
        detail: `${kills.length} owner kills with push viewers on surviving nodes${vacuous > 0 ? ` (and ${vacuous} with every push viewer on the killed node, left out)` : ''}, survivors' recovery ${worst.map((x) => (Number.isFinite(x) ? `${fmt(x, 2)} s` : 'not recovered')).join(', ')}; of which after the publisher's new connection (the relay's share; the publisher notices the dead node by its peer idle timeout, ${opts.publisherIdleMs > 0 ? `${opts.publisherIdleMs} ms (--publisher-idle-ms)` : "libsrt's default 5 s"}): ${share.join(', ')} s`,
      });
    } else if (r.name === 'B') goals.push({ goal: `[${r.name}] viewers on surviving nodes receive again ≤ 5 s after the owner node dies`, pass: false, detail: vacuous > 0 ? `${vacuous} owner kills, each with every push viewer on the killed node: not measured` : 'no owner kill happened in this run: not measured' });
    const failed = r.finalChecks.filter((c) => !c.ok);
    goals.push({ goal: `[${r.name}] every port accepts at the end`, pass: failed.length === 0, detail: failed.length === 0 ? `${r.finalChecks.length} checks ok` : failed.map((c) => c.what).join('; ') });
    goals.push(...res.goals);
    const untrue = r.faults.filter((f) => !f.truthful);
    goals.push({ goal: `[${r.name}] /healthz tells the truth after every fault`, pass: untrue.length === 0, detail: untrue.length === 0 ? `${r.faults.length} faults` : `untrue after #${untrue.map((f) => f.n).join(', #')}` });
  }
  md += `## Goals\n\n${goals.map((g) => `- ${g.pass ? 'PASS' : 'FAIL'} ${g.goal}: ${g.detail}`).join('\n')}\n`;
  return { md, goals };
}

// ---- main -------------------------------------------------------------------------------------

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '20m' },
      seed: { type: 'string', default: '1' },
      setups: { type: 'string', default: 'A,B' },
      faults: { type: 'string', default: ALL_FAULTS.join(',') },
      viewers: { type: 'string', default: '10' },
      bitrate: { type: 'string', default: '1.5' },
      'publisher-idle-ms': { type: 'string', default: '0' },
      'lb-config': { type: 'string' },
      'heap-snapshots': { type: 'string' },
      'max-faults': { type: 'string', default: '1000' },
      count: { type: 'string', default: '0' },
      out: { type: 'string' },
    },
  });
  const faults = values.faults!.split(',').map((s) => s.trim()).filter((s) => s !== '') as FaultKind[];
  for (const f of faults) if (!(ALL_FAULTS as readonly string[]).includes(f)) throw new Error(`--faults: unknown fault '${f}' (known: ${ALL_FAULTS.join(', ')})`);
  const setups = values.setups!.split(',').map((s) => s.trim().toUpperCase()) as Array<'A' | 'B'>;
  for (const s of setups) if (s !== 'A' && s !== 'B') throw new Error(`--setups: A and/or B, got '${s}'`);
  const opts: Options = {
    durationMs: parseDuration(values.duration!),
    seed: Number(values.seed),
    setups,
    faults,
    viewers: Number(values.viewers),
    bitrate: Number(values.bitrate),
    publisherIdleMs: Number(values['publisher-idle-ms']),
    ...(values['lb-config'] !== undefined ? { lbConfig: values['lb-config'] } : {}),
    ...(values['heap-snapshots'] !== undefined ? { heapSnapshots: values['heap-snapshots'] } : {}),
    maxFaults: Number(values['max-faults']),
    count: Number(values.count),
    outDir: values.out ?? join(repoRoot(), 'bench', 'results'),
  };
  if (setups.includes('B') && streamModulePath() === undefined) throw new Error('setup B needs nginx with the stream module (Debian: nginx libnginx-mod-stream)');
  const started = Date.now();
  const random = rng(opts.seed);
  say(`chaos: ${fmt(opts.durationMs / 60_000, 1)} min, seed ${opts.seed}, setups ${setups.join(',')}, load average ${loadavg().map((x) => fmt(x, 2)).join(' ')}`);
  const results: SetupResult[] = [];
  for (const s of setups) results.push(await runSetup(s, opts, opts.durationMs / setups.length, random));
  const { md, goals } = report(opts, results, started);
  const stamp = fileStamp(new Date(started));
  mkdirSync(opts.outDir, { recursive: true });
  const jsonFile = join(opts.outDir, `chaos-${stamp}.json`);
  const mdFile = join(opts.outDir, `chaos-${stamp}.md`);
  const machine = machineInfo(native.version());
  writeFileSync(jsonFile, `${JSON.stringify({ bench: 'chaos', date: new Date(started).toISOString(), args: opts, machine, source: sourceInfo(), durationS: (Date.now() - started) / 1000, goals, results }, null, 2)}\n`);
  writeFileSync(mdFile, `${md}\nMachine: ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, libsrt ${machine.libsrt}.\n`);
  process.stdout.write(`\n${goals.map((g) => `${g.pass ? 'PASS' : 'FAIL'} ${g.goal}: ${g.detail}`).join('\n')}\nresults: ${mdFile}\n         ${jsonFile}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
