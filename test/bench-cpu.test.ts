/**
 * CPU sampling of the bench (bench/lib/util.ts): user+sys seconds from /proc/<pid>/stat are
 * what the child itself counts (process.cpuUsage()), for a child doing fixed work and for an idle
 * one. No wall-clock bound: the work is a fixed loop, and the readings are compared with each other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { CpuPoller, pidCpu, threadSamples } from '../bench/lib/util.js';

/**
 * Runs `code` in a child that then prints its own `process.cpuUsage()` (all threads, as
 * /proc/<pid>/stat counts them) and stays alive until killed; returns what the child reported
 * and what the poller read from /proc after that line.
 */
function runChild(code: string): Promise<{ polled: number; self: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', `${code}; const u = process.cpuUsage(); process.stdout.write(JSON.stringify((u.user + u.system) / 1e6) + '\\n'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'ignore'] });
    const poller = new CpuPoller(20);
    poller.add(child.pid);
    child.once('error', reject);
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (!out.includes('\n')) return;
      const polled = poller.last(child.pid); // read after the child reported: it can only be higher
      poller.stop();
      child.kill('SIGKILL');
      resolve({ polled, self: Number(out.trim()) });
    });
  });
}

/** /proc counts CPU in clock ticks (1/100 s per thread): readings may differ from getrusage by a few. */
const TICKS = 0.05;

// Fixed work, not a wall-time loop: its CPU cost does not depend on how busy the machine is.
const BUSY = "require('node:crypto').pbkdf2Sync('password', 'salt', 1_000_000, 32, 'sha256')";

test('a busy child: the polled CPU matches what the child itself counts, and is well above a sleeping child\'s', async (t) => {
  const busy = await runChild(BUSY);
  const idle = await runChild('void 0');
  t.diagnostic(`busy child: polled ${busy.polled} s, self ${busy.self} s; sleeping child: polled ${idle.polled} s, self ${idle.self} s`);
  assert.ok(busy.polled >= busy.self - TICKS, `polled ${busy.polled} s ≥ the child's own count ${busy.self} s`);
  assert.ok(busy.polled <= busy.self + 0.25, `polled ${busy.polled} s: no more than the child's own count ${busy.self} s + its idle threads`);
  assert.ok(busy.self > idle.self + 0.1, `the fixed work costs CPU the child counts (${busy.self} vs ${idle.self} s)`);
  assert.ok(busy.polled > idle.polled + 0.1, `and the poller sees it (${busy.polled} vs ${idle.polled} s)`);
});

test('a sleeping child: the polled CPU matches what the child itself counts', async () => {
  const { polled, self } = await runChild('setTimeout(() => {}, 0)');
  assert.ok(polled >= self - TICKS && polled <= self + 0.25, `polled ${polled} s, the child counted ${self} s`);
});

test('this process: CPU is a number and the per-thread split names the main thread', () => {
  // Threads first, then the process: the process total (which includes ended threads) can only be higher.
  const th = threadSamples(process.pid);
  const c = pidCpu(process.pid);
  assert.ok(c !== undefined && c >= 0);
  assert.ok(th.some((t) => t.tid === process.pid));
  const sum = th.reduce((a, t) => a + t.cpu, 0);
  assert.ok(sum <= c! + 0.01 * th.length, `threads ${sum} vs process ${c}`);
  assert.equal(pidCpu(2 ** 22 + 12345), undefined, 'a pid that does not exist');
});
