/**
 * End to end through a real Relay on loopback: publish and play with ffmpeg/ffprobe,
 * srt-live-transmit and binding sockets; every streamid form; and the reject codes a real
 * caller sees in the handshake.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnFor } from './helpers/processes.js';
import { TS_PACKET, checkTsPackets, tsFixture, tsFixtureBytes } from './helpers/ts-fixture.js';
import { delay, receiveDetailed, sendFile, withTimeout } from './helpers/srt-io.js';
import {
  connectFor,
  countingReceiver,
  pacedPublisher,
  rejectReason,
  sessionOf,
  startRelay,
  waitAttached,
  waitFor,
  waitLive,
  whenClosed,
} from './helpers/relay-harness.js';

const REJ_BADSECRET = 10;
const REJ_UNSECURE = 11;

test('ffmpeg publishes with publish:cam and ffprobe reading read:cam sees h264 video and aac audio', { timeout: 60_000 }, async (t) => {
  const { relay, port } = await startRelay(t);
  const fixture = await tsFixture();
  const ffmpeg = spawnFor(
    t,
    'ffmpeg',
    [
      '-hide_banner', '-loglevel', 'error', '-nostdin',
      '-re', '-stream_loop', '-1', '-i', fixture,
      '-c', 'copy', '-f', 'mpegts',
      `srt://127.0.0.1:${port}?streamid=publish:cam`,
    ],
    { name: 'ffmpeg publisher' },
  );
  await Promise.race([
    waitLive(relay, 'cam', 15_000),
    ffmpeg.exited.then((e) => assert.fail(`ffmpeg exited early (${JSON.stringify(e)})\n${ffmpeg.output()}`)),
  ]);
  const pub = relay.listSessions().find((s) => s.stream === 'cam');
  assert.equal(pub?.kind, 'publisher');
  assert.equal(pub?.streamid, 'publish:cam');

  const ffprobe = spawnFor(
    t,
    'ffprobe',
    ['-v', 'error', '-show_streams', '-of', 'json', `srt://127.0.0.1:${port}?streamid=read:cam`],
    { name: 'ffprobe' },
  );
  const exit = await ffprobe.waitExit(30_000);
  assert.equal(exit.code, 0, ffprobe.output());
  const info = JSON.parse(ffprobe.stdout().toString('utf8')) as { streams: Array<{ codec_type: string; codec_name: string }> };
  const codecs = info.streams.map((s) => `${s.codec_type}/${s.codec_name}`).sort();
  assert.deepEqual(codecs, ['audio/aac', 'video/h264']);
  assert.equal(ffmpeg.exit, undefined, `the publisher must still be running\n${ffmpeg.output()}`);
});

/** The fixture with one private packet on PID 0x1FF0 after every 8 fixture packets (recognizable payload). */
function withPrivatePid(ts: Buffer): Buffer {
  const out: Buffer[] = [];
  let cc = 0;
  let n = 0;
  for (let off = 0; off + TS_PACKET <= ts.length; off += TS_PACKET) {
    out.push(ts.subarray(off, off + TS_PACKET));
    if (++n % 8 === 0) {
      const p = Buffer.alloc(TS_PACKET, 0xa5);
      p[0] = 0x47;
      p[1] = 0x1f; // PID 0x1FF0, high bits
      p[2] = 0xf0;
      p[3] = 0x10 | (cc++ & 0x0f); // payload only, continuity counter
      p.write(`SRT-RELAY-PRIVATE-${n.toString().padStart(8, '0')}`, 4, 'ascii');
      for (let i = 40; i < TS_PACKET; i++) p[i] = (n + i) & 0xff;
      out.push(p);
    }
  }
  return Buffer.concat(out);
}

