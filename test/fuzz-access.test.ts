/**
 * Access control over every combination: a stream with a publish and a play passphrase, live with
 * its publisher, is asked for by every stream-id form (publish, play, plain, with extra keys, odd
 * order and case) with every passphrase (none, the publish one, the play one, a wrong one, each key
 * length). Only the play secret with a play form plays; nothing else gets in, and no one takes the
 * stream over from its publisher under `refuse`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SrtRejectedError } from '../src/errors.js';
import type { SrtSocket } from '../src/srt/socket.js';
import { connectFor, countingReceiver, pacedPublisher, sessionOf, startRelay, waitFor, waitLive } from './helpers/relay-harness.js';
import { connectBinding, delay } from './helpers/srt-io.js';

const PUBLISH_SECRET = 'publish-secret-0123';
const PLAY_SECRET = 'play-secret-456789';

const PLAY_FORMS = ['read:sec', '#!::r=sec,m=request', '#!::m=request,r=sec', '#!::r=sec,m=request,u=admin,s=x', '#!::r=sec,m=bidirectional', 'sec', '#!::r=sec', 'read:sec:extra'];
const PUBLISH_FORMS = ['publish:sec', '#!::r=sec,m=publish', '#!::m=publish,r=sec', '#!::r=sec,m=publish,u=admin', 'publish:sec:extra'];
/** Forms that name the stream in another case or with other bytes: never the stream "sec". */
const OTHER_NAMES = ['read:SEC', 'read:sec ', 'read: sec', '#!::r=sec%00,m=request', 'read:sec/', '#!::r=Sec,m=request'];

interface Attempt {
  streamid: string;
  passphrase: string | undefined;
  pbkeylen?: number;
}

/** Connects; resolves with the socket, or the reject reason. */
async function attempt(port: number, a: Attempt): Promise<SrtSocket | number> {
  try {
    return await connectBinding(port, {
      streamid: a.streamid,
      latency: 120,
      ...(a.passphrase !== undefined ? { passphrase: a.passphrase } : {}),
      ...(a.pbkeylen !== undefined ? { pbkeylen: a.pbkeylen } : {}),
    });
  } catch (e) {
    assert.ok(e instanceof SrtRejectedError, `${a.streamid}: expected a rejection, got ${String(e)}`);
    return e.reason;
  }
}

