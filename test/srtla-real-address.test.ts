/**
 * A bonded (SRTLA) caller is seen by its real address, not the node's own group socket on
 * 127.0.0.1: the session's peer, the webhook's remoteAddr, the per-host limits, the per-link
 * state in GET /api/v1/sessions/:id and /metrics, and the log lines of links coming and going.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Relay } from '../src/supervisor/relay.js';
import { SrtlaSender } from './helpers/srtla-sender.js';
import { relayOptions, serveApi, waitFor, waitLive, pacedPublisher } from './helpers/relay-harness.js';
import { freeUdpPort } from './helpers/free-port.js';
import { capturingLogger } from './helpers/log-capture.js';
import { startWebhook, connectDecided } from './helpers/webhook.js';

interface SessionBody {
  id: number;
  kind: string;
  stream: string;
  peer: string;
  srtla: null | { group: number; via: string; links: Array<{ slot: number; address: string; packets: number; bytes: number; share: number; srtlaAcks: number; lastHeard: string; registeredSince: string }> };
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  return (await res.json()) as T;
}

test('a bonded publisher is its first link (127.0.0.2) to the webhook, GET /api/v1/sessions, the per-link API and /metrics; links joining are logged with stream and session', { timeout: 90_000 }, async (t) => {
  const hook = await startWebhook(() => ({ status: 200, body: { allow: true } }));
  t.after(() => hook.server.close());
  const port = await freeUdpPort();
  const srtlaPort = await freeUdpPort();
  const log = capturingLogger('info');
  const relay = new Relay(
    relayOptions(
      port,
      {
        workers: 1,
        logger: log.logger,
        auth: { webhook: hook.url, timeoutMs: 2000, cacheMs: 5000 },
        limits: { maxSessionsPerHost: 1, exemptHosts: ['127.0.0.1'] },
        srtla: { port: srtlaPort, host: '127.0.0.1', target: { host: '127.0.0.1', port } },
      },
      { latency: 200, lossmaxttl: 40 },
    ),
  );
  const base = await serveApi(t, relay);
  const sender = await SrtlaSender.start({ receiver: { host: '127.0.0.1', port: srtlaPort }, links: [{ bind: '127.0.0.2' }, { bind: '127.0.0.3' }] });
  t.after(() => sender.close());
  await waitFor(() => sender.registeredLinks() === 2, '2 links registered');
  const firstLink = `127.0.0.2:${sender.linkStates()[0]!.localPort}`;

  const pub = await connectDecided(sender.port, { streamid: 'publish:bonded', latency: 1000 });
  t.after(() => pub.close());
  await waitLive(relay, 'bonded');
  const p = pacedPublisher(pub, { pps: 200 });
  t.after(() => p.stop());

  const publishCall = hook.calls.find((c) => c.action === 'publish');
  assert.equal(publishCall?.remoteAddr, firstLink, "the webhook's remoteAddr is the bonded sender's first link");

  const { sessions } = await getJson<{ sessions: SessionBody[] }>(`${base}/api/v1/sessions`);
  const session = sessions.find((s) => s.kind === 'publisher' && s.stream === 'bonded');
  assert.equal(session?.peer, firstLink, 'GET /api/v1/sessions shows the first link as the peer');
  assert.match(session.srtla?.via ?? '', /^127\.0\.0\.1:\d+$/, 'via names the node’s group socket');

  await waitFor(async () => {
    const one = await getJson<SessionBody>(`${base}/api/v1/sessions/${session.id}`);
    return one.srtla !== null && one.srtla.links.length === 2 && one.srtla.links.every((l) => l.packets > 0) ? one : undefined;
  }, 'both links carried packets');
  const one = await getJson<SessionBody>(`${base}/api/v1/sessions/${session.id}`);
  const links = one.srtla!.links;
  assert.deepEqual(links.map((l) => l.address.split(':')[0]).sort(), ['127.0.0.2', '127.0.0.3']);
  assert.deepEqual(links.map((l) => l.slot).sort(), [0, 1]);
  for (const l of links) {
    assert.ok(l.bytes >= l.packets * 16, `bytes counted: ${JSON.stringify(l)}`);
    assert.ok(l.share > 0 && l.share <= 1, `share in (0, 1]: ${JSON.stringify(l)}`);
    assert.ok(!Number.isNaN(Date.parse(l.lastHeard)) && !Number.isNaN(Date.parse(l.registeredSince)));
  }

  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.ok(metrics.includes(`srt_relay_srtla_link_info{session="${session.id}",stream="bonded",link="0",address="${firstLink}"} 1`), 'link info gauge with the address');
  assert.match(metrics, new RegExp(`srt_relay_srtla_link_received_packets_total\\{session="${session.id}",stream="bonded",link="1"\\} [1-9]`));
  assert.match(metrics, new RegExp(`srt_relay_srtla_link_share_ratio\\{session="${session.id}",stream="bonded",link="0"\\} `));

  // A link joining later is logged with the stream, the session and its address.
  await sender.addLink({ bind: '127.0.0.4' });
  await waitFor(() => sender.registeredLinks() === 3, 'the third link registered');
  const added = `127.0.0.4:${sender.linkStates()[2]!.localPort}`;
  await waitFor(() => log.find(/srtla link registered/, { stream: 'bonded', session: session.id, link: added }).length === 1, 'the new link logged with stream and session');
  // …and one leaving.
  const gone = links.find((l) => l.address.startsWith('127.0.0.3:'))!.address;
  sender.closeLink(1);
  await waitFor(() => log.find(/srtla link removed/, { stream: 'bonded', session: session.id, link: gone }).length === 1, 'the removed link logged with stream and session', 20_000);
});

test('limits.maxSessionsPerHost counts a bonded sender by its real address: a second group from 127.0.0.2 gets REG_ERR, one from 127.0.0.5 registers', { timeout: 60_000 }, async (t) => {
  const port = await freeUdpPort();
  const srtlaPort = await freeUdpPort();
  const relay = new Relay(
    relayOptions(port, { workers: 1, limits: { maxSessionsPerHost: 1, exemptHosts: ['127.0.0.1'] }, srtla: { port: srtlaPort, host: '127.0.0.1', target: { host: '127.0.0.1', port } } }, { latency: 200, lossmaxttl: 40 }),
  );
  await serveApi(t, relay);
  const receiver = { host: '127.0.0.1', port: srtlaPort };
  const a = await SrtlaSender.start({ receiver, links: [{ bind: '127.0.0.2' }] });
  t.after(() => a.close());
  await waitFor(() => a.registeredLinks() === 1, 'the first group registered');
  const b = await SrtlaSender.start({ receiver, links: [{ bind: '127.0.0.2' }] });
  t.after(() => b.close());
  const c = await SrtlaSender.start({ receiver, links: [{ bind: '127.0.0.5' }] });
  t.after(() => c.close());
  await waitFor(() => c.registeredLinks() === 1, 'a group from another host registered');
  await waitFor(() => b.linkStates()[0]!.refusals.err >= 1, 'the second group from 127.0.0.2 got REG_ERR');
  assert.equal(b.groupsRegistered, 0, 'no group was created for it');
  assert.equal(relay.srtla!.counters.groupsCreated, 2);
});
