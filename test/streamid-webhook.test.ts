/**
 * The auth webhook is told the user and token a stream id carries: Haivision's standard keys
 * `u=` (user) and `s=` (session / token), MediaMTX's `publish:NAME:USER:PASS`; and the stream as
 * the port's dialect reads it (an SLS publisher domain is not part of the name).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectDecided, startWebhook, startWebhookRelay } from './helpers/webhook.js';

interface CallWithCreds {
  action: string;
  stream: string;
  streamid: string;
  user?: string;
  token?: string;
}

test('the webhook gets user and token from u=/s= and from publish:NAME:USER:PASS, and the dialect-read stream', { timeout: 30_000 }, async (t) => {
  const hook = await startWebhook(() => ({ status: 200, body: { allow: true } }));
  const { relay, port } = await startWebhookRelay(hook.url, { dialects: { domains: { 'uplive.sls.com': 'publish' } }, hold: false });
  t.after(async () => {
    await relay.stop();
    hook.server.close();
  });
  const ids = ['#!::u=alice,s=tok-1,r=cam1,m=publish', 'publish:cam2:bob:pw-2', 'uplive.sls.com/live/cam3'];
  for (const id of ids) {
    const s = await connectDecided(port, { streamid: id, latency: 120 });
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
