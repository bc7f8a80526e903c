/**
 * The listen-callback gate (native/gate.cc): handshake-time decisions a listener makes from a
 * table JavaScript keeps in native memory. Callers see the exact reject code the table holds
 * (SRT_REJC_PREDEFINED + HTTP status), per-stream per-direction passphrases apply, accept()
 * reports the mode and resource the gate resolved from the streamid, a one-direction listener
 * refuses the other direction with 1405, refusals are listed by gateRejections(), and
 * classifyStreamId() follows the same rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SrtRejectedError } from '../src/errors.js';
import { MODE_PLAY, MODE_PUBLISH, MODE_UNKNOWN, native } from '../src/srt/native.js';
import { SrtSocket, type AcceptedConnection } from '../src/srt/socket.js';
import { freeUdpPort } from './helpers/free-port.js';
import { startSlt, srtUrl } from './helpers/slt.js';
import { connectBinding, listenBinding, withTimeout, type ListeningServer, type Options } from './helpers/srt-io.js';

const NOT_FOUND = 1404;
const FORBIDDEN = 1403;
const CONFLICT = 1409;
const BAD_MODE = 1405;
const SRT_REJ_BADSECRET = 10;

const DIRECTION_BOTH = 0;
const DIRECTION_IN = 1;
const DIRECTION_OUT = 2;

/** A gated binding listener on 127.0.0.1; gate and listener are destroyed when `t` ends. */
function gatedServer(
  t: { after(fn: () => unknown): void },
  direction: number,
  configure: (gate: number) => void,
  opts: { fixedResource?: string; sidPolicy?: 'ignore' | 'wildcard' | 'refuse'; options?: Options } = {},
): { server: ListeningServer; gate: number } {
  const gate = native.gateCreate();
  configure(gate);
  const server = listenBinding(opts.options ?? {}, {
    beforeListen: (l) => l.attachGate(gate, direction, opts.fixedResource ?? '', opts.sidPolicy ?? 'ignore'),
  });
  t.after(() => {
    server.close();
    native.gateDestroy(gate);
  });
  return { server, gate };
}

type Attempt = { accepted: true; conn: AcceptedConnection } | { accepted: false; reason: number };

/** Connects with `streamid`; resolves with the accepted connection or the reject reason. */
async function attempt(server: ListeningServer, streamid: string, options: Options = {}): Promise<Attempt> {
  let caller: SrtSocket | undefined;
  try {
    caller = await withTimeout(connectBinding(server.port, { streamid, ...options }), 10_000, `connect '${streamid}'`);
  } catch (err) {
    if (err instanceof SrtRejectedError) return { accepted: false, reason: err.reason };
    throw err;
  }
  try {
    const conn = await withTimeout(server.accepted(), 5000, `accept '${streamid}'`);
    conn.socket.close();
    return { accepted: true, conn };
  } finally {
    caller.close();
  }
}

function describe(r: Attempt): string {
  return r.accepted ? 'accepted' : `rejected with reason ${r.reason}`;
}

async function assertRejectedWith(server: ListeningServer, streamid: string, code: number, options: Options = {}): Promise<void> {
  const r = await attempt(server, streamid, options);
  assert.ok(!r.accepted && r.reason === code, `streamid '${streamid}': expected reject ${code}, ${describe(r)}`);
}

async function assertAccepted(
  server: ListeningServer,
  streamid: string,
  mode: number,
  resource: string,
  options: Options = {},
  inferred?: boolean,
): Promise<void> {
  const r = await attempt(server, streamid, options);
  assert.ok(r.accepted, `streamid '${streamid}': expected to be accepted, ${describe(r)}`);
  assert.equal(r.conn.streamid, streamid, 'accept reports the caller streamid');
  assert.equal(r.conn.mode, mode, `streamid '${streamid}': mode`);
  assert.equal(r.conn.resource, resource, `streamid '${streamid}': resource`);
  if (inferred !== undefined) assert.equal(r.conn.inferred, inferred, `streamid '${streamid}': inferred`);
}

