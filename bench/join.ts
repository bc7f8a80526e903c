/**
 * Join bench: how long a new viewer waits for its first byte and for its first keyframe, with
 * srt-relay's keyframe join (`read:j`, the default: the viewer starts at the ring's last
 * keyframe) against its live join (`#!::r=j,m=request,join=live`) and against
 * srt-live-transmit relaying the same source; plus the failover gap of a stream whose push
 * publisher dies (SIGKILL and clean stop) and comes back, with a file slate as backup.
 *
 *   node dist/bench/join.js [--joins 100] [--slt-joins 30] [--reps 5] [--skip slt,failover] [--out DIR]
 *
 * Fixtures (ffmpeg, in a temp dir): src.ts 640x360 25 fps H.264 with a fixed 2 s GOP, video on
 * PID 0x100; slate.ts 320x240 with video on PID 0x200 (so the viewer can tell them apart).
 * Times are taken in this process (performance.now()) when the addon reports the socket
 * readable: connect() start → first byte, → first byte of the first video PES that is an IDR.
 * The relay runs in this process (Relay class, workers 2, ring 8192 slots). Loopback only.
 * Writes bench/results/join-<date>.{json,md}.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { native } from '../src/srt/native.js';
import { SrtSocket } from '../src/srt/socket.js';
import { Relay, type RelayStreamOptions } from '../src/supervisor/relay.js';
import { createLogger } from '../src/logging.js';
import { VideoWatcher, type PesStart } from './lib/ts-video.js';
import { delay, fileStamp, fmt, freeUdpPorts, machineCpu, machineInfo, markdownTable, median, repoRoot, sourceInfo, textTable } from './lib/util.js';

const { values } = parseArgs({
  options: {
    joins: { type: 'string', default: '100' },
    'slt-joins': { type: 'string', default: '30' },
    reps: { type: 'string', default: '5' },
    /** The viewers' SRT receive latency in ms (libsrt default 120): every first byte waits for it. */
    latency: { type: 'string' },
    skip: { type: 'string', default: '' },
    out: { type: 'string' },
  },
});
const JOINS = Number(values.joins);
const SLT_JOINS = Number(values['slt-joins']);
const REPS = Number(values.reps);
const VIEWER_LATENCY = values.latency === undefined ? undefined : Number(values.latency);
const skip = new Set((values.skip ?? '').split(',').filter((s) => s !== ''));
const outDir = values.out ?? join(repoRoot(), 'bench', 'results');
const CAP_MS = 5000;
const SRC_PID = 0x100;
const SLATE_PID = 0x200;

const log = (s: string): void => void process.stderr.write(`${s}\n`);
const uptime = (): string => {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `loadavg ${loadavg().map((x) => x.toFixed(2)).join(' ')}`;
  }
};

// ---- fixtures -------------------------------------------------------------------------------

function makeFixtures(dir: string): { src: string; slate: string } {
  const src = join(dir, 'src.ts');
  const slate = join(dir, 'slate.ts');
  const common = ['-hide_banner', '-loglevel', 'error', '-y'];
  const enc = ['-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-keyint_min', '50', '-sc_threshold', '0', '-c:a', 'aac', '-f', 'mpegts'];
  execFileSync('ffmpeg', [...common, '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine', '-t', '20', ...enc,
    '-streamid', '0:0x100', '-streamid', '1:0x101', src]);
  execFileSync('ffmpeg', [...common, '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=880', '-t', '20', ...enc,
    '-streamid', '0:0x200', '-streamid', '1:0x201', slate]);
  return { src, slate };
}

// ---- one join -------------------------------------------------------------------------------

interface JoinResult {
  ok: boolean;
  connectMs?: number;
  firstByteMs?: number;
  keyframeMs?: number;
  error?: string;
}

