/**
 * Coverage holes of issue 18, closed with real peers: the auth webhook on a 5xx and on invalid
 * JSON, on play, and its cache expiry (`cacheMs`); `join=live`; the time-shift forms.
 * Every wait is for an observable event (a decision, a webhook call, a packet), never a sleep.
 * The numbered TS stream comes from helpers/numbered-ts.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SrtRejectedError } from '../src/errors.js';
import { connectDecided, rejectionOf, startWebhook, startWebhookRelay, type Call } from './helpers/webhook.js';
import { connectFor, startRelay as startHarnessRelay, waitFor, waitLive } from './helpers/relay-harness.js';
import type { AfterHook } from './helpers/processes.js';
import { KF, numberedReceiver, tsPublisher } from './helpers/numbered-ts.js';

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
  const { relay, port } = await startWebhookRelay(hook.url, { hold: false });
  t.after(async () => {
    await relay.stop();
    hook.server.close();
  });
  assert.equal(await rejectionOf(connectDecided(port, { streamid: 'publish:five-hundred' })), 1403);
  assert.ok(hook.calls() >= 1, 'the webhook was asked');
  assert.equal(relay.getStream('five-hundred')?.publisher, undefined);
});

test('a webhook answering invalid JSON refuses the caller with 1403 once decided', async (t) => {
  const hook = await rawWebhook(200, '{"allow": tru');
  const { relay, port } = await startWebhookRelay(hook.url, { hold: false });
  t.after(async () => {
    await relay.stop();
    hook.server.close();
  });
  assert.equal(await rejectionOf(connectDecided(port, { streamid: 'publish:bad-json' })), 1403);
  assert.ok(hook.calls() >= 1, 'the webhook was asked');
});

test('the webhook is asked on play with action play and the user, a denied play is refused with 1403, and publish:NAME:USER:PASS passes user and token', async (t) => {
  const hook = await startWebhook((c) => ({ status: 200, body: { allow: c.action === 'publish' || c.streamid.includes('u=viewer-ok') } }));
  const { relay, port } = await startWebhookRelay(hook.url, { hold: false });
  t.after(async () => {
    await relay.stop();
    hook.server.close();
  });
  const pub = await connectDecided(port, { streamid: 'publish:cam:alice:pw1' });
  t.after(() => pub.close());
  const published = hook.calls.find((c) => c.action === 'publish') as (Call & { user?: string; token?: string }) | undefined;
  assert.equal(published?.stream, 'cam');
  assert.equal(published?.user, 'alice');
  assert.equal(published?.token, 'pw1');
  const timer = setInterval(() => pub.send(new Uint8Array(1316).fill(7)), 10);
  t.after(() => clearInterval(timer));
  await waitFor(() => relay.getStream('cam')?.publisher !== undefined, 'cam live');

  assert.equal(await rejectionOf(connectDecided(port, { streamid: '#!::r=cam,m=request,u=viewer-no' })), 1403);
  const denied = hook.calls.find((c) => c.streamid.includes('viewer-no'));
  assert.ok(denied !== undefined);
  assert.equal(denied.action, 'play');
  assert.equal(denied.stream, 'cam');

  const viewer = await connectDecided(port, { streamid: '#!::r=cam,m=request,u=viewer-ok' });
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
  const { relay, port } = await startWebhookRelay(hook.url, { cacheMs: 300, hold: false });
  t.after(async () => {
    await relay.stop();
    hook.server.close();
  });
  const first = await connectDecided(port, { streamid: 'publish:cached' });
  first.close();
  assert.equal(hook.calls.length, 1, 'the retry that was let in was decided from the cache');
  // Once the cached answer expires, a new connection with the same id is a new question.
  await waitFor(async () => {
    try {
      (await connectDecided(port, { streamid: 'publish:cached' })).close();
    } catch (e) {
      // The previous publisher may still hold the stream for a moment (1409): ask again.
      if (!(e instanceof SrtRejectedError && e.reason === 1409)) throw e;
    }
    return hook.calls.length >= 2;
  }, 'the webhook asked a second time after cacheMs', 20_000);
  assert.equal(hook.calls.length, 2);
  assert.ok(hook.calls.every((c) => c.streamid === 'publish:cached' && c.action === 'publish'));
});

// ---- join=live and time shift, on an MPEG-TS stream whose messages carry their own number ----

/** Starts the relay and a TS publisher of `name`; resolves once the relay has seen key frames. */
async function liveTsStream(t: AfterHook, name: string): Promise<{ port: number; pub: { readonly sent: number } }> {
  const { relay, port } = await startHarnessRelay(t, {}, { latency: 120 });
  const socket = await connectFor(t, port, { streamid: `publish:${name}`, latency: 120 });
  const pub = tsPublisher(t, socket);
  await waitLive(relay, name);
  return { port, pub };
}

