/**
 * One impaired hop, two receivers: does the relay recover lost packets as well as libsrt's own
 * srt-live-transmit does? The same MPEG-TS (7 TS packets per message, 200 messages/s, ~2.1
 * Mbit/s) goes from two srt-live-transmit senders over two impaired links with the same seeds
 * (the same draws in each direction) to an srt-live-transmit receiver and to srt-relay as a
 * publisher; an unimpaired viewer reads the stream back from the relay. Per trial: TS packets
 * lost at each receiver, and the relay publisher's libsrt counters (loss, drops, belated).
 *
 *   node dist/bench/hop-loss.js [--trials 4] [--seconds 60] [--loss 0.05] [--rtt 50] [--latency 300]
 *
 * Writes bench/results/hop-loss-<date>.json and .md. Needs srt-live-transmit. The links are the
 * user-space impairment proxy of the tests (test/helpers/impair-proxy.ts; no netem here).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { freeUdpPort } from '../test/helpers/free-port.js';
import { RELAY_BIN } from '../test/helpers/relay-process.js';
import { SLT } from '../test/helpers/slt.js';

const PROXY = new URL('../test/helpers/impair-proxy.js', import.meta.url).pathname;
const TS = 188;
const MPS = 200;

function chunk(n: number): Buffer {
  const b = Buffer.alloc(7 * TS, 0xff);
  for (let i = 0; i < 7; i++) {
    const k = n * 7 + i;
    const p = i * TS;
    b[p] = 0x47;
    b[p + 1] = 0x01;
    b[p + 2] = 0x00;
    b[p + 3] = 0x10 | (k & 0x0f);
    b.writeUInt32BE(k >>> 0, p + 4);
  }
  return b;
}

/** TS packets missing between the first and the last received, and how many arrived. */
function analyze(out: Buffer): { lost: number; received: number } {
  const seen = new Set<number>();
  let first: number | undefined;
  let last = 0;
  for (let p = 0; p + TS <= out.length; p += TS) {
    const k = out.readUInt32BE(p + 4);
    seen.add(k);
    first ??= k;
    last = k;
  }
  return { lost: first === undefined ? 0 : last - first + 1 - seen.size, received: seen.size };
}

function exited(p: ChildProcess): boolean {
  return p.exitCode !== null || p.signalCode !== null;
}

function collect(p: ChildProcess): () => Buffer {
  const parts: Buffer[] = [];
  p.stdout!.on('data', (d: Buffer) => parts.push(d));
  return () => Buffer.concat(parts);
}

class SenderExited extends Error {
  constructor() {
    super('an srt-live-transmit sender exited (its handshake failed on the lossy link)');
  }
}

interface Trial {
  seed: number;
  direct: { lost: number; received: number };
  relay: { lost: number; received: number };
  relayPublisher: { lossReceived?: number; dropsReceived?: number; belated?: number; rttMs?: number };
  kernelDrops: number;
}