async function joinOnce(port: number, streamid: string | undefined): Promise<JoinResult> {
  const sock = SrtSocket.create({
    ...(streamid === undefined ? {} : { streamid }),
    ...(VIEWER_LATENCY === undefined ? {} : { latency: VIEWER_LATENCY }),
  });
  const buf = new Uint8Array(1500);
  let firstByte: number | undefined;
  let keyframe: number | undefined;
  let done: (() => void) | undefined;
  const finished = new Promise<void>((r) => (done = r));
  const watcher = new VideoWatcher([SRC_PID, SLATE_PID], (p) => {
    if (p.idr && keyframe === undefined) {
      keyframe = p.t;
      done?.();
    }
  });
  const drain = (): void => {
    for (;;) {
      const n = sock.recv(buf);
      if (n <= 0) {
        if (n < 0) done?.();
        return;
      }
      const t = performance.now();
      firstByte ??= t;
      if (keyframe === undefined) watcher.feed(buf, n, t);
    }
  };
  const t0 = performance.now();
  const cap = setTimeout(() => done?.(), CAP_MS);
  try {
    await sock.connect('127.0.0.1', port);
  } catch (e) {
    clearTimeout(cap);
    sock.close();
    return { ok: false, error: (e as Error).message };
  }
  const tc = performance.now();
  sock.on({ readable: drain, closed: () => done?.() });
  drain();
  await finished;
  clearTimeout(cap);
  sock.close();
  return {
    ok: keyframe !== undefined,
    connectMs: tc - t0,
    ...(firstByte !== undefined ? { firstByteMs: firstByte - t0 } : {}),
    ...(keyframe !== undefined ? { keyframeMs: keyframe - t0 } : {}),
    ...(keyframe === undefined ? { error: firstByte === undefined ? 'no data within 5 s' : 'no keyframe within 5 s' } : {}),
  };
}

// ---- numbers --------------------------------------------------------------------------------

/** Nearest-rank percentile. */
function pct(xs: number[], p: number): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))]!;
}

interface JoinSummary {
  label: string;
  attempts: number;
  ok: number;
  firstByte: { p50: number; p99: number; max: number };
  keyframe: { p50: number; p99: number; max: number };
  errors: string[];
}

function summarize(label: string, rs: JoinResult[]): JoinSummary {
  const fb = rs.map((r) => r.firstByteMs ?? Number.NaN);
  const kf = rs.map((r) => r.keyframeMs ?? Number.NaN);
  return {
    label,
    attempts: rs.length,
    ok: rs.filter((r) => r.ok).length,
    firstByte: { p50: pct(fb, 50), p99: pct(fb, 99), max: pct(fb, 100) },
    keyframe: { p50: pct(kf, 50), p99: pct(kf, 99), max: pct(kf, 100) },
    errors: [...new Set(rs.filter((r) => r.error !== undefined).map((r) => r.error!))],
  };
}

function busySince(m0: { busy: number; total: number }): number {
  const m1 = machineCpu();
  return (m1.busy - m0.busy) / Math.max(1e-9, m1.total - m0.total);
}

function newRelay(port: number, streams: Record<string, RelayStreamOptions>): Relay {
  return new Relay({
    nodeId: 'bench-join',
    workers: 2,
    ports: [{ port, host: '127.0.0.1', direction: 'both', params: {}, reusePort: 1 }],
    streams,
    pushes: [],
    limits: {},
    ringSlots: 8192,
    logger: createLogger('warn', 'bench-join'),
  });
}

// ---- 2. srt-relay joins ---------------------------------------------------------------------

async function relayJoins(src: string, port: number): Promise<{ keyframe: JoinSummary; live: JoinSummary; busy: number; raw: Record<string, JoinResult[]> }> {
  const relay = newRelay(port, { j: { source: `file://${src}`, loop: true, alwaysOn: true } });
  await relay.start();
  try {
    await delay(4000);
    const a: JoinResult[] = [];
    const b: JoinResult[] = [];
    const m0 = machineCpu();
    for (let i = 0; i < JOINS; i++) {
      a.push(await joinOnce(port, 'read:j'));
      await delay(50);
      b.push(await joinOnce(port, '#!::r=j,m=request,join=live'));
      await delay(50);
      if ((i + 1) % 20 === 0) log(`relay joins ${i + 1}/${JOINS}`);
    }
    const busy = busySince(m0);
    return { keyframe: summarize('srt-relay read:j (keyframe join)', a), live: summarize('srt-relay join=live', b), busy, raw: { keyframe: a, live: b } };
  } finally {
    await relay.stop();
  }
}

// ---- 3. srt-live-transmit baseline ----------------------------------------------------------

function spawnQuiet(cmd: string, args: string[]): { proc: ChildProcess; stderr: () => string; exited: Promise<void> } {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return { proc, stderr: () => err, exited };
}

