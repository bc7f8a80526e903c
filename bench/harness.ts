/**
 * The benchmark harness: scenarios that load an SRT server with the light load generator
 * (bench/lib/loadgen.ts: synthetic TS with per-packet sequence numbers and send times), measure
 * the server from /proc and the viewers per packet, and write JSON, Markdown and SVG plots.
 *
 *   npm run bench -- fanout   [--viewers 10,50,100] [--streams 1] [--bitrate 10M] [--duration 20s]
 *                             [--baseline floor,slt] [--target self|external ...]
 *   npm run bench -- ingest   [--publishers 1,10,25] [--bitrate 10M] ...
 *   npm run bench -- impaired [--viewers 10] [--loss 1%] [--rtt 50ms] [--jitter 0ms] ...
 *
 * Scenarios are entries of SCENARIOS below: a scenario names its points (x values) and turns a
 * point into a traffic plan (streams, viewers per stream); everything else (targets, trials,
 * measuring, validity, output) is shared. See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { native } from '../src/srt/native.js';
import type { LoadgenConfig } from './lib/loadgen.js';
import { cdfSpec, lineSpec, writePlot } from './lib/plots.js';
import { histCdf, histFromSparse, histQuantileMs, type ViewerCounters } from './lib/receiver.js';
import { monoUs } from './lib/synth-ts.js';
import { TARGET_LABEL, haveSlt, startTarget, udpBoundIn, type RunningTarget, type TargetKind, type TrafficPlan } from './lib/targets.js';
import {
  Child,
  buildFloor,
  delay,
  distBench,
  fileStamp,
  floorBin,
  fmt,
  freeUdpPorts,
  machineCpu,
  machineInfo,
  markdownTable,
  median,
  pidCpu,
  repoRoot,
  sourceInfo,
  textTable,
  threadDeltas,
  threadSamples,
  waitFor,
  waitQuiet,
} from './lib/util.js';

// ---- scenarios --------------------------------------------------------------------------------

interface Scenario {
  describe: string;
  /** The x axis: what a point is. */
  xName: string;
  points(o: Opts): number[];
  plan(x: number, o: Opts): TrafficPlan;
  /** Optional: runs around the trials (e.g. a network namespace). Returns the command prefix for the processes. */
  setup?(o: Opts): Promise<Setup | { skip: string }>;
}

interface Setup {
  prefix: string[];
  cleanup: () => Promise<void>;
  notes: string[];
  /** Impair in userspace: every server port is reached through bench/floor/udp-impair. */
  proxy?: { loss: number; delayMs: number; jitterMs: number };
}

const SCENARIOS: Record<string, Scenario> = {
  fanout: {
    describe: 'S publishers x V viewers per stream (the viewers split evenly over the streams)',
    xName: 'viewers',
    points: (o) => o.viewers,
    plan: (x, o) => ({ streams: o.streams, viewersPerStream: split(x, o.streams), bitrate: o.bitrate }),
  },
  ingest: {
    describe: 'N publishers, one viewer each',
    xName: 'publishers',
    points: (o) => o.publishers,
    plan: (x, o) => ({ streams: x, viewersPerStream: new Array<number>(x).fill(1), bitrate: o.bitrate }),
  },
  impaired: {
    describe: 'fanout through a network namespace with netem loss/delay on its loopback',
    xName: 'viewers',
    points: (o) => o.viewers,
    plan: (x, o) => ({ streams: o.streams, viewersPerStream: split(x, o.streams), bitrate: o.bitrate }),
    setup: netnsSetup,
  },
};

function split(n: number, k: number): number[] {
  return Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
}

// ---- options ----------------------------------------------------------------------------------

interface Opts {
  scenario: string;
  viewers: number[];
  publishers: number[];
  streams: number;
  bitrate: number;
  duration: number;
  settle: number;
  trials: number;
  latency: number;
  target: TargetKind;
  baselines: TargetKind[];
  publishUrl?: string;
  playUrl?: string;
  serverPid?: number;
  viewerWorkers: number;
  share: number;
  viewerTsbpd: boolean;
  relayWorkers: number;
  reusePort: number;
  loss: number;
  rttMs: number;
  jitterMs: number;
  impair: 'auto' | 'netem' | 'proxy';
  quiet: number;
  noisy: number;
  rerunNoisy: number;
  out: string;
}

function usage(): string {
  return (
    `usage: npm run bench -- <${Object.keys(SCENARIOS).join('|')}> [options]\n` +
    Object.entries(SCENARIOS).map(([k, s]) => `  ${k.padEnd(9)} ${s.describe}`).join('\n') +
    '\noptions:\n' +
    '  --viewers 10,50,100     fanout/impaired: total viewers per point     --publishers 1,10,25  ingest: publishers per point\n' +
    '  --streams 1             fanout: publishers (viewers split over them) --bitrate 10M        per publisher (k/M/G suffixes)\n' +
    '  --duration 20s          measurement window per trial                --settle 3s          after every viewer connected\n' +
    '  --trials 1              trials per point and target                 --latency 120        SRT latency (ms) on every socket\n' +
    '  --target self|external  self: start srt-relay per trial (default); external: --publish-url/--play-url\n' +
    "  --publish-url 'srt://host:port?streamid=publish:{stream}'  --play-url 'srt://host:port?streamid=read:{stream}'\n" +
    '  --server-pid PID        external: measure this process\'s CPU      --baseline floor,slt  also run the C floor relay / srt-live-transmit\n' +
    '  --viewer-workers 2      generator threads for viewers               --share 25           viewers per local UDP port (one libsrt multiplexer)\n' +
    '  --viewer-tsbpd off|on   TSBPD at the viewers (default off)          --relay-workers 2 --reuse-port 2   srt-relay settings (self)\n' +
    '  --loss 1% --rtt 50ms --jitter 0ms   impaired: netem on the loopback of a namespace (needs root and sch_netem)\n' +
    '  --impair auto|netem|proxy           impaired: auto = netem if the kernel has it, else the userspace udp-impair relay\n' +
    '  --quiet 0.3             wait (<= 30 s) for the machine to be less busy than this before a trial\n' +
    '  --noisy 0.25 --rerun-noisy 1   run a trial again (at most N times) when other work took more than this share of the machine\n' +
    '  --out DIR               results directory (default bench/results)\n'
  );
}

