/**
 * The FEC packet filter through the binding: `packetfilter=fec,cols:10,rows:5` negotiates with
 * another binding and with srt-live-transmit, FEC packets are sent, and a TS file arrives
 * byte-identical. libsrt 1.5.1 negotiation rules (checked here): a side without a filter adopts
 * the peer's; keys one side leaves out take the peer's value; the same keys with different
 * values (cols/rows) reject the connection with SRT_REJ_FILTER (14).
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
const FEC = 'fec,cols:10,rows:5';
const SRT_REJ_FILTER = 14;

/** Parses libsrt's normalised filter string ("fec,arq:onreq,cols:10,...") into its keys. */
function filterKeys(config: unknown): Record<string, string> {
  assert.equal(typeof config, 'string');
  const [type, ...params] = (config as string).split(',');
  const out: Record<string, string> = { type: type ?? '' };
  for (const p of params) {
    const [k, v] = p.split(':');
    if (k !== undefined) out[k] = v ?? '';
  }
  return out;
}

async function bindingTransfer(
  t: { after(fn: () => unknown): void },
  listenerOptions: Options,
  callerOptions: Options,
): Promise<{ caller: Record<string, unknown>; listener: Record<string, unknown>; extraSent: number; extraRecv: number }> {
  const data = await tsFixtureBytes();
  const server = listenBinding({ latency: LATENCY, ...listenerOptions });
  t.after(() => server.close());
  const caller = await connectBinding(server.port, { latency: LATENCY, ...callerOptions });
  t.after(() => caller.close());
  const conn = await withTimeout(server.accepted(), 5000, 'accept');
  const received = receiveDetailed(conn.socket, { untilBytes: data.length, timeoutMs: 15_000 });
  await sendFile(caller, data);
  const r = await received;
  assert.equal(r.data.length, data.length);
  assert.ok(r.data.equals(data), 'the file arrived byte-identical');
  return {
    caller: filterKeys(caller.getOption('packetfilter')),
    listener: filterKeys(conn.socket.getOption('packetfilter')),
    extraSent: caller.stats()?.['pktSndFilterExtraTotal'] ?? 0,
    extraRecv: conn.socket.stats()?.['pktRcvFilterExtraTotal'] ?? 0,
  };
}

test('binding ↔ binding with fec,cols:10,rows:5 on both sides: FEC is negotiated and the file arrives byte-identical', { timeout: 30_000 }, async (t) => {
  const r = await bindingTransfer(t, { packetfilter: FEC }, { packetfilter: FEC });
  for (const side of [r.caller, r.listener]) {
    assert.equal(side['type'], 'fec');
    assert.equal(side['cols'], '10');
    assert.equal(side['rows'], '5');
  }
  assert.ok(r.extraSent > 0, 'the sender sent FEC packets');
  assert.ok(r.extraRecv > 0, 'the receiver got FEC packets');
});

test('binding ↔ binding with FEC on the listener only: the caller adopts it', { timeout: 30_000 }, async (t) => {
  const r = await bindingTransfer(t, { packetfilter: FEC }, {});
  assert.equal(r.caller['type'], 'fec');
  assert.equal(r.caller['cols'], '10');
  assert.equal(r.caller['rows'], '5');
  assert.ok(r.extraSent > 0, 'the caller sends FEC packets');
});

test('binding ↔ binding where one side leaves rows out: the peer value is used', { timeout: 30_000 }, async (t) => {
  const r = await bindingTransfer(t, { packetfilter: 'fec,cols:10' }, { packetfilter: FEC });
  assert.equal(r.caller['rows'], '5');
  assert.equal(r.listener['rows'], '5');
});

