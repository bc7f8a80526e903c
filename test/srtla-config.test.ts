/** The SRTLA receiver started by the node from its config file (`srtla.port`): bonded ingest through bin/srt-relay.js. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SrtlaSender } from './helpers/srtla-sender.js';
import { startRelayProcess, RELAY_BIN } from './helpers/relay-process.js';
import { freeUdpPort, waitUdpBound } from './helpers/free-port.js';
import { freeTcpPort } from './helpers/redis-server.js';
import { spawnFor, type AfterHook } from './helpers/processes.js';
import { waitFor } from './helpers/relay-harness.js';
import { connectBinding, receiveAll, sendFile } from './helpers/srt-io.js';
import { connectFor, countingReceiver, pacedPublisher } from './helpers/relay-harness.js';
import { nthLine, tempDir } from './helpers/process-logs.js';
import { tsFixtureBytes } from './helpers/ts-fixture.js';

async function configFile(t: AfterHook, config: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'srtla-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'relay.json');
  await writeFile(file, JSON.stringify(config));
  return file;
}

interface SrtlaBody {
  enabled: boolean;
  port: number;
  groups: Array<{ links: Array<{ address: string; packets: number; bytes: number; share: number; srtlaAcks: number }> }>;
}

interface SessionsBody {
  sessions: Array<{ kind: string; stream: string }>;
}

test('a node with srtla.port in its config takes a bonded publisher over 2 links; a viewer on the SRT port gets the TS byte-exact', { timeout: 90_000 }, async (t) => {
  const ts = await tsFixtureBytes();
  const srtlaPort = await freeUdpPort();
  const file = await configFile(t, {
    // The SRT port itself comes from --srt-port (startRelayProcess); its params stay.
    srt: { ports: [{ port: 9000, direction: 'both', params: { latency: 200, lossmaxttl: 40 } }] },
    srtla: { port: srtlaPort, host: '127.0.0.1', maxLinksPerGroup: 4 },
    streams: { bonded: { source: 'push://', join: 'live' } },
  });
  const relay = await startRelayProcess(t, { args: ['--config', file], logLevel: 'warn' });
  await waitUdpBound(srtlaPort);

  const sender = await SrtlaSender.start({
    receiver: { host: '127.0.0.1', port: srtlaPort },
    links: [{ bind: '127.0.0.1' }, { bind: '127.0.0.2' }],
  });
  t.after(() => sender.close());
  await waitFor(() => sender.registeredLinks() === 2, '2 links registered');

  const viewer = await connectBinding(relay.srtPort, { streamid: 'read:bonded', latency: 200 });
  t.after(() => viewer.close());
  await waitFor(async () => (await relay.api<SessionsBody>('/api/v1/sessions')).body.sessions.some((s) => s.kind === 'viewer' && s.stream === 'bonded'), 'the viewer session is listed');
  const received = receiveAll(viewer, { untilBytes: ts.length, timeoutMs: 40_000 });

  const pub = await connectBinding(sender.port, { streamid: 'publish:bonded', latency: 1000 });
  t.after(() => pub.close());
  await sendFile(pub, ts, { pps: 500 });
  const got = await received;
  assert.equal(got.length, ts.length, `the viewer got ${got.length} of ${ts.length} bytes`);
  assert.ok(got.equals(ts), 'the viewer got the TS byte-exact');
  for (const l of sender.linkStates()) assert.ok(l.srtlaAcks > 0, `link ${l.index} got SRTLA ACKs from the node`);

  const { body } = await relay.api<SrtlaBody>('/api/v1/srtla');
  assert.equal(body.enabled, true);
  assert.equal(body.port, srtlaPort);
  assert.equal(body.groups.length, 1, JSON.stringify(body));
  const links = body.groups[0]!.links;
  assert.deepEqual(links.map((l) => l.address).sort(), ['127.0.0.1', '127.0.0.2'], 'GET /api/v1/srtla lists both links');
  for (const l of links) assert.ok(l.packets > 0 && l.bytes > 0 && l.srtlaAcks > 0, `link ${l.address} carried packets: ${JSON.stringify(l)}`);
  assert.ok(Math.abs(links[0]!.share + links[1]!.share - 1) < 1e-6, 'the shares of the links add up to 1');
});

test('a config whose srtla.port is the SRT port fails to start with ERR_PORT_IN_USE and exit code 1', { timeout: 30_000 }, async (t) => {
  const srtPort = await freeUdpPort();
  const apiPort = await freeTcpPort();
  const file = await configFile(t, {
    srt: { ports: [{ port: srtPort, direction: 'both' }] },
    srtla: { port: srtPort },
    api: { port: apiPort },
  });
  const p = spawnFor(t, process.execPath, [RELAY_BIN, '--config', file, '--workers', '1', '--log-level', 'warn'], { name: 'srt-relay' });
  const exit = await p.exited;
  assert.equal(exit.code, 1, `exit code 1 (got ${exit.code}, signal ${exit.signal})\n${p.output()}`);
  assert.match(p.output(), new RegExp(`ERR_PORT_IN_USE: UDP port ${srtPort} .*the main SRT listener`));
});

test('a reload that removes the SRT port bonded groups call points the SRTLA receiver at the next port that takes publishers: a bonded publisher after it reaches the stream', { timeout: 90_000 }, async (t) => {
  const dir = await tempDir(t, 'srtla-reload-');
  const file = join(dir, 'srt-relay.yml');
  const srtlaPort = await freeUdpPort();
  const first = await freeUdpPort();
  const second = await freeUdpPort();
  // ports[0] (its number from --srt-port) serves viewers only; bonded groups call the port after it.
  const yaml = (ingest: number): string => `srt:
  ports:
    - port: 1
      direction: outgoing
    - port: ${ingest}
      host: 127.0.0.1
      direction: both
      params: {latency: 200, lossmaxttl: 40}
srtla: {port: ${srtlaPort}, host: 127.0.0.1}
streams:
  bonded: {source: "push://"}
`;
  await writeFile(file, yaml(first));
  const node = await startRelayProcess(t, { workers: 1, args: ['--config', file] });
  await waitUdpBound(srtlaPort);

  const bondedPublishes = async (links: string[]): Promise<void> => {
    const sender = await SrtlaSender.start({ receiver: { host: '127.0.0.1', port: srtlaPort }, links: links.map((bind) => ({ bind })) });
    t.after(() => sender.close());
    await waitFor(() => sender.registeredLinks() === links.length, `${links.length} links registered`);
    const pub = await connectFor(t, sender.port, { streamid: 'publish:bonded', latency: 1000, conntimeo: 4000 });
    const p = pacedPublisher(pub, { pps: 200 });
    t.after(() => p.stop());
    const viewer = await connectFor(t, node.srtPort, { streamid: 'read:bonded' });
    const rx = countingReceiver(viewer);
    await waitFor(() => rx.packets >= 50, `a viewer on the main port receives the bonded stream (${rx.packets})`, 15_000);
    p.stop();
    pub.close();
    viewer.close();
    sender.close();
    await waitFor(async () => !(await node.api<SessionsBody>('/api/v1/sessions')).body.sessions.some((s) => s.stream === 'bonded'), 'the bonded stream idle again', 15_000);
  };
  await bondedPublishes(['127.0.0.2']);

  await writeFile(file, yaml(second));
  node.proc.child.kill('SIGHUP');
  await nthLine(node.proc, '"config reloaded"', 1);
  await bondedPublishes(['127.0.0.3']);
  const moved = await nthLine(node.proc, `srtla now feeds 127.0.0.1:${second}`, 1);
  assert.match(moved, new RegExp(`its SRT port 127\\.0\\.0\\.1:${first} was removed`));
  const srtla = await node.api<{ enabled: boolean }>('/api/v1/srtla');
  assert.equal(srtla.body.enabled, true);
  assert.equal(node.proc.exit, undefined);
});
