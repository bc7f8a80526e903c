/**
 * Fan-out bench: one publisher at --bitrate Mbit/s → N viewers, through srt-relay and through the
 * C floor (bench/floor/srt-fanout-floor), a fresh relay process per trial, side by side.
 *
 *   node dist/bench/fanout.js [--viewers 10,50,100] [--bitrate 10] [--seconds 30] [--trials 1]
 *                             [--settle 2] [--per-process 50] [--workers 2] [--reuse-port 2]
 *                             [--relay runner|bin] [--impls relay,floor] [--out DIR]
 *
 * Relay: `node dist/bench/lib/run-relay.js` (the Relay class with workers 2, one 127.0.0.1 port
 * in both directions with 2 SO_REUSEPORT listeners, ring 8192 slots), or with --relay bin
 * `node bin/srt-relay.js --srt-port P --api-port A --log-level warn` (thread split then only
 * SRT vs not SRT). Floor: srt-fanout-floor --in/--out --reuseport 2. Publisher: srt-blast at
 * --bitrate with streamid publish:bench (the floor ignores it). Viewers: bench/lib/viewers.js,
 * one process per --per-process viewers, streamid read:bench, started 300 ms after the
 * publisher (the relay refuses read: of a stream that is not live with 1404).
 *
 * The measurement window starts --settle seconds after every viewer has connected and lasts
 * --seconds. Per N and implementation: per-viewer Mbit/s (slowest, median), loss % (sequence
 * gaps), relay CPU (user+sys from /proc/<pid>/stat) per delivered Gbit, RSS peak (VmHWM), and
 * the relay's CPU per thread group from /proc/<pid>/task/<tid>/{stat,comm}: libsrt threads are
 * named SRT:RcvQ:wN, SRT:SndQ:wN, SRT:TsbPd, SRT:GC; every other thread is called "node" and
 * run-relay reports which are the main thread, the worker threads and the addon's reactor.
 * Writes bench/results/fanout-<date>.{json,md}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { native } from '../src/srt/native.js';
import {
  Child,
  buildFloor,
  delay,
  fileStamp,
  floorBin,
  fmt,
  freeUdpPorts,
  machineCpu,
  machineInfo,
  markdownTable,
  median,
  nodeChild,
  parseList,
  pidCpu,
  positive,
  procStatusBytes,
  repoRoot,
  sourceInfo,
  textTable,
  threadDeltas,
  threadSamples,
  udpPortBound,
  waitFor,
  waitQuiet,
  type ThreadSample,
} from './lib/util.js';

const { values } = parseArgs({
  options: {
    viewers: { type: 'string' },
    bitrate: { type: 'string' },
    seconds: { type: 'string' },
    trials: { type: 'string' },
    settle: { type: 'string' },
    'per-process': { type: 'string' },
    workers: { type: 'string' },
    'reuse-port': { type: 'string' },
    relay: { type: 'string' },
    impls: { type: 'string' },
    'viewer-mode': { type: 'string' },
    streams: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help === true) {
  process.stdout.write(
    'usage: node dist/bench/fanout.js [--viewers 10,50,100] [--bitrate 10] [--seconds 30] [--trials 1] [--settle 2]\n' +
      '                                 [--per-process 50] [--workers 2] [--reuse-port 2] [--relay runner|bin]\n' +
      '                                 [--impls relay,floor] [--viewer-mode normal|light] [--streams 1] [--out DIR]\n' +
      '  --streams K: K publishers (streams bench0..), the N viewers split evenly over them (relay only:\n' +
      '               the C floor relays one stream)\n',
  );
  process.exit(0);
}

const viewerCounts = parseList(values.viewers ?? '10,50,100', '--viewers').map(Math.round);
const bitrate = positive(values.bitrate, '--bitrate', 10);
const seconds = positive(values.seconds, '--seconds', 30);
const trials = Math.round(positive(values.trials, '--trials', 1));
const settle = values.settle === '0' ? 0 : positive(values.settle, '--settle', 2);
const perProcess = Math.round(positive(values['per-process'], '--per-process', 50));
const workers = Math.round(positive(values.workers, '--workers', 2));
const reusePort = Math.round(positive(values['reuse-port'], '--reuse-port', 2));
const relayMode = values.relay ?? 'runner';
if (relayMode !== 'runner' && relayMode !== 'bin') throw new Error(`--relay: runner or bin (got '${relayMode}')`);
const streamCount = Math.round(positive(values.streams, '--streams', 1));
const impls = (values.impls ?? (streamCount > 1 ? 'relay' : 'relay,floor')).split(',').map((s) => s.trim());
if (streamCount > 1 && impls.includes('floor')) throw new Error('--streams > 1: the C floor relays one stream; use --impls relay');
/** Stream name of publisher i. */
const streamName = (i: number): string => (streamCount === 1 ? 'bench' : `bench${i}`);
for (const i of impls) if (i !== 'relay' && i !== 'floor') throw new Error(`--impls: relay and/or floor (got '${i}')`);
const viewerMode = values['viewer-mode'] ?? 'normal';
if (viewerMode !== 'normal' && viewerMode !== 'light') throw new Error(`--viewer-mode: normal or light (got '${viewerMode}')`);
/** light: viewers without TSBPD (no per-socket TsbPd thread), 5 per local UDP port (shared libsrt receive thread). */
const viewerArgs = viewerMode === 'light' ? ['--tsbpd', 'off', '--share', '5'] : [];
const outDir = values.out ?? join(repoRoot(), 'bench', 'results');
const isTty = process.stderr.isTTY === true;

