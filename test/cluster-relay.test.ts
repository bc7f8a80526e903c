/**
 * The cluster end to end, with real parts on loopback: a redis-server, three srt-relay node
 * processes joined to it, and nginx (deploy/nginx/srt-lb.conf) balancing SRT over UDP in front of
 * them. ffmpeg publishes through nginx, viewers connect through nginx and land on every node.
 * The tests run in order on one cluster: streaming, conflicts, shared config, a Redis restart,
 * and finally the owner node killed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SrtSocket } from '../src/srt/socket.js';
import { ClusterNode } from './helpers/cluster-nodes.js';
import { collect, type Collector } from './helpers/media.js';
import { NginxUdp, nginxUnmetReason, rewriteDeployConfig } from './helpers/nginx-udp.js';
import { unmet } from './helpers/requirements.js';
import { spawnFor, type AfterHook, type Spawned } from './helpers/processes.js';
import { RedisServer } from './helpers/redis-server.js';
import { startWebhook } from './helpers/webhook.js';
import { ImpairedLink } from './helpers/impair-proxy.js';
import { countingReceiver, pacedPublisher, publishWhenFree, rejectReason, waitFor, whenClosed } from './helpers/relay-harness.js';
import { checkContinuity, pmtPidOf } from './helpers/ts-stream.js';
import { connectBinding, delay } from './helpers/srt-io.js';

// Outside CI a machine without nginx's stream module skips; with CI=true it fails (helpers/requirements.ts).
const skip = unmet(nginxUnmetReason());
const deployConfig = readFileSync(fileURLToPath(new URL('../../deploy/nginx/srt-lb.conf', import.meta.url)), 'utf8');

/** Cleanups of the shared cluster, run once after the last test. */
const cleanups: Array<() => unknown> = [];
const hook: AfterHook = { after: (fn) => void cleanups.push(fn) };
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

let redis: RedisServer;
let nodes: ClusterNode[] = [];
let lb: NginxUdp;
let dir: string;

interface Viewer {
  socket: SrtSocket;
  data: Collector;
  node: ClusterNode;
}
const viewers: Viewer[] = [];

