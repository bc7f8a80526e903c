/**
 * Reject codes the docs promise, through a real in-process node and real SRT callers
 * (docs/auth.md "Reject codes a caller can read", docs/config.md "limits" and "srt.ports").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freeUdpPort } from './helpers/free-port.js';
import { connectDecided, startWebhook } from './helpers/webhook.js';
import { rejectReason, startRelay, connectFor, waitFor, waitLive } from './helpers/relay-harness.js';

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

test('docs/streams.md: a t= that is neither a time shift nor an access-control type (t=abc, t=, t=--5) is refused with 1400 in the handshake, before the webhook; t=-10s and t=stream play', { timeout: 30_000 }, async (t) => {
  const hook = await startWebhook(() => ({ status: 200, body: { allow: true } }));
  t.after(() => hook.server.close());
  const { relay, port } = await startRelay(t, { auth: { webhook: hook.url, timeoutMs: 2000, cacheMs: 5000 } });
  const pub = await connectDecided(port, { streamid: 'publish:dvr' });
  t.after(() => pub.close());
  const timer = setInterval(() => pub.send(new Uint8Array(1316).fill(7)), 10);
  t.after(() => clearInterval(timer));
  await waitLive(relay, 'dvr');
  const asked = hook.calls.length;
  for (const form of ['t=abc', 't=', 't=--5']) {
    assert.equal(await rejectReason(port, { streamid: `#!::r=dvr,m=request,${form}` }), 1400, `reject code for ${form}`);
  }
  assert.equal(hook.calls.length, asked, 'the webhook was not asked about the malformed ids');
  for (const form of ['t=-10s', 't=stream']) {
    const viewer = await connectDecided(port, { streamid: `#!::r=dvr,m=request,${form}` });
    t.after(() => viewer.close());
    const buf = new Uint8Array(1500);
    await waitFor(() => viewer.recv(buf) > 0, `the ${form} viewer receives`);
  }
});
