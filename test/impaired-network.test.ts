/**
 * Impaired networks: the same MPEG-TS goes through the relay (srt-live-transmit publisher →
 * segment A → relay → segment B → srt-live-transmit viewer) and over a direct srt-live-transmit
 * link across the same two segments (sender → A → B → receiver), each segment an impaired link
 * with the same loss and delay (test/helpers/impair-proxy.ts: netem in user space, in its own
 * process, since this kernel has no netem). Every session must survive, the viewer through the
 * relay must get only whole, uncorrupted TS packets in order, and an outage of 2 s must end no
 * session. Losses of both paths are reported, not compared (bench/hop-loss.ts compares them). For reference a direct link over one segment is measured
 * too (reported, not compared: it crosses half the path).
 *
 * Cases (latency by the RTT-multiplier guidance, RTT per segment): 1% loss at 50 ms RTT (latency
 * 4×RTT), 5% at 50 ms (6×RTT), 10% at 50 ms (8×RTT), 1% at 300 ms RTT (4×RTT), 1% with 0-20 ms
 * jitter (packets 5 ms apart arrive out of order), and a 2 s outage at 1% loss. Each case sends
 * 8 s; this synthetic TS has no keyframe, so the relay drops its first 5 s (MAX_KEYFRAME_WAIT_MS,
 * src/ring/ring-writer.ts) and its viewer checks the last ~3 s (the outage case: the resumption).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeExit, spawnFor, type AfterHook, type Spawned } from './helpers/processes.js';
import { freeUdpPort, waitUdpBound } from './helpers/free-port.js';
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import type { Impairment, LinkCounters } from './helpers/impair-proxy.js';
import { startRelayProcess, type RelayProcess } from './helpers/relay-process.js';
import { SLT, srtUrl } from './helpers/slt.js';
import { delay } from './helpers/srt-io.js';
import { waitFor } from './helpers/relay-harness.js';

const PROXY = new URL('./helpers/impair-proxy.js', import.meta.url).pathname;

/**
 * On a shared machine CPU starvation turns into packet delay on every hop; when allowed (root),
 * the test's own processes run at a higher priority (the proxy raises itself to nice -10).
 */
function raise(p: Spawned): void {
  try {
    if (p.pid !== undefined) setPriority(p.pid, -5);
  } catch {
    // not allowed: normal priority
  }
}

/** Waits for the next stdout line of `p` that parses as JSON with `key`. */
async function jsonLine<T>(p: Spawned, key: string, after: number): Promise<T> {
  const line = await waitFor(() => {
    const lines = p.stdout().toString('utf8').split('\n').slice(after);
    return lines.find((l) => l.startsWith(`{"${key}"`));
  }, `${p.name} printed ${key}`, 10_000);
  return JSON.parse(line) as T;
}

const TS = 188;
const CHUNK = 7 * TS;
const PID = 0x100;
/** Chunks (1316 bytes) per second: ~2.1 Mbit/s. */
const CPS = 200;

/** Chunk `n`: 7 TS packets on PID 0x100, continuity counter running, packet number in the payload. */
function chunk(n: number): Buffer {
  const b = Buffer.alloc(CHUNK, 0xff);
  for (let i = 0; i < 7; i++) {
    const k = n * 7 + i;
    const p = i * TS;
    b[p] = 0x47;
    b[p + 1] = (PID >> 8) & 0x1f;
    b[p + 2] = PID & 0xff;
    b[p + 3] = 0x10 | (k & 0x0f);
    b.writeUInt32BE(k >>> 0, p + 4);
  }
  return b;
}

interface Received {
  packets: number;
  first: number | undefined;
  last: number | undefined;
  /** Packets missing between the first and the last received. */
  lost: number;
  ccErrors: number;
  duplicates: number;
  /** The output is not whole aligned TS packets. */
  misaligned: boolean;
  /** Packets whose bytes differ from the sent packet with their number (header, CC or payload). */
  corrupt: number;
  /** Packets numbered lower than one received before them (out of order delivery). */
  outOfOrder: number;
}

