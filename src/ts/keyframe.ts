/**
 * Keyframe detection and picture size for H.264, HEVC and MPEG-1/2 video, from the first bytes
 * of each PES packet. One VideoScanner per video PID keeps the state needed to continue across
 * TS packets: the PES header may end, and the first picture's NAL units may start, in a later
 * packet than the one with payload_unit_start_indicator. Scanning stops at the first coded
 * picture of the PES (its type decides), so a typical PES costs a few dozen bytes of scanning.
 *
 *   H.264: keyframe = IDR slice (nal_unit_type 5), or an SPS in the PES followed by an I/SI
 *          slice (open-GOP / recovery-point streams that start GOPs without IDR).
 *   HEVC:  keyframe = IRAP picture (nal_unit_type 16..23: BLA, IDR, CRA).
 *   MPEG-1/2 video: keyframe = I picture (picture_coding_type 1).
 * Picture size: from the H.264 SPS (cropping, chroma format, field coding), the HEVC SPS
 * (conformance window) and the MPEG-2 sequence header. An SPS is parsed only when its bytes change.
 *
 * No allocation after construction.
 */
import { readPts } from './ts-packet.js';
import type { ScannableVideoCodec } from './codecs.js';

/** feed()/finish() results. */
export const SCAN_PENDING = 0;
export const SCAN_KEYFRAME = 1;
export const SCAN_NOT_KEYFRAME = 2;

/** ES bytes of one PES scanned for its first picture before giving up (x264/x265 put 0.5-2 KB of SEI before the first IDR). */
export const MAX_SCAN_BYTES = 8192;
/** Bytes of an SPS kept for parsing (after emulation-prevention removal). */
const CAPTURE_BYTES = 512;

const CODEC_H264 = 1;
const CODEC_HEVC = 2;
const CODEC_MPEG2 = 3;

const CAP_NONE = 0;
const CAP_SPS = 1;
const CAP_SLICE = 2;
const CAP_MPEG2_SEQ = 3;
const CAP_MPEG2_PIC = 4;

const H264_SLICE = 1;
const H264_DPA = 2;
const H264_DPC = 4;
const H264_IDR = 5;
const H264_SPS = 7;
const HEVC_VCL_MAX = 31;
const HEVC_IRAP_MIN = 16;
const HEVC_IRAP_MAX = 23;
const HEVC_SPS = 33;
const MPEG2_PICTURE = 0x00;
const MPEG2_SLICE_MAX = 0xaf;
const MPEG2_SEQUENCE = 0xb3;

// --- Bit reader for parameter sets (RBSP, emulation prevention already removed) --------------

class BitReader {
  buf: Uint8Array = new Uint8Array(0);
  bits = 0;
  pos = 0;
  over = false;

  reset(buf: Uint8Array, len: number): void {
    this.buf = buf;
    this.bits = len * 8;
    this.pos = 0;
    this.over = false;
  }

  bit(): number {
    if (this.pos >= this.bits) {
      this.over = true;
      return 0;
    }
    const v = (this.buf[this.pos >> 3]! >> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return v;
  }

  /** n <= 53 bits. */
  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }

  skip(n: number): void {
    this.pos += n;
    if (this.pos > this.bits) this.over = true;
  }

  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      if (this.over || ++zeros > 31) {
        this.over = true;
        return 0;
      }
    }
    return 2 ** zeros - 1 + this.u(zeros);
  }

  se(): number {
    const k = this.ue();
    return k & 1 ? (k + 1) / 2 : -(k / 2);
  }
}

const reader = new BitReader();

export interface PictureSize {
  width: number;
  height: number;
}

const H264_HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/**
 * Picture size from an H.264 SPS RBSP (the bytes after the 1-byte NAL header, emulation
 * prevention removed), written into `out`. False when the SPS is truncated or implausible.
 */
