/**
 * Bad input on the SRT port: random UDP datagrams and malformed or truncated SRT handshakes
 * (test/helpers/srt-fuzzer.ts, run as its own process) hit a relay process while a real stream
 * plays through it. The relay must stay up, the viewer must lose nothing, and file descriptors,
 * sockets and memory must come back to where they were. Also: handshake bursts (with the per-host
 * limits applied to loopback, and from an exempt host), the handshake libsrt 1.5.1 crashes on,
 * and stream names the API's naming rule refuses.
 *
 * Counts (the full numbers by default; about 45 s on a 2-core machine):
 *   SRT_RELAY_FUZZ_DATAGRAMS   random datagrams       (default 1,000,000)
 *   SRT_RELAY_FUZZ_HANDSHAKES  malformed handshakes   (default 10,000)
 *   SRT_RELAY_FUZZ_RATE        datagrams per second   (default 60,000)
 *   SRT_RELAY_FUZZ_SEED        PRNG seed              (default 20261125)
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SrtSocket } from '../src/srt/socket.js';
import { SrtRejectedError } from '../src/errors.js';
import { STREAM_NAME_PATTERN } from '../src/api/validate.js';
import { spawnFor } from './helpers/processes.js';
import { countingReceiver, pacedPublisher, startRelay, waitFor } from './helpers/relay-harness.js';
import { connectBinding, delay, waitDelivered } from './helpers/srt-io.js';
import { formatStats, procStats, type ProcStats } from './helpers/proc-stats.js';
import { startRelayProcess, type RelayProcess } from './helpers/relay-process.js';
import type { FuzzPlan, FuzzReport } from './helpers/srt-fuzzer.js';
import { SRT_CMD_CONGESTION, SRT_CMD_FILTER, conclusionPacket, extension, hsreqExtension, handshakeType, inductionCookie, inductionPacket, sidExtension } from './helpers/srt-handshake.js';

const FUZZER = new URL('./helpers/srt-fuzzer.js', import.meta.url).pathname;

function envInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  assert.ok(Number.isSafeInteger(n) && n >= 0, `${name} must be a non-negative integer (got ${v})`);
  return n;
}

const DATAGRAMS = envInt('SRT_RELAY_FUZZ_DATAGRAMS', 1_000_000);
const HANDSHAKES = envInt('SRT_RELAY_FUZZ_HANDSHAKES', 10_000);
const RATE = envInt('SRT_RELAY_FUZZ_RATE', 60_000);
const SEED = envInt('SRT_RELAY_FUZZ_SEED', 20261125);

interface Session {
  id: number;
  kind: string;
  stream: string;
  streamid: string;
}

async function sessions(relay: RelayProcess): Promise<Session[]> {
  const r = await relay.api<{ sessions: Session[] }>('/api/v1/sessions').catch((e: unknown) => {
    throw new Error(`API unreachable (${String(e)}); relay exit: ${JSON.stringify(relay.proc.exit)}\n${relay.proc.output().slice(-2000)}`);
  });
  assert.equal(r.status, 200);
  return r.body.sessions;
}

/** Waits until the relay has `count` sessions again (half-open ones time out after 5 s), then its stats. */
async function drained(relay: RelayProcess, count: number, what: string): Promise<ProcStats> {
  await waitFor(async () => (await sessions(relay)).length === count, `${what}: sessions back to ${count}`, 60_000);
  await delay(1000);
  return procStats(relay.proc.pid!);
}

async function runFuzzer(t: Parameters<typeof spawnFor>[0], plan: FuzzPlan, timeoutMs: number): Promise<FuzzReport> {
  const p = spawnFor(t, process.execPath, [FUZZER, '--fuzz', JSON.stringify(plan)], { name: 'srt-fuzzer' });
  const exit = await p.waitExit(timeoutMs);
  assert.equal(exit.code, 0, p.output());
  return JSON.parse(p.stdout().toString('utf8').trim()) as FuzzReport;
}