function analyze(out: Buffer): Received {
  let packets = 0;
  let first: number | undefined;
  let last: number | undefined;
  let ccErrors = 0;
  let duplicates = 0;
  let prevCc: number | undefined;
  let corrupt = 0;
  let outOfOrder = 0;
  const seen = new Set<number>();
  const misaligned = out.length % TS !== 0;
  for (let p = 0; p + TS <= out.length; p += TS) {
    if (out[p] !== 0x47) return { packets, first, last, lost: 0, ccErrors, duplicates, misaligned: true, corrupt, outOfOrder };
    const k = out.readUInt32BE(p + 4);
    const sent = chunk(Math.floor(k / 7)).subarray((k % 7) * TS, (k % 7 + 1) * TS);
    if (!sent.equals(out.subarray(p, p + TS))) corrupt++;
    if (last !== undefined && k < last) outOfOrder++;
    const cc = out[p + 3]! & 0x0f;
    if (prevCc !== undefined && cc !== ((prevCc + 1) & 0x0f)) ccErrors++;
    prevCc = cc;
    if (seen.has(k)) duplicates++;
    seen.add(k);
    packets++;
    first ??= k;
    last = k;
  }
  const lost = first === undefined || last === undefined ? 0 : last - first + 1 - seen.size;
  return { packets, first, last, lost, ccErrors, duplicates, misaligned, corrupt, outOfOrder };
}

interface Case {
  name: string;
  impairment: Impairment;
  latencyMs: number;
  seconds: number;
  /** Outage of this many ms, starting `outageAtS` seconds in. */
  outageMs?: number;
  outageAtS?: number;
}

const CASES: Case[] = [
  { name: '1% loss, 50 ms RTT, latency 200 ms (4×RTT)', impairment: { loss: 0.01, delayMs: 25 }, latencyMs: 200, seconds: 8 },
  { name: '5% loss, 50 ms RTT, latency 300 ms (6×RTT)', impairment: { loss: 0.05, delayMs: 25 }, latencyMs: 300, seconds: 8 },
  { name: '10% loss, 50 ms RTT, latency 400 ms (8×RTT)', impairment: { loss: 0.1, delayMs: 25 }, latencyMs: 400, seconds: 8 },
  { name: '1% loss, 300 ms RTT, latency 1200 ms (4×RTT)', impairment: { loss: 0.01, delayMs: 150 }, latencyMs: 1200, seconds: 8 },
  { name: '1% loss, 50 ms RTT, 0-20 ms jitter (reordering), latency 200 ms (4×RTT)', impairment: { loss: 0.01, delayMs: 25, jitterMs: 20 }, latencyMs: 200, seconds: 8 },
  { name: '2 s outage (1% loss, 50 ms RTT, latency 200 ms)', impairment: { loss: 0.01, delayMs: 25 }, latencyMs: 200, seconds: 8, outageMs: 2000, outageAtS: 2 },
];

/** Writes chunks 0..count-1 to every writable, paced at CPS; `onSecond` runs once per second. */
async function feed(targets: Spawned[], count: number, onTick: (n: number) => void): Promise<void> {
  const start = performance.now();
  let n = 0;
  while (n < count) {
    const due = Math.min(count, Math.floor(((performance.now() - start) * CPS) / 1000) + 1);
    while (n < due) {
      const c = chunk(n);
      for (const p of targets) if (p.exit === undefined) p.child.stdin!.write(c);
      onTick(n);
      n++;
    }
    await delay(5);
  }
}

/** SIGINT makes srt-live-transmit flush its buffered stdout and exit. */
async function finish(p: Spawned): Promise<Buffer> {
  if (p.exit === undefined) {
    p.child.kill('SIGINT');
    await p.waitExit(10_000).catch(() => p.kill());
  }
  return p.stdout();
}

interface SessionStatsView {
  lossReceived: number;
  retransmitted: number;
  dropsReceived: number;
  dropsSent: number;
  lossSent: number;
}

async function relayStats(relay: RelayProcess, stream: string): Promise<Record<string, SessionStatsView>> {
  const r = await relay.api<{ sessions: Array<{ kind: string; stream: string; stats?: SessionStatsView }> }>('/api/v1/sessions');
  const out: Record<string, SessionStatsView> = {};
  for (const s of r.body.sessions) if (s.stream === stream && s.stats !== undefined) out[s.kind] = s.stats;
  return out;
}

interface CaseResult {
  relay: Received;
  /** Direct over both segments (the same path as the relay's). */
  direct: Received;
  /** Direct over one segment (reference). */
  oneSegment: Received;
  /** Share of the case's time some task waited for a CPU (Linux PSI), undefined where unknown. */
  cpuPressure: number | undefined;
}