test('a TS file with a private data PID passes bit-exact to srt-live-transmit and binding viewers', { timeout: 60_000 }, async (t) => {
  const { relay, port } = await startRelay(t);
  const file = withPrivatePid(await tsFixtureBytes());
  assert.ok(checkTsPackets(file).allSynced);

  // Publisher first (a plain read: of a stream that is not live is refused with 1404).
  const pub = await connectFor(t, port, { streamid: 'publish:file' });
  await waitLive(relay, 'file');
  await delay(300);

  const slt = spawnFor(
    t,
    'srt-live-transmit',
    ['-q', '-a:no', `srt://127.0.0.1:${port}?streamid=read:file&latency=200`, 'file://con'],
    { name: 'srt-live-transmit viewer' },
  );
  const binding = await connectFor(t, port, { streamid: 'read:file' });
  const viewers = await waitFor(() => {
    const v = relay.listSessions().filter((s) => s.kind === 'viewer' && s.stream === 'file');
    return v.length === 2 ? v : undefined;
  }, 'srt-live-transmit and the binding viewer connected');
  await waitAttached(relay, viewers.map((v) => v.id));

  const received = receiveDetailed(binding, { untilBytes: file.length, timeoutMs: 30_000 });
  // ~1400 packets/s of 1316 bytes: about 14.7 Mbit/s.
  const sent = await sendFile(pub, file, { pps: 1400, timeoutMs: 30_000 });
  assert.equal(sent, file.length);

  const got = await received;
  assert.equal(got.ended, 'bytes', `binding viewer got ${got.data.length} of ${file.length} bytes`);
  assert.ok(got.data.equals(file), 'binding viewer bytes differ from the published file');

  // srt-live-transmit's stdout is block-buffered on a pipe: wait until all but the last buffer
  // arrived, then SIGINT makes it flush and exit.
  await waitFor(() => slt.stdout().length >= file.length - 65_536 || slt.exit !== undefined, 'srt-live-transmit wrote the file', 20_000);
  await delay(500);
  slt.child.kill('SIGINT');
  await slt.waitExit(10_000);
  const out = slt.stdout();
  assert.equal(out.length, file.length, `srt-live-transmit wrote ${out.length} of ${file.length} bytes\n${slt.output()}`);
  assert.ok(out.equals(file), 'srt-live-transmit output differs from the published file');
  const priv = out.indexOf('SRT-RELAY-PRIVATE-00000008');
  assert.ok(priv > 0, 'the private PID packets are in the output');
});

/** [label, streamid, direction inferred from media (plain name on a 'both' port)] */
const PUBLISH_FORMS: Array<[string, (n: string) => string, boolean]> = [
  ['publish:NAME', (n) => `publish:${n}`, false],
  ['#!::r=NAME,m=publish', (n) => `#!::r=${n},m=publish`, false],
  // A plain name of a stream that is not live is undecided until it sends media.
  ['plain NAME (not live: publishes once it sends)', (n) => n, true],
];
const PRIMING_TAG = 99;
const PLAY_FORMS: Array<[string, (n: string) => string]> = [
  ['read:NAME', (n) => `read:${n}`],
  ['#!::r=NAME,m=request', (n) => `#!::r=${n},m=request`],
  ['plain NAME (live: plays)', (n) => n],
];

test('every streamid form publishes and plays (each publish form with each play form)', { timeout: 60_000 }, async (t) => {
  const { relay, port } = await startRelay(t);
  let k = 0;
  for (const [pubForm, pubSid, inferred] of PUBLISH_FORMS) {
    for (const [playForm, playSid] of PLAY_FORMS) {
      const name = `form${k++}`;
      await t.test(`publish with ${pubForm}, play with ${playForm}`, async (st) => {
        const pub = await connectFor(st, port, { streamid: pubSid(name) });
        if (inferred) {
          // Media makes it the publisher: a few priming packets (ignored by the viewer below).
          const priming = pacedPublisher(pub, { pps: 100, count: 5, tag: PRIMING_TAG });
          await waitLive(relay, name);
          await priming.stop();
          await delay(300);
        } else {
          await waitLive(relay, name);
        }
        assert.equal(sessionOf(relay, pub)?.kind, 'publisher');
        const viewer = await connectFor(st, port, { streamid: playSid(name) });
        const vs = await waitFor(() => sessionOf(relay, viewer), 'viewer session listed');
        assert.equal(vs.kind, 'viewer');
        assert.equal(vs.stream, name);
        await waitAttached(relay, [vs.id]);
        const rx = countingReceiver(viewer, 0, PRIMING_TAG);
        const p = pacedPublisher(pub, { pps: 1000, count: 200 });
        await waitFor(() => rx.packets >= 200 || p.error, `viewer received 200 packets (has ${rx.packets})`, 15_000);
        assert.equal(p.error, undefined);
        assert.equal(rx.packets, 200);
        assert.equal(rx.firstSeq, 0);
        assert.equal(rx.discontinuities, 0);
        assert.equal(rx.corrupt, 0);
        assert.equal(rx.checksum, p.checksumFrom(0));
        rx.stop();
        viewer.close();
        pub.close();
        await waitFor(() => relay.getStream(name) === undefined, `dynamic stream ${name} removed after its sessions ended`);
      });
    }
  }
});

test('play of a stream that does not exist is rejected with 1404', { timeout: 30_000 }, async (t) => {
  const { port } = await startRelay(t);
  assert.equal(await rejectReason(port, { streamid: 'read:nothing' }), 1404);
  assert.equal(await rejectReason(port, { streamid: '#!::r=nothing,m=request' }), 1404);
});