/** Waits until the publisher is between two key frames, far enough from both to tell them apart. */
async function midGop(pub: { readonly sent: number }, minSent: number): Promise<number> {
  return waitFor(() => pub.sent >= minSent && pub.sent % KF >= KF / 2 && pub.sent % KF < KF / 2 + 10 ? pub.sent : undefined, 'the publisher half way between key frames', 30_000);
}

/** Margin (messages) for what is still in flight at join time: the SRT latency (120 ms) at PPS, plus scheduling. */
const IN_FLIGHT = 30;

test('join=live starts at the live edge, not at the newest key frame as a default join does', { timeout: 60_000 }, async (t) => {
  const { port, pub } = await liveTsStream(t, 'edge');
  const sentAtJoin = await midGop(pub, 2 * KF);
  const live = numberedReceiver(await connectFor(t, port, { streamid: '#!::r=edge,m=request,join=live', latency: 120 }));
  const keyframeJoin = numberedReceiver(await connectFor(t, port, { streamid: '#!::r=edge,m=request', latency: 120 }));
  await waitFor(() => live.length > 0 && keyframeJoin.length > 0, 'both viewers receive numbered messages', 20_000);
  const newestKeyframe = Math.floor(sentAtJoin / KF) * KF;
  t.diagnostic(`sent at join ${sentAtJoin}; join=live first ${live[0]?.n}; default join first ${keyframeJoin[0]?.n}`);
  assert.ok(live[0]!.n >= sentAtJoin - IN_FLIGHT, `join=live's first message ${live[0]?.n} is at the live edge (sent ${sentAtJoin} at join)`);
  assert.notEqual(live[0]!.n % KF, 0, 'join=live did not start on a key frame message');
  // The control: the default join starts at the newest key frame, well behind the live edge.
  assert.equal(keyframeJoin[0]?.n, newestKeyframe, `the default join starts at the newest key frame ${newestKeyframe}`);
});

test('time-shift forms t=-500ms, t=-2m and t=-10 (seconds) are accepted and start at the key frame nearest that point', { timeout: 60_000 }, async (t) => {
  const { port, pub } = await liveTsStream(t, 'dvr');
  const sentAtJoin = await midGop(pub, 3 * KF);
  const firstOf = async (form: string): Promise<number> => {
    // join=live: without a parsed time shift the viewer would start at the live edge, off any key frame.
    const got = numberedReceiver(await connectFor(t, port, { streamid: `#!::r=dvr,m=request,join=live,${form}`, latency: 120 }));
    await waitFor(() => got.length > 0, `the ${form} viewer receives numbered messages`, 20_000);
    return got[0]!.n;
  };
  const ms500 = await firstOf('t=-500ms');
  const min2 = await firstOf('t=-2m');
  const sec10 = await firstOf('t=-10');
  t.diagnostic(`sent at join ${sentAtJoin}; t=-500ms → ${ms500}, t=-2m → ${min2}, t=-10 → ${sec10}`);
  // 2 minutes and 10 seconds are before the window's start (3+ s of stream): the oldest key frame, message 0.
  assert.equal(min2, 0, 't=-2m starts at the oldest key frame (read as minutes, not milliseconds)');
  assert.equal(sec10, 0, 't=-10 starts at the oldest key frame (a bare number is seconds)');
  // 500 ms back lies inside the window, after message 0's key frame: a later key frame, not the live edge.
  assert.equal(ms500 % KF, 0, `t=-500ms starts on a key frame message (got ${ms500})`);
  assert.ok(ms500 > 0 && ms500 <= sentAtJoin, `t=-500ms starts inside the window, after the oldest key frame (got ${ms500}, sent ${sentAtJoin})`);
});
