/**
 * Throughput bench: one live-mode SRT connection on 127.0.0.1, as fast as libsrt takes it, with
 * the C floor programs and with the addon on either end.
 *
 *   node dist/bench/throughput.js [--seconds 5] [--trials 3] [--maxbw 250000000]
 *                                 [--rcvbuf 50000000] [--latency 120] [--batch 64]
 *                                 [--variants c-c,b-b,b-c,c-b] [--out DIR]
 *
 * Variants (run in a rotating order in every trial, so they share the machine's noise):
 *   c→c              srt-blast --rate 0 → srt-sink (the floor)
 *   binding→binding  bench/lib/tp-peer.js send → bench/lib/tp-peer.js recv (each its own Node process)
 *   binding→c        tp-peer send → srt-sink
 *   c→binding        srt-blast → tp-peer recv
 * Every sender: latency 120, maxbw --maxbw (lifts libsrt's ~1 Gbit/s live default). Every
 * receiver: latency 120 and the receive buffer of srt-sink --rcvbuf (SRTO_FC, SRTO_RCVBUF,
 * SRTO_UDP_RCVBUF): with libsrt's default buffer (8192 packets) the receiver runs out of room
 * above ~700 Mbit/s and the connection stalls for good.
 *
 * Per run: delivered Mbit/s at the receiver (bytes over first→last packet), packets lost
 * (sent − received), libsrt receiver drops, CPU seconds of each process (user+sys from
 * /proc/<pid>/stat, over the transfer: Node processes from their ready point, C processes from
 * their start) and CPU seconds per delivered Gbit. Prints medians and binding/C ratios, writes
 * bench/results/throughput-<date>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { native } from '../src/srt/native.js';
import {
  Child,
  CpuPoller,
  buildFloor,
  fileStamp,
  floorBin,
  fmt,
  freeUdpPort,
  machineCpu,
  machineInfo,
  median,
  nodeChild,
  positive,
  repoRoot,
  sourceInfo,
  textTable,
  udpPortBound,
  waitFor,
  waitQuiet,
} from './lib/util.js';

const PAYLOAD = 1316;

const VARIANTS = {
  'c-c': { label: 'c→c', sender: 'c', receiver: 'c' },
  'b-b': { label: 'binding→binding', sender: 'b', receiver: 'b' },
  'b-c': { label: 'binding→c', sender: 'b', receiver: 'c' },
  'c-b': { label: 'c→binding', sender: 'c', receiver: 'b' },
} as const;
type VariantKey = keyof typeof VARIANTS;

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    trials: { type: 'string' },
    maxbw: { type: 'string' },
    rcvbuf: { type: 'string' },
    latency: { type: 'string' },
    batch: { type: 'string' },
    variants: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help === true) {
  process.stdout.write(
    'usage: node dist/bench/throughput.js [--seconds 5] [--trials 3] [--maxbw 250000000] [--rcvbuf 50000000]\n' +
      '                                     [--latency 120] [--batch 64] [--variants c-c,b-b,b-c,c-b] [--out DIR]\n',
  );
  process.exit(0);
}

const seconds = positive(values.seconds, '--seconds', 5);
const trials = Math.round(positive(values.trials, '--trials', 3));
const maxbw = Math.round(positive(values.maxbw, '--maxbw', 250_000_000));
const rcvbuf = Math.round(positive(values.rcvbuf, '--rcvbuf', 50_000_000));
const latency = Math.round(positive(values.latency, '--latency', 120));
const batch = Math.round(positive(values.batch, '--batch', 64));
const variantKeys = (values.variants ?? 'c-c,b-b,b-c,c-b').split(',').map((s) => s.trim()) as VariantKey[];
for (const k of variantKeys) {
  if (!(k in VARIANTS)) throw new Error(`--variants: unknown '${k}' (use c-c, b-b, b-c, c-b)`);
}
const outDir = values.out ?? join(repoRoot(), 'bench', 'results');

interface RunResult {
  variant: string;
  trial: number;
  order: number;
  sent: number;
  received: number;
  lost: number;
  mbps: number;
  senderMbps: number;
  seconds: number;
  srtRcvLoss: number;
  srtRcvDrop: number;
  retrans: number;
  sndDrop: number;
  cpuSender: number;
  cpuReceiver: number;
  cpuPerGbit: number;
  cpuSenderPerGbit: number;
  cpuReceiverPerGbit: number;
  machineBusy: number;
  /** Machine busy fraction in the second before the run (other work on the host). */
  busyBefore?: number;
  sink?: Record<string, unknown>;
  blast?: Record<string, unknown>;
  bindingSender?: Record<string, unknown>;
  bindingReceiver?: Record<string, unknown>;
  warnings: string[];
}

function num(m: Record<string, unknown> | undefined, k: string): number {
  const v = m?.[k];
  return typeof v === 'number' ? v : 0;
}

