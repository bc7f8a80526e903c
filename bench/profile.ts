/**
 * `npm run bench -- profile`: where the relay's CPU goes during fan-out, by thread and by code
 * (JavaScript vs native), from `perf record -e cpu-clock` samples of the relay process.
 *
 * For each viewer count: one srt-relay node (bench/lib/run-relay.ts, started with
 * `--perf-basic-prof` so V8's JIT code has names) receives 1 publisher × --bitrate and serves N
 * viewers driven by the fan-out harness (`fanout --target external`); once every viewer
 * receives, `perf record -e cpu-clock -F <freq> -p <relay>` samples the whole process for the
 * measuring window. Each sample is put in one thread role (main, worker, reactor, libsrt's
 * RcvQ/SndQ/TsbPd/GC, other node threads) and one code class:
 *   JS       V8: JIT-compiled JavaScript ([JIT] / perf-PID.map) and the `node` binary itself
 *            (interpreter, builtins, IC stubs, GC, libuv, N-API glue) — everything that is not
 *            native code of ours or libsrt's. An upper bound on "JavaScript".
 *   addon    srt_native.node (the project's N-API addon: fan-out loop, reactor, gate)
 *   libsrt   libsrt.so
 *   kernel   [kernel.kallsyms] (UDP send/receive, futex, epoll), attributed to the thread that entered it
 *   libc etc libc, libstdc++, libgcc (C++ exception unwinding inside libsrt), vdso, ld.so, libcrypto
 * The worker threads run both JavaScript (the session loops) and the addon's fan-out sends, so a
 * thread split (bench fanout's "JS %") cannot tell them apart; samples can.
 *
 *   npm run bench -- profile [--viewers 10,25,50] [--bitrate 10M] [--duration 20s] [--freq 1999] [--out DIR]
 *
 * Needs `perf` (Debian linux-perf) and kernel.perf_event_paranoid ≤ 2 for a process of the same
 * user (cpu-clock is a software event: it works where hardware counters are "not supported").
 * Results: bench/results/profile-<date>.{json,md}.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { native } from '../src/srt/native.js';
import { Child, delay, distBench, fileStamp, fmt, freeUdpPort, machineInfo, markdownTable, parseList, positive, repoRoot, sourceInfo } from './lib/util.js';

const { values } = parseArgs({
  options: {
    viewers: { type: 'string', default: '10,25,50' },
    bitrate: { type: 'string', default: '10M' },
    duration: { type: 'string', default: '20s' },
    freq: { type: 'string', default: '1999' },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

const viewerCounts = parseList(values.viewers ?? '10,25,50', '--viewers');
const durationS = positive((values.duration ?? '20s').replace(/s$/, ''), '--duration', 20);
const freq = positive(values.freq, '--freq', 1999);
const outDir = values.out ?? join(repoRoot(), 'bench', 'results');
const ROLES = ['main', 'workers', 'reactor', 'SRT:RcvQ', 'SRT:SndQ', 'SRT:TsbPd', 'SRT:GC', 'other node'] as const;
const CLASSES = ['JS', 'addon', 'libsrt', 'kernel', 'libc etc'] as const;
type Role = (typeof ROLES)[number];
type Class = (typeof CLASSES)[number];
const JS_PARTS = ['V8 (JIT, builtins, GC)', 'libuv', 'node + N-API glue', 'other node binary'] as const;
type JsPart = (typeof JS_PARTS)[number];

function jsPartOf(dso: string, sym: string): JsPart {
  if (dso !== 'node') return 'V8 (JIT, builtins, GC)';
  if (/^(Builtins_|v8::|Stub|BytecodeHandler|LazyCompile|Interpreter)/.test(sym)) return 'V8 (JIT, builtins, GC)';
  if (/^uv_/.test(sym)) return 'libuv';
  if (/^(napi_|v8impl|node::|Napi::)/.test(sym)) return 'node + N-API glue';
  return 'other node binary';
}

interface Point {
  viewers: number;
  samples: number;
  /** Share (0..1) of the process's samples, by role and class. */
  split: Record<Role, Record<Class, number>>;
  /** The heaviest JS symbols (share of all samples), to show where JavaScript time goes. */
  topJs: Array<{ share: number; symbol: string }>;
  /** The JS class split further: V8 (JIT code, builtins, IC, GC), libuv, node/N-API glue, other. */
  jsParts: Record<JsPart, number>;
  fanoutLine: string;
}

