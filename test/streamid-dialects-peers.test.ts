/**
 * Real callers with other servers' stream ids, through an in-process Relay: srt-live-transmit
 * and ffmpeg publish with an SRT Live Server id (`uplive.sls.com/live/cam`, the port's
 * publisher domain) and an SRS id (its older `#!::h=live/cam,m=publish` form); a viewer playing
 * with the matching form (`live.sls.com/live/cam`, `#!::h=live/cam,m=request`) gets the media;
 * the same with a percent-encoded `#!::` id, as ffmpeg sends it when the URL has it encoded.
 * A caller that sends no stream id publishes the stream its address maps to (streamIdless).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freeUdpPort } from './helpers/free-port.js';
import { spawnFor, type AfterHook, type Spawned } from './helpers/processes.js';
import { connectFor, startRelay, waitFor, waitLive } from './helpers/relay-harness.js';
import { collect } from './helpers/media.js';
import { TS_PACKET, checkTsPackets, tsFixture, tsFixtureBytes } from './helpers/ts-fixture.js';
import type { RelayPortOptions } from '../src/supervisor/relay.js';
import { connectBinding } from './helpers/srt-io.js';

const SLS_DOMAINS = { 'uplive.sls.com': 'publish', 'live.sls.com': 'play' } as const;

/** srt-live-transmit publishing the TS fixture from stdin to `url`, over and over (it drops what it reads before connecting). */
async function sltPublisher(t: AfterHook, url: string): Promise<Spawned> {
  const data = await tsFixtureBytes();
  const p = spawnFor(t, 'srt-live-transmit', ['-q', '-a:no', '-chunk:1316', 'file://con', url], { name: 'srt-live-transmit publisher' });
  let at = 0;
  const slice = 1316 * 40; // ~ 50 packets every 40 ms: ~13 Mbit/s at most
  const timer = setInterval(() => {
    if (p.exit !== undefined) return;
    const end = Math.min(at + slice, data.length);
    p.child.stdin?.write(data.subarray(at, end));
    at = end >= data.length ? 0 : end;
  }, 40);
  t.after(() => clearInterval(timer));
  return p;
}

async function ffmpegPublisher(t: AfterHook, url: string): Promise<Spawned> {
  const fixture = await tsFixture();
  return spawnFor(
    t,
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-stream_loop', '-1', '-i', fixture, '-c', 'copy', '-f', 'mpegts', url],
    { name: 'ffmpeg publisher' },
  );
}

interface Dialect {
  label: string;
  publish: string;
  play: string;
  stream: string;
  ports: (port: number) => Partial<RelayPortOptions>;
}

const DIALECTS: Dialect[] = [
  {
    label: 'SRT Live Server domain/app/stream',
    publish: 'uplive.sls.com/live/cam',
    play: 'live.sls.com/live/cam',
    stream: 'live/cam',
    ports: () => ({ dialects: { domains: SLS_DOMAINS } }),
  },
  { label: 'SRS #!::h=app/stream', publish: '#!::h=live/cam,m=publish', play: '#!::h=live/cam,m=request', stream: 'live/cam', ports: () => ({}) },
  {
    // ffmpeg sends the query value as written (not decoded): the relay decodes it.
    label: 'percent-encoded #!::r=app/stream',
    publish: '%23%21%3A%3Ar%3Dlive%2Fcam%2Cm%3Dpublish',
    play: '#!::r=live/cam,m=request',
    stream: 'live/cam',
    ports: () => ({}),
  },
];

const PUBLISHERS: Array<[string, (t: AfterHook, port: number, sid: string) => Promise<Spawned>]> = [
  ['srt-live-transmit', (t, port, sid) => sltPublisher(t, `srt://127.0.0.1:${port}?streamid=${sid}&latency=200`)],
  ['ffmpeg', (t, port, sid) => ffmpegPublisher(t, `srt://127.0.0.1:${port}?streamid=${sid}&pkt_size=1316&latency=200000`)],
];

