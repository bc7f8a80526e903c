/**
 * Handshakes that libsrt refuses after the gate (a wrong passphrase: 10, none: 11) each had a
 * socket with its buffers; glibc keeps what they freed. Found by the chaos bench (bench/chaos.ts):
 * every flood of 300 wrong-secret publishes left the node ~100 MB larger, because only ended
 * sessions triggered the memory trim and these never become sessions. They count now: the node's
 * RSS comes back after the flood.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SrtRejectedError } from '../src/errors.js';
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
