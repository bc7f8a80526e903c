/** SRTLA bonded ingest end to end: a bonded sender over 3 loopback links publishes through SrtlaServer into a Relay; a viewer on the normal port gets every byte. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SrtlaSender } from './helpers/srtla-sender.js';
import { relayWithSrtla, attachedViewer } from './helpers/srtla-relay.js';
import { connectFor, waitFor, waitLive, pacedPublisher, countingReceiver } from './helpers/relay-harness.js';

test('a bonded sender over 3 impaired links publishes; a viewer on the normal port receives every packet in order', { timeout: 90_000 }, async (t) => {
  const { relay, port, srtla, receiver } = await relayWithSrtla(t, 3000);
  const sender = await SrtlaSender.start({
    receiver,
    links: [
      { bind: '127.0.0.1', impairment: { loss: 0.02, delayMs: 10 } },
      { bind: '127.0.0.2', impairment: { loss: 0.05, delayMs: 30 } },
      { bind: '127.0.0.3', impairment: { loss: 0, delayMs: 60 } },
    ],
  });
  t.after(() => sender.close());
  await waitFor(() => sender.registeredLinks() === 3, '3 links registered');
  const pub = await connectFor(t, sender.port, { streamid: 'publish:bonded', latency: 2000 });
  await waitLive(relay, 'bonded');
  const viewer = await attachedViewer(t, relay, port, 'bonded');
  const rx = countingReceiver(viewer);
  const p = pacedPublisher(pub, { pps: 300, count: 1500 });
  await waitFor(() => rx.packets >= 1500, 'viewer got 1500 packets', 60_000);
  await p.stop();
  assert.equal(rx.discontinuities, 0);
  assert.equal(rx.corrupt, 0);
  assert.equal(rx.firstSeq, 0);
  assert.equal(rx.lastSeq, 1499);
  const g = srtla.stats();
  assert.equal(g.length, 1);
  assert.equal(g[0]!.links.length, 3);
  for (const l of g[0]!.links) assert.ok(l.packets > 0, `every link carried packets: ${JSON.stringify(l)}`);
  for (const s of sender.linkStates()) assert.ok(s.srtlaAcks > 0, `link ${s.index} got SRTLA ACKs`);
});