function num(text: string | undefined, what: string, dflt: number, unit: 'plain' | 'rate' | 'time' | 'pct' = 'plain'): number {
  if (text === undefined) return dflt;
  const m = /^([0-9]*\.?[0-9]+)\s*([a-zA-Z%]*)$/.exec(text.trim());
  if (m === null) throw new Error(`${what}: cannot read '${text}'`);
  let v = Number(m[1]);
  const suf = m[2]!.toLowerCase();
  if (unit === 'rate') v *= suf === 'k' ? 1e3 : suf === 'm' || suf === '' ? (suf === '' && v > 1e4 ? 1 : 1e6) : suf === 'g' ? 1e9 : Number.NaN;
  else if (unit === 'time') v *= suf === 'ms' ? 1e-3 : suf === 's' || suf === '' ? 1 : suf === 'm' || suf === 'min' ? 60 : Number.NaN;
  else if (unit === 'pct') v *= suf === '%' ? 1 : suf === '' ? 1 : Number.NaN;
  else if (suf !== '') v = Number.NaN;
  if (!Number.isFinite(v) || v < 0) throw new Error(`${what}: cannot read '${text}'`);
  return v;
}

function list(text: string | undefined, what: string, dflt: number[]): number[] {
  if (text === undefined) return dflt;
  const v = text.split(',').map((s) => num(s, what, 0));
  if (v.some((x) => x <= 0 || !Number.isInteger(x))) throw new Error(`${what}: whole numbers > 0, comma-separated (got '${text}')`);
  return v;
}

function parseOpts(argv: string[]): Opts | undefined {
  const scenario = argv[0];
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(usage());
    return undefined;
  }
  if (scenario === undefined || SCENARIOS[scenario] === undefined) {
    process.stderr.write(usage());
    if (scenario !== undefined) process.exitCode = 2;
    return undefined;
  }
  const { values: v } = parseArgs({
    args: argv.slice(1),
    options: {
      viewers: { type: 'string' }, publishers: { type: 'string' }, streams: { type: 'string' }, bitrate: { type: 'string' },
      duration: { type: 'string' }, settle: { type: 'string' }, trials: { type: 'string' }, latency: { type: 'string' },
      target: { type: 'string' }, baseline: { type: 'string' }, 'publish-url': { type: 'string' }, 'play-url': { type: 'string' },
      'server-pid': { type: 'string' }, 'viewer-workers': { type: 'string' }, share: { type: 'string' }, 'viewer-tsbpd': { type: 'string' },
      'relay-workers': { type: 'string' }, 'reuse-port': { type: 'string' }, loss: { type: 'string' }, rtt: { type: 'string' },
      jitter: { type: 'string' }, impair: { type: 'string' }, quiet: { type: 'string' }, noisy: { type: 'string' }, 'rerun-noisy': { type: 'string' }, out: { type: 'string' },
    },
  });
  const target = (v.target ?? (v['publish-url'] !== undefined ? 'external' : 'self')) as TargetKind;
  if (target !== 'self' && target !== 'external') throw new Error(`--target: self or external (got '${target}')`);
  const baselines = (v.baseline ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '') as TargetKind[];
  for (const b of baselines) if (b !== 'floor' && b !== 'slt' && b !== 'self' && b !== 'record') throw new Error(`--baseline: floor, slt, self or record (got '${b}')`);
  if (baselines.includes('slt') && !haveSlt()) throw new Error('--baseline slt: srt-live-transmit is not on PATH');
  const o: Opts = {
    scenario,
    viewers: list(v.viewers, '--viewers', scenario === 'impaired' ? [10] : [10, 50, 100]),
    publishers: list(v.publishers, '--publishers', [1, 10, 25]),
    streams: num(v.streams, '--streams', 1),
    bitrate: num(v.bitrate, '--bitrate', 10e6, 'rate'),
    duration: num(v.duration, '--duration', 20, 'time'),
    settle: num(v.settle, '--settle', 3, 'time'),
    trials: num(v.trials, '--trials', 1),
    latency: num(v.latency, '--latency', 120),
    target,
    baselines: baselines.filter((b) => b !== target),
    ...(v['publish-url'] !== undefined ? { publishUrl: v['publish-url'] } : {}),
    ...(v['play-url'] !== undefined ? { playUrl: v['play-url'] } : {}),
    ...(v['server-pid'] !== undefined ? { serverPid: num(v['server-pid'], '--server-pid', 0) } : {}),
    viewerWorkers: num(v['viewer-workers'], '--viewer-workers', 2),
    share: num(v.share, '--share', 25),
    viewerTsbpd: (v['viewer-tsbpd'] ?? 'off') === 'on',
    relayWorkers: num(v['relay-workers'], '--relay-workers', 2),
    reusePort: num(v['reuse-port'], '--reuse-port', 2),
    loss: num(v.loss, '--loss', 1, 'pct'),
    rttMs: num(v.rtt, '--rtt', 50, 'time') * 1000,
    jitterMs: num(v.jitter, '--jitter', 0, 'time') * 1000,
    impair: (v.impair ?? 'auto') as Opts['impair'],
    quiet: num(v.quiet, '--quiet', 0.3),
    noisy: num(v.noisy, '--noisy', 0.25),
    rerunNoisy: num(v['rerun-noisy'], '--rerun-noisy', 1),
    out: v.out ?? join(repoRoot(), 'bench', 'results'),
  };
  if (!['auto', 'netem', 'proxy'].includes(o.impair)) throw new Error(`--impair: auto, netem or proxy (got '${o.impair}')`);
  if (o.streams < 1 || !Number.isInteger(o.streams)) throw new Error('--streams: a whole number >= 1');
  if (o.duration <= 0) throw new Error('--duration must be > 0');
  return o;
}

