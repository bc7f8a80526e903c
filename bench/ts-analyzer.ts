/**
 * TsAnalyzer throughput: ns per TS packet on a 4 s, ~2 Mbit/s H.264 + AAC file made by ffmpeg,
 * laid into a PacketRing in 1316-byte messages and analyzed the way the publisher's worker does
 * it (64 slots per analyze() call), and in one call over the whole ring. Also prints the heap
 * growth over all passes (informational: the packet path is meant not to allocate).
 *
 *   node --expose-gc dist/bench/ts-analyzer.js [--passes 1000] [--batch 64] [--file some.ts]
 *
 * (--expose-gc only makes the GC count exact: without it, garbage left by the timing passes
 * can cause a collection or two during the counted passes.)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { PacketRing } from '../src/ring/packet-ring.js';
import { TsAnalyzer } from '../src/ts/analyzer.js';

const { values } = parseArgs({
  options: {
    passes: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '64' },
    file: { type: 'string' },
    /** SRT message size the file is cut into: 1316 (7 TS packets) or e.g. 1456 (srt-live-transmit's default, packets split across messages). */
    message: { type: 'string', default: '1316' },
  },
});
const passes = Number(values.passes);
const batch = Number(values.batch);

function makeFile(): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ts-analyzer-bench-'));
  const path = join(dir, 'bench.ts');
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25,noise=alls=20:allf=t',
    '-f', 'lavfi', '-i', 'sine', '-t', '4',
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-b:v', '2M', '-maxrate', '2M', '-bufsize', '2M',
    '-g', '50', '-c:a', 'aac', '-b:a', '128k', '-f', 'mpegts', path,
  ]);
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const made = values.file === undefined ? makeFile() : undefined;
const bytes = new Uint8Array(readFileSync(values.file ?? made!.path));
made?.cleanup();

const MESSAGE = Number(values.message);
if (!Number.isInteger(MESSAGE) || MESSAGE < 1 || MESSAGE > 1456) throw new Error(`--message must be 1 to 1456 bytes (got ${values.message})`);
const messages = Math.ceil(bytes.length / MESSAGE);
let slots = 128;
while (slots < messages) slots *= 2;
const ring = PacketRing.create(slots);
for (let o = 0; o < bytes.length; o += MESSAGE) ring.write(bytes.subarray(o, Math.min(o + MESSAGE, bytes.length)));
const packets = Math.floor(bytes.length / 188);

const analyzer = new TsAnalyzer();

function pass(step: number, reset = true): bigint {
  if (reset) analyzer.reset();
  const t0 = process.hrtime.bigint();
  for (let s = 0; s < messages; s += step) analyzer.analyzeRing(ring, s, Math.min(step, messages - s), s);
  return process.hrtime.bigint() - t0;
}

/** Young-generation collections while `fn` runs (gc performance entries arrive asynchronously). */
let minorGcs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minorGcs++;
  }
}).observe({ entryTypes: ['gc'] });

async function countMinorGcs(fn: () => void): Promise<number> {
  globalThis.gc?.(); // with --expose-gc: start from an empty nursery (the timing passes leave garbage)
  await new Promise((r) => setTimeout(r, 20));
  const before = minorGcs;
  fn();
  await new Promise((r) => setTimeout(r, 20));
  return minorGcs - before;
}

async function measure(step: number): Promise<{ median: number; best: number; gcs: number }> {
  for (let i = 0; i < 20; i++) pass(step); // warm-up (JIT)
  const ns: number[] = [];
  for (let i = 0; i < passes; i++) ns.push(Number(pass(step)) / packets);
  // Allocation by the packet path: passes without reset() (which allocates the PAT state) and
  // without the timer, counting young-generation collections (each one means the nursery of
  // --max-semi-space-size filled up).
  const noResetPasses = (n: number): void => {
    for (let i = 0; i < n; i++) {
      for (let s = 0; s < messages; s += step) analyzer.analyzeRing(ring, s, Math.min(step, messages - s), s);
    }
  };
  // Warm up this path first (the CC jump at each pass boundary is new to the optimized code; a
  // deoptimized stretch boxes doubles and would show up as GCs that steady state does not have).
  noResetPasses(Math.max(50, passes >> 2));
  const gcs = await countMinorGcs(() => noResetPasses(passes));
  ns.sort((a, b) => a - b);
  return { median: ns[Math.floor(ns.length / 2)]!, best: ns[0]!, gcs };
}

const info = (() => {
  pass(batch);
  return analyzer.snapshot();
})();
const video = info.programs.flatMap((p) => p.tracks).find((t) => t.kind === 'video');
console.log(
  `file: ${(bytes.length / 1e6).toFixed(2)} MB, ${packets} TS packets, ${messages} messages of ${MESSAGE} bytes, ` +
    `${((bytes.length * 8) / 4 / 1e6).toFixed(2)} Mbit/s over 4 s; video ${video?.codec} ${video?.width}x${video?.height}, ` +
    `${info.keyframes} keyframes, ${info.ccErrors} CC errors`,
);
for (const [label, step] of [
  [`batches of ${batch} slots`, batch],
  ['one call over all slots', messages],
] as const) {
  const r = await measure(step);
  const mbps = (188 * 8) / r.median / 1e-3; // Mbit/s of TS one core could analyze
  console.log(
    `${label.padEnd(26)} median ${r.median.toFixed(1)} ns/packet (best ${r.best.toFixed(1)}), ` +
      `~${(mbps / 1000).toFixed(1)} Gbit/s of TS per core; young-generation GCs over ${passes} more passes ` +
      `without reset() (${((passes * packets) / 1e6).toFixed(2)} M packets): ${r.gcs}`,
  );
}