before(async () => {
  if (skip !== false) return;
  dir = mkdtempSync(join(tmpdir(), 'srt-relay-cluster-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  redis = await RedisServer.start({ t: hook });
  // Short idle timeout of internal pulls, so the test can watch one being dropped.
  const config = join(dir, 'node.json');
  writeFileSync(config, JSON.stringify({ cluster: { idleTimeoutMs: 1500 } }));
  nodes = await Promise.all(['node-a', 'node-b', 'node-c'].map((id) => ClusterNode.start(hook, id, redis.url(), ['--config', config])));
  const upstreams = nodes.map((n) => `127.0.0.1:${n.srtPort}`);
  // The deploy config as shipped (max_fails=0: nginx never marks a node failed).
  lb = await NginxUdp.start({ upstreams, t: hook, streamBlock: (port, d) => rewriteDeployConfig(deployConfig, port, upstreams, d) });
  cleanups.push(() => {
    for (const v of viewers) v.socket.close();
  });
});

/** ffmpeg encoding live video, sending it to `url` and writing the very same TS bytes to `file` (tee muxer). */
function teePublisher(t: AfterHook, url: string, file: string, name: string): Spawned {
  return spawnFor(
    t,
    'ffmpeg',
    [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
      '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0', '-b:v', '800k',
      '-map', '0:v', '-f', 'tee', `[f=mpegts]${url}|[f=mpegts]${file}`,
    ],
    { name },
  );
}

function lbUrl(streamid: string): string {
  return `srt://127.0.0.1:${lb.port}?streamid=${streamid}`;
}

/** Sessions of `kind` per node, in node order. */
async function counts(kind: string, stream: string): Promise<number[]> {
  return Promise.all(nodes.map((n) => (n.alive ? n.count(kind, stream) : Promise.resolve(0))));
}

/** The node that holds `stream`'s lease, once one does. */
async function ownerOf(stream: string): Promise<ClusterNode> {
  return waitFor(async () => {
    for (const n of nodes) if (n.alive && (await n.cluster()).owned[stream] !== undefined) return n;
    return undefined;
  }, `a node owns '${stream}'`, 15_000);
}

/** Connects a viewer through nginx and finds out which node it landed on. */
async function viewerThroughLb(stream: string): Promise<Viewer> {
  const before = await counts('viewer', stream);
  const socket = await connectBinding(lb.port, { streamid: `read:${stream}`, latency: 120 });
  const data = collect(socket);
  const index = await waitFor(async () => {
    const now = await counts('viewer', stream);
    const i = now.findIndex((c, k) => c > before[k]!);
    return i < 0 ? undefined : i + 1;
  }, 'the viewer shows up on a node');
  const v = { socket, data, node: nodes[index - 1]! };
  viewers.push(v);
  return v;
}

/** The part of `got` after the first two messages (PSI and the key frame's partial message) sits in `sent` as one piece. */
function assertSliceOf(got: Buffer, sent: Buffer, what: string): number {
  const skip = 2 * 1316;
  assert.ok(got.length > skip + 8 * 1316, `${what}: only ${got.length} bytes received`);
  const probe = got.subarray(skip, skip + 8 * 1316);
  const at = sent.indexOf(probe);
  assert.ok(at >= 0, `${what}: its bytes are not in the published stream`);
  const rest = got.subarray(skip);
  const n = Math.min(rest.length, sent.length - at);
  assert.ok(n > 0);
  assert.ok(rest.subarray(0, n).equals(sent.subarray(at, at + n)), `${what}: differs from the published stream after offset ${at}`);
  return n;
}

let publisher: Spawned;
let owner: ClusterNode;
const teeFile = (): string => join(dir, 'published.ts');

test('ffmpeg publishes through nginx; viewers through nginx on all three nodes get the stream byte-exact', { skip, timeout: 120_000 }, async (t) => {
  publisher = teePublisher(hook, lbUrl('publish:cam'), teeFile(), 'ffmpeg publisher');
  owner = await ownerOf('cam');
  t.diagnostic(`publisher landed on ${owner.id}`);
  for (const n of nodes) {
    await waitFor(async () => (await n.cluster()).owned['cam'] !== undefined || (await n.cluster()).remote['cam'] === owner.id, `${n.id} knows who owns cam`);
  }
  // Viewers until every node serves at least two (nginx hashes each flow's source port).
  for (let i = 0; i < 40; i++) {
    const per = nodes.map((n) => viewers.filter((v) => v.node === n).length);
    if (per.every((c) => c >= 2)) break;
    await viewerThroughLb('cam');
  }
  const per = nodes.map((n) => viewers.filter((v) => v.node === n).length);
  t.diagnostic(`viewers per node: ${per.join(', ')}`);
  assert.ok(per.every((c) => c >= 2), `viewers per node ${per.join(', ')}: nginx never sent one to some node`);
  await waitFor(() => viewers.every((v) => v.data.bytes > 200_000), 'every viewer receives the stream', 30_000);
  // Stop collecting, then compare with what ffmpeg sent (it keeps running for the next tests).
  const got = viewers.map((v) => v.data.data());
  await delay(1500); // the tee file is written as ffmpeg goes: let it get past what the viewers hold
  const sent = readFileSync(teeFile());
  got.forEach((g, i) => {
    const n = assertSliceOf(g, sent, `viewer ${i} on ${viewers[i]!.node.id}`);
    const cc = checkContinuity(g.subarray(2 * 1316));
    assert.equal(cc.errors.length, 0, `viewer ${i}: continuity errors ${JSON.stringify(cc.errors.slice(0, 5))}`);
    t.diagnostic(`viewer ${i} on ${viewers[i]!.node.id}: ${n} bytes identical to the published stream`);
  });
});

test('one internal pull per node per stream, however many viewers the node has', { skip, timeout: 60_000 }, async () => {
  const pulls = await counts('cluster-pull', 'cam');
  const served = await counts('cluster-serve', 'cam');
  nodes.forEach((n, i) => {
    if (n === owner) {
      assert.equal(pulls[i], 0, `the owner ${n.id} pulls nothing`);
      assert.equal(served[i], nodes.length - 1, `the owner serves one pull per other node (${served[i]})`);
    } else {
      assert.equal(pulls[i], 1, `${n.id} has ${viewers.filter((v) => v.node === n).length} viewers and ${pulls[i]} pulls`);
    }
  });
});

test('a publish of the live stream on another node is rejected with 1409', { skip, timeout: 30_000 }, async () => {
  for (const n of nodes) {
    if (n === owner) continue;
    assert.equal(await rejectReason(n.srtPort, { streamid: 'publish:cam' }), 1409, `publish on ${n.id}`);
  }
});

test('a viewer of a stream live nowhere gets 1404 on every node', { skip, timeout: 30_000 }, async () => {
  for (const n of nodes) assert.equal(await rejectReason(n.srtPort, { streamid: 'read:nowhere' }), 1404, n.id);
});

test('onPublisherConflict replace moves a stream to the new publisher\'s node; viewers elsewhere keep receiving; an idle pull is dropped', { skip, timeout: 60_000 }, async (t) => {
  const [x, y, z] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  const put = await x.send('PUT', '/api/v1/streams/moving', { source: 'push://', onPublisherConflict: 'replace' });
  assert.equal(put.status, 201, JSON.stringify(put.json));
  for (const n of nodes) await waitFor(async () => (await fetch(`http://127.0.0.1:${n.apiPort}/api/v1/streams/moving`)).status === 200, `'moving' configured on ${n.id}`);
  const firstSock = await connectBinding(x.srtPort, { streamid: 'publish:moving', latency: 120 });
  cleanups.push(() => firstSock.close());
  const first = pacedPublisher(firstSock, { pps: 300, tag: 1 });
  cleanups.push(() => first.stop());
  await waitFor(async () => (await x.cluster()).owned['moving'] !== undefined, `${x.id} owns 'moving'`);
  await waitFor(async () => (await y.cluster()).remote['moving'] === x.id, `${y.id} routes 'moving' to ${x.id}`);
  const viewerSock = await connectBinding(y.srtPort, { streamid: 'read:moving', latency: 120 });
  cleanups.push(() => viewerSock.close());
  const viewer = countingReceiver(viewerSock, 1);
  await waitFor(() => viewer.packets > 100, `the viewer on ${y.id} receives (pulled from ${x.id})`);
  const firstClosed = whenClosed(firstSock);

  // A second publisher of the same stream on y takes it over (replace).
  const secondSock = await connectBinding(y.srtPort, { streamid: 'publish:moving', latency: 120 });
  cleanups.push(() => secondSock.close());
  const second = pacedPublisher(secondSock, { pps: 300, tag: 1 });
  cleanups.push(() => second.stop());
  await waitFor(async () => (await y.cluster()).owned['moving'] !== undefined, `${y.id} owns 'moving' now`);
  await waitFor(() => firstClosed.closed, `${x.id} closed the replaced publisher`);
  await waitFor(async () => (await x.cluster()).remote['moving'] === y.id, `${x.id} routes 'moving' to ${y.id}`);
  const mark = viewer.packets;
  await waitFor(() => viewer.packets > mark + 200, 'the viewer keeps receiving from the new publisher');
  assert.equal(viewer.closed, false);

  // A viewer on z starts z's pull from y; after it leaves, the pull stops after idleTimeoutMs.
  const zViewer = await connectBinding(z.srtPort, { streamid: 'read:moving', latency: 120 });
  const zc = countingReceiver(zViewer, 1);
  await waitFor(() => zc.packets > 50, `the viewer on ${z.id} receives`);
  assert.equal(await z.count('cluster-pull', 'moving'), 1);
  zViewer.close();
  await waitFor(async () => (await z.count('cluster-pull', 'moving')) === 0, `${z.id} drops its idle pull`, 15_000);
  t.diagnostic(`replace: ${x.id} → ${y.id}; the viewer on ${y.id} never reconnected`);
  await second.stop();
  await first.stop();
});

test('under refuse, a publisher gone quiet on one node is taken over by an encoder reconnecting to another node; viewers elsewhere keep receiving', { skip, timeout: 60_000 }, async (t) => {
  const [x, y, z] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  const put = await x.send('PUT', '/api/v1/streams/quietcam', { source: 'push://', takeoverAfterMs: 1500 });
  assert.equal(put.status, 201, JSON.stringify(put.json));
  for (const n of nodes) await waitFor(async () => (await fetch(`http://127.0.0.1:${n.apiPort}/api/v1/streams/quietcam`)).status === 200, `'quietcam' configured on ${n.id}`);
  // The first encoder reaches x through a link the test can cut: its network goes silent.
  const link = await ImpairedLink.open({ host: '127.0.0.1', port: x.srtPort }, { loss: 0, delayMs: 0 });
  cleanups.push(() => link.close());
  const firstSock = await connectBinding(link.port, { streamid: 'publish:quietcam', latency: 120 });
  cleanups.push(() => firstSock.close());
  const first = pacedPublisher(firstSock, { pps: 300, tag: 1 });
  cleanups.push(() => first.stop());
  await waitFor(async () => (await x.cluster()).owned['quietcam'] !== undefined, `${x.id} owns 'quietcam'`);
  await waitFor(async () => (await z.cluster()).remote['quietcam'] === x.id, `${z.id} routes 'quietcam' to ${x.id}`);
  const viewerSock = await connectBinding(z.srtPort, { streamid: 'read:quietcam', latency: 120 });
  cleanups.push(() => viewerSock.close());
  const viewer = countingReceiver(viewerSock, 1);
  await waitFor(() => viewer.packets > 100, `the viewer on ${z.id} receives (pulled from ${x.id})`);
  await waitFor(async () => (await y.cluster()).remote['quietcam'] === x.id, `${y.id} routes 'quietcam' to ${x.id}`);
  assert.equal(await rejectReason(y.srtPort, { streamid: 'publish:quietcam' }), 1409, 'while the first encoder sends, the stream is its own cluster-wide');

  link.set({ loss: 0, delayMs: 0, outage: true });
  // The encoder, back on another network, lands on y: refused until x marks the lease quiet.
  const { socket: secondSock, refused } = await publishWhenFree(y.srtPort, 'quietcam', 15_000);
  cleanups.push(() => secondSock.close());
  const second = pacedPublisher(secondSock, { pps: 300, tag: 1 });
  cleanups.push(() => second.stop());
  await waitFor(async () => (await y.cluster()).owned['quietcam'] !== undefined, `${y.id} owns 'quietcam' now`);
  await waitFor(async () => (await x.count('publisher', 'quietcam')) === 0, `${x.id} closed its quiet publisher`);
  await waitFor(async () => (await z.cluster()).remote['quietcam'] === y.id, `${z.id} routes 'quietcam' to ${y.id}`);
  const mark = viewer.packets;
  await waitFor(() => viewer.packets > mark + 200, `the viewer on ${z.id} receives the new encoder`, 15_000);
  assert.equal(viewer.closed, false, 'the viewer never reconnected');
  // The new owner's encoder sends media: its lease is not quiet, a third publisher is refused.
  assert.equal(await rejectReason(x.srtPort, { streamid: 'publish:quietcam' }), 1409, 'a publisher that sends media holds the stream');
  t.diagnostic(`quiet takeover ${x.id} → ${y.id}: the new encoder was refused ${refused} time(s) with 1409 first`);
  await second.stop();
  await first.stop();
});

test('a stream changed through one node\'s API is applied on every node, and deleted everywhere', { skip, timeout: 30_000 }, async () => {
  const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  const put = await a.send('PUT', '/api/v1/streams/studio', { source: 'push://', passphrase: { play: 'play-secret-123' } });
  assert.equal(put.status, 201, JSON.stringify(put.json));
  for (const n of [b, c]) {
    await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${n.apiPort}/api/v1/streams/studio`);
      return res.status === 200 ? ((await res.json()) as { configured: boolean }).configured : undefined;
    }, `stream 'studio' reaches ${n.id}`);
    // Configured there, not live anywhere: the stream's play passphrase applies (libsrt refuses a
    // viewer without it: 11), and a viewer with it is accepted and held (docs/auth.md: 1404 only
    // for a stream that is neither live nor configured).
    assert.equal(await rejectReason(n.srtPort, { streamid: 'read:studio' }), 11, 'the play passphrase is asked');
    const held = await connectBinding(n.srtPort, { streamid: 'read:studio', passphrase: 'play-secret-123', latency: 120 });
    held.close();
  }
  const bad = await b.send('PUT', '/api/v1/streams/studio', { source: 'srt://nowhere' });
  assert.equal(bad.status, 400, 'an invalid stream is refused with 400 and nothing changes');
  const file = await b.send('PUT', '/api/v1/streams/studio', { source: 'push://', sources: ['push://', 'file:///etc/passwd'] });
  assert.equal(file.status, 400, 'the API never names files on the nodes');
  const del = await c.send('DELETE', '/api/v1/streams/studio');
  assert.equal(del.status, 204);
  for (const n of nodes) {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${n.apiPort}/api/v1/streams/studio`)).status === 404, `'studio' deleted on ${n.id}`);
  }
});

