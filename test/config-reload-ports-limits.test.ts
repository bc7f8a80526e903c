/**
 * Reloading `srt.ports` and `limits` in a running `bin/srt-relay.js` (SIGHUP): a port added to the
 * file is opened, a port removed is closed and its sessions ended (logged), and the viewers of
 * the main port lose nothing meanwhile; changed limits apply to the next callers without a
 * restart. Peers: libsrt through the addon (a sequence-numbered publisher and counted viewers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AfterHook } from './helpers/processes.js';
import { freeUdpPort } from './helpers/free-port.js';
import { linesWith, nthLine, tempDir } from './helpers/process-logs.js';
import { startRelayProcess, type RelayProcess } from './helpers/relay-process.js';
import { connectFor, countingReceiver, pacedPublisher, rejectReason, startRelay, waitFor, type CountingReceiver } from './helpers/relay-harness.js';
import { connectBinding } from './helpers/srt-io.js';


interface SessionsBody {
  sessions: Array<{ id: number; kind: string; stream: string }>;
}

async function viewerIds(node: RelayProcess, stream: string): Promise<number[]> {
  return (await node.api<SessionsBody>('/api/v1/sessions')).body.sessions.filter((s) => s.kind === 'viewer' && s.stream === stream).map((s) => s.id).sort((a, b) => a - b);
}

async function publish(t: AfterHook, node: RelayProcess, stream: string): Promise<void> {
  const pub = await connectFor(t, node.srtPort, { streamid: `publish:${stream}` });
  const p = pacedPublisher(pub, { pps: 200 });
  t.after(() => p.stop());
  await waitFor(async () => (await node.api<SessionsBody>('/api/v1/sessions')).body.sessions.some((s) => s.kind === 'publisher' && s.stream === stream), `publisher of '${stream}'`);
}

async function viewer(t: AfterHook, port: number, stream: string): Promise<CountingReceiver> {
  const rx = countingReceiver(await connectFor(t, port, { streamid: `read:${stream}` }));
  await waitFor(() => rx.packets >= 50, `viewer of '${stream}' on port ${port} receives (${rx.packets})`, 15_000);
  return rx;
}

/** The file: the main port (its number comes from --srt-port) and, with `second`, another port. */
function portsFile(second?: number): string {
  return `srt:
  ports:
    - port: 1
      direction: both
${second !== undefined ? `    - port: ${second}\n      host: 127.0.0.1\n      direction: both\n` : ''}streams:
  cam:
    source: push://
`;
}

test('SIGHUP opens a port added to srt.ports and closes one removed (its sessions ended, logged); a viewer on the main port loses no packet', { timeout: 90_000 }, async (t) => {
  const dir = await tempDir(t, 'srt-relay-reload-ports-');
  const file = join(dir, 'srt-relay.yml');
  const second = await freeUdpPort();
  await writeFile(file, portsFile());
  const node = await startRelayProcess(t, { workers: 1, args: ['--config', file] });
  await publish(t, node, 'cam');
  const main = await viewer(t, node.srtPort, 'cam');
  const mainViewers = await viewerIds(node, 'cam');
  await assert.rejects(connectBinding(second, { streamid: 'read:cam', conntimeo: 1500 }), 'the second port is not open yet');

  // Added: the port opens and serves.
  await writeFile(file, portsFile(second));
  node.proc.child.kill('SIGHUP');
  assert.match(await nthLine(node.proc, `SRT port 127.0.0.1:${second} added`, 1), /"trigger":"SIGHUP"/);
  const reloaded = await nthLine(node.proc, '"config reloaded"', 1);
  assert.match(reloaded, new RegExp(`"portsAdded":\\["127\\.0\\.0\\.1:${second}"\\]`));
  assert.equal(linesWith(node.proc, 'needs a restart').length, 0, 'adding a port needs no restart');
  const onSecond = await viewer(t, second, 'cam');
  const node1 = await node.api<{ ports: Array<{ port: number }> }>('/api/v1/node');
  assert.deepEqual(node1.body.ports.map((p) => p.port), [node.srtPort, second], 'GET /api/v1/node shows the ports in force');

  // Removed: its listener is closed and its viewer ended; the main port's viewer goes on.
  const mark = main.packets;
  await writeFile(file, portsFile());
  node.proc.child.kill('SIGHUP');
  const removed = await nthLine(node.proc, `SRT port 127.0.0.1:${second} removed`, 1);
  assert.match(removed, /listener closed, 1 session\(s\) on it ended/);
  await onSecond.closedPromise;
  await assert.rejects(connectBinding(second, { streamid: 'read:cam', conntimeo: 1500 }), 'nothing answers on the removed port');
  await waitFor(() => main.packets >= mark + 200, `the main port's viewer keeps receiving (${main.packets - mark})`, 15_000);
  assert.equal(main.closed, false);
  assert.equal(main.discontinuities, 0, 'no packet lost or repeated across both reloads');
  assert.equal(main.corrupt, 0);
  assert.deepEqual(await viewerIds(node, 'cam'), mainViewers, 'the main port keeps the same viewer session');
  const node2 = await node.api<{ ports: Array<{ port: number }> }>('/api/v1/node');
  assert.deepEqual(node2.body.ports.map((p) => p.port), [node.srtPort]);
  assert.equal(node.proc.exit, undefined);
});

