/**
 * An exception in one reactor handler (issue 13, item 4): Node 20 swallows exceptions thrown in
 * N-API callbacks, so a throw that escapes the reactor's batch drops every later event of it, and
 * with edge-triggered epoll those sockets may never wake again. Each handler's exception must be
 * caught and reported with its socket, and the rest of the batch handled; an accept loop whose
 * connection handler throws must still drain libsrt's accept queue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../src/srt/native.js';
import { setHandlerErrorReporter, type HandlerErrorContext } from '../src/srt/reactor.js';
import { SrtListener, type AcceptedConnection, type SrtSocket } from '../src/srt/socket.js';
import { freeUdpPort } from './helpers/free-port.js';
import { waitFor } from './helpers/relay-harness.js';
import { connectBinding } from './helpers/srt-io.js';

/** Events that arrive within this many µs go to JavaScript in one batch. */
const BATCH_US = 200_000;

test('a connection handler that throws does not stop the accept loop: every queued caller and every later one is accepted, and the throw is reported with the listener', { timeout: 60_000 }, async (t) => {
  const reports: Array<{ err: unknown; ctx: HandlerErrorContext }> = [];
  const restore = setHandlerErrorReporter((err, ctx) => reports.push({ err, ctx }));
  t.after(restore);
  native.setReactorQuantum(BATCH_US); // the callers' connections reach JS in one batch
  t.after(() => native.setReactorQuantum(2000));
  const port = await freeUdpPort();
  const listener = SrtListener.create('127.0.0.1', port, { latency: 120 });
  t.after(() => listener.close());
  const got: AcceptedConnection[] = [];
  let calls = 0;
  listener.listen((c) => {
    t.after(() => c.socket.close());
    if (calls++ === 0) throw new Error('handler bug (test)');
    got.push(c);
  });
  // The caller whose handler threw is closed by the listener: its connect may fail.
  const settled = await Promise.allSettled(Array.from({ length: 6 }, () => connectBinding(port, { latency: 120 })));
  for (const c of settled) if (c.status === 'fulfilled') t.after(() => c.value.close());
  await waitFor(() => got.length === 5, `the 5 callers queued behind the one whose handler threw are accepted (${got.length})`, 10_000);
  native.setReactorQuantum(2000);
  const late = await connectBinding(port, { latency: 120 });
  t.after(() => late.close());
  await waitFor(() => got.length === 6, 'a caller after the throw is accepted', 10_000);
  assert.equal(reports.length, 1, 'the exception was reported once');
  assert.match(String(reports[0]!.err), /handler bug/);
  assert.equal(reports[0]!.ctx.listener, listener.id, 'the report names the listener');
  assert.equal(typeof reports[0]!.ctx.socket, 'number', 'and the accepted socket');
});

test('a socket handler that throws does not stop the other sockets of its batch; the throw is reported with its socket', { timeout: 60_000 }, async (t) => {
  const reports: Array<{ err: unknown; ctx: HandlerErrorContext }> = [];
  const restore = setHandlerErrorReporter((err, ctx) => reports.push({ err, ctx }));
  t.after(restore);
  const port = await freeUdpPort();
  const listener = SrtListener.create('127.0.0.1', port, { latency: 120 });
  t.after(() => listener.close());
  const accepted: SrtSocket[] = [];
  listener.listen((c) => {
    t.after(() => c.socket.close());
    accepted.push(c.socket);
  });
  const a = await connectBinding(port, { latency: 120 });
  t.after(() => a.close());
  await waitFor(() => accepted.length === 1, 'first caller accepted');
  const b = await connectBinding(port, { latency: 120 });
  t.after(() => b.close());
  await waitFor(() => accepted.length === 2, 'second caller accepted');
  const [sa, sb] = accepted as [SrtSocket, SrtSocket];
  let bRead = 0;
  const buf = new Uint8Array(1500);
  sa.on({ readable: () => { throw new Error('readable handler bug (test)'); } });
  sb.on({ readable: () => { while (sb.recv(buf) > 0) bRead++; } });
  native.setReactorQuantum(BATCH_US);
  t.after(() => native.setReactorQuantum(2000));
  // Data for A first, then B: both readable events reach JS in one batch, A's first.
  a.send(Buffer.alloc(1316, 1));
  b.send(Buffer.alloc(1316, 2));
  await waitFor(() => bRead === 1, 'B read its message although A’s handler threw before it in the batch', 10_000);
  assert.equal(reports.length >= 1, true, 'the exception was reported');
  assert.equal(reports[0]!.ctx.socket, sa.id, 'the report names the socket whose handler threw');
});