// ---- network namespace (impaired) ---------------------------------------------------------------

function proxySetup(o: Opts, why: string): Setup {
  buildFloor();
  return {
    prefix: [],
    cleanup: async () => {},
    notes: [
      `${why}userspace impairment: bench/floor/udp-impair in front of every server port, loss ${o.loss}% and delay ${o.rttMs / 2} ms` +
        `${o.jitterMs > 0 ? ` ± ${o.jitterMs} ms` : ''} per direction (RTT ${o.rttMs} ms)`,
    ],
    proxy: { loss: o.loss, delayMs: o.rttMs / 2, jitterMs: o.jitterMs },
  };
}

async function netnsSetup(o: Opts): Promise<Setup | { skip: string }> {
  if (o.impair === 'proxy') return proxySetup(o, '');
  const fallback = (why: string): Setup | { skip: string } => (o.impair === 'auto' ? proxySetup(o, `${why}; falling back to `) : { skip: `${why}; skipped` });
  if (process.getuid?.() !== 0) return fallback('impaired: netem needs root (ip netns add, tc qdisc)');
  const ns = `srtbench-${process.pid}`;
  const run = (args: string[]): void => {
    execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  };
  const cleanup = async (): Promise<void> => {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  };
  const onSignal = (): void => {
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    run(['netns', 'add', ns]);
    run(['-n', ns, 'link', 'set', 'lo', 'up']);
    // Every packet crosses lo once: delay rtt/2 gives the round trip; loss applies per packet.
    const netem = ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'loss', `${o.loss}%`, 'delay', `${o.rttMs / 2}ms`];
    if (o.jitterMs > 0) netem.push(`${o.jitterMs}ms`);
    try {
      // --loss 0 --rtt 0: a namespace without a qdisc (checks the namespace plumbing anywhere)
      if (o.loss > 0 || o.rttMs > 0 || o.jitterMs > 0) run(netem);
    } catch (e) {
      const msg = ((e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message).trim();
      await cleanup();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      return fallback(
        `impaired: cannot add a netem qdisc in the namespace (${msg}). The kernel needs sch_netem ` +
          `(CONFIG_NET_SCH_NETEM; check: zcat /proc/config.gz | grep NETEM, or modprobe sch_netem)`,
      );
    }
  } catch (e) {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    return fallback(`impaired: cannot create a network namespace (${(e as Error).message.split('\n')[0]})`);
  }
  return {
    prefix: ['ip', 'netns', 'exec', ns],
    cleanup: async () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await cleanup();
    },
    notes: [
      o.loss > 0 || o.rttMs > 0 || o.jitterMs > 0
        ? `netns ${ns}: netem loss ${o.loss}% delay ${o.rttMs / 2} ms${o.jitterMs > 0 ? ` jitter ${o.jitterMs} ms` : ''} on lo (RTT ${o.rttMs} ms)`
        : `netns ${ns} without a qdisc (no impairment: a check of the namespace set-up)`,
    ],
  };
}

// ---- one trial ----------------------------------------------------------------------------------

interface TrialResult {
  target: TargetKind;
  x: number;
  trial: number;
  plan: TrafficPlan;
  valid: boolean;
  invalidReasons: string[];
  warnings: string[];
  viewersExpected: number;
  viewersConnected: number;
  publishersConnected: number;
  windowSeconds: number;
  mbpsPerViewer: number[];
  slowestMbps: number;
  medianMbps: number;
  deliveredPctPerViewer: number[];
  maxMbps: number;
  /** Viewers that got at least 99.9 % of the messages sent in the window (by send time, whenever they arrived). */
  viewersAtRate: number;
  minDeliveredPct: number;
  deliveredMbps: number;
  lost: number;
  dup: number;
  reordered: number;
  ccErrors: number;
  foreign: number;
  lossPct: number;
  /** Messages sent in the window that a viewer had not received by the report, summed over viewers. */
  undelivered: number;
  undeliveredPct: number;
  latencyMs: { p50: number; p99: number; max: number };
  latencyCdf: Array<[number, number]>;
  serverCpu: number | undefined;
  serverCoreShare: number | undefined;
  serverCpuPerGbit: number | undefined;
  serverRssPeakBytes: number | undefined;
  serverProcesses: number;
  generatorCpu: number;
  generatorCoreShare: number;
  generatorMaxThread: { comm: string; share: number };
  /** CPU seconds of the generator over the window by thread kind. */
  generatorThreads: Record<string, number>;
  generatorLoopDelayMaxMs: number;
  /** The first 10 publishers' reports. */
  publishers: Array<Record<string, unknown>>;
  publishersBlocked: number;
  /** impaired with --impair proxy: CPU of the udp-impair relays over the window. */
  impairProxyCpu?: number;
  impairProxies?: number;
  machineBusy: number;
  othersBusy: number;
  busyBefore: number;
  /** others % of the runs of this trial that were discarded as noisier (--rerun-noisy). */
  noisyRerunsOthersBusy?: number[];
}

const isTty = process.stderr.isTTY === true;
function progressLine(line: string, final = false): void {
  if (isTty) process.stderr.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
  else if (final) process.stderr.write(`${line}\n`);
}

