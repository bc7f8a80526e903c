/**
 * CPU sampling of the bench (bench/lib/util.ts): user+sys seconds from /proc/<pid>/stat are
 * plausible for a busy child and for a sleeping one. Only wide sanity bounds: timings never
 * decide anything finer here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { CpuPoller, pidCpu, threadSamples } from '../bench/lib/util.js';

function runChild(code: string): Promise<{ cpu: number; wallS: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
    const poller = new CpuPoller(20);
    poller.add(child.pid);
    child.once('error', reject);
    child.once('exit', () => {
      const cpu = poller.last(child.pid);
      poller.stop();
      resolve({ cpu, wallS: (performance.now() - t0) / 1000 });
    });
  });
}

test('a 1 s busy loop child shows at least 0.5 s of CPU and not more than its wall time (+ start-up)', async () => {
  const { cpu, wallS } = await runChild('const e = Date.now() + 1000; let x = 0; while (Date.now() < e) x++;');
  assert.ok(cpu >= 0.5, `busy child CPU ${cpu} s`);
  assert.ok(cpu <= wallS + 0.5, `busy child CPU ${cpu} s in ${wallS} s wall`);
});

test('a sleeping child shows little CPU', async () => {
  const { cpu } = await runChild('setTimeout(() => {}, 1000);');
  assert.ok(cpu < 0.5, `sleeping child CPU ${cpu} s`);
});

test('this process: CPU is a number and the per-thread split names the main thread', () => {
  const c = pidCpu(process.pid);
  assert.ok(c !== undefined && c >= 0);
  const th = threadSamples(process.pid);
  assert.ok(th.some((t) => t.tid === process.pid));
  const sum = th.reduce((a, t) => a + t.cpu, 0);
  assert.ok(sum <= c! + 0.05 * th.length + 0.1, `threads ${sum} vs process ${c}`);
  assert.equal(pidCpu(2 ** 22 + 12345), undefined, 'a pid that does not exist');
});
