/**
 * An MPEG-TS stream whose messages carry their own number and a source tag: message `n` (7 TS
 * packets = 1316 bytes) is PAT and PMT before a key frame, one H.264 video PES (an IDR picture
 * with SPS/PPS every KF messages, else a P slice), then a packet on SEQ_PID carrying [u32 n][u32
 * tag], then null packets. The number comes after the video PES, so a keyframe join (which starts
 * at its key frame's first packet) still delivers it. A relay treats it as real TS (key frames,
 * PSI), and a viewer can tell which source and which message it receives.
 */
import assert from 'node:assert/strict';
import type { SrtSocket } from '../../src/srt/socket.js';
import type { AfterHook } from './processes.js';
import { annexB, H264_AUD, H264_PPS, h264Slice, h264Sps, patSection, pmtSection, TsWriter } from './ts-build.js';

export const VIDEO_PID = 0x100;
export const SEQ_PID = 0x1ff0;
/** One key frame every KF messages. */
export const KF = 100;
/** Messages per second of tsPublisher. */
export const PPS = 100;

/** Message `n` of source `tag`'s stream (1316 bytes), written with `w` (its continuity counters). */
export function tsMessage(w: TsWriter, n: number, tag = 0): Buffer {
  const start = w.packets.length;
  const key = n % KF === 0;
  if (key) {
    w.psi(0, patSection([{ number: 1, pmtPid: 0x1000 }]));
    w.psi(0x1000, pmtSection(1, VIDEO_PID, [{ type: 0x1b, pid: VIDEO_PID }]));
  }
  const es = key ? annexB([H264_AUD, h264Sps({ profile: 100, widthMbs: 120, heightMapUnits: 68 }), H264_PPS, h264Slice(5, 7)]) : annexB([H264_AUD, h264Slice(1, 5)]);
  w.pes(VIDEO_PID, 0xe0, es, { pts: 90_000 + n * 900, pcr: (1 + n / PPS) * 27e6, ...(key ? { rai: true } : {}) });
  const seq = new Uint8Array(184);
  const view = new DataView(seq.buffer);
  view.setUint32(0, n);
  view.setUint32(4, tag);
  w.packet(SEQ_PID, { payload: seq });
  while (w.packets.length - start < 7) w.nullPacket();
  const msg = Buffer.concat(w.packets.slice(start));
  w.packets.length = 0;
  assert.equal(msg.length, 1316);
  return msg;
}

export interface TsPublisher {
  readonly sent: number;
  stop(): void;
}

/** Publishes tsMessage(0, tag), tsMessage(1, tag), ... at PPS on `socket` until stopped or the test ends. */
export function tsPublisher(t: AfterHook, socket: SrtSocket, tag = 0): TsPublisher {
  const w = new TsWriter();
  const started = performance.now();
  let sent = 0;
  let pending: Buffer | undefined;
  const timer = setInterval(() => {
    if (socket.isClosed) return;
    const due = Math.floor(((performance.now() - started) * PPS) / 1000) + 1;
    while (sent < due) {
      pending ??= tsMessage(w, sent, tag);
      const r = socket.send(pending);
      if (r <= 0) break;
      pending = undefined;
      sent++;
    }
  }, 5);
  t.after(() => clearInterval(timer));
  return {
    get sent() {
      return sent;
    },
    stop() {
      clearInterval(timer);
    },
  };
}

export interface Numbered {
  n: number;
  tag: number;
}

/** Appends the numbered packets of one message (`len` bytes of `buf`, TS-aligned) to `out`; `pids` gets every packet's PID. */
export function readNumbered(buf: Uint8Array, len: number, out: Numbered[], pids?: number[]): void {
  for (let p = 0; p + 188 <= len; p += 188) {
    if (buf[p] !== 0x47) continue;
    const pid = ((buf[p + 1]! & 0x1f) << 8) | buf[p + 2]!;
    pids?.push(pid);
    if (pid !== SEQ_PID) continue;
    const b = Buffer.from(buf.buffer, buf.byteOffset + p + 4, 8);
    out.push({ n: b.readUInt32BE(0), tag: b.readUInt32BE(4) });
  }
}

/**
 * The numbered messages a viewer receives, in order (read from the SEQ_PID packets). `firstPids`,
 * when given, gets the PIDs of the TS packets of the first message received, in order.
 */
export function numberedReceiver(socket: SrtSocket, firstPids?: number[]): Numbered[] {
  const got: Numbered[] = [];
  const buf = new Uint8Array(1500);
  let messages = 0;
  const drain = (): void => {
    for (;;) {
      if (socket.isClosed) return;
      const len = socket.recv(buf);
      if (len <= 0) return;
      readNumbered(buf, len, got, messages++ === 0 ? firstPids : undefined);
    }
  };
  socket.on({ readable: drain });
  drain();
  return got;
}
