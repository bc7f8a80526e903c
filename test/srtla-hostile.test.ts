/** Hostile input on the SRTLA port never disturbs a group that streams. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { buildReg, SRTLA_TYPE_REG2 } from '../src/srtla/protocol.js';
import { SrtlaSender } from './helpers/srtla-sender.js';
import { relayWithSrtla, attachedViewer } from './helpers/srtla-relay.js';
import { connectFor, waitFor, waitLive, pacedPublisher, countingReceiver } from './helpers/relay-harness.js';

test('random datagrams, forged ids and a link joining a second group are refused while a group streams without loss', { timeout: 90_000 }, async (t) => {
  const { relay, port, srtla, receiver } = await relayWithSrtla(t);
  const a = await SrtlaSender.start({ receiver, links: [{ bind: '127.0.0.1' }, { bind: '127.0.0.2' }] });
  t.after(() => a.close());
  const b = await SrtlaSender.start({ receiver, links: [{ bind: '127.0.0.3' }] });
  t.after(() => b.close());
  await waitFor(() => a.registeredLinks() === 2 && b.registeredLinks() === 1, 'both groups registered');
  const pub = await connectFor(t, a.port, { streamid: 'publish:hostile', latency: 2000 });
  await waitLive(relay, 'hostile');
  const viewer = await attachedViewer(t, relay, port, 'hostile');
  const rx = countingReceiver(viewer);
  const p = pacedPublisher(pub, { pps: 300, count: 1500 });

  const attacker = createSocket('udp4');
  t.after(() => attacker.close());
  await new Promise<void>((r) => attacker.bind(0, '127.0.0.4', () => r()));
  for (let i = 0; i < 300; i++) attacker.send(randomBytes(1 + (i % 1400)), receiver.port, receiver.host);
  for (let i = 0; i < 20; i++) attacker.send(buildReg(SRTLA_TYPE_REG2, randomBytes(256)), receiver.port, receiver.host);
  // a link of group A asks to join group B
  a.sendRaw(1, buildReg(SRTLA_TYPE_REG2, b.groupId!));

  await waitFor(() => rx.packets >= 1500, 'viewer got 1500 packets', 60_000);
  await p.stop();
  assert.equal(rx.discontinuities, 0);
  assert.equal(rx.corrupt, 0);
  assert.equal(rx.lastSeq, 1499);
  assert.ok(srtla.counters.regNgp >= 20, `forged ids answered REG_NGP: ${JSON.stringify(srtla.counters)}`);
  assert.ok(srtla.counters.regNak >= 1, 'second-group join answered REG_NAK');
  assert.ok(a.linkStates()[1]!.refusals.nak >= 1, 'the link saw REG_NAK');
  const groups = srtla.stats();
  assert.equal(groups.length, 2);
  assert.deepEqual(groups.map((g) => g.links.length).sort(), [1, 2], 'no link moved between groups');
});