try {
  execFileSync('perf', ['--version'], { stdio: 'ignore' });
} catch {
  process.stderr.write('profile: perf not found (Debian: apt-get install linux-perf)\n');
  process.exit(2);
}

function classOf(dso: string): Class {
  if (dso === 'node' || dso.startsWith('[JIT]') || /^perf-\d+\.map$/.test(dso)) return 'JS';
  if (dso === 'srt_native.node') return 'addon';
  if (dso.startsWith('libsrt')) return 'libsrt';
  if (dso === '[kernel.kallsyms]') return 'kernel';
  return 'libc etc';
}

function roleOf(tid: number, comm: string, ids: { main: number; workers: number[]; reactor: number[] }): Role {
  if (comm.startsWith('SRT:RcvQ')) return 'SRT:RcvQ';
  if (comm.startsWith('SRT:SndQ')) return 'SRT:SndQ';
  if (comm.startsWith('SRT:TsbPd')) return 'SRT:TsbPd';
  if (comm.startsWith('SRT:GC')) return 'SRT:GC';
  if (tid === ids.main) return 'main';
  if (ids.workers.includes(tid)) return 'workers';
  if (ids.reactor.includes(tid)) return 'reactor';
  return 'other node';
}

function report(data: string, sort: string): string[][] {
  const text = execFileSync('perf', ['report', '-i', data, '--sort', sort, '--stdio', '-t', ';', '--percent-limit', '0'], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.split(';').map((f) => f.trim()));
}

async function profilePoint(viewers: number, dir: string): Promise<Point> {
  const port = await freeUdpPort();
  const relay = new Child('relay', process.execPath, ['--perf-basic-prof', distBench('lib/run-relay.js'), '--port', String(port)]);
  try {
    const ready = await relay.waitEvent('ready', 20_000);
    const ids = { main: Number(ready['mainTid']), workers: (ready['workerTids'] as number[]) ?? [], reactor: (ready['reactorTids'] as number[]) ?? [] };
    const fanout = new Child('fanout', process.execPath, [
      distBench('cli.js'), 'fanout', '--target', 'external',
      '--publish-url', `srt://127.0.0.1:${port}?streamid=publish:{stream}`,
      '--play-url', `srt://127.0.0.1:${port}?streamid=read:{stream}`,
      '--server-pid', String(relay.pid), '--viewers', String(viewers), '--bitrate', values.bitrate ?? '10M',
      '--duration', `${durationS}s`, '--quiet', '1', '--noisy', '1', '--out', dir,
    ]);
    // The harness prints "measuring" once every viewer receives and the settle time is over.
    const deadline = Date.now() + 120_000;
    while (!fanout.stderr.includes('measuring') && fanout.running && Date.now() < deadline) await delay(200);
    if (!fanout.running) throw new Error(`fanout ended before measuring: ${fanout.stderr.slice(-500)}`);
    const data = join(dir, `perf-${viewers}.data`);
    const window = Math.max(3, durationS - 4);
    process.stderr.write(`[profile viewers=${viewers}] sampling the relay (pid ${String(relay.pid)}) for ${window} s at ${freq} Hz\n`);
    await new Promise<void>((resolve, reject) => {
      const p = spawn('perf', ['record', '-e', 'cpu-clock', '-F', String(freq), '-p', String(relay.pid), '-o', data, '--', 'sleep', String(window)], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`perf record exited ${String(code)}: ${err.slice(-400)}`))));
    });
    await fanout.finish(durationS * 1000 + 60_000);
    const fanoutLine = fanout.stderr.trim().split('\n').filter((l) => l.includes('measuring')).pop() ?? '';

    const split = Object.fromEntries(ROLES.map((r) => [r, Object.fromEntries(CLASSES.map((c) => [c, 0]))])) as Record<Role, Record<Class, number>>;
    for (const [pct, thread, dso] of report(data, 'pid,dso')) {
      const m = /^(\d+):(.*)$/.exec(thread ?? '');
      if (m === null || pct === undefined || dso === undefined) continue;
      split[roleOf(Number(m[1]), m[2]!.trim(), ids)][classOf(dso)] += Number.parseFloat(pct) / 100;
    }
    const jsRows = report(data, 'dso,sym').filter(([, dso]) => dso !== undefined && classOf(dso) === 'JS');
    const jsParts = Object.fromEntries(JS_PARTS.map((k) => [k, 0])) as Record<JsPart, number>;
    for (const [p, dso, sym] of jsRows) jsParts[jsPartOf(dso!, (sym ?? '').replace(/^\[[.k]\]\s*/, ''))] += Number.parseFloat(p ?? '0') / 100;
    const topJs = jsRows
      .slice(0, 15)
      .map(([pct, , sym]) => ({ share: Number.parseFloat(pct ?? '0') / 100, symbol: (sym ?? '').replace(/^\[[.k]\]\s*/, '') }));
    const samples = execFileSync('perf', ['script', '-i', data, '-F', 'tid'], { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter((l) => l.trim() !== '').length;
    if (!values.keep) rmSync(data, { force: true });
    return { viewers, samples, split, topJs, jsParts, fanoutLine };
  } finally {
    await relay.stop('SIGTERM', 8000);
  }
}

