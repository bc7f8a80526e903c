/**
 * The web dashboard in a real browser: headless Debian chromium (playwright-core, no download)
 * against the relay as its own process (bin/srt-relay.js, with an API token), a real ffmpeg
 * publisher and a real srt-live-transmit viewer. The overview shows what the API says; the
 * stream page's preview <video> plays a picture; kicking a session from the Sessions page ends
 * the viewer's process; a wrong token keeps the login form. Screenshots go to docs/images/ when
 * SAVE_SCREENSHOTS=1 (how the README's pictures are made).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { openBrowser } from './helpers/browser.js';
import { SrtlaSender } from './helpers/srtla-sender.js';
import { freeUdpPort } from './helpers/free-port.js';
import { ffmpegLiveEncoder, srtUrl } from './helpers/media.js';
import type { AfterHook, Spawned } from './helpers/processes.js';
import { startRelayProcess, type RelayProcess } from './helpers/relay-process.js';
import { waitFor } from './helpers/relay-harness.js';
import { needChromium, needEncoder, unmet } from './helpers/requirements.js';
import { startSlt } from './helpers/slt.js';
import { testTempDir } from './helpers/ts-fixture.js';

const skip = unmet(needChromium() ?? needEncoder('libx264'));
const TOKEN = 'dashboard-test-token-7f3a';
const IMAGES = fileURLToPath(new URL('../../docs/images/', import.meta.url));
const SAVE = process.env['SAVE_SCREENSHOTS'] === '1';

/** Clean-ups of the shared node, browser and peers, run after the last test of the file. */
const cleanups: (() => unknown)[] = [];
const suite: AfterHook = { after: (fn) => void cleanups.unshift(fn) };
after(async () => {
  for (const fn of cleanups) await fn();
});

let node: RelayProcess;
let browser: BrowserContext;
let encoder: Spawned;
let viewer: Spawned;
let srtlaPort: number;

interface StreamJson {
  name: string;
  state: string;
  source: string;
  viewers: number;
  publisher: { address: string; session: number } | null;
  media: { ccErrors: number; keyframeIntervalMs: number | null; programs: { tracks: { codec: string; kind: string; width?: number; height?: number }[] }[] } | null;
}
interface SessionJson {
  id: number;
  kind: string;
  stream: string;
  peer: string;
}

const auth = { authorization: `Bearer ${TOKEN}` };

async function stream(name: string): Promise<StreamJson> {
  const r = await node.api<StreamJson>(`/api/v1/streams/${name}`, { headers: auth });
  assert.equal(r.status, 200);
  return r.body;
}

async function sessions(): Promise<SessionJson[]> {
  return (await node.api<{ sessions: SessionJson[] }>('/api/v1/sessions', { headers: auth })).body.sessions;
}

/** A page signed in with the right token (sessionStorage set before the app starts). */
async function signedIn(hash: string, viewport?: { width: number; height: number }): Promise<Page> {
  const page = await browser.newPage();
  if (viewport !== undefined) await page.setViewportSize(viewport);
  await page.addInitScript({ content: `sessionStorage.setItem('srt-relay.token', ${JSON.stringify(TOKEN)})` });
  page.on('dialog', (d) => void d.accept());
  await page.goto(`http://127.0.0.1:${node.apiPort}/ui/${hash}`);
  return page;
}

async function shot(page: Page, file: string): Promise<void> {
  if (!SAVE) return;
  mkdirSync(IMAGES, { recursive: true });
  await page.screenshot({ path: join(IMAGES, file), fullPage: true });
}

