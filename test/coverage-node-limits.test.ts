/**
 * docs/config.md "limits": the node-wide handshake rate (`handshakesPerSecond`, bursts of twice
 * that) refuses with 1429 beyond the rate from every address together, exempt ones included;
 * `exemptHosts` skip only the per-host limits. Real binding callers from two loopback addresses
 * (127.0.0.1 and 127.0.0.2, the caller's socket bound to its address before connecting) against
 * a real in-process node; the gate decides in the handshake.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SrtRejectedError } from '../src/errors.js';
import { SrtSocket } from '../src/srt/socket.js';
import type { AfterHook } from './helpers/processes.js';
import { pacedPublisher, startRelay, waitFor, waitLive } from './helpers/relay-harness.js';

/** A caller from local address `from` to the node's port: its socket, or the reject reason. */
async function attemptFrom(t: AfterHook, from: string, port: number, streamid: string): Promise<SrtSocket | number> {
  const s = SrtSocket.create({ latency: 200, streamid });
  try {
    s.bind(from, 0);
    await s.connect('127.0.0.1', port);
  } catch (e) {
    s.close();
    if (e instanceof SrtRejectedError) return e.reason;
    throw e;
  }
  t.after(() => s.close());
  return s;
}

test('limits.handshakesPerSecond refuses with 1429 beyond the node-wide rate from all addresses together, exempt hosts included: once 127.0.0.1 has emptied the bucket, 127.0.0.2 is refused at its first tries', { timeout: 60_000 }, async (t) => {
  // Both loopback addresses exempt: only the node-wide bucket (1/s, bursts of 2) can refuse.
  const { relay, port } = await startRelay(t, { limits: { handshakesPerSecond: 1, exemptHosts: ['127.0.0.1', '127.0.0.2'] } });
  const pubSocket = await attemptFrom(t, '127.0.0.1', port, 'publish:cam');
  assert.ok(typeof pubSocket !== 'number', `the publisher is let in (got ${String(pubSocket)})`);
  const pub = pacedPublisher(pubSocket, { pps: 100 });
  t.after(() => pub.stop());
  await waitLive(relay, 'cam');
  const outcomes: Array<SrtSocket | number> = [];
  // Viewers from 127.0.0.1 connect until the node refuses one.
  const first = await waitFor(async () => {
    const r = await attemptFrom(t, '127.0.0.1', port, 'read:cam');
    outcomes.push(r);
    return typeof r === 'number' ? r : undefined;
  }, 'a caller from 127.0.0.1 refused once the node-wide bucket is empty', 30_000);
  assert.equal(first, 1429, 'the refusal is 1429');
  // 127.0.0.2 never connected: a per-host limit could not refuse it, only the shared bucket can.
  // Each try that a refilled token lets in spends that token, so a refusal comes within a few tries.
  const second: Array<SrtSocket | number> = [];
  for (let i = 0; i < 5 && !second.includes(1429); i++) second.push(await attemptFrom(t, '127.0.0.2', port, 'read:cam'));
  t.diagnostic(`127.0.0.1: ${outcomes.map((o) => (typeof o === 'number' ? o : 'in')).join(' ')}; 127.0.0.2: ${second.map((o) => (typeof o === 'number' ? o : 'in')).join(' ')}`);
  assert.ok(second.includes(1429), 'the exempt 127.0.0.2 is refused with 1429 by the node-wide rate');
  assert.deepEqual([...new Set([...outcomes, ...second].filter((o) => typeof o === 'number'))], [1429], 'every refusal is 1429');
  // The bucket refills: 127.0.0.2 is let in again (waited for, one try at a time).
  const again = await waitFor(async () => {
    const r = await attemptFrom(t, '127.0.0.2', port, 'read:cam');
    if (typeof r === 'number' && r !== 1429) assert.fail(`refused with ${r}, not 1429`);
    return typeof r === 'number' ? undefined : r;
  }, 'a caller let in again once the bucket refills', 30_000);
  const { port: local } = again.localAddress();
  await waitFor(() => relay.listSessions().find((s) => s.peer.port === local), 'the viewer from 127.0.0.2 listed');
  assert.equal(relay.listSessions().find((s) => s.peer.port === local)?.peer.host, '127.0.0.2', 'the relay saw the caller at 127.0.0.2');
});

test('exemptHosts skip the per-host handshake rate: callers from the exempt 127.0.0.2 are all let in while 127.0.0.1, not exempt, gets 1429', { timeout: 60_000 }, async (t) => {
  const { relay, port } = await startRelay(t, { limits: { handshakesPerSecondPerHost: 1, exemptHosts: ['127.0.0.2'] } });
  const pub = await attemptFrom(t, '127.0.0.2', port, 'publish:cam');
  assert.ok(typeof pub !== 'number', `the exempt publisher is let in (got ${String(pub)})`);
  const p = pacedPublisher(pub, { pps: 100 });
  t.after(() => p.stop());
  await waitLive(relay, 'cam');
  // 20 viewers from 127.0.0.2: far beyond the per-host burst of 2, none refused.
  for (let i = 0; i < 20; i++) {
    const r = await attemptFrom(t, '127.0.0.2', port, 'read:cam');
    assert.ok(typeof r !== 'number', `viewer ${i + 1} from the exempt 127.0.0.2 is let in (got ${String(r)})`);
  }
  assert.equal(relay.listSessions().filter((s) => s.peer.host === '127.0.0.2').length, 21, 'the relay lists 21 sessions from 127.0.0.2');
  // 127.0.0.1 is not exempt (the list replaces the default): its burst is 2, then 1429.
  const fromLoopback: Array<SrtSocket | number> = [];
  for (let i = 0; i < 10 && !fromLoopback.includes(1429); i++) fromLoopback.push(await attemptFrom(t, '127.0.0.1', port, 'read:cam'));
  t.diagnostic(`127.0.0.1: ${fromLoopback.map((o) => (typeof o === 'number' ? o : 'in')).join(' ')}`);
  assert.ok(fromLoopback.includes(1429), '127.0.0.1 is refused with 1429 by its per-host rate');
  assert.deepEqual([...new Set(fromLoopback.filter((o) => typeof o === 'number'))], [1429], 'every refusal is 1429');
  // Meanwhile 127.0.0.2 is still let in.
  const more = await attemptFrom(t, '127.0.0.2', port, 'read:cam');
  assert.ok(typeof more !== 'number', `the exempt host is still let in (got ${String(more)})`);
});