test('callers see the exact custom reject codes set with gateDefaults and gateSet', { timeout: 30_000 }, async (t) => {
  const { server, gate } = gatedServer(t, DIRECTION_BOTH, (g) => {
    native.gateDefaults(g, NOT_FOUND, '', NOT_FOUND, '');
    native.gateSet(g, 'secret-stream', FORBIDDEN, '', FORBIDDEN, '', false);
    native.gateSet(g, 'taken', CONFLICT, '', 0, '', false);
    native.gateSet(g, 'open', 0, '', 0, '', false);
  });

  await assertRejectedWith(server, 'no-such-stream', NOT_FOUND);
  await assertRejectedWith(server, 'read:no-such-stream', NOT_FOUND);
  await assertRejectedWith(server, 'secret-stream', FORBIDDEN);
  await assertRejectedWith(server, '#!::r=secret-stream,m=request', FORBIDDEN);
  await assertRejectedWith(server, 'publish:taken', CONFLICT);
  await assertAccepted(server, 'read:taken', MODE_PLAY, 'taken');
  await assertAccepted(server, 'publish:open', MODE_PUBLISH, 'open');

  // The rejection carries the name libsrt/our registry gives the code.
  await assert.rejects(connectBinding(server.port, { streamid: 'nothing-here' }), (err: unknown) => {
    assert.ok(err instanceof SrtRejectedError);
    assert.equal(err.reason, NOT_FOUND);
    assert.equal(err.reasonName, 'SRT_REJX_NOTFOUND');
    return true;
  });

  // Table changes apply to the next handshake.
  native.gateDelete(gate, 'open');
  await assertRejectedWith(server, 'publish:open', NOT_FOUND);
  native.gateDefaults(gate, 0, '', 0, '');
  await assertAccepted(server, 'publish:open', MODE_PUBLISH, 'open');
});

test('a per-stream per-direction passphrase from gateSet: the right one connects, a wrong one is rejected with 10', { timeout: 30_000 }, async (t) => {
  const publishPass = 'publish-secret-123';
  const playPass = 'play-secret-45678';
  const { server } = gatedServer(t, DIRECTION_BOTH, (g) => {
    native.gateDefaults(g, NOT_FOUND, '', NOT_FOUND, '');
    native.gateSet(g, 'cam', 0, publishPass, 0, playPass, false);
  });

  await assertAccepted(server, 'publish:cam', MODE_PUBLISH, 'cam', { passphrase: publishPass });
  await assertAccepted(server, 'read:cam', MODE_PLAY, 'cam', { passphrase: playPass });
  await assertRejectedWith(server, 'publish:cam', SRT_REJ_BADSECRET, { passphrase: playPass });
  await assertRejectedWith(server, 'read:cam', SRT_REJ_BADSECRET, { passphrase: publishPass });
  await assertRejectedWith(server, '#!::r=cam,m=publish', SRT_REJ_BADSECRET, { passphrase: 'not-the-passphrase' });
});

test('accept reports the mode and resource the gate resolved from the streamid', { timeout: 30_000 }, async (t) => {
  const { server } = gatedServer(t, DIRECTION_BOTH, (g) => {
    native.gateDefaults(g, 0, '', 0, '');
    native.gateSet(g, 'livecam', 0, '', 0, '', true);
  });

  await assertAccepted(server, 'publish:news', MODE_PUBLISH, 'news');
  await assertAccepted(server, 'publish:news:user:extra', MODE_PUBLISH, 'news');
  await assertAccepted(server, 'read:news', MODE_PLAY, 'news');
  await assertAccepted(server, '#!::r=news,m=publish', MODE_PUBLISH, 'news');
  await assertAccepted(server, '#!::m=request,r=news', MODE_PLAY, 'news');
  await assertAccepted(server, '#!::u=alice,r=news,m=bidirectional', MODE_PLAY, 'news');
  // A plain name on a both-direction port publishes, unless the stream is live (then it plays).
  await assertAccepted(server, 'fresh', MODE_PUBLISH, 'fresh');
  // An accepted explicit publish makes its stream live in the gate at once while its socket is
  // open (a player right behind the publisher is not refused while the supervisor catches up);
  // once that socket closes unconfirmed by JS, the mark is rolled back.
  const pub = await withTimeout(connectBinding(server.port, { streamid: 'publish:news' }), 10_000, 'publish:news');
  const pubConn = await withTimeout(server.accepted(), 5000, 'accept publish:news');
  await assertAccepted(server, 'news', MODE_PLAY, 'news');
  pubConn.socket.close();
  pub.close();
  await assertAccepted(server, 'news', MODE_PUBLISH, 'news');
  await assertAccepted(server, 'livecam', MODE_PLAY, 'livecam');
  await assertAccepted(server, '#!::r=livecam', MODE_PLAY, 'livecam');
  await assertAccepted(server, 'publish:livecam', MODE_PUBLISH, 'livecam');
});