before(async () => {
  if (skip !== false) return;
  const cfg = join(testTempDir(), 'dashboard-browser.json');
  srtlaPort = await freeUdpPort();
  writeFileSync(cfg, JSON.stringify({ srt: { ports: [{ port: 9000, direction: 'both' }] }, api: { token: TOKEN }, srtla: { port: srtlaPort, host: '127.0.0.1' } }));
  node = await startRelayProcess(suite, { args: ['--config', cfg], workers: 1, logLevel: 'warn' });
  encoder = ffmpegLiveEncoder(suite, srtUrl(node.srtPort, 'publish:cam'), { size: '640x360' });
  await waitFor(async () => (await stream('cam').catch(() => undefined))?.media?.keyframeIntervalMs != null, 'cam live with its tracks read', 20_000);
  viewer = startSlt(suite, srtUrl(node.srtPort, 'read:cam'), 'file://con');
  await waitFor(async () => (await stream('cam')).viewers === 1, 'the srt-live-transmit viewer counted', 10_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${viewer.output()}\n${node.proc.output()}`);
  });
  browser = await openBrowser(suite);
});

test('a wrong token keeps the login form up with the refusal; the right one opens the overview', { skip }, async () => {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${node.apiPort}/ui/`);
  await page.getByLabel('API token').waitFor();
  await shot(page, 'dashboard-login.png');
  await page.getByLabel('API token').fill('not-the-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  // The form may already say the node needs its token: wait for the refusal of this one.
  await page.locator('#login-error', { hasText: 'refused' }).waitFor();
  assert.match(await page.locator('#login-error').innerText(), /refused/);
  assert.equal(await page.locator('#streams-table').count(), 0, 'no data behind a wrong token');
  await page.getByLabel('API token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('tr[data-stream="cam"]').waitFor();
  // A stored token the node no longer takes (api.token changed, say) brings the login back.
  await page.evaluate("sessionStorage.setItem('srt-relay.token', 'stale-token')");
  await page.reload();
  await page.getByLabel('API token').waitFor();
  assert.equal(await page.locator('#streams-table').count(), 0);
  await page.close();
});

test('the overview lists the stream with the viewers, publisher, media, keyframe interval and CC errors the API gives', { skip }, async () => {
  const page = await signedIn('#/');
  const row = page.locator('tr[data-stream="cam"]');
  await row.waitFor();
  // Let the history fill a few seconds so the sparkline has a line (and the screenshot shows it).
  await waitFor(async () => ((await row.locator('svg.spark path').getAttribute('d')) ?? '').split('L').length > 3, 'an ingest sparkline', 15_000);
  const api = await stream('cam');
  const video = api.media!.programs.flatMap((p) => p.tracks).find((x) => x.kind === 'video')!;
  const cell = async (f: string): Promise<string> => (await row.locator(`[data-field="${f}"]`).innerText()).trim();
  assert.equal(await cell('name'), 'cam');
  assert.equal(await cell('state'), 'live');
  assert.equal(await cell('viewers'), String(api.viewers));
  assert.equal(await cell('publisher'), api.publisher!.address);
  assert.equal(await cell('source'), api.source);
  assert.match(await cell('media'), new RegExp(`^${video.codec} ${video.width}×${video.height}`));
  assert.equal(await cell('cc'), String(api.media!.ccErrors));
  assert.equal(await cell('keyframe'), api.media!.keyframeIntervalMs! >= 1000 ? `${(api.media!.keyframeIntervalMs! / 1000).toFixed(2)} s` : `${Math.round(api.media!.keyframeIntervalMs!)} ms`);
  assert.match(await cell('bitrate'), /kbit\/s|Mbit\/s/);
  assert.equal(await page.locator('#total-viewers').innerText(), String(api.viewers));
  await shot(page, 'dashboard-overview.png');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'dashboard-overview-phone.png');
  await page.close();
});

test("the stream page's preview <video> plays the live picture: currentTime advances and the video area is not uniform black; Stop preview ends its viewer session", { skip }, async () => {
  const page = await signedIn('#/stream/cam');
  const video = page.locator('#preview-video');
  await video.waitFor();
  const currentTime = async (): Promise<number> => Number(await page.evaluate("document.getElementById('preview-video').currentTime"));
  await waitFor(async () => (await currentTime()) > 0.5, 'the preview starts playing', 15_000);
  // It keeps playing: currentTime advances by several seconds (no verdict on how fast: a busy
  // machine may stall it a moment; a stuck or dead player never gets there).
  const t0 = await currentTime();
  await waitFor(async () => (await currentTime()) - t0 >= 4, `currentTime advancing 4 s past ${t0}`, 30_000);
  // The preview is a viewer of the stream like any other: the API counts it.
  await waitFor(async () => (await stream('cam')).viewers === 2, 'the preview counted as a second viewer');
  const png = await video.screenshot();
  // Decode the screenshot in a blank page (the dashboard's CSP allows no data: fetch) and measure
  // it: testsrc is colour bars and a counter.
  const blank = await browser.newPage();
  const stats = (await blank.evaluate(`(async () => {
    const img = await createImageBitmap(await (await fetch('data:image/png;base64,${png.toString('base64')}')).blob());
    const c = new OffscreenCanvas(img.width, img.height);
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, img.width, img.height).data;
    let max = 0;
    const colours = new Set();
    for (let i = 0; i < d.length; i += 4 * 7) {
      max = Math.max(max, d[i], d[i + 1], d[i + 2]);
      colours.add(((d[i] >> 4) << 8) | ((d[i + 1] >> 4) << 4) | (d[i + 2] >> 4));
    }
    return { max, colours: colours.size, width: img.width };
  })()`)) as { max: number; colours: number; width: number };
  await blank.close();
  assert.ok(stats.width > 100, `the video area is ${stats.width} px wide`);
  assert.ok(stats.max > 128, `brightest channel ${stats.max}: the video area is black`);
  assert.ok(stats.colours > 20, `${stats.colours} distinct colours: the video area is uniform`);
  if (SAVE) writeFileSync(join(IMAGES, 'dashboard-preview.png'), png);
  await page.locator('#chart-bitrate canvas').waitFor();
  await shot(page, 'dashboard-stream.png');
  await page.getByRole('button', { name: 'Stop preview' }).click();
  await waitFor(async () => (await stream('cam')).viewers === 1, 'the preview viewer ended by Stop preview');
  assert.equal(await page.locator('#preview-video').count(), 0);
  await page.close();
});

test('the node page shows the SRT port and its direction and the SRTLA port with the SRT port it feeds, and the cluster page says the node runs alone', { skip }, async () => {
  const page = await signedIn('#/node');
  const ports = page.locator('#ports-table');
  await ports.waitFor();
  assert.match(await ports.innerText(), new RegExp(`:${node.srtPort}\\s+SRT\\s+both`));
  assert.match(await page.locator('#srtla-port').innerText(), new RegExp(`127\\.0\\.0\\.1:${srtlaPort}\\s+SRTLA \\(bonded ingest\\)\\s+incoming → 127\\.0\\.0\\.1:${node.srtPort}`), 'the SRTLA port and the SRT port its groups call');
  assert.equal(await page.locator('#node-health').innerText(), 'ok');
  await page.locator('#chart-sessions canvas').waitFor();
  await shot(page, 'dashboard-node.png');
  await page.getByRole('link', { name: 'Cluster' }).click();
  await page.locator('#cluster-off').waitFor();
  await page.close();
});

test("a push added on the stream page is in the API's pushes with its target, and Remove takes it out of the API", { skip }, async () => {
  interface PushJson { id: number; stream: string; target: string; state: string }
  const pushes = async (): Promise<PushJson[]> => (await node.api<{ pushes: PushJson[] }>('/api/v1/pushes', { headers: auth })).body.pushes;
  const target = `srt://127.0.0.1:${await freeUdpPort()}?streamid=publish:copy`;
  const page = await signedIn('#/stream/cam');
  await page.getByLabel('New push target').fill(target);
  await page.getByRole('button', { name: 'Add push' }).click();
  const push = await waitFor(async () => (await pushes()).find((p) => p.stream === 'cam' && p.target === target), 'the push in GET /api/v1/pushes');
  const row = page.locator(`tr[data-push="${push.id}"]`);
  await row.waitFor();
  assert.match(await row.innerText(), new RegExp(target.replace(/[.?]/g, '\\$&')));
  await row.getByRole('button', { name: `remove push ${push.id}` }).click();
  await waitFor(async () => (await pushes()).every((p) => p.id !== push.id), 'the push gone from GET /api/v1/pushes');
  await row.waitFor({ state: 'detached', timeout: 5000 });
  await page.close();
});

test("editing a push on the stream page changes it in the API (PUT /api/v1/pushes/{id}, same id); a refused edit shows the API's message and changes nothing", { skip }, async () => {
  interface PushJson { id: number; stream: string; target: string; auto: boolean }
  const pushes = async (): Promise<PushJson[]> => (await node.api<{ pushes: PushJson[] }>('/api/v1/pushes', { headers: auth })).body.pushes;
  const [p1, p2] = [await freeUdpPort(), await freeUdpPort()];
  const first = `srt://127.0.0.1:${p1}?streamid=publish:copy`;
  const added = await node.api<PushJson>('/api/v1/pushes', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ stream: 'cam', target: first }) });
  assert.equal(added.status, 201);
  const id = added.body.id;
  const page = await signedIn('#/stream/cam');
  const row = page.locator(`tr[data-push="${id}"]`);
  await row.waitFor();
  await row.getByRole('button', { name: `edit push ${id}` }).click();
  const box = page.getByLabel(`Target of push ${id}`);
  assert.equal(await box.inputValue(), first, 'the form is prefilled with the push\'s target');
  await box.fill(`srt://127.0.0.1:${p2}?latncy=200`);
  await page.getByRole('button', { name: 'Save push' }).click();
  await page.getByText(/Not saved \(ERR_SRT_OPTION_UNKNOWN\).*did you mean 'latency'/).waitFor();
  assert.deepEqual((await pushes()).find((p) => p.id === id)?.target, first, 'a refused edit changed nothing');
  const second = `srt://127.0.0.1:${p2}?latency=300`;
  await box.fill(second);
  await page.getByLabel('Reconnect automatically (auto)').check();
  await shot(page, 'dashboard-push-edit.png');
  await page.getByRole('button', { name: 'Save push' }).click();
  await page.getByText(`Push ${id} now sends to ${second}.`).waitFor();
  const now = (await pushes()).find((p) => p.id === id);
  assert.deepEqual(now && { stream: now.stream, target: now.target, auto: now.auto }, { stream: 'cam', target: second, auto: true });
  assert.equal((await pushes()).filter((p) => p.target === first).length, 0, 'the old target is gone');
  await row.locator('td[data-label="Target"]').getByText(second).waitFor();
  assert.equal(await page.locator('#push-edit').count(), 0, 'the form closed');
  await node.api(`/api/v1/pushes/${id}`, { method: 'DELETE', headers: auth });
  await page.close();
});