test('auth webhook settings put through one node\'s API decide publishes on every node, and are turned off everywhere', { skip, timeout: 30_000 }, async (t) => {
  const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  const deny = await startWebhook(() => ({ status: 200, body: { allow: false } }));
  t.after(() => deny.server.close());
  const hook = deny.url;
  const put = await a.send('PUT', '/api/v1/auth', { webhook: hook, timeoutMs: 1000, hold: false });
  assert.equal(put.status, 200, JSON.stringify(put.json));
  const authOf = async (n: ClusterNode): Promise<{ webhook: string | null; hold: boolean }> => (await (await fetch(`http://127.0.0.1:${n.apiPort}/api/v1/auth`)).json()) as { webhook: string | null; hold: boolean };
  for (const n of [b, c]) await waitFor(async () => ((a) => a.webhook === hook && !a.hold)(await authOf(n)), `the webhook (hold: false) reaches ${n.id}`);
  // On c the webhook decides: the first handshake waits for it (1503), the retry is denied (1403).
  assert.equal(await rejectReason(c.srtPort, { streamid: 'publish:gated' }), 1503);
  const denied = await waitFor(async () => {
    const r = await rejectReason(c.srtPort, { streamid: 'publish:gated' });
    if (r === 1503) await delay(200); // the webhook's answer is not cached yet
    return r === 1503 ? undefined : r;
  }, 'the webhook answered');
  assert.equal(denied, 1403);
  const off = await b.send('PUT', '/api/v1/auth', { webhook: null });
  assert.equal(off.status, 200, JSON.stringify(off.json));
  for (const n of nodes) await waitFor(async () => (await authOf(n)).webhook === null, `the webhook is off on ${n.id}`);
  const sock = await connectBinding(c.srtPort, { streamid: 'publish:gated', latency: 120 });
  sock.close();
});

