/**
 * Reloading the config file of a running `bin/srt-relay.js` (SIGHUP, --watch-config): streams,
 * pushes and auth change live as the HTTP API shows, keys that cannot change live are logged as
 * needing a restart, a file with errors changes nothing and is logged with line:column, and the
 * viewers of a stream the reload did not change keep their sessions and every packet.
 * Peers: ffmpeg publishes, srt-live-transmit plays; a sequence-numbered publisher and viewer
 * (libsrt through the addon) count lost packets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AfterHook } from './helpers/processes.js';
import { freeUdpPort } from './helpers/free-port.js';
import { nthLine, tempDir } from './helpers/process-logs.js';
import { startRelayProcess, type RelayProcess } from './helpers/relay-process.js';
import { connectFor, countingReceiver, pacedPublisher, waitFor, type CountingReceiver } from './helpers/relay-harness.js';
import { ffmpegLiveEncoder, srtUrl } from './helpers/media.js';
import { startSlt } from './helpers/slt.js';


interface StreamsBody {
  streams: Array<{ name: string; source: string; configured: boolean; viewers: number }>;
}
interface SessionsBody {
  sessions: Array<{ id: number; kind: string; stream: string }>;
}

async function streams(node: RelayProcess): Promise<Map<string, StreamsBody['streams'][number]>> {
  return new Map((await node.api<StreamsBody>('/api/v1/streams')).body.streams.map((s) => [s.name, s]));
}

async function viewerIds(node: RelayProcess, stream: string): Promise<number[]> {
  return (await node.api<SessionsBody>('/api/v1/sessions')).body.sessions.filter((s) => s.kind === 'viewer' && s.stream === stream).map((s) => s.id);
}

/** A sequence-numbered publisher of `stream` and a viewer counting every packet. */
async function countedViewer(t: AfterHook, node: RelayProcess, stream: string): Promise<CountingReceiver> {
  const pub = await connectFor(t, node.srtPort, { streamid: `publish:${stream}` });
  const p = pacedPublisher(pub, { pps: 200 });
  t.after(() => p.stop());
  await waitFor(async () => (await node.api<SessionsBody>('/api/v1/sessions')).body.sessions.some((s) => s.kind === 'publisher' && s.stream === stream), `publisher of '${stream}'`);
  const rx = countingReceiver(await connectFor(t, node.srtPort, { streamid: `read:${stream}` }));
  await waitFor(() => rx.packets >= 50, `viewer of '${stream}' receives (${rx.packets})`, 15_000);
  return rx;
}

test('SIGHUP applies the edited file: a stream added, one changed, one removed, a push and auth set, the restart-only key named; viewers of unchanged streams keep their sessions and every packet', { timeout: 90_000 }, async (t) => {
  const dir = await tempDir(t, 'srt-relay-reload-');
  const file = join(dir, 'srt-relay.yml');
  const listenPort = await freeUdpPort();
  const pushPort = await freeUdpPort();
  await writeFile(
    file,
    `# first version
streams:
  keep:
    source: push://
  counted:
    source: push://
  change:
    source: push://
  gone:
    source: push://
`,
  );
  const node = await startRelayProcess(t, { workers: 1, args: ['--config', file] });
  const before = await streams(node);
  assert.deepEqual([...before.keys()].sort(), ['change', 'counted', 'gone', 'keep']);

  // ffmpeg publishes "keep", srt-live-transmit plays it; a counted viewer plays "counted".
  ffmpegLiveEncoder(t, srtUrl(node.srtPort, 'publish:keep'));
  await waitFor(async () => (await streams(node)).get('keep')?.source !== undefined && (await node.api<SessionsBody>('/api/v1/sessions')).body.sessions.some((s) => s.kind === 'publisher' && s.stream === 'keep'), 'ffmpeg publishes keep', 20_000);
  const slt = startSlt(t, `srt://127.0.0.1:${node.srtPort}?streamid=read:keep`, 'file://con');
  await waitFor(() => slt.stdout().length > 50_000, `srt-live-transmit receives keep (${slt.stdout().length} bytes)`, 20_000);
  const keepViewers = await viewerIds(node, 'keep');
  assert.equal(keepViewers.length, 1);
  const counted = await countedViewer(t, node, 'counted');

  await writeFile(
    file,
    `# second version: "gone" removed, "change" now listens, "added" new, a push, auth, a new node id
streams:
  keep:
    source: push://
  counted:
    source: push://
  change:
    source: srt://:${listenPort}
  added:
    source: push://
pushes:
  - stream: keep
    target: srt://127.0.0.1:${pushPort}
auth:
  timeoutMs: 1500
nodeId: renamed-node
`,
  );
  const mark = { counted: counted.packets, slt: slt.stdout().length };
  node.proc.child.kill('SIGHUP');
  const applied = await nthLine(node.proc, '"config reloaded"', 1);
  assert.match(applied, /"trigger":"SIGHUP"/);
  const restart = await nthLine(node.proc, 'needs a restart', 1);
  assert.match(restart, /nodeId changed and needs a restart/);

  const after = await streams(node);
  assert.deepEqual([...after.keys()].sort(), ['added', 'change', 'counted', 'keep']);
  assert.equal(after.get('change')?.source, `srt://:${listenPort}`);
  const pushes = (await node.api<{ pushes: Array<{ stream: string; target: string }> }>('/api/v1/pushes')).body.pushes;
  assert.deepEqual(pushes.map((p) => [p.stream, p.target]), [['keep', `srt://127.0.0.1:${pushPort}`]]);
  assert.equal((await node.api<{ timeoutMs: number }>('/api/v1/auth')).body.timeoutMs, 1500);

  // The unchanged streams' viewers: the same sessions, still receiving, nothing lost.
  await waitFor(() => counted.packets >= mark.counted + 200 && slt.stdout().length > mark.slt + 50_000, 'viewers keep receiving after the reload', 15_000);
  assert.deepEqual(await viewerIds(node, 'keep'), keepViewers, 'the srt-live-transmit viewer of keep is the same session');
  assert.equal(slt.exit, undefined, 'srt-live-transmit is still playing');
  assert.equal(counted.closed, false);
  assert.equal(counted.discontinuities, 0, 'no packet lost or repeated across the reload');
  assert.equal(counted.corrupt, 0);
  assert.equal(node.proc.exit, undefined);
});