async function ask(gen: Child, cmd: Record<string, unknown>, event: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const seen = gen.lines.length;
  const p = gen.waitMessage((m) => m['event'] === event && gen.lines.indexOf(m) >= seen, timeoutMs, event);
  gen.send(cmd);
  return p;
}

async function runTrial(o: Opts, sc: Scenario, kind: TargetKind, x: number, trial: number, setup: Setup, busyBefore: number): Promise<TrialResult> {
  const prefix = setup.prefix;
  const plan = sc.plan(x, o);
  const tag = `[${o.scenario} ${TARGET_LABEL[kind]} ${sc.xName}=${x}${o.trials > 1 ? ` trial ${trial}` : ''}]`;
  const warnings: string[] = [];
  const invalid: string[] = [];
  const target: RunningTarget = await startTarget(kind, plan, {
    latency: o.latency,
    prefix,
    ...(o.publishUrl !== undefined ? { publishUrl: o.publishUrl } : {}),
    ...(o.playUrl !== undefined ? { playUrl: o.playUrl } : {}),
    ...(o.serverPid !== undefined ? { serverPid: o.serverPid } : {}),
    relayWorkers: o.relayWorkers,
    reusePort: o.reusePort,
  });
  const proxies = setup.proxy === undefined ? [] : await impairProxies(target, setup.proxy);
  const proxyCpu = (): number => proxies.reduce((a, p) => a + (pidCpu(p.pid!) ?? 0), 0);
  const genArgs = [distBench('lib/loadgen.js')];
  const gen = prefix.length > 0
    ? new Child('loadgen', prefix[0]!, [...prefix.slice(1), process.execPath, ...genArgs], { ipc: true })
    : new Child('loadgen', process.execPath, genArgs, { ipc: true });
  try {
    await gen.waitEvent('ready', 20_000);
    const config: LoadgenConfig = {
      publishers: target.publishers,
      viewers: target.viewers,
      viewerWorkers: o.viewerWorkers,
      share: o.share,
      viewerTsbpd: o.viewerTsbpd,
      latency: o.latency,
      retries: 8,
      viewerDelay: 0.5,
    };
    gen.send({ cmd: 'start', config });
    const pubs = await gen.waitEvent('publishers', 60_000);
    if (Number(pubs['failed']) > 0) invalid.push(`${String(pubs['failed'])} publisher(s) could not connect: ${(pubs['errors'] as string[]).join('; ')}`);
    const t0 = performance.now();
    const conn = await gen.waitEvent('connected', 120_000);
    const connected = Number(conn['ok']);
    const viewersExpected = target.viewers.length;
    for (const e of (conn['errors'] as string[]) ?? []) warnings.push(e);
    if (connected < viewersExpected) invalid.push(`${viewersExpected - connected} of ${viewersExpected} viewers could not connect`);
    progressLine(`${tag} ${connected}/${viewersExpected} viewers connected in ${((performance.now() - t0) / 1000).toFixed(1)} s over ${String(conn['localPorts'])} local UDP ports`, true);

    // settle, then the window: named ahead of time in CLOCK_MONOTONIC µs
    let last = await ask(gen, { cmd: 'progress' }, 'progress', 5000);
    let lastT = performance.now();
    const show = async (phase: string, left: number): Promise<void> => {
      let p: Record<string, unknown>;
      try {
        p = await ask(gen, { cmd: 'progress' }, 'progress', 2000);
      } catch {
        progressLine(`${tag} ${phase} ${left.toFixed(0)} s left · generator not answering`);
        return;
      }
      const t = performance.now();
      const mbps = ((Number(p['bytes']) - Number(last['bytes'])) * 8) / ((t - lastT) / 1000) / 1e6;
      const lostNow = Number(p['lost']);
      const pk = Number(p['packets']);
      const line =
        `${tag} ${phase} ${left.toFixed(0)} s left · ${String(p['open'])}/${viewersExpected} viewers · ${mbps.toFixed(1)} Mbit/s ` +
        `(${(mbps / Math.max(1, Number(p['open']))).toFixed(2)} per viewer) · loss so far ${lostNow} pkts (${fmt((100 * lostNow) / Math.max(1, pk + lostNow), 3)} %)`;
      last = p;
      lastT = t;
      if (isTty) progressLine(line);
      else if (Math.round(left) % 5 === 0) process.stderr.write(`${line}\n`);
    };
    for (let s = Math.ceil(o.settle); s > 0; s--) {
      await delay(1000);
      await show('settling', s - 1);
    }
    const fromUs = monoUs() + 300_000;
    const toUs = fromUs + o.duration * 1e6;
    const armed = await ask(gen, { cmd: 'window', from: fromUs, to: toUs }, 'window-armed', 10_000);
    if (Number(armed['lateUs']) > 0) invalid.push(`window armed ${(Number(armed['lateUs']) / 1000).toFixed(0)} ms late in the generator`);
    await delay(Math.max(0, (fromUs - monoUs()) / 1000));
    const pids = target.pids();
    const cpuOf = (): number => pids.reduce((a, p) => a + (pidCpu(p) ?? 0), 0);
    const s0 = cpuOf();
    const x0 = proxyCpu();
    const g0 = threadSamples(gen.pid!);
    const gc0 = pidCpu(gen.pid!) ?? 0;
    const m0 = machineCpu();
    while (monoUs() < toUs - 50_000) {
      await delay(Math.min(1000, (toUs - monoUs()) / 1000));
      await show('measuring', Math.max(0, (toUs - monoUs()) / 1e6));
    }
    await delay(Math.max(0, (toUs - monoUs()) / 1000));
    const s1 = cpuOf();
    const x1 = proxyCpu();
    const g1 = threadSamples(gen.pid!);
    const gc1 = pidCpu(gen.pid!) ?? gc0;
    const m1 = machineCpu();
    const rss = target.rssPeakBytes();
    // Messages sent at the end of the window are still on their way: wait the SRT latency and a
    // second before counting what arrived of them.
    await delay(o.latency + 1000);
    const rep = await ask(gen, { cmd: 'report' }, 'report', 60_000);
    const windowSeconds = o.duration;

    // numbers
    const viewers = rep['viewers'] as Array<ViewerCounters & { stream: number; closed: boolean }>;
    const mbps = viewers.map((v) => (v.bytes * 8) / windowSeconds / 1e6);
    const stamped = new Map<number, number>();
    for (const p of rep['publishers'] as Array<Record<string, unknown>>) stamped.set(Number(p['stream']), Number(p['stampedInWindow']));
    // delivered share: messages sent in the window that reached the viewer (whenever they arrived)
    const deliveredShare = viewers.map((v) => v.sentInWindow / Math.max(1, stamped.get(v.stream) ?? 0));
    // sent in the window but not received by the report (lost for good, or still seconds behind)
    const undelivered = viewers.reduce((a, v) => a + Math.max(0, (stamped.get(v.stream) ?? 0) - v.sentInWindow), 0);
    const stampedAll = viewers.reduce((a, v) => a + (stamped.get(v.stream) ?? 0), 0);
    const sum = (f: (v: ViewerCounters) => number): number => viewers.reduce((a, v) => a + f(v), 0);
    const delivered = sum((v) => v.bytes) * 8;
    const lost = sum((v) => v.lost);
    const packets = sum((v) => v.packets);
    const hist = histFromSparse(rep['hist'] as Array<[number, number]>);
    const serverCpu = pids.length > 0 ? s1 - s0 : undefined;
    const gdeltas = threadDeltas(g0, g1);
    const maxThread = gdeltas.reduce((a, t) => (t.cpu > a.cpu ? t : a), { tid: 0, comm: '', cpu: 0, wakeups: 0 });
    const genCpu = gc1 - gc0;
    // the generator's CPU by thread kind (SRT:RcvQ, SRT:SndQ, SRT:TsbPd, node = JS threads + V8/libuv)
    const genThreads: Record<string, number> = {};
    for (const t of gdeltas) {
      const k = t.comm.startsWith('SRT:') ? t.comm.split(':').slice(0, 2).join(':') : t.comm;
      genThreads[k] = Math.round(((genThreads[k] ?? 0) + t.cpu) * 100) / 100;
    }
    const busy = (m1.busy - m0.busy) / Math.max(1e-9, m1.total - m0.total);
    const ours = (serverCpu ?? 0) + genCpu + (x1 - x0);
    const workersRep = (rep['workers'] as Array<{ loopDelayMs?: { max?: number } }>) ?? [];
    const loopMax = Math.max(0, ...workersRep.map((w) => Number(w.loopDelayMs?.max ?? 0)));
    const publishers = rep['publishers'] as Array<Record<string, unknown>>;
    // validity: the generator must have kept up
    // A publisher short of its rate is the generator's fault (INVALID) unless libsrt refused the
    // data (send buffer full: the server did not take the stream at its rate, a server result).
    const behind: string[] = [];
    const pushedBack: string[] = [];
    for (const p of publishers) {
      const ratio = Number(p['sentInWindow']) / Math.max(1e-9, Number(p['expectedInWindow']));
      const backlogS = Number(p['maxBacklogMsgs']) / Math.max(1e-9, Number(p['targetMsgPerSec']));
      const short = ratio < 0.995 || backlogS > 0.1;
      if (short && Number(p['stalls']) > 0) pushedBack.push(`${String(p['stream'])} (${fmt(100 * ratio, 1)} %)`);
      else if (ratio < 0.995) behind.push(`${String(p['stream'])} sent ${fmt(100 * ratio, 1)} % of its rate`);
      else if (backlogS > 0.1) behind.push(`${String(p['stream'])} fell ${fmt(backlogS * 1000, 0)} ms behind its schedule`);
      if (p['broken'] === true) warnings.push(`publisher ${String(p['stream'])}: connection broke`);
    }
    if (behind.length > 0) invalid.push(`${behind.length} publisher(s) fell behind: ${behind.slice(0, 3).join('; ')}${behind.length > 3 ? '; …' : ''}`);
    if (pushedBack.length > 0) {
      warnings.push(`${pushedBack.length} publisher(s) blocked by a full send buffer (the server did not take the stream at its rate): ${pushedBack.slice(0, 3).join(', ')}${pushedBack.length > 3 ? ', …' : ''}`);
    }
    if (maxThread.cpu / windowSeconds >= 0.9) {
      invalid.push(`generator thread '${maxThread.comm}' (tid ${maxThread.tid}) at ${fmt((100 * maxThread.cpu) / windowSeconds, 0)} % of a core`);
    }
    if (loopMax > 2000) invalid.push(`a generator worker's event loop was held ${fmt(loopMax / 1000, 1)} s`);
    if (busy > 0.97) warnings.push(`machine ${fmt(100 * busy, 0)} % busy: server and generator compete for the cores`);
    const othersBusy = Math.max(0, busy - ours / Math.max(1e-9, m1.total - m0.total));
    if (othersBusy > 0.15) warnings.push(`other processes used ${fmt(100 * othersBusy, 0)} % of the machine (noisy)`);
    const r: TrialResult = {
      target: kind,
      x,
      trial,
      plan,
      valid: invalid.length === 0,
      invalidReasons: invalid,
      warnings,
      viewersExpected,
      viewersConnected: connected,
      publishersConnected: Number(pubs['ok']),
      windowSeconds,
      mbpsPerViewer: mbps.map((m) => Math.round(m * 1000) / 1000),
      slowestMbps: mbps.length > 0 ? Math.min(...mbps) : 0,
      medianMbps: median(mbps),
      deliveredPctPerViewer: deliveredShare.map((d) => Math.round(d * 1e5) / 1e3),
      maxMbps: mbps.length > 0 ? Math.max(...mbps) : 0,
      viewersAtRate: deliveredShare.filter((d) => d >= 0.999).length,
      minDeliveredPct: deliveredShare.length > 0 ? 100 * Math.min(...deliveredShare) : 0,
      deliveredMbps: delivered / windowSeconds / 1e6,
      lost,
      dup: sum((v) => v.dup),
      reordered: sum((v) => v.reordered),
      ccErrors: sum((v) => v.ccErrors),
      foreign: sum((v) => v.foreign),
      lossPct: packets + lost > 0 ? (100 * lost) / (packets + lost) : 0,
      undelivered,
      undeliveredPct: stampedAll > 0 ? (100 * undelivered) / stampedAll : 0,
      latencyMs: {
        p50: histQuantileMs(hist, 0.5),
        p99: histQuantileMs(hist, 0.99),
        max: Math.max(0, ...viewers.map((v) => v.latMaxUs)) / 1000,
      },
      latencyCdf: histCdf(hist, 200).map(([ms, f]) => [ms, Math.round(f * 1e5) / 1e5] as [number, number]),
      serverCpu,
      serverCoreShare: serverCpu === undefined ? undefined : serverCpu / windowSeconds,
      serverCpuPerGbit: serverCpu === undefined || delivered === 0 ? undefined : serverCpu / (delivered / 1e9),
      serverRssPeakBytes: rss,
      serverProcesses: pids.length,
      generatorCpu: genCpu,
      generatorCoreShare: genCpu / windowSeconds,
      generatorMaxThread: { comm: maxThread.comm, share: maxThread.cpu / windowSeconds },
      generatorThreads: genThreads,
      generatorLoopDelayMaxMs: loopMax,
      publishers: publishers.length > 10 ? publishers.slice(0, 10) : publishers,
      publishersBlocked: pushedBack.length,
      ...(proxies.length > 0 ? { impairProxyCpu: x1 - x0, impairProxies: proxies.length } : {}),
      machineBusy: busy,
      othersBusy,
      busyBefore,
    };
    progressLine(
      `${tag} ${r.valid ? '' : 'INVALID · '}${fmt(r.slowestMbps)} / ${fmt(r.medianMbps)} Mbit/s per viewer (slowest/median), ` +
        `${r.viewersAtRate}/${viewersExpected} at ≥99.9 %, undelivered ${undelivered} (${fmt(r.undeliveredPct, 3)} %), gaps ${lost}, latency p50/p99/max ${fmt(r.latencyMs.p50, 1)}/${fmt(r.latencyMs.p99, 1)}/${fmt(r.latencyMs.max, 1)} ms, ` +
        `server CPU ${fmt(serverCpu)} s = ${fmt(r.serverCpuPerGbit, 3)} s/Gbit, generator ${fmt(100 * r.generatorCoreShare, 0)} % (max thread ${fmt(100 * r.generatorMaxThread.share, 0)} %), machine ${fmt(100 * busy, 0)} %` +
        `${invalid.length > 0 ? `\n    invalid: ${invalid.join('; ')}` : ''}${warnings.length > 0 ? `\n    warnings: ${warnings.join('; ')}` : ''}`,
      true,
    );
    return r;
  } finally {
    if (gen.running) {
      gen.send({ cmd: 'exit' });
      await gen.finish(4000);
    }
    await target.stop();
    await Promise.all(proxies.map((p) => p.stop('SIGTERM', 3000)));
    target.warnings.forEach((w) => warnings.push(w));
  }
}

