/**
 * Synthetic MPEG-TS for the load generator: a valid, constant-bitrate transport stream whose
 * every SRT message (7 TS packets, 1316 bytes) carries a sequence number and a send timestamp,
 * so a receiver can measure loss, duplicates, reordering, CC errors and end-to-end latency per
 * packet (bench/lib/receiver.ts). Independent of src/ (only the bench uses it).
 *
 * Per message: TS packet 0 is a *stamp* packet on PID 0x1FF0 (not listed in the PMT, so players
 * ignore it; a server that forwards TS untouched forwards it); the other 6 are, in order of
 * priority, PAT + PMT (every `psiIntervalMs`), video (PID 0x100, H.264), or null packets (PID
 * 0x1FFF) that pad the stream to exactly `bitrate` bits per second.
 *
 * Video: a 16x16 constrained-baseline H.264 stream at `fps`, an IDR (one I_PCM macroblock, with
 * SPS + PPS in front) every `gopFrames` frames and P frames of one skipped macroblock in between,
 * each access unit padded with a filler NAL to its share of `videoShare` of the bitrate (IDR
 * frames 3x a P frame). The first TS packet of each frame has a PCR and, for an IDR, the
 * random_access_indicator, like an encoder's output; so relays with a keyframe cache see a
 * normal stream. PTS = frame time + 200 ms, on the same time base as the PCR (which follows the
 * message index: the stream is CBR by construction, whatever the wall clock does).
 *
 * Stamp packet (offsets from the start of the TS packet):
 *   0..3   TS header (PID 0x1FF0, payload only, CC counting)
 *   4..7   magic 'SRTB' (u32 LE 0x42545253)
 *   8..11  stream index (u32 LE)
 *   12..19 message sequence number (u32 LE low, u32 LE high)
 *   20..27 send time, µs of CLOCK_MONOTONIC (f64 LE), written right before the send
 *   28..   0xFF
 *
 * fill() writes one message into a caller's buffer and allocates nothing.
 */
import { crc32Mpeg2 } from '../../src/ts/psi.js';

export const TS_PACKET = 188;
export const TS_PER_MSG = 7;
export const MSG_BYTES = TS_PACKET * TS_PER_MSG; // 1316
export const PID_PAT = 0x0000;
export const PID_PMT = 0x1000;
export const PID_VIDEO = 0x0100;
export const PID_STAMP = 0x1ff0;
export const PID_NULL = 0x1fff;
export const STAMP_MAGIC = 0x42545253; // bytes 'S' 'R' 'T' 'B'
export const STAMP_OFF_MAGIC = 4;
export const STAMP_OFF_STREAM = 8;
export const STAMP_OFF_SEQ = 12;
export const STAMP_OFF_TIME = 20;

// ---- clock ------------------------------------------------------------------------------------

/** performance.now() is CLOCK_MONOTONIC with a per-thread origin; this offset makes it absolute. */
const MONO_OFFSET_US = Number(process.hrtime.bigint()) / 1000 - performance.now() * 1000;

/** µs of CLOCK_MONOTONIC as a double: the same clock in every process and thread of the host; no allocation. */
export function monoUs(): number {
  return MONO_OFFSET_US + performance.now() * 1000;
}

// ---- CRC and bit writer -------------------------------------------------------------------------

/** CRC-32/MPEG-2 of b[start, end): the project's own (src/ts/psi.ts). */
export { crc32Mpeg2 };

class BitWriter {
  readonly bytes: number[] = [];
  #cur = 0;
  #n = 0;

