/**
 * The unit tier of the supervisor: a stream's lifecycle (live / idle / replaced / on demand /
 * failover / deleted) driven through StreamSessions and StreamCatalog in milliseconds, with a
 * fake worker pool and fake sockets — no SRT connection, no worker thread. The real-peer tests
 * (relay-*.test.ts) prove the same paths end to end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { silentLogger } from '../src/logging.js';
import { StreamRegistry } from '../src/streams/stream-registry.js';
import { StreamSessions } from '../src/supervisor/stream-sessions.js';
import { StreamCatalog } from '../src/supervisor/stream-catalog.js';
import { PortRegistry } from '../src/srt/port-registry.js';
import type { WorkerPool } from '../src/sessions/worker-pool.js';
import type { SrtSocket } from '../src/srt/socket.js';
import type { RelayEvents } from '../src/supervisor/relay-api.js';

interface Assigned {
  session: number;
  role?: string;
  path?: string;
}

/** What the supervisor asks of its worker pool, recorded; the test says when sessions end. */
class FakePool extends EventEmitter {
  readonly assigned: Assigned[] = [];
  readonly closed: Array<{ session: number; reason: string }> = [];
  readonly confirmed: number[] = [];
  assign(msg: { session: number; role: string }): number {
    this.assigned.push({ session: msg.session, role: msg.role });
    return 0;
  }
  assignFile(msg: { session: number; path: string }): number {
    this.assigned.push({ session: msg.session, path: msg.path });
    return 0;
  }
  closeSession(session: number, reason: string): boolean {
    this.closed.push({ session, reason });
    return true;
  }
  confirmPublisher(session: number): void {
    this.confirmed.push(session);
  }
  stats(): Promise<[]> {
    return Promise.resolve([]);
  }
  /** The worker reports the session over (as after closeSession, or a peer that left). */
  end(session: number, reason = 'peer closed'): void {
    this.emit('session-ended', session, reason);
  }
}

function fakeSocket(): SrtSocket & { closed: boolean } {
  const s = { closed: false, isClosed: false, id: 1, detach: () => 1, close: () => (s.closed = true) };
  return s as unknown as SrtSocket & { closed: boolean };
}

function setup(limits = {}): { pool: FakePool; registry: StreamRegistry; sessions: StreamSessions; catalog: StreamCatalog; events: EventEmitter<RelayEvents>; seen: string[]; published: string[]; close(): void } {
  const log = silentLogger();
  const pool = new FakePool();
  const registry = new StreamRegistry({ dynamicStreams: true, defaultRingSlots: 1024 });
  const events = new EventEmitter<RelayEvents>();
  const seen: string[] = [];
  events.on('stream-live', (n) => seen.push(`live ${n}`));
  events.on('stream-idle', (n) => seen.push(`idle ${n}`));
  const published: string[] = [];
  const sessions = new StreamSessions({
    log,
    registry,
    pool: pool as unknown as WorkerPool,
    limits,
    ringSlots: 1024,
    events,
    published: (s) => published.push(s),
    ended: () => undefined,
  });
  const ports = new PortRegistry();
  const catalog = new StreamCatalog({ log, registry, sessions, ports, watchUdp: () => undefined, events });
  return { pool, registry, sessions, catalog, events, seen, published, close: () => registry.close() };
}

const peer = { host: '192.0.2.7', port: 5000 };

test('a publisher makes its stream live and its pushes start; its end makes the stream idle and a dynamic stream nobody uses goes away', (t) => {
  const r = setup();
  t.after(() => r.close());
  const id = r.sessions.acceptPublisher({ name: 'cam', socket: fakeSocket(), peer, streamid: 'publish:cam', kind: 'publisher', log: silentLogger() });
  assert.ok(id !== undefined);
  assert.deepEqual(r.pool.assigned, [{ session: id, role: 'publisher' }]);
  assert.equal(r.registry.get('cam')?.publisher?.session, id);
  assert.deepEqual(r.seen, ['live cam']);
  assert.deepEqual(r.published, ['cam']);
  r.pool.end(id);
  assert.deepEqual(r.seen, ['live cam', 'idle cam']);
  assert.equal(r.registry.get('cam'), undefined, 'the dynamic stream is removed once nobody uses it');
  assert.equal(r.sessions.size, 0);
});

