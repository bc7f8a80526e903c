/**
 * Reading MPEG-TS the way a player would, for the relay's end-to-end MPEG-TS tests: packet
 * headers, PAT/PMT, continuity counters (with duplicates and the discontinuity_indicator), PES
 * starts with their PTS and whether they begin a key frame (H.264 IDR / HEVC IRAP NAL units),
 * and PCR spans. Written independently of src/ts so that it checks the relay, not itself.
 */

export const TS = 188;

/** The fields of one TS packet header (and its adaptation field) at offset `p`. */
export interface TsHeader {
  pid: number;
  pusi: boolean;
  cc: number;
  hasPayload: boolean;
  /** Adaptation field present with at least its flags byte. */
  hasAf: boolean;
  discontinuity: boolean;
  randomAccess: boolean;
  pcr: number | undefined;
  /** Offset of the payload within the buffer. */
  payload: number;
}

export function header(b: Uint8Array, p: number): TsHeader {
  const pid = ((b[p + 1]! & 0x1f) << 8) | b[p + 2]!;
  const afc = (b[p + 3]! >> 4) & 3;
  let payload = p + 4;
  let hasAf = false;
  let discontinuity = false;
  let randomAccess = false;
  let pcr: number | undefined;
  if ((afc & 2) !== 0) {
    const len = b[p + 4]!;
    payload = p + 5 + len;
    if (len > 0) {
      hasAf = true;
      const flags = b[p + 5]!;
      discontinuity = (flags & 0x80) !== 0;
      randomAccess = (flags & 0x40) !== 0;
      if ((flags & 0x10) !== 0 && len >= 7) {
        const q = p + 6;
        const base = b[q]! * 2 ** 25 + (b[q + 1]! << 17) + (b[q + 2]! << 9) + (b[q + 3]! << 1) + (b[q + 4]! >> 7);
        const ext = ((b[q + 4]! & 1) << 8) | b[q + 5]!;
        pcr = base * 300 + ext;
      }
    }
  }
  return { pid, pusi: (b[p + 1]! & 0x40) !== 0, cc: b[p + 3]! & 0xf, hasPayload: (afc & 1) !== 0, hasAf, discontinuity, randomAccess, pcr, payload };
}

/** Offsets of the whole packets of `b` (which must start with a sync byte). */
export function packetOffsets(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let p = 0; p + TS <= b.length; p += TS) out.push(p);
  return out;
}

/** True when every 188-byte packet of `b` starts with 0x47 and nothing is left over. */
export function isAlignedTs(b: Uint8Array): boolean {
  if (b.length % TS !== 0) return false;
  for (let p = 0; p < b.length; p += TS) if (b[p] !== 0x47) return false;
  return true;
}

/** PIDs of the first `n` packets. */
export function firstPids(b: Uint8Array, n: number): number[] {
  const out: number[] = [];
  for (let p = 0; p + TS <= b.length && out.length < n; p += TS) out.push(header(b, p).pid);
  return out;
}

/** The first whole section on `pid` that starts in a single packet (PAT/PMT from ffmpeg fit in one). */
function firstSection(b: Uint8Array, pid: number, tableId: number): Uint8Array | undefined {
  for (let p = 0; p + TS <= b.length; p += TS) {
    const h = header(b, p);
    if (h.pid !== pid || !h.pusi || !h.hasPayload) continue;
    const start = h.payload + 1 + b[h.payload]!; // pointer_field
    if (start + 3 > p + TS || b[start] !== tableId) continue;
    const len = ((b[start + 1]! & 0x0f) << 8) | b[start + 2]!;
    if (start + 3 + len > p + TS) continue;
    return b.subarray(start, start + 3 + len);
  }
  return undefined;
}

