/**
 * Handshakes that libsrt refuses after the gate (a wrong passphrase: 10, none: 11) each had a
 * socket with its buffers; glibc keeps what they freed. Found by the chaos bench (bench/chaos.ts):
 * every flood of 300 wrong-secret publishes left the node ~100 MB larger, because only ended
 * sessions triggered the memory trim and these never become sessions. They count now: the node's
 * RSS comes back after the flood.
 *
 * With viewers playing it still ended 121 → 311 MB over 9 floods: a trim every 10 s at a fixed
 * phase came back at the next tick at best, and a tick that fell between our count and libsrt's
 * freeing (its GC thread frees a closed socket 1–2 s later) found nothing, reset the count and left
 * the flood's memory held. Now libsrt's big per-socket buffers have their own mappings (returned
 * when freed) and the trim runs once a burst is over, so RSS is back within seconds of each flood.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SrtRejectedError } from '../src/errors.js';
import { ffmpegFilePublisher, makeTsFile, collect, srtUrl, type Collector } from './helpers/media.js';
import { spawnFor } from './helpers/processes.js';
import { procStats } from './helpers/proc-stats.js';
import { startRelayProcess } from './helpers/relay-process.js';
import { connectBinding, delay } from './helpers/srt-io.js';
import { testTempDir } from './helpers/ts-fixture.js';

test('after a flood of wrong-passphrase publishes, the node hands the memory libsrt freed back: RSS returns near its level before', { timeout: 120_000 }, async (t) => {
  const config = join(testTempDir(), 'locked-stream.json');
  writeFileSync(config, JSON.stringify({ streams: { locked: { source: 'push://', passphrase: { publish: 'the-right-publish-secret' } } } }));
  const relay = await startRelayProcess(t, { args: ['--config', config], logLevel: 'warn' });
  const pid = relay.proc.child.pid!;
  await delay(2000);
  const before = procStats(pid).rssKb / 1024;
  let refused = 0;
  let next = 0;
  const one = async (): Promise<void> => {
    while (next < 300) {
      const i = next++;
      try {
        const s = await connectBinding(relay.srtPort, { streamid: 'publish:locked', latency: 120, ...(i % 2 === 0 ? { passphrase: 'a-wrong-secret-of-the-test' } : {}) });
        s.close();
      } catch (e) {
        if (e instanceof SrtRejectedError && (e.reason === 10 || e.reason === 11)) refused++;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, one));
  const peak = procStats(pid).rssKb / 1024;
  assert.ok(refused >= 250, `most of the 300 handshakes were refused by libsrt for their passphrase (${refused})`);
  // The trim runs at most every 10 s; wait for RSS to come back within 30 MB of before.
  const deadline = Date.now() + 40_000;
  let now = peak;
  while (Date.now() < deadline) {
    await delay(1000);
    now = procStats(pid).rssKb / 1024;
    if (now <= before + 30) break;
  }
  t.diagnostic(`RSS before ${before.toFixed(1)} MB, after the flood ${peak.toFixed(1)} MB, then ${now.toFixed(1)} MB`);
  assert.ok(now <= before + 30, `RSS came back near its level before the flood: before ${before.toFixed(1)} MB, after the flood ${peak.toFixed(1)} MB, 40 s later ${now.toFixed(1)} MB`);
});

const FLOOD = fileURLToPath(new URL('../bench/lib/chaos-flood.js', import.meta.url));
const rssMb = (pid: number): number => procStats(pid).rssKb / 1024;

// RSS may exceed its level before the floods by at most this much, a few seconds after each one. One
// flood holds 125-145 MB until a trim (the old code, 10 viewers playing: 243-260 MB from a start of
// 117); with the fix RSS was at most +20 MB above its start when a flood's process exited and
// +1..+10 MB once settled (the V8 heaps' growth and the arenas' partial pages): 25 MB lies far from
// the first and above the second. Not a timing: the wait only gives libsrt's GC thread (1-2 s) and
// the trim after the burst (2 s of quiet) their time, with room for a loaded host.
const RSS_SLACK_MB = 25;
const SETTLE_MS = 5500;
const FLOODS = 4;

test('with a publisher and 10 viewers playing, RSS is back near its start a few seconds after each flood of refused handshakes', { timeout: 120_000 }, async (t) => {
  const config = join(testTempDir(), 'locked-and-live.json');
  writeFileSync(config, JSON.stringify({ streams: { locked: { source: 'push://', passphrase: { publish: 'the-right-publish-secret' } }, push: { source: 'push://' } } }));
  const [relay, file] = await Promise.all([startRelayProcess(t, { args: ['--config', config], logLevel: 'warn' }), makeTsFile({ name: 'memory-under-traffic', seconds: 6 })]);
  const pid = relay.proc.child.pid!;
  ffmpegFilePublisher(t, file, srtUrl(relay.srtPort, 'publish:push'));
  const viewers: Collector[] = [];
  const deadline = Date.now() + 15_000;
  while (viewers.length < 10) {
    try {
      const s = await connectBinding(relay.srtPort, { streamid: 'push', latency: 120 });
      t.after(() => s.close());
      viewers.push(collect(s, 0));
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await delay(300); // the publisher is not live yet
    }
  }
  await delay(2500);
  const start = rssMb(pid);
  const bytesBefore = viewers.map((v) => v.bytes);
  const lines: string[] = [];
  for (let f = 1; f <= FLOODS; f++) {
    const flood = spawnFor(t, process.execPath, [FLOOD, String(relay.srtPort), '300', '12'], { name: 'handshake flood' });
    await flood.exited;
    const outcomes = JSON.parse(flood.stdout().toString()).outcomes as Record<string, number>;
    const refusedAfterGate = (outcomes['refused 10'] ?? 0) + (outcomes['refused 11'] ?? 0);
    assert.ok(refusedAfterGate >= 150, `flood ${f}: libsrt refused most of its 200 locked-stream handshakes for their passphrase (${JSON.stringify(outcomes)})`);
    const peak = rssMb(pid);
    const until = performance.now() + SETTLE_MS;
    let now = peak;
    while (performance.now() < until) {
      await delay(250);
      now = rssMb(pid);
      if (now <= start + RSS_SLACK_MB) break;
    }
    lines.push(`flood ${f}: ${peak.toFixed(0)} → ${now.toFixed(0)} MB`);
    assert.ok(now <= start + RSS_SLACK_MB, `RSS came back within ${RSS_SLACK_MB} MB of its start (${start.toFixed(1)} MB) within ${SETTLE_MS / 1000} s of flood ${f}: ${lines.join('; ')}`);
  }
  t.diagnostic(`RSS at start ${start.toFixed(1)} MB; ${lines.join('; ')}`);
  viewers.forEach((v, i) => assert.ok(v.bytes - bytesBefore[i]! > 100_000, `viewer ${i} kept playing during the floods (${v.bytes - bytesBefore[i]!} bytes)`));
});
