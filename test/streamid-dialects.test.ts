/**
 * Every peer's stream-id dialect is read the same way by the native gate (ClassifyStreamId, the
 * handshake decision) and by src/srt/streamid.ts (the CLI, the webhook's user/token): stream,
 * direction, and in TypeScript the user, token and dialect. docs/streams.md lists these forms;
 * also the config checks of the no-streamid address map.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { ConfigInvalidError } from '../src/errors.js';
import { MODE_PLAY, MODE_PUBLISH, MODE_UNKNOWN, native } from '../src/srt/native.js';
import { nativeAddressMap, nativeDomains, parseStreamId, type GateDialects } from '../src/srt/streamid.js';

const SLS: GateDialects = { domains: { 'uplive.sls.com': 'publish', 'live.sls.com': 'play', default: 'both' } };

interface Case {
  sid: string;
  mode: number;
  stream: string;
  dialect: string;
  user?: string;
  token?: string;
  with?: GateDialects;
}

const CASES: Case[] = [
  // today's forms
  { sid: '', mode: MODE_UNKNOWN, stream: '', dialect: 'empty' },
  { sid: 'news', mode: MODE_UNKNOWN, stream: 'news', dialect: 'plain' },
  { sid: 'live/news', mode: MODE_UNKNOWN, stream: 'live/news', dialect: 'plain' },
  { sid: 'publish:news', mode: MODE_PUBLISH, stream: 'news', dialect: 'mediamtx' },
  { sid: 'publish:news:alice:secret', mode: MODE_PUBLISH, stream: 'news', dialect: 'mediamtx', user: 'alice', token: 'secret' },
  { sid: 'read:news', mode: MODE_PLAY, stream: 'news', dialect: 'mediamtx' },
  { sid: '#!::r=news,m=publish', mode: MODE_PUBLISH, stream: 'news', dialect: 'access-control' },
  { sid: '#!::r=news', mode: MODE_UNKNOWN, stream: 'news', dialect: 'access-control' },
  { sid: '#!::r=news,m=bidirectional', mode: MODE_PLAY, stream: 'news', dialect: 'access-control' },
  // Haivision standard keys: u= user, s= session/token
  { sid: '#!::u=alice,s=tok123,r=news,m=publish', mode: MODE_PUBLISH, stream: 'news', dialect: 'access-control', user: 'alice', token: 'tok123' },
  // SRS: vhost in h=, app/stream in r=; its older form with app/stream in h=
  { sid: '#!::h=srs.srt.com.cn,r=live/livestream,m=publish', mode: MODE_PUBLISH, stream: 'live/livestream', dialect: 'srs' },
  { sid: '#!::h=srs.srt.com.cn,r=live/livestream,m=request', mode: MODE_PLAY, stream: 'live/livestream', dialect: 'srs' },
  { sid: '#!::h=live/livestream,m=publish', mode: MODE_PUBLISH, stream: 'live/livestream', dialect: 'srs' },
  { sid: '#!::h=example.com,m=publish', mode: MODE_PUBLISH, stream: '', dialect: 'access-control' },
  // Blackmagic: the stream key is u=; its legacy form has r=
  { sid: '#!::bmd_uuid=0e1df79f-77e6-465c-b099-29a616e964f7,bmd_name=Web Presenter,u=studio-a', mode: MODE_UNKNOWN, stream: 'studio-a', dialect: 'blackmagic' },
  { sid: '#!::bmd_uuid=0e1df79f-77e6-465c-b099-29a616e964f7,bmd_name=rdt-wp-003,r=test3,m=publish', mode: MODE_PUBLISH, stream: 'test3', dialect: 'blackmagic' },
  { sid: '#!::bmd_uuid=0e1df79f,bmd_name=ATEM,u=uplive.sls.com/live/cam1', mode: MODE_PUBLISH, stream: 'live/cam1', dialect: 'blackmagic', with: SLS },
  // SRT Live Server / irl-srt-server: configured publisher and player domains
  { sid: 'uplive.sls.com/live/cam1', mode: MODE_PUBLISH, stream: 'live/cam1', dialect: 'domain', with: SLS },
  { sid: 'live.sls.com/live/cam1', mode: MODE_PLAY, stream: 'live/cam1', dialect: 'domain', with: SLS },
  { sid: 'LIVE.SLS.COM/live/cam1', mode: MODE_PLAY, stream: 'live/cam1', dialect: 'domain', with: SLS },
  { sid: 'uplive.sls.com/live/cam1', mode: MODE_UNKNOWN, stream: 'uplive.sls.com/live/cam1', dialect: 'plain' },
  { sid: 'other.example/live/cam1', mode: MODE_UNKNOWN, stream: 'other.example/live/cam1', dialect: 'plain', with: SLS },
  { sid: 'uplive.sls.com', mode: MODE_UNKNOWN, stream: 'uplive.sls.com', dialect: 'plain', with: SLS },
  // OvenMediaEngine: vhost/app/stream (vhost as a "both" domain), and its percent-encoded srt:// id
  { sid: 'default/app/stream', mode: MODE_UNKNOWN, stream: 'app/stream', dialect: 'domain', with: SLS },
  { sid: 'srt%3A%2F%2Fome.example.com%3A9999%2Fapp%2Fstream', mode: MODE_UNKNOWN, stream: 'app/stream', dialect: 'ome-url' },
  { sid: 'srt://ome.example.com:9999/app/stream?policy=abc', mode: MODE_UNKNOWN, stream: 'app/stream', dialect: 'ome-url' },
  { sid: 'srt://ome.example.com', mode: MODE_UNKNOWN, stream: '', dialect: 'ome-url' },
  // percent-encoded ids (ffmpeg URLs, OBS)
  { sid: '%23%21%3A%3Ar%3Dcam1%2Cm%3Dpublish', mode: MODE_PUBLISH, stream: 'cam1', dialect: 'access-control' },
  { sid: 'publish%3Acam1', mode: MODE_PUBLISH, stream: 'cam1', dialect: 'mediamtx' },
  { sid: 'live%2Fcam1', mode: MODE_UNKNOWN, stream: 'live/cam1', dialect: 'plain' },
  { sid: 'cam%zz', mode: MODE_UNKNOWN, stream: 'cam%zz', dialect: 'plain' },
  { sid: 'publish:cam1:u:p%41ss', mode: MODE_PUBLISH, stream: 'cam1', dialect: 'mediamtx', user: 'u', token: 'p%41ss' },
  // t=: an access-control type or a time shift (a negative duration); anything else names no stream (1400)
  { sid: '#!::r=news,m=request,t=-10s', mode: MODE_PLAY, stream: 'news', dialect: 'access-control' },
  { sid: '#!::r=news,m=request,t=-1.5', mode: MODE_PLAY, stream: 'news', dialect: 'access-control' },
  { sid: '#!::r=news,m=publish,t=stream', mode: MODE_PUBLISH, stream: 'news', dialect: 'access-control' },
  { sid: '#!::r=news,m=request,t=srt-relay-cluster,u=edge-2,s=3', mode: MODE_PLAY, stream: 'news', dialect: 'access-control', user: 'edge-2', token: '3' },
  { sid: '#!::r=news,m=request,t=abc', mode: MODE_PLAY, stream: '', dialect: 'access-control' },
  { sid: '#!::r=news,m=request,t=', mode: MODE_PLAY, stream: '', dialect: 'access-control' },
  { sid: '#!::r=news,m=request,t=--5', mode: MODE_PLAY, stream: '', dialect: 'access-control' },
  { sid: '#!::r=news,m=request,t=5s', mode: MODE_PLAY, stream: '', dialect: 'access-control' },
  { sid: '#!::t=abc,r=news,t=-5', mode: MODE_UNKNOWN, stream: '', dialect: 'access-control' },
  // StreamToStudio's return feed
  { sid: 'cam1#feedbackplay', mode: MODE_PLAY, stream: 'cam1/feedback', dialect: 'plain' },
  { sid: '#!::r=cam1,m=publish#feedbackplay', mode: MODE_PLAY, stream: 'cam1/feedback', dialect: 'access-control' },
  { sid: '#feedbackplay', mode: MODE_UNKNOWN, stream: '#feedbackplay', dialect: 'plain' },
];

test('each dialect gives the same stream and direction in the native gate and in TypeScript', () => {
  for (const c of CASES) {
    const domains = nativeDomains(c.with?.domains);
    assert.deepEqual(native.classifyStreamId(c.sid, domains), [c.mode, c.stream], `native classifyStreamId('${c.sid}')`);
    const p = parseStreamId(c.sid, c.with);
    assert.deepEqual(
      { mode: p.mode, stream: p.resource, dialect: p.dialect, user: p.user, token: p.token },
      { mode: c.mode, stream: c.stream, dialect: c.dialect, user: c.user, token: c.token },
      `parseStreamId('${c.sid}')`,
    );
  }
});

test('Blackmagic ids do not report their stream key as a user', () => {
  const p = parseStreamId('#!::bmd_uuid=x,bmd_name=y,u=key1');
  assert.equal(p.user, undefined);
  assert.equal(p.keys['u'], 'key1');
});

test('address maps become native prefixes: a bare address is a full-length prefix', () => {
  assert.deepEqual(nativeAddressMap({ '10.1.0.0/16': 'a', '192.0.2.7': 'b', '2001:db8::/32': 'c', '::1': 'd' }), [
    ['10.1.0.0', 16, 'a'],
    ['192.0.2.7', 32, 'b'],
    ['2001:db8::', 32, 'c'],
    ['::1', 128, 'd'],
  ]);
});

test('a streamIdless address that is not a numeric address or prefix is a config error naming the key', async () => {
  const bad = {
    srt: { ports: [{ port: 9000, direction: 'incoming', streamIdless: { byAddress: { '10.0.0.0/33': 'a', 'cam.example.com': 'b', '192.0.2.7': 'ok' } } }] },
  };
  const dir = await mkdtemp(join(tmpdir(), 'srt-relay-idless-'));
  try {
    const file = join(dir, 'relay.json');
    await writeFile(file, JSON.stringify(bad));
    await assert.rejects(loadConfig({ file }), (e: unknown) => {
      assert.ok(e instanceof ConfigInvalidError);
      assert.match(e.message, /srt\.ports\[0\]\.streamIdless\.byAddress\["10\.0\.0\.0\/33"\]: prefix length must be 0 to 32/);
      assert.match(e.message, /byAddress\["cam\.example\.com"\]: must be a numeric IPv4 or IPv6 address/);
      assert.doesNotMatch(e.message, /192\.0\.2\.7/);
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