test('with dynamic streams off, publish to an unknown name is rejected with 1404 and a known name is accepted', { timeout: 30_000 }, async (t) => {
  const { relay, port } = await startRelay(t, { streams: { known: { source: 'push://' } }, dynamicStreams: false });
  assert.equal(await rejectReason(port, { streamid: 'publish:unknown' }), 1404);
  assert.equal(await rejectReason(port, { streamid: '#!::r=unknown,m=publish' }), 1404);
  await connectFor(t, port, { streamid: 'publish:known' });
  await waitLive(relay, 'known');
});

test('a second publisher is rejected with 1409 under the refuse policy and the first keeps publishing', { timeout: 30_000 }, async (t) => {
  const { relay, port } = await startRelay(t);
  const first = await connectFor(t, port, { streamid: 'publish:cam' });
  await waitLive(relay, 'cam');
  const firstClosed = whenClosed(first);
  assert.equal(await rejectReason(port, { streamid: 'publish:cam' }), 1409);
  assert.equal(await rejectReason(port, { streamid: '#!::r=cam,m=publish' }), 1409);
  const viewer = await connectFor(t, port, { streamid: 'read:cam' });
  const vs = await waitFor(() => sessionOf(relay, viewer), 'viewer listed');
  await waitAttached(relay, [vs.id]);
  const rx = countingReceiver(viewer);
  const p = pacedPublisher(first, { pps: 1000, count: 100 });
  await waitFor(() => rx.packets >= 100 || p.error, 'viewer got the first publisher’s packets', 15_000);
  assert.equal(rx.packets, 100);
  assert.equal(firstClosed.closed, false);
  assert.equal(relay.getStream('cam')?.publisher?.session, sessionOf(relay, first)?.id);
});

test('under the replace policy a second publisher takes over and the first one’s socket is closed', { timeout: 30_000 }, async (t) => {
  const { relay, port } = await startRelay(t, { streams: { cam: { source: 'push://', onPublisherConflict: 'replace' } } });
  const first = await connectFor(t, port, { streamid: 'publish:cam' });
  await waitLive(relay, 'cam');
  const firstSession = sessionOf(relay, first)!.id;
  const firstClosed = whenClosed(first);
  const viewer = await connectFor(t, port, { streamid: 'read:cam' });
  const vs = await waitFor(() => sessionOf(relay, viewer), 'viewer listed');
  await waitAttached(relay, [vs.id]);

  const second = await connectFor(t, port, { streamid: 'publish:cam' });
  const secondSession = await waitFor(() => sessionOf(relay, second)?.id, 'second publisher listed');
  await waitFor(() => relay.getStream('cam')?.publisher?.session === secondSession, 'second publisher is the stream’s publisher');
  await withTimeout(firstClosed.promise, 10_000, 'the replaced publisher’s socket sees closed');
  await waitFor(() => !relay.listSessions().some((s) => s.id === firstSession), 'first publisher session ended');

  // The viewer stays and now gets the new publisher's packets.
  await waitAttached(relay, [secondSession]);
  const rx = countingReceiver(viewer, 7);
  const p = pacedPublisher(second, { pps: 1000, count: 100, tag: 7 });
  await waitFor(() => rx.packets >= 100 || p.error, `viewer got the second publisher’s packets (${rx.packets})`, 15_000);
  assert.equal(p.error, undefined);
  assert.equal(rx.corrupt, 0);
  assert.equal(rx.packets, 100);
});

test('publish to a stream whose source is a pulled srt:// URL is rejected with 1403', { timeout: 30_000 }, async (t) => {
  const { port } = await startRelay(t, {
    // Nothing listens there: the pull keeps retrying, the stream stays not publishable.
    streams: { pulled: { source: 'srt://127.0.0.1:9?latency=200' } },
  });
  assert.equal(await rejectReason(port, { streamid: 'publish:pulled' }), 1403);
  assert.equal(await rejectReason(port, { streamid: '#!::r=pulled,m=publish' }), 1403);
});

test('when limits.maxSessions is reached new callers are rejected with 1503, and accepted again below it', { timeout: 30_000 }, async (t) => {
  const { relay, port } = await startRelay(t, { limits: { maxSessions: 2 } });
  const pub = await connectFor(t, port, { streamid: 'publish:cam' });
  await waitLive(relay, 'cam');
  const viewer = await connectFor(t, port, { streamid: 'read:cam' });
  await waitFor(() => relay.listSessions().length === 2, 'two sessions');
  assert.equal(await rejectReason(port, { streamid: 'read:cam' }), 1503);
  assert.equal(await rejectReason(port, { streamid: 'publish:other' }), 1503);
  viewer.close();
  await waitFor(() => relay.listSessions().length === 1, 'viewer session ended');
  const again = await connectFor(t, port, { streamid: 'read:cam' });
  await waitFor(() => sessionOf(relay, again), 'a viewer is accepted again below the limit');
  void pub;
});

