/**
 * The bench's load generator end to end (bench/lib/loadgen.ts + targets.ts): a publisher of the
 * synthetic TS and 3 viewers sharing local UDP ports, through srt-relay started like a bench
 * trial. Checks the plumbing (connect, window, report, accounting), never rates or timings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTarget } from '../bench/lib/targets.js';
import { Child, distBench } from '../bench/lib/util.js';
import { monoUs } from '../bench/lib/synth-ts.js';
import type { LoadgenConfig } from '../bench/lib/loadgen.js';

function ask(gen: Child, cmd: Record<string, unknown>, event: string): Promise<Record<string, unknown>> {
  const seen = gen.lines.length;
  const p = gen.waitMessage((m) => m['event'] === event && gen.lines.indexOf(m) >= seen, 30_000, event);
  gen.send(cmd);
  return p;
}

test('load generator: publisher + 3 viewers on 2 shared local ports through srt-relay, stamps accounted per packet', { timeout: 60_000 }, async () => {
  const target = await startTarget('self', { streams: 1, viewersPerStream: [3], bitrate: 2e6 }, { latency: 120, prefix: [], relayWorkers: 1, reusePort: 1 });
  const gen = new Child('loadgen', process.execPath, [distBench('lib/loadgen.js')], { ipc: true });
  try {
    await gen.waitEvent('ready', 20_000);
    const config: LoadgenConfig = {
      publishers: target.publishers,
      viewers: target.viewers,
      viewerWorkers: 2,
      share: 2,
      viewerTsbpd: false,
      latency: 120,
      retries: 8,
      viewerDelay: 0.3,
    };
    gen.send({ cmd: 'start', config });
    const pubs = await gen.waitEvent('publishers', 30_000);
    assert.equal(pubs['ok'], 1);
    const conn = await gen.waitEvent('connected', 30_000);
    assert.equal(conn['ok'], 3, JSON.stringify(conn['errors']));
    // worker 1 has viewers 0 (own port), worker 2 viewers 1-2 (one shared port): 2 local ports
    assert.equal(conn['localPorts'], 2);
    const from = monoUs() + 200_000;
    const armed = await ask(gen, { cmd: 'window', from, to: from + 1_000_000 }, 'window-armed');
    assert.equal(typeof armed['lateUs'], 'number');
    // wait until every viewer has packets from inside the window (the window closes 1.2 s from now)
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if (monoUs() > from + 1_500_000) break;
    }
    const progress = await ask(gen, { cmd: 'progress' }, 'progress');
    assert.ok(Number(progress['packets']) > 0);
    const rep = await ask(gen, { cmd: 'report' }, 'report');
    const viewers = rep['viewers'] as Array<Record<string, number | boolean>>;
    assert.equal(viewers.length, 3);
    for (const v of viewers) {
      assert.ok(Number(v['packets']) > 0, 'packets in the window');
      assert.ok(Number(v['sentInWindow']) > 0, 'messages sent in the window arrived');
      assert.equal(v['foreign'], 0);
      assert.equal(v['dup'], 0);
      assert.equal(v['stream'], 0);
    }
    const [pub] = rep['publishers'] as Array<Record<string, number>>;
    assert.ok(pub!['stampedInWindow']! > 0);
    assert.ok((rep['hist'] as unknown[]).length > 0, 'latency histogram filled');
  } finally {
    if (gen.running) {
      gen.send({ cmd: 'exit' });
      await gen.finish(5000);
    }
    await target.stop();
  }
});
