/**
 * Soak: one publisher → steady viewers for a long time while other viewers keep joining and
 * leaving; does the node's memory or handle count creep, and do the steady viewers lose anything?
 *
 *   node dist/bench/soak.js [--minutes 30] [--viewers 50] [--churn 10] [--every 3] [--bitrate 10]
 *                           [--sample 10] [--out DIR]
 *
 * The node is the product itself (`bin/srt-relay.js`, 2 workers, log level warn). srt-blast
 * publishes `soak` at --bitrate Mbit/s with sequence-numbered packets; --viewers steady viewers
 * (bench/lib/viewers.js) play it for the whole run and count lost packets; --churn more viewers
 * (addon sockets in this process) are replaced one at a time every --every seconds. Every
 * --sample seconds the node's RSS (VmRSS), open file descriptors (/proc/<pid>/fd), threads and
 * sessions are recorded. The result gives each one's least-squares slope per minute over the
 * second half of the run (after warm-up), first and last values, and the steady viewers' loss.
 * Writes bench/results/soak-<date>.{json,md}.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { native } from '../src/srt/native.js';
import { PacketRing } from '../src/ring/packet-ring.js';
import { SrtSocket } from '../src/srt/socket.js';
import {
  Child,
  buildFloor,
  delay,
  fileStamp,
  floorBin,
  fmt,
  freeUdpPort,
  machineInfo,
  markdownTable,
  nodeChild,
  positive,
  procStatusBytes,
  repoRoot,
  sourceInfo,
  udpPortBound,
  waitFor,
} from './lib/util.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    viewers: { type: 'string' },
    churn: { type: 'string' },
    every: { type: 'string' },
    bitrate: { type: 'string' },
    sample: { type: 'string' },
    out: { type: 'string' },
  },
});
const minutes = positive(values.minutes, '--minutes', 30);
const steadyCount = positive(values.viewers, '--viewers', 50);
const churnCount = positive(values.churn, '--churn', 10);
const everyS = positive(values.every, '--every', 3);
const bitrate = positive(values.bitrate, '--bitrate', 10);
const sampleS = positive(values.sample, '--sample', 10);
const outDir = values.out ?? join(repoRoot(), 'bench', 'results');

interface Sample {
  t: number;
  rssMb: number;
  fds: number;
  threads: number;
  sessions: number;
}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
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
  return den === 0 ? 0 : num / den;
}

/** A churning viewer: reads and drops everything, counts bytes. */
class ChurnViewer {
  readonly socket: SrtSocket;
  bytes = 0;
  static readonly ring = PacketRing.create(256);

  constructor(socket: SrtSocket) {
    this.socket = socket;
    const ring = ChurnViewer.ring;
    socket.on({
      readable: () => {
        for (;;) {
          const r = socket.recvSlots(ring.slots, ring.slotSize, 256, 0, 128);
          const n = r < 0 ? -r - 1 : r;
          this.bytes += n * 1316;
          if (r <= 0 || n < 128) break;
        }
      },
    });
  }
}

