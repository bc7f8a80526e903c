/**
 * SRTLA bonded ingest vs plain SRT ingest, in the same run: what the relay process spends per
 * Gbit/s taken in. For each rate (default 20 and 50 Mbit/s) and each path, in alternating order:
 *   srt    a publisher (binding SrtSocket) straight to the node's SRT port;
 *   srtla  the same publisher through the SRTLA sender of the tests (test/helpers/srtla-sender.ts)
 *          over 3 links from 127.0.0.1, 127.0.0.2, 127.0.0.3 to the node's `srtla.port`;
 * with one viewer on the SRT port reading the stream back (sequence-numbered 1316-byte packets,
 * every one checked). The node is bin/srt-relay.js (2 workers) in its own process, started once
 * from a config file (latency 1000 ms, lossmaxttl 40 on its port); its CPU (user+sys from
 * /proc, all threads, and its main thread alone, where the SRTLA receiver runs) is read over
 * the steady window of each trial.
 *
 *   node dist/bench/srtla.js [--rates 20,50] [--seconds 20] [--warmup 3] [--links 3] [--repeat 1]
 * --repeat N: N rounds over every point (order alternating per round); the summary gives medians.
 *
 * Writes bench/results/srtla-<date>.json and .md. The sender, publisher and viewer run in this
 * process (not counted); on a shared 2-core machine the numbers move with the other load: the
 * file records the machine's busy share during each window.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SrtlaSender } from '../test/helpers/srtla-sender.js';
import { countingReceiver, pacedPublisher, PACKET } from '../test/helpers/relay-harness.js';
import { connectBinding } from '../test/helpers/srt-io.js';
import { RELAY_BIN } from '../test/helpers/relay-process.js';
import { delay, fileStamp, fmt, freeUdpPort, machineCpu, markdownTable, median, parseList, pidCpu, positive, procCpuSeconds, repoRoot, waitFor } from './lib/util.js';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '20,50' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    links: { type: 'string', default: '3' },
    repeat: { type: 'string', default: '1' },
  },
});
const rates = parseList(values.rates ?? '20,50', '--rates');
const seconds = positive(values.seconds, '--seconds', 20);
const warmup = positive(values.warmup, '--warmup', 3);
const linkCount = positive(values.links, '--links', 3);
const repeat = positive(values.repeat, '--repeat', 1);

interface Trial {
  path: 'srt' | 'srtla';
  mbps: number;
  pps: number;
  windowSeconds: number;
  /** Relay process CPU over the window (seconds) and per Gbit/s received at the viewer. */
  relayCpuSeconds: number;
  relayMainThreadCpuSeconds: number;
  viewerMbps: number;
  cpuPerGbit: number;
  mainThreadCpuPerGbit: number;
  sent: number;
  received: number;
  /** Sequence numbers missing between the first and the last the viewer got (it joins a moment after the first packet). */
  lost: number;
  discontinuities: number;
  corrupt: number;
  machineBusy: number;
  links?: Array<{ address: string; packets: number; share: number }>;
}

