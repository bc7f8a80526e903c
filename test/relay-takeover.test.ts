/**
 * Under onPublisherConflict "refuse", a publisher that has gone silent (its network vanished:
 * no shutdown reaches the relay) holds the stream only until takeoverAfterMs: then an encoder
 * that reconnects (new network, restart) takes the stream over instead of getting 1409 until
 * libsrt drops the old connection (its peer idle timeout, ~5 s). Viewers stay connected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createRelayMetrics } from '../src/api/metrics.js';
import { streamView } from '../src/api/views.js';
import type { SrtSocket } from '../src/srt/socket.js';
import { ImpairedLink } from './helpers/impair-proxy.js';
import { delay } from './helpers/srt-io.js';
import { connectFor, expectedPacket, pacedPublisher, publishWhenFree, rejectReason, sessionOf, startRelay, waitAttached, waitFor, waitLive } from './helpers/relay-harness.js';

const CONFLICT = 1409;

/** Log lines of the relay, parsed. */
function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

/** Per publisher tag: packets received, gaps in its sequence, payloads not as sent. */
function taggedReceiver(socket: SrtSocket): Map<number, { packets: number; gaps: number; corrupt: number; last: number }> {
  const byTag = new Map<number, { packets: number; gaps: number; corrupt: number; last: number }>();
  const buf = new Uint8Array(1500);
  const drain = (): void => {
    for (;;) {
      const n = socket.isClosed ? 0 : socket.recv(buf);
      if (n <= 0) return;
      const p = Buffer.from(buf.buffer, 0, n);
      const seq = p.readUInt32BE(0);
      const tag = p.readUInt32BE(4);
      let t = byTag.get(tag);
      if (t === undefined) byTag.set(tag, (t = { packets: 0, gaps: 0, corrupt: 0, last: seq - 1 }));
      if (seq !== t.last + 1) t.gaps++;
      t.last = seq;
      t.packets++;
      if (!expectedPacket(seq, tag).packet.equals(p)) t.corrupt++;
    }
  };
  socket.on({ readable: drain });
  return byTag;
}

test('a publisher gone silent is taken over after takeoverAfterMs by a reconnecting encoder, and viewers stay connected', { timeout: 60_000 }, async (t) => {
  const { logger, lines } = capture();
  const { relay, port } = await startRelay(t, { streams: { cam: { source: 'push://', takeoverAfterMs: 1500 } }, logger });
  // Publisher A reaches the relay through a link the test can cut: its network goes silent.
  const link = await ImpairedLink.open({ host: '127.0.0.1', port }, { loss: 0, delayMs: 0 });
  t.after(() => link.close());
  const a = await connectFor(t, link.port, { streamid: 'publish:cam' });
  await waitLive(relay, 'cam');
  const aSession = relay.listSessions().find((s) => s.kind === 'publisher')!.id;
  const viewer = await connectFor(t, port, { streamid: 'read:cam' });
  await waitAttached(relay, [await waitFor(() => sessionOf(relay, viewer)?.id, 'viewer listed')]);
  const rx = taggedReceiver(viewer);
  const pa = pacedPublisher(a, { pps: 500, tag: 1 });
  t.after(() => pa.stop());
  await waitFor(() => (rx.get(1)?.packets ?? 0) >= 200, 'the viewer receives A');

  link.set({ loss: 0, delayMs: 0, outage: true });
  // Quiet for less than takeoverAfterMs: the stream is still A's.
  assert.equal(await rejectReason(port, { streamid: 'publish:cam' }), CONFLICT, 'a second publisher while A has just gone quiet');
  // B (the encoder back on another network) gets in once A has been quiet for takeoverAfterMs.
  const { socket: b, refused } = await publishWhenFree(port, 'cam', 10_000);
  t.after(() => b.close());
  t.diagnostic(`B was refused ${refused} time(s) with 1409, then took the stream over`);
  // It got in by the takeover, not because libsrt dropped A for silence.
  // The handshake is decided natively; the supervisor registers (and logs) B just after: wait for it.
  await waitFor(
    () => lines.some((l) => l.msg === 'new publisher takes over from a publisher that had gone quiet' && l.replaced === aSession),
    'the relay logged the takeover of A',
    20_000,
  );
  assert.ok(lines.some((l) => l.msg === 'publisher sent no media for takeoverAfterMs: a new publisher may take the stream over' && l.session === aSession));
  await waitFor(() => !relay.listSessions().some((s) => s.id === aSession), 'A closed by the relay');
  const view = streamView(relay.getStream('cam')!, new Map());
  assert.equal(view.publisher?.quiet, false, 'the new publisher is not quiet');

  const pb = pacedPublisher(b, { pps: 500, tag: 2 });
  t.after(() => pb.stop());
  await waitFor(() => (rx.get(2)?.packets ?? 0) >= 300, `the same viewer receives B (${rx.get(2)?.packets ?? 0})`, 15_000);
  assert.equal(viewer.isClosed, false, 'the viewer stayed connected');
  const fromB = rx.get(2)!;
  assert.equal(fromB.gaps, 0, "B's packets arrive without gaps");
  t.diagnostic(`corrupt payloads: A ${rx.get(1)!.corrupt}, B ${fromB.corrupt}; tags seen ${JSON.stringify([...rx.keys()])}`);
  assert.equal(fromB.corrupt + rx.get(1)!.corrupt, 0, 'every payload as sent');
  // A third publisher is refused again: B sends media.
  assert.equal(await rejectReason(port, { streamid: 'publish:cam' }), CONFLICT, 'a publisher that sends media holds the stream');
});

