/**
 * Dashboard bench: what the web dashboard costs the node and how fast it loads.
 *
 *   node dist/bench/dashboard.js [--seconds 30] [--loads 5]
 *
 * Starts the relay as its own process (bin/srt-relay.js, 2 workers, an API token) with one ffmpeg
 * publisher (testsrc 640x360 25 fps H.264 + AAC) and one srt-live-transmit viewer, then measures
 * the node process's CPU (utime + stime of /proc/PID/stat, all its threads) over `--seconds`:
 * with no page open, then with 3 tabs of headless Debian chromium open (overview, the stream page
 * with its preview playing, sessions). Page load: `--loads` fresh tabs each, time from navigation
 * to the overview's stream row (and to the preview's first played frame). Latency publisher →
 * preview: a second ffmpeg publisher draws its frame number as 16 black/white blocks; the stream
 * page reads the number off the frame shown and compares with its send time (the publisher's
 * connection time + N / 25 s, ffmpeg -re; ffmpeg's start-up before connecting makes this an
 * underestimate by at most that start-up). Prints a Markdown table.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, chromiumPath } from '../test/helpers/browser.js';
import { freeUdpPort } from '../test/helpers/free-port.js';
import { RELAY_BIN } from '../test/helpers/relay-process.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '30' }, loads: { type: 'string', default: '5' } } });
const SECONDS = Number(values.seconds);
const LOADS = Number(values.loads);
const TOKEN = 'dashboard-bench-token';
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** CPU of `pid` over `seconds`, in % of one core (clock ticks are 1/100 s on Linux). */
async function cpuPercent(pid: number, seconds: number): Promise<number> {
  const a = cpuTicks(pid);
  const t0 = performance.now();
  await delay(seconds * 1000);
  const b = cpuTicks(pid);
  return ((b - a) / 100 / ((performance.now() - t0) / 1000)) * 100;
}

