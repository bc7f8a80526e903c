/** A bonded uplink losing one link mid-stream and gaining another: nothing lost, nobody reconnects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SrtlaSender } from './helpers/srtla-sender.js';
import { relayWithSrtla, attachedViewer } from './helpers/srtla-relay.js';
import { connectFor, waitFor, waitLive, pacedPublisher, countingReceiver } from './helpers/relay-harness.js';

test('one link cut mid-stream and another added: the viewer gets every packet in order and neither side reconnects', { timeout: 120_000 }, async (t) => {
  const { relay, port, srtla, receiver } = await relayWithSrtla(t, 2000);
  const sender = await SrtlaSender.start({
    receiver,
    links: [
      { bind: '127.0.0.1', impairment: { loss: 0.02, delayMs: 10 } },
      { bind: '127.0.0.2', impairment: { loss: 0.02, delayMs: 30 } },
      { bind: '127.0.0.3', impairment: { loss: 0, delayMs: 60 } },
    ],
  });
  t.after(() => sender.close());
  await waitFor(() => sender.registeredLinks() === 3, '3 links registered');
  const pub = await connectFor(t, sender.port, { streamid: 'publish:cut', latency: 2000 });
  await waitLive(relay, 'cut');
  const publisherId = relay.getStream('cut')?.publisher?.session;
  assert.ok(publisherId !== undefined);
  const viewer = await attachedViewer(t, relay, port, 'cut');
  const rx = countingReceiver(viewer);
  // 3000 packets in ~6.7 s: the cut after 600 (~1.3 s), the link dropped 2 s later, then the new one.
  const p = pacedPublisher(pub, { pps: 450, count: 3000 });
  await waitFor(() => rx.packets >= 600, '600 packets before the cut', 30_000);
  sender.proxyOf(1)!.set({ loss: 0, delayMs: 30, outage: true });
  await waitFor(() => srtla.counters.linksRemoved >= 1, 'the cut link removed by the receiver', 20_000);
  await sender.addLink({ bind: '127.0.0.4', impairment: { loss: 0.01, delayMs: 20 } });
  await waitFor(() => srtla.stats()[0]?.links.some((l) => l.address === '127.0.0.1' && l.packets > 0 && l.registeredAt > Date.now() - 60_000 && srtla.stats()[0]!.links.length === 3), 'a third link again', 20_000);
  await waitFor(() => rx.packets >= 3000, 'viewer got 3000 packets', 60_000);
  await p.stop();
  assert.equal(rx.discontinuities, 0);
  assert.equal(rx.corrupt, 0);
  assert.equal(rx.firstSeq, 0);
  assert.equal(rx.lastSeq, 2999);
  assert.equal(rx.closed, false, 'the viewer stayed connected');
  assert.equal(relay.getStream('cut')?.publisher?.session, publisherId, 'the publisher session never changed');
  assert.ok(sender.linkStates()[3]!.sent > 0, 'the added link carried packets');
});
