/**
 * The internal link between nodes: the passphrase derived from the cluster secret, the internal
 * stream id form (which the native gate reads as a play request of the stream), and the pull URL,
 * used for real: a binding listener with the derived passphrase accepts a caller built from the
 * pull URL, and refuses one that derived its passphrase from another secret.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  INTERNAL_STREAM_TYPE,
  formatInternalStreamId,
  internalPassphrase,
  internalPullUrl,
  parseInternalStreamId,
  splitHostPort,
} from '../src/cluster/internal-link.js';
import { SrtRejectedError } from '../src/errors.js';
import { MODE_PLAY, native } from '../src/srt/native.js';
import { SRT_OPTIONS, type SrtOptionValue } from '../src/srt/options.js';
import { parseSrtUrl } from '../src/srt/url.js';
import { connectBinding, listenBinding, receiveAll, sendFile } from './helpers/srt-io.js';
import { eventually } from './helpers/redis-server.js';

const SECRET = 'a-cluster-secret-for-tests';

test('the internal passphrase is derived from the secret: stable, valid for SRT, secret-specific', () => {
  const p = internalPassphrase(SECRET);
  assert.equal(p, internalPassphrase(SECRET));
  assert.notEqual(p, internalPassphrase(`${SECRET}!`));
  assert.equal(p.length, 43);
  assert.ok(!p.includes(SECRET));
  SRT_OPTIONS.passphrase.validate(p); // throws if libsrt would refuse it
  assert.throws(() => internalPassphrase('short'), (e: Error & { code?: string }) => e.code === 'ERR_CONFIG_INVALID');
});

test('internal stream ids round-trip, are told apart from viewers, and the gate reads them as play', () => {
  const sid = formatInternalStreamId({ stream: 'live/cam', node: 'edge-2', epoch: 7 });
  assert.equal(sid, `#!::r=live/cam,m=request,t=${INTERNAL_STREAM_TYPE},u=edge-2,s=7`);
  assert.deepEqual(parseInternalStreamId(sid), { stream: 'live/cam', node: 'edge-2', epoch: 7 });
  assert.deepEqual(parseInternalStreamId(formatInternalStreamId({ stream: 'x', node: 'n' })), { stream: 'x', node: 'n' });
  for (const other of ['#!::r=live/cam,m=request', 'read:live/cam', 'live/cam', '#!::r=x,m=publish,t=srt-relay-cluster,u=n', '']) {
    assert.equal(parseInternalStreamId(other), undefined, other);
  }
  assert.deepEqual(native.classifyStreamId(sid), [MODE_PLAY, 'live/cam']);
  assert.throws(() => formatInternalStreamId({ stream: 'a,b', node: 'n' }), TypeError);
  assert.deepEqual(splitHostPort('[2001:db8::5]:8890'), { host: '2001:db8::5', port: 8890 });
  assert.throws(() => splitHostPort('host'), TypeError);
});

test('a caller built from the pull URL connects to a listener with the derived passphrase; another secret is refused', { timeout: 30_000 }, async (t) => {
  const pass = internalPassphrase(SECRET);
  const server = listenBinding({ passphrase: pass, pbkeylen: 32, latency: 120 });
  t.after(() => server.close());

  const url = parseSrtUrl(internalPullUrl({ ownerAddress: `127.0.0.1:${server.port}`, stream: 'live/cam', nodeId: 'edge-2', passphrase: pass, epoch: 3 }));
  assert.equal(url.mode, 'caller');
  assert.equal(url.options.streamid, '#!::r=live/cam,m=request,t=srt-relay-cluster,u=edge-2,s=3');
  const caller = await connectBinding(url.port, url.options as Record<string, SrtOptionValue>, url.host);
  t.after(() => caller.close());
  const conn = await eventually(() => server.connections[0], 'the owner accepts the internal pull', 5000);
  assert.deepEqual(parseInternalStreamId(conn.streamid), { stream: 'live/cam', node: 'edge-2', epoch: 3 });
  // Media flows owner → puller over the encrypted link.
  const data = Buffer.alloc(1316 * 20, 0x47);
  const got = receiveAll(caller, { untilBytes: data.length, timeoutMs: 10_000 });
  await sendFile(conn.socket, data);
  assert.equal((await got).length, data.length);

  const wrong = parseSrtUrl(
    internalPullUrl({ ownerAddress: `127.0.0.1:${server.port}`, stream: 'live/cam', nodeId: 'intruder', passphrase: internalPassphrase('another-secret-entirely') }),
  );
  await assert.rejects(
    connectBinding(wrong.port, { ...(wrong.options as Record<string, SrtOptionValue>), conntimeo: 3000 }, wrong.host),
    (e: unknown) => e instanceof SrtRejectedError && e.reasonName === 'SRT_REJ_BADSECRET',
  );
});