function noRoomWarnings(stderr: string): number {
  return (stderr.match(/No room to store incoming packet/g) ?? []).length;
}

async function runOne(key: VariantKey, trial: number, order: number): Promise<RunResult> {
  const v = VARIANTS[key];
  const port = await freeUdpPort();
  const poller = new CpuPoller(50);
  const limit = String(Math.ceil(seconds + 15));
  const warnings: string[] = [];
  const m0 = machineCpu();
  let receiver: Child;
  let rcvBase = 0;
  if (v.receiver === 'c') {
    receiver = new Child('srt-sink', floorBin('srt-sink'), [
      '--listen', `127.0.0.1:${port}`, '--seconds', limit, '--latency', String(latency), '--rcvbuf', String(rcvbuf),
    ]);
    poller.add(receiver.pid);
  } else {
    receiver = nodeChild('tp-peer recv', 'lib/tp-peer.js', [
      '--role', 'recv', '--port', String(port), '--latency', String(latency), '--rcvbuf', String(rcvbuf), '--limit', limit,
      '--batch', String(batch),
    ], true);
    await receiver.waitEvent('listening', 10_000);
    poller.add(receiver.pid);
    rcvBase = poller.last(receiver.pid);
  }
  await waitFor(() => udpPortBound(port) || !receiver.running, 10_000, `the receiver on port ${port}`);

  let sender: Child;
  let sndBase = 0;
  if (v.sender === 'c') {
    sender = new Child('srt-blast', floorBin('srt-blast'), [
      '--connect', `127.0.0.1:${port}`, '--rate', '0', '--seconds', String(seconds), '--latency', String(latency),
      '--maxbw', String(maxbw),
    ]);
    poller.add(sender.pid);
  } else {
    sender = nodeChild('tp-peer send', 'lib/tp-peer.js', [
      '--role', 'send', '--port', String(port), '--seconds', String(seconds), '--latency', String(latency),
      '--maxbw', String(maxbw), '--batch', String(batch),
    ], true);
    await sender.waitEvent('connected', 10_000);
    poller.add(sender.pid);
    sndBase = poller.last(sender.pid);
    sender.send({ cmd: 'go' });
  }

  const timeout = (seconds + 20) * 1000;
  // Sender finishes first (it closes the connection), then the receiver.
  let senderDone: Record<string, unknown> | undefined;
  let cpuSender: number;
  if (v.sender === 'c') {
    await sender.finish(timeout);
    senderDone = sender.lastJson();
    cpuSender = poller.last(sender.pid) - sndBase;
  } else {
    senderDone = await sender.waitEvent('done', timeout).catch((e: Error) => {
      warnings.push(e.message);
      return undefined;
    });
    cpuSender = poller.last(sender.pid) - sndBase;
    sender.send({ cmd: 'exit' });
  }
  let receiverDone: Record<string, unknown> | undefined;
  let cpuReceiver: number;
  if (v.receiver === 'c') {
    await receiver.finish(15_000);
    receiverDone = receiver.lastJson();
    cpuReceiver = poller.last(receiver.pid) - rcvBase;
  } else {
    receiverDone = await receiver.waitEvent('done', 15_000).catch((e: Error) => {
      warnings.push(e.message);
      return undefined;
    });
    cpuReceiver = poller.last(receiver.pid) - rcvBase;
    receiver.send({ cmd: 'exit' });
  }
  const m1 = machineCpu();
  await Promise.all([sender.finish(3000), receiver.finish(3000)]);
  poller.stop();
  for (const c of [sender, receiver]) {
    if (c.exitCode !== 0 && c.exitCode !== undefined) warnings.push(`${c.name} exit code ${String(c.exitCode)} signal ${String(c.signal)}`);
    const nr = noRoomWarnings(c.stderr);
    if (nr > 0) warnings.push(`${c.name}: libsrt "No room to store incoming packet" x${nr}`);
  }
  if (senderDone === undefined) warnings.push('no result from the sender');
  if (receiverDone === undefined) warnings.push('no result from the receiver');
  if (num(senderDone, 'watchdog') > 0) {
    warnings.push(
      `binding sender: ${num(senderDone, 'watchdog')} waits of 50 ms without a writable event, ` +
        `${num(senderDone, 'watchdog_with_room')} of them with room in the send buffer`,
    );
  }

  const sent = num(senderDone, 'sent');
  const received = num(receiverDone, 'received');
  const gbit = (received * PAYLOAD * 8) / 1e9;
  const r: RunResult = {
    variant: v.label,
    trial,
    order,
    sent,
    received,
    lost: sent - received,
    mbps: num(receiverDone, 'mbps'),
    senderMbps: num(senderDone, 'mbps'),
    seconds: num(receiverDone, 'seconds'),
    srtRcvLoss: num(receiverDone, 'srt_rcv_loss'),
    srtRcvDrop: num(receiverDone, 'srt_rcv_drop'),
    retrans: num(senderDone, 'retrans'),
    sndDrop: num(senderDone, 'snd_drop'),
    cpuSender,
    cpuReceiver,
    cpuPerGbit: gbit > 0 ? (cpuSender + cpuReceiver) / gbit : Number.NaN,
    cpuSenderPerGbit: gbit > 0 ? cpuSender / gbit : Number.NaN,
    cpuReceiverPerGbit: gbit > 0 ? cpuReceiver / gbit : Number.NaN,
    machineBusy: (m1.busy - m0.busy) / Math.max(1e-9, m1.total - m0.total),
    warnings,
  };
  if (v.receiver === 'c') r.sink = receiverDone;
  else r.bindingReceiver = receiverDone;
  if (v.sender === 'c') r.blast = senderDone;
  else r.bindingSender = senderDone;
  return r;
}

