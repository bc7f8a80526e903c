/**
 * Publish/play decided by an auth webhook: a real HTTP server on loopback answers allow, deny,
 * rename, per-connection passphrase, 401 and silence; real SRT callers see the codes.
 * These run with `auth.hold: false`, the retry protocol: the first handshake of a new
 * (streamid, address) is refused with 1503 while the relay asks; the retry is decided from the
 * cached answer (see docs/auth.md). Held admission (the default) is webhook-held-admission.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SrtSocket } from '../src/srt/socket.js';
import { connectDecided, rejectionOf, startWebhook, startWebhookRelay } from './helpers/webhook.js';

/** Waits (generous deadline) until `cond` holds. */
async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('the webhook allows a publish and is told action, stream, streamid, address and node', async (t) => {
  const hook = await startWebhook(() => ({ status: 200, body: { allow: true } }));
  const { relay, port } = await startWebhookRelay(hook.url, { hold: false });
  t.after(async () => {
    await relay.stop();
    hook.server.close();
  });
  const s = await connectDecided(port, { streamid: '#!::r=cam,m=publish,u=alice' });
  t.after(() => s.close());
  assert.equal(hook.calls.length, 1);
  const call = hook.calls[0]!;
  assert.equal(call.action, 'publish');
  assert.equal(call.stream, 'cam');
  assert.equal(call.streamid, '#!::r=cam,m=publish,u=alice');
  assert.match(call.remoteAddr, /^127\.0\.0\.1:\d+$/);
  assert.equal(call.nodeId, 'hook-test');
  s.send(new Uint8Array(1316));
  await until(() => relay.getStream('cam')?.state === 'live', 'cam goes live');
});

test('a denying webhook makes the retry fail with 1403, and 401 with 1401', async (t) => {
  const hook = await startWebhook((c) => (c.streamid.includes('nocreds') ? { status: 401 } : { status: 200, body: { allow: false } }));
  const { relay, port } = await startWebhookRelay(hook.url, { hold: false });
  t.after(async () => {
    await relay.stop();
    hook.server.close();
  });
  assert.equal(await rejectionOf(connectDecided(port, { streamid: 'publish:denied' })), 1403);
  assert.equal(await rejectionOf(connectDecided(port, { streamid: 'publish:nocreds' })), 1401);
});

test('a webhook that never answers is a 1403 after its timeout', async (t) => {
  const hook = await startWebhook(() => 'hang');
  const { relay, port } = await startWebhookRelay(hook.url, { timeoutMs: 300, hold: false });
  t.after(async () => {
    await relay.stop();
    hook.server.closeAllConnections();
    hook.server.close();
  });
  const first = await rejectionOf(SrtSocket.create({ streamid: 'publish:slow' }).connect('127.0.0.1', port));
  assert.equal(first, 1503);
  await until(() => hook.calls.length === 1, 'the webhook is asked');
  // Pending (1503) until the relay's 300 ms webhook timeout, then decided: 1403.
  assert.equal(await rejectionOf(connectDecided(port, { streamid: 'publish:slow' })), 1403);
  assert.equal(hook.calls.length, 1, 'the retries did not ask the webhook again');
});

test('the webhook renames the stream and sets the connection passphrase', async (t) => {
  const hook = await startWebhook((c) =>
    c.action === 'publish'
      ? { status: 200, body: { allow: true, stream: 'renamed', passphrase: 'per-connection-secret' } }
      : { status: 200, body: { allow: true } },
  );
  const { relay, port } = await startWebhookRelay(hook.url, { hold: false });
  t.after(async () => {
    await relay.stop();
    hook.server.close();
  });
  // Without the passphrase the webhook gave, the retry fails on the secret.
  const wrong = await rejectionOf(connectDecided(port, { streamid: 'publish:original', passphrase: 'not-the-secret' }));
  assert.equal(wrong, 10);
  const pub = await connectDecided(port, { streamid: 'publish:original2', passphrase: 'per-connection-secret' });
  t.after(() => pub.close());
  pub.send(new Uint8Array(1316));
  await until(() => relay.getStream('renamed')?.state === 'live', 'renamed goes live');
  assert.equal(relay.getStream('original2'), undefined);
});