test('a file with errors on SIGHUP keeps the running configuration and logs the error with line:column', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t, 'srt-relay-reload-');
  const file = join(dir, 'srt-relay.yml');
  await writeFile(file, 'streams:\n  cam:\n    source: push://\n');
  const node = await startRelayProcess(t, { workers: 1, args: ['--config', file] });
  assert.ok((await streams(node)).has('cam'));

  // A syntax error: nothing changes, the log names file:line:column.
  await writeFile(file, 'streams:\n  cam:\n    source: push://\n  other: {source: push://\n');
  node.proc.child.kill('SIGHUP');
  const refused = await nthLine(node.proc, 'config reload refused', 1);
  assert.match(refused, /srt-relay\.yml:\d+:\d+: invalid YAML/);
  assert.deepEqual([...(await streams(node)).keys()], ['cam']);

  // A key given twice and a schema problem: both named, still nothing changes.
  await writeFile(file, 'streams:\n  cam:\n    source: push://\n  cam2:\n    source: push://\n    source: srt://:1\n');
  node.proc.child.kill('SIGHUP');
  assert.match(await nthLine(node.proc, 'config reload refused', 2), /streams\.cam2\.source: given twice \(at 5:5 and 6:5 in \S+srt-relay\.yml\)/);
  await writeFile(file, 'streams:\n  cam2:\n    source: http://example.com/x\n');
  node.proc.child.kill('SIGHUP');
  assert.match(await nthLine(node.proc, 'config reload refused', 3), /srt-relay\.yml:3:5: streams\.cam2\.source: must be \\"push:\/\//);
  assert.deepEqual([...(await streams(node)).keys()], ['cam']);

  // Fixed: the next SIGHUP applies it.
  await writeFile(file, 'streams:\n  cam2:\n    source: push://\n');
  node.proc.child.kill('SIGHUP');
  await nthLine(node.proc, '"config reloaded"', 1);
  assert.deepEqual([...(await streams(node)).keys()], ['cam2']);
  assert.equal(node.proc.exit, undefined);
});

test('--watch-config reloads when the file changes, without a signal', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t, 'srt-relay-reload-');
  const file = join(dir, 'relay.json');
  await writeFile(file, JSON.stringify({ streams: { cam: { source: 'push://' } } }));
  const node = await startRelayProcess(t, { workers: 1, args: ['--config', file, '--watch-config'] });
  await nthLine(node.proc, 'watching the config file', 1);
  await writeFile(file, JSON.stringify({ streams: { cam: { source: 'push://' }, cam2: { source: 'push://' } } }));
  const line = await nthLine(node.proc, '"config reloaded"', 1);
  assert.match(line, /"trigger":"file change"/);
  assert.match(line, /"streamsAdded":\["cam2"\]/);
  assert.deepEqual([...(await streams(node)).keys()].sort(), ['cam', 'cam2']);
});
