/**
 * Session behaviours of issue 18's coverage holes, through a real in-process node and real SRT
 * callers (the node's HTTP API where the docs speak of it): a kicked publisher's viewers receive
 * again (docs/api.md `DELETE /api/v1/sessions/{id}`), and a plain-name caller becomes a waiting
 * player after 1 s of silence (docs/streams.md, the `NAME` row). Every wait is for an observable
 * state; durations are reported, never judged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Relay } from '../src/supervisor/relay.js';
import { freeUdpPort } from './helpers/free-port.js';
import { numberedReceiver, readNumbered, tsPublisher, type Numbered } from './helpers/numbered-ts.js';
import { startSlt } from './helpers/slt.js';
import { connectFor, publishWhenFree, relayOptions, serveApi, sessionOf, waitAttached, waitFor, waitLive, whenClosed } from './helpers/relay-harness.js';

const count = (got: readonly Numbered[], tag: number): number => got.filter((m) => m.tag === tag).length;

interface StreamBody {
  state: string;
  publisher: unknown;
  viewers: number;
}
interface SessionBody {
  id: number;
  kind: string;
  stream: string;
}

async function get<T>(base: string, path: string): Promise<T> {
  const r = await fetch(`${base}${path}`);
  assert.equal(r.status, 200, `GET ${path}`);
  return (await r.json()) as T;
}

test('a kicked publisher’s viewers receive again: DELETE /api/v1/sessions/{id} leaves the stream idle with its viewers connected, and the same viewer sessions receive the next publisher without reconnecting', { timeout: 60_000 }, async (t) => {
  const port = await freeUdpPort();
  const relay = new Relay(relayOptions(port));
  const base = await serveApi(t, relay);
  const first = await connectFor(t, port, { streamid: 'publish:cam' });
  const firstClosed = whenClosed(first);
  tsPublisher(t, first, 1);
  await waitLive(relay, 'cam');
  const sockets = [await connectFor(t, port, { streamid: 'read:cam' }), await connectFor(t, port, { streamid: '#!::r=cam,m=request' })];
  const rx = sockets.map((s) => numberedReceiver(s));
  const viewerIds = await Promise.all(sockets.map((s) => waitFor(() => sessionOf(relay, s)?.id, 'the viewer session is listed')));
  await waitAttached(relay, viewerIds);
  await waitFor(() => rx.every((got) => count(got, 1) >= 20), 'both viewers receive the first publisher', 20_000);

  const publisherId = sessionOf(relay, first)!.id;
  const kick = await fetch(`${base}/api/v1/sessions/${publisherId}`, { method: 'DELETE' });
  assert.equal(kick.status, 204, 'the kick is answered 204');
  await firstClosed.promise;
  const idle = await waitFor(async () => {
    const s = await get<StreamBody>(base, '/api/v1/streams/cam');
    return s.state === 'idle' ? s : undefined;
  }, 'the stream idle after the kick');
  assert.equal(idle.publisher, null);
  assert.equal(idle.viewers, 2, 'both viewers stay on the idle stream');
  assert.ok(sockets.every((s) => !s.isClosed), 'the viewers stay connected');

  // A publisher returns (retrying while the kicked one is still being closed: 1409).
  const { socket: second } = await publishWhenFree(port, 'cam', 20_000);
  t.after(() => second.close());
  tsPublisher(t, second, 2);
  await waitFor(() => rx.every((got) => count(got, 2) >= 20), 'both viewers receive the returning publisher', 20_000);
  t.diagnostic(`viewer messages: ${rx.map((got) => `${count(got, 1)} from the first publisher, ${count(got, 2)} from the second`).join('; ')}`);
  assert.ok(sockets.every((s) => !s.isClosed), 'the viewers never disconnected');
  const sessions = (await get<{ sessions: SessionBody[] }>(base, '/api/v1/sessions')).sessions;
  assert.deepEqual(
    sessions.filter((s) => s.kind === 'viewer').map((s) => s.id).sort((a, b) => a - b),
    [...viewerIds].sort((a, b) => a - b),
    'the same viewer sessions, not new ones',
  );
  for (const got of rx) {
    const firstOfSecond = got.findIndex((m) => m.tag === 2);
    assert.equal(got.slice(firstOfSecond).some((m) => m.tag === 1), false, 'nothing of the kicked publisher after the new one started');
  }
});

test('a plain-name caller (streamid "cam", no mode) of a stream that is not live is undecided, becomes a waiting player after 1 s of silence, and receives the publisher that comes next (a binding caller and srt-live-transmit)', { timeout: 60_000 }, async (t) => {
  const port = await freeUdpPort();
  const relay = new Relay(relayOptions(port));
  const base = await serveApi(t, relay);
  // srt-live-transmit as a plain-name player, its output sent over UDP to the test (one datagram per message).
  const udp = createSocket('udp4');
  t.after(() => udp.close());
  const sltGot: Numbered[] = [];
  udp.on('message', (m: Buffer) => readNumbered(m, m.length, sltGot));
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  startSlt(t, `srt://127.0.0.1:${port}?streamid=cam`, `udp://127.0.0.1:${udp.address().port}`);
  await waitFor(() => relay.listSessions().some((s) => s.stream === 'cam'), 'srt-live-transmit connected');
  const started = performance.now();
  const player = await connectFor(t, port, { streamid: 'cam' });
  const got = numberedReceiver(player);
  const id = await waitFor(() => sessionOf(relay, player)?.id, 'the plain-name caller is listed');
  // Undecided: it is neither the stream's publisher nor one of its viewers yet.
  const undecided = await get<SessionBody>(base, `/api/v1/sessions/${id}`);
  const stream = await get<StreamBody>(base, '/api/v1/streams/cam');
  // docs/api.md: listed as kind undecided; the stream has no publisher and no viewer.
  assert.equal(undecided.kind, 'undecided', 'an undecided caller is listed as kind undecided');
  assert.equal(stream.state, 'idle', 'the undecided caller is not the stream’s publisher');
  assert.equal(relay.getStream('cam')?.viewers.has(id), false, 'nor one of its viewers');
  const decidedAt = await waitFor(async () => {
    const s = await get<SessionBody>(base, `/api/v1/sessions/${id}`);
    return s.kind === 'viewer' ? performance.now() : undefined;
  }, 'the silent caller becomes a viewer', 20_000);
  t.diagnostic(`taken for a player ${Math.round(decidedAt - started)} ms after connecting (docs: after 1 s of silence)`);
  const waiting = await get<StreamBody>(base, '/api/v1/streams/cam');
  assert.equal(waiting.state, 'idle', 'the silent caller did not become the publisher');
  await waitFor(async () => (await get<StreamBody>(base, '/api/v1/streams/cam')).viewers === 2, 'srt-live-transmit a waiting viewer too');
  assert.equal(relay.getStream('cam')?.viewers.has(id), true, 'the binding caller is one of the stream’s two waiting viewers');

  // A publisher arrives (not refused with 1409: the waiting player holds no publisher's place).
  const pub = await connectFor(t, port, { streamid: 'publish:cam' });
  tsPublisher(t, pub, 1);
  await waitLive(relay, 'cam');
  await waitFor(() => got.length >= 20, 'the waiting player receives the publisher', 20_000);
  await waitFor(() => sltGot.length >= 20, 'srt-live-transmit, waiting too, receives the publisher', 20_000);
  assert.ok(got.every((m) => m.tag === 1) && sltGot.every((m) => m.tag === 1));
  assert.equal((await get<StreamBody>(base, '/api/v1/streams/cam')).viewers, 2);
  assert.equal(player.isClosed, false);
  assert.equal((await get<SessionBody>(base, `/api/v1/sessions/${id}`)).kind, 'viewer', 'the same session plays');
});