test('accept reports whether the gate had to infer the direction', { timeout: 30_000 }, async (t) => {
  const open = (g: number): void => native.gateDefaults(g, 0, '', 0, '');
  const { server: both } = gatedServer(t, DIRECTION_BOTH, open);
  await assertAccepted(both, 'news', MODE_PUBLISH, 'news', {}, true);
  await assertAccepted(both, '#!::r=news', MODE_PUBLISH, 'news', {}, true);
  await assertAccepted(both, 'publish:news', MODE_PUBLISH, 'news', {}, false);
  await assertAccepted(both, '#!::r=news,m=request', MODE_PLAY, 'news', {}, false);
  // On a one-direction port the port decides: nothing is inferred.
  const { server: outgoing } = gatedServer(t, DIRECTION_OUT, open);
  await assertAccepted(outgoing, 'news', MODE_PLAY, 'news', {}, false);
});

test('a fixed-stream port applies its streamid policy: ignore, wildcard, refuse', { timeout: 30_000 }, async (t) => {
  native.gateRejections();
  // Wildcard (an input port): each streamid names a stream under the fixed one.
  const { server: wildcard, gate } = gatedServer(t, DIRECTION_IN, (g) => native.gateDefaults(g, 0, '', 0, ''), {
    fixedResource: 'main',
    sidPolicy: 'wildcard',
  });
  await assertAccepted(wildcard, 'cam2', MODE_PUBLISH, 'main+cam2');
  await assertAccepted(wildcard, 'publish:cam3', MODE_PUBLISH, 'main+cam3');
  await assertAccepted(wildcard, '', MODE_PUBLISH, 'main');
  // The fixed stream's publish settings apply to the streams under it.
  native.gateSet(gate, 'main', FORBIDDEN, '', 0, '', false);
  await assertRejectedWith(wildcard, 'cam2', FORBIDDEN);

  const { server: refuse, gate: refuseGate } = gatedServer(t, DIRECTION_OUT, (g) => native.gateDefaults(g, 0, '', 0, ''), {
    fixedResource: 'main',
    sidPolicy: 'refuse',
  });
  await assertRejectedWith(refuse, 'cam2', FORBIDDEN);
  await assertAccepted(refuse, '', MODE_PLAY, 'main');
  const listed = native.gateRejections().filter(([g]) => g === refuseGate);
  assert.deepEqual(
    listed.map(([, sid, , , code]) => [sid, code]),
    [['cam2', FORBIDDEN]],
    'the refusal by streamid policy is listed',
  );
});

test('a one-direction listener decides the mode of plain names and refuses the other direction with 1405', { timeout: 30_000 }, async (t) => {
  const open = (g: number): void => native.gateDefaults(g, 0, '', 0, '');
  const { server: outgoing } = gatedServer(t, DIRECTION_OUT, open);
  await assertRejectedWith(outgoing, 'publish:news', BAD_MODE);
  await assertRejectedWith(outgoing, '#!::r=news,m=publish', BAD_MODE);
  await assertAccepted(outgoing, 'news', MODE_PLAY, 'news');
  await assertAccepted(outgoing, 'read:news', MODE_PLAY, 'news');

  const { server: incoming } = gatedServer(t, DIRECTION_IN, open);
  await assertRejectedWith(incoming, 'read:news', BAD_MODE);
  await assertAccepted(incoming, 'news', MODE_PUBLISH, 'news');

  // A port with a fixed stream serves that stream whatever the streamid names.
  const { server: fixed } = gatedServer(t, DIRECTION_OUT, open, { fixedResource: 'main' });
  await assertAccepted(fixed, 'anything', MODE_PLAY, 'main');
  await assertAccepted(fixed, '', MODE_PLAY, 'main');
});

