/**
 * The auth webhook is told the user and token a stream id carries: Haivision's standard keys
 * `u=` (user) and `s=` (session / token), MediaMTX's `publish:NAME:USER:PASS`; and the stream as
 * the port's dialect reads it (an SLS publisher domain is not part of the name).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SrtRejectedError } from '../src/errors.js';
import { SrtSocket } from '../src/srt/socket.js';
import { Relay } from '../src/supervisor/relay.js';
import { freeUdpPort } from './helpers/free-port.js';
import { startWebhook } from './helpers/webhook.js';

interface CallWithCreds {
  action: string;
  stream: string;
  streamid: string;
  user?: string;
  token?: string;
}

/** Connects; while the relay answers 1503 (asking the webhook), waits and retries. */
async function connectWithRetry(port: number, streamid: string): Promise<SrtSocket> {
  for (let attempt = 0; ; attempt++) {
    const s = SrtSocket.create({ streamid, latency: 120 });
    try {
      await s.connect('127.0.0.1', port);
      return s;
    } catch (e) {
      if (attempt < 5 && e instanceof SrtRejectedError && e.reason === 1503) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      throw e;
    }
  }
}

test('the webhook gets user and token from u=/s= and from publish:NAME:USER:PASS, and the dialect-read stream', { timeout: 30_000 }, async (t) => {
  const hook = await startWebhook(() => ({ status: 200, body: { allow: true } }));
  const port = await freeUdpPort();
  const relay = new Relay({
    nodeId: 'hook-test',
    workers: 1,
    ports: [{ port, host: '127.0.0.1', direction: 'both', params: { latency: 120 }, reusePort: 1, dialects: { domains: { 'uplive.sls.com': 'publish' } } }],
    streams: {},
    pushes: [],
    limits: {},
    ringSlots: 1024,
    auth: { webhook: hook.url, timeoutMs: 2000, cacheMs: 5000 },
  });
  await relay.start();
  t.after(async () => {
    await relay.stop();
    hook.server.close();
  });
  const ids = ['#!::u=alice,s=tok-1,r=cam1,m=publish', 'publish:cam2:bob:pw-2', 'uplive.sls.com/live/cam3'];
  for (const id of ids) {
    const s = await connectWithRetry(port, id);
    t.after(() => s.close());
  }
  const calls = hook.calls as unknown as CallWithCreds[];
  const seen = ids.map((id) => {
    const c = calls.find((x) => x.streamid === id);
    return c === undefined ? undefined : { action: c.action, stream: c.stream, user: c.user, token: c.token };
  });
  assert.deepEqual(seen, [
    { action: 'publish', stream: 'cam1', user: 'alice', token: 'tok-1' },
    { action: 'publish', stream: 'cam2', user: 'bob', token: 'pw-2' },
    { action: 'publish', stream: 'live/cam3', user: undefined, token: undefined },
  ]);
});