test('Redis stopped and restarted while streaming: no viewer drops (connected, no TS packet lost), leases and routing come back', { skip, timeout: 120_000 }, async (t) => {
  const mark = viewers.map((v) => v.data.bytes);
  await redis.stop();
  await waitFor(async () => (await Promise.all(nodes.map((n) => n.cluster()))).every((c) => !c.redis), 'every node sees Redis down');
  // What needs Redis is refused: a new stream's publish.
  assert.equal(await rejectReason(nodes[0]!.srtPort, { streamid: 'publish:newcomer' }), 1503);
  const during = viewers.map((v) => v.data.bytes);
  await waitFor(() => viewers.every((v, i) => v.data.bytes > during[i]! + 100_000 || v.data.closed), 'every viewer keeps receiving while Redis is down', 30_000);
  viewers.forEach((v, i) => assert.equal(v.data.closed, false, `viewer ${i} on ${v.node.id} stays connected while Redis is down`));
  await redis.start();
  await waitFor(async () => (await owner.cluster()).owned['cam'] !== undefined && (await owner.cluster()).redis, 'the owner holds the lease again');
  for (const n of nodes) {
    if (n === owner) continue;
    await waitFor(async () => (await n.cluster()).remote['cam'] === owner.id, `${n.id} routes cam to ${owner.id} again`);
  }
  const restored = viewers.map((v) => v.data.bytes);
  await waitFor(() => viewers.every((v, i) => v.data.bytes > restored[i]! + 100_000 || v.data.closed), 'every viewer receives after Redis is back', 30_000);
  viewers.forEach((v, i) => {
    assert.equal(v.data.closed, false, `viewer ${i} still connected`);
    // Nothing dropped: from before the outage to now, every TS packet, continuity counters unbroken.
    const all = v.data.data();
    assert.equal(all.length, v.data.bytes, `viewer ${i}: the collector kept every byte`);
    const span = all.subarray(mark[i]!);
    assert.equal(span.length % 188, 0, `viewer ${i}: whole TS packets over the outage`);
    const cc = checkContinuity(span);
    const psi = new Set([0, pmtPidOf(span)]);
    const media = cc.errors.filter((e) => !psi.has(e.pid));
    assert.equal(media.length, 0, `viewer ${i} on ${v.node.id}: continuity errors on media PIDs over the outage ${JSON.stringify(media.slice(0, 5))}`);
    // Known (reported, issue 18 branch honest): a CC jump on PAT/PMT once during the outage on
    // viewers of non-owner nodes, media continuous. Reported here until it is understood.
    if (cc.errors.length > media.length) t.diagnostic(`viewer ${i} on ${v.node.id}: PSI continuity errors over the outage ${JSON.stringify(cc.errors.filter((e) => psi.has(e.pid)).slice(0, 4))}`);
  });
  t.diagnostic(`bytes per viewer over the outage: ${viewers.map((v, i) => v.data.bytes - mark[i]!).join(', ')}`);
});