async function stopProc(p: { proc: ChildProcess; exited: Promise<void> }, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  p.proc.kill(sig);
  const t = setTimeout(() => p.proc.kill('SIGKILL'), 3000);
  await p.exited;
  clearTimeout(t);
}

async function sltJoins(src: string, portA: number, portB: number): Promise<{ summary: JoinSummary; busy: number; raw: JoinResult[]; note: string }> {
  const slt = spawnQuiet('srt-live-transmit', ['-a:yes', '-q', `srt://:${portA}?mode=listener`, `srt://:${portB}?mode=listener`]);
  await delay(500);
  const ff = spawnQuiet('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', src, '-c', 'copy', '-f', 'mpegts',
    `srt://127.0.0.1:${portA}?pkt_size=1316`]);
  const rs: JoinResult[] = [];
  let retries = 0;
  try {
    await delay(4000);
    const m0 = machineCpu();
    for (let i = 0; i < SLT_JOINS; i++) {
      let r = await joinOnce(portB, undefined);
      // slt re-listens after a viewer leaves: give a refused connect two more tries.
      for (let k = 0; k < 2 && r.connectMs === undefined; k++) {
        retries++;
        await delay(1000);
        r = await joinOnce(portB, undefined);
      }
      rs.push(r);
      await delay(1000);
      if ((i + 1) % 10 === 0) log(`slt joins ${i + 1}/${SLT_JOINS}`);
    }
    const busy = busySince(m0);
    const alive = ff.proc.exitCode === null && slt.proc.exitCode === null;
    const note = `${retries} connect retries; 1 s pause between joins; ${alive ? 'ffmpeg and slt still running at the end' : `ffmpeg/slt exited: ${ff.stderr().slice(-300)} ${slt.stderr().slice(-300)}`}`;
    return { summary: summarize('srt-live-transmit', rs), busy, raw: rs, note };
  } finally {
    await stopProc(ff);
    await stopProc(slt);
  }
}

// ---- 4. failover gap ------------------------------------------------------------------------

interface FailoverRep {
  rep: number;
  stop: 'SIGKILL' | 'SIGTERM';
  /** Last publisher video PES → first slate video PES. */
  failoverGapMs: number;
  /** Signal sent → first slate video PES. */
  signalToSlateMs: number;
  /** Whether the first slate PES was an IDR. */
  slateStartsWithIdr: boolean;
  /** Last slate video PES → first publisher video PES (publisher (re)started). */
  switchBackGapMs: number;
  switchBackIdr: boolean;
}

