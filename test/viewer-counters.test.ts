/**
 * Issue 13 item 7, second half: a viewer's packet counter counts the messages it was sent, not
 * the ring slots a source switch emptied while the new source's first keyframe was awaited.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collect, waitUntil } from './helpers/media.js';
import { spawnFor, type AfterHook, type Spawned } from './helpers/processes.js';
import { connectFor, sessionOf, startRelay, waitAttached, waitFor } from './helpers/relay-harness.js';
import { delay } from './helpers/srt-io.js';
import { messagesOf, tsFileBytes } from './helpers/ts-files.js';

/** ffmpeg at its defaults publishing a live test pattern with a key frame every 2 s. */
function encoder(t: AfterHook, port: number, name: string): Spawned {
  return spawnFor(
    t,
    'ffmpeg',
    [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
      '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '50', '-keyint_min', '50', '-sc_threshold', '0',
      '-f', 'mpegts', `srt://127.0.0.1:${port}?streamid=publish:main`,
    ],
    { name },
  );
}

test('a viewer\'s packet counter equals the messages it received across a publisher switch (emptied slots are not counted)', { timeout: 90_000 }, async (t) => {
  const { relay, port } = await startRelay(t, { streams: { main: { source: 'push://' } } });
  const socket = await connectFor(t, port, { streamid: 'read:main' });
  const rx = collect(socket);
  const id = await waitFor(() => sessionOf(relay, socket)?.id, 'the viewer session is registered');
  await waitAttached(relay, [id]);

  const first = encoder(t, port, 'first encoder');
  await waitUntil(() => rx.messages >= 200, () => `the viewer receives the first encoder (${rx.messages} messages)`, 20_000);
  await first.kill();
  await waitFor(() => relay.getStream('main')?.publisher === undefined, 'the first publisher is gone');
  const mark = rx.messages;
  // The second publisher starts mid-GOP (an eighth into a file with a keyframe every second):
  // the switch empties the slots before its first keyframe.
  const bytes = await tsFileBytes('h264Aac');
  const messages = messagesOf(bytes).slice(Math.floor(messagesOf(bytes).length / 8));
  const second = await connectFor(t, port, { streamid: 'publish:main' });
  const publisher = await waitFor(() => relay.getStream('main')?.publisher, 'the second publisher', 20_000);
  for (let i = 0; i < messages.length; i += 10) {
    for (const m of messages.slice(i, i + 10)) while (second.send(m) === 0) await delay(2);
    await delay(40);
  }
  await waitFor(async () => (await relay.sessionStats()).get(publisher.session)?.packets === messages.length, 'every message of the second publisher reached the relay', 20_000);
  await waitUntil(() => rx.messages > mark && performance.now() - rx.lastAt! > 1000, () => `the viewer receives the second publisher, then nothing (${rx.messages - mark} messages)`, 20_000);
  assert.ok(rx.messages - mark < messages.length, `the switch emptied the slots before the keyframe (${rx.messages - mark} of ${messages.length} relayed)`);
  second.close();
  await waitFor(() => relay.getStream('main')?.publisher === undefined, 'the second publisher is gone');
  const stats = (await relay.sessionStats()).get(id);
  assert.ok(stats !== undefined);
  assert.equal(stats.packets, rx.messages, `sent ${stats.packets}, received ${rx.messages}`);
  assert.equal(rx.closed, false);
});