export function parseH264Sps(buf: Uint8Array, len: number, out: PictureSize): boolean {
  const r = reader;
  r.reset(buf, len);
  const profile = r.u(8);
  r.skip(16); // constraint flags, level_idc
  r.ue(); // seq_parameter_set_id
  let chromaFormatIdc = 1;
  let separateColourPlane = 0;
  if (H264_HIGH_PROFILES.has(profile)) {
    chromaFormatIdc = r.ue();
    if (chromaFormatIdc === 3) separateColourPlane = r.bit();
    r.ue(); // bit_depth_luma_minus8
    r.ue(); // bit_depth_chroma_minus8
    r.bit(); // qpprime_y_zero_transform_bypass_flag
    if (r.bit()) {
      // seq_scaling_matrix_present_flag
      const lists = chromaFormatIdc !== 3 ? 8 : 12;
      for (let i = 0; i < lists && !r.over; i++) {
        if (r.bit()) {
          const size = i < 6 ? 16 : 64;
          let last = 8;
          let next = 8;
          for (let j = 0; j < size && !r.over; j++) {
            if (next !== 0) next = (last + r.se() + 256) % 256;
            if (next !== 0) last = next;
          }
        }
      }
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) {
    r.ue(); // log2_max_pic_order_cnt_lsb_minus4
  } else if (pocType === 1) {
    r.bit(); // delta_pic_order_always_zero_flag
    r.se(); // offset_for_non_ref_pic
    r.se(); // offset_for_top_to_bottom_field
    const n = r.ue();
    if (n > 255) return false;
    for (let i = 0; i < n && !r.over; i++) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.bit(); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.bit();
  if (!frameMbsOnly) r.bit(); // mb_adaptive_frame_field_flag
  r.bit(); // direct_8x8_inference_flag
  let left = 0;
  let right = 0;
  let top = 0;
  let bottom = 0;
  if (r.bit()) {
    left = r.ue();
    right = r.ue();
    top = r.ue();
    bottom = r.ue();
  }
  if (r.over || chromaFormatIdc > 3) return false;
  const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
  let cropX = 1;
  let cropY = 2 - frameMbsOnly;
  if (chromaArrayType !== 0) {
    const subWidthC = chromaArrayType === 3 ? 1 : 2;
    const subHeightC = chromaArrayType === 1 ? 2 : 1;
    cropX = subWidthC;
    cropY = subHeightC * (2 - frameMbsOnly);
  }
  const width = widthMbs * 16 - cropX * (left + right);
  const height = (2 - frameMbsOnly) * heightMapUnits * 16 - cropY * (top + bottom);
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384) return false;
  out.width = width;
  out.height = height;
  return true;
}

/**
 * Picture size from an HEVC SPS RBSP (the bytes after the 2-byte NAL header, emulation
 * prevention removed), written into `out`. False when truncated or implausible.
 */
export function parseHevcSps(buf: Uint8Array, len: number, out: PictureSize): boolean {
  const r = reader;
  r.reset(buf, len);
  r.skip(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.u(3);
  r.bit(); // sps_temporal_id_nesting_flag
  // profile_tier_level(1, maxSubLayersMinus1): general part is 96 bits
  r.skip(96);
  let profilePresent = 0;
  let levelPresent = 0;
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (r.bit()) profilePresent |= 1 << i;
    if (r.bit()) levelPresent |= 1 << i;
  }
  if (maxSubLayersMinus1 > 0) r.skip(2 * (8 - maxSubLayersMinus1));
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (profilePresent & (1 << i)) r.skip(88);
    if (levelPresent & (1 << i)) r.skip(8);
  }
  r.ue(); // sps_seq_parameter_set_id
  const chromaFormatIdc = r.ue();
  let separateColourPlane = 0;
  if (chromaFormatIdc === 3) separateColourPlane = r.bit();
  const w = r.ue();
  const h = r.ue();
  let left = 0;
  let right = 0;
  let top = 0;
  let bottom = 0;
  if (r.bit()) {
    left = r.ue();
    right = r.ue();
    top = r.ue();
    bottom = r.ue();
  }
  if (r.over || chromaFormatIdc > 3) return false;
  const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
  const subWidthC = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
  const subHeightC = chromaArrayType === 1 ? 2 : 1;
  const width = w - subWidthC * (left + right);
  const height = h - subHeightC * (top + bottom);
  if (width <= 0 || height <= 0 || width > 16888 || height > 16888) return false;
  out.width = width;
  out.height = height;
  return true;
}

/** True when an H.264 slice header RBSP (after the NAL header) starts an I or SI slice. */
function h264IntraSlice(buf: Uint8Array, len: number): boolean {
  const r = reader;
  r.reset(buf, len);
  r.ue(); // first_mb_in_slice
  const sliceType = r.ue();
  if (r.over) return false;
  const t = sliceType % 5;
  return t === 2 || t === 4;
}

/** PES stream_id values whose PES packets have no optional header (13818-1 Table 2-21). */
function pesHasNoOptionalHeader(streamId: number): boolean {
  return (
    streamId === 0xbc || // program_stream_map
    streamId === 0xbe || // padding_stream
    streamId === 0xbf || // private_stream_2
    streamId === 0xf0 || // ECM
    streamId === 0xf1 || // EMM
    streamId === 0xff || // program_stream_directory
    streamId === 0xf2 || // DSMCC_stream
    streamId === 0xf8 // ITU-T H.222.1 type E
  );
}