/** Puts a udp-impair relay in front of every server address the target's URLs name, and rewrites the URLs. */
async function impairProxies(target: RunningTarget, p: NonNullable<Setup['proxy']>): Promise<Child[]> {
  const map = new Map<string, string>();
  const children: Child[] = [];
  const re = /^srt:\/\/([^/?]+)/;
  for (const item of [...target.publishers, ...target.viewers]) {
    const hp = re.exec(item.url)?.[1];
    if (hp === undefined || map.has(hp)) continue;
    const [port] = await freeUdpPorts(1);
    const c = new Child(`udp-impair ${hp}`, floorBin('udp-impair'), [
      '--listen', `127.0.0.1:${port}`, '--to', hp, '--loss', String(p.loss), '--delay', String(p.delayMs), '--jitter', String(p.jitterMs), '--seed', String(children.length + 1),
    ]);
    children.push(c);
    await waitFor(() => udpBoundIn(undefined, port!) || !c.running, 5000, 'udp-impair');
    if (!c.running) throw new Error(`udp-impair exited: ${c.stderr}`);
    map.set(hp, `127.0.0.1:${port}`);
  }
  for (const item of [...target.publishers, ...target.viewers]) item.url = item.url.replace(re, (_m, hp: string) => `srt://${map.get(hp) ?? hp}`);
  return children;
}

