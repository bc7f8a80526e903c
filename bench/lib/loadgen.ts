/**
 * The light load generator: publishers and viewers of the synthetic TS (bench/lib/synth-ts.ts)
 * on worker threads of one process (bench/lib/loadgen-worker.ts), driven by the bench over IPC.
 * The main thread only coordinates (no sockets), so it always answers; the workers publish their
 * live counters in SharedArrayBuffers.
 *
 *   node dist/bench/lib/loadgen.js        (spawned by the bench with an IPC channel)
 *
 * IPC:
 *   <- {cmd:'start', config: LoadgenConfig}
 *   -> {event:'publishers', ok, failed, errors}       publishers connected and sending
 *   -> {event:'connected', ok, failed, errors, localPorts}   every viewer connected or gave up
 *   <- {cmd:'progress'} -> {event:'progress', connected, open, bytes, packets, lost, sent, backlog}
 *   <- {cmd:'window', from, to}  (µs, CLOCK_MONOTONIC) -> {event:'window-armed', lateUs}
 *   <- {cmd:'report'} -> {event:'report', viewers[], publishers[], hist, workers[]}
 *   <- {cmd:'exit'}   stops the workers and leaves
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { HDR, H_BACKLOG, H_CONNECTED, H_OPEN, H_SENT, type LoadgenWorkerData, type WorkerItem } from './loadgen-shared.js';
import { F_BYTES, F_LOST, F_PACKETS, HIST_BINS, NFIELDS, histFromSparse, mergeHist, sparseHist } from './receiver.js';

export interface LoadgenConfig {
  publishers: WorkerItem[];
  viewers: WorkerItem[];
  /** Worker threads for the viewers (the publishers get one of their own). */
  viewerWorkers: number;
  /** Viewers per local UDP port (one libsrt multiplexer); 0 = a port each. */
  share: number;
  /** TSBPD at the viewers (off: no per-socket TsbPd thread, packets as soon as in order). */
  viewerTsbpd: boolean;
  latency: number;
  retries: number;
  /** Seconds between the publishers connecting and the viewers starting. */
  viewerDelay: number;
}

interface W {
  worker: Worker;
  role: 'pub' | 'view';
  live: Float64Array;
  n: number;
  messages: Array<Record<string, unknown>>;
  waiters: Array<{ pred: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }>;
}

const workerFile = fileURLToPath(new URL('./loadgen-worker.js', import.meta.url));
const workers: W[] = [];

function spawnWorker(role: 'pub' | 'view', items: WorkerItem[], c: LoadgenConfig): W {
  const counters = new SharedArrayBuffer((HDR + items.length * NFIELDS) * 8);
  const wd: LoadgenWorkerData = { role, items, share: c.share, tsbpd: c.viewerTsbpd, latency: c.latency, retries: c.retries, counters };
  const w: W = { worker: new Worker(workerFile, { workerData: wd }), role, live: new Float64Array(counters), n: items.length, messages: [], waiters: [] };
  w.worker.on('message', (m: Record<string, unknown>) => {
    w.messages.push(m);
    w.waiters = w.waiters.filter((x) => {
      if (!x.pred(m)) return true;
      x.resolve(m);
      return false;
    });
  });
  w.worker.on('error', (e) => {
    process.stderr.write(`loadgen ${role} worker: ${e.stack ?? e.message}\n`);
    send({ event: 'error', message: `${role} worker: ${e.message}` });
  });
  workers.push(w);
  return w;
}

function next(w: W, event: string): Promise<Record<string, unknown>> {
  const seen = w.messages.length;
  const have = w.messages.slice(seen).find((m) => m['event'] === event);
  if (have !== undefined) return Promise.resolve(have);
  return new Promise((resolve) => w.waiters.push({ pred: (m) => m['event'] === event, resolve }));
}

function first(w: W, event: string): Promise<Record<string, unknown>> {
  const have = w.messages.find((m) => m['event'] === event);
  if (have !== undefined) return Promise.resolve(have);
  return new Promise((resolve) => w.waiters.push({ pred: (m) => m['event'] === event, resolve }));
}

function send(m: Record<string, unknown>): void {
  process.send?.(m);
}