  u(bits: number, v: number): this {
    for (let i = bits - 1; i >= 0; i--) {
      this.#cur = (this.#cur << 1) | ((v / 2 ** i) & 1);
      if (++this.#n === 8) {
        this.bytes.push(this.#cur);
        this.#cur = 0;
        this.#n = 0;
      }
    }
    return this;
  }

  ue(v: number): this {
    const x = v + 1;
    const len = Math.floor(Math.log2(x));
    this.u(len, 0);
    return this.u(len + 1, x);
  }

  se(v: number): this {
    return this.ue(v <= 0 ? -2 * v : 2 * v - 1);
  }

  get aligned(): boolean {
    return this.#n === 0;
  }

  alignZero(): this {
    while (this.#n !== 0) this.u(1, 0);
    return this;
  }

  /** rbsp_trailing_bits: a 1 then zeros to the byte boundary. */
  trailing(): number[] {
    this.u(1, 1);
    this.alignZero();
    return this.bytes;
  }
}

/** NAL unit with a 4-byte start code and emulation prevention. */
function nal(header: number, rbsp: number[]): number[] {
  const out = [0, 0, 0, 1, header];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out;
}

const SPS = nal(
  0x67,
  new BitWriter()
    .u(8, 66) // profile_idc: baseline
    .u(8, 0xc0) // constraint_set0+1: constrained baseline
    .u(8, 10) // level 1.0
    .ue(0) // seq_parameter_set_id
    .ue(0) // log2_max_frame_num_minus4 -> frame_num is 4 bits
    .ue(2) // pic_order_cnt_type 2 (output order = decode order)
    .ue(1) // max_num_ref_frames
    .u(1, 0) // gaps_in_frame_num_value_allowed_flag
    .ue(0) // pic_width_in_mbs_minus1 -> 16 px
    .ue(0) // pic_height_in_map_units_minus1 -> 16 px
    .u(1, 1) // frame_mbs_only_flag
    .u(1, 1) // direct_8x8_inference_flag
    .u(1, 0) // frame_cropping_flag
    .u(1, 0) // vui_parameters_present_flag
    .trailing(),
);

const PPS = nal(
  0x68,
  new BitWriter()
    .ue(0) // pic_parameter_set_id
    .ue(0) // seq_parameter_set_id
    .u(1, 0) // entropy_coding_mode_flag: CAVLC
    .u(1, 0) // bottom_field_pic_order_in_frame_present_flag
    .ue(0) // num_slice_groups_minus1
    .ue(0) // num_ref_idx_l0_default_active_minus1
    .ue(0) // num_ref_idx_l1_default_active_minus1
    .u(1, 0) // weighted_pred_flag
    .u(2, 0) // weighted_bipred_idc
    .se(0) // pic_init_qp_minus26
    .se(0) // pic_init_qs_minus26
    .se(0) // chroma_qp_index_offset
    .u(1, 1) // deblocking_filter_control_present_flag
    .u(1, 0) // constrained_intra_pred_flag
    .u(1, 0) // redundant_pic_cnt_present_flag
    .trailing(),
);

/** IDR slice: one I_PCM macroblock of mid-grey. */
function idrSlice(idrPicId: number): number[] {
  const w = new BitWriter()
    .ue(0) // first_mb_in_slice
    .ue(7) // slice_type: I (all slices)
    .ue(0) // pic_parameter_set_id
    .u(4, 0) // frame_num
    .ue(idrPicId)
    .u(1, 0) // no_output_of_prior_pics_flag
    .u(1, 0) // long_term_reference_flag
    .se(0) // slice_qp_delta
    .ue(1) // disable_deblocking_filter_idc
    .ue(25) // mb_type: I_PCM
    .alignZero(); // pcm_alignment_zero_bit
  for (let i = 0; i < 384; i++) w.u(8, 0x80); // 256 luma + 2x64 chroma samples
  return nal(0x65, w.trailing());
}

/** P slice (a reference picture) with its one macroblock skipped. */
function pSlice(frameNum: number): number[] {
  return nal(
    0x41,
    new BitWriter()
      .ue(0) // first_mb_in_slice
      .ue(5) // slice_type: P (all slices)
      .ue(0) // pic_parameter_set_id
      .u(4, frameNum & 15)
      .u(1, 0) // num_ref_idx_active_override_flag
      .u(1, 0) // ref_pic_list_modification_flag_l0
      .u(1, 0) // adaptive_ref_pic_marking_mode_flag
      .se(0) // slice_qp_delta
      .ue(1) // disable_deblocking_filter_idc
      .ue(1) // mb_skip_run: the one macroblock
      .trailing(),
  );
}

const AUD = [0, 0, 0, 1, 0x09, 0xf0];

/** Filler NAL (type 12) of exactly `total` bytes including its start code (total >= 6). */
function filler(total: number): number[] {
  const out = [0, 0, 0, 1, 0x0c];
  for (let i = 0; i < total - 6; i++) out.push(0xff);
  out.push(0x80);
  return out;
}

// ---- PSI --------------------------------------------------------------------------------------

function psiPacket(pid: number, section: number[]): Uint8Array {
  const p = new Uint8Array(TS_PACKET).fill(0xff);
  p[0] = 0x47;
  p[1] = 0x40 | ((pid >> 8) & 0x1f);
  p[2] = pid & 0xff;
  p[3] = 0x10; // payload only; CC patched per packet
  p[4] = 0; // pointer_field
  p.set(section, 5);
  const crc = crc32Mpeg2(p, 5, 5 + section.length);
  p[5 + section.length] = crc >>> 24;
  p[6 + section.length] = (crc >>> 16) & 0xff;
  p[7 + section.length] = (crc >>> 8) & 0xff;
  p[8 + section.length] = crc & 0xff;
  return p;
}

function patPacket(): Uint8Array {
  // table_id 0, section_length 13 (5 header + 4 program + 4 CRC), ts id 1, v0 current, program 1 -> PMT
  return psiPacket(PID_PAT, [0x00, 0xb0, 13, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xe0 | (PID_PMT >> 8), PID_PMT & 0xff]);
}

function pmtPacket(): Uint8Array {
  // table_id 2, section_length 18, program 1, v0, PCR PID = video, no program info, H.264 on the video PID
  return psiPacket(PID_PMT, [
    0x02, 0xb0, 18, 0x00, 0x01, 0xc1, 0x00, 0x00,
    0xe0 | (PID_VIDEO >> 8), PID_VIDEO & 0xff, 0xf0, 0x00,
    0x1b, 0xe0 | (PID_VIDEO >> 8), PID_VIDEO & 0xff, 0xf0, 0x00,
  ]);
}

// ---- the generator ----------------------------------------------------------------------------

export interface SynthOptions {
  /** Total bits per second of the stream (messages of 1316 bytes). */
  bitrate: number;
  /** Written into every stamp, so a receiver can tell streams apart. */
  stream?: number;
  fps?: number;
  /** Frames per GOP (an IDR every gopFrames frames). */
  gopFrames?: number;
  /** Share of the 6 non-stamp packets of each message given to video (0..0.9); the rest is PSI and null packets. */
  videoShare?: number;
  psiIntervalMs?: number;
}

/** Frame k: the PES bytes after the PTS (AUD, [SPS, PPS], slice, filler). */
interface FrameTemplate {
  bytes: Uint8Array;
  keyframe: boolean;
}

const PES_HEADER = 14; // 00 00 01 E0, length 0, 80 80 05, PTS (5)
const PTS_DELAY_S = 0.2;

export class TsSynth {
  readonly bitrate: number;
  readonly stream: number;
  readonly msgPerSec: number;
  readonly fps: number;
  readonly gopFrames: number;
  /** Sequence number of the next message fill() writes. */
  seq = 0;
  /** Keyframes (IDR starts) written so far. */
  keyframes = 0;

  readonly #pat = patPacket();
  readonly #pmt = pmtPacket();
  readonly #msgSeconds: number;
  readonly #msgPerFrame: number;
  readonly #psiEvery: number; // messages between PSI repetitions
  readonly #videoPerMsg: number; // video TS packets earned per message
  readonly #frames: FrameTemplate[]; // [IDR id 0, IDR id 1, P frame_num 0..15]
  #ccPat = 0;
  #ccPmt = 0;
  #ccVideo = 0;
  #ccStamp = 0;
  #videoTokens = 0;
  #frame = 0; // next frame to start
  #cur: FrameTemplate | undefined; // frame being sent
  #curPos = -PES_HEADER; // bytes of the current frame sent (negative: still in the PES header)
  #curPts = 0;
  #curFirst = true;
  #nextPsi = 0;

  constructor(o: SynthOptions) {
    this.bitrate = o.bitrate;
    this.stream = o.stream ?? 0;
    this.fps = o.fps ?? 25;
    this.gopFrames = Math.max(1, Math.round(o.gopFrames ?? this.fps));
    this.msgPerSec = this.bitrate / (MSG_BYTES * 8);
    if (!(this.msgPerSec > 0)) throw new Error('TsSynth: bitrate must be positive');
    this.#msgSeconds = 1 / this.msgPerSec;
    this.#msgPerFrame = this.msgPerSec / this.fps;
    this.#psiEvery = Math.max(1, Math.round(((o.psiIntervalMs ?? 100) / 1000) * this.msgPerSec));
    const share = Math.min(0.9, Math.max(0, o.videoShare ?? 0.7));
    this.#videoPerMsg = share * (TS_PER_MSG - 1);
    // Average frame budget in bytes (90 %, so the video never builds a backlog), IDR = 3 P.
    const avg = 0.9 * this.#videoPerMsg * this.#msgPerFrame * 184 - PES_HEADER - 8;
    const g = this.gopFrames;
    const pSize = g > 1 ? (avg * g) / (g + 2) : 0;
    const idrSize = g > 1 ? 3 * pSize : avg;
    const frame = (parts: number[][], size: number, keyframe: boolean): FrameTemplate => {
      const body = parts.flat();
      const pad = Math.round(size) - body.length;
      return { bytes: Uint8Array.from(pad >= 6 ? [...body, ...filler(pad)] : body), keyframe };
    };
    this.#frames = [
      frame([AUD, SPS, PPS, idrSlice(0)], idrSize, true),
      frame([AUD, SPS, PPS, idrSlice(1)], idrSize, true),
    ];
    for (let fn = 0; fn < 16; fn++) this.#frames.push(frame([AUD, pSlice(fn)], pSize, false));
  }

  /** The frame template for frame index k. */
  #template(k: number): FrameTemplate {
    const inGop = k % this.gopFrames;
    if (inGop === 0) return this.#frames[Math.floor(k / this.gopFrames) % 2]!;
    return this.#frames[2 + (inGop % 16)]!; // frame_num counts on mod 16 from the IDR's 0
  }