/** PMT PID of the first program in the first PAT of `b`. */
export function pmtPidOf(b: Uint8Array): number | undefined {
  const s = firstSection(b, 0, 0x00);
  if (s === undefined) return undefined;
  for (let i = 8; i + 4 <= s.length - 4; i += 4) {
    const program = (s[i]! << 8) | s[i + 1]!;
    if (program !== 0) return ((s[i + 2]! & 0x1f) << 8) | s[i + 3]!;
  }
  return undefined;
}

export interface PmtInfo {
  pcrPid: number;
  streams: Array<{ type: number; pid: number }>;
}

/** The first PMT on `pmtPid` in `b`. */
export function pmtOf(b: Uint8Array, pmtPid: number): PmtInfo | undefined {
  const s = firstSection(b, pmtPid, 0x02);
  if (s === undefined) return undefined;
  const pcrPid = ((s[8]! & 0x1f) << 8) | s[9]!;
  const progInfo = ((s[10]! & 0x0f) << 8) | s[11]!;
  const streams: PmtInfo['streams'] = [];
  for (let i = 12 + progInfo; i + 5 <= s.length - 4; ) {
    const esInfo = ((s[i + 3]! & 0x0f) << 8) | s[i + 4]!;
    streams.push({ type: s[i]!, pid: ((s[i + 1]! & 0x1f) << 8) | s[i + 2]! });
    i += 5 + esInfo;
  }
  return { pcrPid, streams };
}

/** Video stream types: MPEG-2, H.264, HEVC. */
export const VIDEO_TYPES: Readonly<Record<number, 'mpeg2' | 'h264' | 'hevc'>> = { 0x02: 'mpeg2', 0x1b: 'h264', 0x24: 'hevc' };

/** PID and codec of the first video stream of the stream's first PMT. */
export function videoOf(b: Uint8Array): { pid: number; codec: 'mpeg2' | 'h264' | 'hevc'; pmtPid: number; pcrPid: number } | undefined {
  const pmtPid = pmtPidOf(b);
  if (pmtPid === undefined) return undefined;
  const pmt = pmtOf(b, pmtPid);
  const v = pmt?.streams.find((s) => VIDEO_TYPES[s.type] !== undefined);
  if (pmt === undefined || v === undefined) return undefined;
  return { pid: v.pid, codec: VIDEO_TYPES[v.type]!, pmtPid, pcrPid: pmt.pcrPid };
}

export interface CcReport {
  /** Packets whose CC did not follow the PID's previous one, not announced by a discontinuity_indicator. */
  errors: Array<{ packet: number; pid: number; expected: number; got: number }>;
  /** CC jumps announced by a discontinuity_indicator (allowed). */
  announced: number;
  /** Repeated packets (same CC once, allowed by ISO/IEC 13818-1). */
  duplicates: number;
  /** Packets carrying the discontinuity_indicator. */
  discontinuityPackets: number;
}

/**
 * Continuity-counter check as a strict analyzer does it: per PID (null packets excluded), a
 * packet with payload must carry the previous CC + 1; once in a row the same CC is a duplicate;
 * a packet whose adaptation field has the discontinuity_indicator may start a new sequence.
 */
export function checkContinuity(b: Uint8Array): CcReport {
  const last = new Int16Array(0x2000).fill(-1);
  const dup = new Uint8Array(0x2000);
  const report: CcReport = { errors: [], announced: 0, duplicates: 0, discontinuityPackets: 0 };
  for (let p = 0, i = 0; p + TS <= b.length; p += TS, i++) {
    const h = header(b, p);
    if (h.pid === 0x1fff) continue;
    if (h.discontinuity) report.discontinuityPackets++;
    if (!h.hasPayload) continue;
    const prev = last[h.pid]!;
    if (prev >= 0) {
      const expected = (prev + 1) & 0xf;
      if (h.cc !== expected) {
        if (h.discontinuity) report.announced++;
        else if (h.cc === prev && dup[h.pid] === 0) {
          report.duplicates++;
          dup[h.pid] = 1;
          continue;
        } else report.errors.push({ packet: i, pid: h.pid, expected, got: h.cc });
      }
    }
    dup[h.pid] = 0;
    last[h.pid] = h.cc;
  }
  return report;
}