for (const other of ['fec,cols:5,rows:5', 'fec,cols:10,rows:4']) {
  test(`binding ↔ binding with ${FEC} against ${other}: the caller is rejected with SRT_REJ_FILTER (14)`, { timeout: 30_000 }, async (t) => {
    const server = listenBinding({ packetfilter: FEC });
    t.after(() => server.close());
    await assert.rejects(withTimeout(connectBinding(server.port, { packetfilter: other }), 10_000, 'connect'), (err: unknown) => {
      assert.ok(err instanceof SrtRejectedError, String(err));
      assert.equal(err.reason, SRT_REJ_FILTER, err.message);
      return true;
    });
    assert.equal(server.connections.length, 0, 'the listener accepted nothing');
  });
}

test('binding caller → srt-live-transmit listener, both with fec,cols:10,rows:5: the file arrives byte-identical', { timeout: 30_000 }, async (t) => {
  const data = await tsFixtureBytes();
  const port = await freeUdpPort();
  const slt = startSlt(t, srtUrl('127.0.0.1', port, { mode: 'listener', latency: LATENCY, packetfilter: FEC }), 'file://con');
  await waitUdpBound(port);
  const caller = await connectBinding(port, { latency: LATENCY, packetfilter: FEC });
  t.after(() => caller.close());
  const negotiated = filterKeys(caller.getOption('packetfilter'));
  assert.equal(negotiated['cols'], '10');
  assert.equal(negotiated['rows'], '5');
  await sendFile(caller, data);
  await waitDelivered(caller, SLT_DRAIN_MS);
  assert.ok((caller.stats()?.['pktSndFilterExtraTotal'] ?? 0) > 0, 'FEC packets were sent');
  caller.close();
  const exit = await slt.waitExit(10_000);
  assert.equal(exit.code, 0, slt.output());
  assert.equal(slt.stdout().length, data.length, slt.output());
  assert.ok(slt.stdout().equals(data), 'srt-live-transmit wrote the bytes the binding sent');
});

test('srt-live-transmit caller → binding listener, both with fec,cols:10,rows:5: the file arrives byte-identical', { timeout: 30_000 }, async (t) => {
  // srt-live-transmit's default -chunk (1456) exceeds what libsrt sends with FEC (1452: the filter
  // takes 4 bytes): at its default it logs "payload size: 1456 exceeds maximum allowed 1452" and
  // sends nothing. With FEC it needs -chunk ≤ 1452; 1316 is what encoders send.
  const data = wholeChunks(await tsFixtureBytes(), 1316);
  const server = listenBinding({ latency: LATENCY, packetfilter: FEC });
  t.after(() => server.close());
  const slt = startSlt(t, 'file://con', srtUrl('127.0.0.1', server.port, { latency: LATENCY, packetfilter: FEC }), ['-chunk:1316']);
  const conn = await withTimeout(server.accepted(), 10_000, 'accept srt-live-transmit');
  const received = receiveDetailed(conn.socket, { untilBytes: data.length, timeoutMs: 15_000 });
  await slt.waitForLine('SRT target connected', { stream: 'stderr' });
  slt.child.stdin?.end(data);
  const r = await received;
  assert.equal(r.data.length, data.length, slt.output());
  assert.ok(r.data.equals(data), 'the binding received what srt-live-transmit sent');
  assert.ok((conn.socket.stats()?.['pktRcvFilterExtraTotal'] ?? 0) > 0, 'FEC packets were received');
});

test('binding caller with fec,cols:5,rows:5 → srt-live-transmit listener with fec,cols:10,rows:5: rejected with SRT_REJ_FILTER (14)', { timeout: 30_000 }, async (t) => {
  const port = await freeUdpPort();
  startSlt(t, srtUrl('127.0.0.1', port, { mode: 'listener', packetfilter: FEC }), 'file://con');
  await waitUdpBound(port);
  await assert.rejects(withTimeout(connectBinding(port, { packetfilter: 'fec,cols:5,rows:5' }), 10_000, 'connect'), (err: unknown) => {
    assert.ok(err instanceof SrtRejectedError, String(err));
    assert.equal(err.reason, SRT_REJ_FILTER, err.message);
    return true;
  });
});
