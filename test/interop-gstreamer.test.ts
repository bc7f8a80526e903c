/**
 * GStreamer's srtsink and srtsrc as shipped (issue 18: real peers at their defaults): only the
 * URI is set, plus the stream id where the test is about one. A caller that sends no stream id
 * is refused with 1400 unless the port maps it (`streamIdless`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Relay } from '../src/supervisor/relay.js';
import { freeUdpPort } from './helpers/free-port.js';
import { makeTsFile, waitUntil } from './helpers/media.js';
import { spawnFor, type AfterHook, type Spawned } from './helpers/processes.js';
import { relayOptions, startRelay, waitFor } from './helpers/relay-harness.js';
import { needGstElements, unmet } from './helpers/requirements.js';

const skip = unmet(needGstElements('srtsink', 'srtsrc', 'tsparse', 'filesrc', 'fdsink'));

/** ffprobe's codec names for TS bytes given on stdin. */
function ffprobeStdin(data: Buffer): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const p = execFile('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', '-i', 'pipe:0'], { encoding: 'utf8' }, (err, out) => (err ? reject(err) : resolve({ stdout: out })));
    p.stdin!.end(data);
  });
}

/** gst-launch-1.0 playing a TS file in real time into srtsink with `uri` (and srtsink's own `streamid` property when given). */
function gstPublisher(t: AfterHook, file: string, uri: string, streamid?: string): Spawned {
  const sink = ['srtsink', `uri=${uri}`, ...(streamid !== undefined ? [`streamid=${streamid}`] : [])];
  return spawnFor(t, 'gst-launch-1.0', ['-q', 'filesrc', `location=${file}`, '!', 'tsparse', 'set-timestamps=true', '!', ...sink], { name: 'gst srtsink' });
}

/** gst-launch-1.0 srtsrc (defaults but the stream id property) writing what it receives to stdout. */
function gstViewer(t: AfterHook, uri: string, streamid: string): Spawned {
  return spawnFor(t, 'gst-launch-1.0', ['-q', 'srtsrc', `uri=${uri}`, `streamid=${streamid}`, '!', 'fdsink', 'fd=1'], { name: 'gst srtsrc' });
}

async function livePublisher(relay: Relay, stream: string, pub: Spawned): Promise<void> {
  await waitFor(() => relay.getStream(stream)?.publisher !== undefined || pub.exit !== undefined, `${stream} is live`, 20_000);
  assert.equal(pub.exit, undefined, `srtsink is still running\n${pub.output()}`);
}

test('GStreamer srtsink at its defaults publishes and srtsrc at its defaults plays: the viewer gets TS that ffprobe decodes as H.264 + AAC', { skip, timeout: 90_000 }, async (t) => {
  const file = await makeTsFile({ name: 'gst', seconds: 10 });
  const { relay, port } = await startRelay(t);
  const pub = gstPublisher(t, file, `srt://127.0.0.1:${port}?streamid=publish:gst`);
  await livePublisher(relay, 'gst', pub);
  const viewer = spawnFor(t, 'gst-launch-1.0', ['-q', 'srtsrc', `uri=srt://127.0.0.1:${port}?streamid=read:gst`, '!', 'fdsink', 'fd=1'], { name: 'gst srtsrc' });
  await waitUntil(() => viewer.stdout().length >= 200 * 188 || viewer.exit !== undefined, () => `srtsrc receives (${viewer.stdout().length} bytes)\n${viewer.output()}`, 20_000);
  await viewer.kill();
  const data = viewer.stdout();
  assert.equal(data[0], 0x47, 'the viewer starts on a TS packet');
  const { stdout } = await ffprobeStdin(data);
  assert.deepEqual([...new Set(stdout.trim().split(/\s+/))].sort(), ['aac', 'h264']);
});

test('GStreamer srtsink publishes with an SRT Live Server id (the port\'s publisher domain) and with an SRS #!::h= id set as its streamid property; srtsrc playing with the matching form gets TS of that stream', { skip, timeout: 90_000 }, async (t) => {
  const file = await makeTsFile({ name: 'gst-dialects', seconds: 10 });
  const port = await freeUdpPort();
  const opts = relayOptions(port);
  const relay = new Relay({ ...opts, ports: opts.ports.map((p) => ({ ...p, dialects: { domains: { 'uplive.sls.com': 'publish', 'live.sls.com': 'play' } } })) });
  t.after(() => relay.stop());
  await relay.start();
  const uri = `srt://127.0.0.1:${port}`;
  const cases = [
    { label: 'SLS', publish: 'uplive.sls.com/live/gst', play: 'live.sls.com/live/gst', stream: 'live/gst' },
    { label: 'SRS', publish: '#!::h=srs/gst,m=publish', play: '#!::h=srs/gst,m=request', stream: 'srs/gst' },
  ];
  for (const c of cases) {
    const pub = gstPublisher(t, file, uri, c.publish);
    await livePublisher(relay, c.stream, pub);
    const session = relay.listSessions().find((s) => s.kind === 'publisher' && s.stream === c.stream);
    assert.ok(session, `${c.label}: a publisher session on ${c.stream}`);
    const viewer = gstViewer(t, uri, c.play);
    await waitUntil(() => viewer.stdout().length >= 200 * 188 || viewer.exit !== undefined, () => `${c.label}: srtsrc receives (${viewer.stdout().length} bytes)\n${viewer.output()}`, 20_000);
    assert.ok(relay.listSessions().some((s) => s.kind === 'viewer' && s.stream === c.stream), `${c.label}: the srtsrc caller is a viewer of ${c.stream}`);
    await viewer.kill();
    assert.equal(viewer.stdout()[0], 0x47, `${c.label}: the viewer starts on a TS packet`);
    await pub.kill();
  }
});

test('GStreamer srtsink without a stream id is refused with 1400 on a port that maps none, and publishes the port\'s streamIdless default where one is set', { skip, timeout: 90_000 }, async (t) => {
  const file = await makeTsFile({ name: 'gst', seconds: 10 });
  const plain = await startRelay(t);
  const refused = gstPublisher(t, file, `srt://127.0.0.1:${plain.port}`);
  await waitFor(() => plain.relay.refusedHandshakes().some((r) => r.code === 1400), 'the caller without a stream id is refused with 1400', 20_000);
  assert.equal(plain.relay.listSessions().length, 0);
  await refused.kill();

  const port = await freeUdpPort();
  const opts = relayOptions(port);
  const mappedRelay = new Relay({ ...opts, ports: opts.ports.map((p) => ({ ...p, dialects: { streamIdless: { default: 'noid', direction: 'publish' } } })) });
  t.after(() => mappedRelay.stop());
  await mappedRelay.start();
  const pub = gstPublisher(t, file, `srt://127.0.0.1:${port}`);
  await livePublisher(mappedRelay, 'noid', pub);
});