test(
  `the relay survives ${DATAGRAMS} random datagrams and ${HANDSHAKES} malformed handshakes while a stream plays: the viewer loses nothing, fds, sockets and threads come back, RSS stays under 3 GiB`,
  { timeout: 240_000 },
  async (t) => {
    const relay = await startRelayProcess(t, { workers: 2, logLevel: 'warn' });

    // The real stream: publisher and viewer are binding callers in this process.
    const pub = await connectBinding(relay.srtPort, { streamid: 'publish:live', latency: 200 });
    t.after(() => pub.close());
    await waitFor(async () => (await relay.api<{ state: string }>('/api/v1/streams/live')).body?.state === 'live', 'stream live');
    const viewer = await connectBinding(relay.srtPort, { streamid: 'read:live', latency: 200 });
    t.after(() => viewer.close());
    await waitFor(async () => (await sessions(relay)).some((s) => s.kind === 'viewer' && s.stream === 'live'), 'viewer session listed');
    const rx = countingReceiver(viewer);
    const p = pacedPublisher(pub, { pps: 500 }); // ~5.3 Mbit/s
    t.after(() => p.stop());
    await waitFor(() => rx.packets >= 500 || p.error, 'viewer receiving before the fuzz', 15_000);
    await delay(500);

    const before = procStats(relay.proc.pid!);
    const sessionsBefore = (await sessions(relay)).length;
    t.diagnostic(`before: ${formatStats(before)}, sessions ${sessionsBefore}`);

    // Round 1: everything, interleaved, while the stream plays.
    const r1 = await runFuzzer(t, { host: '127.0.0.1', port: relay.srtPort, datagrams: DATAGRAMS, handshakes: HANDSHAKES, rate: RATE, seed: SEED, missingStream: 'nosuch', avoidEmptyFilterCrash: false }, 200_000);
    t.diagnostic(`round 1: ${JSON.stringify(r1)}`);
    assert.equal(r1.datagramsSent, DATAGRAMS);
    assert.equal(r1.handshakesSent, HANDSHAKES);
    assert.equal(relay.proc.exit, undefined, `the relay died during the fuzz\n${relay.proc.output()}`);
    if (HANDSHAKES >= 100) {
      // The fuzzer's handshakes were understood: inductions got cookies, and the control
      // conclusions (valid except for the stream name) reached the relay's gate and were refused
      // with 1404 (handshake type 1000 + 1404).
      assert.ok(r1.cookies > 0, 'the relay answered the fuzzer’s inductions');
      assert.ok((r1.controlAnswers['2404'] ?? 0) > 0, `control conclusions rejected with 1404: ${JSON.stringify(r1.controlAnswers)}`);
      assert.equal(r1.controlAnswers['accepted'], undefined, 'no control conclusion (unknown stream) was accepted');
    }

    // Handshakes the gate accepted (undecided plain names, publishers of new names) become
    // sessions that end when libsrt's peer idle timeout (5 s) expires: wait for them to go.
    const after1 = await drained(relay, sessionsBefore, 'after round 1');
    t.diagnostic(`after round 1: ${formatStats(after1)}`);

    // The stream lost nothing: every packet published since the viewer's first one, in order.
    const sent = await p.stop();
    assert.equal(p.error, undefined, 'the publisher kept sending');
    await waitDelivered(pub, 500, 20_000);
    await waitFor(() => rx.lastSeq === sent - 1, `viewer received up to packet ${sent - 1} (has ${rx.lastSeq})`, 20_000);
    t.diagnostic(`stream: ${sent} packets published, viewer got ${rx.packets} from #${rx.firstSeq}, ${rx.discontinuities} gaps, ${rx.corrupt} corrupt`);
    assert.equal(rx.closed, false, 'the viewer was never disconnected');
    assert.equal(rx.discontinuities, 0, 'no sequence gaps (the TS-level equivalent: no CC errors)');
    assert.equal(rx.corrupt, 0, 'no corrupt packets');
    assert.equal(rx.packets, sent - rx.firstSeq!, 'byte count continuous: every packet from the first one on');
    assert.equal(rx.bytes, rx.packets * 1316);
    assert.equal(rx.checksum, p.checksumFrom(rx.firstSeq!), 'checksum over the received packets');

    // Nothing leaked: descriptors and sockets as before; memory bounded and levelling off.
    const health = await relay.api<{ status: string }>('/healthz');
    assert.equal(health.body.status, 'ok');
    assert.equal(relay.proc.exit, undefined, 'the relay is alive');
    assert.ok(after1.fds <= before.fds + 4, `fds back near baseline: ${before.fds} → ${after1.fds}`);
    assert.ok(after1.socketFds <= before.socketFds + 2, `sockets back near baseline: ${before.socketFds} → ${after1.socketFds}`);
    assert.ok(after1.threads <= before.threads + 4, `threads back near baseline: ${before.threads} → ${after1.threads}`);
    // Wide bound: each accepted-then-abandoned handshake (undecided plain names, publishers of new
    // names) costs libsrt and the relay memory that the allocator keeps after the session ended,
    // so RSS rises with the peak of half-open sessions (~1-3 MB each observed).
    assert.ok(after1.rssKb < 3 * 1024 * 1024, `RSS under 3 GiB (${Math.round(after1.rssKb / 1024)} MiB)`);
  },
);