const sum = (r: Record<Class, number>): number => CLASSES.reduce((a, c) => a + r[c], 0);
const pct = (x: number): string => fmt(100 * x, 1);

const stamp = fileStamp();
mkdirSync(outDir, { recursive: true });
const work = join(outDir, `profile-${stamp}-work`);
mkdirSync(work, { recursive: true });
const points: Point[] = [];
for (const n of viewerCounts) points.push(await profilePoint(n, work));
if (!values.keep) rmSync(work, { recursive: true, force: true });

const lines: string[] = [];
lines.push(`# profile (fan-out, perf cpu-clock samples), ${new Date().toISOString()}`, '');
lines.push(`Command: \`npm run bench -- profile --viewers ${viewerCounts.join(',')} --bitrate ${values.bitrate ?? '10M'} --duration ${durationS}s --freq ${freq}\``, '');
lines.push(`Machine: ${JSON.stringify(machineInfo(native.version()))}. Source: ${JSON.stringify(sourceInfo())}.`, '');
lines.push('Share of all samples of the relay process. JS = the `node` binary and JIT code (V8, builtins, GC, libuv, N-API glue): an upper bound on JavaScript.', '');
const totals = (p: Point): Record<Class, number> => Object.fromEntries(CLASSES.map((c) => [c, ROLES.reduce((a, r) => a + p.split[r][c], 0)])) as Record<Class, number>;
lines.push(
  markdownTable(
    ['viewers', 'samples', ...CLASSES.map((c) => `${c} %`), 'JS on workers %', 'JS on main %', 'native on workers %', 'fan-out line'],
    points.map((p) => {
      const t = totals(p);
      return [String(p.viewers), String(p.samples), ...CLASSES.map((c) => pct(t[c])), pct(p.split.workers.JS), pct(p.split.main.JS), pct(sum(p.split.workers) - p.split.workers.JS), p.fanoutLine.replace(/^\[[^\]]*\]\s*/, '').replace(/\|/g, '/')];
    }),
  ),
  '',
);
for (const p of points) {
  lines.push(`## ${p.viewers} viewers: by thread role × code class (% of all samples)`, '');
  lines.push(markdownTable(['role', ...CLASSES, 'all'], ROLES.map((r) => [r, ...CLASSES.map((c) => pct(p.split[r][c])), pct(sum(p.split[r]))])), '');
  lines.push(`JS class by part (% of all samples): ${JS_PARTS.map((k) => `${k} ${pct(p.jsParts[k])}`).join(' · ')}`, '');
  lines.push('Heaviest JS symbols (% of all samples):', '');
  lines.push(markdownTable(['%', 'symbol'], p.topJs.map((s) => [fmt(100 * s.share, 2), s.symbol.replace(/\|/g, '/')])), '');
}
const md = join(outDir, `profile-${stamp}.md`);
writeFileSync(md, `${lines.join('\n')}\n`);
writeFileSync(join(outDir, `profile-${stamp}.json`), `${JSON.stringify({ params: { viewerCounts, durationS, freq, bitrate: values.bitrate }, points }, null, 2)}\n`);
process.stdout.write(`${lines.slice(0, 9).join('\n')}\nwrote ${md}\n`);
