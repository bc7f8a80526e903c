/**
 * Signals a process manager or logrotate may send (issue 13 item 8): SIGHUP, SIGUSR1 and SIGUSR2
 * to a real `bin/srt-relay.js` are logged and ignored. The node stays up, `/healthz` answers, a
 * playing viewer keeps receiving and a new publisher and viewer work after the signal; SIGUSR1
 * opens no inspector. Node's inspector port is set to a free port (`--inspect-port` in
 * NODE_OPTIONS; it only opens on SIGUSR1), so a debugger some other process holds on 9229 can
 * neither hide nor fake the result.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { freeTcpPort } from './helpers/redis-server.js';
import type { AfterHook } from './helpers/processes.js';
import { startRelayProcess, type RelayProcess } from './helpers/relay-process.js';
import { connectFor, countingReceiver, pacedPublisher, waitFor, type CountingReceiver } from './helpers/relay-harness.js';

/** Resolves 'refused' when nothing listens on 127.0.0.1:`port`, 'open' when a connection is accepted. */
function probeTcp(port: number): Promise<'open' | 'refused'> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve('open');
    });
    s.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? resolve('refused') : reject(err)));
  });
}

/** A publisher of `stream` at 200 packets/s and one viewer of it that has received 50 packets. */
async function playing(t: AfterHook, node: RelayProcess, stream: string): Promise<CountingReceiver> {
  const pub = await connectFor(t, node.srtPort, { streamid: `publish:${stream}` });
  const p = pacedPublisher(pub, { pps: 200 });
  t.after(() => p.stop());
  await waitFor(async () => (await node.api<{ sessions: Array<{ kind: string; stream: string }> }>('/api/v1/sessions')).body.sessions.some((s) => s.kind === 'publisher' && s.stream === stream), `publisher of '${stream}' listed`);
  const viewer = await connectFor(t, node.srtPort, { streamid: `read:${stream}` });
  const rx = countingReceiver(viewer);
  await waitFor(() => rx.packets >= 50, `the viewer of '${stream}' receives (${rx.packets} packets)`, 15_000);
  return rx;
}

async function signalIsIgnored(t: AfterHook, signal: 'SIGHUP' | 'SIGUSR1' | 'SIGUSR2'): Promise<void> {
  const inspectPort = await freeTcpPort();
  const node = await startRelayProcess(t, {
    workers: 1,
    logLevel: 'info',
    env: { ...process.env, NODE_OPTIONS: `--inspect-port=127.0.0.1:${inspectPort}` },
  });
  const before = await playing(t, node, 'before');
  assert.equal(await probeTcp(inspectPort), 'refused', 'no inspector before the signal');

  node.proc.child.kill(signal);
  // The node's log line says the signal arrived and was handled (it fails if the node dies first).
  const line = await node.proc.waitForLine(`"signal":"${signal}"`, { timeoutMs: 10_000 });
  assert.match(line, signal === 'SIGHUP' ? /nothing to reload/ : /received and ignored/);

  assert.equal(node.proc.exit, undefined, `the node is still running after ${signal}\n${node.proc.output()}`);
  const health = await node.api<{ status: string }>('/healthz');
  assert.equal(health.status, 200);
  assert.equal(health.body.status, 'ok');
  const mark = before.packets;
  await waitFor(() => before.packets >= mark + 50, `the viewer playing before ${signal} keeps receiving`, 15_000);
  assert.equal(before.closed, false);
  assert.equal(before.corrupt, 0);
  const after = await playing(t, node, 'after');
  assert.equal(after.corrupt, 0);

  assert.equal(await probeTcp(inspectPort), 'refused', `no inspector opened on ${signal}`);
  assert.doesNotMatch(node.proc.stderr(), /Debugger listening/);
  assert.equal(node.proc.exit, undefined);
}

test('SIGHUP without a config file is logged ("nothing to reload") and does not stop the node: /healthz ok, viewers keep receiving, a new publisher and viewer work', { timeout: 60_000 }, async (t) => {
  await signalIsIgnored(t, 'SIGHUP');
});

test('SIGUSR1 is logged and ignored: no inspector opens, the node keeps serving /healthz, its viewers and a new publisher and viewer', { timeout: 60_000 }, async (t) => {
  await signalIsIgnored(t, 'SIGUSR1');
});

test('SIGUSR2 is logged and ignored: the node keeps running (no exit 140), /healthz ok, viewers keep receiving, a new publisher and viewer work', { timeout: 60_000 }, async (t) => {
  await signalIsIgnored(t, 'SIGUSR2');
});