interface BurstOptions {
  /** Extra relay flags (e.g. --config with limits). */
  args?: readonly string[];
  handshakes: number;
  rounds: number;
  /** The limit that must refuse part of each burst: its rejection code (1429), seen by the fuzzer as handshake type 1000 + code. */
  refusedWith?: number;
}

/**
 * A stream plays while `rounds` bursts of malformed handshakes (20,000/s) hit the port; after each
 * the half-open sessions drain. The viewer must lose nothing and memory must level off.
 */
async function burstScenario(t: TestContext, o: BurstOptions): Promise<void> {
  const relay = await startRelayProcess(t, { workers: 2, logLevel: 'warn', ...(o.args !== undefined ? { args: o.args } : {}) });
  const pub = await connectBinding(relay.srtPort, { streamid: 'publish:live', latency: 200 });
  t.after(() => pub.close());
  await waitFor(async () => (await relay.api<{ state: string }>('/api/v1/streams/live')).body?.state === 'live', 'stream live');
  const viewer = await connectBinding(relay.srtPort, { streamid: 'read:live', latency: 200 });
  t.after(() => viewer.close());
  await waitFor(async () => (await sessions(relay)).some((s) => s.kind === 'viewer' && s.stream === 'live'), 'viewer session listed');
  const rx = countingReceiver(viewer);
  const p = pacedPublisher(pub, { pps: 500 });
  t.after(() => p.stop());
  await waitFor(() => rx.packets >= 500 || p.error, 'viewer receiving', 15_000);
  const before = procStats(relay.proc.pid!);
  const rss: number[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    let peak = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        peak = Math.max(peak, (await sessions(relay)).length);
        await delay(200);
      }
    })();
    const r = await runFuzzer(t, { host: '127.0.0.1', port: relay.srtPort, datagrams: 0, handshakes: o.handshakes, rate: 20_000, seed: SEED + round, missingStream: 'nosuch', avoidEmptyFilterCrash: false }, 120_000);
    polling = false;
    await poller;
    assert.equal(relay.proc.exit, undefined, `the relay died during burst ${round}\n${relay.proc.output()}`);
    const after = await drained(relay, 2, `after burst ${round}`);
    rss.push(after.rssKb);
    t.diagnostic(`burst ${round}: ${r.handshakesSent} handshakes in ${r.elapsedMs} ms, answers ${JSON.stringify(r.conclusionAnswers)}, peak sessions ${peak}, viewer gaps so far ${rx.discontinuities}; ${formatStats(after)}`);
    if (o.refusedWith !== undefined) {
      const refused = r.conclusionAnswers[String(1000 + o.refusedWith)] ?? 0;
      assert.ok(refused > 0, `burst ${round}: handshakes beyond the limit refused with ${o.refusedWith} (answers ${JSON.stringify(r.conclusionAnswers)})`);
    }
  }
  const sent = await p.stop();
  await waitDelivered(pub, 500, 20_000);
  await waitFor(() => rx.lastSeq === sent - 1, `viewer received up to packet ${sent - 1}`, 20_000);
  assert.equal(rx.discontinuities, 0, `no sequence gaps (viewer got ${rx.packets} of ${sent - rx.firstSeq!})`);
  assert.equal(rx.packets, sent - rx.firstSeq!);
  const mib = (kb: number): number => Math.round(kb / 1024);
  const last = rss[rss.length - 1]!;
  if (rss.length >= 3) {
    const grew = Math.max(0, rss[1]! - rss[0]!);
    assert.ok(last <= rss[1]! + grew / 2 + 128 * 1024, `RSS levels off: ${mib(before.rssKb)} → ${rss.map(mib).join(' → ')} MiB`);
  }
  assert.ok(last < before.rssKb + 512 * 1024, `RSS within 512 MiB of where it was (${mib(before.rssKb)} → ${rss.map(mib).join(' → ')} MiB)`);
}

