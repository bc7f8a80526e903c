/**
 * One worker thread of the load generator (bench/lib/loadgen.ts): either publishers (role 'pub':
 * synthetic TS at a paced CBR with sendSlots) or viewers (role 'view': recvSlots batches into a
 * scratch buffer, every message accounted by bench/lib/receiver.ts). All through the project's
 * addon; one JS call per batch, not per packet.
 *
 * Viewers bind `share` sockets to one local UDP port before connecting: libsrt then serves them
 * with one multiplexer (one receive and one send thread for the group) instead of a pair each.
 *
 * Live counters go to a SharedArrayBuffer the main thread reads for the progress line without a
 * message round trip (a busy worker answers messages late); layout in bench/lib/loadgen-shared.ts.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { SLOT_HEADER_BYTES } from '../../src/srt/native.js';
import { SrtSocket } from '../../src/srt/socket.js';
import { parseSrtUrl } from '../../src/srt/url.js';
import type { SrtOptionValue } from '../../src/srt/options.js';
import { NFIELDS, Receiver, sparseHist } from './receiver.js';
import { MSG_BYTES, TsSynth, monoUs } from './synth-ts.js';
import { HDR, H_BACKLOG, H_CONNECTED, H_FAILED, H_OPEN, H_SENT, type LoadgenWorkerData } from './loadgen-shared.js';

const SLOT = 1472;
const RING = 256; // publisher ring slots
const BATCH = 64;

const data = workerData as LoadgenWorkerData;
const port = parentPort!;
const live = new Float64Array(data.counters);
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
// No window until the bench names one: nothing before it counts as "in the window".
let windowFrom = Infinity;
let windowTo = Infinity;
let windowLateUs = 0;

function post(m: Record<string, unknown>): void {
  port.postMessage(m);
}

function socketFor(url: string, extra: Record<string, SrtOptionValue>): { sock: SrtSocket; host: string; port: number } {
  const u = parseSrtUrl(url);
  if (u.mode !== 'caller') throw new Error(`load generator URLs must be callers (got mode ${u.mode}): ${url}`);
  const opts: Record<string, SrtOptionValue> = { ...(u.options as Record<string, SrtOptionValue>) };
  for (const [k, v] of Object.entries(extra)) if (opts[k] === undefined) opts[k] = v;
  return { sock: SrtSocket.create(opts), host: u.host, port: u.port };
}

async function connectWithRetries(
  make: () => { sock: SrtSocket; host: string; port: number },
  bind: ((s: SrtSocket) => void) | undefined,
  errors: string[],
  what: string,
): Promise<SrtSocket | undefined> {
  for (let attempt = 0; ; attempt++) {
    const { sock, host, port: p } = make();
    try {
      bind?.(sock);
      await sock.connect(host, p);
      return sock;
    } catch (e) {
      sock.close();
      if (attempt >= data.retries) {
        if (errors.length < 10) errors.push(`${what}: ${(e as Error).message}`);
        return undefined;
      }
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }
}

// ---- publishers ---------------------------------------------------------------------------------

interface Pub {
  sock: SrtSocket;
  synth: TsSynth;
  slots: Uint8Array;
  view: DataView;
  startUs: number;
  filled: number; // messages written into the ring
  sent: number; // messages libsrt took
  sentInWindow: number;
  /** Messages stamped with a send time inside the window (what viewers' sentInWindow is compared with). */
  stampedInWindow: number;
  maxBacklog: number; // in the window, messages
  maxBacklogAll: number;
  stalls: number; // sendSlots calls that took less than offered
  broken: boolean;
}

