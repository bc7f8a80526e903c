/**
 * Worker threads that cannot start (issue 13, item 5). piscina emits 'error'
 * (ERR_WORKER_INIT_FAILED, e.g. EMFILE at a low file-descriptor limit); without a listener that
 * killed the node. Now a slot that cannot start is retried with backoff while the others serve;
 * with none running the ports refuse callers with 1503 and /healthz answers 503 with the reason;
 * only a node whose workers all fail at start-up exits, with ERR_WORKERS_UNAVAILABLE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiServer } from '../src/api/http-server.js';
import { isSrtRelayError } from '../src/errors.js';
import { silentLogger } from '../src/logging.js';
import { workerStartFaults } from '../src/sessions/worker-pool.js';
import { Relay } from '../src/supervisor/relay.js';
import { freeUdpPort } from './helpers/free-port.js';
import { countingReceiver, pacedPublisher, rejectReason, relayOptions, sessionOf, waitFor } from './helpers/relay-harness.js';
import { startRelayProcess } from './helpers/relay-process.js';
import { connectBinding } from './helpers/srt-io.js';

interface Health {
  status: string;
  reasons?: string[];
  workers: { total: number; running: number; slots: Array<{ state: string; failures: number; restarts: number; lastError?: string }> };
}

test('no worker runs (its restart fails twice): callers are refused with 1503 and /healthz answers 503 with the reason; once the worker starts, publishers are served and /healthz is ok', { timeout: 60_000 }, async (t) => {
  const port = await freeUdpPort();
  const relay = new Relay(relayOptions(port, { workers: 1, ports: [{ port, host: '127.0.0.1', direction: 'both', params: { latency: 200 }, reusePort: 1 }] }));
  const api = new ApiServer(relay, { host: '127.0.0.1', port: 0, logger: silentLogger() });
  t.after(async () => {
    workerStartFaults.count = 0;
    await api.close();
    await relay.stop();
  });
  await relay.start();
  const base = `http://127.0.0.1:${(await api.listen()).port}`;
  const health = async (): Promise<{ status: number; body: Health }> => {
    const r = await fetch(`${base}/healthz`);
    return { status: r.status, body: (await r.json()) as Health };
  };
  assert.equal((await health()).status, 200);

  workerStartFaults.count = 2; // the replacement fails twice: 0.5 s + 1 s of backoff with no worker
  relay.crashWorker(0);
  const down = await waitFor(async () => {
    const h = await health();
    return h.status === 503 ? h : undefined;
  }, '/healthz answers 503 while no worker runs');
  assert.equal(down.body.status, 'unhealthy');
  assert.match(down.body.reasons!.join(' '), /no worker thread runs.*1503/);
  assert.equal(down.body.workers.running, 0);
  t.diagnostic(`while down: ${JSON.stringify(down.body.reasons)}`);

  assert.equal(await rejectReason(port, { streamid: 'publish:late' }), 1503, 'a publisher is refused with 1503 while no worker runs');
  assert.equal(relay.listSessions().length, 0, 'nothing was accepted to be closed later');

  const up = await waitFor(async () => {
    const h = await health();
    return h.status === 200 ? h : undefined;
  }, '/healthz ok again once the worker started', 20_000);
  assert.equal(up.body.status, 'ok');
  assert.equal(up.body.workers.running, 1);
  assert.equal(up.body.workers.slots[0]!.restarts, 1, 'the slot counts its restart');
  const pub = await waitFor(() => connectBinding(port, { latency: 200, streamid: 'publish:late' }).catch(() => undefined), 'a publisher is accepted again');
  t.after(() => pub.close());
  await waitFor(() => sessionOf(relay, pub)?.worker === 0, 'the publisher runs on the restarted worker');
});

test('when no worker can start at all, start() fails with ERR_WORKERS_UNAVAILABLE naming the cause and what to change', { timeout: 60_000 }, async (t) => {
  const port = await freeUdpPort();
  const relay = new Relay(relayOptions(port, { workers: 2 }));
  workerStartFaults.count = 1_000_000;
  t.after(async () => {
    workerStartFaults.count = 0;
    await relay.stop();
  });
  await assert.rejects(relay.start(), (e: unknown) => {
    assert.ok(isSrtRelayError(e, 'ERR_WORKERS_UNAVAILABLE'), String(e));
    assert.match(e.message, /no worker thread could start.*ERR_WORKER_INIT_FAILED.*ulimit -n.*workers/);
    return true;
  });
});

test('at a file-descriptor limit where only some of 32 workers can start (EMFILE), the node keeps running on those, says so in /healthz and its log, and serves a publisher and a viewer', { timeout: 120_000 }, async (t) => {
  // The number of descriptors the node takes before its workers start is fixed for a build, but
  // not known here (it grows with the modules the node loads; 8 workers left no window where only
  // some start): with 32 workers, try limits around the ones measured here (58-70 all left some).
  let relay: Awaited<ReturnType<typeof startRelayProcess>> | undefined;
  const tried: string[] = [];
  for (const limit of [64, 60, 70, 58, 66, 74, 80, 54, 90]) {
    try {
      const r = await startRelayProcess(t, { workers: 32, logLevel: 'info', wrap: ['prlimit', `--nofile=${limit}:${limit}`] });
      const h = await r.api<Health>('/healthz');
      if (h.body.workers.running > 0 && h.body.workers.running < 32) {
        relay = r;
        t.diagnostic(`limit ${limit}: ${h.body.workers.running} of 32 workers run${tried.length > 0 ? ` (before: ${tried.join('; ')})` : ''}`);
        break;
      }
      tried.push(`${limit}: ${h.body.workers.running} of 32 run`);
      await r.proc.kill();
    } catch (e) {
      const out = String(e);
      // The old failure: piscina's unhandled 'error' event killed the node.
      assert.doesNotMatch(out, /Unhandled 'error' event|ERR_WORKER_INIT_FAILED[\s\S]*exited while starting|node:events/, `limit ${limit}: a worker that cannot start killed the node`);
      tried.push(`${limit}: ${out.split('\n')[0]!.slice(0, 160)}`);
    }
  }
  assert.ok(relay !== undefined, `no limit left some but not all workers running: ${tried.join('; ')}`);
  const h = await relay.api<Health>('/healthz');
  assert.equal(h.status, 200, 'degraded is still healthy: the port accepts');
  assert.equal(h.body.status, 'degraded');
  assert.match(h.body.reasons!.join(' '), /of 32 worker threads do not run/);
  assert.ok(h.body.workers.slots.some((s) => s.state === 'retrying' && /EMFILE/.test(s.lastError ?? '')), 'a slot retries after EMFILE');
  await relay.proc.waitForLine(/worker thread could not start.*EMFILE|EMFILE.*worker thread could not start/, { timeoutMs: 10_000 });

  const pub = await connectBinding(relay.srtPort, { latency: 200, streamid: 'publish:fd' });
  t.after(() => pub.close());
  await waitFor(async () => (await relay.api<{ state: string }>('/api/v1/streams/fd')).body?.state === 'live', 'fd live');
  const viewer = await connectBinding(relay.srtPort, { latency: 200, streamid: 'read:fd' });
  t.after(() => viewer.close());
  const rx = countingReceiver(viewer);
  const p = pacedPublisher(pub, { pps: 300 });
  t.after(() => p.stop());
  await waitFor(() => rx.packets >= 300, 'the viewer receives');
  assert.equal(rx.corrupt, 0);
  assert.equal(relay.proc.exit, undefined, 'the node is still running');
});
