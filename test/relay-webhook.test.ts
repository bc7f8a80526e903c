/**
 * Publish/play decided by an auth webhook: a real HTTP server on loopback answers allow, deny,
 * rename, per-connection passphrase, 401 and silence; real SRT callers see the codes.
 * The first handshake of a new (streamid, address) is refused with 1503 while the relay asks;
 * the retry is decided from the cached answer (see docs/auth.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Relay } from '../src/supervisor/relay.js';
import { SrtSocket } from '../src/srt/socket.js';
import { SrtRejectedError } from '../src/errors.js';
import { freeUdpPort } from './helpers/free-port.js';
import { startWebhook } from './helpers/webhook.js';

/** Connects; on the pending 1503, waits and retries once, like an encoder with auto-reconnect. */
async function connectWithRetry(port: number, options: Record<string, string | number>): Promise<SrtSocket> {
  for (let attempt = 0; ; attempt++) {
    const s = SrtSocket.create(options);
    try {
      await s.connect('127.0.0.1', port);
      return s;
    } catch (e) {
      if (attempt === 0 && e instanceof SrtRejectedError && e.reason === 1503) {
        await new Promise((r) => setTimeout(r, 300));
        continue;
      }
      throw e;
    }
  }
}

async function rejectionOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SrtRejectedError) return e.reason;
    throw e;
  }
  assert.fail('expected the connection to be rejected');
}

async function startRelay(webhook: string, timeoutMs = 2000): Promise<{ relay: Relay; port: number }> {
  const port = await freeUdpPort();
  const relay = new Relay({
    nodeId: 'hook-test',
    workers: 1,
    ports: [{ port, host: '127.0.0.1', direction: 'both', params: { latency: 120 }, reusePort: 1 }],
    streams: {},
    pushes: [],
    limits: {},
    ringSlots: 1024,
    auth: { webhook, timeoutMs, cacheMs: 5000 },
  });
  await relay.start();
  return { relay, port };
}

test('the webhook allows a publish and is told action, stream, streamid, address and node', async (t) => {
  const hook = await startWebhook(() => ({ status: 200, body: { allow: true } }));
  const { relay, port } = await startRelay(hook.url);
  t.after(async () => {
    await relay.stop();
    hook.server.close();
  });
  const s = await connectWithRetry(port, { streamid: '#!::r=cam,m=publish,u=alice' });
  t.after(() => s.close());
  assert.equal(hook.calls.length, 1);
  const call = hook.calls[0]!;
  assert.equal(call.action, 'publish');
  assert.equal(call.stream, 'cam');
  assert.equal(call.streamid, '#!::r=cam,m=publish,u=alice');
  assert.match(call.remoteAddr, /^127\.0\.0\.1:\d+$/);
  assert.equal(call.nodeId, 'hook-test');
  s.send(new Uint8Array(1316));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(relay.getStream('cam')?.state, 'live');
});

test('a denying webhook makes the retry fail with 1403, and 401 with 1401', async (t) => {
  const hook = await startWebhook((c) => (c.streamid.includes('nocreds') ? { status: 401 } : { status: 200, body: { allow: false } }));
  const { relay, port } = await startRelay(hook.url);
  t.after(async () => {
    await relay.stop();
    hook.server.close();
  });
  assert.equal(await rejectionOf(connectWithRetry(port, { streamid: 'publish:denied' })), 1403);
  assert.equal(await rejectionOf(connectWithRetry(port, { streamid: 'publish:nocreds' })), 1401);
});

test('a webhook that never answers is a 1403 after its timeout', async (t) => {
  const hook = await startWebhook(() => 'hang');
  const { relay, port } = await startRelay(hook.url, 300);
  t.after(async () => {
    await relay.stop();
    hook.server.closeAllConnections();
    hook.server.close();
  });
  const first = await rejectionOf(SrtSocket.create({ streamid: 'publish:slow' }).connect('127.0.0.1', port));
  assert.equal(first, 1503);
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(await rejectionOf(SrtSocket.create({ streamid: 'publish:slow' }).connect('127.0.0.1', port)), 1403);
});

test('the webhook renames the stream and sets the connection passphrase', async (t) => {
  const hook = await startWebhook((c) =>
    c.action === 'publish'
      ? { status: 200, body: { allow: true, stream: 'renamed', passphrase: 'per-connection-secret' } }
      : { status: 200, body: { allow: true } },
  );
  const { relay, port } = await startRelay(hook.url);
  t.after(async () => {
    await relay.stop();
    hook.server.close();
  });
  // Without the passphrase the webhook gave, the retry fails on the secret.
  const wrong = await rejectionOf(connectWithRetry(port, { streamid: 'publish:original', passphrase: 'not-the-secret' }));
  assert.equal(wrong, 10);
  const pub = await connectWithRetry(port, { streamid: 'publish:original2', passphrase: 'per-connection-secret' });
  t.after(() => pub.close());
  pub.send(new Uint8Array(1316));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(relay.getStream('renamed')?.state, 'live');
  assert.equal(relay.getStream('original2'), undefined);
});