/** Microseconds some task has waited for a CPU since boot (/proc/pressure/cpu), or undefined. */
function cpuStallUs(): number | undefined {
  try {
    const m = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}


async function runCase(t: AfterHook & { diagnostic(m: string): void }, relay: RelayProcess, c: Case, index: number): Promise<CaseResult> {
  const stream = `imp${index}`;
  const directPort = await freeUdpPort();
  const onePort = await freeUdpPort();
  const target = { host: '127.0.0.1', port: relay.srtPort };
  // Links: 0 publisher → relay (segment A), 1 viewer → relay (segment B), 2 → direct receiver
  // (segment B), 3 → link 2 (segment A), 4 → one-segment receiver. The same segment drops the
  // same draws in its data direction on both paths (per-direction seeds): up for A, and for B up
  // on the direct path but down (relay → viewer) on the relay path.
  const s = 1000 * (index + 1);
  const A = { data: s + 1, control: s + 2 };
  const B = { data: s + 3, control: s + 4 };
  const targets = [
    { ...target, seed: { up: A.data, down: A.control } },
    { ...target, seed: { up: B.control, down: B.data } },
    { host: '127.0.0.1', port: directPort, seed: { up: B.data, down: B.control } },
    { link: 2, seed: { up: A.data, down: A.control } },
    { host: '127.0.0.1', port: onePort, seed: { up: s + 5, down: s + 6 } },
  ];
  const proxy = spawnFor(t, process.execPath, [PROXY, '--serve', JSON.stringify({ targets, impairment: c.impairment, seed: 100 * (index + 1) })], { name: 'impair-proxy' });
  const { ports } = await jsonLine<{ ports: number[] }>(proxy, 'ports', 0);
  const [pubPort, viewPort, , directLinkPort, oneLinkPort] = ports as [number, number, number, number, number];
  const q = { latency: c.latencyMs };
  // Direct: a listener receiving, and a caller sending to it through its link.
  const directRx = spawnFor(t, SLT, ['-a:no', '-q', srtUrl('', directPort, { ...q, mode: 'listener' }), 'file://con'], { name: 'direct receiver' });
  const oneRx = spawnFor(t, SLT, ['-a:no', '-q', srtUrl('', onePort, { ...q, mode: 'listener' }), 'file://con'], { name: 'one-segment receiver' });
  raise(directRx);
  raise(oneRx);
  await waitUdpBound(directPort);
  await waitUdpBound(onePort);
  const oneTx = spawnFor(t, SLT, ['-a:no', '-q', /* TS-aligned messages: a lost 1456-byte message would misalign the 188-byte analysis of the direct path */ '-chunk:1316', 'file://con', srtUrl('127.0.0.1', oneLinkPort, q)], { name: 'one-segment sender' });
  raise(oneTx);
  const directTx = spawnFor(t, SLT, ['-a:no', '-q', /* TS-aligned messages: a lost 1456-byte message would misalign the 188-byte analysis of the direct path */ '-chunk:1316', 'file://con', srtUrl('127.0.0.1', directLinkPort, q)], { name: 'direct sender' });
  // Through the relay.
  const relayTx = spawnFor(t, SLT, ['-a:no', '-q', /* TS-aligned messages, as on the direct paths: a lost 1456-byte message would misalign the 188-byte analysis */ '-chunk:1316', 'file://con', srtUrl('127.0.0.1', pubPort, { ...q, streamid: `publish:${stream}` })], { name: 'relay publisher' });
  raise(directTx);
  raise(relayTx);
  const total = c.seconds * CPS;
  let viewer: Spawned | undefined;
  let outageStart: number | undefined;
  const stall0 = cpuStallUs();
  const t0 = performance.now();
  const feeding = feed([directTx, relayTx, oneTx], total, (n) => {
    if (c.outageMs !== undefined && n === (c.outageAtS ?? 0) * CPS) {
      outageStart = n;
      proxy.child.stdin!.write(`${JSON.stringify({ outageMs: c.outageMs })}\n`);
    }
  });
  await waitFor(async () => (await relay.api<{ state: string }>(`/api/v1/streams/${stream}`)).body?.state === 'live', `${stream} live on the relay`, 15_000);
  viewer = spawnFor(t, SLT, ['-a:no', '-q', srtUrl('127.0.0.1', viewPort, { ...q, streamid: `read:${stream}` }), 'file://con'], { name: 'relay viewer' });
  raise(viewer);
  const sessionIds = async (): Promise<string> => {
    const r = await relay.api<{ sessions: Array<{ id: number; kind: string; stream: string }> }>('/api/v1/sessions');
    return JSON.stringify(r.body.sessions.filter((x) => x.stream === stream).map((x) => `${x.kind}#${x.id}`).sort());
  };
  const idsAtStart = await waitFor(async () => {
    const ids = await sessionIds();
    return ids.includes('viewer#') && ids.includes('publisher#') ? ids : undefined;
  }, 'relay publisher and viewer sessions listed', 15_000);
  await feeding;
  const stall1 = cpuStallUs();
  const cpuPressure = stall0 === undefined || stall1 === undefined ? undefined : (stall1 - stall0) / 1000 / (performance.now() - t0);
  // Let the last packets through both paths (latency twice on the relay path, plus recovery).
  await delay(2 * c.latencyMs + 4 * c.impairment.delayMs + 1500);
  const stats = await relayStats(relay, stream);
  const idsAtEnd = await sessionIds();
  const lines = proxy.stdout().toString('utf8').split('\n').length - 1;
  proxy.child.stdin!.write('{"counters":true}\n');
  const { counters } = await jsonLine<{ counters: Array<{ up: LinkCounters; down: LinkCounters }> }>(proxy, 'counters', lines);
  const alive = { directRx: directRx.exit, directTx: directTx.exit, relayTx: relayTx.exit, viewer: viewer.exit, oneRx: oneRx.exit, oneTx: oneTx.exit };
  const [viaRelay, direct, one] = await Promise.all([finish(viewer), finish(directRx), finish(oneRx)]);
  await Promise.all([relayTx.kill(), directTx.kill(), oneTx.kill()]);
  const r = analyze(viaRelay);
  const d = analyze(direct);
  const o = analyze(one);
  t.diagnostic(
    `${c.name}: direct (2 segments) lost ${d.lost} of ${d.packets + d.lost} TS packets, ${d.ccErrors} CC errors; ` +
      `direct (1 segment) lost ${o.lost} of ${o.packets + o.lost}, ${o.ccErrors} CC errors; ` +
      `via relay lost ${r.lost} of ${r.packets + r.lost}, ${r.ccErrors} CC errors; ` +
      `links dropped ${counters.map((l) => `${l.up.dropped}/${l.down.dropped} of ${l.up.forwarded + l.up.dropped}/${l.down.forwarded + l.down.dropped}`).join(', ')} (up/down: publisher, viewer, direct B, direct A, one segment); ` +
      `CPU pressure ${cpuPressure === undefined ? 'unknown' : `${Math.round(cpuPressure * 100)}%`}; ` +
      `relay SRT stats ${JSON.stringify(stats)}`,
  );
  for (const [name, exit] of Object.entries(alive)) {
    assert.equal(exit, undefined, `${name} was still running at the end (${exit === undefined ? '' : describeExit(exit)})`);
  }
  assert.equal(r.misaligned, false, 'relay viewer output is whole TS packets');
  assert.equal(d.misaligned, false, 'direct output is whole TS packets');
  assert.ok(r.packets > 0 && d.packets > 0, `both received (relay ${r.packets}, direct ${d.packets})`);
  // No corruption through the relay: every TS packet the viewer gets is byte for byte the one sent
  // with its number, none twice, none out of order (losses are reported; bench/hop-loss.ts compares them).
  assert.equal(r.corrupt, 0, 'relay viewer: every TS packet is byte-identical to the one sent');
  assert.equal(r.duplicates, 0, 'relay viewer: no TS packet twice');
  assert.equal(r.outOfOrder, 0, 'relay viewer: TS packets in sending order');
  assert.equal(idsAtEnd, idsAtStart, 'the relay sessions at the end are the ones from the start (none ended and came back)');
  if (outageStart !== undefined) {
    // Sessions survived and the stream resumed: packets sent well after the outage arrived.
    const afterOutage = (outageStart + ((c.outageMs ?? 0) / 1000 + 2) * CPS) * 7;
    assert.ok((r.last ?? 0) > afterOutage, `the relay viewer got packets after the outage (last ${r.last}, outage over at ${afterOutage})`);
    assert.ok((d.last ?? 0) > afterOutage, `the direct link got packets after the outage (last ${d.last})`);
  }
  return { relay: r, direct: d, oneSegment: o, cpuPressure };
}

/*
 * Whether the relay loses more than a direct link over the same impaired path cannot be judged on
 * a loaded shared machine (CPU starvation turns into packet delay on every hop, and libsrt itself
 * loses 0-2 packets a run at 5%): that comparison is bench/hop-loss.ts. This test asserts what
 * holds on any machine: every session survives, output is whole, uncorrupted, in order, and the
 * stream resumes after an outage. The losses of both paths are reported as diagnostics.
 */
test('over impaired paths (loss, delay, jitter, 2 s outage) every relay session survives and the viewer gets uncorrupted, in-order TS packets, resuming after the outage', { timeout: 420_000 }, async (t) => {
  const relay = await startRelayProcess(t, { workers: 2, logLevel: 'warn' });
  raise(relay.proc);
  for (const [i, c] of CASES.entries()) {
    await t.test(c.name, async (st) => {
      const res = await runCase(st, relay, c, i);
      st.diagnostic(`lost TS packets: relay ${res.relay.lost} (${res.relay.ccErrors} CC errors), direct ${res.direct.lost} (${res.direct.ccErrors}); CPU pressure ${res.cpuPressure === undefined ? 'unknown' : `${Math.round(res.cpuPressure * 100)}%`}`);
    });
  }
  assert.equal(relay.proc.exit, undefined, 'the relay is alive');
});
