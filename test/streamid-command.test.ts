/**
 * `srt-relay streamid '<id>'` as an operator runs it (a child process): it prints how a port
 * reads the id (stream, direction and what decided it, user, masked token, dialect), applies the
 * config's port settings (SLS domains, an outgoing port, streamIdless by address), and exits 1
 * with ERR_STREAM_ID_INVALID and the reason for an id the relay refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnFor, type AfterHook } from './helpers/processes.js';

const BIN = fileURLToPath(new URL('../../bin/srt-relay.js', import.meta.url));

async function run(t: AfterHook, args: string[]): Promise<{ code: number | null; json: Record<string, unknown> | undefined; stderr: string }> {
  const p = spawnFor(t, process.execPath, [BIN, 'streamid', ...args], { name: 'srt-relay streamid' });
  const exit = await p.waitExit(15_000);
  const out = p.stdout().toString('utf8');
  return { code: exit.code, json: out === '' ? undefined : (JSON.parse(out) as Record<string, unknown>), stderr: p.stderr() };
}

async function configFile(t: AfterHook, config: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'srt-relay-streamid-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'relay.json');
  await writeFile(file, JSON.stringify(config));
  return file;
}

test('streamid prints stream, direction, user, masked token and dialect of an access-control id', { timeout: 30_000 }, async (t) => {
  const r = await run(t, ['#!::u=alice,s=tok-123,r=live/cam1,m=publish']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json?.['stream'], 'live/cam1');
  assert.equal(r.json?.['direction'], 'publish');
  assert.equal(r.json?.['directionFrom'], 'stream id');
  assert.equal(r.json?.['user'], 'alice');
  assert.equal(r.json?.['token'], '***');
  assert.equal(r.json?.['dialect'], 'access-control');
  const shown = await run(t, ['--show-secrets', '#!::u=alice,s=tok-123,r=live/cam1,m=publish']);
  assert.equal(shown.json?.['token'], 'tok-123');
});

test('streamid with --config reads SLS domains, the port direction and streamIdless of the chosen port', { timeout: 30_000 }, async (t) => {
  const file = await configFile(t, {
    srt: {
      ports: [
        { port: 9000, direction: 'both', streamIds: { domains: { 'uplive.sls.com': 'publish', 'live.sls.com': 'play' } } },
        { port: 9001, direction: 'outgoing' },
        { port: 9002, direction: 'incoming', streamIdless: { default: 'lobby', byAddress: { '10.1.0.0/16': 'studio-a' } } },
      ],
    },
  });
  const sls = await run(t, ['--config', file, 'live.sls.com/live/cam1']);
  assert.equal(sls.code, 0, sls.stderr);
  assert.deepEqual([sls.json?.['stream'], sls.json?.['direction'], sls.json?.['directionFrom'], sls.json?.['dialect']], ['live/cam1', 'play', 'domain', 'domain']);
  const out = await run(t, ['--config', file, '--port', '9001', 'cam1']);
  assert.deepEqual([out.json?.['stream'], out.json?.['direction'], out.json?.['directionFrom']], ['cam1', 'play', 'port']);
  const mapped = await run(t, ['--config', file, '--port', '9002', '--from', '10.1.2.3', '']);
  assert.deepEqual([mapped.json?.['stream'], mapped.json?.['direction'], mapped.json?.['streamFrom']], ['studio-a', 'publish', 'streamIdless']);
  const other = await run(t, ['--config', file, '--port', '9002', '--from', '192.0.2.1', '']);
  assert.equal(other.json?.['stream'], 'lobby');
  const wrongWay = await run(t, ['--config', file, '--port', '9001', 'publish:cam1']);
  assert.equal(wrongWay.code, 1);
  assert.match(wrongWay.stderr, /ERR_STREAM_ID_INVALID: .*publish.*outgoing.*1405/);
});

test('streamid exits 1 naming the problem for an id the relay refuses, 2 for bad usage', { timeout: 30_000 }, async (t) => {
  const bad = await run(t, ['cam 1']);
  assert.equal(bad.code, 1);
  assert.equal(bad.json, undefined);
  assert.match(bad.stderr, /^error ERR_STREAM_ID_INVALID: the relay refuses this stream id with 1400: it names "cam 1", not a valid stream name/);
  const badShift = await run(t, ['#!::r=cam,m=request,t=abc']);
  assert.equal(badShift.code, 1);
  assert.match(badShift.stderr, /ERR_STREAM_ID_INVALID: the relay refuses this stream id with 1400: t=abc is neither a time shift .*t=-10s.* nor an access-control type \(stream, file, auth\)/);
  const none = await run(t, ['']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /sends no stream id.*streamIdless/);
  const usage = await run(t, []);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /missing the stream id/);
});