// ---- tables, plots, files -----------------------------------------------------------------------

function med(rs: TrialResult[], f: (r: TrialResult) => number | undefined): number {
  return median(rs.map((r) => f(r) ?? Number.NaN));
}

function table(o: Opts, sc: Scenario, results: TrialResult[], targets: TargetKind[]): { header: string[]; rows: string[][] } {
  const header = [
    sc.xName, 'target', 'valid', 'viewers ok', 'Mbit/s per viewer min / median / max', 'min delivered %', 'at ≥99.9 %', 'undelivered', 'gaps', 'dup', 'reord', 'CC err',
    'latency p50 / p99 / max ms', 'p99 − latency ms', 'server CPU s', '% core', 's/Gbit', `× ${TARGET_LABEL[targets[0]!]}`, 'RSS MB',
    'gen % core', 'gen max thread %', 'machine %', 'others %',
  ];
  const rows: string[][] = [];
  for (const x of [...new Set(results.map((r) => r.x))]) {
    const primary = results.filter((r) => r.x === x && r.target === targets[0]);
    const pPerGbit = med(primary, (r) => r.serverCpuPerGbit);
    for (const t of targets) {
      const rs = results.filter((r) => r.x === x && r.target === t);
      if (rs.length === 0) continue;
      const perGbit = med(rs, (r) => r.serverCpuPerGbit);
      const nValid = rs.filter((r) => r.valid).length;
      rows.push([
        String(x),
        TARGET_LABEL[t],
        nValid === rs.length ? 'yes' : `**INVALID** (${rs.length - nValid}/${rs.length})`,
        `${fmt(med(rs, (r) => r.viewersConnected), 0)}/${rs[0]!.viewersExpected}`,
        `${fmt(med(rs, (r) => r.slowestMbps))} / ${fmt(med(rs, (r) => r.medianMbps))} / ${fmt(med(rs, (r) => r.maxMbps))}`,
        fmt(med(rs, (r) => r.minDeliveredPct), 2),
        `${fmt(med(rs, (r) => r.viewersAtRate), 0)}/${rs[0]!.viewersExpected}`,
        fmt(med(rs, (r) => r.undelivered), 0),
        fmt(med(rs, (r) => r.lost), 0),
        fmt(med(rs, (r) => r.dup), 0),
        fmt(med(rs, (r) => r.reordered), 0),
        fmt(med(rs, (r) => r.ccErrors), 0),
        `${fmt(med(rs, (r) => r.latencyMs.p50), 1)} / ${fmt(med(rs, (r) => r.latencyMs.p99), 1)} / ${fmt(med(rs, (r) => r.latencyMs.max), 1)}`,
        fmt(med(rs, (r) => r.latencyMs.p99) - o.latency, 1),
        fmt(med(rs, (r) => r.serverCpu)),
        fmt(100 * med(rs, (r) => r.serverCoreShare), 0),
        fmt(perGbit, 3),
        t === targets[0] ? '1.00' : fmt(perGbit / pPerGbit, 2),
        fmt(med(rs, (r) => (r.serverRssPeakBytes ?? Number.NaN) / 1048576), 0),
        fmt(100 * med(rs, (r) => r.generatorCoreShare), 0),
        fmt(100 * med(rs, (r) => r.generatorMaxThread.share), 0),
        fmt(100 * med(rs, (r) => r.machineBusy), 0),
        fmt(100 * med(rs, (r) => r.othersBusy), 0),
      ]);
    }
  }
  return { header, rows };
}