async function main(): Promise<void> {
  buildFloor();
  const port = await freeUdpPort();
  const apiPort = await freeUdpPort();
  const node = new Child('srt-relay', process.execPath, [
    join(repoRoot(), 'bin', 'srt-relay.js'), '--srt-port', String(port), '--api-port', String(apiPort), '--workers', '2', '--log-level', 'warn',
  ]);
  const children: Child[] = [node];
  const churn: ChurnViewer[] = [];
  try {
    await waitFor(() => udpPortBound(port), 15_000, 'the node listens');
    const pid = node.pid!;
    const publisher = new Child('srt-blast', floorBin('srt-blast'), ['--connect', `127.0.0.1:${port}`, '--rate', String(bitrate), '--seconds', String(minutes * 60 + 120), '--streamid', 'publish:soak']);
    children.push(publisher);
    await delay(500);
    const steady = nodeChild('steady viewers', 'lib/viewers.js', ['--port', String(port), '--count', String(steadyCount), '--streamid', 'read:soak'], true);
    children.push(steady);
    const conn = await steady.waitEvent('connected', 60_000);
    say(`soak: ${String(conn['connected'])}/${steadyCount} steady viewers, ${churnCount} churning (one replaced every ${everyS} s), ${bitrate} Mbit/s, ${minutes} min`);
    const fromNs = process.hrtime.bigint();

    const connectChurn = async (): Promise<void> => {
      const s = SrtSocket.create({ latency: 120, streamid: 'read:soak' });
      try {
        await s.connect('127.0.0.1', port);
        churn.push(new ChurnViewer(s));
      } catch {
        s.close();
      }
    };
    for (let i = 0; i < churnCount; i++) await connectChurn();

    const samples: Sample[] = [];
    let joins = 0;
    const started = performance.now();
    const endAt = started + minutes * 60_000;
    let nextSample = started;
    let nextChurn = started + everyS * 1000;
    const sessionsNow = async (): Promise<number> => {
      try {
        const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/sessions`);
        return ((await res.json()) as { sessions: unknown[] }).sessions.length;
      } catch {
        return Number.NaN;
      }
    };
    while (performance.now() < endAt) {
      const now = performance.now();
      if (now >= nextChurn) {
        nextChurn += everyS * 1000;
        churn.shift()?.socket.close();
        await connectChurn();
        joins++;
      }
      if (now >= nextSample) {
        nextSample += sampleS * 1000;
        const s: Sample = {
          t: (now - started) / 60_000,
          rssMb: (procStatusBytes(pid, 'VmRSS') ?? 0) / 1048576,
          fds: readdirSync(`/proc/${pid}/fd`).length,
          threads: readdirSync(`/proc/${pid}/task`).length,
          sessions: await sessionsNow(),
        };
        samples.push(s);
        process.stderr.write(
          `\r  ${fmt(s.t, 1)}/${minutes} min · RSS ${fmt(s.rssMb, 1)} MB · fds ${s.fds} · threads ${s.threads} · sessions ${s.sessions} · joins ${joins}   `,
        );
      }
      if (!node.running) throw new Error(`the node exited: ${node.stderr.slice(-500)}`);
      await delay(Math.max(10, Math.min(nextChurn, nextSample) - performance.now()));
    }
    process.stderr.write('\n');
    const toNs = process.hrtime.bigint();
    await publisher.stop('SIGTERM', 3000);
    const seen = steady.lines.length;
    const reportP = steady.waitMessage((m) => m['event'] === 'report' && steady.lines.indexOf(m) >= seen, 60_000, 'report');
    steady.send({ cmd: 'report', from: String(fromNs), to: String(toNs) });
    const report = await reportP;
    const vs = report['viewers'] as Array<{ bytes: number; packets: number; lost: number; closed: boolean }>;
    const lost = vs.reduce((a, v) => a + v.lost, 0);
    const packets = vs.reduce((a, v) => a + v.packets, 0);
    const droppedViewers = vs.filter((v) => v.closed).length;

    const half = samples.filter((s) => s.t >= minutes / 2);
    const xs = half.map((s) => s.t);
    const result = {
      minutes,
      steadyViewers: steadyCount,
      churnViewers: churnCount,
      joins,
      steady: { packets, lost, lossPct: packets + lost > 0 ? (100 * lost) / (packets + lost) : 0, droppedViewers },
      slopesPerMinute: {
        rssMb: slope(xs, half.map((s) => s.rssMb)),
        fds: slope(xs, half.map((s) => s.fds)),
        threads: slope(xs, half.map((s) => s.threads)),
      },
      first: samples[0],
      last: samples[samples.length - 1],
      samples,
    };
    const rows = [
      ['RSS MB', fmt(samples[0]?.rssMb, 1), fmt(samples[samples.length - 1]?.rssMb, 1), fmt(result.slopesPerMinute.rssMb, 3)],
      ['open fds', String(samples[0]?.fds), String(samples[samples.length - 1]?.fds), fmt(result.slopesPerMinute.fds, 3)],
      ['threads', String(samples[0]?.threads), String(samples[samples.length - 1]?.threads), fmt(result.slopesPerMinute.threads, 3)],
    ];
    const table = markdownTable(['', 'first', 'last', 'slope per minute (2nd half)'], rows);
    process.stdout.write(`\n${table}\n\nsteady viewers: ${packets} packets, ${lost} lost (${fmt(result.steady.lossPct, 4)} %), ${droppedViewers} dropped; ${joins} churn joins\n`);
    const stamp = fileStamp();
    mkdirSync(outDir, { recursive: true });
    const json = { bench: 'soak', date: new Date().toISOString(), machine: machineInfo(native.version()), source: sourceInfo(), args: { minutes, steadyCount, churnCount, everyS, bitrate, sampleS }, result };
    writeFileSync(join(outDir, `soak-${stamp}.json`), `${JSON.stringify(json, null, 2)}\n`);
    writeFileSync(
      join(outDir, `soak-${stamp}.md`),
      `# soak ${stamp}\n\n${minutes} min, 1 publisher (srt-blast ${bitrate} Mbit/s) → ${steadyCount} steady viewers + ${churnCount} churning (one replaced every ${everyS} s, ${joins} joins), node = bin/srt-relay.js --workers 2.\n\n${table}\n\nSteady viewers: ${packets} packets, ${lost} lost, ${droppedViewers} dropped.\n`,
    );
    process.stdout.write(`results: ${join(outDir, `soak-${stamp}.md`)}\n`);
  } finally {
    for (const c of churn) c.socket.close();
    for (const c of children.reverse()) await c.stop('SIGTERM', 5000);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`soak failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