const dir = mkdtempSync(join(tmpdir(), 'bench-srtla-'));
const [srtPort, apiPort, srtlaPort] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
const configFile = join(dir, 'relay.json');
writeFileSync(
  configFile,
  JSON.stringify({
    srt: { ports: [{ port: srtPort, host: '127.0.0.1', direction: 'both', params: { latency: 1000, lossmaxttl: 40 } }] },
    srtla: { port: srtlaPort, host: '127.0.0.1' },
    limits: { exemptHosts: ['127.0.0.1', '127.0.0.2', '127.0.0.3'] },
  }),
);
const relay: ChildProcess = spawn(process.execPath, [RELAY_BIN, '--config', configFile, '--srt-port', String(srtPort), '--api-port', String(apiPort), '--workers', '2', '--log-level', 'warn'], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
const pid = relay.pid!;
const api = async <T>(path: string): Promise<T> => (await (await fetch(`http://127.0.0.1:${apiPort}${path}`)).json()) as T;

async function trial(path: 'srt' | 'srtla', mbps: number, n: number): Promise<Trial> {
  const pps = Math.round((mbps * 1e6) / 8 / PACKET);
  const stream = `bench-${path}-${mbps}-${n}`;
  let sender: SrtlaSender | undefined;
  let target = srtPort;
  if (path === 'srtla') {
    sender = await SrtlaSender.start({
      receiver: { host: '127.0.0.1', port: srtlaPort },
      links: Array.from({ length: linkCount }, (_, i) => ({ bind: `127.0.0.${i + 1}` })),
      deadAfterMs: 3000,
    });
    const s = sender;
    await waitFor(() => s.registeredLinks() === linkCount, 10_000, 'links registered');
    target = s.port;
  }
  const pub = await connectBinding(target, { streamid: `publish:${stream}`, latency: 1000, sndbuf: 64 << 20 });
  for (let i = 0; ; i++) {
    const { streams } = await api<{ streams: Array<{ name: string; state: string }> }>('/api/v1/streams');
    if (streams.some((s) => s.name === stream && s.state === 'live')) break;
    if (i > 200) throw new Error(`${stream} never went live`);
    await delay(50);
  }
  const viewer = await connectBinding(srtPort, { streamid: `read:${stream}`, latency: 1000, rcvbuf: 64 << 20 });
  const rx = countingReceiver(viewer);
  const p = pacedPublisher(pub, { pps });
  await delay(warmup * 1000);
  const cpu0 = pidCpu(pid)!;
  const main0 = procCpuSeconds(`/proc/${pid}/task/${pid}/stat`)!;
  const m0 = machineCpu();
  const b0 = rx.bytes;
  const t0 = performance.now();
  await delay(seconds * 1000);
  const cpu1 = pidCpu(pid)!;
  const main1 = procCpuSeconds(`/proc/${pid}/task/${pid}/stat`)!;
  const m1 = machineCpu();
  const b1 = rx.bytes;
  const window = (performance.now() - t0) / 1000;
  let links: Trial['links'];
  if (path === 'srtla') {
    const body = await api<{ groups: Array<{ links: Array<{ address: string; packets: number; share: number }> }> }>('/api/v1/srtla');
    links = body.groups.flatMap((g) => g.links.map((l) => ({ address: l.address, packets: l.packets, share: Math.round(l.share * 1000) / 1000 })));
  }
  const sent = await p.stop();
  await delay(1500);
  const viewerMbps = ((b1 - b0) * 8) / window / 1e6;
  const gbit = ((b1 - b0) * 8) / 1e9;
  const t: Trial = {
    path,
    mbps,
    pps,
    windowSeconds: Math.round(window * 100) / 100,
    relayCpuSeconds: Math.round((cpu1 - cpu0) * 100) / 100,
    relayMainThreadCpuSeconds: Math.round((main1 - main0) * 100) / 100,
    viewerMbps: Math.round(viewerMbps * 100) / 100,
    cpuPerGbit: Math.round(((cpu1 - cpu0) / gbit) * 100) / 100,
    mainThreadCpuPerGbit: Math.round(((main1 - main0) / gbit) * 100) / 100,
    sent,
    received: rx.packets,
    lost: rx.firstSeq === undefined || rx.lastSeq === undefined ? 0 : rx.lastSeq - rx.firstSeq + 1 - rx.packets,
    discontinuities: rx.discontinuities,
    corrupt: rx.corrupt,
    machineBusy: Math.round(((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * 1000) / 1000,
    ...(links !== undefined ? { links } : {}),
  };
  rx.stop();
  viewer.close();
  pub.close();
  sender?.close();
  await delay(1000);
  return t;
}

const trials: Trial[] = [];
try {
  for (let i = 0; i < 200; i++) {
    if (await fetch(`http://127.0.0.1:${apiPort}/healthz`).then((r) => r.ok, () => false)) break;
    if (i === 199) throw new Error('srt-relay did not start');
    await delay(50);
  }
  let n = 0;
  for (let round = 0; round < repeat; round++)
  for (const [ri, mbps] of rates.entries()) {
    const order: Array<'srt' | 'srtla'> = (ri + round) % 2 === 0 ? ['srt', 'srtla'] : ['srtla', 'srt'];
    for (const path of order) {
      const t = await trial(path, mbps, n++);
      trials.push(t);
      process.stdout.write(
        `${path.padEnd(5)} ${mbps} Mbit/s: viewer ${fmt(t.viewerMbps)} Mbit/s, relay CPU ${fmt(t.relayCpuSeconds)} s in ${fmt(t.windowSeconds)} s = ${fmt(t.cpuPerGbit)} CPU-s per Gbit (main thread ${fmt(t.mainThreadCpuPerGbit)}), ` +
          `${t.received}/${t.sent} packets, ${t.lost} lost, ${t.discontinuities} discontinuities, machine busy ${fmt(t.machineBusy * 100, 0)} %\n`,
      );
    }
  }
} finally {
  relay.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

const stamp = fileStamp();
const out = join(repoRoot(), 'bench', 'results');
mkdirSync(out, { recursive: true });
const options = { rates, seconds, warmup, links: linkCount, repeat, workers: 2, latencyMs: 1000, lossmaxttl: 40, packet: PACKET };
const summary = rates.flatMap((mbps) =>
  (['srt', 'srtla'] as const).map((path) => {
    const ts = trials.filter((t) => t.path === path && t.mbps === mbps);
    return { path, mbps, trials: ts.length, cpuPerGbit: median(ts.map((t) => t.cpuPerGbit)), mainThreadCpuPerGbit: median(ts.map((t) => t.mainThreadCpuPerGbit)), lost: ts.reduce((a, t) => a + t.lost, 0) };
  }),
);
writeFileSync(join(out, `srtla-${stamp}.json`), `${JSON.stringify({ options, summary, trials }, null, 2)}\n`);
const rows = trials.map((t) => [t.path, String(t.mbps), fmt(t.viewerMbps), fmt(t.relayCpuSeconds), fmt(t.cpuPerGbit), fmt(t.mainThreadCpuPerGbit), `${t.received}/${t.sent}`, String(t.lost), String(t.discontinuities), `${fmt(t.machineBusy * 100, 0)} %`]);
writeFileSync(
  join(out, `srtla-${stamp}.md`),
  `# SRTLA bonded ingest vs plain SRT ingest (relay CPU per Gbit/s)\n\n` +
    `bin/srt-relay.js, 2 workers, latency 1000 ms, lossmaxttl 40; ${linkCount} SRTLA links (127.0.0.1-${linkCount}, loopback, unimpaired); ` +
    `1316-byte packets; one viewer on the SRT port; ${seconds} s window after ${warmup} s warm-up. CPU: user+sys of the relay process (all threads) ` +
    `and of its main thread (where the SRTLA receiver runs), per Gbit received at the viewer.\n\n` +
    `Medians over ${repeat} round(s):\n\n` +
    markdownTable(['path', 'Mbit/s', 'trials', 'CPU-s / Gbit (median)', 'main thread CPU-s / Gbit (median)', 'lost (all trials)'], summary.map((s) => [s.path, String(s.mbps), String(s.trials), fmt(s.cpuPerGbit), fmt(s.mainThreadCpuPerGbit), String(s.lost)])) +
    '\n\nEvery trial:\n\n' +
    markdownTable(['path', 'Mbit/s', 'viewer Mbit/s', 'relay CPU s', 'CPU-s / Gbit', 'main thread CPU-s / Gbit', 'received/sent', 'lost', 'discontinuities', 'machine busy'], rows) +
    '\n',
);
process.stdout.write(`wrote bench/results/srtla-${stamp}.{json,md}\n`);
