/**
 * Held admission (auth.hold, the default; docs/auth.md): with a webhook, a caller's first
 * connection is accepted and held off the stream until the webhook answers, so tools that do not
 * retry (a one-shot ffmpeg publish, an ffprobe play) succeed at their first try; a held caller
 * displaces no one and its data reaches nobody; a denial closes it and its retry gets the exact
 * code in the handshake. Real webhook (HTTP on loopback), real ffmpeg/ffprobe and SRT callers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SrtRejectedError } from '../src/errors.js';
import { SrtSocket } from '../src/srt/socket.js';
import { Gate } from '../src/srt/gate.js';
import { MODE_PUBLISH } from '../src/srt/constants.js';
import { WebhookAuth } from '../src/auth/webhook-auth.js';
import { pino } from 'pino';
import { rejectionOf, startWebhook, startWebhookRelay } from './helpers/webhook.js';
import { ffmpegFilePublisher, ffprobeFirstFrame, makeTsFile, srtUrl, waitLiveWhile } from './helpers/media.js';
import { waitFor, whenClosed } from './helpers/relay-harness.js';

for (const delayMs of [5, 200]) {
  test(`with a webhook answering in ${delayMs} ms, a one-shot ffmpeg publish and an ffprobe play succeed at their first try`, { timeout: 60_000 }, async (t) => {
    const hook = await startWebhook(() => ({ status: 200, body: { allow: true }, delayMs }));
    const { relay, port } = await startWebhookRelay(hook.url);
    t.after(async () => {
      await relay.stop();
      hook.server.close();
    });
    const file = await makeTsFile({ name: 'held-admission', seconds: 6, gop: 25 });
    // ffmpeg connects once: had the relay refused it (1503), it would have exited with an error.
    const ffmpeg = ffmpegFilePublisher(t, file, srtUrl(port, 'publish:cam'));
    await waitLiveWhile(relay, 'cam', ffmpeg);
    const { keyFrame, probe } = await ffprobeFirstFrame(t, srtUrl(port, 'read:cam'));
    assert.equal(keyFrame, 1, `ffprobe decoded a key frame at its first connection\n${probe.output()}`);
    assert.deepEqual(hook.calls.map((c) => c.action).sort(), ['play', 'publish'], 'each was asked once, and each first connection served');
  });
}

test('a held publisher displaces no one and its data reaches nobody; denied, it is closed and its retry gets 1403 in the handshake', { timeout: 60_000 }, async (t) => {
  let releaseB: ((a: { status: number; body?: unknown }) => void) | undefined;
  const hook = await startWebhook((c) => (c.streamid.includes('u=b') ? new Promise((resolve) => (releaseB = resolve)) : { status: 200, body: { allow: true } }));
  const { relay, port } = await startWebhookRelay(hook.url);
  t.after(async () => {
    releaseB?.({ status: 200, body: { allow: false } });
    await relay.stop();
    hook.server.close();
  });
  relay.putStream('cam', { source: 'push://', onPublisherConflict: 'replace' });
  const a = SrtSocket.create({ streamid: '#!::r=cam,m=publish,u=a', latency: 120 });
  t.after(() => a.close());
  await a.connect('127.0.0.1', port);
  const aTimer = setInterval(() => a.send(new Uint8Array(1316).fill(0xaa)), 5);
  t.after(() => clearInterval(aTimer));
  const live = await waitFor(() => relay.getStream('cam')?.publisher, 'a publishes cam');
  const viewer = SrtSocket.create({ streamid: '#!::r=cam,m=request,u=v', latency: 120 });
  t.after(() => viewer.close());
  await viewer.connect('127.0.0.1', port);
  const seen = { a: 0, b: 0 };
  const buf = new Uint8Array(1500);
  const drain = setInterval(() => {
    for (let n = viewer.recv(buf); n > 0; n = viewer.recv(buf)) seen[buf[0] === 0xbb ? 'b' : 'a']++;
  }, 5);
  t.after(() => clearInterval(drain));
  await waitFor(() => seen.a > 50, 'the viewer receives a');

  // b is accepted (held: the webhook has not answered) and sends, under "replace".
  const b = SrtSocket.create({ streamid: '#!::r=cam,m=publish,u=b', latency: 120 });
  t.after(() => b.close());
  await b.connect('127.0.0.1', port);
  const bClosed = whenClosed(b);
  const bTimer = setInterval(() => {
    if (!b.isClosed) b.send(new Uint8Array(1316).fill(0xbb));
  }, 5);
  t.after(() => clearInterval(bTimer));
  await waitFor(() => releaseB !== undefined, 'the webhook is asked about b');
  const before = seen.a;
  await waitFor(() => seen.a > before + 100, 'a keeps reaching the viewer while b is held');
  assert.equal(seen.b, 0, 'nothing b sent reached the viewer');
  assert.equal(relay.getStream('cam')?.publisher?.session, live.session, 'a is still the publisher');
  assert.equal(relay.listSessions().length, 2, 'a held caller is no session yet');

  releaseB!({ status: 200, body: { allow: false } });
  await bClosed.promise;
  assert.equal(relay.getStream('cam')?.publisher?.session, live.session, 'the denied b displaced no one');
  assert.equal(seen.b, 0);
  assert.equal(await rejectionOf(SrtSocket.create({ streamid: '#!::r=cam,m=publish,u=b', latency: 120 }).connect('127.0.0.1', port)), 1403, 'the retry is refused in its handshake with the cached code');
});

test('a held caller whose verdict sets a connection passphrase is closed; its retry with that passphrase publishes', { timeout: 30_000 }, async (t) => {
  const hook = await startWebhook(() => ({ status: 200, body: { allow: true, passphrase: 'per-connection-secret' } }));
  const { relay, port } = await startWebhookRelay(hook.url);
  t.after(async () => {
    await relay.stop();
    hook.server.close();
  });
  const first = SrtSocket.create({ streamid: 'publish:keyed', latency: 120 });
  t.after(() => first.close());
  try {
    await first.connect('127.0.0.1', port);
    await whenClosed(first).promise;
  } catch (e) {
    // The relay may close the held connection before the caller has seen its handshake end.
    if (!(e instanceof SrtRejectedError)) throw e;
  }
  assert.equal(hook.calls.length, 1, 'the webhook was asked about the first connection');
  assert.equal(relay.getStream('keyed')?.publisher, undefined);
  const retry = SrtSocket.create({ streamid: 'publish:keyed', latency: 120, passphrase: 'per-connection-secret' });
  t.after(() => retry.close());
  await retry.connect('127.0.0.1', port);
  const timer = setInterval(() => retry.send(new Uint8Array(1316).fill(7)), 10);
  t.after(() => clearInterval(timer));
  await waitFor(() => relay.getStream('keyed')?.publisher !== undefined, 'the retry publishes');
});

test('a caller decided once is not asked about again within cacheMs, whichever of its two paths (pending queue, hold) comes second', { timeout: 20_000 }, async (t) => {
  const hook = await startWebhook(() => ({ status: 200, body: { allow: true } }));
  const gate = Gate.create();
  const auth = new WebhookAuth({ gate, url: hook.url, timeoutMs: 2000, cacheMs: 5000, nodeId: 'test', logger: pino({ level: 'silent' }) });
  auth.start();
  t.after(() => {
    auth.stop();
    gate.destroy();
    hook.server.close();
  });
  const caller = { streamid: 'publish:once', host: '127.0.0.1', port: 40000, mode: MODE_PUBLISH, resource: 'once' };
  const first = await auth.hold(caller);
  assert.equal(first.code, 0);
  // The second path for the same handshake reaches JS after the first call has ended.
  const second = await auth.hold(caller);
  assert.deepEqual(second, first, 'the same verdict');
  assert.equal(hook.calls.length, 1, 'the webhook was asked once');
  // Another caller (another host) is asked about.
  await auth.hold({ ...caller, host: '127.0.0.2' });
  assert.equal(hook.calls.length, 2);
});
