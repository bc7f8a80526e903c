/**
 * The binding speaks SRT with the reference implementation: srt-live-transmit (libsrt's own
 * sample tool) on the other end, in both roles (caller/listener) and both data directions, and
 * an MPEG-TS file arrives byte-identical. Everything on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freeUdpPort, waitUdpBound } from './helpers/free-port.js';
import { SLT_DEFAULT_CHUNK, startSlt, srtUrl, wholeChunks } from './helpers/slt.js';
import {
  connectBinding,
  listenBinding,
  receiveDetailed,
  sendFile,
  waitDelivered,
  withTimeout,
} from './helpers/srt-io.js';
import { tsFixtureBytes } from './helpers/ts-fixture.js';

const LATENCY = 200;
/** After the last ACK: srt-live-transmit must read everything (TSBPD delay + scheduling slack) before the close, which it acts on at once. */
const SLT_DRAIN_MS = LATENCY + 1300;
const TEST_TIMEOUT = 30_000;

function sameBytes(actual: Buffer, expected: Buffer, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} bytes arrived, ${expected.length} expected`);
  assert.ok(actual.equals(expected), `${what}: same length but different bytes`);
}

test('binding caller sends a TS file to a srt-live-transmit listener: it arrives byte-identical', { timeout: TEST_TIMEOUT }, async (t) => {
  const data = await tsFixtureBytes();
  const port = await freeUdpPort();
  const slt = startSlt(t, srtUrl('127.0.0.1', port, { mode: 'listener', latency: LATENCY }), 'file://con');
  await waitUdpBound(port);

  const caller = await connectBinding(port, { latency: LATENCY });
  t.after(() => caller.close());
  await slt.waitForLine('Accepted SRT source connection', { stream: 'stderr' });
  assert.equal(await sendFile(caller, data), data.length);
  await waitDelivered(caller, SLT_DRAIN_MS);
  caller.close();

  // srt-live-transmit flushes its stdout when it exits (-a:no: on disconnect).
  const exit = await slt.waitExit(10_000);
  assert.equal(exit.code, 0, slt.output());
  sameBytes(slt.stdout(), data, 'srt-live-transmit stdout');
});

test('srt-live-transmit caller sends a TS file (stdin) to a binding listener: it arrives byte-identical', { timeout: TEST_TIMEOUT }, async (t) => {
  // srt-live-transmit sends whole chunks of stdin only (its default 1456 bytes; it drops a partial last chunk).
  const data = wholeChunks(await tsFixtureBytes());
  const server = listenBinding({ latency: LATENCY });
  t.after(() => server.close());
  const slt = startSlt(t, 'file://con', srtUrl('127.0.0.1', server.port, { latency: LATENCY }));

  const conn = await withTimeout(server.accepted(), 10_000, 'accept srt-live-transmit');
  assert.equal(conn.host, '127.0.0.1');
  const received = receiveDetailed(conn.socket, { untilBytes: data.length, timeoutMs: 15_000 });
  await slt.waitForLine('SRT target connected', { stream: 'stderr' });
  slt.child.stdin?.end(data);
  const r = await received;
  assert.equal(r.ended, 'bytes', `collection ended by ${r.ended}\n${slt.output()}`);
  sameBytes(r.data, data, 'binding listener');
  assert.equal(r.messages, data.length / SLT_DEFAULT_CHUNK, `one SRT message per ${SLT_DEFAULT_CHUNK}-byte chunk (srt-live-transmit's default)`);
});

test('binding listener sends a TS file to a srt-live-transmit caller: it arrives byte-identical', { timeout: TEST_TIMEOUT }, async (t) => {
  const data = await tsFixtureBytes();
  const server = listenBinding({ latency: LATENCY });
  t.after(() => server.close());
  const slt = startSlt(t, srtUrl('127.0.0.1', server.port, { latency: LATENCY }), 'file://con');

  const conn = await withTimeout(server.accepted(), 10_000, 'accept srt-live-transmit');
  assert.equal(await sendFile(conn.socket, data), data.length);
  await waitDelivered(conn.socket, SLT_DRAIN_MS);
  conn.socket.close();

  const exit = await slt.waitExit(10_000);
  assert.equal(exit.code, 0, slt.output());
  sameBytes(slt.stdout(), data, 'srt-live-transmit stdout');
});

test('binding caller receives a TS file from a srt-live-transmit listener reading stdin: it arrives byte-identical', { timeout: TEST_TIMEOUT }, async (t) => {
  const data = wholeChunks(await tsFixtureBytes());
  const port = await freeUdpPort();
  const slt = startSlt(t, 'file://con', srtUrl('127.0.0.1', port, { mode: 'listener', latency: LATENCY }));
  await waitUdpBound(port);

  const caller = await connectBinding(port, { latency: LATENCY });
  t.after(() => caller.close());
  const received = receiveDetailed(caller, { untilBytes: data.length, timeoutMs: 15_000 });
  // What srt-live-transmit reads before its target is connected is dropped: write after accept.
  await slt.waitForLine('Accepted SRT target connection', { stream: 'stderr' });
  slt.child.stdin?.end(data);
  const r = await received;
  assert.equal(r.ended, 'bytes', `collection ended by ${r.ended}\n${slt.output()}`);
  sameBytes(r.data, data, 'binding caller');
});