test('only the play secret with a play form plays a protected stream; no combination takes it over or plays without the secret', { timeout: 120_000 }, async (t) => {
  const { relay, port } = await startRelay(t, {
    streams: { sec: { source: 'push://', passphrase: { publish: PUBLISH_SECRET, play: PLAY_SECRET }, onPublisherConflict: 'refuse' } },
  });
  const pub = await connectFor(t, port, { streamid: 'publish:sec', passphrase: PUBLISH_SECRET });
  await waitLive(relay, 'sec');
  const pubSession = sessionOf(relay, pub)!.id;
  const p = pacedPublisher(pub, { pps: 200 });
  t.after(() => p.stop());

  const secrets: Array<[string, string | undefined, number | undefined]> = [
    ['none', undefined, undefined],
    ['publish secret', PUBLISH_SECRET, undefined],
    ['wrong secret', 'not-the-secret-000', undefined],
    ['play secret', PLAY_SECRET, undefined],
    ['play secret, AES-128', PLAY_SECRET, 16],
    ['play secret, AES-192', PLAY_SECRET, 24],
    ['play secret, AES-256', PLAY_SECRET, 32],
  ];
  const outcomes: Record<string, number> = {};
  const note = (k: string): void => {
    outcomes[k] = (outcomes[k] ?? 0) + 1;
  };
  const accepted: SrtSocket[] = [];

  for (const form of [...PLAY_FORMS, ...PUBLISH_FORMS, ...OTHER_NAMES]) {
    for (const [label, passphrase, pbkeylen] of secrets) {
      const a: Attempt = { streamid: form, passphrase, ...(pbkeylen !== undefined ? { pbkeylen } : {}) };
      const r = await attempt(port, a);
      const what = `${JSON.stringify(form)} with ${label}`;
      const mayPlay = PLAY_FORMS.includes(form) && passphrase === PLAY_SECRET;
      if (typeof r === 'number') {
        note(`rejected ${r}`);
        assert.ok(!mayPlay, `${what} was rejected (${r}) but must play`);
        continue;
      }
      t.after(() => r.close());
      accepted.push(r);
      const s = await waitFor(() => sessionOf(relay, r), `${what}: session listed`);
      note(`accepted as ${s.kind}`);
      assert.ok(mayPlay, `${what} was accepted as ${s.kind} (${s.stream})`);
      assert.equal(s.kind, 'viewer', `${what}: a viewer`);
      assert.equal(s.stream, 'sec');
    }
    // Whatever was tried, the publisher is the same one.
    assert.equal(relay.getStream('sec')?.publisher?.session, pubSession, `after ${form}: the stream still has its publisher`);
  }
  t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}`);

  // The accepted viewers really receive the stream (decrypted with the play secret).
  const receivers = accepted.map((s) => countingReceiver(s));
  await waitFor(() => receivers.every((rx) => rx.packets >= 50), `every accepted viewer receives (${receivers.map((rx) => rx.packets).join(',')})`, 20_000);
  for (const rx of receivers) assert.equal(rx.corrupt, 0);
  assert.equal(accepted.length, PLAY_FORMS.length * 4, 'every play form with the play secret, at every key length, played');
  await delay(100);
  assert.equal(p.error, undefined, 'the publisher was never disturbed');
  assert.ok(relay.listSessions().some((s) => s.id === pubSession));
});

test('only the publish secret with a publish form publishes an idle protected stream', { timeout: 120_000 }, async (t) => {
  const { relay, port } = await startRelay(t, {
    streams: { sec: { source: 'push://', passphrase: { publish: PUBLISH_SECRET, play: PLAY_SECRET }, onPublisherConflict: 'refuse' } },
  });
  const secrets: Array<[string, string | undefined]> = [
    ['none', undefined],
    ['play secret', PLAY_SECRET],
    ['wrong secret', 'not-the-secret-000'],
    ['publish secret', PUBLISH_SECRET],
  ];
  const outcomes: Record<string, number> = {};
  for (const form of [...PUBLISH_FORMS, ...PLAY_FORMS, ...OTHER_NAMES]) {
    for (const [label, passphrase] of secrets) {
      const r = await attempt(port, { streamid: form, passphrase });
      const what = `${JSON.stringify(form)} with ${label}`;
      // A plain name (or #!:: without m=) of an idle stream publishes once it sends media.
      const undecided = form === 'sec' || form === '#!::r=sec';
      const mayPublish = (PUBLISH_FORMS.includes(form) || undecided) && passphrase === PUBLISH_SECRET;
      if (typeof r === 'number') {
        outcomes[`rejected ${r}`] = (outcomes[`rejected ${r}`] ?? 0) + 1;
        assert.ok(!mayPublish, `${what} was rejected (${r}) but must publish`);
        continue;
      }
      const s = await waitFor(() => sessionOf(relay, r), `${what}: session listed`);
      outcomes[`accepted as ${s.kind}`] = (outcomes[`accepted as ${s.kind}`] ?? 0) + 1;
      if (s.kind === 'viewer') {
        // A viewer of a configured stream may wait for its publisher, with the play secret only.
        assert.ok(PLAY_FORMS.includes(form) && passphrase === PLAY_SECRET, `${what} was accepted as a viewer`);
      } else {
        assert.ok(mayPublish, `${what} was accepted as ${s.kind}`);
      }
      r.close();
      await waitFor(() => !relay.listSessions().some((x) => x.id === s.id) && relay.getStream('sec')?.publisher === undefined, `${what}: closed again`, 30_000).catch((e: unknown) => {
        throw new Error(`${String(e)}; sessions ${JSON.stringify(relay.listSessions())}, publisher ${JSON.stringify(relay.getStream('sec')?.publisher)}`);
      });
    }
  }
  t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}`);
  assert.equal(outcomes['accepted as publisher'] ?? 0, PUBLISH_FORMS.length, 'every publish form with the publish secret published');
  assert.equal(outcomes['accepted as undecided'] ?? 0, 2, 'the two undecided forms with the publish secret were taken as a possible publisher (undecided until media)');
});
