/**
 * The library surface (src/index.ts, docs/library.md) on a started relay: config and stream
 * objects are checked like the config file (ConfigInvalidError with key paths), pushes like the
 * API, a publisher of srt-live-transmit raises the typed events and shows in listSessions(), and
 * close() is idempotent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createRelay, ConfigInvalidError, isSrtRelayError, type Relay } from '../src/index.js';
import { freeUdpPort } from './helpers/free-port.js';
import { silentLogger } from '../src/logging.js';
import { startSlt, srtUrl } from './helpers/slt.js';
import { tsFixtureBytes } from './helpers/ts-fixture.js';

async function started(t: { after(fn: () => unknown): void }): Promise<{ relay: Relay; port: number }> {
  const port = await freeUdpPort();
  const relay = createRelay({ workers: 1, srt: { ports: [{ port, host: '127.0.0.1', direction: 'both' }] } }, { logger: silentLogger() });
  t.after(() => relay.close());
  await relay.start();
  return { relay, port };
}

test('createRelay refuses a config with problems, naming each key path, and refuses redis', () => {
  assert.throws(
    () => createRelay({ srt: { ports: [{ port: 70000 } as never] } }),
    (err: unknown) => err instanceof ConfigInvalidError && /srt\.ports\[0\]\.port/.test(err.message) && /srt\.ports\[0\]\.direction/.test(err.message),
  );
  assert.throws(() => createRelay({ redis: 'redis://127.0.0.1:6379', cluster: { secret: 'a-long-enough-cluster-secret-value' } }), (err: unknown) => isSrtRelayError(err, 'ERR_CONFIG_INVALID') && /redis/.test(err.message));
});

test('putStream checks the stream like the config file and getStream/deleteStream see the result', async (t) => {
  const { relay } = await started(t);
  await assert.rejects(relay.putStream('cam', { source: 'bogus' }), (err: unknown) => err instanceof ConfigInvalidError && err.message.startsWith('streams.cam.source:'));
  assert.equal(await relay.getStream('cam'), undefined, 'a refused stream is not created');
  const view = await relay.putStream('cam', { source: 'push://' });
  assert.equal(view.name, 'cam');
  assert.equal(view.configured, true);
  assert.deepEqual((await relay.listStreams()).map((s) => s.name), ['cam']);
  assert.equal(relay.deleteStream('cam'), true);
  assert.equal(relay.deleteStream('cam'), false);
});

test('addPush refuses a bad target with the URL error code, and lists and removes a good one', async (t) => {
  const { relay } = await started(t);
  assert.throws(() => relay.addPush({ stream: 'cam', target: 'http://example.com' }), (err: unknown) => isSrtRelayError(err, 'ERR_SRT_URL_INVALID'));
  assert.deepEqual(relay.listPushes(), []);
  const target = await freeUdpPort();
  const push = relay.addPush({ stream: 'cam', target: `srt://127.0.0.1:${target}` });
  assert.equal(relay.listPushes().length, 1);
  assert.equal(relay.removePush(push.id), true);
  assert.deepEqual(relay.listPushes(), []);
});

test('a srt-live-transmit publisher raises stream-live and publisher-started and is listed by listSessions()', async (t) => {
  const { relay, port } = await started(t);
  const live = once(relay, 'stream-live');
  const publisher = once(relay, 'publisher-started');
  const slt = startSlt(t, 'file://con', srtUrl('127.0.0.1', port, { streamid: 'publish:cam' }));
  const bytes = await tsFixtureBytes();
  const feed = setInterval(() => slt.child.stdin?.write(bytes.subarray(0, 1316 * 20)), 50);
  t.after(() => clearInterval(feed));
  assert.deepEqual(await live, ['cam']);
  const [stream, session, policy] = await publisher;
  assert.equal(stream, 'cam');
  assert.equal(policy, 'refuse');
  const sessions = await relay.listSessions();
  assert.deepEqual(sessions.map((s) => [s.id, s.kind, s.stream]), [[session, 'publisher', 'cam']]);
  assert.equal(relay.health().status, 'ok');
});

test('close() is idempotent and a closed relay cannot be started again', async (t) => {
  const { relay } = await started(t);
  const first = relay.close();
  assert.equal(relay.close(), first, 'the same promise');
  await first;
  await assert.rejects(relay.start(), (err: unknown) => isSrtRelayError(err, 'ERR_CONFIG_INVALID'));
});