  /**
   * Writes message number `this.seq` (1316 bytes) at dst[off..] with the given send time and
   * advances. The send time can be rewritten later with stampTime().
   */
  fill(dst: Uint8Array, off: number, sendTimeUs = 0): void {
    const m = this.seq;
    // 0: the stamp
    this.#stamp(dst, off, m, sendTimeUs);
    let slot = 1;
    // PSI
    if (m >= this.#nextPsi) {
      this.#nextPsi = m + this.#psiEvery;
      dst.set(this.#pat, off + TS_PACKET);
      dst[off + TS_PACKET + 3] = 0x10 | this.#ccPat;
      this.#ccPat = (this.#ccPat + 1) & 15;
      dst.set(this.#pmt, off + 2 * TS_PACKET);
      dst[off + 2 * TS_PACKET + 3] = 0x10 | this.#ccPmt;
      this.#ccPmt = (this.#ccPmt + 1) & 15;
      slot = 3;
    }
    // video
    this.#videoTokens = Math.min(this.#videoTokens + this.#videoPerMsg, TS_PER_MSG);
    for (; slot < TS_PER_MSG; slot++) {
      const p = off + slot * TS_PACKET;
      if (this.#cur === undefined && m + 1e-9 >= this.#frame * this.#msgPerFrame) this.#startFrame();
      if (this.#cur !== undefined && this.#videoTokens >= 1) {
        this.#videoTokens -= 1;
        this.#videoPacket(dst, p, m);
      } else {
        this.#nullPacket(dst, p);
      }
    }
    this.seq = m + 1;
  }

  /** Rewrites the send time of a message fill() wrote at dst[off..]. */
  static stampTime(dst: Uint8Array, off: number, sendTimeUs: number, view?: DataView): void {
    const v = view ?? new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
    v.setFloat64(off + STAMP_OFF_TIME, sendTimeUs, true);
  }

  #stamp(dst: Uint8Array, off: number, m: number, t: number): void {
    dst.fill(0xff, off, off + TS_PACKET);
    dst[off] = 0x47;
    dst[off + 1] = (PID_STAMP >> 8) & 0x1f;
    dst[off + 2] = PID_STAMP & 0xff;
    dst[off + 3] = 0x10 | this.#ccStamp;
    this.#ccStamp = (this.#ccStamp + 1) & 15;
    const lo = m >>> 0;
    const hi = Math.floor(m / 4294967296) >>> 0;
    writeU32(dst, off + STAMP_OFF_MAGIC, STAMP_MAGIC);
    writeU32(dst, off + STAMP_OFF_STREAM, this.stream >>> 0);
    writeU32(dst, off + STAMP_OFF_SEQ, lo);
    writeU32(dst, off + STAMP_OFF_SEQ + 4, hi);
    writeF64(dst, off + STAMP_OFF_TIME, t);
  }

  #startFrame(): void {
    const k = this.#frame++;
    this.#cur = this.#template(k);
    if (this.#cur.keyframe) this.keyframes++;
    this.#curPos = -PES_HEADER;
    this.#curFirst = true;
    this.#curPts = Math.round((k / this.fps + PTS_DELAY_S) * 90000);
  }

  #nullPacket(dst: Uint8Array, p: number): void {
    dst.fill(0xff, p, p + TS_PACKET);
    dst[p] = 0x47;
    dst[p + 1] = 0x1f;
    dst[p + 2] = 0xff;
    dst[p + 3] = 0x10;
  }

  #videoPacket(dst: Uint8Array, p: number, m: number): void {
    const cur = this.#cur!;
    const remaining = cur.bytes.length - this.#curPos; // includes the PES header if not yet sent
    const first = this.#curFirst;
    // adaptation field: PCR (+ random access on a keyframe) on the first packet of a frame
    let af = first ? 8 : 0; // length byte + flags + 6 PCR bytes
    const room = 184 - af;
    const take = Math.min(room, remaining);
    if (take < room) af += room - take; // stuffing in the adaptation field for the last packet
    dst[p] = 0x47;
    dst[p + 1] = (first ? 0x40 : 0) | ((PID_VIDEO >> 8) & 0x1f);
    dst[p + 2] = PID_VIDEO & 0xff;
    dst[p + 3] = (af > 0 ? 0x30 : 0x10) | this.#ccVideo;
    this.#ccVideo = (this.#ccVideo + 1) & 15;
    let q = p + 4;
    if (af > 0) {
      dst[q] = af - 1; // adaptation_field_length
      if (af > 1) {
        dst[q + 1] = first ? 0x10 | (cur.keyframe ? 0x40 : 0) : 0x00;
        let s = q + 2;
        if (first) {
          // PCR base (33 bits, 90 kHz) and extension (9 bits) at message m's time
          const pcr27 = Math.round(m * this.#msgSeconds * 27e6);
          const base = Math.floor(pcr27 / 300);
          const ext = pcr27 % 300;
          dst[s] = Math.floor(base / 2 ** 25) & 0xff;
          dst[s + 1] = Math.floor(base / 2 ** 17) & 0xff;
          dst[s + 2] = Math.floor(base / 2 ** 9) & 0xff;
          dst[s + 3] = Math.floor(base / 2) & 0xff;
          dst[s + 4] = ((base & 1) << 7) | 0x7e | ((ext >> 8) & 1);
          dst[s + 5] = ext & 0xff;
          s += 6;
        }
        dst.fill(0xff, s, q + af);
      }
      q += af;
    }
    // payload: PES header first, then the frame bytes
    let n = 0;
    while (n < take && this.#curPos < 0) {
      dst[q + n] = this.#pesHeaderByte(PES_HEADER + this.#curPos);
      this.#curPos++;
      n++;
    }
    const bytes = cur.bytes;
    while (n < take) {
      dst[q + n] = bytes[this.#curPos]!;
      this.#curPos++;
      n++;
    }
    this.#curFirst = false;
    if (this.#curPos >= bytes.length) this.#cur = undefined;
  }

  #pesHeaderByte(i: number): number {
    const pts = this.#curPts;
    switch (i) {
      case 0:
      case 1:
        return 0x00;
      case 2:
        return 0x01;
      case 3:
        return 0xe0;
      case 4:
      case 5:
        return 0x00; // PES_packet_length 0: unbounded (video)
      case 6:
        return 0x80;
      case 7:
        return 0x80; // PTS only
      case 8:
        return 0x05;
      case 9:
        return 0x21 | ((Math.floor(pts / 2 ** 30) & 0x07) << 1);
      case 10:
        return Math.floor(pts / 2 ** 22) & 0xff;
      case 11:
        return ((Math.floor(pts / 2 ** 15) & 0x7f) << 1) | 1;
      case 12:
        return Math.floor(pts / 2 ** 7) & 0xff;
      default:
        return ((pts & 0x7f) << 1) | 1;
    }
  }

}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

const F64 = new Float64Array(1);
const F64B = new Uint8Array(F64.buffer);
function writeF64(b: Uint8Array, o: number, v: number): void {
  F64[0] = v;
  for (let i = 0; i < 8; i++) b[o + i] = F64B[i]!;
}