test('handshake bursts from one host (20,000/s, limits applied to loopback) are refused with 1429 beyond the limit, cost the playing stream nothing, and memory stays put', { timeout: 120_000 }, async (t) => {
  // Loopback is exempt from the per-host limits by default: take that away (limits.exemptHosts: []).
  const dir = await mkdtemp(join(tmpdir(), 'srt-relay-fuzz-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'limits.json');
  await writeFile(file, JSON.stringify({ limits: { exemptHosts: [] } }));
  await burstScenario(t, { args: ['--config', file], handshakes: HANDSHAKES, rounds: 2, refusedWith: 1429 });
});

test(
  'handshake bursts from an exempt host (loopback, as a load balancer would be) are refused with 1429 beyond the node-wide rate, cost the playing stream nothing, and memory levels off',
  {
    timeout: 180_000,
  },
  async (t) => {
    await burstScenario(t, { handshakes: Math.min(HANDSHAKES, 5000), rounds: 3, refusedWith: 1429 });
  },
);

/**
 * Induction from a new UDP socket to get a cookie, then `packet(cookie)`. With `answer`, resolves
 * with the handshake type of the first answer to that packet (waited for, generous deadline);
 * without, as soon as it is sent.
 */
async function afterInduction(port: number, packet: (cookie: number) => Buffer, answer = false): Promise<number | undefined> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
  try {
    const cookie = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no induction answer')), 20_000);
      const onInduction = (m: Buffer): void => {
        const c = inductionCookie(m);
        if (c !== undefined && c !== 0) {
          clearTimeout(timer);
          sock.off('message', onInduction);
          resolve(c);
        }
      };
      sock.on('message', onInduction);
      sock.send(inductionPacket(0x1234), port, '127.0.0.1');
    });
    if (!answer) {
      await new Promise<void>((resolve, reject) => sock.send(packet(cookie), port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
      return undefined;
    }
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer to the conclusion')), 20_000);
      sock.on('message', (m) => {
        const type = handshakeType(m);
        if (type !== undefined && type !== 1) {
          clearTimeout(timer);
          resolve(type);
        }
      });
      sock.send(packet(cookie), port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

/** Resolves when the relay answers a fresh induction: every datagram sent to the port before it has been read. */
async function answersInduction(port: number): Promise<void> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the relay answered no induction within 20 s')), 20_000);
      sock.on('message', (m) => {
        if ((inductionCookie(m) ?? 0) !== 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      sock.send(inductionPacket(0x5678), port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

test(
  'handshakes with an empty packet-filter extension (libsrt 1.5.1 crashes on them, Haivision/srt#3029) do not take the relay down',
  { timeout: 60_000 },
  async (t) => {
    const relay = await startRelayProcess(t, { workers: 1, logLevel: 'warn' });
    // The filter string libsrt reads is empty when its first byte is NUL; each 4-byte group is
    // byte-reversed on the wire, so wire byte 3 is that first byte. As the only extension after
    // HSREQ, after the stream id and a congestion block, and as 1-3 bytes (zero padded).
    const variants: Array<[string, Buffer[]]> = [
      ['4 zero bytes', [hsreqExtension(), extension(SRT_CMD_FILTER, Buffer.alloc(4))]],
      ['"e1" padded', [hsreqExtension(), extension(SRT_CMD_FILTER, Buffer.from([0x65, 0x31]))]],
      ['NUL then text', [hsreqExtension(), extension(SRT_CMD_FILTER, Buffer.from([0x63, 0x65, 0x66, 0x00, 0x31, 0x3a, 0x73, 0x6c]))]],
      ['after the stream id', [hsreqExtension(), sidExtension('read:nosuch'), extension(SRT_CMD_FILTER, Buffer.alloc(8))]],
      ['after stream id and congestion', [hsreqExtension(), sidExtension('publish:x'), extension(SRT_CMD_CONGESTION, Buffer.from('evil')), extension(SRT_CMD_FILTER, Buffer.from([1, 2, 3, 0]))]],
    ];
    for (const [name, exts] of variants) {
      await afterInduction(relay.srtPort, (cookie) => conclusionPacket(0x4242, cookie, exts, { extension: 5 }));
      // The relay still answers a handshake sent after the bad one: it read that datagram and lives.
      await answersInduction(relay.srtPort);
      assert.equal(relay.proc.exit, undefined, `the relay died on the variant '${name}': ${JSON.stringify(relay.proc.exit)}`);
    }
    const health = await relay.api<{ status: string }>('/healthz');
    assert.equal(health.body.status, 'ok');
    // And it still serves: a publisher and a viewer connect.
    const pub = await connectBinding(relay.srtPort, { streamid: 'publish:after', latency: 200 });
    t.after(() => pub.close());
    await waitFor(async () => (await relay.api<{ state: string }>('/api/v1/streams/after')).body?.state === 'live', 'stream live');
  },
);

test(
  'a stream id whose name breaks the naming rules (invalid UTF-8, spaces, control characters) is refused with 1400 and creates no stream',
  { timeout: 60_000 },
  async (t) => {
    const { relay, port } = await startRelay(t);
    // Valid UTF-8 the API would refuse, through a real caller ...
    for (const sid of ['publish:bad name', 'publish:tab\tname', 'publish:<script>']) {
      const s = SrtSocket.create({ streamid: sid, latency: 200 });
      t.after(() => s.close());
      const reason = await s.connect('127.0.0.1', port).then(
        () => 'accepted',
        (e: unknown) => (e instanceof SrtRejectedError ? e.reason : String(e)),
      );
      assert.equal(reason, 1400, `${JSON.stringify(sid)} is refused with 1400`);
    }
    // ... and invalid UTF-8, which no SRT library sends on purpose: a raw handshake.
    const answer = await afterInduction(port, (cookie) => conclusionPacket(0x4343, cookie, [hsreqExtension(), sidExtension(Buffer.from([0x70, 0x75, 0x62, 0x6c, 0x69, 0x73, 0x68, 0x3a, 0x63, 0x61, 0x6d, 0xff, 0xfe]))]), true);
    assert.equal(answer, 1000 + 1400, 'invalid UTF-8 in the stream id: the conclusion is answered with a 1400 rejection');
    const names = relay.listStreams().map((s) => s.name);
    const bad = names.filter((n) => !STREAM_NAME_PATTERN.test(n) || n.length > 200);
    assert.deepEqual(bad, [], `streams created with names outside the naming rules: ${JSON.stringify(bad)}`);
  },
);
