/**
 * Gate table lockout (issue 13 item 1) and the provisional live mark (item 2), at the src/srt
 * level: handshakes the gate accepts but libsrt then refuses (wrong passphrase: 10, none: 11)
 * never reach srt_accept; their accept entries are forgotten and counted as refusals after the
 * gate, so a flood larger than the table cannot lock out a right-secret publisher, host session
 * counts do not leak, and a refused explicit publish does not leave its stream marked live.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SrtRejectedError } from '../src/errors.js';
import { MODE_PLAY, MODE_PUBLISH, native } from '../src/srt/native.js';
import { connectBinding, listenBinding, withTimeout } from './helpers/srt-io.js';

const SRT_REJ_BADSECRET = 10;
const SRT_REJ_UNSECURE = 11;
const NOT_FOUND = 1404;
const CAPACITY = 8;
const SECRET = 'the-right-secret-1';

async function refusedWith(port: number, streamid: string, passphrase?: string): Promise<number> {
  try {
    const s = await withTimeout(connectBinding(port, passphrase === undefined ? { streamid } : { streamid, passphrase }), 10_000, streamid);
    s.close();
  } catch (e) {
    assert.ok(e instanceof SrtRejectedError, `expected a rejection, got ${String(e)}`);
    return e.reason;
  }
  return assert.fail(`${streamid} was accepted; a refusal was expected`);
}

test('a flood of wrong-secret publishes larger than the gate table does not lock out a right-secret publisher', { timeout: 60_000 }, async (t) => {
  const gate = native.gateCreate(CAPACITY, 5000);
  native.gateDefaults(gate, NOT_FOUND, '', NOT_FOUND, '');
  native.gateSet(gate, 'cam', 0, SECRET, 0, SECRET, false);
  const server = listenBinding({}, { beforeListen: (l) => l.attachGate(gate, 0, '', 'ignore') });
  t.after(() => {
    server.close();
    native.gateDestroy(gate);
  });
  const flood = CAPACITY * 4;
  for (let i = 0; i < flood; i++) {
    const reason = await refusedWith(server.port, 'publish:cam', i % 2 === 0 ? 'a-wrong-secret-99' : undefined);
    assert.ok(reason === SRT_REJ_BADSECRET || reason === SRT_REJ_UNSECURE, `refusal ${i}: reason ${reason}`);
  }
  // The right secret is accepted with the gate's decision and its data is received.
  const pub = await withTimeout(connectBinding(server.port, { streamid: 'publish:cam', passphrase: SECRET }), 10_000, 'right secret');
  t.after(() => pub.close());
  const conn = await withTimeout(server.accepted(), 5000, 'accept of the right-secret publisher');
  assert.equal(conn.mode, MODE_PUBLISH, 'the right-secret publisher carries the gate decision (not "without a gate decision")');
  assert.equal(conn.resource, 'cam');
  const payload = new Uint8Array(188).fill(0x47);
  assert.equal(pub.send(payload), 188);
  const buf = new Uint8Array(1500);
  const deadline = Date.now() + 5000;
  let got = 0;
  while (got === 0 && Date.now() < deadline) {
    got = conn.socket.recv(buf);
    if (got === 0) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(got, 188, 'the publisher is served: its packet arrives');
  conn.socket.close();
  // Every libsrt refusal after the gate is counted and listed (stage 1), none left pending.
  const [, afterGate, , pending] = native.gateStats(gate);
  assert.equal(afterGate, flood, 'refusals after the gate counted');
  assert.equal(pending, 0, 'no accept entry left behind');
  const rows = native.gateRejections(gate).filter((r) => r[5] === 1);
  assert.equal(rows.length, flood, 'each refusal after the gate listed on this gate');
  assert.deepEqual(native.gateHostSessions(gate), [], 'refused callers never count as host sessions');
});

test('a refused explicit publish does not make an idle stream live: a viewer then gets 1404, a plain name publishes', { timeout: 30_000 }, async (t) => {
  const gate = native.gateCreate();
  native.gateDefaults(gate, NOT_FOUND, '', NOT_FOUND, '');
  native.gateSet(gate, 'idle', 0, '', NOT_FOUND, '', false);
  const server = listenBinding({}, { beforeListen: (l) => l.attachGate(gate, 0, '', 'ignore') });
  t.after(() => {
    server.close();
    native.gateDestroy(gate);
  });
  // The stream uses no passphrase; a caller with one is refused by libsrt after the gate said yes.
  const reason = await refusedWith(server.port, '#!::r=idle,m=publish', 'a-secret-the-stream-has-not');
  assert.ok(reason === SRT_REJ_BADSECRET || reason === SRT_REJ_UNSECURE, `refused by libsrt (${reason})`);
  assert.equal(await refusedWith(server.port, 'read:idle'), NOT_FOUND, 'a viewer of the idle stream gets 1404');
  const plain = await withTimeout(connectBinding(server.port, { streamid: 'idle' }), 10_000, 'plain-name publisher');
  t.after(() => plain.close());
  const conn = await withTimeout(server.accepted(), 5000, 'accept plain name');
  assert.equal(conn.mode, MODE_PUBLISH, 'a plain-name caller publishes (not taken for a viewer)');
  assert.notEqual(conn.mode, MODE_PLAY);
  conn.socket.close();
});