async function failover(src: string, slate: string, port: number): Promise<{ reps: FailoverRep[]; busy: number; warnings: string[] }> {
  const relay = newRelay(port, { f: { source: 'push://', sources: ['push://', `file://${slate}`], loop: true, alwaysOn: true } });
  await relay.start();
  const warnings: string[] = [];
  const events: PesStart[] = [];
  const viewer = SrtSocket.create({ streamid: 'read:f' });
  const buf = new Uint8Array(1500);
  let viewerClosed = false;
  const watcher = new VideoWatcher([SRC_PID, SLATE_PID], (p) => events.push(p));
  const drain = (): void => {
    for (;;) {
      const n = viewer.recv(buf);
      if (n <= 0) return;
      watcher.feed(buf, n, performance.now());
    }
  };
  const waitPes = async (pid: number, after: number, timeoutMs: number): Promise<PesStart | undefined> => {
    const end = performance.now() + timeoutMs;
    for (;;) {
      const e = events.find((x) => x.pid === pid && x.t > after);
      if (e !== undefined) return e;
      if (performance.now() > end) return undefined;
      await delay(10);
    }
  };
  const lastBefore = (pid: number, t: number): PesStart | undefined => {
    let best: PesStart | undefined;
    for (const e of events) if (e.pid === pid && e.t < t) best = e;
    return best;
  };
  const reps: FailoverRep[] = [];
  const m0 = machineCpu();
  try {
    // The slate is the stream's only live source at first.
    await delay(2000);
    await viewer.connect('127.0.0.1', port);
    viewer.on({ readable: drain, closed: () => (viewerClosed = true) });
    drain();
    if ((await waitPes(SLATE_PID, 0, 5000)) === undefined) throw new Error('viewer sees no slate video');
    for (let rep = 1; rep <= REPS; rep++) {
      for (const stop of ['SIGKILL', 'SIGTERM'] as const) {
        if (viewerClosed) throw new Error('viewer was closed by the relay');
        const tStart = performance.now();
        const pub = spawnQuiet('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-i', src, '-c', 'copy', '-f', 'mpegts',
          `srt://127.0.0.1:${port}?streamid=publish:f&pkt_size=1316`]);
        const back = await waitPes(SRC_PID, tStart, 10_000);
        if (back === undefined) {
          warnings.push(`rep ${rep} ${stop}: publisher never reached the viewer: ${pub.stderr().slice(-300)}`);
          await stopProc(pub, 'SIGKILL');
          continue;
        }
        const lastSlate = lastBefore(SLATE_PID, back.t);
        await delay(Math.max(0, tStart + 6000 - performance.now()));
        const tSig = performance.now();
        pub.proc.kill(stop);
        const slatePes = await waitPes(SLATE_PID, tSig, 20_000);
        await stopProc(pub, 'SIGKILL');
        if (slatePes === undefined) {
          warnings.push(`rep ${rep} ${stop}: slate never came back within 20 s`);
          continue;
        }
        const lastPub = lastBefore(SRC_PID, slatePes.t);
        reps.push({
          rep,
          stop,
          failoverGapMs: slatePes.t - (lastPub?.t ?? Number.NaN),
          signalToSlateMs: slatePes.t - tSig,
          slateStartsWithIdr: slatePes.idr,
          switchBackGapMs: back.t - (lastSlate?.t ?? Number.NaN),
          switchBackIdr: back.idr,
        });
        const r = reps[reps.length - 1]!;
        log(`failover rep ${rep} ${stop}: gap ${fmt(r.failoverGapMs, 0)} ms (signal→slate ${fmt(r.signalToSlateMs, 0)} ms), switch-back gap ${fmt(r.switchBackGapMs, 0)} ms`);
        await delay(2000); // on the slate for a while
      }
    }
  } finally {
    viewer.close();
    await relay.stop();
  }
  return { reps, busy: busySince(m0), warnings };
}

// ---- main -----------------------------------------------------------------------------------