test('gateRejections lists each refusal with gate, streamid, caller address and code', { timeout: 30_000 }, async (t) => {
  native.gateRejections(); // drain what earlier tests left
  const { server, gate } = gatedServer(t, DIRECTION_OUT, (g) => {
    native.gateDefaults(g, NOT_FOUND, '', NOT_FOUND, '');
    native.gateSet(g, 'tv', 0, '', 0, '', false);
  });

  const callerPort = await freeUdpPort();
  const caller = SrtSocket.create({ streamid: 'read:radio' });
  caller.bind('127.0.0.1', callerPort);
  await assert.rejects(caller.connect('127.0.0.1', server.port), SrtRejectedError);
  await assertRejectedWith(server, 'publish:tv', BAD_MODE);
  await assertAccepted(server, 'tv', MODE_PLAY, 'tv');

  const mine = native.gateRejections().filter(([g]) => g === gate);
  assert.deepEqual(
    mine.map(([, sid, host, , code]) => [sid, host, code]),
    [
      ['read:radio', '127.0.0.1', NOT_FOUND],
      ['publish:tv', '127.0.0.1', BAD_MODE],
    ],
  );
  assert.equal(mine[0]?.[3], callerPort, 'the caller port is reported');
  assert.deepEqual(native.gateRejections(), [], 'reading the list empties it');
});

test('srt-live-transmit calling a gated listener is rejected and the refusal is listed', { timeout: 30_000 }, async (t) => {
  native.gateRejections();
  const { server, gate } = gatedServer(t, DIRECTION_BOTH, (g) => native.gateDefaults(g, NOT_FOUND, '', NOT_FOUND, ''));
  const slt = startSlt(t, srtUrl('127.0.0.1', server.port, { streamid: 'read:missing' }), 'file://con');
  // srt-live-transmit logs the rejection (as a source it then keeps retrying: we stop it).
  const line = await slt.waitForLine(/REJ/, { stream: 'stderr', timeoutMs: 15_000 });
  assert.match(line, /REJ/);
  assert.equal(server.connections.length, 0, 'nothing was accepted');
  const mine = native.gateRejections().filter(([g]) => g === gate);
  assert.ok(mine.length >= 1, 'the refusal is listed');
  assert.deepEqual(mine.map(([, sid, , , code]) => [sid, code])[0], ['read:missing', NOT_FOUND]);
});

test('classifyStreamId follows the gate rules', () => {
  const cases: Array<[streamid: string, mode: number, resource: string]> = [
    ['', MODE_UNKNOWN, ''],
    ['news', MODE_UNKNOWN, 'news'],
    ['live/news', MODE_UNKNOWN, 'live/news'],
    ['publish:news', MODE_PUBLISH, 'news'],
    ['publish:news:user:pass', MODE_PUBLISH, 'news'],
    ['read:news', MODE_PLAY, 'news'],
    ['read:news:user:pass', MODE_PLAY, 'news'],
    ['publish:', MODE_PUBLISH, ''],
    ['#!::r=news,m=publish', MODE_PUBLISH, 'news'],
    ['#!::m=publish,r=news', MODE_PUBLISH, 'news'],
    ['#!::r=news,m=request', MODE_PLAY, 'news'],
    ['#!::r=news,m=bidirectional', MODE_PLAY, 'news'],
    ['#!::r=news', MODE_UNKNOWN, 'news'],
    ['#!::u=alice,r=news,h=example.com,m=publish', MODE_PUBLISH, 'news'],
    ['#!::r=news,m=unknown-mode', MODE_UNKNOWN, 'news'],
    ['#!::m=publish', MODE_PUBLISH, ''],
    ['#!::', MODE_UNKNOWN, ''],
  ];
  for (const [sid, mode, resource] of cases) {
    assert.deepEqual(native.classifyStreamId(sid), [mode, resource], `classifyStreamId('${sid}')`);
  }
});