export interface PesStart {
  /** Index of the packet (in `b`) where the PES starts. */
  packet: number;
  /** PTS in 90 kHz ticks, if present. */
  pts: number | undefined;
  /** The PES holds an H.264 IDR slice or an HEVC IRAP picture (only decided for H.264/HEVC). */
  keyframe: boolean;
  /** The packet had the random_access_indicator. */
  randomAccess: boolean;
  /** NAL unit types found in the PES (in order). */
  nalTypes: number[];
}

/** Every PES of `pid` that starts in `b`, reassembled (the last one may be cut short). */
export function pesStarts(b: Uint8Array, pid: number, codec: 'mpeg2' | 'h264' | 'hevc', limit = Number.POSITIVE_INFINITY): PesStart[] {
  const out: PesStart[] = [];
  let parts: Uint8Array[] | undefined;
  let cur: { packet: number; randomAccess: boolean } | undefined;
  const finish = (): void => {
    if (parts === undefined || cur === undefined) return;
    const pes = concat(parts);
    parts = undefined;
    if (pes.length < 9 || pes[0] !== 0 || pes[1] !== 0 || pes[2] !== 1) return;
    const flags = pes[7]!;
    const hdrLen = pes[8]!;
    let pts: number | undefined;
    if ((flags & 0x80) !== 0 && pes.length >= 14) {
      pts = ((pes[9]! >> 1) & 7) * 2 ** 30 + (pes[10]! << 22) + ((pes[11]! >> 1) << 15) + (pes[12]! << 7) + (pes[13]! >> 1);
    }
    const es = pes.subarray(9 + hdrLen);
    const nalTypes = nalUnitTypes(es, codec);
    const keyframe =
      codec === 'h264' ? nalTypes.includes(5) : codec === 'hevc' ? nalTypes.some((t) => t >= 16 && t <= 21) : false;
    out.push({ packet: cur.packet, pts, keyframe, randomAccess: cur.randomAccess, nalTypes });
  };
  for (let p = 0, i = 0; p + TS <= b.length && out.length < limit; p += TS, i++) {
    const h = header(b, p);
    if (h.pid !== pid || !h.hasPayload) continue;
    if (h.pusi) {
      finish();
      parts = [];
      cur = { packet: i, randomAccess: h.randomAccess };
    }
    if (parts !== undefined && h.payload < p + TS) parts.push(b.subarray(h.payload, p + TS));
  }
  if (out.length < limit) finish();
  return out;
}

/** NAL unit types of an Annex B elementary stream chunk. */
export function nalUnitTypes(es: Uint8Array, codec: 'mpeg2' | 'h264' | 'hevc'): number[] {
  const out: number[] = [];
  for (let i = 0; i + 3 < es.length; i++) {
    if (es[i] === 0 && es[i + 1] === 0 && es[i + 2] === 1) {
      const h = es[i + 3]!;
      out.push(codec === 'hevc' ? (h >> 1) & 0x3f : codec === 'h264' ? h & 0x1f : h);
      i += 3;
    }
  }
  return out;
}

/** First and last PCR on `pid` (27 MHz) and the span in seconds (no wrap handling: test files are short). */
export function pcrSpan(b: Uint8Array, pid: number): { first: number; last: number; seconds: number } | undefined {
  let first: number | undefined;
  let last: number | undefined;
  for (let p = 0; p + TS <= b.length; p += TS) {
    const h = header(b, p);
    if (h.pid !== pid || h.pcr === undefined) continue;
    first ??= h.pcr;
    last = h.pcr;
  }
  if (first === undefined || last === undefined) return undefined;
  return { first, last, seconds: (last - first) / 27_000_000 };
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