type Impl = 'relay' | 'floor';

interface ThreadGroups {
  total: number;
  srt: number;
  nonSrt: number;
  /** Relay (runner): main thread, worker threads, reactor; floor: main (data loop) and the accept thread. */
  main: number;
  workers: number;
  reactor: number;
  other: number;
  byName: Record<string, number>;
  /** Voluntary context switches (≈ wake-ups) per group name over the window. */
  wakeupsByName: Record<string, number>;
}

interface TrialResult {
  impl: Impl;
  viewers: number;
  trial: number;
  connected: number;
  failed: number;
  closedDuringWindow: number;
  seconds: number;
  mbpsPerViewer: number[];
  slowestMbps: number;
  medianMbps: number;
  totalMbps: number;
  lostPackets: number;
  latePackets: number;
  lossPct: number;
  worstViewerLossPct: number;
  relayCpu: number;
  relayCpuPerGbit: number;
  relayCoreShare: number;
  rssPeakBytes: number | undefined;
  threads: ThreadGroups;
  nonSrtShare: number;
  jsShare: number;
  viewerProcsCpu: number;
  /** Worst event-loop delay (p99 and max, ms) of the viewer processes over the window. */
  viewerLoopDelayP99Ms: number;
  viewerLoopDelayMaxMs: number;
  publisherCpu: number;
  machineBusy: number;
  /** Share of the machine (0..1) busy with processes other than the relay, the viewers and the publisher (other work on the host). */
  othersBusy: number;
  /** Machine busy fraction in the second before the trial (other work on the host). */
  busyBefore?: number;
  serverResult?: Record<string, unknown>;
  publisherResult?: Record<string, unknown>;
  relayThreads?: { mainTid: number; reactorTids: number[]; workerTids: number[] };
  warnings: string[];
}

