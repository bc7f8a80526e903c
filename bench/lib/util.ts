/**
 * Shared helpers for the benchmarks: CPU and memory from /proc, machine description, ports,
 * child processes that talk in JSON lines, medians and tables. Linux only (reads /proc).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

/** sysconf(_SC_CLK_TCK): the unit of utime/stime in /proc/<pid>/stat (100 on Linux). */
export const CLK_TCK = 100;

/** Repository root (works from bench/lib/*.ts and from dist/bench/lib/*.js). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bench', 'floor'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the repository root (package.json + bench/floor) above ' + fileURLToPath(import.meta.url));
}

/** Compiled bench script path: dist/bench/<rel>.js. */
export function distBench(rel: string): string {
  return join(repoRoot(), 'dist', 'bench', rel);
}

/** The C floor programs (built by bench/floor/build.sh). */
export function floorBin(name: 'srt-blast' | 'srt-sink' | 'srt-fanout-floor' | 'udp-impair'): string {
  return join(repoRoot(), 'bench', 'floor', 'bin', name);
}

/** Builds the C floor programs if needed (bench/floor/build.sh skips up-to-date ones). */
export function buildFloor(): void {
  execFileSync('bash', [join(repoRoot(), 'bench', 'floor', 'build.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
}

// ---- /proc ----------------------------------------------------------------------------------

/** Fields of a /proc/<pid>/stat (or task/<tid>/stat) line after the "(comm)" part, 0-based from field 3. */
function statFields(text: string): string[] {
  const close = text.lastIndexOf(')');
  return text.slice(close + 2).trim().split(' ');
}

/** user+sys CPU seconds of a process (all its threads) or one thread; undefined if gone. */
export function procCpuSeconds(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const f = statFields(text);
  // f[0] is field 3 (state); utime = field 14 -> f[11], stime = field 15 -> f[12].
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

export function pidCpu(pid: number): number | undefined {
  return procCpuSeconds(`/proc/${pid}/stat`);
}

export interface ThreadSample {
  tid: number;
  comm: string;
  cpu: number;
  /** voluntary context switches: how often the thread went to sleep (roughly: wake-ups). */
  wakeups: number;
}

/** Every thread of a process with its name and user+sys CPU seconds. */
export function threadSamples(pid: number): ThreadSample[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: ThreadSample[] = [];
  for (const t of tids) {
    const cpu = procCpuSeconds(`/proc/${pid}/task/${t}/stat`);
    let comm = '';
    let wakeups = 0;
    try {
      comm = readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
      const status = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      wakeups = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      continue;
    }
    if (cpu !== undefined) out.push({ tid: Number(t), comm, cpu, wakeups });
  }
  return out;
}

/** CPU used by each thread between two samples (threads that appeared count from 0). */
export function threadDeltas(before: ThreadSample[], after: ThreadSample[]): ThreadSample[] {
  const b = new Map(before.map((s) => [s.tid, s]));
  return after.map((s) => ({
    tid: s.tid,
    comm: s.comm,
    cpu: Math.max(0, s.cpu - (b.get(s.tid)?.cpu ?? 0)),
    wakeups: Math.max(0, s.wakeups - (b.get(s.tid)?.wakeups ?? 0)),
  }));
}

/** A field of /proc/<pid>/status in kB (VmHWM, VmRSS, ...), in bytes. */
export function procStatusBytes(pid: number, field: string): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Whole-machine CPU counters from /proc/stat (seconds busy and total, all cores). */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

/**
 * Waits (at most maxMs) until the whole machine was less than `busy` (0..1) busy over one
 * second, so a trial does not start in the middle of someone else's build or test run on a
 * shared host. Returns the last measured busy fraction.
 */
export async function waitQuiet(busy = 0.3, maxMs = 30_000): Promise<number> {
  const end = Date.now() + maxMs;
  let last = 1;
  for (;;) {
    const a = machineCpu();
    await delay(1000);
    const b = machineCpu();
    last = (b.busy - a.busy) / Math.max(1e-9, b.total - a.total);
    if (last < busy || Date.now() >= end) return last;
  }
}

/** Polls /proc/<pid>/stat and keeps the last value read, so the CPU of a process that exits on its own is known. */
export class CpuPoller {
  readonly #pids = new Map<number, number>();
  readonly #timer: NodeJS.Timeout;

  constructor(intervalMs = 50) {
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  add(pid: number | undefined): void {
    if (pid === undefined) return;
    this.#pids.set(pid, pidCpu(pid) ?? 0);
  }

  /** Samples every process now. */
  sample(): void {
    for (const pid of this.#pids.keys()) {
      const v = pidCpu(pid);
      if (v !== undefined) this.#pids.set(pid, v);
    }
  }

  /** Last CPU seconds seen for pid (fresh if it still runs). */
  last(pid: number | undefined): number {
    if (pid === undefined) return 0;
    const v = pidCpu(pid);
    if (v !== undefined) this.#pids.set(pid, v);
    return this.#pids.get(pid) ?? 0;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

// ---- machine --------------------------------------------------------------------------------

function readTrim(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  kernel: string;
  node: string;
  libsrt: string;
  rmemMax: number | undefined;
  wmemMax: number | undefined;
}

export function machineInfo(libsrt: string): MachineInfo {
  const cpuinfo = readTrim('/proc/cpuinfo') ?? '';
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const num = (p: string): number | undefined => {
    const t = readTrim(p);
    return t === undefined ? undefined : Number(t);
  };
  return {
    cpuModel: model,
    cores: cpus().length,
    kernel: readTrim('/proc/sys/kernel/osrelease') ?? 'unknown',
    node: process.version,
    libsrt,
    rmemMax: num('/proc/sys/net/core/rmem_max'),
    wmemMax: num('/proc/sys/net/core/wmem_max'),
  };
}

/** Which source was measured: .bench-source.json of a bench/snapshot.sh copy, else git. */
export function sourceInfo(): Record<string, string> {
  const root = repoRoot();
  const snap = readTrim(join(root, '.bench-source.json'));
  if (snap !== undefined) {
    try {
      return JSON.parse(snap) as Record<string, string>;
    } catch {
      // fall through
    }
  }
  try {
    const commit = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['-C', root, 'status', '--porcelain'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .map((l) => l.slice(3).trim())
      .filter((l) => l !== '')
      .join(',');
    return { commit, dirty };
  } catch {
    return { commit: 'unknown' };
  }
}

// ---- ports ----------------------------------------------------------------------------------

/** A UDP port on 127.0.0.1 that was free a moment ago. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Several distinct free UDP ports. */
export async function freeUdpPorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freeUdpPort());
  return [...out];
}

/** True when some UDP socket is bound to `port` (any address), per /proc/net/udp{,6}. */
export function udpPortBound(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    const t = readTrim(f);
    if (t === undefined) continue;
    for (const line of t.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local !== undefined && `${local} `.endsWith(hex)) return true;
    }
  }
  return false;
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string, stepMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(stepMs);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- child processes ------------------------------------------------------------------------

interface Waiter {
  pred: (m: Record<string, unknown>) => boolean;
  resolve: (m: Record<string, unknown>) => void;
}

/** A child process whose stdout is JSON lines (other lines are kept as text). */
export class Child {
  readonly proc: ChildProcess;
  readonly name: string;
  readonly lines: unknown[] = [];
  readonly text: string[] = [];
  stderr = '';
  exitCode: number | null | undefined = undefined;
  signal: NodeJS.Signals | null = null;
  readonly exited: Promise<void>;
  #waiters: Waiter[] = [];

  constructor(name: string, command: string, args: string[], opts: { ipc?: boolean; env?: NodeJS.ProcessEnv } = {}) {
    this.name = name;
    this.proc = spawn(command, args, {
      stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    const rl = createInterface({ input: this.proc.stdout! });
    rl.on('line', (line) => {
      const t = line.trim();
      if (t.startsWith('{')) {
        try {
          this.#message(JSON.parse(t) as Record<string, unknown>);
          return;
        } catch {
          // not JSON after all
        }
      }
      this.text.push(line);
    });
    this.proc.stderr!.on('data', (d: Buffer) => {
      // Keep the tail only: libsrt can log a line every 100 ms.
      this.stderr = (this.stderr + d.toString()).slice(-200_000);
    });
    if (opts.ipc) this.proc.on('message', (m) => this.#message(m as Record<string, unknown>));
    this.exited = new Promise<void>((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.exitCode = code;
        this.signal = signal;
        resolve();
      });
      this.proc.once('error', (err) => {
        this.stderr += `\nspawn error: ${err.message}`;
        this.exitCode = -1;
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  #message(m: Record<string, unknown>): void {
    this.lines.push(m);
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.pred(m)) w.resolve(m);
      else still.push(w);
    }
    this.#waiters = still;
  }

  /** The next (or an already received) JSON message matching pred. Rejects if the process exits first or on timeout. */
  waitMessage(pred: (m: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>> {
    const have = this.lines.find((m) => pred(m as Record<string, unknown>));
    if (have !== undefined) return Promise.resolve(have as Record<string, unknown>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms${this.#tail()}`));
      }, timeoutMs);
      const done = (m: Record<string, unknown>): void => {
        clearTimeout(timer);
        resolve(m);
      };
      this.#waiters.push({ pred, resolve: done });
      void this.exited.then(() => {
        setTimeout(() => {
          if (!this.#waiters.some((w) => w.resolve === done)) return;
          clearTimeout(timer);
          this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
          reject(new Error(`${this.name} exited (code ${String(this.exitCode)}, signal ${String(this.signal)}) before ${what}${this.#tail()}`));
        }, 50);
      });
    });
  }

  waitEvent(event: string, timeoutMs: number): Promise<Record<string, unknown>> {
    return this.waitMessage((m) => m['event'] === event, timeoutMs, `'${event}' message`);
  }

  #tail(): string {
    const t = this.stderr.trim().split('\n').slice(-5).join('\n');
    return t === '' ? '' : `; stderr: ${t}`;
  }

  send(m: unknown): void {
    if (this.running && this.proc.connected) this.proc.send(m as never);
  }

  /** The last JSON line the process printed (C programs print their result last). */
  lastJson(): Record<string, unknown> | undefined {
    return this.lines[this.lines.length - 1] as Record<string, unknown> | undefined;
  }

  /** Sends `signal`, then SIGKILL after graceMs if still running; resolves when exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.proc.kill(signal);
    const timer = setTimeout(() => {
      if (this.running) this.proc.kill('SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Waits for a natural exit up to timeoutMs, then stop(). */
  async finish(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    if (this.running) await this.stop();
  }
}

/** Spawns a compiled bench script (dist/bench/<rel>.js) with the running Node. */
export function nodeChild(name: string, rel: string, args: string[], ipc = false): Child {
  return new Child(name, process.execPath, [distBench(rel), ...args], { ipc });
}

// ---- numbers and tables -----------------------------------------------------------------------

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const m = v.length >> 1;
  return v.length % 2 === 1 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

export function fmt(x: number | undefined, digits = 2): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  return x.toFixed(digits);
}

/** A plain-text table with right-aligned numeric columns. */
export function textTable(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [line(header), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export function markdownTable(header: string[], rows: string[][]): string {
  const sep = header.map((_, i) => (i === 0 ? '---' : '---:'));
  return [header, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** ISO timestamp usable in a file name (no colons). */
export function fileStamp(d = new Date()): string {
  return d.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
}

export function parseList(text: string, what: string): number[] {
  const v = text.split(',').map((s) => Number(s.trim()));
  if (v.length === 0 || v.some((n) => !Number.isFinite(n) || n <= 0)) throw new Error(`${what}: expected a comma-separated list of positive numbers (got '${text}')`);
  return v;
}

export function positive(text: string | undefined, what: string, dflt: number): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${what}: expected a positive number (got '${text}')`);
  return n;
}