async function trial(seed: number, o: { seconds: number; loss: number; rttMs: number; latencyMs: number }): Promise<Trial> {
  const procs: ChildProcess[] = [];
  const run = (cmd: string, args: string[], stdin: boolean, stdout: boolean): ChildProcess => {
    const p = spawn(cmd, args, { stdio: [stdin ? 'pipe' : 'ignore', stdout ? 'pipe' : 'ignore', 'ignore'] });
    p.stdin?.on('error', () => undefined); // a sender that exited: seen below by its exit code
    procs.push(p);
    return p;
  };
  try {
    const [srtPort, apiPort, rxPort] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
    const api = async <T>(path: string): Promise<T> => (await (await fetch(`http://127.0.0.1:${apiPort}${path}`)).json()) as T;
    run(process.execPath, [RELAY_BIN, '--srt-port', String(srtPort), '--api-port', String(apiPort), '--workers', '2', '--log-level', 'warn'], false, false);
    for (let i = 0; ; i++) {
      if (await fetch(`http://127.0.0.1:${apiPort}/healthz`).then((r) => r.ok, () => false)) break;
      if (i > 200) throw new Error('srt-relay did not start');
      await delay(50);
    }
    const seeds = { up: seed, down: seed + 1 };
    const plan = {
      targets: [{ host: '127.0.0.1', port: srtPort, seed: seeds }, { host: '127.0.0.1', port: rxPort, seed: seeds }],
      impairment: { loss: o.loss, delayMs: o.rttMs / 2 },
      seed: 1,
    };
    const proxy = run(process.execPath, [PROXY, '--serve', JSON.stringify(plan)], true, true);
    const ports = await new Promise<number[]>((resolve) => proxy.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(d.toString('utf8')) as { ports: number[] }).ports)));
    const q = `latency=${o.latencyMs}`;
    const rx = run(SLT, ['-a:no', '-q', `srt://:${rxPort}?mode=listener&${q}`, 'file://con'], false, true);
    const rxOut = collect(rx);
    await delay(300);
    const txDirect = run(SLT, ['-a:no', '-q', '-chunk:1316', 'file://con', `srt://127.0.0.1:${ports[1]}?${q}`], true, false);
    const txRelay = run(SLT, ['-a:no', '-q', '-chunk:1316', 'file://con', `srt://127.0.0.1:${ports[0]}?${q}&streamid=publish:hop`], true, false);
    await delay(1500);
    const viewer = run(SLT, ['-a:no', '-q', `srt://127.0.0.1:${srtPort}?${q}&streamid=read:hop`, 'file://con'], false, true);
    const viewOut = collect(viewer);
    await delay(1000);
    const total = o.seconds * MPS;
    const start = performance.now();
    for (let n = 0; n < total; ) {
      const due = Math.min(total, Math.floor(((performance.now() - start) * MPS) / 1000) + 1);
      // srt-live-transmit exits when its handshake fails (5-10% loss can take several handshake
      // packets in a row): the trial is void, the caller runs another.
      if (exited(txDirect) || exited(txRelay)) throw new SenderExited();
      for (; n < due; n++) {
        const c = chunk(n);
        txDirect.stdin!.write(c);
        txRelay.stdin!.write(c);
      }
      await delay(5);
    }
    await delay(o.latencyMs * 2 + 1500);
    const sessions = await api<{ sessions: Array<{ kind: string; stats?: Record<string, number> }> }>('/api/v1/sessions');
    const pub = sessions.sessions.find((s) => s.kind === 'publisher')?.stats ?? {};
    const udp = await api<{ sockets: Array<{ dropped: number }> }>('/api/v1/udp');
    rx.kill('SIGINT');
    viewer.kill('SIGINT');
    await delay(500);
    return {
      seed,
      direct: analyze(rxOut()),
      relay: analyze(viewOut()),
      relayPublisher: { lossReceived: pub.lossReceived, dropsReceived: pub.dropsReceived, belated: pub.belated, rttMs: pub.rttMs },
      kernelDrops: udp.sockets.reduce((a, s) => a + s.dropped, 0),
    };
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  }
}

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '60' },
    loss: { type: 'string', default: '0.05' },
    rtt: { type: 'string', default: '50' },
    latency: { type: 'string', default: '300' },
  },
});
const o = { seconds: Number(values.seconds), loss: Number(values.loss), rttMs: Number(values.rtt), latencyMs: Number(values.latency) };
const trials: Trial[] = [];
let seed = 1;
for (let i = 0; i < Number(values.trials); i++) {
  let t: Trial | undefined;
  for (let attempt = 0; t === undefined; attempt++, seed += 2) {
    try {
      t = await trial(seed, o);
    } catch (e) {
      if (!(e instanceof SenderExited) || attempt >= 3) throw e;
      process.stdout.write(`trial ${i + 1}: ${e.message}; again with seed ${seed + 2}\n`);
    }
  }
  trials.push(t);
  process.stdout.write(
    `trial ${i + 1}: srt-live-transmit lost ${t.direct.lost} of ${t.direct.lost + t.direct.received} TS packets, srt-relay ${t.relay.lost} of ${t.relay.lost + t.relay.received} ` +
      `(relay publisher: libsrt loss ${t.relayPublisher.lossReceived}, too-late drops ${t.relayPublisher.dropsReceived}, kernel drops ${t.kernelDrops})\n`,
  );
}
const sum = (f: (t: Trial) => number): number => trials.reduce((a, t) => a + f(t), 0);
const summary = `${trials.length} × ${o.seconds} s at ${o.loss * 100}% loss, ${o.rttMs} ms RTT, latency ${o.latencyMs} ms: srt-live-transmit lost ${sum((t) => t.direct.lost)} TS packets, srt-relay ${sum((t) => t.relay.lost)}`;
process.stdout.write(`${summary}\n`);
const dir = join(new URL('.', import.meta.url).pathname, '..', '..', 'bench', 'results');
mkdirSync(dir, { recursive: true });
const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
writeFileSync(join(dir, `hop-loss-${stamp}.json`), `${JSON.stringify({ options: o, trials }, null, 2)}\n`);
writeFileSync(
  join(dir, `hop-loss-${stamp}.md`),
  `# One impaired hop: srt-relay vs srt-live-transmit as receiver\n\n${summary}.\n\n| seed | slt lost | relay lost | relay libsrt loss | relay too-late drops | kernel drops |\n| --- | --- | --- | --- | --- | --- |\n` +
    trials.map((t) => `| ${t.seed} | ${t.direct.lost} | ${t.relay.lost} | ${t.relayPublisher.lossReceived} | ${t.relayPublisher.dropsReceived} | ${t.kernelDrops} |`).join('\n') +
    '\n',
);