/** Polls the page (page.evaluate: waitForFunction's eval is refused by the dashboard's CSP) until the preview played `min` seconds. */
async function waitPlaying(page: Page, min: number): Promise<void> {
  const deadline = performance.now() + 20_000;
  while (Number(await page.evaluate("(() => { const v = document.getElementById('preview-video'); return v === null ? 0 : v.currentTime; })()")) <= min) {
    if (performance.now() > deadline) throw new Error('the preview did not play within 20 s');
    await delay(20);
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = mkdtempSync(join(tmpdir(), 'srt-relay-dash-bench-'));
const procs: ChildProcess[] = [];
try {
  const srtPort = await freeUdpPort();
  const apiPort = await freeUdpPort();
  const cfg = join(dir, 'config.json');
  writeFileSync(cfg, JSON.stringify({ srt: { ports: [{ port: srtPort, direction: 'both' }] }, api: { port: apiPort, token: TOKEN } }));
  const relay = spawn(process.execPath, [RELAY_BIN, '--config', cfg, '--workers', '2', '--log-level', 'warn'], { stdio: 'ignore' });
  procs.push(relay);
  const base = `http://127.0.0.1:${apiPort}`;
  for (let i = 0; i < 200 && !(await fetch(`${base}/healthz`).then((r) => r.ok, () => false)); i++) await delay(50);
  procs.push(
    spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=1000',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '25', '-c:a', 'aac', '-f', 'mpegts', `srt://127.0.0.1:${srtPort}?streamid=publish:cam`], { stdio: 'ignore' }),
  );
  await delay(3000);
  procs.push(spawn('srt-live-transmit', ['-a:no', `srt://127.0.0.1:${srtPort}?streamid=read:cam`, 'file://con'], { stdio: ['ignore', 'ignore', 'ignore'] }));
  await delay(3000);

  const idle = await cpuPercent(relay.pid!, SECONDS);

  const profile = mkdtempSync(join(dir, 'chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath(), headless: true, args: [...CHROMIUM_ARGS], viewport: { width: 1280, height: 900 } });
  await ctx.addInitScript({ content: `sessionStorage.setItem('srt-relay.token', ${JSON.stringify(TOKEN)})` });
  const overviewMs: number[] = [];
  const previewMs: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    const p = await ctx.newPage();
    const t0 = performance.now();
    await p.goto(`${base}/ui/#/`);
    await p.locator('tr[data-stream="cam"]').waitFor();
    overviewMs.push(performance.now() - t0);
    await p.close();
    const q = await ctx.newPage();
    const t1 = performance.now();
    await q.goto(`${base}/ui/#/stream/cam`);
    await waitPlaying(q, 0);
    previewMs.push(performance.now() - t1);
    await q.close();
  }
  const tabs = [];
  for (const hash of ['#/', '#/stream/cam', '#/sessions']) {
    const p = await ctx.newPage();
    await p.goto(`${base}/ui/${hash}`);
    tabs.push(p);
  }
  await waitPlaying(tabs[1]!, 1);
  const withTabs = await cpuPercent(relay.pid!, SECONDS);

  // Publisher → preview latency: a second publisher whose picture carries its frame number in
  // 16 black/white blocks; the page reads the number from the frame on screen, and the frame's
  // send time is the publisher's connection time (publisher.since) + N / 25 s (ffmpeg -re).
  procs.push(
    spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-f', 'lavfi', '-i', "color=c=black:size=320x64:rate=25,geq=lum='if(mod(floor(N/pow(2,floor(X/20))),2),235,16)':cb=128:cr=128",
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '25', '-f', 'mpegts', `srt://127.0.0.1:${srtPort}?streamid=publish:clock`], { stdio: 'ignore' }),
  );
  let sinceMs = NaN;
  for (let i = 0; i < 100 && Number.isNaN(sinceMs); i++) {
    await delay(100);
    const r = await fetch(`${base}/api/v1/streams/clock`).then((x) => (x.ok ? (x.json() as Promise<{ publisher: { since: string } | null }>) : undefined), () => undefined);
    if (r?.publisher) sinceMs = Date.parse(r.publisher.since);
  }
  const clock = await ctx.newPage();
  await clock.goto(`${base}/ui/#/stream/clock`);
  await waitPlaying(clock, 2);
  const latencies: number[] = [];
  for (let i = 0; i < 20; i++) {
    await delay(500);
    const r = (await clock.evaluate(`(() => {
      const v = document.getElementById('preview-video');
      const c = document.createElement('canvas');
      c.width = v.videoWidth; c.height = v.videoHeight;
      const g = c.getContext('2d');
      g.drawImage(v, 0, 0);
      const now = Date.now();
      const row = g.getImageData(0, Math.floor(c.height / 2), c.width, 1).data;
      let n = 0;
      for (let b = 0; b < 16; b++) if (row[(b * 20 + 10) * 4] > 128) n |= 1 << b;
      return { n, now };
    })()`)) as { n: number; now: number };
    latencies.push(r.now - (sinceMs + (r.n * 1000) / 25));
  }
  await clock.close();
  const behind = await tabs[1]!.evaluate("(() => { const v = document.getElementById('preview-video'); const b = v.buffered; return b.length ? b.end(b.length - 1) - v.currentTime : null; })()");
  await ctx.close();

  const line = (a: string, b: string): string => `| ${a} | ${b} |\n`;
  process.stdout.write(
    `| measure | value |\n|---|---|\n` +
      line(`node CPU, publisher + 1 SRT viewer, no page open (${SECONDS} s)`, `${idle.toFixed(1)} % of one core`) +
      line(`node CPU, the same + 3 dashboard tabs (overview, stream page with preview, sessions) (${SECONDS} s)`, `${withTabs.toFixed(1)} % of one core`) +
      line(`overview load, navigation → stream row shown (median of ${LOADS})`, `${Math.round(median(overviewMs))} ms (max ${Math.round(Math.max(...overviewMs))})`) +
      line(`stream page, navigation → preview playing (median of ${LOADS})`, `${Math.round(median(previewMs))} ms (max ${Math.round(Math.max(...previewMs))})`) +
      line('preview: buffered video ahead of the playhead', behind === null ? '–' : `${Number(behind).toFixed(2)} s`) +
      line('publisher → preview picture latency (frame number read off the screen, 20 reads)', `median ${Math.round(median(latencies))} ms (min ${Math.round(Math.min(...latencies))}, max ${Math.round(Math.max(...latencies))})`) +
      line('machine load average (1 min) at the end', loadavg()[0]!.toFixed(2)),
  );
} finally {
  for (const p of procs.reverse()) p.kill('SIGTERM');
  await delay(500);
  rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}