function groupThreads(deltas: ThreadSample[], pid: number, ids: TrialResult['relayThreads']): ThreadGroups {
  const g: ThreadGroups = { total: 0, srt: 0, nonSrt: 0, main: 0, workers: 0, reactor: 0, other: 0, byName: {}, wakeupsByName: {} };
  const workerSet = new Set(ids?.workerTids ?? []);
  const reactorSet = new Set(ids?.reactorTids ?? []);
  for (const d of deltas) {
    g.total += d.cpu;
    // SRT:RcvQ:w1 -> SRT:RcvQ (per kind); other names as they are.
    const kind = d.comm.startsWith('SRT:') ? d.comm.split(':').slice(0, 2).join(':') : d.comm;
    if (d.comm.startsWith('SRT:')) {
      g.srt += d.cpu;
      g.byName[kind] = (g.byName[kind] ?? 0) + d.cpu;
      g.wakeupsByName[kind] = (g.wakeupsByName[kind] ?? 0) + d.wakeups;
      continue;
    }
    g.nonSrt += d.cpu;
    let name: string;
    if (d.tid === pid) {
      g.main += d.cpu;
      name = 'main';
    } else if (workerSet.has(d.tid)) {
      g.workers += d.cpu;
      name = 'workers';
    } else if (reactorSet.has(d.tid)) {
      g.reactor += d.cpu;
      name = 'reactor';
    } else {
      g.other += d.cpu;
      name = ids === undefined && d.comm !== 'node' ? `${d.comm} (other)` : 'other node threads';
    }
    g.byName[name] = (g.byName[name] ?? 0) + d.cpu;
    g.wakeupsByName[name] = (g.wakeupsByName[name] ?? 0) + d.wakeups;
  }
  return g;
}

function progress(line: string, final = false): void {
  if (isTty) process.stderr.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
  else if (final) process.stderr.write(`${line}\n`);
}

async function queryProgress(groups: Child[]): Promise<{ connected: number; open: number; bytes: number; silent: number }> {
  const replies = await Promise.all(
    groups.map((g) => {
      const seen = g.lines.length;
      const p = g.waitMessage((m) => m['event'] === 'progress' && g.lines.indexOf(m) >= seen, 2000, 'progress');
      g.send({ cmd: 'progress' });
      return p.catch(() => ({ silent: 1 }) as Record<string, unknown>);
    }),
  );
  let connected = 0;
  let open = 0;
  let bytes = 0;
  let silent = 0;
  for (const r of replies) {
    silent += Number(r['silent'] ?? 0);
    connected += Number(r['connected'] ?? 0);
    open += Number(r['open'] ?? 0);
    bytes += Number(r['bytes'] ?? 0);
  }
  return { connected, open, bytes, silent };
}

