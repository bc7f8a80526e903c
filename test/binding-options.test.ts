/**
 * Options, statistics and reject reasons through the binding: every option of the TypeScript
 * catalog (src/srt/options.ts) can be set natively, values round-trip through libsrt, stats()
 * reflects a transfer, and a caller learns why its connection failed. Also two reactor
 * properties a caller relies on: its connect() reports its own outcome even when another socket
 * closed just before it, and a broken socket does not flood its thread with events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SrtNativeError, SrtRejectedError } from '../src/errors.js';
import { EV_ERR, EV_IN, native } from '../src/srt/native.js';
import { SRT_OPTIONS, SRT_OPTION_NAMES, type SrtOptionValue } from '../src/srt/options.js';
import { registerHandler, unregisterHandler } from '../src/srt/reactor.js';
import { STAT_FIELDS, SocketState, SrtSocket } from '../src/srt/socket.js';
import { freeUdpPort } from './helpers/free-port.js';
import { connectBinding, delay, listenBinding, receiveAll, sendFile, withTimeout } from './helpers/srt-io.js';

const SRT_REJ_TIMEOUT = 16;

/** The native value type that can carry each catalog type. */
const NATIVE_TYPES: Readonly<Record<string, readonly string[]>> = {
  int: ['int', 'linger'],
  int64: ['int64'],
  bool: ['bool'],
  string: ['string'],
  enum: ['int'],
};

test('every option in the TypeScript catalog is settable by name in the native addon, with a matching type', () => {
  const nativeTypes = new Map(native.optionNames());
  assert.ok(SRT_OPTION_NAMES.length > 0);
  const missing = SRT_OPTION_NAMES.filter((name) => !nativeTypes.has(name));
  assert.deepEqual(missing, [], 'catalog options missing from native.optionNames()');
  for (const name of SRT_OPTION_NAMES) {
    const spec = SRT_OPTIONS[name];
    const nativeType = nativeTypes.get(name) ?? '';
    assert.ok(
      (NATIVE_TYPES[spec.type] ?? []).includes(nativeType),
      `${name}: catalog type ${spec.type}, native type ${nativeType}`,
    );
  }
});

test('setOption/getOption round-trip through libsrt', (t) => {
  const s = SrtSocket.create();
  t.after(() => s.close());
  const cases: Array<[name: string, value: SrtOptionValue]> = [
    ['latency', 250],
    ['rcvlatency', 300],
    ['peerlatency', 400],
    ['streamid', '#!::r=news,m=publish'],
    ['tlpktdrop', false],
    ['maxbw', 12_500_000],
    ['payloadsize', 1316],
    ['conntimeo', 1500],
    ['inputbw', 1_000_000],
    ['oheadbw', 50],
    ['nakreport', false],
    ['messageapi', true],
    ['lossmaxttl', 10],
    ['peeridletimeo', 7000],
    ['linger', 3],
    ['packetfilter', 'fec,cols:10,rows:5'],
  ];
  for (const [name, value] of cases) {
    s.setOption(name, value);
    assert.deepEqual(s.getOption(name), value, `${name}=${String(value)}`);
  }
  // A later latency overrides rcvlatency and peerlatency (it sets both).
  s.setOption('latency', 120);
  assert.equal(s.getOption('rcvlatency'), 120);
  assert.equal(s.getOption('peerlatency'), 120);
});

test('transtype is write-only in libsrt: setting it applies its defaults, reading it fails with SrtNativeError', (t) => {
  const file = SrtSocket.create({ transtype: 'file' });
  t.after(() => file.close());
  assert.equal(file.getOption('congestion'), 'file');
  assert.equal(file.getOption('tsbpdmode'), false);
  assert.equal(file.getOption('tlpktdrop'), false);
  assert.equal(file.getOption('messageapi'), false);

  const live = SrtSocket.create({ transtype: 'live' });
  t.after(() => live.close());
  assert.equal(live.getOption('congestion'), 'live');
  assert.equal(live.getOption('tsbpdmode'), true);
  assert.equal(live.getOption('tlpktdrop'), true);

  assert.throws(() => live.getOption('transtype'), (err: unknown) => {
    assert.ok(err instanceof SrtNativeError, String(err));
    assert.equal(err.code, 'ERR_SRT_NATIVE');
    return true;
  });
});