test('under "refuse" a second publisher is refused and its socket closed; under "replace" it closes the first', (t) => {
  const r = setup();
  t.after(() => r.close());
  r.catalog.put('refused', { source: 'push://', onPublisherConflict: 'refuse', takeoverAfterMs: 0 });
  r.catalog.put('replaced', { source: 'push://', onPublisherConflict: 'replace' });
  const first = r.sessions.acceptPublisher({ name: 'refused', socket: fakeSocket(), peer, streamid: '', kind: 'publisher', log: silentLogger() });
  const sock = fakeSocket();
  assert.equal(r.sessions.acceptPublisher({ name: 'refused', socket: sock, peer, streamid: '', kind: 'publisher', log: silentLogger() }), undefined);
  assert.ok(sock.closed, 'the refused socket is closed');
  assert.equal(r.registry.get('refused')?.publisher?.session, first);
  assert.equal(r.sessions.size, 1, 'a refused publisher leaves no session behind');

  const a = r.sessions.acceptPublisher({ name: 'replaced', socket: fakeSocket(), peer, streamid: '', kind: 'publisher', log: silentLogger() })!;
  const b = r.sessions.acceptPublisher({ name: 'replaced', socket: fakeSocket(), peer, streamid: '', kind: 'publisher', log: silentLogger() })!;
  assert.equal(r.registry.get('replaced')?.publisher?.session, b);
  assert.ok(r.pool.closed.some((c) => c.session === a), 'the replaced publisher is closed');
  r.pool.end(a, 'replaced');
  assert.equal(r.registry.get('replaced')?.publisher?.session, b, 'the old publisher ending does not make the stream idle');
});

test('an undecided caller that sends media becomes the publisher; one that stays silent becomes a viewer', (t) => {
  const r = setup();
  t.after(() => r.close());
  r.catalog.put('both', { source: 'push://' });
  const pub = r.sessions.acceptPublisher({ name: 'both', socket: fakeSocket(), peer, streamid: 'both', kind: 'publisher', log: silentLogger(), inferred: true })!;
  assert.deepEqual(r.pool.assigned.at(-1), { session: pub, role: 'undecided' });
  assert.equal(r.registry.get('both')?.publisher, undefined, 'undecided: not the publisher yet');
  r.pool.emit('media-detected', pub);
  assert.equal(r.registry.get('both')?.publisher?.session, pub);
  assert.deepEqual(r.pool.confirmed, [pub]);
  const silent = r.sessions.acceptPublisher({ name: 'both', socket: fakeSocket(), peer, streamid: 'both', kind: 'publisher', log: silentLogger(), inferred: true })!;
  r.pool.emit('became-viewer', silent);
  assert.ok(r.registry.get('both')?.viewers.has(silent));
  assert.equal(r.sessions.get(silent)?.kind, 'viewer');
});

test('an on-demand file stream starts its source for its first viewer and stops it idleTimeoutMs after the last one left', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const r = setup();
  t.after(() => r.close());
  r.catalog.put('film', { source: 'file:///media/film.ts', idleTimeoutMs: 5000 });
  assert.equal(r.pool.assigned.length, 0, 'nothing runs without a viewer');
  const viewer = r.sessions.acceptViewer({ name: 'film', socket: fakeSocket(), peer, streamid: 'play:film', kind: 'viewer', log: silentLogger() })!;
  const file = r.pool.assigned.find((a) => a.path === '/media/film.ts');
  assert.ok(file !== undefined, 'the first viewer starts the file source');
  r.pool.emit('source-live', file.session);
  assert.equal(r.registry.get('film')?.publisher?.session, file.session);
  assert.deepEqual(r.seen, ['live film']);
  r.pool.end(viewer);
  t.mock.timers.tick(4999);
  assert.ok(!r.pool.closed.some((c) => c.session === file.session), 'still running before idleTimeoutMs');
  t.mock.timers.tick(1);
  assert.ok(r.pool.closed.some((c) => c.session === file.session), 'stopped idleTimeoutMs after the last viewer left');
});

test('failover: when the primary file source ends, the backup starts and becomes the active source', (t) => {
  const r = setup();
  t.after(() => r.close());
  r.catalog.put('tv', { source: 'file:///a.ts', sources: ['file:///a.ts', 'file:///b.ts'], alwaysOn: true });
  const a = r.pool.assigned.find((x) => x.path === '/a.ts')!;
  assert.ok(a !== undefined, 'always on: the primary starts at once');
  assert.equal(r.pool.assigned.some((x) => x.path === '/b.ts'), false, 'the backup waits');
  r.pool.emit('source-live', a.session);
  r.pool.end(a.session, 'file unreadable');
  const b = r.pool.assigned.find((x) => x.path === '/b.ts');
  assert.ok(b !== undefined, 'the backup starts when the primary ends');
  r.pool.emit('source-live', b.session);
  assert.equal(r.registry.get('tv')?.publisher?.session, b.session);
  assert.equal(r.catalog.sourcesOf('tv')?.active, 1);
});

test('deleting a stream closes its sessions and stops its sources', (t) => {
  const r = setup();
  t.after(() => r.close());
  r.catalog.put('gone', { source: 'file:///g.ts', alwaysOn: true });
  const file = r.pool.assigned.find((x) => x.path === '/g.ts')!;
  r.pool.emit('source-live', file.session);
  const viewer = r.sessions.acceptViewer({ name: 'gone', socket: fakeSocket(), peer, streamid: 'play:gone', kind: 'viewer', log: silentLogger() })!;
  assert.equal(r.catalog.delete('gone'), true);
  const closed = [...new Set(r.pool.closed.map((c) => c.session))].sort();
  assert.deepEqual(closed, [file.session, viewer].sort());
  assert.equal(r.registry.get('gone'), undefined);
  assert.equal(r.catalog.delete('gone'), false);
});