test('SIGHUP applies changed limits to the next callers (maxViewersPerStream), without a restart; a key that still needs one is named', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t, 'srt-relay-reload-ports-');
  const file = join(dir, 'srt-relay.yml');
  await writeFile(file, 'streams:\n  cam:\n    source: push://\n');
  const node = await startRelayProcess(t, { workers: 1, args: ['--config', file] });
  await publish(t, node, 'cam');
  const first = await viewer(t, node.srtPort, 'cam');

  await writeFile(file, 'streams:\n  cam:\n    source: push://\nlimits:\n  maxViewersPerStream: 1\nnodeId: renamed-node\n');
  node.proc.child.kill('SIGHUP');
  assert.match(await nthLine(node.proc, '"config reloaded"', 1), /"limitsChanged":true/);
  const restart = await nthLine(node.proc, 'needs a restart', 1);
  assert.match(restart, /config reload: nodeId changed and needs a restart/);
  assert.doesNotMatch(restart, /limits/, 'limits are applied, not named as needing a restart');
  assert.equal(await rejectReason(node.srtPort, { streamid: 'read:cam' }), 1503, 'a second viewer is over the new limit');
  assert.equal(first.closed, false, 'the viewer already there stays');
  const limits = (await node.api<{ limits: { maxViewersPerStream?: number } }>('/api/v1/node')).body.limits;
  assert.equal(limits.maxViewersPerStream, 1, 'GET /api/v1/node shows the limits in force');

  await writeFile(file, 'streams:\n  cam:\n    source: push://\nnodeId: renamed-node\n');
  node.proc.child.kill('SIGHUP');
  await nthLine(node.proc, '"config reloaded"', 2);
  await viewer(t, node.srtPort, 'cam'); // the limit is gone: a second viewer is served
  assert.equal(node.proc.exit, undefined);
});

test('removing one of two SRT ports with the same number on different addresses ends only the sessions that came in on it', { timeout: 60_000 }, async (t) => {
  const { relay, port } = await startRelay(t, { workers: 1 });
  relay.addPort({ port, host: '127.0.0.2', direction: 'both', params: { latency: 200 }, reusePort: 1 });
  const pub = await connectFor(t, port, { streamid: 'publish:cam' });
  const p = pacedPublisher(pub, { pps: 200 });
  t.after(() => p.stop());
  await waitFor(() => relay.getStream('cam')?.publisher !== undefined, 'the publisher on 127.0.0.1');
  const staying = countingReceiver(await connectFor(t, port, { streamid: 'read:cam' }));
  const leavingSocket = await connectBinding(port, { streamid: 'read:cam', latency: 200 }, '127.0.0.2');
  t.after(() => leavingSocket.close());
  const leaving = countingReceiver(leavingSocket);
  await waitFor(() => staying.packets >= 50 && leaving.packets >= 50, `both viewers receive (${staying.packets}, ${leaving.packets})`, 15_000);
  const viewersBefore = relay.listSessions().filter((s) => s.kind === 'viewer').map((s) => s.id);
  assert.equal(viewersBefore.length, 2);

  assert.equal(relay.removePort('127.0.0.2', port), 1, 'one session came in on 127.0.0.2');
  await leaving.closedPromise;
  const mark = staying.packets;
  await waitFor(() => staying.packets >= mark + 100, `the 127.0.0.1 viewer keeps receiving (${staying.packets - mark})`, 15_000);
  assert.equal(staying.closed, false);
  assert.equal(relay.listSessions().filter((s) => s.kind === 'viewer').length, 1, 'only the 127.0.0.1 viewer is left');
  assert.notEqual(relay.getStream('cam')?.publisher, undefined, 'the publisher (127.0.0.1) stays');
  await assert.rejects(connectBinding(port, { streamid: 'read:cam', conntimeo: 1500 }, '127.0.0.2'), 'nothing answers on 127.0.0.2 any more');
});