/** Per-PID keyframe scanner for one video elementary stream. */
export class VideoScanner {
  readonly codec: ScannableVideoCodec;
  /** Picture size from the latest parsed parameter set (0 until known). */
  width = 0;
  height = 0;
  /** PTS (90 kHz) of the PES being scanned, or -1 when it has none. */
  pts = -1;
  /** A PES is being scanned (no decision yet). */
  active = false;
  /** Parameter sets parsed (changes of SPS / sequence header bytes). */
  parameterSetsParsed = 0;

  readonly #kind: number;
  // PES header
  #hdrPos = 0;
  #esStart = 9;
  #ptsFlags = 0;
  readonly #ptsBytes = new Uint8Array(5);
  // ES scan
  #budget = 0;
  #zeros = 0;
  /** NAL header bytes still to read after a start code (0: scanning for start codes). */
  #nalHeader = 0;
  #nalType = 0;
  #sawSps = false;
  // capture
  readonly #cap = new Uint8Array(CAPTURE_BYTES);
  #capMode = CAP_NONE;
  #capLen = 0;
  #capNeed = 0;
  #capZeros = 0;
  #capEpb = true;
  readonly #prev = new Uint8Array(CAPTURE_BYTES);
  #prevLen = -1;
  readonly #size: PictureSize = { width: 0, height: 0 };

  constructor(codec: ScannableVideoCodec) {
    this.codec = codec;
    this.#kind = codec === 'h264' ? CODEC_H264 : codec === 'hevc' ? CODEC_HEVC : CODEC_MPEG2;
  }

  /** Starts a new PES (call on the packet with payload_unit_start_indicator, then feed its payload). */
  start(): void {
    this.active = true;
    this.pts = -1;
    this.#hdrPos = 0;
    this.#esStart = 9;
    this.#ptsFlags = 0;
    this.#budget = MAX_SCAN_BYTES;
    this.#zeros = 0;
    this.#nalHeader = 0;
    this.#sawSps = false;
    this.#capMode = CAP_NONE;
  }

  /** Drops the PES being scanned without a decision (continuity error). */
  abort(): void {
    this.active = false;
    this.#capMode = CAP_NONE;
  }