async function runTrial(impl: Impl, n: number, trial: number): Promise<TrialResult> {
  const warnings: string[] = [];
  const [p1, p2, p3] = await freeUdpPorts(3);
  const children: Child[] = [];
  const tag = `[fanout ${impl} N=${n} trial ${trial}]`;
  try {
    // 1. the relay or the floor
    let server: Child;
    let pubPort: number;
    let viewPort: number;
    let relayThreads: TrialResult['relayThreads'];
    if (impl === 'relay') {
      pubPort = viewPort = p1!;
      if (relayMode === 'runner') {
        server = nodeChild('srt-relay (run-relay)', 'lib/run-relay.js', [
          '--port', String(p1), '--workers', String(workers), '--reuse-port', String(reusePort), '--ring-slots', '8192', '--log-level', 'warn',
        ]);
        children.push(server);
        const ready = await server.waitEvent('ready', 20_000);
        relayThreads = {
          mainTid: Number(ready['mainTid']),
          reactorTids: (ready['reactorTids'] as number[]) ?? [],
          workerTids: (ready['workerTids'] as number[]) ?? [],
        };
      } else {
        server = new Child('srt-relay (bin)', process.execPath, [
          join(repoRoot(), 'bin', 'srt-relay.js'), '--srt-port', String(p1), '--api-port', String(p3), '--log-level', 'warn',
        ]);
        children.push(server);
      }
      await waitFor(() => udpPortBound(p1!) || !server.running, 20_000, `srt-relay on port ${p1}`);
    } else {
      pubPort = p1!;
      viewPort = p2!;
      server = new Child('srt-fanout-floor', floorBin('srt-fanout-floor'), [
        '--in', `127.0.0.1:${p1}`, '--out', `127.0.0.1:${p2}`, '--reuseport', String(reusePort),
      ]);
      children.push(server);
      await waitFor(() => (udpPortBound(p1!) && udpPortBound(p2!)) || !server.running, 10_000, 'srt-fanout-floor ports');
    }
    if (!server.running) throw new Error(`${server.name} exited at start: ${server.stderr.slice(-500)}`);
    const serverPid = server.pid!;

    // 2. the publisher, then (300 ms later) the viewers
    const publishers: Child[] = [];
    for (let i = 0; i < streamCount; i++) {
      const publisher = new Child(`srt-blast#${i}`, floorBin('srt-blast'), [
        '--connect', `127.0.0.1:${pubPort}`, '--rate', String(bitrate), '--seconds', '100000', '--streamid', `publish:${streamName(i)}`,
      ]);
      children.push(publisher);
      publishers.push(publisher);
    }
    await delay(300);
    for (const publisher of publishers) {
      if (!publisher.running) throw new Error(`${publisher.name} exited: ${publisher.stderr.slice(-500)}`);
    }

    // Viewer processes per stream: the N viewers split evenly over the streams.
    const groups: Child[] = [];
    for (let i = 0; i < streamCount; i++) {
      const perStream = Math.floor(n / streamCount) + (i < n % streamCount ? 1 : 0);
      const nGroups = Math.max(1, Math.ceil(perStream / perProcess));
      for (let g = 0; g < nGroups && perStream > 0; g++) {
        const count = Math.floor(perStream / nGroups) + (g < perStream % nGroups ? 1 : 0);
        const c = nodeChild(`viewers#${i}.${g}`, 'lib/viewers.js', [
          '--port', String(viewPort), '--count', String(count), '--streamid', `read:${streamName(i)}`, ...viewerArgs,
        ], true);
        groups.push(c);
        children.push(c);
      }
    }
    const t0 = Date.now();
    const conn = await Promise.all(groups.map((g) => g.waitEvent('connected', 60_000)));
    const connected = conn.reduce((a, m) => a + Number(m['connected']), 0);
    const failed = conn.reduce((a, m) => a + Number(m['failed']), 0);
    for (const m of conn) for (const e of (m['errors'] as string[]) ?? []) warnings.push(e);
    progress(`${tag} ${connected}/${n} viewers connected in ${((Date.now() - t0) / 1000).toFixed(1)} s${failed > 0 ? `, ${failed} failed` : ''}`, true);

    // 3. settle, then the measurement window
    let last = await queryProgress(groups);
    let lastT = performance.now();
    const showProgress = async (left: number, phase: string): Promise<void> => {
      const p = await queryProgress(groups);
      let line: string;
      if (p.silent > 0) {
        line = `${tag} ${phase} ${left.toFixed(0)} s left · ${p.silent}/${groups.length} viewer processes not answering (event loop busy)`;
      } else {
        const t = performance.now();
        const mbps = ((p.bytes - last.bytes) * 8) / ((t - lastT) / 1000) / 1e6;
        last = p;
        lastT = t;
        line = `${tag} ${phase} ${left.toFixed(0)} s left · ${p.open}/${n} viewers connected · ${mbps.toFixed(1)} Mbit/s total (${(mbps / Math.max(1, p.open)).toFixed(2)} per viewer)`;
      }
      if (isTty) progress(line);
      else if (Math.round(left) % 5 === 0) process.stderr.write(`${line}\n`);
    };
    for (let s = settle; s > 0; s--) {
      await delay(1000);
      await showProgress(s - 1, 'settling,');
    }

    const th0 = threadSamples(serverPid);
    const cpu0 = pidCpu(serverPid) ?? 0;
    const m0 = machineCpu();
    const vcpu0 = groups.reduce((a, g) => a + (pidCpu(g.pid!) ?? 0), 0);
    const pubCpu = (): number => publishers.reduce((a, pb) => a + (pidCpu(pb.pid!) ?? 0), 0);
    const pcpu0 = pubCpu();
    // The window is named in CLOCK_MONOTONIC (process.hrtime), which the viewer processes
    // share: their counters are bucketed by time, so a late answer does not skew the window.
    const wFromNs = process.hrtime.bigint();
    for (const g of groups) g.send({ cmd: 'mark' }); // restarts their event-loop statistics
    const wStart = performance.now();
    const wEnd = wStart + seconds * 1000;
    while (performance.now() < wEnd - 50) {
      await delay(Math.min(1000, wEnd - performance.now()));
      await showProgress(Math.max(0, (wEnd - performance.now()) / 1000), 'measuring,');
    }
    const th1 = threadSamples(serverPid);
    const cpu1 = pidCpu(serverPid) ?? cpu0;
    const wToNs = process.hrtime.bigint();
    const windowSec = (performance.now() - wStart) / 1000;
    const m1 = machineCpu();
    const vcpu1 = groups.reduce((a, g) => a + (pidCpu(g.pid!) ?? 0), 0);
    const pcpu1 = pubCpu();
    const rss = procStatusBytes(serverPid, 'VmHWM');
    // Stop the publisher first: an overloaded viewer process may not read its messages until
    // the traffic stops.
    await Promise.all(publishers.map((pb) => pb.stop('SIGTERM', 5000)));
    const reports = await Promise.all(
      groups.map((g) => {
        const seen = g.lines.length;
        const p = g.waitMessage((m) => m['event'] === 'report' && g.lines.indexOf(m) >= seen, 60_000, 'report');
        g.send({ cmd: 'report', from: String(wFromNs), to: String(wToNs) });
        return p;
      }),
    );

    // 4. teardown: viewers, publisher, server
    for (const g of groups) g.send({ cmd: 'exit' });
    await Promise.all(groups.map((g) => g.finish(3000)));
    await server.stop('SIGTERM', 8000);
    if (server.signal !== null && server.signal !== 'SIGTERM') warnings.push(`${server.name} ended by ${server.signal}`);
    if (server.exitCode !== 0 && server.exitCode !== null && server.exitCode !== undefined) {
      warnings.push(`${server.name} exit code ${String(server.exitCode)}: ${server.stderr.trim().split('\n').slice(-2).join(' | ')}`);
    }

    // 5. numbers
    const viewers: Array<{ bytes: number; packets: number; lost: number; late: number; closed: boolean; seconds: number }> = [];
    const loopMax = Math.max(0, ...reports.map((r) => Number((r['loopDelayMs'] as { max?: number } | undefined)?.max ?? 0)));
    if (loopMax > 2000) {
      warnings.push(`a viewer process's event loop was held for ${(loopMax / 1000).toFixed(1)} s (load generator overloaded)`);
    }
    for (const r of reports) {
      const secs = Number(r['seconds']);
      for (const v of r['viewers'] as Array<{ bytes: number; packets: number; lost: number; late: number; closed: boolean }>) {
        viewers.push({ ...v, seconds: secs });
      }
    }
    const live = viewers.filter((v) => !v.closed || v.packets > 0);
    const mbpsPer = live.map((v) => (v.bytes * 8) / v.seconds / 1e6);
    const deliveredBits = live.reduce((a, v) => a + v.bytes * 8, 0);
    const lostPackets = live.reduce((a, v) => a + v.lost, 0);
    const latePackets = live.reduce((a, v) => a + v.late, 0);
    const packets = live.reduce((a, v) => a + v.packets, 0);
    const relayCpu = cpu1 - cpu0;
    const threads = groupThreads(threadDeltas(th0, th1), serverPid, relayThreads);
    const serverResult = impl === 'floor' ? server.lastJson() : undefined;
    const result: TrialResult = {
      impl,
      viewers: n,
      trial,
      connected,
      failed,
      closedDuringWindow: viewers.filter((v) => v.closed).length,
      seconds: windowSec,
      mbpsPerViewer: mbpsPer.map((x) => Math.round(x * 1000) / 1000),
      slowestMbps: mbpsPer.length > 0 ? Math.min(...mbpsPer) : 0,
      medianMbps: median(mbpsPer),
      totalMbps: deliveredBits / windowSec / 1e6,
      lostPackets,
      latePackets,
      lossPct: packets + lostPackets > 0 ? (100 * lostPackets) / (packets + lostPackets) : 0,
      worstViewerLossPct: Math.max(0, ...live.map((v) => (v.packets + v.lost > 0 ? (100 * v.lost) / (v.packets + v.lost) : 0))),
      relayCpu,
      relayCpuPerGbit: deliveredBits > 0 ? relayCpu / (deliveredBits / 1e9) : Number.NaN,
      relayCoreShare: relayCpu / windowSec,
      rssPeakBytes: rss,
      threads,
      nonSrtShare: threads.total > 0 ? threads.nonSrt / threads.total : Number.NaN,
      jsShare: threads.total > 0 ? (threads.main + threads.workers) / threads.total : Number.NaN,
      viewerProcsCpu: vcpu1 - vcpu0,
      viewerLoopDelayP99Ms: Math.max(0, ...reports.map((r) => Number((r['loopDelayMs'] as { p99?: number } | undefined)?.p99 ?? 0))),
      viewerLoopDelayMaxMs: Math.max(0, ...reports.map((r) => Number((r['loopDelayMs'] as { max?: number } | undefined)?.max ?? 0))),
      publisherCpu: pcpu1 - pcpu0,
      machineBusy: (m1.busy - m0.busy) / Math.max(1e-9, m1.total - m0.total),
      othersBusy: Math.max(
        0,
        (m1.busy - m0.busy) / Math.max(1e-9, m1.total - m0.total) -
          (relayCpu + (vcpu1 - vcpu0) + (pcpu1 - pcpu0)) / Math.max(1e-9, m1.total - m0.total),
      ),
      ...(serverResult !== undefined ? { serverResult } : {}),
      ...(publishers[0]!.lastJson() !== undefined ? { publisherResult: publishers[0]!.lastJson()! } : {}),
      ...(relayThreads !== undefined ? { relayThreads } : {}),
      warnings,
    };
    progress(
      `${tag} ${fmt(result.slowestMbps)} / ${fmt(result.medianMbps)} Mbit/s per viewer (slowest/median), loss ${fmt(result.lossPct, 3)} %, ` +
        `${impl} CPU ${fmt(relayCpu)} s = ${fmt(result.relayCpuPerGbit, 3)} s/Gbit, non-SRT ${fmt(100 * result.nonSrtShare, 0)} %, viewer loop p99 ${fmt(result.viewerLoopDelayP99Ms, 0)} ms, machine busy ${fmt(100 * result.machineBusy, 0)} %` +
        `${warnings.length > 0 ? `  [${warnings.join('; ')}]` : ''}`,
      true,
    );
    return result;
  } catch (e) {
    const tails = children
      .filter((c) => c.stderr.trim() !== '' || !c.running)
      .map((c) => `${c.name}${c.running ? '' : ` (exited: code ${String(c.exitCode)}, signal ${String(c.signal)})`}: ${c.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    throw new Error(`${(e as Error).message}${tails.length > 0 ? `\n  ${tails.join('\n  ')}` : ''}`);
  } finally {
    for (const c of children.reverse()) {
      if (c.running) await c.stop('SIGTERM', 3000);
    }
  }
}

interface Row {
  n: number;
  relay?: TrialResult[];
  floor?: TrialResult[];
}

function med(rs: TrialResult[] | undefined, f: (r: TrialResult) => number): number {
  return rs === undefined || rs.length === 0 ? Number.NaN : median(rs.map(f));
}

function tables(rows: Row[]): {
  header: string[];
  cells: string[][];
  splitHeader: string[];
  split: string[][];
  wakeHeader: string[];
  wake: string[][];
} {
  const wakeHeader = ['N', 'impl', 'main', 'workers', 'reactor', 'other node', 'SRT:RcvQ', 'SRT:SndQ', 'SRT:TsbPd', 'all threads'];
  const wake: string[][] = [];
  const header = [
    'N', 'impl', 'viewers ok', 'slowest Mbit/s', 'median Mbit/s', 'loss %', 'CPU s', 'CPU % core', 'CPU s/Gbit', 'relay/floor', 'RSS peak MB', 'non-SRT %', 'viewer procs CPU s', 'viewer loop p99 ms', 'machine busy %', 'others %',
  ];
  const cells: string[][] = [];
  const splitHeader = ['N', 'impl', 'total s', 'main', 'workers', 'reactor', 'other node', 'SRT:RcvQ', 'SRT:SndQ', 'SRT:TsbPd', 'SRT:GC', 'JS (main+workers) %', 'non-SRT %'];
  const split: string[][] = [];
  for (const row of rows) {
    const floorPerGbit = med(row.floor, (r) => r.relayCpuPerGbit);
    for (const impl of ['relay', 'floor'] as const) {
      const rs = row[impl];
      if (rs === undefined || rs.length === 0) continue;
      const perGbit = med(rs, (r) => r.relayCpuPerGbit);
      cells.push([
        String(row.n),
        impl === 'relay' ? 'srt-relay' : 'floor (C)',
        `${fmt(med(rs, (r) => r.connected), 0)}/${row.n}`,
        fmt(med(rs, (r) => r.slowestMbps), 2),
        fmt(med(rs, (r) => r.medianMbps), 2),
        fmt(med(rs, (r) => r.lossPct), 3),
        fmt(med(rs, (r) => r.relayCpu), 2),
        fmt(100 * med(rs, (r) => r.relayCoreShare), 0),
        fmt(perGbit, 3),
        impl === 'relay' && Number.isFinite(floorPerGbit) ? fmt(perGbit / floorPerGbit, 2) : '',
        fmt(med(rs, (r) => (r.rssPeakBytes ?? Number.NaN) / 1048576), 0),
        fmt(100 * med(rs, (r) => r.nonSrtShare), 0),
        fmt(med(rs, (r) => r.viewerProcsCpu), 1),
        fmt(med(rs, (r) => r.viewerLoopDelayP99Ms), 0),
        fmt(100 * med(rs, (r) => r.machineBusy), 0),
        fmt(100 * med(rs, (r) => r.othersBusy), 0),
      ]);
      const t = (f: (g: ThreadGroups) => number): string => fmt(med(rs, (r) => f(r.threads)), 2);
      split.push([
        String(row.n),
        impl === 'relay' ? 'srt-relay' : 'floor (C)',
        t((g) => g.total),
        t((g) => g.main),
        impl === 'relay' ? t((g) => g.workers) : `${t((g) => g.nonSrt - g.main)} (accept)`,
        impl === 'relay' ? t((g) => g.reactor) : '',
        impl === 'relay' ? t((g) => g.other) : '',
        t((g) => g.byName['SRT:RcvQ'] ?? 0),
        t((g) => g.byName['SRT:SndQ'] ?? 0),
        t((g) => g.byName['SRT:TsbPd'] ?? 0),
        t((g) => g.byName['SRT:GC'] ?? 0),
        impl === 'relay' ? fmt(100 * med(rs, (r) => r.jsShare), 0) : '',
        fmt(100 * med(rs, (r) => r.nonSrtShare), 0),
      ]);
      const w = (name: string): string => fmt(med(rs, (r) => (r.threads.wakeupsByName[name] ?? 0) / r.seconds), 0);
      wake.push([
        String(row.n),
        impl === 'relay' ? 'srt-relay' : 'floor (C)',
        w('main'),
        impl === 'relay' ? w('workers') : fmt(med(rs, (r) => (r.threads.wakeupsByName['srt-fanout-floo (other)'] ?? 0) / r.seconds), 0) + ' (accept)',
        impl === 'relay' ? w('reactor') : '',
        impl === 'relay' ? w('other node threads') : '',
        w('SRT:RcvQ'),
        w('SRT:SndQ'),
        w('SRT:TsbPd'),
        fmt(med(rs, (r) => Object.values(r.threads.wakeupsByName).reduce((a, b) => a + b, 0) / r.seconds), 0),
      ]);
    }
  }
  return { header, cells, splitHeader, split, wakeHeader, wake };
}

async function main(): Promise<void> {
  buildFloor();
  const machine = machineInfo(native.version());
  process.stderr.write(
    `fanout: N = ${viewerCounts.join(', ')} viewers x ${trials} trial(s), ${bitrate} Mbit/s, ${seconds} s window (+${settle} s settle), ` +
      `relay: ${relayMode} (${workers} workers, ${reusePort} reuseport listeners), viewers ${viewerMode}; ${machine.cpuModel}, ${machine.cores} cores\n`,
  );
  const rows: Row[] = [];
  const all: TrialResult[] = [];
  for (let ni = 0; ni < viewerCounts.length; ni++) {
    const n = viewerCounts[ni]!;
    const row: Row = { n };
    for (let t = 0; t < trials; t++) {
      // Alternate which implementation goes first, so both see the same drift.
      const order = (t + ni) % 2 === 0 ? impls : [...impls].reverse();
      for (const impl of order as Impl[]) {
        let r: TrialResult;
        const before = await waitQuiet();
        try {
          r = await runTrial(impl, n, t + 1);
          r.busyBefore = before;
        } catch (e) {
          process.stderr.write(`\n[fanout ${impl} N=${n} trial ${t + 1}] failed: ${(e as Error).message}\n`);
          continue;
        }
        (row[impl] ??= []).push(r);
        all.push(r);
      }
    }
    rows.push(row);
  }
  const { header, cells, splitHeader, split, wakeHeader, wake } = tables(rows);
  const text =
    `per-viewer delivery and relay CPU (medians over ${trials} trial(s), ${seconds} s window, ${bitrate} Mbit/s):\n${textTable(header, cells)}\n\n` +
    `relay CPU seconds by thread group over the window:\n${textTable(splitHeader, split)}\n\n` +
    `relay thread wake-ups per second (voluntary context switches):\n${textTable(wakeHeader, wake)}\n`;
  process.stdout.write(`\n${text}`);

  const date = new Date();
  const stamp = fileStamp(date);
  mkdirSync(outDir, { recursive: true });
  const params = { viewers: viewerCounts, bitrate, seconds, trials, settle, perProcess, workers, reusePort, relay: relayMode, impls, viewerMode, streams: streamCount };
  const jsonFile = join(outDir, `fanout-${stamp}.json`);
  writeFileSync(jsonFile, `${JSON.stringify({ bench: 'fanout', date: date.toISOString(), machine, source: sourceInfo(), params, trials: all }, null, 2)}\n`);
  const md =
    `# fan-out bench, ${date.toISOString()}\n\n` +
    `${machine.cpuModel}, ${machine.cores} cores, Linux ${machine.kernel}, Node ${machine.node}, libsrt ${machine.libsrt}, ` +
    `rmem_max ${String(machine.rmemMax)}, wmem_max ${String(machine.wmemMax)}.\n\n` +
    `${streamCount === 1 ? 'One publisher' : `${streamCount} publishers (streams bench0..bench${streamCount - 1}, the N viewers split evenly over them), each`} (srt-blast, ${bitrate} Mbit/s, 1316-byte packets) → N viewers; ${seconds} s window after all viewers connected ` +
    `(+${settle} s settle); medians over ${trials} trial(s); viewers: bench/lib/viewers.js, ${perProcess} per process, ${viewerMode === 'light' ? 'light mode (TSBPD off, 5 per local port)' : 'normal mode (TSBPD on, own port each)'}. srt-relay: ${relayMode === 'runner' ? 'bench/lib/run-relay.js' : 'bin/srt-relay.js'}, ` +
    `${workers} worker threads, ${reusePort} SO_REUSEPORT listeners; floor: srt-fanout-floor --reuseport ${reusePort}.\n\n` +
    `${markdownTable(header, cells)}\n\n` +
    `Relay CPU seconds by thread group over the window:\n\n${markdownTable(splitHeader, split)}\n\n` +
    `Relay thread wake-ups per second (voluntary context switches):\n\n${markdownTable(wakeHeader, wake)}\n`;
  const mdFile = join(outDir, `fanout-${stamp}.md`);
  writeFileSync(mdFile, md);
  process.stdout.write(`results: ${jsonFile}\n         ${mdFile}\n`);
}

await main();