function summarize(runs: RunResult[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const key of variantKeys) {
    const label = VARIANTS[key].label;
    const rs = runs.filter((r) => r.variant === label);
    const med = (f: (r: RunResult) => number): number => median(rs.map(f));
    out[label] = {
      trials: rs.length,
      mbps: med((r) => r.mbps),
      senderMbps: med((r) => r.senderMbps),
      lost: med((r) => r.lost),
      srtRcvDrop: med((r) => r.srtRcvDrop),
      retrans: med((r) => r.retrans),
      cpuSender: med((r) => r.cpuSender),
      cpuReceiver: med((r) => r.cpuReceiver),
      cpuPerGbit: med((r) => r.cpuPerGbit),
      cpuSenderPerGbit: med((r) => r.cpuSenderPerGbit),
      cpuReceiverPerGbit: med((r) => r.cpuReceiverPerGbit),
      mbpsMin: Math.min(...rs.map((r) => r.mbps)),
      mbpsMax: Math.max(...rs.map((r) => r.mbps)),
    };
  }
  return out;
}

async function main(): Promise<void> {
  buildFloor();
  const machine = machineInfo(native.version());
  process.stderr.write(
    `throughput: ${trials} trial(s) x ${variantKeys.length} variant(s) x ${seconds} s on ${machine.cpuModel} (${machine.cores} cores), ` +
      `maxbw ${maxbw} B/s, rcvbuf ${rcvbuf} B, latency ${latency} ms\n`,
  );
  const runs: RunResult[] = [];
  for (let t = 0; t < trials; t++) {
    const order = variantKeys.map((_, i) => variantKeys[(i + t) % variantKeys.length]!);
    for (let i = 0; i < order.length; i++) {
      const key = order[i]!;
      const before = await waitQuiet();
      process.stderr.write(`  trial ${t + 1}/${trials} ${VARIANTS[key].label.padEnd(16)} ... `);
      const r = await runOne(key, t + 1, i + 1);
      r.busyBefore = before;
      runs.push(r);
      process.stderr.write(
        `${fmt(r.mbps, 1)} Mbit/s, lost ${r.lost}, cpu snd ${fmt(r.cpuSender)} s rcv ${fmt(r.cpuReceiver)} s` +
          `${r.warnings.length > 0 ? `  [${r.warnings.join('; ')}]` : ''}\n`,
      );
    }
  }
  const summary = summarize(runs);
  const base = summary['c→c'];
  const header = ['variant', 'Mbit/s', 'x c→c', 'lost pkts', 'rcv drops', 'snd CPU s', 'rcv CPU s', 'snd s/Gbit', 'rcv s/Gbit', 'CPU s/Gbit', 'x c→c'];
  const rows = Object.entries(summary).map(([label, s]) => [
    label,
    fmt(s['mbps'], 1),
    base !== undefined ? fmt(s['mbps']! / base['mbps']!, 2) : '–',
    fmt(s['lost'], 0),
    fmt(s['srtRcvDrop'], 0),
    fmt(s['cpuSender'], 2),
    fmt(s['cpuReceiver'], 2),
    fmt(s['cpuSenderPerGbit'], 3),
    fmt(s['cpuReceiverPerGbit'], 3),
    fmt(s['cpuPerGbit'], 3),
    base !== undefined ? fmt(s['cpuPerGbit']! / base['cpuPerGbit']!, 2) : '–',
  ]);
  const table = textTable(header, rows);
  process.stdout.write(`\nmedians over ${trials} trial(s), ${seconds} s each:\n${table}\n`);
  const date = new Date();
  const file = join(outDir, `throughput-${fileStamp(date)}.json`);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        bench: 'throughput',
        date: date.toISOString(),
        machine,
        source: sourceInfo(),
        params: { seconds, trials, maxbw, rcvbuf, latency, batch, payload: PAYLOAD, variants: variantKeys.map((k) => VARIANTS[k].label) },
        summary,
        table,
        runs,
      },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`results: ${file}\n`);
}

await main();