  /** Ends the PES being scanned (the next one starts, or the scan budget ran out): not a keyframe. */
  finish(): number {
    if (this.#capMode === CAP_SPS) this.#endCapture();
    this.active = false;
    this.#capMode = CAP_NONE;
    return SCAN_NOT_KEYFRAME;
  }

  /**
   * Scans the payload bytes `b[start, end)` of the next packet of the PES. Returns
   * SCAN_PENDING (undecided, feed the next packet), SCAN_KEYFRAME or SCAN_NOT_KEYFRAME
   * (decided; the scanner is inactive until the next start()).
   */
  feed(b: Uint8Array, start: number, end: number): number {
    if (!this.active) return SCAN_NOT_KEYFRAME;
    let i = start;
    // PES header
    while (this.#hdrPos < this.#esStart) {
      if (i >= end) return SCAN_PENDING;
      const v = b[i++]!;
      const pos = this.#hdrPos++;
      if (pos < 3) {
        if (v !== (pos === 2 ? 1 : 0)) return this.#decide(SCAN_NOT_KEYFRAME);
      } else if (pos === 3) {
        if (pesHasNoOptionalHeader(v)) this.#esStart = 6;
      } else if (pos === 6) {
        if ((v & 0xc0) !== 0x80) return this.#decide(SCAN_NOT_KEYFRAME);
      } else if (pos === 7) {
        this.#ptsFlags = v >> 6;
      } else if (pos === 8) {
        this.#esStart = 9 + v;
      } else if (pos < 14 && (this.#ptsFlags & 2) !== 0) {
        this.#ptsBytes[pos - 9] = v;
        if (pos === 13) this.pts = readPts(this.#ptsBytes, 0);
      }
    }
    const scanStart = i;
    const kind = this.#kind;
    const cap = this.#cap;
    let zeros = this.#zeros;
    for (; i < end; i++) {
      const v = b[i]!;
      if (this.#nalHeader > 0) {
        const r = this.#onHeaderByte(v);
        if (r !== SCAN_PENDING) return r;
        zeros = 0;
        continue;
      }
      if (v === 0) {
        zeros++;
      } else {
        if (v === 1 && zeros >= 2) {
          if (this.#capMode !== CAP_NONE) {
            const r = this.#endCapture();
            if (r !== SCAN_PENDING) return r;
          }
          this.#nalHeader = kind === CODEC_HEVC ? 2 : 1;
          zeros = 0;
          continue;
        }
        zeros = 0;
      }
      if (this.#capMode !== CAP_NONE) {
        if (this.#capEpb && v === 3 && this.#capZeros >= 2) {
          this.#capZeros = 0; // emulation_prevention_three_byte
          continue;
        }
        this.#capZeros = v === 0 ? this.#capZeros + 1 : 0;
        cap[this.#capLen++] = v;
        if (this.#capLen >= this.#capNeed) {
          const r = this.#endCapture();
          if (r !== SCAN_PENDING) return r;
        }
      }
    }
    this.#zeros = zeros;
    this.#budget -= end - scanStart;
    if (this.#budget <= 0) return this.finish();
    return SCAN_PENDING;
  }

  #decide(result: number): number {
    this.active = false;
    this.#capMode = CAP_NONE;
    return result;
  }

  #capture(mode: number, need: number, epb: boolean): void {
    this.#capMode = mode;
    this.#capLen = 0;
    this.#capNeed = need;
    this.#capZeros = 0;
    this.#capEpb = epb;
  }

  /** One byte of the NAL header (H.264: 1 byte, HEVC: 2) or the MPEG-2 start code value. */
  #onHeaderByte(v: number): number {
    this.#nalHeader--;
    switch (this.#kind) {
      case CODEC_H264: {
        const type = v & 0x1f;
        if (type === H264_IDR) return this.#decide(SCAN_KEYFRAME);
        if (type === H264_SLICE) {
          if (!this.#sawSps) return this.#decide(SCAN_NOT_KEYFRAME);
          this.#capture(CAP_SLICE, 8, true);
        } else if (type >= H264_DPA && type <= H264_DPC) {
          return this.#decide(SCAN_NOT_KEYFRAME);
        } else if (type === H264_SPS) {
          this.#sawSps = true;
          this.#capture(CAP_SPS, CAPTURE_BYTES, true);
        }
        return SCAN_PENDING;
      }
      case CODEC_HEVC: {
        if (this.#nalHeader === 1) {
          const type = (v >> 1) & 0x3f;
          this.#nalType = type;
          if (type <= HEVC_VCL_MAX) {
            return this.#decide(type >= HEVC_IRAP_MIN && type <= HEVC_IRAP_MAX ? SCAN_KEYFRAME : SCAN_NOT_KEYFRAME);
          }
          return SCAN_PENDING;
        }
        if (this.#nalType === HEVC_SPS) this.#capture(CAP_SPS, CAPTURE_BYTES, true);
        return SCAN_PENDING;
      }
      default: {
        if (v === MPEG2_PICTURE) this.#capture(CAP_MPEG2_PIC, 2, false);
        else if (v === MPEG2_SEQUENCE) this.#capture(CAP_MPEG2_SEQ, 3, false);
        else if (v <= MPEG2_SLICE_MAX) return this.#decide(SCAN_NOT_KEYFRAME); // a slice without a picture header
        return SCAN_PENDING;
      }
    }
  }

  /** The capture is complete (enough bytes, or the next start code): use it. */
  #endCapture(): number {
    const mode = this.#capMode;
    this.#capMode = CAP_NONE;
    const cap = this.#cap;
    const len = this.#capLen;
    switch (mode) {
      case CAP_SPS:
        this.#parameterSet(cap, len);
        return SCAN_PENDING;
      case CAP_SLICE:
        return this.#decide(h264IntraSlice(cap, len) ? SCAN_KEYFRAME : SCAN_NOT_KEYFRAME);
      case CAP_MPEG2_SEQ:
        if (len >= 3) {
          const w = (cap[0]! << 4) | (cap[1]! >> 4);
          const h = ((cap[1]! & 0x0f) << 8) | cap[2]!;
          if (w > 0 && h > 0) {
            this.width = w;
            this.height = h;
          }
        }
        return SCAN_PENDING;
      case CAP_MPEG2_PIC:
        if (len < 2) return this.#decide(SCAN_NOT_KEYFRAME);
        return this.#decide(((cap[1]! >> 3) & 0x7) === 1 ? SCAN_KEYFRAME : SCAN_NOT_KEYFRAME);
      default:
        return SCAN_PENDING;
    }
  }

  /** Parses an SPS unless its bytes equal the last one parsed. */
  #parameterSet(cap: Uint8Array, len: number): void {
    const prev = this.#prev;
    if (len === this.#prevLen) {
      let same = true;
      for (let k = 0; k < len; k++) {
        if (cap[k] !== prev[k]) {
          same = false;
          break;
        }
      }
      if (same) return;
    }
    for (let k = 0; k < len; k++) prev[k] = cap[k]!;
    this.#prevLen = len;
    this.parameterSetsParsed++;
    const size = this.#size;
    const ok = this.#kind === CODEC_H264 ? parseH264Sps(cap, len, size) : parseHevcSps(cap, len, size);
    if (ok) {
      this.width = size.width;
      this.height = size.height;
    }
  }
}