test('takeoverAfterMs 0 keeps a silent publisher in charge until its connection ends; a publisher that pauses briefly and resumes is not taken over', { timeout: 60_000 }, async (t) => {
  const { relay, port } = await startRelay(t, { streams: { held: { source: 'push://', takeoverAfterMs: 0 }, paused: { source: 'push://', takeoverAfterMs: 1500 } } });
  const link = await ImpairedLink.open({ host: '127.0.0.1', port }, { loss: 0, delayMs: 0 });
  t.after(() => link.close());
  const a = await connectFor(t, link.port, { streamid: 'publish:held' });
  await waitLive(relay, 'held');
  const pa = pacedPublisher(a, { pps: 200, tag: 1 });
  t.after(() => pa.stop());
  await delay(300);
  link.set({ loss: 0, delayMs: 0, outage: true });
  // Quiet for 2 s, well past what takeoverAfterMs would allow, yet the stream is A's.
  await delay(2000);
  assert.equal(relay.getStream('held')?.publisherStalled, false);
  assert.equal(await rejectReason(port, { streamid: 'publish:held' }), CONFLICT, 'with takeoverAfterMs 0 a silent publisher holds the stream');

  // A publisher that stops sending for a moment and resumes is marked quiet, then not.
  const c = await connectFor(t, port, { streamid: 'publish:paused' });
  await waitLive(relay, 'paused');
  const pc = pacedPublisher(c, { pps: 200, tag: 3 });
  await delay(300);
  await pc.stop();
  await waitFor(() => relay.getStream('paused')?.publisherStalled === true, 'the paused publisher marked quiet', 5_000);
  const metrics = createRelayMetrics(relay, { defaultMetrics: false });
  t.after(() => metrics.close());
  assert.match(await metrics.metrics(), /^srt_relay_stream_publisher_quiet\{stream="paused"\} 1$/m, 'the quiet gauge says so');
  const resumed = pacedPublisher(c, { pps: 200, tag: 4 });
  t.after(() => resumed.stop());
  await waitFor(() => relay.getStream('paused')?.publisherStalled === false, 'marked sending again', 5_000);
  assert.match(await metrics.metrics(), /^srt_relay_stream_publisher_quiet\{stream="paused"\} 0$/m);
  assert.equal(await rejectReason(port, { streamid: 'publish:paused' }), CONFLICT, 'once it sends again it holds the stream');
});