test("kicking a session from the Sessions page ends it: the viewer's srt-live-transmit sees the close and exits", { skip }, async () => {
  const page = await signedIn('#/sessions');
  const viewerSession = (await sessions()).find((s) => s.kind === 'viewer' && s.stream === 'cam');
  assert.ok(viewerSession !== undefined, 'the srt-live-transmit viewer has a session');
  const row = page.locator(`tr[data-session="${viewerSession.id}"]`);
  await row.waitFor();
  await shot(page, 'dashboard-sessions.png');
  assert.equal(viewer.exit, undefined, 'srt-live-transmit runs before the kick');
  await row.getByRole('button', { name: /^kick session/ }).click();
  await page.getByText(`Session ${viewerSession.id} kicked.`).waitFor();
  const exit = await viewer.waitExit(10_000);
  assert.ok(exit !== undefined, 'srt-live-transmit exited after the kick');
  await waitFor(async () => (await sessions()).every((s) => s.id !== viewerSession.id), 'the session gone from the API');
  await row.waitFor({ state: 'detached', timeout: 5000 });
  assert.equal(encoder.exit, undefined, 'the publisher was not touched');
  await page.close();
});

test("the Sessions page shows a bonded (SRTLA) publisher's links with the address, bytes and last-heard time the API gives", { skip }, async () => {
  interface Link { address: string; bytes: number; lastHeard: string }
  interface Bonded extends SessionJson { srtla: { group: number; links: Link[] } | null }
  const sender = await SrtlaSender.start({ receiver: { host: '127.0.0.1', port: srtlaPort }, links: [{ bind: '127.0.0.1' }, { bind: '127.0.0.2' }] });
  cleanups.unshift(() => sender.close());
  await waitFor(() => sender.registeredLinks() === 2, 'the sender registered 2 links');
  const bondedEncoder = ffmpegLiveEncoder(suite, `srt://127.0.0.1:${sender.port}?streamid=publish:bonded&latency=500000`, { size: '320x180', name: 'ffmpeg over SRTLA' });
  const bonded = async (): Promise<Bonded | undefined> =>
    (await node.api<{ sessions: Bonded[] }>('/api/v1/sessions', { headers: auth })).body.sessions.find((s) => s.kind === 'publisher' && s.stream === 'bonded');
  const pub = await waitFor(async () => {
    const s = await bonded();
    return s?.srtla !== null && s?.srtla !== undefined && s.srtla.links.length === 2 && s.srtla.links.every((l) => l.bytes > 0) ? s : undefined;
  }, 'the bonded publisher with 2 links that carried bytes', 20_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${bondedEncoder.output()}`);
  });
  const page = await signedIn('#/sessions');
  const row = page.locator(`tr[data-session="${pub.id}"]`);
  await row.waitFor();
  assert.equal((await row.locator('[data-field="srtla"]').innerText()).trim(), '2 links');
  const links = page.locator(`#srtla-${pub.id}`);
  await links.waitFor();
  assert.match(await links.locator('caption').innerText(), new RegExp(`SRTLA group ${pub.srtla!.group} of session ${pub.id}: 2 links`));
  const api = (await bonded())!.srtla!.links;
  assert.deepEqual((await links.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-link')))).sort(), api.map((l) => l.address).sort(), 'one row per link, by address');
  for (const l of api) {
    const cell = links.locator(`tr[data-link="${l.address}"]`);
    assert.match(await cell.locator('[data-field="bytes"]').innerText(), /^[\d.]+ (B|KiB|MiB|GiB)$/);
    assert.match(await cell.locator('[data-field="last-heard"]').innerText(), /^\d+ s ago$/, 'a link heard seconds ago');
  }
  // The page follows the API: the bytes a link carried grow while ffmpeg sends.
  const first = await links.locator(`tr[data-link="${api[0]!.address}"] [data-field="bytes"]`).innerText();
  await waitFor(async () => (await links.locator(`tr[data-link="${api[0]!.address}"] [data-field="bytes"]`).innerText()) !== first, 'the link bytes updated on the page', 10_000);
  await shot(page, 'dashboard-sessions-srtla.png');
  await bondedEncoder.kill();
  await page.close();
});

test('editing the stream on its page goes through PUT /api/v1/streams: a bad option shows the API\'s message and changes nothing, a good body makes the stream configured', { skip }, async () => {
  interface Configured { configured: boolean; source: string }
  const before = (await node.api<Configured>('/api/v1/streams/cam', { headers: auth })).body;
  assert.equal(before.configured, false, 'cam was made by its publisher');
  const page = await signedIn('#/stream/cam');
  await page.getByText('Edit stream settings').click();
  const box = page.getByLabel(/Settings of cam/);
  assert.deepEqual(JSON.parse(await box.inputValue()), { source: 'push://' });
  await box.fill(JSON.stringify({ source: 'srt://127.0.0.1:9?latncy=200' }));
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText(/Not saved \(ERR_SRT_OPTION_UNKNOWN\).*did you mean 'latency'/).waitFor();
  assert.equal((await node.api<Configured>('/api/v1/streams/cam', { headers: auth })).body.configured, false, 'a refused PUT changed nothing');
  await box.fill(JSON.stringify({ source: 'push://', takeoverAfterMs: 2000 }));
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved: cam now takes push://.').waitFor();
  const after = (await node.api<Configured>('/api/v1/streams/cam', { headers: auth })).body;
  assert.equal(after.configured, true);
  assert.equal(encoder.exit, undefined, 'the publisher stayed connected');
  await page.close();
});

test("a stream whose video this browser cannot decode (HEVC in Debian's chromium) gets a message saying so on its stream page, not a black video", { skip: skip || unmet(needEncoder('libx265')) }, async () => {
  const hevc = ffmpegLiveEncoder(suite, srtUrl(node.srtPort, 'publish:hevc'), { video: 'hevc', size: '320x240', name: 'ffmpeg hevc encoder' });
  await waitFor(async () => (await stream('hevc').catch(() => undefined))?.media?.programs.some((p) => p.tracks.some((x) => x.codec === 'hevc')) === true, 'hevc live with its tracks read', 20_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${hevc.output()}`);
  });
  const page = await signedIn('#/stream/hevc');
  const supported = await page.evaluate(`MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L93.B0"')`);
  if (supported === true) {
    // A chromium with HEVC decoding: then the preview must play it.
    await page.locator('#preview-video').waitFor();
    await waitFor(async () => Number(await page.evaluate("document.getElementById('preview-video').currentTime")) > 1, 'the HEVC preview plays', 15_000);
  } else {
    const note = page.locator('#preview-note');
    await note.waitFor();
    assert.match(await note.innerText(), /cannot decode HEVC \(H\.265\) video/);
    assert.equal(await page.locator('#preview-video').count(), 0, 'no video element to stay black');
    assert.equal((await stream('hevc')).viewers, 0, 'no preview viewer was opened');
  }
  await page.close();
});
