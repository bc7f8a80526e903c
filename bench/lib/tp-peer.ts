/**
 * One end of the throughput bench's SRT connection, through the addon (run as a child process
 * by bench/throughput.ts, with an IPC channel). No per-packet JavaScript on either side.
 *
 *   node dist/bench/lib/tp-peer.js --role recv --port P [--latency 120] [--rcvbuf BYTES] [--limit S]
 *     listens on 127.0.0.1:P, accepts one caller, receives with recvSlots into a ring on every
 *     readable event (counting packets), until the peer closes or --limit seconds pass.
 *     -> {"event":"listening"} then {"event":"done","received":..,"seconds":..,"mbps":..,..}
 *
 *   node dist/bench/lib/tp-peer.js --role send --port P [--seconds 5] [--latency 120] [--maxbw BYTES]
 *     connects, reports {"event":"connected"} and waits for {"cmd":"go"}; then loops sendSlots over
 *     a ring filled once with 1316-byte payloads, in batches, until a batch is not taken whole,
 *     and waits for the writable event; after --seconds, waits until the send buffer is empty
 *     plus the peer's latency (as srt-blast does), closes and reports
 *     {"event":"done","sent":..,"seconds":..,"mbps":..,"retrans":..,"snd_drop":..,"watchdog":..}.
 *
 * Both then wait for {"cmd":"exit"} so the parent can read their final CPU time from /proc.
 * Payloads carry the bench layout of bench/floor/common.h (u64 LE sequence number, u64 send time)
 * for the ring's slot index only: sequence numbers repeat every ring length.
 */
import { parseArgs } from 'node:util';
import { PacketRing } from '../../src/ring/packet-ring.js';
import { SLOT_HEADER_BYTES } from '../../src/srt/native.js';
import { SrtListener, SrtSocket, type SrtStats } from '../../src/srt/socket.js';

const PAYLOAD = 1316;

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    port: { type: 'string' },
    seconds: { type: 'string', default: '5' },
    latency: { type: 'string', default: '120' },
    maxbw: { type: 'string', default: '250000000' },
    rcvbuf: { type: 'string', default: '0' },
    limit: { type: 'string', default: '60' },
    batch: { type: 'string', default: '64' },
    'ring-slots': { type: 'string', default: '1024' },
  },
});

const port = Number(values.port);
const latency = Number(values.latency);
const batch = Number(values.batch);
const ringSlots = Number(values['ring-slots']);

function emit(m: Record<string, unknown>): void {
  process.send?.(m);
}

function waitCommand(cmd: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (m: unknown): void => {
      if ((m as { cmd?: string }).cmd === cmd) {
        process.off('message', on);
        resolve();
      }
    };
    process.on('message', on);
  });
}

/** Leave by letting the event loop empty (no process.exit(): older addon builds aborted on it). */
async function exitWhenTold(): Promise<void> {
  await waitCommand('exit');
  process.disconnect?.();
}

function stat(s: SrtStats | undefined, name: string): number {
  return s === undefined ? 0 : (s as Record<string, number>)[name] ?? 0;
}

/** The receiver buffer options srt-sink --rcvbuf sets (same arithmetic), so both receivers match. */
function rcvbufOptions(rcvbuf: number): Record<string, number> {
  if (rcvbuf <= 0) return {};
  const fc = Math.max(25600, Math.floor(rcvbuf / 1316) + 256);
  return { fc, rcvbuf, udp_rcvbuf: Math.min(rcvbuf, 8 << 20) };
}

async function receive(): Promise<void> {
  const limitMs = Number(values.limit) * 1000;
  const listener = SrtListener.create('127.0.0.1', port, { latency, ...rcvbufOptions(Number(values.rcvbuf)) });
  const ring = PacketRing.create(ringSlots);
  const mask = ring.slotCount - 1;
  let finished = false;
  let sock: SrtSocket | undefined;
  let packets = 0;
  let events = 0;
  let tFirst = 0;
  let tLast = 0;
  let next = 0;
  let last: SrtStats | undefined;
  let statsTimer: NodeJS.Timeout | undefined;

  const done = new Promise<void>((resolve) => {
    const finish = (why: string): void => {
      if (finished) return;
      finished = true;
      clearTimeout(limit);
      clearInterval(statsTimer);
      if (sock !== undefined && !sock.isClosed) last = sock.stats() ?? last;
      sock?.close();
      listener.close();
      const seconds = packets > 1 ? (tLast - tFirst) / 1000 : 0;
      emit({
        event: 'done',
        why,
        received: packets,
        bytes: packets * PAYLOAD,
        seconds,
        mbps: seconds > 0 ? (packets * PAYLOAD * 8) / seconds / 1e6 : 0,
        readable_events: events,
        srt_rcv_loss: stat(last, 'pktRcvLossTotal'),
        srt_rcv_drop: stat(last, 'pktRcvDropTotal'),
      });
      resolve();
    };
    const limit = setTimeout(() => finish('time limit'), limitMs);
    const drain = (): void => {
      if (finished || sock === undefined) return;
      events++;
      for (;;) {
        const r = sock.recvSlots(ring.slots, ring.slotSize, ring.slotCount, next, batch);
        const n = r < 0 ? -r - 1 : r;
        if (n > 0) {
          const t = performance.now();
          if (packets === 0) tFirst = t;
          tLast = t;
          packets += n;
          next = (next + n) & mask;
        }
        if (r < 0) {
          finish('peer closed');
          return;
        }
        if (n < batch) return;
      }
    };
    listener.listen((c) => {
      if (sock !== undefined) {
        c.socket.close();
        return;
      }
      sock = c.socket;
      listener.close(); // one peer, as srt-sink
      statsTimer = setInterval(() => {
        if (sock !== undefined && !sock.isClosed) last = sock.stats() ?? last;
      }, 100);
      sock.on({ readable: drain, closed: () => finish('peer closed') });
      drain();
    });
  });
  emit({ event: 'listening', port });
  await done;
  await exitWhenTold();
}

