/**
 * The binding in worker threads (each its own Node environment): two workers transfer at the
 * same time; terminating a worker with open sockets mid-transfer leaves the process, the other
 * worker and the main thread working (the environment's clean-up hooks close its sockets); the
 * addon loads again in a worker after the last environment that used it has gone
 * (srt_startup/srt_cleanup reference counting).
 *
 * The main thread loads the binding only by dynamic import, in the later tests: the first test
 * runs while no environment of this process has used it yet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import type { WorkerJob, WorkerReport } from './fixtures/binding-worker.js';

const WORKER_FILE = new URL('./fixtures/binding-worker.js', import.meta.url);

class TestWorker {
  readonly worker: Worker;
  readonly reports: WorkerReport[] = [];
  readonly exited: Promise<number>;
  #waiters: Array<() => void> = [];
  #exitCode: number | undefined;
  #error: Error | undefined;

  constructor(job: WorkerJob) {
    this.worker = new Worker(WORKER_FILE, { workerData: job });
    this.worker.on('message', (r: WorkerReport) => {
      this.reports.push(r);
      this.#wake();
    });
    this.worker.on('error', (e) => {
      this.#error = e;
      this.#wake();
    });
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        this.#exitCode = code;
        this.#wake();
        resolve(code);
      });
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** The first report matching `pred`; rejects on a worker error, exit or timeout. */
  async waitFor<T extends WorkerReport>(pred: (r: WorkerReport) => r is T, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const failed = this.reports.find((r): r is Extract<WorkerReport, { type: 'error' }> => r.type === 'error');
      if (failed !== undefined) throw new Error(`worker failed: ${failed.message}`);
      const found = this.reports.find(pred);
      if (found !== undefined) return found;
      if (this.#error !== undefined) throw this.#error;
      if (this.#exitCode !== undefined) throw new Error(`worker exited (${this.#exitCode}) without the report`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no report from the worker within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  done(): Promise<Extract<WorkerReport, { type: 'done' }>> {
    return this.waitFor((r): r is Extract<WorkerReport, { type: 'done' }> => r.type === 'done');
  }

  async stop(): Promise<void> {
    if (this.#exitCode === undefined) await this.worker.terminate();
  }
}

function startWorker(t: { after(fn: () => unknown): void }, job: WorkerJob): TestWorker {
  const w = new TestWorker(job);
  t.after(() => w.stop());
  return w;
}

function assertTransferred(r: Extract<WorkerReport, { type: 'done' }>, bytes: number, who: string): void {
  assert.equal(r.sent, bytes, `${who} sent`);
  assert.equal(r.received, bytes, `${who} received`);
  assert.ok(r.intact, `${who}: received bytes equal the sent bytes`);
}

test('the binding loads and works in a worker after another worker that used it has exited', { timeout: 30_000 }, async (t) => {
  const bytes = 200 * 1316;
  const first = startWorker(t, { kind: 'transfer', bytes });
  assertTransferred(await first.done(), bytes, 'first worker');
  assert.equal(await first.exited, 0, 'the first worker exited by itself (no handle kept it alive)');

  // The last environment using libsrt has gone (srt_cleanup); a new one must start it again.
  const second = startWorker(t, { kind: 'transfer', bytes });
  const r = await second.done();
  assertTransferred(r, bytes, 'second worker');
  assert.match(r.version, /^1\.\d+\.\d+$/);
  assert.equal(await second.exited, 0);
});

test('two worker threads each run an SRT transfer at the same time', { timeout: 30_000 }, async (t) => {
  const bytes = 1500 * 1316;
  const a = startWorker(t, { kind: 'transfer', bytes });
  const b = startWorker(t, { kind: 'transfer', bytes });
  const [ra, rb] = await Promise.all([a.done(), b.done()]);
  assertTransferred(ra, bytes, 'worker A');
  assertTransferred(rb, bytes, 'worker B');
  assert.deepEqual(await Promise.all([a.exited, b.exited]), [0, 0]);
});

test('terminating a worker mid-transfer with open sockets: the process, the other worker and the main thread carry on', { timeout: 30_000 }, async (t) => {
  const { connectBinding, listenBinding, receiveDetailed, sendFile, withTimeout } = await import('./helpers/srt-io.js');

  // Worker A streams into a listener on this thread; worker B runs its own long transfer.
  const server = listenBinding({ latency: 200 });
  t.after(() => server.close());
  const bytes = 3000 * 1316;
  const b = startWorker(t, { kind: 'transfer', bytes });
  const a = startWorker(t, { kind: 'stream', port: server.port });
  await a.waitFor((r): r is Extract<WorkerReport, { type: 'connected' }> => r.type === 'connected');
  const fromA = await withTimeout(server.accepted(), 10_000, 'accept worker A');
  const first = await receiveDetailed(fromA.socket, { untilBytes: 100 * 1316, timeoutMs: 15_000 });
  assert.equal(first.ended, 'bytes', `worker A's stream: ${first.data.length} bytes, then ${first.ended}`);
  const rest = receiveDetailed(fromA.socket, { timeoutMs: 20_000 });

  await a.worker.terminate();
  assert.equal(await a.exited, 1, 'terminate() ends a worker with code 1');

  // The terminated worker's clean-up closed its caller: this side sees the connection end.
  const r = await rest;
  assert.equal(r.ended, 'closed', `the connection from the terminated worker ended by ${r.ended}`);

  // The other worker was not disturbed.
  assertTransferred(await b.done(), bytes, 'worker B');
  assert.equal(await b.exited, 0);

  // And this thread can still create sockets, connect and move data.
  const caller = await connectBinding(server.port, { latency: 200 });
  t.after(() => caller.close());
  const conn = await withTimeout(server.accepted(), 5000, 'accept main-thread caller');
  const payload = Buffer.alloc(50 * 1316, 0x47);
  const got = receiveDetailed(conn.socket, { untilBytes: payload.length, timeoutMs: 10_000 });
  await sendFile(caller, payload);
  assert.equal((await got).data.length, payload.length);
});