async function start(c: LoadgenConfig): Promise<void> {
  if (c.publishers.length > 0) {
    const pw = spawnWorker('pub', c.publishers, c);
    const r = await first(pw, 'connected');
    send({ event: 'publishers', ok: r['ok'], failed: r['failed'], errors: r['errors'] });
  } else {
    send({ event: 'publishers', ok: 0, failed: 0, errors: [] });
  }
  await new Promise((r) => setTimeout(r, c.viewerDelay * 1000));
  const nw = Math.max(1, Math.min(c.viewerWorkers, c.viewers.length));
  const vws: W[] = [];
  for (let k = 0; k < nw && c.viewers.length > 0; k++) {
    const from = Math.floor((k * c.viewers.length) / nw);
    const to = Math.floor(((k + 1) * c.viewers.length) / nw);
    vws.push(spawnWorker('view', c.viewers.slice(from, to), c));
  }
  const rs = await Promise.all(vws.map((w) => first(w, 'connected')));
  send({
    event: 'connected',
    ok: rs.reduce((a, r) => a + Number(r['ok']), 0),
    failed: rs.reduce((a, r) => a + Number(r['failed']), 0),
    errors: rs.flatMap((r) => (r['errors'] as string[]) ?? []).slice(0, 10),
    localPorts: rs.reduce((a, r) => a + Number(r['localPorts'] ?? 0), 0),
  });
}

function progress(): Record<string, unknown> {
  let connected = 0;
  let open = 0;
  let bytes = 0;
  let packets = 0;
  let lost = 0;
  let sent = 0;
  let backlog = 0;
  for (const w of workers) {
    if (w.role === 'pub') {
      sent += w.live[H_SENT]!;
      backlog = Math.max(backlog, w.live[H_BACKLOG]!);
      continue;
    }
    connected += w.live[H_CONNECTED]!;
    open += w.live[H_OPEN]!;
    for (let i = 0; i < w.n; i++) {
      const b = HDR + i * NFIELDS;
      bytes += w.live[b + F_BYTES]!;
      packets += w.live[b + F_PACKETS]!;
      lost += w.live[b + F_LOST]!;
    }
  }
  return { event: 'progress', connected, open, bytes, packets, lost, sent, backlog };
}

async function report(): Promise<void> {
  const rs = await Promise.all(
    workers.map((w) => {
      const p = next(w, 'report');
      w.worker.postMessage({ cmd: 'report' });
      return p;
    }),
  );
  const hist = new Uint32Array(HIST_BINS);
  const viewers: unknown[] = [];
  const totals: unknown[] = [];
  const publishers: unknown[] = [];
  const ws: unknown[] = [];
  for (const r of rs) {
    if (r['role'] === 'view') {
      viewers.push(...(r['viewers'] as unknown[]));
      totals.push(...(r['totals'] as unknown[]));
      mergeHist(hist, histFromSparse(r['hist'] as Array<[number, number]>));
    } else {
      publishers.push(...(r['publishers'] as unknown[]));
    }
    ws.push({ role: r['role'], windowLateUs: r['windowLateUs'], loopDelayMs: r['loopDelayMs'] });
  }
  const cpu = process.cpuUsage();
  send({ event: 'report', viewers, totals, publishers, hist: sparseHist(hist), workers: ws, cpu: (cpu.user + cpu.system) / 1e6 });
}

process.on('message', (m: { cmd: string; config?: LoadgenConfig; from?: number; to?: number }) => {
  switch (m.cmd) {
    case 'start':
      start(m.config!).catch((e: unknown) => send({ event: 'error', message: (e as Error).message }));
      break;
    case 'progress':
      send(progress());
      break;
    case 'window': {
      const ps = workers.map((w) => {
        const p = next(w, 'window-armed');
        w.worker.postMessage({ cmd: 'window', from: m.from, to: m.to });
        return p;
      });
      void Promise.all(ps).then((rs) => send({ event: 'window-armed', lateUs: Math.max(0, ...rs.map((r) => Number(r['lateUs']))) }));
      break;
    }
    case 'report':
      report().catch((e: unknown) => send({ event: 'error', message: (e as Error).message }));
      break;
    case 'exit':
      void (async () => {
        await Promise.all(
          workers.map(async (w) => {
            const p = next(w, 'stopped');
            w.worker.postMessage({ cmd: 'stop' });
            await Promise.race([p, new Promise((r) => setTimeout(r, 2000))]);
            await w.worker.terminate();
          }),
        );
        process.disconnect?.();
      })();
      break;
    default:
      break;
  }
});

// So a parent can tell the generator's threads apart in /proc/<pid>/task.
send({ event: 'ready', pid: process.pid });