async function sendLoop(): Promise<void> {
  const seconds = Number(values.seconds);
  const sock = SrtSocket.create({ latency, maxbw: Number(values.maxbw) });
  await sock.connect('127.0.0.1', port);
  const ring = PacketRing.create(ringSlots);
  const view = new DataView(ring.buffer, ring.slots.byteOffset, ring.slots.byteLength);
  for (let i = 0; i < ring.slotCount; i++) {
    const off = i * ring.slotSize;
    view.setInt32(off, PAYLOAD, true);
    ring.slots.fill(0xab, off + SLOT_HEADER_BYTES, off + SLOT_HEADER_BYTES + PAYLOAD);
    view.setBigUint64(off + SLOT_HEADER_BYTES, BigInt(i), true);
    view.setBigUint64(off + SLOT_HEADER_BYTES + 8, process.hrtime.bigint(), true);
  }
  const mask = ring.slotCount - 1;
  emit({ event: 'connected' });
  await waitCommand('go');

  let sent = 0;
  let seq = 0;
  let broken = false;
  let waiting = false;
  let watchdog = 0;
  let watchdogWithRoom = 0;
  // For each watchdog wake-up (first 20): packets in the send buffer, and how many sendSlots took at once.
  const missed: Array<{ snddata: number; took: number; waitedMs: number }> = [];
  let waitStart = 0;
  let writableEvents = 0;
  let batches = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let sendEnd = 0;
  await new Promise<void>((resolve) => {
    let dog: NodeJS.Timeout | undefined;
    const stop = (): void => {
      clearTimeout(dog);
      sendEnd = performance.now();
      resolve();
    };
    const pump = (): void => {
      waiting = false;
      for (;;) {
        if (performance.now() >= end) {
          stop();
          return;
        }
        const r = sock.sendSlots(ring.slots, ring.slotSize, ring.slotCount, seq & mask, batch, false);
        const n = r < 0 ? -r - 1 : r;
        batches++;
        sent += n;
        seq = (seq + n) >>> 0;
        if (r < 0) {
          broken = true;
          stop();
          return;
        }
        if (n < batch) break;
      }
      // Send buffer full: continue on the writable event. A 50 ms watchdog catches a missing
      // event: counted, and when the retry finds room the event was missed or late.
      waiting = true;
      waitStart = performance.now();
      clearTimeout(dog);
      dog = setTimeout(() => {
        if (waiting) {
          watchdog++;
          const snddata = Number(sock.getOption('snddata'));
          const before = sent;
          const waitedMs = performance.now() - waitStart;
          pump();
          if (sent > before) watchdogWithRoom++;
          if (missed.length < 20) missed.push({ snddata, took: sent - before, waitedMs: Math.round(waitedMs) });
        }
      }, 50);
    };
    sock.on({
      writable: () => {
        writableEvents++;
        if (waiting) pump();
      },
      closed: () => {
        broken = true;
        if (waiting) stop();
      },
    });
    pump();
  });
  sock.on({ writable: () => undefined });

  // As srt-blast: let the send buffer empty, then the receiver's latency, before closing.
  if (!broken) {
    const deadline = performance.now() + 3000;
    while (performance.now() < deadline && !sock.isClosed && Number(sock.getOption('snddata')) > 0) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const peer = sock.isClosed ? latency : Number(sock.getOption('peerlatency'));
    await new Promise((r) => setTimeout(r, peer + 100));
  }
  const st = sock.isClosed ? undefined : sock.stats();
  sock.close();
  const elapsed = (sendEnd - start) / 1000;
  emit({
    event: 'done',
    sent,
    bytes: sent * PAYLOAD,
    seconds: elapsed,
    mbps: elapsed > 0 ? (sent * PAYLOAD * 8) / elapsed / 1e6 : 0,
    retrans: stat(st, 'pktRetransTotal'),
    snd_drop: stat(st, 'pktSndDropTotal'),
    broken,
    batches,
    writable_events: writableEvents,
    watchdog,
    watchdog_with_room: watchdogWithRoom,
    missed,
  });
  await exitWhenTold();
}

if (values.role === 'recv') await receive();
else if (values.role === 'send') await sendLoop();
else {
  process.stderr.write('tp-peer: --role send|recv\n');
  process.exitCode = 2;
}