async function main(): Promise<void> {
  const machine = machineInfo(native.version());
  const uptimeBefore = uptime();
  log(`join bench: ${machine.cpuModel}, ${machine.cores} cores; ${uptimeBefore}`);
  const dir = mkdtempSync(join(tmpdir(), 'srt-relay-join-'));
  try {
    const { src, slate } = makeFixtures(dir);
    const [p1, p2, pa, pb] = await freeUdpPorts(4);

    const relay = await relayJoins(src, p1!);
    log(`relay joins done (machine busy ${fmt(100 * relay.busy, 0)} %)`);
    const slt = skip.has('slt') ? undefined : await sltJoins(src, pa!, pb!);
    const fo = skip.has('failover') ? undefined : await failover(src, slate, p2!);
    const uptimeAfter = uptime();

    const joinHeader = ['variant', 'ok/attempts', 'first byte p50', 'p99', 'max', 'keyframe p50', 'p99', 'max'];
    const joinRow = (s: JoinSummary): string[] => [
      s.label,
      `${s.ok}/${s.attempts}`,
      fmt(s.firstByte.p50, 0),
      fmt(s.firstByte.p99, 0),
      fmt(s.firstByte.max, 0),
      fmt(s.keyframe.p50, 0),
      fmt(s.keyframe.p99, 0),
      fmt(s.keyframe.max, 0),
    ];
    const joinRows = [joinRow(relay.keyframe), joinRow(relay.live), ...(slt ? [joinRow(slt.summary)] : [])];
    const foHeader = ['rep', 'stop', 'failover gap ms', 'signal→slate ms', 'slate starts IDR', 'switch-back gap ms', 'back at IDR'];
    const foRows = (fo?.reps ?? []).map((r) => [
      String(r.rep),
      r.stop,
      fmt(r.failoverGapMs, 0),
      fmt(r.signalToSlateMs, 0),
      r.slateStartsWithIdr ? 'yes' : 'no',
      fmt(r.switchBackGapMs, 0),
      r.switchBackIdr ? 'yes' : 'no',
    ]);
    const medOf = (stop: string, f: (r: FailoverRep) => number): number => median((fo?.reps ?? []).filter((r) => r.stop === stop).map(f));
    const foMedRows = (['SIGKILL', 'SIGTERM'] as const).map((s) => [
      'median',
      s,
      fmt(medOf(s, (r) => r.failoverGapMs), 0),
      fmt(medOf(s, (r) => r.signalToSlateMs), 0),
      '',
      fmt(medOf(s, (r) => r.switchBackGapMs), 0),
      '',
    ]);
    const foNote =
      'SIGKILL: the relay only learns the publisher is gone when libsrt declares the peer dead (SRTO_PEERIDLETIMEO, default 5 s), ' +
      'so that gap is mostly detection. SIGTERM: ffmpeg closes the SRT connection (shutdown message), so the gap is the relay\'s own switch. ' +
      'Switch-back: ffmpeg restarts the fixture from its first frame (an IDR), so the relay can switch at once.';
    const text =
      `joins: ms from connect() start (cap 5 s; ${JOINS} interleaved joins per srt-relay mode, ${SLT_JOINS} for srt-live-transmit)\n` +
      `${textTable(joinHeader, joinRows)}\n` +
      (slt ? `srt-live-transmit: ${slt.note}\n` : '') +
      (fo ? `\nfailover (push publisher → file slate → publisher), ms between video PES arrivals at a viewer:\n${textTable(foHeader, [...foRows, ...foMedRows])}\n${foNote}\n` : '') +
      (fo && fo.warnings.length > 0 ? `warnings: ${fo.warnings.join('; ')}\n` : '') +
      `\nload before: ${uptimeBefore}\nload after:  ${uptimeAfter}\n` +
      `machine busy: relay joins ${fmt(100 * relay.busy, 0)} %${slt ? `, slt joins ${fmt(100 * slt.busy, 0)} %` : ''}${fo ? `, failover ${fmt(100 * fo.busy, 0)} %` : ''}\n`;
    process.stdout.write(`\n${text}`);

    const date = new Date();
    const stamp = fileStamp(date);
    mkdirSync(outDir, { recursive: true });
    const jsonFile = join(outDir, `join-${stamp}.json`);
    writeFileSync(
      jsonFile,
      `${JSON.stringify(
        {
          bench: 'join',
          date: date.toISOString(),
          machine,
          source: sourceInfo(),
          load: { before: uptimeBefore, after: uptimeAfter, busy: { relayJoins: relay.busy, sltJoins: slt?.busy, failover: fo?.busy } },
          params: { joins: JOINS, sltJoins: SLT_JOINS, reps: REPS, capMs: CAP_MS, gopSeconds: 2, ringSlots: 8192, workers: 2 },
          joins: { keyframe: relay.keyframe, live: relay.live, slt: slt?.summary, sltNote: slt?.note },
          failover: fo,
          raw: { relay: relay.raw, slt: slt?.raw },
        },
        null,
        2,
      )}\n`,
    );
    const mdFile = join(outDir, `join-${stamp}.md`);
    writeFileSync(
      mdFile,
      `# join bench, ${date.toISOString()}\n\n` +
        `${machine.cpuModel}, ${machine.cores} cores, Linux ${machine.kernel}, Node ${machine.node}, libsrt ${machine.libsrt}.\n` +
        `Load before: \`${uptimeBefore}\`; after: \`${uptimeAfter}\`.\n\n` +
        `Fixture: 640x360 25 fps H.264, 2 s GOP, AAC, looped by the relay (file source) / by \`ffmpeg -re -stream_loop -1\` into srt-live-transmit. ` +
        `Times in ms from \`connect()\` start, cap 5 s.\n\n${markdownTable(joinHeader, joinRows)}\n\n` +
        (slt ? `srt-live-transmit: ${slt.note}\n\n` : '') +
        (fo ? `Failover (push publisher → file slate → publisher):\n\n${markdownTable(foHeader, [...foRows, ...foMedRows])}\n\n${foNote}\n` : '') +
        (fo && fo.warnings.length > 0 ? `\nWarnings: ${fo.warnings.join('; ')}\n` : ''),
    );
    process.stdout.write(`results: ${jsonFile}\n         ${mdFile}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