async function plots(base: string, o: Opts, sc: Scenario, results: TrialResult[]): Promise<string[]> {
  const valid = results.filter((r) => r.valid);
  const label = (r: TrialResult): string => TARGET_LABEL[r.target];
  const out: string[] = [];
  const rate: Array<Record<string, number | string>> = [];
  const cpu: Array<Record<string, number | string>> = [];
  for (const r of valid) {
    rate.push({ x: r.x, target: label(r), mbps: r.slowestMbps, which: 'slowest viewer' });
    rate.push({ x: r.x, target: label(r), mbps: r.medianMbps, which: 'median viewer' });
    if (r.serverCoreShare !== undefined) cpu.push({ x: r.x, target: label(r), pct: 100 * r.serverCoreShare, what: 'server' });
    cpu.push({ x: r.x, target: label(r), pct: 100 * r.generatorCoreShare, what: 'load generator' });
  }
  const perGbit = valid
    .filter((r) => r.serverCpuPerGbit !== undefined)
    .map((r) => ({ x: r.x, target: label(r), sPerGbit: r.serverCpuPerGbit! }));
  const mb = (o.bitrate / 1e6).toFixed(o.bitrate % 1e6 === 0 ? 0 : 1);
  out.push(await writePlot(`${base}-bitrate`, lineSpec(`${o.scenario}: delivered Mbit/s per viewer (${mb} Mbit/s sent; valid trials)`, rate, { field: 'x', title: sc.xName }, { field: 'mbps', title: 'Mbit/s per viewer' }, { field: 'target', title: 'target' }, { field: 'which', title: '' })));
  out.push(await writePlot(`${base}-cpu`, lineSpec(`${o.scenario}: CPU (% of one core; valid trials)`, cpu, { field: 'x', title: sc.xName }, { field: 'pct', title: '% of one core' }, { field: 'target', title: 'target' }, { field: 'what', title: '' })));
  out.push(await writePlot(`${base}-cpu-per-gbit`, lineSpec(`${o.scenario}: server CPU seconds per delivered Gbit (valid trials)`, perGbit, { field: 'x', title: sc.xName }, { field: 'sPerGbit', title: 'CPU s per Gbit delivered' }, { field: 'target', title: 'target' })));
  const cdf: Array<{ ms: number; fraction: number; series: string }> = [];
  for (const r of valid.filter((t) => t.trial === 1)) for (const [ms, f] of r.latencyCdf) cdf.push({ ms, fraction: f, series: `${label(r)}, ${r.x}` });
  out.push(await writePlot(`${base}-latency-cdf`, cdfSpec(`${o.scenario}: end-to-end latency, publisher send → viewer (SRT latency ${o.latency} ms)`, cdf)));
  return out;
}

export async function renderFigures(file: string, data: { params: Opts; results: TrialResult[] }): Promise<string[]> {
  const sc = SCENARIOS[data.params.scenario]!;
  return plots(file.replace(/\.json$/, ''), data.params, sc, data.results);
}

// ---- main ---------------------------------------------------------------------------------------