test('a wrong per-stream passphrase is rejected with bad-secret (reason 10)', { timeout: 30_000 }, async (t) => {
  const { relay, port } = await startRelay(t, {
    streams: { sec: { source: 'push://', passphrase: { publish: 'rightsecret123', play: 'rightsecret123' } } },
  });
  assert.equal(await rejectReason(port, { streamid: 'publish:sec', passphrase: 'wrongsecret123' }), REJ_BADSECRET);
  const pub = await connectFor(t, port, { streamid: 'publish:sec', passphrase: 'rightsecret123' });
  await waitLive(relay, 'sec');
  assert.equal(await rejectReason(port, { streamid: 'read:sec', passphrase: 'wrongsecret123' }), REJ_BADSECRET);
  void pub;
});

test('per-direction passphrases: publish needs the publish secret, play needs the play secret', { timeout: 30_000 }, async (t) => {
  const { relay, port } = await startRelay(t, {
    streams: { dual: { source: 'push://', passphrase: { publish: 'pubsecret123', play: 'playsecret123' } } },
  });
  assert.equal(await rejectReason(port, { streamid: 'publish:dual', passphrase: 'playsecret123' }), REJ_BADSECRET);
  const pub = await connectFor(t, port, { streamid: 'publish:dual', passphrase: 'pubsecret123' });
  await waitLive(relay, 'dual');
  assert.equal(await rejectReason(port, { streamid: 'read:dual', passphrase: 'pubsecret123' }), REJ_BADSECRET);
  const viewer = await connectFor(t, port, { streamid: 'read:dual', passphrase: 'playsecret123' });
  const vs = await waitFor(() => sessionOf(relay, viewer), 'viewer listed');
  await waitAttached(relay, [vs.id]);
  const rx = countingReceiver(viewer);
  const p = pacedPublisher(pub, { pps: 1000, count: 100 });
  await waitFor(() => rx.packets >= 100 || p.error, `viewer with the play secret got the packets (${rx.packets})`, 15_000);
  assert.equal(rx.corrupt, 0);
  assert.equal(rx.packets, 100);
});

test('enforcedencryption=0 on the port and on the caller still lets no one without the passphrase publish or play a protected stream', { timeout: 30_000 }, async (t) => {
  // libsrt connects two sides that both set enforcedencryption=0 even when only one has a
  // passphrase: a publisher without it would have its plaintext relayed as the stream. The gate
  // enforces encryption on every connection it gives a passphrase.
  const { relay, port } = await startRelay(
    t,
    { streams: { dual: { source: 'push://', passphrase: { publish: 'pubsecret123', play: 'playsecret123' } }, open: { source: 'push://' } } },
    { latency: 200, enforcedencryption: false },
  );
  const plain = { enforcedencryption: false };
  assert.equal(await rejectReason(port, { streamid: 'publish:dual', ...plain }), REJ_UNSECURE, 'publisher without the passphrase');
  assert.equal(relay.listSessions().length, 0);
  const pub = await connectFor(t, port, { streamid: 'publish:dual', passphrase: 'pubsecret123' });
  await waitLive(relay, 'dual');
  assert.equal(await rejectReason(port, { streamid: 'read:dual', ...plain }), REJ_UNSECURE, 'viewer without the passphrase');
  assert.equal(await rejectReason(port, { streamid: 'read:dual', passphrase: 'pubsecret123', ...plain }), REJ_BADSECRET, 'viewer with the publish secret');
  const viewer = await connectFor(t, port, { streamid: 'read:dual', passphrase: 'playsecret123' });
  const vs = await waitFor(() => sessionOf(relay, viewer), 'viewer listed');
  await waitAttached(relay, [vs.id]);
  const rx = countingReceiver(viewer);
  const p = pacedPublisher(pub, { pps: 1000, count: 100 });
  await waitFor(() => rx.packets >= 100 || p.error, `the viewer with the play secret got the packets (${rx.packets})`, 15_000);
  assert.equal(rx.corrupt, 0);
  // A stream without a passphrase is the port's business: its enforcedencryption=0 stands.
  const openPub = await connectFor(t, port, { streamid: 'publish:open', ...plain });
  await waitLive(relay, 'open');
  openPub.close();
});

test('callers that close right after connecting leave no session behind (the socket may break before its worker adopts it)', { timeout: 120_000 }, async (t) => {
  const { relay, port } = await startRelay(t);
  for (let i = 0; i < 40; i++) {
    const s = await connectFor(t, port, { streamid: i % 2 === 0 ? `publish:gone${i}` : 'publish:gone' });
    s.close();
    await waitFor(() => relay.listSessions().length === 0, `caller ${i}: its session ended (sessions: ${JSON.stringify(relay.listSessions().map((x) => x.id))})`, 15_000);
  }
});