test('live sockets srt-relay creates may send 1456-byte messages (1452 with FEC) unless the options give a payloadsize; file mode keeps libsrt\'s', (t) => {
  const sockets = {
    plain: SrtSocket.create(),
    live: SrtSocket.create({ transtype: 'live' }),
    fec: SrtSocket.create({ packetfilter: 'fec,cols:10,rows:5' }),
    given: SrtSocket.create({ payloadsize: 1316 }),
    file: SrtSocket.create({ transtype: 'file' }),
  };
  for (const s of Object.values(sockets)) t.after(() => s.close());
  assert.deepEqual(
    Object.fromEntries(Object.entries(sockets).map(([k, s]) => [k, s.getOption('payloadsize')])),
    { plain: 1456, live: 1456, fec: 1452, given: 1316, file: 0 },
  );
});

test('stats() after a short transfer: packets counted on both sides, RTT a finite number', { timeout: 30_000 }, async (t) => {
  const server = listenBinding({ latency: 120 });
  t.after(() => server.close());
  const caller = await connectBinding(server.port, { latency: 120 });
  t.after(() => caller.close());
  const conn = await withTimeout(server.accepted(), 5000, 'accept');
  const data = Buffer.alloc(200 * 1316, 0x47);
  const received = receiveAll(conn.socket, { untilBytes: data.length, timeoutMs: 10_000 });
  await sendFile(caller, data);
  assert.equal((await received).length, data.length);

  const sender = caller.stats();
  const receiver = conn.socket.stats();
  assert.ok(sender !== undefined && receiver !== undefined, 'stats of connected sockets');
  assert.deepEqual(Object.keys(sender), [...STAT_FIELDS]);
  for (const [name, v] of Object.entries(sender)) assert.ok(Number.isFinite(v), `sender ${name} = ${v}`);
  for (const [name, v] of Object.entries(receiver)) assert.ok(Number.isFinite(v), `receiver ${name} = ${v}`);
  assert.ok(sender['pktSentTotal']! >= 200, `sender pktSentTotal ${sender['pktSentTotal']}`);
  assert.ok(receiver['pktRecvTotal']! >= 200, `receiver pktRecvTotal ${receiver['pktRecvTotal']}`);
  assert.ok(sender['byteSentUniqueTotal']! >= data.length, 'unique bytes sent (libsrt counts headers too)');
  assert.ok(Number.isFinite(sender['msRTT']) && sender['msRTT']! >= 0, `msRTT ${sender['msRTT']}`);

  // clear=true resets the interval counters, not the totals.
  caller.stats(true);
  const after = caller.stats();
  assert.equal(after?.['pktSent'], 0);
  assert.ok(after!['pktSentTotal']! >= 200);
});

test('a caller to a port nobody listens on fails with SRT_REJ_TIMEOUT (16) after conntimeo', { timeout: 30_000 }, async () => {
  const port = await freeUdpPort();
  await assert.rejects(withTimeout(connectBinding(port, { conntimeo: 500 }), 10_000, 'connect'), (err: unknown) => {
    assert.ok(err instanceof SrtRejectedError, String(err));
    assert.equal(err.reason, SRT_REJ_TIMEOUT, err.message);
    assert.equal(err.reasonName, 'SRT_REJ_TIMEOUT');
    return true;
  });
});

test('a connect started right after another socket broke and closed reports its own outcome (16), not the old socket\'s events', { timeout: 30_000 }, async (t) => {
  const server = listenBinding();
  t.after(() => server.close());
  const peer = await connectBinding(server.port);
  const { socket: watched } = await withTimeout(server.accepted(), 5000, 'accept');
  watched.on({ readable: () => undefined, closed: () => undefined });

  // The peer goes away; this thread stays busy until `watched` is broken, so its readiness
  // events are queued for this thread but not yet delivered.
  peer.close();
  const deadline = Date.now() + 3000;
  while (native.state(watched.id) < SocketState.BROKEN && Date.now() < deadline) {
    /* busy on purpose */
  }
  const settle = Date.now() + 20;
  while (Date.now() < settle) {
    /* let the reactor queue the events */
  }
  assert.ok(native.state(watched.id) >= SocketState.BROKEN, 'the peer closed');
  watched.close();

  // A new socket now connects to a port nobody listens on: it must time out (16), whatever was
  // queued for the socket closed above.
  const deadPort = await freeUdpPort();
  const started = SrtSocket.create({ conntimeo: 500 });
  await assert.rejects(withTimeout(started.connect('127.0.0.1', deadPort), 10_000, 'connect'), (err: unknown) => {
    assert.ok(err instanceof SrtRejectedError, String(err));
    assert.equal(err.reason, SRT_REJ_TIMEOUT, `got ${err.message}`);
    return true;
  });
});