export async function main(argv: string[]): Promise<void> {
  const o = parseOpts(argv);
  if (o === undefined) return;
  const sc = SCENARIOS[o.scenario]!;
  const targets: TargetKind[] = [o.target, ...o.baselines];
  if (targets.includes('floor')) buildFloor();
  const machine = machineInfo(native.version());
  const started = new Date();
  const tStart = performance.now();
  let setup: Setup = { prefix: [], cleanup: async () => {}, notes: [] };
  if (sc.setup !== undefined) {
    const s = await sc.setup(o);
    if ('skip' in s) {
      process.stderr.write(`${s.skip}\n`);
      return;
    }
    setup = s;
  }
  const notes = setup.notes;
  const cleanup = setup.cleanup;
  process.stderr.write(
    `${o.scenario}: ${sc.xName} ${sc.points(o).join(', ')} × ${targets.map((t) => TARGET_LABEL[t]).join(' vs ')}, ${o.bitrate / 1e6} Mbit/s, ` +
      `${o.duration} s window (+${o.settle} s settle), ${o.trials} trial(s); ${machine.cpuModel}, ${machine.cores} cores${notes.length > 0 ? `; ${notes.join('; ')}` : ''}\n`,
  );
  const results: TrialResult[] = [];
  try {
    const points = sc.points(o);
    for (let pi = 0; pi < points.length; pi++) {
      for (let t = 1; t <= o.trials; t++) {
        // alternate the order of the targets so drift hits them alike
        const order = (pi + t) % 2 === 0 ? targets : [...targets].reverse();
        for (const kind of order) {
          // A trial during which other work took more than --noisy of the machine is run again
          // (at most --rerun-noisy times); the least disturbed one is kept, the others' noise recorded.
          let best: TrialResult | undefined;
          const rejected: number[] = [];
          for (let attempt = 0; attempt <= o.rerunNoisy; attempt++) {
            const busyBefore = await waitQuiet(o.quiet, 30_000);
            try {
              const r = await runTrial(o, sc, kind, points[pi]!, t, setup, busyBefore);
              if (best === undefined || r.othersBusy < best.othersBusy) {
                if (best !== undefined) rejected.push(best.othersBusy);
                best = r;
              } else {
                rejected.push(r.othersBusy);
              }
              if (best.othersBusy <= o.noisy) break;
              if (attempt < o.rerunNoisy) process.stderr.write(`  (other work used ${fmt(100 * r.othersBusy, 0)} % of the machine: running it again)\n`);
            } catch (e) {
              process.stderr.write(`\n[${o.scenario} ${TARGET_LABEL[kind]} ${sc.xName}=${points[pi]}] failed: ${(e as Error).message}\n`);
              break;
            }
          }
          if (best !== undefined) {
            best.noisyRerunsOthersBusy = rejected;
            results.push(best);
          }
        }
      }
    }
  } finally {
    await cleanup();
  }
  const elapsed = (performance.now() - tStart) / 1000;
  const { header, rows } = table(o, sc, results, targets);
  process.stdout.write(`\n${textTable(header, rows)}\n\n${o.scenario}: ${results.length} trials in ${fmt(elapsed / 60, 1)} min\n`);
  mkdirSync(o.out, { recursive: true });
  const stamp = fileStamp(started);
  const base = join(o.out, `${o.scenario}-${stamp}`);
  const command = `npm run bench -- ${argv.map((a) => (/^[\w.,%:=/-]+$/.test(a) ? a : `'${a}'`)).join(' ')}`;
  const json = {
    bench: o.scenario,
    command,
    date: started.toISOString(),
    elapsedSeconds: elapsed,
    machine,
    source: sourceInfo(),
    notes,
    params: o,
    results,
  };
  writeFileSync(`${base}.json`, `${JSON.stringify(json, null, 1)}\n`);
  let figs: string[] = [];
  try {
    figs = await plots(base, o, sc, results);
  } catch (e) {
    process.stderr.write(`plots failed: ${(e as Error).message}\n`);
  }
  const rel = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
  const md =
    `# ${o.scenario}, ${started.toISOString()}\n\n` +
    `Command: \`${command}\` (from a bench/snapshot.sh copy; figures: \`npm run bench -- plot ${rel(`${base}.json`)}\`).\n\n` +
    `${machine.cpuModel}, ${machine.cores} cores, Linux ${machine.kernel}, Node ${machine.node}, libsrt ${machine.libsrt}, rmem_max ${String(machine.rmemMax)}, wmem_max ${String(machine.wmemMax)}. ` +
    `Source: ${JSON.stringify(json.source)}.\n\n` +
    `${sc.describe}; ${o.bitrate / 1e6} Mbit/s per publisher (synthetic TS, 1316-byte messages), SRT latency ${o.latency} ms, ` +
    `${o.duration} s window after ${o.settle} s settle, ${o.trials} trial(s) (medians). Viewers: ${o.viewerWorkers} generator threads, ${o.share} per local UDP port, TSBPD ${o.viewerTsbpd ? 'on' : 'off'}. ` +
    `${notes.join('; ')}${notes.length > 0 ? '. ' : ''}Sweep: ${fmt(elapsed / 60, 1)} min.\n\n` +
    `${markdownTable(header, rows)}\n\n` +
    (results.some((r) => !r.valid)
      ? `Invalid trials (the load generator, not the server, was the limit):\n\n${results.filter((r) => !r.valid).map((r) => `- ${TARGET_LABEL[r.target]} ${sc.xName}=${r.x} trial ${r.trial}: ${r.invalidReasons.join('; ')}`).join('\n')}\n\n`
      : '') +
    figs.map((f) => `![${rel(f)}](${rel(f)})`).join('\n') +
    '\n';
  writeFileSync(`${base}.md`, md);
  process.stdout.write(`results: ${base}.json\n         ${base}.md\n${figs.map((f) => `         ${f}\n`).join('')}`);
}
