/**
 * Faults: SIGTERM while the relay carries a load exits 0 and closes every viewer cleanly; a worker
 * thread that crashes (Relay.crashWorker, the pool's fault-injection hook) takes only its own
 * sessions, the streams served by the other worker lose nothing, the pool replaces the thread, and
 * publishers and viewers that reconnect are served again; running out of file descriptors is
 * logged (EMFILE), costs the playing stream nothing, and the relay recovers when they are freed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SrtSocket } from '../src/srt/socket.js';
import { describeExit, spawnFor } from './helpers/processes.js';
import {
  connectFor,
  countingReceiver,
  pacedPublisher,
  sessionOf,
  startRelay,
  waitAttached,
  waitFor,
  waitLive,
  type CountingReceiver,
  type PacedPublisher,
} from './helpers/relay-harness.js';
import { startRelayProcess } from './helpers/relay-process.js';
import { procStats } from './helpers/proc-stats.js';
import { connectBinding, delay, withTimeout } from './helpers/srt-io.js';
import { SLT, srtUrl } from './helpers/slt.js';

test('SIGTERM under load: the relay exits 0 by itself, every viewer sees a clean close with nothing lost or corrupt after the signal', { timeout: 90_000 }, async (t) => {
  const relay = await startRelayProcess(t, { workers: 2, logLevel: 'info' });
  const STREAMS = 3;
  const VIEWERS = 6; // per stream: 18 binding viewers + 1 srt-live-transmit
  const pubs: Array<{ socket: SrtSocket; p?: PacedPublisher }> = [];
  const viewers: Array<{ stream: number; rx: CountingReceiver }> = [];
  for (let s = 0; s < STREAMS; s++) {
    const socket = await connectBinding(relay.srtPort, { streamid: `publish:load${s}`, latency: 200 });
    t.after(() => socket.close());
    pubs.push({ socket });
    await waitFor(async () => (await relay.api<{ state: string }>(`/api/v1/streams/load${s}`)).body?.state === 'live', `load${s} live`);
  }
  for (let s = 0; s < STREAMS; s++) {
    for (let v = 0; v < VIEWERS; v++) {
      const socket = await connectBinding(relay.srtPort, { streamid: `read:load${s}`, latency: 200 });
      t.after(() => socket.close());
      viewers.push({ stream: s, rx: countingReceiver(socket, s) });
    }
  }
  const slt = spawnFor(t, SLT, ['-a:no', '-q', srtUrl('127.0.0.1', relay.srtPort, { streamid: 'read:load0', latency: 200 }), 'file://con'], { name: 'srt-live-transmit viewer' });
  let listed = 0;
  await waitFor(async () => {
    const r = await relay.api<{ sessions: unknown[] }>('/api/v1/sessions');
    listed = r.body.sessions.length;
    return listed === STREAMS + STREAMS * VIEWERS + 1;
  }, 'every session listed').catch((e: unknown) => {
    throw new Error(`${String(e)} (${listed} listed)\n${slt.output()}`);
  });
  for (const [s, pub] of pubs.entries()) pub.p = pacedPublisher(pub.socket, { pps: 400, tag: s }); // ~4.2 Mbit/s each, ~80 Mbit/s out
  await waitFor(() => viewers.every((v) => v.rx.packets >= 400), 'every viewer receiving (1 s of stream)', 20_000);

  // Gaps before the signal would be load on this machine, not the shutdown: counted separately.
  const gapsBefore = viewers.map((v) => v.rx.discontinuities);
  const sent = Date.now();
  relay.proc.child.kill('SIGTERM');
  const exit = await relay.proc.waitExit(15_000);
  const tookMs = Date.now() - sent;
  t.diagnostic(`exit ${describeExit(exit)} after ${tookMs} ms`);
  assert.equal(exit.signal, null, 'exited by itself, not killed');
  assert.equal(exit.code, 0, relay.proc.output().slice(-3000));
  assert.match(relay.proc.stdout().toString(), /"msg":"stopping"/, 'it logged the orderly stop');
  assert.doesNotMatch(relay.proc.stdout().toString(), /clean stop took too long/, 'the stop finished before the relay’s own 5 s deadline');

  for (const pub of pubs) await pub.p!.stop();
  t.diagnostic(`gaps before SIGTERM (load, not shutdown): ${gapsBefore.reduce((a, b) => a + b, 0)} over ${viewers.length} viewers`);
  for (const [i, v] of viewers.entries()) {
    await withTimeout(v.rx.closedPromise, 10_000, `viewer ${i} sees its connection closed`);
    assert.equal(v.rx.discontinuities, gapsBefore[i], `viewer ${i}: no gap between the signal and the close`);
    assert.equal(v.rx.corrupt, 0, `viewer ${i}: nothing corrupt`);
  }
  const sltExit = await slt.waitExit(15_000);
  t.diagnostic(`srt-live-transmit viewer: ${describeExit(sltExit)}`);
  assert.equal(sltExit.signal, null, `srt-live-transmit exits by itself when the relay closes it\n${slt.output()}`);
});

interface Member {
  socket: SrtSocket;
  id: number;
  worker: number;
  stream: string;
  kind: 'publisher' | 'viewer';
  rx?: CountingReceiver;
}

test('a crashed worker drops only its sessions; streams on the other worker lose nothing; the thread is replaced; reconnecting publishers and viewers are served', { timeout: 120_000 }, async (t) => {
  const { relay, port } = await startRelay(t, { workers: 2 });
  const STREAMS = ['s0', 's1', 's2', 's3'];
  const members: Member[] = [];
  const publishers = new Map<string, PacedPublisher>();
  for (const [i, name] of STREAMS.entries()) {
    const socket = await connectFor(t, port, { streamid: `publish:${name}` });
    await waitLive(relay, name);
    const info = await waitFor(() => sessionOf(relay, socket), `${name} publisher listed`);
    members.push({ socket, id: info.id, worker: info.worker!, stream: name, kind: 'publisher' });
    void i;
  }
  for (let round = 0; round < 3; round++) {
    for (const name of STREAMS) {
      const socket = await connectFor(t, port, { streamid: `read:${name}` });
      const info = await waitFor(() => sessionOf(relay, socket), `${name} viewer listed`);
      members.push({ socket, id: info.id, worker: info.worker!, stream: name, kind: 'viewer' });
    }
  }
  await waitAttached(relay, members.map((m) => m.id));
  const tagOf = (name: string): number => STREAMS.indexOf(name) + 1;
  for (const m of members) if (m.kind === 'viewer') m.rx = countingReceiver(m.socket, tagOf(m.stream));
  for (const m of members) {
    if (m.kind !== 'publisher') continue;
    const p = pacedPublisher(m.socket, { pps: 300, tag: tagOf(m.stream) });
    publishers.set(m.stream, p);
    t.after(() => p.stop());
  }
  const viewersOf = (pred: (m: Member) => boolean): Member[] => members.filter((m) => m.kind === 'viewer' && pred(m));
  await waitFor(() => viewersOf(() => true).every((m) => m.rx!.packets >= 150), 'every viewer receiving', 20_000);

  // Crash the worker that hosts the publisher of s1 (so at least one stream loses its publisher).
  const crashed = members.find((m) => m.kind === 'publisher' && m.stream === 's1')!.worker;
  const pubWorker = new Map(members.filter((m) => m.kind === 'publisher').map((m) => [m.stream, m.worker]));
  const victims = members.filter((m) => m.worker === crashed);
  // Untouched: viewers on the surviving worker of streams whose publisher is on the surviving worker.
  // (The pool places a viewer on its stream's publisher's worker, so today a crash takes whole
  // streams and `orphaned`, viewers left without their publisher, is empty; kept for a placement
  // that spreads a stream's viewers.)
  const untouched = viewersOf((m) => m.worker !== crashed && pubWorker.get(m.stream) !== crashed);
  const orphaned = viewersOf((m) => m.worker !== crashed && pubWorker.get(m.stream) === crashed);
  t.diagnostic(`sessions per worker: ${JSON.stringify(members.map((m) => `${m.kind[0]}:${m.stream}@${m.worker}`))}; crashing worker ${crashed}`);
  assert.ok(untouched.length > 0, 'some stream is served entirely by the surviving worker');
  assert.ok(victims.length > 0, 'the crashed worker hosts sessions');
  const countsAtCrash = new Map(untouched.map((m) => [m.id, m.rx!.packets]));

  const crashAt = performance.now();
  relay.crashWorker(crashed);

  for (const m of victims) {
    if (m.kind === 'viewer') await withTimeout(m.rx!.closedPromise, 15_000, `viewer ${m.id} on the crashed worker is closed`);
    else await waitFor(() => m.socket.isClosed || publishers.get(m.stream)!.error !== undefined, `publisher ${m.id} on the crashed worker is closed`, 15_000);
  }
  await waitFor(() => !relay.listSessions().some((s) => victims.some((v) => v.id === s.id)), 'the crashed worker’s sessions are gone');

  // The thread is replaced: new viewers are placed on it again (it is the least loaded) and receive.
  let replacedMs: number | undefined;
  let probe: { socket: SrtSocket; rx: CountingReceiver } | undefined;
  for (let attempt = 0; attempt < 100 && probe === undefined; attempt++) {
    const socket = await connectFor(t, port, { streamid: 'read:s0' });
    const info = await waitFor(() => sessionOf(relay, socket), 'probe viewer listed');
    if (info.worker === crashed) {
      replacedMs = performance.now() - crashAt;
      probe = { socket, rx: countingReceiver(socket, tagOf('s0'), tagOf('s0') + 100) };
    } else {
      socket.close();
      await delay(50);
    }
  }
  assert.ok(probe !== undefined, 'a viewer was placed on the replaced worker');
  t.diagnostic(`worker ${crashed} replaced and serving a new viewer ${Math.round(replacedMs!)} ms after the crash (target: 1 s)`);

  // Everything the untouched viewers got, before and after the crash, is gap-free, and they keep getting more.
  await waitFor(() => untouched.every((m) => m.rx!.packets >= countsAtCrash.get(m.id)! + 600), 'untouched viewers got 2 s more', 20_000);
  for (const m of untouched) {
    assert.equal(m.rx!.closed, false, `untouched viewer ${m.id} stays connected`);
    assert.equal(m.rx!.discontinuities, 0, `untouched viewer ${m.id} (${m.stream}) lost nothing`);
    assert.equal(m.rx!.corrupt, 0);
  }
  for (const m of orphaned) assert.equal(m.rx!.closed, false, `viewer ${m.id} of ${m.stream} (its publisher was on the crashed worker) stays connected`);

  // Reconnect: every victim publisher publishes again (new packets, tag + 100); viewers of those
  // streams that stayed connected get the new packets; every victim viewer reconnects and receives.
  const reconnected: Array<{ m: Member; rx: CountingReceiver }> = [];
  for (const m of victims.filter((v) => v.kind === 'publisher')) {
    await publishers.get(m.stream)!.stop();
    const socket = await connectFor(t, port, { streamid: `publish:${m.stream}` });
    await waitFor(() => relay.getStream(m.stream)?.publisher?.session === sessionOf(relay, socket)?.id, `${m.stream} publisher back`);
    for (const o of orphaned.filter((v) => v.stream === m.stream)) {
      o.rx!.stop();
      reconnected.push({ m: o, rx: countingReceiver(o.socket, tagOf(m.stream) + 100, tagOf(m.stream)) });
    }
    const p = pacedPublisher(socket, { pps: 300, tag: tagOf(m.stream) + 100 });
    publishers.set(m.stream, p);
    t.after(() => p.stop());
  }
  for (const m of victims.filter((v) => v.kind === 'viewer')) {
    const socket = await connectFor(t, port, { streamid: `read:${m.stream}` });
    const restarted = victims.some((v) => v.kind === 'publisher' && v.stream === m.stream);
    const tag = restarted ? tagOf(m.stream) + 100 : tagOf(m.stream);
    reconnected.push({ m, rx: countingReceiver(socket, tag, restarted ? tagOf(m.stream) : undefined) });
  }
  await waitFor(() => reconnected.every((r) => r.rx.packets >= 300), `reconnected peers receive (${reconnected.map((r) => r.rx.packets).join(',')})`, 20_000);
  for (const r of reconnected) {
    assert.equal(r.rx.discontinuities, 0, `${r.m.kind} of ${r.m.stream} after reconnecting: no gaps`);
    assert.equal(r.rx.corrupt, 0);
  }
  assert.equal(probe.rx.corrupt, 0);
  for (const p of publishers.values()) assert.equal(p.error, undefined);
});

test('running out of file descriptors is reported and not fatal: the playing stream loses nothing and the relay recovers', { timeout: 90_000 }, async (t) => {
  const relay = await startRelayProcess(t, { workers: 2, logLevel: 'info' });
  const pub = await connectBinding(relay.srtPort, { streamid: 'publish:live', latency: 200 });
  t.after(() => pub.close());
  await waitFor(async () => (await relay.api<{ state: string }>('/api/v1/streams/live')).body?.state === 'live', 'live');
  const viewer = await connectBinding(relay.srtPort, { streamid: 'read:live', latency: 200 });
  t.after(() => viewer.close());
  const rx = countingReceiver(viewer);
  const p = pacedPublisher(pub, { pps: 300 });
  t.after(() => p.stop());
  await waitFor(() => rx.packets >= 300, 'viewer receiving');
  // Leave it 6 descriptors to spare (every pull source, an SRT caller, takes one UDP socket).
  const inUse = procStats(relay.proc.pid!).fds;
  const limit = spawnFor(t, 'prlimit', ['--pid', String(relay.proc.pid), `--nofile=${inUse + 6}:${inUse + 6}`], { name: 'prlimit' });
  assert.equal((await limit.waitExit(10_000)).code, 0, limit.output());
  t.diagnostic(`descriptors: ${inUse} in use, limit set to ${inUse + 6}`);

  // 14 pull streams from a dead address, each asked for by a viewer: each pull attempt needs a UDP socket.
  const PULLS = 14;
  for (let i = 0; i < PULLS; i++) {
    const r = await relay.api(`/api/v1/streams/pull${i}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ source: 'srt://127.0.0.1:9?latency=200' }) });
    assert.equal(r.status, 201);
  }
  const askers = Array.from({ length: PULLS }, (_, i) =>
    spawnFor(t, SLT, ['-a:no', '-q', srtUrl('127.0.0.1', relay.srtPort, { streamid: `read:pull${i}`, latency: 200 }), 'file://con'], { name: `viewer of pull${i}` }),
  );
  await relay.proc.waitForLine('system errno 24', { timeoutMs: 20_000 });
  t.diagnostic(`out of descriptors (EMFILE logged): ${relay.proc.stdout().toString().split('\n').filter((l) => l.includes('errno 24')).length} log lines`);
  await delay(2000);
  assert.equal(relay.proc.exit, undefined, 'the relay is alive while out of descriptors');
  for (const a of askers) await a.kill();

  // Recovered: the API answers again once descriptors are free, and a new viewer joins the live stream.
  await waitFor(async () => (await fetch(`http://127.0.0.1:${relay.apiPort}/healthz`).then((r) => r.ok, () => false)), 'the API answers again', 30_000);
  const late = await connectBinding(relay.srtPort, { streamid: 'read:live', latency: 200 });
  t.after(() => late.close());
  const lateRx = countingReceiver(late);
  await waitFor(() => lateRx.packets >= 100, 'a new viewer receives', 15_000);
  const sent = await p.stop();
  await waitFor(() => rx.lastSeq === sent - 1, 'the first viewer got everything', 15_000);
  assert.equal(rx.discontinuities, 0, 'the playing stream lost nothing while descriptors ran out');
  assert.equal(rx.packets, sent - rx.firstSeq!);
  assert.equal(rx.closed, false);
});
