/**
 * Sessions while the only worker thread restarts (issue 13, item 4): callers that arrive while no
 * worker can take them are never left as "ghost" sessions (listed, holding their stream live, run
 * by no worker), the listener keeps accepting after the burst, and every session the API lists can
 * be closed through it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiServer } from '../src/api/http-server.js';
import { SrtRejectedError } from '../src/errors.js';
import { silentLogger } from '../src/logging.js';
import { SocketState, type SrtSocket } from '../src/srt/socket.js';
import { Relay } from '../src/supervisor/relay.js';
import { freeUdpPort } from './helpers/free-port.js';
import type { AfterHook } from './helpers/processes.js';
import { publishWhenFree, relayOptions, sessionOf, waitFor } from './helpers/relay-harness.js';
import { connectBinding, delay, withTimeout } from './helpers/srt-io.js';

async function startWithApi(t: AfterHook): Promise<{ relay: Relay; port: number; base: string }> {
  const port = await freeUdpPort();
  // One worker, one listener on the port: a listener that stops accepting is the port dead.
  const relay = new Relay(relayOptions(port, { workers: 1, ports: [{ port, host: '127.0.0.1', direction: 'both', params: { latency: 200 }, reusePort: 1 }] }));
  const api = new ApiServer(relay, { host: '127.0.0.1', port: 0, logger: silentLogger() });
  t.after(async () => {
    await api.close();
    await relay.stop();
  });
  await relay.start();
  const addr = await api.listen();
  return { relay, port, base: `http://127.0.0.1:${addr.port}` };
}

/** Connects `n` publishers of s0..s(n-1) at once; each is its socket, or the reject reason. */
async function burst(t: AfterHook, port: number, n: number, prefix: string): Promise<Array<SrtSocket | number>> {
  // In-process: the callers' sockets share the reactor with the relay's listener, so a batch
  // dropped by a throw in the relay leaves their connects unresolved too.
  const out = await withTimeout(Promise.all(
    Array.from({ length: n }, (_, i) =>
      connectBinding(port, { latency: 200, streamid: `publish:${prefix}${i}` }).then(
        (s) => {
          t.after(() => s.close());
          return s as SrtSocket | number;
        },
        (e: unknown) => {
          if (e instanceof SrtRejectedError) return e.reason;
          throw e;
        },
      ),
    ),
  ), 20_000, `${n} callers connected or refused`);
  return out;
}

/** Connects as a publisher of `stream`, retrying while the relay answers 1503 (no worker runs yet). */
async function publishWhenServed(port: number, stream: string, timeoutMs: number): Promise<{ socket: SrtSocket; refused: number }> {
  let refused = 0;
  const socket = await waitFor(async () => {
    try {
      return await connectBinding(port, { latency: 200, streamid: `publish:${stream}` });
    } catch (e) {
      if (e instanceof SrtRejectedError && e.reason === 1503) {
        refused++;
        await delay(50);
        return undefined;
      }
      throw e;
    }
  }, `a publisher of ${stream} accepted`, timeoutMs);
  return { socket, refused };
}

test('a worker killed while 20 publishers connect: each caller is served or closed, no session stays without a worker, the API can close every listed session, the streams can be published again and the listener keeps accepting', { timeout: 90_000 }, async (t) => {
  const { relay, port, base } = await startWithApi(t);
  const N = 20;
  relay.crashWorker(0);
  const callers = await burst(t, port, N, 'g');
  const refused = callers.filter((c) => typeof c === 'number');
  t.diagnostic(`during the restart: ${N - refused.length} connected, ${refused.filter((r) => r === 1503).length} refused 1503, ${refused.filter((r) => r < 1000).length} accepted and closed before their handshake completed`);
  // A reason of 1000 and above is the relay's answer: while no worker runs it must be 1503 (try
  // later). Below 1000 is libsrt's: the relay accepted the caller and closed it (its worker died
  // before the caller saw the handshake complete).
  for (const r of refused) if (r >= 1000) assert.equal(r, 1503, 'a caller the relay cannot serve now is refused with 1503 (try later)');

  // The listener still accepts: a publisher that comes after the burst is served by the (replaced) worker.
  const { socket: probe, refused: waited } = await publishWhenServed(port, 'probe', 20_000);
  t.after(() => probe.close());
  t.diagnostic(`publisher after the burst: refused ${waited} × 1503 while the worker restarted, then accepted`);
  await waitFor(() => sessionOf(relay, probe)?.worker !== undefined, 'the publisher after the burst is listed on a worker (the listener still accepts)', 15_000);

  // Every caller of the burst is served (listed, on a worker) or its connection is closed.
  const accepted = callers.filter((c): c is SrtSocket => typeof c !== 'number');
  await waitFor(
    async () => {
      const stats = await relay.sessionStats();
      return accepted.every((s) => {
        if (s.isClosed || s.state() >= SocketState.BROKEN) return true;
        const info = sessionOf(relay, s);
        return info !== undefined && info.worker !== undefined && stats.has(info.id);
      });
    },
    'every caller of the burst served on a worker or closed',
    15_000,
  ).catch((e: unknown) => {
    const ghosts = relay.listSessions().filter((s) => s.worker === undefined);
    throw new Error(`${String(e)}; sessions without a worker: ${ghosts.map((g) => `${g.id}:${g.stream}`).join(' ')}`);
  });
  const stats = await relay.sessionStats();
  for (const s of relay.listSessions()) {
    assert.notEqual(s.worker, undefined, `session ${s.id} (${s.stream}) runs on a worker`);
    assert.ok(stats.has(s.id), `session ${s.id} (${s.stream}) is hosted by its worker`);
  }

  // Every listed session can be closed through the API, and then it is gone.
  const listed = (await (await fetch(`${base}/api/v1/sessions`)).json()) as { sessions: Array<{ id: number }> };
  for (const s of listed.sessions) {
    const r = await fetch(`${base}/api/v1/sessions/${s.id}`, { method: 'DELETE' });
    assert.ok(r.status >= 200 && r.status < 300, `DELETE /api/v1/sessions/${s.id} → ${r.status}`);
  }
  await waitFor(() => relay.listSessions().length === 0, 'every session closed through the API is gone');

  // No stream stays "live" without a publisher: each can be published again at once.
  for (const c of accepted) c.close();
  for (let i = 0; i < N; i++) {
    const { socket, refused: n1409 } = await publishWhenFree(port, `g${i}`, 10_000);
    assert.equal(n1409, 0, `g${i} is not held live by a session that is gone`);
    t.after(() => socket.close());
    await waitFor(() => sessionOf(relay, socket)?.worker !== undefined, `new publisher of g${i} served`);
    socket.close();
  }
});