test('a connection accepted right after another socket broke and closed is not closed by that socket\'s events', { timeout: 30_000 }, async (t) => {
  const server = listenBinding();
  t.after(() => server.close());
  const leaving = await connectBinding(server.port);
  const { socket: gone } = await withTimeout(server.accepted(), 5000, 'accept 1');
  gone.on({ readable: () => undefined, closed: () => undefined });
  const staying = await connectBinding(server.port);
  t.after(() => staying.close());
  const { socket: fresh } = await withTimeout(server.accepted(), 5000, 'accept 2'); // no handlers yet

  // One viewer leaves; while this thread is busy its events are queued, then it is closed and
  // the other accepted connection starts being served.
  leaving.close();
  const deadline = Date.now() + 3000;
  while (native.state(gone.id) < SocketState.BROKEN && Date.now() < deadline) {
    /* busy on purpose */
  }
  const settle = Date.now() + 20;
  while (Date.now() < settle) {
    /* let the reactor queue the events */
  }
  gone.close();
  let closedByBinding = false;
  let received = 0;
  const buf = new Uint8Array(1500);
  fresh.on({
    readable: () => {
      while (fresh.recv(buf) > 0) received++;
    },
    closed: () => (closedByBinding = true),
  });
  // Messages sent after the close are delivered after every event queued before it: once they
  // arrive, a stale event of the closed socket would already have reached the fresh one.
  for (let i = 0; i < 10; i++) staying.send(new Uint8Array(188 * 7).fill(0x47));
  const deadline2 = Date.now() + 20_000;
  while (received < 10 && !closedByBinding && Date.now() < deadline2) await delay(10);

  assert.equal(closedByBinding, false, 'the healthy connection was closed');
  assert.equal(received, 10, 'the fresh connection received the 10 messages sent after the other socket closed');
  assert.equal(native.state(staying.id), SocketState.CONNECTED, 'its peer is still connected');
});

test('a broken socket that stays watched produces a bounded number of events while the reactor keeps serving others', { timeout: 60_000 }, async (t) => {
  // Low latency (TSBPD holds each message for it): the 100 messages below are sent one at a time,
  // each waited for, and at libsrt's default 120 ms they would take 12 s.
  const server = listenBinding({ latency: 10 });
  t.after(() => server.close());
  const peer = await connectBinding(server.port, { latency: 10 });
  const { socket } = await withTimeout(server.accepted(), 5000, 'accept');
  t.after(() => socket.close());

  // Watch the accepted socket directly with a handler that only counts (does not close).
  const counts = new Map<number, number>();
  const token = registerHandler((flags) => counts.set(flags, (counts.get(flags) ?? 0) + 1));
  native.watch(socket.id, EV_IN | EV_ERR, token);
  t.after(() => {
    native.unwatch(socket.id);
    unregisterHandler(token);
  });
  peer.close();
  const deadline = Date.now() + 20_000;
  while (native.state(socket.id) < SocketState.BROKEN && Date.now() < deadline) await delay(10);
  assert.ok(native.state(socket.id) >= SocketState.BROKEN, 'the peer closed');

  // Make the reactor wake up many times for another connection: 100 messages one at a time, each
  // waited for. A broken socket reported on every wake-up (level-triggered) would count 100+.
  const other = await connectBinding(server.port, { latency: 10 });
  t.after(() => other.close());
  const { socket: otherIn } = await withTimeout(server.accepted(), 5000, 'accept other');
  t.after(() => otherIn.close());
  let got = 0;
  const buf = new Uint8Array(1500);
  otherIn.on({ readable: () => {
    while (otherIn.recv(buf) > 0) got++;
  }, closed: () => undefined });
  for (let i = 1; i <= 100; i++) {
    other.send(new Uint8Array(188).fill(0x47));
    const until = Date.now() + 20_000;
    while (got < i && Date.now() < until) await delay(1);
  }
  assert.equal(got, 100, 'the other connection received every message');

  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  assert.ok(total >= 1, 'the break was reported');
  assert.ok(
    total <= 20,
    `${total} events for one broken socket over 100 reactor wake-ups for another connection (by flags: ${JSON.stringify(Object.fromEntries(counts))})`,
  );
});
