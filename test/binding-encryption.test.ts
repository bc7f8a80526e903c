/**
 * Encryption through the binding: with the same passphrase (AES-128 and AES-256) a connection is
 * made and data arrives intact, with another binding and with srt-live-transmit; a wrong
 * passphrase or a passphrase on one side only makes the caller's connect() reject with the
 * libsrt reason (SRT_REJ_BADSECRET = 10, SRT_REJ_UNSECURE = 11).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SrtRejectedError } from '../src/errors.js';
import { freeUdpPort, waitUdpBound } from './helpers/free-port.js';
import { startSlt, srtUrl, wholeChunks } from './helpers/slt.js';
import {
  connectBinding,
  listenBinding,
  receiveDetailed,
  sendFile,
  waitDelivered,
  withTimeout,
  type Options,
} from './helpers/srt-io.js';
import { tsFixtureBytes } from './helpers/ts-fixture.js';

const LATENCY = 200;
/** After the last ACK: srt-live-transmit must read everything (TSBPD delay + scheduling slack) before the close, which it acts on at once. */
const SLT_DRAIN_MS = LATENCY + 1300;
const PASSPHRASE = 'relay-test-secret-1';
const OTHER_PASSPHRASE = 'relay-test-secret-2';
const SRT_REJ_BADSECRET = 10;
const SRT_REJ_UNSECURE = 11;
/** SRTO_KMSTATE value of an encrypted connection whose keys agree (SRT_KM_S_SECURED). */
const SRT_KM_S_SECURED = 2;

async function assertRejected(p: Promise<unknown>, reason: number, what: string): Promise<void> {
  await assert.rejects(withTimeout(p, 10_000, what), (err: unknown) => {
    assert.ok(err instanceof SrtRejectedError, `${what}: expected SrtRejectedError, got ${String(err)}`);
    assert.equal(err.reason, reason, `${what}: ${err.message}`);
    return true;
  });
}

for (const pbkeylen of [16, 32]) {
  test(`binding caller and binding listener with passphrase and pbkeylen ${pbkeylen}: connected, encrypted, data intact`, { timeout: 30_000 }, async (t) => {
    const data = await tsFixtureBytes();
    const secret: Options = { latency: LATENCY, passphrase: PASSPHRASE, pbkeylen };
    const server = listenBinding(secret);
    t.after(() => server.close());
    const caller = await connectBinding(server.port, secret);
    t.after(() => caller.close());
    const conn = await withTimeout(server.accepted(), 5000, 'accept');

    assert.equal(caller.getOption('pbkeylen'), pbkeylen);
    assert.equal(conn.socket.getOption('pbkeylen'), pbkeylen);
    assert.equal(caller.getOption('kmstate'), SRT_KM_S_SECURED);
    assert.equal(conn.socket.getOption('kmstate'), SRT_KM_S_SECURED);

    const received = receiveDetailed(conn.socket, { untilBytes: data.length, timeoutMs: 15_000 });
    await sendFile(caller, data);
    const r = await received;
    assert.equal(r.data.length, data.length);
    assert.ok(r.data.equals(data), 'decrypted bytes equal the sent bytes');
    assert.equal(conn.socket.stats()?.['pktRcvUndecryptTotal'], 0, 'no packet failed to decrypt');
  });

  test(`binding caller to srt-live-transmit listener with passphrase and pbkeylen ${pbkeylen}: data intact`, { timeout: 30_000 }, async (t) => {
    const data = await tsFixtureBytes();
    const port = await freeUdpPort();
    const slt = startSlt(
      t,
      srtUrl('127.0.0.1', port, { mode: 'listener', latency: LATENCY, passphrase: PASSPHRASE, pbkeylen }),
      'file://con',
    );
    await waitUdpBound(port);
    const caller = await connectBinding(port, { latency: LATENCY, passphrase: PASSPHRASE, pbkeylen });
    t.after(() => caller.close());
    assert.equal(caller.getOption('kmstate'), SRT_KM_S_SECURED);
    await sendFile(caller, data);
    await waitDelivered(caller, SLT_DRAIN_MS);
    caller.close();
    const exit = await slt.waitExit(10_000);
    assert.equal(exit.code, 0, slt.output());
    assert.equal(slt.stdout().length, data.length, slt.output());
    assert.ok(slt.stdout().equals(data), 'srt-live-transmit wrote the bytes the binding sent');
  });

  test(`srt-live-transmit caller to binding listener with passphrase and pbkeylen ${pbkeylen}: data intact`, { timeout: 30_000 }, async (t) => {
    const data = wholeChunks(await tsFixtureBytes());
    const server = listenBinding({ latency: LATENCY, passphrase: PASSPHRASE, pbkeylen });
    t.after(() => server.close());
    const slt = startSlt(
      t,
      'file://con',
      srtUrl('127.0.0.1', server.port, { latency: LATENCY, passphrase: PASSPHRASE, pbkeylen }),
    );
    const conn = await withTimeout(server.accepted(), 10_000, 'accept srt-live-transmit');
    assert.equal(conn.socket.getOption('pbkeylen'), pbkeylen);
    assert.equal(conn.socket.getOption('kmstate'), SRT_KM_S_SECURED);
    const received = receiveDetailed(conn.socket, { untilBytes: data.length, timeoutMs: 15_000 });
    await slt.waitForLine('SRT target connected', { stream: 'stderr' });
    slt.child.stdin?.end(data);
    const r = await received;
    assert.equal(r.data.length, data.length, slt.output());
    assert.ok(r.data.equals(data), 'the binding decrypted what srt-live-transmit sent');
  });
}

test('wrong passphrase: the binding caller is rejected with SRT_REJ_BADSECRET (10)', { timeout: 30_000 }, async (t) => {
  const server = listenBinding({ passphrase: PASSPHRASE, pbkeylen: 16 });
  t.after(() => server.close());
  await assertRejected(
    connectBinding(server.port, { passphrase: OTHER_PASSPHRASE, pbkeylen: 16 }),
    SRT_REJ_BADSECRET,
    'connect with the wrong passphrase',
  );
  assert.equal(server.connections.length, 0, 'the listener accepted nothing');
});

test('wrong passphrase against srt-live-transmit: the binding caller is rejected with SRT_REJ_BADSECRET (10)', { timeout: 30_000 }, async (t) => {
  const port = await freeUdpPort();
  startSlt(t, srtUrl('127.0.0.1', port, { mode: 'listener', passphrase: PASSPHRASE }), 'file://con');
  await waitUdpBound(port);
  await assertRejected(
    connectBinding(port, { passphrase: OTHER_PASSPHRASE }),
    SRT_REJ_BADSECRET,
    'connect to srt-live-transmit with the wrong passphrase',
  );
});

test('passphrase on the listener only: the binding caller is rejected with SRT_REJ_UNSECURE (11)', { timeout: 30_000 }, async (t) => {
  const server = listenBinding({ passphrase: PASSPHRASE });
  t.after(() => server.close());
  await assertRejected(connectBinding(server.port, {}), SRT_REJ_UNSECURE, 'connect without a passphrase');
  assert.equal(server.connections.length, 0, 'the listener accepted nothing');
});

test('passphrase on the caller only: the binding caller is rejected with SRT_REJ_UNSECURE (11)', { timeout: 30_000 }, async (t) => {
  const server = listenBinding({});
  t.after(() => server.close());
  await assertRejected(
    connectBinding(server.port, { passphrase: PASSPHRASE }),
    SRT_REJ_UNSECURE,
    'connect with a passphrase to a listener without one',
  );
  assert.equal(server.connections.length, 0, 'the listener accepted nothing');
});
