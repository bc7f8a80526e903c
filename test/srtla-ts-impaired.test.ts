/**
 * A real MPEG-TS (made by ffmpeg) published by a bonded sender over 3 impaired links from
 * 127.0.0.1, 127.0.0.2 and 127.0.0.3, one of them cut mid-stream and another added: a viewer on
 * the normal SRT port gets the file byte for byte (no TS packet lost: continuity counters
 * unbroken) and never reconnects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { SrtlaSender } from './helpers/srtla-sender.js';
import { relayWithSrtla, attachedViewer } from './helpers/srtla-relay.js';
import { connectFor, waitFor, waitLive } from './helpers/relay-harness.js';
import { collect, makeTsFile } from './helpers/media.js';
import { sendFile } from './helpers/srt-io.js';
import { checkContinuity } from './helpers/ts-stream.js';

test('an ffmpeg TS over 3 impaired links (127.0.0.1-3), one cut and one added mid-stream: the viewer gets it byte-exact, CC unbroken, without reconnecting', { timeout: 180_000 }, async (t) => {
  const file = await readFile(await makeTsFile({ name: 'srtla-ts', seconds: 12, size: '640x360' }));
  const { relay, port, srtla, receiver } = await relayWithSrtla(t, 2000);
  const sender = await SrtlaSender.start({
    receiver,
    links: [
      { bind: '127.0.0.1', impairment: { loss: 0.02, delayMs: 10 }, keepAddress: true },
      { bind: '127.0.0.2', impairment: { loss: 0.05, delayMs: 30, jitterMs: 5 }, keepAddress: true },
      { bind: '127.0.0.3', impairment: { loss: 0.01, delayMs: 60 }, keepAddress: true },
    ],
  });
  t.after(() => sender.close());
  await waitFor(() => sender.registeredLinks() === 3, '3 links registered');
  assert.deepEqual(srtla.stats()[0]!.links.map((l) => l.address).sort(), ['127.0.0.1', '127.0.0.2', '127.0.0.3'], 'the receiver sees each link from its own host');

  const pub = await connectFor(t, sender.port, { streamid: 'publish:bonded-ts', latency: 2000 });
  await waitLive(relay, 'bonded-ts');
  const publisher = relay.getStream('bonded-ts')?.publisher?.session;
  const viewer = await attachedViewer(t, relay, port, 'bonded-ts');
  const viewerSession = relay.listSessions().find((s) => s.kind === 'viewer' && s.stream === 'bonded-ts')?.id;
  const rx = collect(viewer);

  const messages = Math.ceil(file.length / 1316);
  // ~10 s of stream: the cut at 30 %, the receiver drops the link 2 s later, then the new link;
  // about half of the file is still to come when it carries packets.
  const pps = Math.ceil(messages / 10);
  const sending = sendFile(pub, file, { pps, timeoutMs: 60_000 });
  await waitFor(() => rx.bytes >= file.length * 0.3, '30 % of the file at the viewer', 30_000);
  sender.proxyOf(1)!.set({ loss: 0, delayMs: 30, outage: true });
  await waitFor(() => srtla.counters.linksRemoved >= 1, 'the cut link removed by the receiver', 20_000);
  assert.ok(rx.bytes < file.length, 'the cut happened mid-stream');
  await sender.addLink({ bind: '127.0.0.4', impairment: { loss: 0.02, delayMs: 20 }, keepAddress: true });
  await waitFor(() => srtla.stats()[0]?.links.some((l) => l.address === '127.0.0.4' && l.packets > 0), 'the added link carries packets', 20_000);
  assert.ok(rx.bytes < file.length, 'the link was added mid-stream');
  assert.equal(await sending, file.length);
  await waitFor(() => rx.bytes >= file.length, 'the whole file at the viewer', 30_000);

  const got = rx.data();
  assert.equal(got.length, file.length);
  const cc = checkContinuity(got);
  assert.deepEqual(cc.errors, [], 'no TS packet lost or reordered');
  assert.ok(got.equals(file), 'byte-exact');
  assert.equal(rx.closed, false, 'the viewer stayed connected');
  assert.equal(relay.listSessions().find((s) => s.kind === 'viewer' && s.stream === 'bonded-ts')?.id, viewerSession, 'the same viewer session throughout');
  assert.equal(relay.getStream('bonded-ts')?.publisher?.session, publisher, 'the same publisher session throughout');
  assert.deepEqual(srtla.stats()[0]!.links.map((l) => l.address).sort(), ['127.0.0.1', '127.0.0.3', '127.0.0.4']);
});
