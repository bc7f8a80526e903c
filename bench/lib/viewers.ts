/**
 * Load generator for the fan-out bench: K SRT viewers (callers) in one Node process, through the
 * addon. Run by bench/fanout.ts as a child with an IPC channel; one process per ~50 viewers so
 * the generator is not the bottleneck.
 *
 *   node dist/bench/lib/viewers.js --port P --count K [--host 127.0.0.1] [--streamid read:bench]
 *                                  [--latency 120] [--retries 5]
 *
 * Every viewer drains its socket on each readable event with recvSlots into a scratch ring
 * shared by the process (one batch per call), then reads each packet's length and the u64 LE
 * sequence number srt-blast puts at the start of the payload (slot byte 16, after the
 * SLOT_HEADER_BYTES header), counting bytes, packets, lost (gaps) and late (sequence going back).
 *
 * IPC: -> {"event":"connected","connected":n,"failed":f,"errors":[..]} once every viewer has
 *         connected or given up (a 1404 "stream not live" refusal is retried);
 *      <- {"cmd":"progress"} -> {"event":"progress","connected","open","bytes"}
 *      <- {"cmd":"mark"}     -> {"event":"marked"}: restarts the event-loop statistics
 *      <- {"cmd":"report","from":NS,"to":NS}
 *                            -> {"event":"report","seconds","viewers":[{bytes,packets,lost,late,closed}],"cpu",
 *                                "loopDelayMs":{p50,p99,max},"callbacks","longestCallbackMs"}
 * Counters are kept in 100 ms buckets stamped with process.hrtime.bigint() (CLOCK_MONOTONIC,
 * the same clock in every process on the host), so the parent names the window [from, to) in
 * its own clock and the answer does not depend on when this process gets to read the message:
 * under overload its event loop can be held for seconds (see bench/README.md).
 *      <- {"cmd":"exit"}     closes every socket and leaves.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { PacketRing } from '../../src/ring/packet-ring.js';
import { SLOT_HEADER_BYTES } from '../../src/srt/native.js';
import { SrtSocket } from '../../src/srt/socket.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    count: { type: 'string', default: '50' },
    streamid: { type: 'string', default: 'read:bench' },
    latency: { type: 'string', default: '120' },
    retries: { type: 'string', default: '5' },
    share: { type: 'string', default: '0' },
    tsbpd: { type: 'string', default: 'on' },
  },
});

const port = Number(values.port);
const host = values.host ?? '127.0.0.1';
const count = Number(values.count);
const retries = Number(values.retries);
const BATCH = 128;
// --share K: K viewers per local UDP port (one libsrt multiplexer: one receive and one send
// thread per port instead of per viewer); 0: every viewer its own port, like separate programs.
const share = Number(values.share);
const tsbpd = values.tsbpd !== 'off';
const sharedPorts: number[] = [];

const scratch = PacketRing.create(256);
const slots = scratch.slots;
const slotSize = scratch.slotSize;
const view = new DataView(scratch.buffer, slots.byteOffset, slots.byteLength);

// Per-viewer counters since start (for progress).
const bytes = new Float64Array(count);
const packets = new Float64Array(count);
const lost = new Float64Array(count);
const late = new Float64Array(count);
const nextSeq = new Float64Array(count).fill(-1);
const closed = new Uint8Array(count);
// The same counters per 100 ms bucket (bucket k covers T0 + k*100ms ..), for windowed reports.
const T0 = process.hrtime.bigint();
const BUCKET_NS = 100_000_000n;
const MAX_BUCKETS = 12_000; // 20 minutes
const buckets = Array.from({ length: count }, () => ({
  bytes: new Float64Array(MAX_BUCKETS),
  packets: new Float64Array(MAX_BUCKETS),
  lost: new Float64Array(MAX_BUCKETS),
  late: new Float64Array(MAX_BUCKETS),
}));
function bucketOf(t: bigint): number {
  const k = Number((t - T0) / BUCKET_NS);
  return k < 0 ? 0 : k >= MAX_BUCKETS ? MAX_BUCKETS - 1 : k;
}
const sockets: Array<SrtSocket | undefined> = new Array<SrtSocket | undefined>(count);
let connected = 0;
let open = 0;

function emit(m: Record<string, unknown>): void {
  process.send?.(m);
}

// Readable callbacks since the mark, and the longest single one (ms): long loop delays with
// short callbacks mean the thread is kept busy by a stream of callbacks without returning to
// the event loop in between.
let callbacks = 0;
let longestCallbackMs = 0;

function drainer(i: number, sock: SrtSocket): () => void {
  const drain = drainOnce(i, sock);
  return () => {
    const t0 = performance.now();
    drain();
    const dt = performance.now() - t0;
    callbacks++;
    if (dt > longestCallbackMs) longestCallbackMs = dt;
  };
}

function drainOnce(i: number, sock: SrtSocket): () => void {
  return () => {
    for (;;) {
      const r = sock.recvSlots(slots, slotSize, 256, 0, BATCH);
      const n = r < 0 ? -r - 1 : r;
      let b = 0;
      let expect = nextSeq[i]!;
      let gaps = 0;
      let back = 0;
      for (let k = 0; k < n; k++) {
        const off = k * slotSize;
        const len = view.getInt32(off, true);
        b += len;
        if (len < 8) continue;
        const seq = view.getUint32(off + SLOT_HEADER_BYTES, true) + view.getUint32(off + SLOT_HEADER_BYTES + 4, true) * 4294967296;
        if (expect >= 0) {
          if (seq > expect) gaps += seq - expect;
          else if (seq < expect) {
            back++;
            continue;
          }
        }
        expect = seq + 1;
      }
      nextSeq[i] = expect;
      bytes[i] = bytes[i]! + b;
      packets[i] = packets[i]! + n;
      lost[i] = lost[i]! + gaps;
      late[i] = late[i]! + back;
      if (n > 0) {
        const k = bucketOf(process.hrtime.bigint());
        const bk = buckets[i]!;
        bk.bytes[k] = bk.bytes[k]! + b;
        bk.packets[k] = bk.packets[k]! + n;
        bk.lost[k] = bk.lost[k]! + gaps;
        bk.late[k] = bk.late[k]! + back;
      }
      if (r < 0) {
        onClosed(i);
        return;
      }
      if (n < BATCH) return;
    }
  };
}

function onClosed(i: number): void {
  if (closed[i] === 1) return;
  closed[i] = 1;
  open--;
  sockets[i]?.close();
}

async function connectOne(i: number, errors: string[]): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    const sock = SrtSocket.create({
      streamid: values.streamid ?? 'read:bench',
      latency: Number(values.latency),
      ...(tsbpd ? {} : { tsbpdmode: false }),
    });
    try {
      if (share > 0) {
        const slot = Math.floor(i / share);
        sock.bind('127.0.0.1', sharedPorts[slot] ?? 0);
        sharedPorts[slot] ??= sock.localAddress().port;
      }
      await sock.connect(host, port);
      sockets[i] = sock;
      connected++;
      open++;
      sock.on({ readable: drainer(i, sock), closed: () => onClosed(i) });
      return true;
    } catch (e) {
      sock.close();
      if (attempt >= retries) {
        if (errors.length < 10) errors.push(`viewer ${i}: ${(e as Error).message}`);
        closed[i] = 1;
        return false;
      }
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }
}

// Event-loop delay of this process: when it grows, the load generator (not the relay) is the
// bottleneck, or readiness callbacks keep the thread from returning to the event loop.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

const errors: string[] = [];
const results = await Promise.all(Array.from({ length: count }, (_, i) => connectOne(i, errors)));
emit({ event: 'connected', connected, failed: results.filter((ok) => !ok).length, errors });

function sum(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
}

function sumRange(a: Float64Array, from: number, to: number): number {
  let s = 0;
  for (let k = from; k < to; k++) s += a[k]!;
  return s;
}

process.on('message', (m: { cmd?: string; from?: string; to?: string }) => {
  switch (m.cmd) {
    case 'progress':
      emit({ event: 'progress', connected, open, bytes: sum(bytes), t: performance.now() });
      break;
    case 'mark':
      loopDelay.reset();
      callbacks = 0;
      longestCallbackMs = 0;
      emit({ event: 'marked' });
      break;
    case 'report': {
      const fromNs = BigInt(m.from ?? '0');
      const toNs = BigInt(m.to ?? String(process.hrtime.bigint()));
      const kFrom = bucketOf(fromNs);
      const kTo = bucketOf(toNs);
      const seconds = (kTo - kFrom) * Number(BUCKET_NS) / 1e9; // whole buckets
      const viewers = Array.from({ length: count }, (_, i) => {
        const bk = buckets[i]!;
        return {
          bytes: sumRange(bk.bytes, kFrom, kTo),
          packets: sumRange(bk.packets, kFrom, kTo),
          lost: sumRange(bk.lost, kFrom, kTo),
          late: sumRange(bk.late, kFrom, kTo),
          closed: closed[i] === 1,
        };
      });
      const cpu = process.cpuUsage();
      emit({
        event: 'report',
        seconds,
        viewers,
        cpu: (cpu.user + cpu.system) / 1e6,
        loopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
        callbacks,
        longestCallbackMs,
      });
      break;
    }
    case 'exit':
      loopDelay.disable();
      for (let i = 0; i < count; i++) {
        if (closed[i] === 0) {
          closed[i] = 1;
          sockets[i]?.close();
        }
      }
      // Leave by letting the event loop empty (no process.exit(): older addon builds aborted on it).
      process.disconnect?.();
      break;
    default:
      break;
  }
});