async function runPublishers(): Promise<void> {
  const errors: string[] = [];
  const pubs: Pub[] = [];
  await Promise.all(
    data.items.map(async (it, i) => {
      const sock = await connectWithRetries(
        () => socketFor(it.url, { latency: data.latency }),
        undefined,
        errors,
        `publisher ${i} (${it.url})`,
      );
      if (sock === undefined) {
        live[H_FAILED]! += 1;
        return;
      }
      live[H_CONNECTED]! += 1;
      live[H_OPEN]! += 1;
      const slots = new Uint8Array(RING * SLOT);
      const pub: Pub = {
        sock,
        synth: new TsSynth({ bitrate: it.bitrate ?? 10e6, stream: it.stream }),
        slots,
        view: new DataView(slots.buffer),
        startUs: 0,
        filled: 0,
        sent: 0,
        sentInWindow: 0,
        stampedInWindow: 0,
        maxBacklog: 0,
        maxBacklogAll: 0,
        stalls: 0,
        broken: false,
      };
      sock.on({
        closed: () => {
          pub.broken = true;
          live[H_OPEN]! -= 1;
        },
      });
      pubs.push(pub);
    }),
  );
  const t0 = monoUs();
  for (const p of pubs) p.startUs = t0;
  post({ event: 'connected', ok: pubs.length, failed: data.items.length - pubs.length, errors });

  const tick = (): void => {
    const now = monoUs();
    let sentAll = 0;
    let backlogMax = 0;
    for (const p of pubs) {
      if (p.broken) continue;
      const rate = p.synth.msgPerSec;
      const due = Math.floor(((now - p.startUs) * rate) / 1e6);
      // fill the ring up to `due` (never more than RING - BATCH ahead of what libsrt took)
      while (p.filled < due && p.filled - p.sent < RING - BATCH) {
        const off = (p.filled % RING) * SLOT;
        p.view.setInt32(off, MSG_BYTES, true);
        p.view.setInt32(off + 4, 0, true);
        p.view.setFloat64(off + 8, 0, true);
        p.synth.fill(p.slots, off + SLOT_HEADER_BYTES, now);
        p.filled++;
        if (now >= windowFrom && now < windowTo) p.stampedInWindow++;
      }
      while (p.sent < p.filled) {
        const count = Math.min(BATCH, p.filled - p.sent);
        const r = p.sock.sendSlots(p.slots, SLOT, RING, p.sent % RING, count, false);
        if (r < 0) {
          p.broken = true;
          p.sent += -r - 1;
          break;
        }
        p.sent += r;
        if (now >= windowFrom && now < windowTo) p.sentInWindow += r;
        if (r < count) {
          p.stalls++;
          break;
        }
      }
      const backlog = due - p.sent;
      if (backlog > p.maxBacklogAll) p.maxBacklogAll = backlog;
      if (now >= windowFrom && now < windowTo && backlog > p.maxBacklog) p.maxBacklog = backlog;
      sentAll += p.sent;
      if (backlog > backlogMax) backlogMax = backlog;
    }
    live[H_SENT] = sentAll;
    if (backlogMax > live[H_BACKLOG]!) live[H_BACKLOG] = backlogMax;
  };
  const timer = setInterval(tick, 1);

  port.on('message', (m: { cmd: string; from?: number; to?: number }) => {
    if (m.cmd === 'window') {
      windowFrom = m.from!;
      windowTo = m.to!;
      windowLateUs = Math.max(0, monoUs() - windowFrom);
      loop.reset();
      post({ event: 'window-armed', lateUs: windowLateUs });
    } else if (m.cmd === 'report') {
      const secs = (Math.min(windowTo, monoUs()) - windowFrom) / 1e6;
      post({
        event: 'report',
        role: 'pub',
        windowLateUs,
        loopDelayMs: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
        publishers: pubs.map((p) => ({
          stream: p.synth.stream,
          targetMsgPerSec: p.synth.msgPerSec,
          sentInWindow: p.sentInWindow,
          stampedInWindow: p.stampedInWindow,
          expectedInWindow: p.synth.msgPerSec * secs,
          maxBacklogMsgs: p.maxBacklog,
          maxBacklogAllMsgs: p.maxBacklogAll,
          stalls: p.stalls,
          broken: p.broken,
          keyframes: p.synth.keyframes,
        })),
      });
    } else if (m.cmd === 'stop') {
      clearInterval(timer);
      for (const p of pubs) p.sock.close();
      loop.disable();
      post({ event: 'stopped' });
      port.close();
    }
  });
}