for (const d of DIALECTS) {
  for (const [tool, start] of PUBLISHERS) {
    test(`${tool} publishes with an ${d.label} id and a viewer playing with the matching id gets the media`, { timeout: 60_000 }, async (t) => {
      const port = await freeUdpPort();
      const { relay } = await startRelay(t, {
        ports: [{ port, host: '127.0.0.1', direction: 'both', params: { latency: 200 }, reusePort: 1, ...d.ports(port) }],
      });
      const pub = await start(t, port, d.publish);
      await Promise.race([
        waitLive(relay, d.stream, 15_000),
        pub.exited.then((e) => assert.fail(`${tool} exited early (${JSON.stringify(e)})\n${pub.output()}`)),
      ]);
      const session = relay.listSessions().find((s) => s.stream === d.stream);
      assert.equal(session?.kind, 'publisher');
      assert.ok(session?.streamid === d.publish || session?.streamid === decodeURIComponent(d.publish), `publisher's streamid ${session?.streamid}`);

      const viewer = await connectFor(t, port, { streamid: d.play });
      const got = collect(viewer);
      await waitFor(() => got.bytes >= 200 * TS_PACKET, `viewer '${d.play}' received 200 TS packets (got ${got.bytes} bytes)`, 15_000);
      const v = relay.listSessions().find((s) => s.streamid === d.play);
      assert.equal(v?.kind, 'viewer');
      assert.equal(v?.stream, d.stream);
      const check = checkTsPackets(got.data());
      assert.ok(check.allSynced, 'the viewer gets whole TS packets');
    });
  }
}

test('a caller that sends no stream id publishes the stream its address maps to; a viewer plays it by name', { timeout: 60_000 }, async (t) => {
  const ingest = await freeUdpPort();
  const play = await freeUdpPort();
  const { relay } = await startRelay(t, {
    ports: [
      {
        port: ingest,
        host: '127.0.0.1',
        direction: 'incoming',
        params: { latency: 200 },
        reusePort: 1,
        dialects: { streamIdless: { default: 'lobby', byAddress: { '10.0.0.0/8': 'elsewhere', '127.0.0.0/8': 'van1' } } },
      },
      { port: play, host: '127.0.0.1', direction: 'outgoing', params: { latency: 200 }, reusePort: 1 },
    ],
  });
  const pub = await sltPublisher(t, `srt://127.0.0.1:${ingest}?latency=200`);
  await Promise.race([
    waitLive(relay, 'van1', 15_000),
    pub.exited.then((e) => assert.fail(`srt-live-transmit exited early (${JSON.stringify(e)})\n${pub.output()}`)),
  ]);
  assert.equal(relay.getStream('lobby'), undefined, 'the default is only for callers no prefix matches');
  const viewer = await connectFor(t, play, { streamid: 'van1' });
  const got = collect(viewer);
  await waitFor(() => got.bytes >= 200 * TS_PACKET, `viewer of van1 received 200 TS packets (got ${got.bytes} bytes)`, 15_000);
});

test('a caller without a stream id on an IPv6 port publishes the stream its IPv6 address maps to', { timeout: 30_000 }, async (t) => {
  const port = await freeUdpPort();
  const { relay } = await startRelay(t, {
    ports: [
      {
        port,
        host: '::1',
        direction: 'incoming',
        params: { latency: 200 },
        reusePort: 1,
        dialects: { streamIdless: { byAddress: { '2001:db8::/32': 'elsewhere', '::1': 'v6cam' } } },
      },
    ],
  });
  const s = await connectBinding(port, { latency: 200 }, '::1');
  t.after(() => s.close());
  s.send(new Uint8Array(1316).fill(0x47));
  await waitLive(relay, 'v6cam');
  assert.equal(relay.getStream('elsewhere'), undefined);
});

test('streamIdless.direction "play" makes a caller without a stream id a viewer on a both port, not an undecided publisher', { timeout: 30_000 }, async (t) => {
  const port = await freeUdpPort();
  const { relay } = await startRelay(t, {
    ports: [{ port, host: '127.0.0.1', direction: 'both', params: { latency: 200 }, reusePort: 1, dialects: { streamIdless: { default: 'box', direction: 'play' } } }],
    streams: { box: { source: 'push://' } },
  });
  const s = await connectBinding(port, { latency: 200 });
  t.after(() => s.close());
  const session = await waitFor(() => relay.listSessions().find((x) => x.stream === 'box'), 'the caller without a stream id has a session');
  assert.equal(session.kind, 'viewer');
  // It is held as a viewer of a stream that is not live; a publisher then reaches it.
  const pub = await connectFor(t, port, { streamid: 'publish:box' });
  const got = collect(s);
  const packet = new Uint8Array(1316).fill(0x47);
  await waitFor(() => {
    pub.send(packet);
    return got.bytes > 0;
  }, 'the viewer without a stream id receives the published stream');
});
