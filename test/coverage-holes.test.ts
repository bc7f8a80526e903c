/**
 * Coverage holes of issue 18, closed with real peers: the auth webhook on a 5xx and on invalid
 * JSON, on play, and its cache expiry (`cacheMs`); `join=live`; the time-shift forms.
 * Every wait is for an observable event (a decision, a webhook call, a packet), never a sleep.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SrtSocket } from '../src/srt/socket.js';
import { SrtRejectedError } from '../src/errors.js';
import { connectDecided, rejectionOf, startWebhook, startWebhookRelay, type Call } from './helpers/webhook.js';
import { connectFor, startRelay as startHarnessRelay, waitFor, waitLive } from './helpers/relay-harness.js';
import type { AfterHook } from './helpers/processes.js';
import { annexB, H264_AUD, H264_PPS, h264Slice, h264Sps, patSection, pmtSection, TsWriter } from './helpers/ts-build.js';

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

const VIDEO_PID = 0x100;
const SEQ_PID = 0x1ff0;
/** One key frame every KF messages; at PPS messages per second. */
const KF = 100;
const PPS = 100;

/**
 * Message `n` of the stream (7 TS packets = 1316 bytes): PAT and PMT before a key frame, one
 * video PES (an IDR picture with SPS/PPS every KF messages, else a P slice), then a packet on
 * SEQ_PID carrying n, then null packets. The number comes after the video PES, so a keyframe join
 * (which starts a slot at its key frame's first packet) still delivers it.
 */
function tsMessage(w: TsWriter, n: number): Buffer {
  const start = w.packets.length;
  const key = n % KF === 0;
  if (key) {
    w.psi(0, patSection([{ number: 1, pmtPid: 0x1000 }]));
    w.psi(0x1000, pmtSection(1, VIDEO_PID, [{ type: 0x1b, pid: VIDEO_PID }]));
  }
  const es = key ? annexB([H264_AUD, h264Sps({ profile: 100, widthMbs: 120, heightMapUnits: 68 }), H264_PPS, h264Slice(5, 7)]) : annexB([H264_AUD, h264Slice(1, 5)]);
  w.pes(VIDEO_PID, 0xe0, es, { pts: 90_000 + n * 900, pcr: (1 + n / PPS) * 27e6, ...(key ? { rai: true } : {}) });
  const seq = new Uint8Array(184);
  new DataView(seq.buffer).setUint32(0, n);
  w.packet(SEQ_PID, { payload: seq });
  while (w.packets.length - start < 7) w.nullPacket();
  const msg = Buffer.concat(w.packets.slice(start));
  w.packets.length = 0;
  assert.equal(msg.length, 1316);
  return msg;
}

/** Publishes tsMessage(0), tsMessage(1), ... at PPS until the test ends; `sent` counts them. */
function tsPublisher(t: AfterHook, socket: SrtSocket): { readonly sent: number } {
  const w = new TsWriter();
  const started = performance.now();
  let sent = 0;
  let pending: Buffer | undefined;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) * PPS) / 1000) + 1;
    while (sent < due) {
      pending ??= tsMessage(w, sent);
      const r = socket.send(pending);
      if (r <= 0) break;
      pending = undefined;
      sent++;
    }
  }, 5);
  t.after(() => clearInterval(timer));
  return {
    get sent() {
      return sent;
    },
  };
}

/** The message numbers a viewer receives, in order (read from the SEQ_PID packets). */
function seqReceiver(socket: SrtSocket): number[] {
  const got: number[] = [];
  const buf = new Uint8Array(1500);
  const drain = (): void => {
    for (;;) {
      if (socket.isClosed) return;
      const n = socket.recv(buf);
      if (n <= 0) return;
      for (let p = 0; p + 188 <= n; p += 188) {
        if (buf[p] !== 0x47) continue;
        const pid = ((buf[p + 1]! & 0x1f) << 8) | buf[p + 2]!;
        if (pid === SEQ_PID) got.push(Buffer.from(buf.buffer, p + 4, 4).readUInt32BE(0));
      }
    }
  };
  socket.on({ readable: drain });
  drain();
  return got;
}

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
  const live = seqReceiver(await connectFor(t, port, { streamid: '#!::r=edge,m=request,join=live', latency: 120 }));
  const keyframeJoin = seqReceiver(await connectFor(t, port, { streamid: '#!::r=edge,m=request', latency: 120 }));
  await waitFor(() => live.length > 0 && keyframeJoin.length > 0, 'both viewers receive numbered messages', 20_000);
  const newestKeyframe = Math.floor(sentAtJoin / KF) * KF;
  t.diagnostic(`sent at join ${sentAtJoin}; join=live first ${live[0]}; default join first ${keyframeJoin[0]}`);
  assert.ok(live[0]! >= sentAtJoin - IN_FLIGHT, `join=live's first message ${live[0]} is at the live edge (sent ${sentAtJoin} at join)`);
  assert.notEqual(live[0]! % KF, 0, 'join=live did not start on a key frame message');
  // The control: the default join starts at the newest key frame, well behind the live edge.
  assert.equal(keyframeJoin[0], newestKeyframe, `the default join starts at the newest key frame ${newestKeyframe}`);
});

test('time-shift forms t=-500ms, t=-2m and t=-10 (seconds) are accepted and start at the key frame nearest that point', { timeout: 60_000 }, async (t) => {
  const { port, pub } = await liveTsStream(t, 'dvr');
  const sentAtJoin = await midGop(pub, 3 * KF);
  const firstOf = async (form: string): Promise<number> => {
    // join=live: without a parsed time shift the viewer would start at the live edge, off any key frame.
    const got = seqReceiver(await connectFor(t, port, { streamid: `#!::r=dvr,m=request,join=live,${form}`, latency: 120 }));
    await waitFor(() => got.length > 0, `the ${form} viewer receives numbered messages`, 20_000);
    return got[0]!;
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