test('owner node killed: the publisher reconnects through nginx, viewers on the other nodes resume without reconnecting', { skip, timeout: 120_000 }, async (t) => {
  const survivors = viewers.filter((v) => v.node !== owner);
  await owner.kill();
  await publisher.kill();
  t.diagnostic(`killed ${owner.id} (SIGKILL) and the publisher`);
  const killedAt = Date.now();
  // An encoder retries until a node takes it; through nginx it lands on a surviving node.
  let second: Spawned | undefined;
  let newOwner: ClusterNode | undefined;
  for (let attempt = 1; attempt <= 20 && newOwner === undefined; attempt++) {
    second = teePublisher(hook, lbUrl('publish:cam'), join(dir, `republished-${attempt}.ts`), `ffmpeg publisher #${attempt + 1}`);
    const deadline = Date.now() + 4000;
    while (Date.now() < deadline && second.exit === undefined && newOwner === undefined) {
      for (const n of nodes) if (n.alive && (await n.cluster()).owned['cam'] !== undefined) newOwner = n;
      await delay(200);
    }
    if (newOwner === undefined) await second.kill();
  }
  assert.ok(newOwner !== undefined, 'the publisher got back in through nginx');
  t.diagnostic(`publisher back on ${newOwner.id} after ${Date.now() - killedAt} ms`);
  const mark = survivors.map((v) => v.data.bytes);
  await waitFor(() => survivors.every((v, i) => v.data.bytes > mark[i]! + 100_000), 'viewers on the surviving nodes receive the stream again', 30_000);
  survivors.forEach((v, i) => assert.equal(v.data.closed, false, `viewer ${i} on ${v.node.id} never reconnected`));
  t.diagnostic(`${survivors.length} viewers on ${[...new Set(survivors.map((v) => v.node.id))].join(', ')} resumed ${Date.now() - killedAt} ms after the kill`);
});
