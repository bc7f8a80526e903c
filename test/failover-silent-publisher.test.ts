/**
 * Issue 12 defect 7: one notion of "publisher gone" for takeover and failover. A publisher
 * that stays connected (SRT keepalives flow, so libsrt never drops it) but sends no media for
 * the stream's takeoverAfterMs fails over to the next source, exactly as it may be taken over;
 * a publisher that connects again switches back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Relay } from '../src/supervisor/relay.js';
import { collect, waitUntil, type Collector } from './helpers/media.js';
import { connectFor, pacedPublisher, PACKET, sessionOf, startRelay, waitAttached, waitFor, whenClosed } from './helpers/relay-harness.js';
import { listenBinding } from './helpers/srt-io.js';

/** Tags of the packets a viewer received (each message is one PACKET: [u32 seq][u32 tag]...). */
function tags(rx: Collector): number[] {
  const data = rx.data();
  const out: number[] = [];
  for (let o = 0; o + PACKET <= data.length; o += PACKET) out.push(data.readUInt32BE(o + 4));
  return out;
}

function countTag(rx: Collector, tag: number): number {
  return tags(rx).filter((x) => x === tag).length;
}

async function waitActive(relay: Relay, index: number, what: string): Promise<void> {
  await waitUntil(() => relay.sourcesOf('main')?.active === index, () => `${what} (sources: ${JSON.stringify(relay.sourcesOf('main'))})`, 20_000);
}

test('a publisher that stays connected but sends nothing fails over to the backup after takeoverAfterMs, and a reconnecting publisher switches back; the viewer stays', { timeout: 90_000 }, async (t) => {
  // The backup: an SRT listener the relay pulls from, sending packets tagged 2.
  const backup = listenBinding({ latency: 200 });
  t.after(() => backup.close());
  const pacers: Array<{ stop(): Promise<number> }> = [];
  t.after(async () => {
    for (const p of pacers) await p.stop();
  });
  void (async () => {
    for (;;) {
      const c = await backup.accepted().catch(() => undefined);
      if (c === undefined) return;
      pacers.push(pacedPublisher(c.socket, { pps: 100, tag: 2 }));
    }
  })();

  const { relay, port } = await startRelay(t, {
    streams: { main: { source: 'push://', sources: ['push://', `srt://127.0.0.1:${backup.port}?latency=200`], raw: true, takeoverAfterMs: 1000 } },
  });
  const viewerSocket = await connectFor(t, port, { streamid: 'read:main' });
  const rx = collect(viewerSocket);

  const first = await connectFor(t, port, { streamid: 'publish:main' });
  const firstClosed = whenClosed(first);
  const p1 = pacedPublisher(first, { pps: 100, tag: 1 });
  const viewerId = await waitFor(() => sessionOf(relay, viewerSocket)?.id, 'the viewer session is registered');
  await waitAttached(relay, [viewerId]);
  await waitUntil(() => countTag(rx, 1) >= 50, () => `the viewer receives the publisher (${rx.bytes} bytes)`, 20_000);
  await p1.stop(); // silent from now on; the connection stays up (keepalives)
  assert.equal(first.isClosed, false);

  await waitActive(relay, 1, 'the backup takes over from the silent publisher');
  await waitUntil(() => countTag(rx, 2) >= 50, () => `the viewer receives the backup (${countTag(rx, 2)} packets)`, 20_000);
  await waitUntil(() => firstClosed.closed, () => 'the relay closed the silent publisher so that it can reconnect', 10_000);

  // The encoder comes back: the better source wins again.
  const second = await connectFor(t, port, { streamid: 'publish:main' });
  const p3 = pacedPublisher(second, { pps: 100, tag: 3 });
  pacers.push(p3);
  await waitActive(relay, 0, 'the reconnected publisher switches back');
  await waitUntil(() => countTag(rx, 3) >= 50, () => `the viewer receives the reconnected publisher (${countTag(rx, 3)} packets)`, 20_000);
  assert.equal(rx.closed, false, 'the viewer stayed connected through both switches');
  // In order: the first publisher, then the backup, then the new publisher.
  const seen = tags(rx);
  assert.ok(seen.lastIndexOf(1) < seen.indexOf(3) && seen.indexOf(2) < seen.indexOf(3), 'switch order 1 → 2 → 3');
});
