/**
 * Recordings in the dashboard (issues 16 and 17): a node (bin/srt-relay.js, with an API token)
 * records a real ffmpeg publisher through a file:// push; the stream page and the Recordings page
 * list the finished segments GET /api/v1/recordings gives, and Download saves the very bytes on
 * disk (GET /api/v1/recordings/file, fetched with the token). The download route refuses a
 * missing token, paths out of recordingsRoot and files that are not recordings.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { openBrowser } from './helpers/browser.js';
import { ffmpegLiveEncoder, srtUrl } from './helpers/media.js';
import type { AfterHook } from './helpers/processes.js';
import { startRelayProcess, type RelayProcess } from './helpers/relay-process.js';
import { waitFor } from './helpers/relay-harness.js';
import { needChromium, needEncoder, unmet } from './helpers/requirements.js';
import { testTempDir } from './helpers/ts-fixture.js';

const skip = unmet(needChromium() ?? needEncoder('libx264'));
const TOKEN = 'recordings-test-token-51c2';
const auth = { authorization: `Bearer ${TOKEN}` };

const cleanups: (() => unknown)[] = [];
const suite: AfterHook = { after: (fn) => void cleanups.unshift(fn) };
after(async () => {
  for (const fn of cleanups) await fn();
});

interface RecordingJson { push: number; stream: string; path: string; start: string; durationSeconds: number; bytes: number }

let node: RelayProcess;
let browser: BrowserContext;
let root: string;
let segments: RecordingJson[];

async function listing(): Promise<RecordingJson[]> {
  return (await node.api<{ recordings: RecordingJson[] }>('/api/v1/recordings?stream=cam', { headers: auth })).body.recordings;
}

async function signedIn(hash: string): Promise<Page> {
  const page = await browser.newPage();
  await page.addInitScript({ content: `sessionStorage.setItem('srt-relay.token', ${JSON.stringify(TOKEN)})` });
  await page.goto(`http://127.0.0.1:${node.apiPort}/ui/${hash}`);
  return page;
}

before(async () => {
  if (skip !== false) return;
  const dir = join(testTempDir(), `dashboard-recordings-${process.pid}`);
  root = join(dir, 'rec');
  mkdirSync(root, { recursive: true });
  const cfg = join(dir, 'relay.json');
  writeFileSync(cfg, JSON.stringify({
    srt: { ports: [{ port: 9000, direction: 'both' }] },
    api: { token: TOKEN },
    recordingsRoot: root,
    pushes: [{ stream: 'cam', target: 'file://$stream/%Y-%m-%d/%H-%M-%S.ts?segmentSeconds=2', auto: true }],
  }));
  node = await startRelayProcess(suite, { args: ['--config', cfg], workers: 1, logLevel: 'warn' });
  const encoder = ffmpegLiveEncoder(suite, srtUrl(node.srtPort, 'publish:cam'), { size: '320x180', gop: 25 });
  segments = await waitFor(async () => {
    const l = await listing();
    return l.length >= 2 ? l : undefined;
  }, 'two finished segments of cam', 30_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${encoder.output()}\n${node.proc.output()}`);
  });
  browser = await openBrowser(suite);
});

test("the stream page lists cam's finished recording segments as the API gives them, and Download saves the file's bytes", { skip }, async () => {
  const page = await signedIn('#/stream/cam');
  const table = page.locator('#stream-recordings');
  await table.waitFor();
  for (const r of segments) {
    const row = table.locator(`tr[data-recording="${r.path}"]`);
    await row.waitFor();
    assert.match(await row.locator('[data-field="duration"]').innerText(), /^\d\.\d\d s$/, `${r.path} shows its duration`);
  }
  const first = segments[0]!;
  const row = table.locator(`tr[data-recording="${first.path}"]`);
  const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('link', { name: `download ${first.path}` }).click()]);
  const saved = join(testTempDir(), `download-${process.pid}.ts`);
  await download.saveAs(saved);
  assert.equal(download.suggestedFilename(), first.path.split('/').join('_'));
  const got = readFileSync(saved);
  assert.equal(got.length, first.bytes, 'the listed size');
  assert.ok(got.equals(readFileSync(join(root, first.path))), 'the bytes of the segment on disk');
  assert.equal(got[0], 0x47, 'MPEG-TS');
  await page.close();
});

test('the Recordings page lists every stream\'s segments with a link to the stream', { skip }, async () => {
  const page = await signedIn('#/recordings');
  const table = page.locator('#recordings-table');
  await table.waitFor();
  const row = table.locator(`tr[data-recording="${segments[0]!.path}"]`);
  await row.waitFor();
  assert.equal(await row.getByRole('link', { name: 'cam', exact: true }).getAttribute('href'), '#/stream/cam');
  if (process.env['SAVE_SCREENSHOTS'] === '1') await page.screenshot({ path: new URL('../../docs/images/dashboard-recordings.png', import.meta.url).pathname, fullPage: true });
  await page.close();
});

test('GET /api/v1/recordings/file needs the token, serves only recordings inside recordingsRoot, and names the file as an attachment', { skip }, async () => {
  const first = segments[0]!;
  const url = `/api/v1/recordings/file?path=${encodeURIComponent(first.path)}`;
  const ok = await fetch(`http://127.0.0.1:${node.apiPort}${url}`, { headers: auth });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('content-type'), 'video/mp2t');
  assert.equal(ok.headers.get('content-length'), String(first.bytes));
  assert.match(ok.headers.get('content-disposition') ?? '', /^attachment; filename="cam_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.ts"$/);
  await ok.arrayBuffer();
  assert.equal((await node.api(url)).status, 401, 'no token');
  assert.equal((await node.api(url, { headers: { authorization: 'Bearer wrong' } })).status, 401, 'a wrong token');
  // Out of the root: "..", an absolute path, a symbolic link to a file outside.
  writeFileSync(join(root, '..', 'secret.ts'), 'not a recording');
  symlinkSync(join(root, '..', 'secret.ts'), join(root, 'link.ts'));
  const code = async (path: string): Promise<[number, string | undefined]> => {
    const r = await node.api<{ error?: { code: string } }>(`/api/v1/recordings/file?path=${encodeURIComponent(path)}`, { headers: auth });
    return [r.status, r.body?.error?.code];
  };
  assert.deepEqual(await code('../secret.ts'), [400, 'ERR_RECORDING_TARGET_INVALID']);
  assert.deepEqual(await code('link.ts'), [400, 'ERR_RECORDING_TARGET_INVALID']);
  assert.deepEqual(await code(join(root, first.path)), [400, 'ERR_API_BAD_REQUEST']);
  assert.deepEqual(await code('cam'), [404, 'ERR_API_NOT_FOUND'], 'a folder');
  writeFileSync(join(root, 'notes.txt'), 'x');
  assert.deepEqual(await code('notes.txt'), [404, 'ERR_API_NOT_FOUND'], 'not a .ts or .m3u8');
  // The target's HLS playlist (cam/cam.m3u8, docs/recording.md).
  const playlist = await fetch(`http://127.0.0.1:${node.apiPort}/api/v1/recordings/file?path=${encodeURIComponent('cam/cam.m3u8')}`, { headers: auth });
  assert.equal(playlist.status, 200);
  assert.equal(playlist.headers.get('content-type'), 'application/vnd.apple.mpegurl');
  assert.match(await playlist.text(), /^#EXTM3U\n[\s\S]*\.ts\n/);
});

test('GET /api/v1/recordings/file serves a byte range (206 with Content-Range, the bytes of the file there), an open-ended and a suffix range, 416 past the end, and the whole file for several ranges', { skip }, async () => {
  const first = segments[0]!;
  const whole = readFileSync(join(root, first.path));
  const size = whole.length;
  const url = `http://127.0.0.1:${node.apiPort}/api/v1/recordings/file?path=${encodeURIComponent(first.path)}`;
  const get = (range: string): Promise<Response> => fetch(url, { headers: { ...auth, range } });
  const mid = await get('bytes=188-375');
  assert.equal(mid.status, 206);
  assert.equal(mid.headers.get('content-range'), `bytes 188-375/${size}`);
  assert.equal(mid.headers.get('content-length'), '188');
  assert.equal(mid.headers.get('accept-ranges'), 'bytes');
  assert.ok(Buffer.from(await mid.arrayBuffer()).equals(whole.subarray(188, 376)), 'bytes 188..375 of the file');
  const tail = await get(`bytes=${size - 1000}-`);
  assert.equal(tail.status, 206);
  assert.ok(Buffer.from(await tail.arrayBuffer()).equals(whole.subarray(size - 1000)), 'an open-ended range: the rest of the file');
  const suffix = await get('bytes=-376');
  assert.equal(suffix.headers.get('content-range'), `bytes ${size - 376}-${size - 1}/${size}`);
  assert.ok(Buffer.from(await suffix.arrayBuffer()).equals(whole.subarray(size - 376)), 'a suffix range: the last 376 bytes');
  const past = await get(`bytes=${size + 10}-${size + 20}`);
  assert.equal(past.status, 416);
  assert.equal(past.headers.get('content-range'), `bytes */${size}`);
  await past.arrayBuffer();
  const several = await get('bytes=0-187,376-563');
  assert.equal(several.status, 200, 'several ranges: the whole file');
  assert.equal(Buffer.from(await several.arrayBuffer()).length, size);
});

test('a download ticket (POST /api/v1/recordings/link, with the token) lets a plain link download that one file without the token, ranges too; not another file, not a forged ticket', { skip }, async () => {
  const [first, second] = segments;
  assert.ok(first !== undefined && second !== undefined, 'two segments');
  const base = `http://127.0.0.1:${node.apiPort}`;
  assert.equal((await node.api('/api/v1/recordings/link', { method: 'POST', body: JSON.stringify({ path: first.path }), headers: { 'content-type': 'application/json' } })).status, 401, 'a ticket needs the token');
  const link = await node.api<{ url: string; expiresAt: string }>('/api/v1/recordings/link', { method: 'POST', body: JSON.stringify({ path: first.path }), headers: { ...auth, 'content-type': 'application/json' } });
  assert.equal(link.status, 200);
  assert.match(link.body.url, new RegExp(`^/api/v1/recordings/file\\?path=${encodeURIComponent(first.path).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}&ticket=[A-Za-z0-9_-]{22}$`));
  assert.ok(Date.parse(link.body.expiresAt) > Date.now(), 'it expires later');
  const plain = await fetch(`${base}${link.body.url}`);
  assert.equal(plain.status, 200, 'no token, the ticket');
  assert.ok(Buffer.from(await plain.arrayBuffer()).equals(readFileSync(join(root, first.path))), 'the bytes of the file');
  const ranged = await fetch(`${base}${link.body.url}`, { headers: { range: 'bytes=0-187' } });
  assert.equal(ranged.status, 206);
  await ranged.arrayBuffer();
  const ticket = new URL(link.body.url, base).searchParams.get('ticket')!;
  assert.equal((await fetch(`${base}/api/v1/recordings/file?path=${encodeURIComponent(second.path)}&ticket=${ticket}`)).status, 401, 'another file with that ticket');
  assert.equal((await fetch(`${base}/api/v1/recordings/file?path=${encodeURIComponent(first.path)}&ticket=${'A'.repeat(22)}`)).status, 401, 'a forged ticket');
  assert.equal((await node.api('/api/v1/recordings/link', { method: 'POST', body: JSON.stringify({ path: '../secret.ts' }), headers: { ...auth, 'content-type': 'application/json' } })).status, 400, 'no ticket for a path out of recordingsRoot');
});
