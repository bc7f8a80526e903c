/**
 * ffmpeg's SRT protocol (libsrt underneath) interoperates with the binding: ffmpeg publishes
 * MPEG-TS into a binding listener, and ffprobe, as caller, reads a stream a binding listener
 * serves and recognises what is in it. Everything on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnFor } from './helpers/processes.js';
import { listenBinding, receiveDetailed, sendFile, waitDelivered, withTimeout } from './helpers/srt-io.js';
import { TS_PACKET, checkTsPackets, tsFixture, tsFixtureBytes } from './helpers/ts-fixture.js';

const LATENCY = 200;

test('ffmpeg publishes into a binding listener: the received bytes are a valid MPEG-TS stream', { timeout: 30_000 }, async (t) => {
  const fixture = await tsFixture();
  const server = listenBinding({ latency: LATENCY });
  t.after(() => server.close());
  const ffmpeg = spawnFor(t, 'ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-re', '-i', fixture,
    '-c', 'copy', '-f', 'mpegts',
    `srt://127.0.0.1:${server.port}`,
  ]);

  const conn = await withTimeout(server.accepted(), 10_000, 'accept ffmpeg');
  // ffmpeg closes the connection when the file has been sent (-re: about 4 s).
  const r = await receiveDetailed(conn.socket, { timeoutMs: 20_000 });
  assert.equal(r.ended, 'closed', `collection ended by ${r.ended}\n${ffmpeg.output()}`);
  const exit = await ffmpeg.waitExit(10_000);
  assert.equal(exit.code, 0, ffmpeg.output());

  const ts = checkTsPackets(r.data);
  assert.equal(ts.remainder, 0, `received ${r.data.length} bytes, not a whole number of ${TS_PACKET}-byte packets`);
  assert.ok(ts.allSynced, 'every 188-byte packet starts with the 0x47 sync byte');
  assert.ok(ts.packets > 100, `only ${ts.packets} TS packets arrived`);
  assert.ok(r.messages > 0 && r.data.length / r.messages <= 1316, 'at its defaults ffmpeg sent at most 1316 bytes per message');
});

interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
}

test('ffprobe reads a TS stream served by a binding listener and finds h264 video and aac audio', { timeout: 30_000 }, async (t) => {
  const data = await tsFixtureBytes();
  const server = listenBinding({ latency: LATENCY });
  t.after(() => server.close());
  const ffprobe = spawnFor(t, 'ffprobe', [
    '-v', 'error', '-show_streams', '-of', 'json',
    `srt://127.0.0.1:${server.port}`,
  ]);

  const conn = await withTimeout(server.accepted(), 10_000, 'accept ffprobe');
  assert.equal(await sendFile(conn.socket, data, { pps: 500 }), data.length);
  // A live stream has no end: ffprobe finishes probing when the sender closes.
  await waitDelivered(conn.socket, LATENCY + 300);
  conn.socket.close();

  const exit = await ffprobe.waitExit(15_000);
  assert.equal(exit.code, 0, ffprobe.output());
  const probe = JSON.parse(ffprobe.stdout().toString('utf8')) as { streams?: ProbeStream[] };
  const streams = (probe.streams ?? []).map((s) => `${s.codec_type ?? '?'}:${s.codec_name ?? '?'}`);
  assert.ok(streams.includes('video:h264'), `ffprobe found ${streams.join(', ') || 'no streams'}`);
  assert.ok(streams.includes('audio:aac'), `ffprobe found ${streams.join(', ') || 'no streams'}`);
});