// ---- viewers ------------------------------------------------------------------------------------

async function runViewers(): Promise<void> {
  const n = data.items.length;
  const rec = new Receiver(n, new Float64Array(data.counters, HDR * 8, n * NFIELDS));
  data.items.forEach((it, i) => rec.expectStream(i, it.stream));
  rec.setWindow(windowFrom, windowTo);
  const scratch = new Uint8Array(128 * SLOT);
  const sview = new DataView(scratch.buffer);
  const sockets: Array<SrtSocket | undefined> = new Array<SrtSocket | undefined>(n);
  const closed = new Uint8Array(n);
  const groupPorts: number[] = [];
  const errors: string[] = [];

  const onClosed = (i: number): void => {
    if (closed[i] === 1) return;
    closed[i] = 1;
    live[H_OPEN]! -= 1;
    sockets[i]?.close();
  };
  const drain = (i: number, sock: SrtSocket): void => {
    for (;;) {
      const r = sock.recvSlots(scratch, SLOT, 128, 0, 128);
      const got = r < 0 ? -r - 1 : r;
      if (got > 0) {
        const now = monoUs();
        for (let k = 0; k < got; k++) {
          const off = k * SLOT;
          rec.onMessage(i, scratch, off + SLOT_HEADER_BYTES, sview.getInt32(off, true), now);
        }
      }
      if (r < 0) {
        onClosed(i);
        return;
      }
      if (got < 128) return;
    }
  };

  const extra: Record<string, SrtOptionValue> = { latency: data.latency };
  if (!data.tsbpd) extra['tsbpdmode'] = false;
  await Promise.all(
    data.items.map(async (it, i) => {
      const g = data.share > 0 ? Math.floor(i / data.share) : -1;
      const sock = await connectWithRetries(
        () => socketFor(it.url, extra),
        g < 0
          ? undefined
          : (s) => {
              s.bind('127.0.0.1', groupPorts[g] ?? 0);
              groupPorts[g] ??= s.localAddress().port;
            },
        errors,
        `viewer ${i} (${it.url})`,
      );
      if (sock === undefined) {
        closed[i] = 1;
        live[H_FAILED]! += 1;
        return;
      }
      sockets[i] = sock;
      live[H_CONNECTED]! += 1;
      live[H_OPEN]! += 1;
      sock.on({ readable: () => drain(i, sock), closed: () => onClosed(i) });
    }),
  );
  post({ event: 'connected', ok: Number(live[H_CONNECTED]), failed: Number(live[H_FAILED]), errors, localPorts: groupPorts.length });

  port.on('message', (m: { cmd: string; from?: number; to?: number }) => {
    if (m.cmd === 'window') {
      windowFrom = m.from!;
      windowTo = m.to!;
      rec.setWindow(windowFrom, windowTo);
      windowLateUs = Math.max(0, monoUs() - windowFrom);
      loop.reset();
      post({ event: 'window-armed', lateUs: windowLateUs });
    } else if (m.cmd === 'report') {
      post({
        event: 'report',
        role: 'view',
        windowLateUs,
        loopDelayMs: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
        viewers: data.items.map((it, i) => ({ stream: it.stream, closed: closed[i] === 1, ...rec.counters(i, 'window') })),
        totals: data.items.map((_, i) => rec.counters(i, 'total')),
        hist: sparseHist(rec.hist),
      });
    } else if (m.cmd === 'stop') {
      for (let i = 0; i < n; i++) if (closed[i] === 0) sockets[i]?.close();
      loop.disable();
      post({ event: 'stopped' });
      port.close();
    }
  });
}

if (data.role === 'pub') await runPublishers();
else await runViewers();
