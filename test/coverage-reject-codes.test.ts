/**
 * Reject codes the docs promise, through a real in-process node and real SRT callers
 * (docs/auth.md "Reject codes a caller can read", docs/config.md "limits" and "srt.ports").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freeUdpPort } from './helpers/free-port.js';
import { startWebhook } from './helpers/webhook.js';
import { rejectReason, startRelay, connectFor, waitLive } from './helpers/relay-harness.js';

test('docs/auth.md: 1400 for a stream id naming no valid stream (space, "live//cam", 201 characters), and the webhook is never asked', { timeout: 30_000 }, async (t) => {
  const hook = await startWebhook(() => ({ status: 200, body: { allow: true } }));
  t.after(() => hook.server.close());
  const { port } = await startRelay(t, { auth: { webhook: hook.url, timeoutMs: 2000, cacheMs: 5000 } });
  for (const sid of ['publish:bad name', 'publish:live//cam', `publish:${'a'.repeat(201)}`, 'read:/live']) {
    assert.equal(await rejectReason(port, { streamid: sid }), 1400, `reject code for streamid ${JSON.stringify(sid.slice(0, 40))}`);
  }
  assert.deepEqual(hook.calls, [], 'the webhook recorded no call for invalid names');
});

test('docs/auth.md: 1405 for a publish on an outgoing port and a play on an incoming port', { timeout: 30_000 }, async (t) => {
  const inPort = await freeUdpPort();
  const outPort = await freeUdpPort();
  const { relay } = await startRelay(t, {
    ports: [
      { port: inPort, host: '127.0.0.1', direction: 'incoming', params: { latency: 200 }, reusePort: 1 },
      { port: outPort, host: '127.0.0.1', direction: 'outgoing', params: { latency: 200 }, reusePort: 1 },
    ],
  });
  assert.equal(await rejectReason(outPort, { streamid: 'publish:cam' }), 1405, 'publish on the outgoing port');
  // With cam live, so that 1404 (not live) cannot be the answer.
  const pub = await connectFor(t, inPort, { streamid: 'publish:cam' });
  pub.send(new Uint8Array(1316));
  await waitLive(relay, 'cam');
  assert.equal(await rejectReason(inPort, { streamid: 'read:cam' }), 1405, 'play of a live stream on the incoming port');
});

test('docs/config.md limits.maxStreams: a publish that would make one more stream gets 1503', { timeout: 30_000 }, async (t) => {
  const { relay, port } = await startRelay(t, { limits: { maxStreams: 1 } });
  const first = await connectFor(t, port, { streamid: 'publish:one' });
  first.send(new Uint8Array(1316));
  await waitLive(relay, 'one');
  assert.equal(await rejectReason(port, { streamid: 'publish:two' }), 1503);
});
