/**
 * TsAnalyzer: inspects the MPEG-TS in a stream's ring slots right after the publisher's worker
 * receives them. It flags the slots where a joining viewer can start (SLOT_FLAG_KEYFRAME: the
 * slot holding the first TS packet of a keyframe's PES) and the slots carrying PAT/PMT
 * (SLOT_FLAG_PSI), keeps the latest PAT+PMT packets for joiners, and gathers stream facts for
 * the API: programs, tracks and codecs, picture size, bitrates, continuity-counter errors,
 * keyframe interval, PCR.
 *
 * Cost: the common packet (no PUSI, not PSI) is a header read, a PID table lookup, the CC check
 * and two counters. PSI packets are reassembled and CRC-checked (tables are re-parsed only when
 * their CRC changes); video PES starts are scanned up to their first picture. No allocation on
 * the packet path; objects are allocated only when a PAT/PMT changes and by snapshot().
 *
 * Single-threaded: one analyzer per stream, called by the thread that writes the ring.
 */
import { codecFor, isScannableVideo, type CodecName, type TrackKind } from './codecs.js';
import { SCAN_KEYFRAME, VideoScanner } from './keyframe.js';
import {
  parsePat,
  parsePmt,
  SectionAssembler,
  sectionCrcOk,
  TABLE_PAT,
  TABLE_PMT,
  type PatProgram,
  type Pmt,
} from './psi.js';
import { PCR_WRAP, PID_COUNT, PID_NULL, PID_PAT, PTS_WRAP, readPcr, TS_PACKET_SIZE, TS_SYNC_BYTE } from './ts-packet.js';

/**
 * The ring slot layout and flag bits of src/ring/packet-ring.ts (SLOT_HEADER_BYTES,
 * SLOT_FLAG_KEYFRAME, SLOT_FLAG_PSI), repeated here so that src/ts does not import the ring,
 * which loads the native addon; test/ts-analyzer.test.ts checks that they are equal.
 */
export const ANALYZER_SLOT_HEADER_BYTES = 16;
export const ANALYZER_FLAG_KEYFRAME = 0x1;
export const ANALYZER_FLAG_PSI = 0x2;
/**
 * Bits 8..15 of a slot's flags: the offset in the payload of the first TS packet that starts in
 * the slot (0 for messages of whole packets; a publisher that sends 1456-byte messages splits
 * packets across messages). A value >= the slot's length means no packet starts in it.
 */
export const ANALYZER_PHASE_SHIFT = 8;
const SLOT_HEADER_BYTES = ANALYZER_SLOT_HEADER_BYTES;
const SLOT_FLAG_KEYFRAME = ANALYZER_FLAG_KEYFRAME;
const SLOT_FLAG_PSI = ANALYZER_FLAG_PSI;

/** Distinct PIDs tracked per stream (PIDs seen beyond this count only in the totals). */
export const MAX_TRACKED_PIDS = 128;
/** Most TS packets kept by latestPsi() (one SRT message of 1316 bytes). */
export const MAX_PSI_PACKETS = 7;
/** Bitrate window: a sample at most every SAMPLE_INTERVAL_MS; rates span the newest sample and the latest one at least RATE_WINDOW_MS older. */
const SAMPLE_INTERVAL_MS = 100;
const RATE_WINDOW_MS = 1000;
const SAMPLES = 16;
/** Without a PCR for this long (by the caller's clock), rates fall back to the caller's clock. */
const PCR_STALE_MS = 2000;
/** A PCR step larger than this (or backwards) is a discontinuity, not elapsed time. */
const PCR_MAX_STEP = 5 * 27_000_000;
/** Keyframe intervals from PTS above this are treated as a timestamp discontinuity. */
const MAX_KEYFRAME_INTERVAL_PTS = 60 * 90_000;
/** TS packets kept while a PSI section is collected (a 1024-byte section spans at most 6). */
const PSI_CAPTURE_PACKETS = 8;

const ROLE_NONE = 0;
const ROLE_PSI = 1;
const ROLE_ES = 2;
const ROLE_VIDEO = 3;

export interface TsTrackInfo {
  pid: number;
  streamType: number;
  codec: CodecName;
  kind: TrackKind;
  /** ISO 639 language (ISO_639_language, DVB subtitling/teletext descriptors). */
  language?: string;
  /** registration_descriptor format identifier, e.g. 'Opus', 'AC-3', 'CUEI'. */
  registration?: string;
  width?: number;
  height?: number;
  bitrateKbps: number;
  ccErrors: number;
  packets: number;
}

export interface TsProgramInfo {
  number: number;
  pmtPid: number;
  /** null until the program's PMT has been received. */
  pcrPid: number | null;
  tracks: TsTrackInfo[];
}

export interface TsPidInfo {
  pid: number;
  /** 'pat', 'pmt', or 'other' (in no PMT: SDT, EIT, CAT, ...). */
  role: 'pat' | 'pmt' | 'other';
  bitrateKbps: number;
  ccErrors: number;
  packets: number;
}

export interface TsInfo {
  programs: TsProgramInfo[];
  /** PIDs carried but not listed as elementary streams (PAT, PMTs, SI, ...); null packets excluded. */
  otherPids: TsPidInfo[];
  /** Whole multiplex over the last ~1 s (null packets included). */
  totalBitrateKbps: number;
  /** Time between the last two keyframes of the main video (PTS, else PCR, else caller clock); null until two were seen. */
  keyframeIntervalMs: number | null;
  /** PES packets (frames) of the main video between the last two keyframes. */
  keyframeIntervalFrames: number | null;
  keyframes: number;
  /** Ring sequence of the slot holding the latest keyframe start, null if none yet. */
  lastKeyframeSeq: number | null;
  /** Main video PID (the one keyframe flags refer to), null if none. */
  videoPid: number | null;
  ccErrors: number;
  /** Last PCR of the PCR PID in 27 MHz ticks, null if none seen. */
  pcr: number | null;
  /** PAT and PMT packets seen. */
  psiPackets: number;
  /** Bytes latestPsi() returns now (0 until both PAT and PMT have been received). */
  latestPsiBytes: number;
  /** PAT/PMT sections dropped for a bad CRC_32. */
  psiCrcErrors: number;
  packets: number;
  bytes: number;
  messages: number;
  /** Messages skipped: no TS packet found in them (no 0x47 sync byte at a 188-byte spacing). */
  nonTsMessages: number;
  /** Packets without the 0x47 sync byte inside otherwise TS messages. */
  syncErrors: number;
  /** Packets with transport_error_indicator set (skipped). */
  transportErrors: number;
  /** Packets with transport_scrambling_control set (counted, payload not inspected). */
  scrambledPackets: number;
  nullPackets: number;
}

/** The ring fields analyzeRing() needs (PacketRing has them). */
export interface RingSlots {
  readonly slots: Uint8Array;
  readonly slotSize: number;
  readonly slotCount: number;
}

interface Track {
  pid: number;
  streamType: number;
  codec: CodecName;
  kind: TrackKind;
  language?: string;
  registration?: string;
}

interface Program {
  number: number;
  pmtPid: number;
  pmt: Pmt | null;
  tracks: Track[];
}

/** One PSI PID (PAT or a PMT PID): reassembly and the packets of its latest valid section. */
class PsiPid {
  readonly pid: number;
  readonly isPat: boolean;
  readonly assembler = new SectionAssembler(1024);
  readonly capture = new Uint8Array(PSI_CAPTURE_PACKETS * TS_PACKET_SIZE);
  captureCount = 0;
  readonly latest = new Uint8Array(PSI_CAPTURE_PACKETS * TS_PACKET_SIZE);
  latestCount = 0;
  /** CRC_32 of the last section parsed (-1: none). */
  lastCrc = -1;

  constructor(pid: number, isPat: boolean) {
    this.pid = pid;
    this.isPat = isPat;
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

export class TsAnalyzer {
  // ring
  #slots: Uint8Array | null = null;
  #slotSize = 0;
  #mask = 0;
  #curSeq = 0;
  #nowMs = 0;
  /** Sequence the next analyzed slot must have to continue a packet carried over (-1: none expected). */
  #nextSeq = -1;

  // A TS packet split across two messages: its first #carryLen bytes, from the slot #carrySeq.
  readonly #carry = new Uint8Array(TS_PACKET_SIZE);
  #carryLen = 0;
  #carrySeq = 0;

  // per-PID tables (dense slots)
  readonly #pidSlot = new Int16Array(PID_COUNT);
  readonly #slotPid = new Uint16Array(MAX_TRACKED_PIDS);
  #used = 0;
  readonly #role = new Uint8Array(MAX_TRACKED_PIDS);
  readonly #ccLast = new Int8Array(MAX_TRACKED_PIDS);
  readonly #ccAlt = new Int8Array(MAX_TRACKED_PIDS);
  readonly #ccDup = new Uint8Array(MAX_TRACKED_PIDS);
  readonly #ccErrors = new Float64Array(MAX_TRACKED_PIDS);
  readonly #packets = new Float64Array(MAX_TRACKED_PIDS);
  readonly #bytes = new Float64Array(MAX_TRACKED_PIDS);
  readonly #scanner: Array<VideoScanner | null> = new Array<VideoScanner | null>(MAX_TRACKED_PIDS).fill(null);
  readonly #scanSeq = new Float64Array(MAX_TRACKED_PIDS);
  readonly #psi: Array<PsiPid | null> = new Array<PsiPid | null>(MAX_TRACKED_PIDS).fill(null);

  // totals
  #totalPackets = 0;
  #totalBytes = 0;
  #messages = 0;
  #nonTs = 0;
  #syncErrors = 0;
  #tei = 0;
  #scrambled = 0;
  #nullPackets = 0;
  #ccErrorsTotal = 0;
  #psiPackets = 0;
  #psiCrcErrors = 0;

  // programs
  #programs: Program[] = [];
  #patVersion = -1;
  #patSections: Array<PatProgram[] | undefined> = [];
  #curPsi: PsiPid | null = null;
  #psiOut = new Uint8Array(MAX_PSI_PACKETS * TS_PACKET_SIZE);
  #psiView = this.#psiOut.subarray(0, 0);
  #psiDirty = false;

  // clock: PCR
  #pcrPid = -1;
  #lastPcr = -1;
  #lastPcrWallMs = -1;
  #pcrClockMs = 0;
  #pcrMode = false;
  #epoch = 0;

  // keyframes (main video)
  #videoPid = -1;
  #videoPes = 0;
  #keyframes = 0;
  #lastKeyframeSeq = -1;
  #batchKeyframeSeq = -1;
  #kfPts = -1;
  #kfTime = -1;
  #kfEpoch = -1;
  #kfPes = 0;
  #kfIntervalMs: number | null = null;
  #kfIntervalFrames: number | null = null;

  // bitrate samples
  readonly #sampleT = new Float64Array(SAMPLES);
  readonly #sampleTotal = new Float64Array(SAMPLES);
  readonly #sampleBytes = new Float64Array(SAMPLES * MAX_TRACKED_PIDS);
  #sampleHead = 0;
  #sampleCount = 0;
  #sampleEpoch = -1;

  readonly #onSection = (buf: Uint8Array, len: number): void => this.#section(buf, len);

  constructor() {
    this.reset();
  }

  /** Forgets everything (a new source publishes into the stream). */
  reset(): void {
    this.#pidSlot.fill(-1);
    this.#used = 0;
    this.#role.fill(ROLE_NONE);
    this.#ccLast.fill(-1);
    this.#ccAlt.fill(-1);
    this.#ccDup.fill(0);
    this.#ccErrors.fill(0);
    this.#packets.fill(0);
    this.#bytes.fill(0);
    this.#scanner.fill(null);
    this.#psi.fill(null);
    this.#totalPackets = 0;
    this.#totalBytes = 0;
    this.#messages = 0;
    this.#nonTs = 0;
    this.#syncErrors = 0;
    this.#tei = 0;
    this.#scrambled = 0;
    this.#nullPackets = 0;
    this.#ccErrorsTotal = 0;
    this.#psiPackets = 0;
    this.#psiCrcErrors = 0;
    this.#programs = [];
    this.#patVersion = -1;
    this.#patSections = [];
    this.#psiView = this.#psiOut.subarray(0, 0);
    this.#psiDirty = false;
    this.#pcrPid = -1;
    this.#lastPcr = -1;
    this.#lastPcrWallMs = -1;
    this.#pcrClockMs = 0;
    this.#pcrMode = false;
    this.#epoch++;
    this.#videoPid = -1;
    this.#videoPes = 0;
    this.#keyframes = 0;
    this.#lastKeyframeSeq = -1;
    this.#kfPts = -1;
    this.#kfTime = -1;
    this.#kfEpoch = -1;
    this.#kfPes = 0;
    this.#kfIntervalMs = null;
    this.#kfIntervalFrames = null;
    this.#sampleHead = 0;
    this.#sampleCount = 0;
    this.#sampleEpoch = -1;
    this.#carryLen = 0;
    this.#nextSeq = -1;
    const pat = this.#slotFor(PID_PAT);
    this.#role[pat] = ROLE_PSI;
    this.#psi[pat] = new PsiPid(PID_PAT, true);
  }

  /** Sequence of the slot holding the latest keyframe start, or -1. */
  get lastKeyframeSeq(): number {
    return this.#lastKeyframeSeq;
  }

  get keyframes(): number {
    return this.#keyframes;
  }

  get nonTsMessages(): number {
    return this.#nonTs;
  }

  /** analyze() over a PacketRing (or anything with its slots, slotSize and slotCount). */
  analyzeRing(ring: RingSlots, firstSeq: number, count: number, nowMs: number = performance.now()): number {
    return this.analyze(ring.slots, ring.slotSize, ring.slotCount, firstSeq, count, nowMs);
  }

  /**
   * Analyzes the `count` slots from sequence `firstSeq` (u32, wrapping) of a ring laid out as
   * PacketRing's: slot index = seq & (slotCount - 1), slot = [i32 len][i32 flags][i64 srctime][payload].
   * ORs SLOT_FLAG_KEYFRAME / SLOT_FLAG_PSI into the slots' flags and writes each slot's phase
   * (ANALYZER_PHASE_SHIFT). Messages need not hold whole TS packets: a packet split across
   * consecutive slots is read whole, and its flags go to the slot where it starts. A keyframe may
   * be flagged on a slot of an earlier call when the NAL units that decide it arrive in later
   * packets.
   * `nowMs`: any monotonic millisecond clock, the same on every call (used only for rates and
   * keyframe intervals of streams without PCR). Returns the sequence of the latest keyframe
   * start found by this call, or -1.
   */
  analyze(slots: Uint8Array, slotSize: number, slotCount: number, firstSeq: number, count: number, nowMs: number = performance.now()): number {
    if (slots !== this.#slots || slotSize !== this.#slotSize || slotCount - 1 !== this.#mask) this.#attach(slots, slotSize, slotCount);
    this.#nowMs = nowMs;
    this.#batchKeyframeSeq = -1;
    if (count > slotCount) {
      firstSeq = (firstSeq + count - slotCount) >>> 0;
      count = slotCount;
    }
    const b = slots;
    const mask = this.#mask;
    const maxLen = slotSize - SLOT_HEADER_BYTES;
    for (let k = 0; k < count; k++) {
      const seq = (firstSeq + k) >>> 0;
      const off = (seq & mask) * slotSize;
      const len = b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24);
      const start = off + SLOT_HEADER_BYTES;
      if (seq !== this.#nextSeq) this.#carryLen = 0;
      this.#nextSeq = (seq + 1) >>> 0;
      if (len <= 0 || len > maxLen) {
        this.#carryLen = 0;
        this.#nonTs++;
        continue;
      }
      const end = start + len;
      this.#curSeq = seq;
      let p = start;
      if (this.#carryLen > 0) p = Math.max(start, this.#continueCarry(b, start, end));
      if (p < end && (b[p] !== TS_SYNC_BYTE || (p + TS_PACKET_SIZE < end && b[p + TS_PACKET_SIZE] !== TS_SYNC_BYTE))) {
        // Not at a packet start (a lost message, a publisher joined mid-packet, or not TS).
        const q = TsAnalyzer.#resync(b, p, end);
        if (q < 0 && p === start) {
          this.#nonTs++;
          continue;
        }
        p = q < 0 ? end : q;
      }
      this.#messages++;
      const phase = p - start;
      let flags = 0;
      for (; p + TS_PACKET_SIZE <= end; p += TS_PACKET_SIZE) flags |= this.#packet(b, p);
      if (p < end) {
        // The last packet continues in the next message.
        if (b[p] === TS_SYNC_BYTE) {
          const c = this.#carry;
          const n = end - p;
          for (let i = 0; i < n; i++) c[i] = b[p + i]!;
          this.#carryLen = n;
          this.#carrySeq = seq;
        } else {
          this.#syncErrors++;
        }
      }
      if (flags !== 0) b[off + 4] = b[off + 4]! | flags;
      b[off + 5] = phase < 0xff ? phase : 0xff;
      this.#tick();
    }
    return this.#batchKeyframeSeq;
  }

  /**
   * A message after one that ended inside a TS packet: completes the carried packet from the
   * message's first bytes and analyzes it (its flags go to the slot where it started). Returns
   * where the message's own packets start; -1 when the message does not continue the packet
   * (a message was lost in between: the next packet boundary holds no sync byte), the carried
   * bytes are then dropped.
   */
  #continueCarry(b: Uint8Array, start: number, end: number): number {
    const c = this.#carry;
    const have = this.#carryLen;
    const need = TS_PACKET_SIZE - have;
    const len = end - start;
    if (len < need) {
      for (let i = 0; i < len; i++) c[have + i] = b[start + i]!;
      this.#carryLen = have + len;
      return end;
    }
    this.#carryLen = 0;
    if (len > need && b[start + need] !== TS_SYNC_BYTE) return -1;
    for (let i = 0; i < need; i++) c[have + i] = b[start + i]!;
    const seq = this.#curSeq;
    const from = this.#carrySeq;
    this.#curSeq = from;
    const flags = this.#packet(c, 0);
    this.#curSeq = seq;
    if (flags !== 0 && ((seq - from) >>> 0) <= this.#mask) {
      const off = (from & this.#mask) * this.#slotSize + 4;
      const s = this.#slots!;
      s[off] = s[off]! | flags;
    }
    return start + need;
  }

  /**
   * The first TS packet start in a message that does not begin with one: a 0x47 with another
   * one every 188 bytes to the end of the message (a 1316-byte message of random bytes passes
   * that by chance about once in 10^12). -1 when there is none: not TS.
   */
  static #resync(b: Uint8Array, start: number, end: number): number {
    const last = Math.min(end, start + TS_PACKET_SIZE);
    for (let p = start; p < last; p++) {
      if (b[p] !== TS_SYNC_BYTE) continue;
      let q = p + TS_PACKET_SIZE;
      while (q < end && b[q] === TS_SYNC_BYTE) q += TS_PACKET_SIZE;
      if (q >= end) return p;
    }
    return -1;
  }

  /**
   * The latest PAT followed by the latest PMT of each program (whole TS packets, as received,
   * at most 7 = 1316 bytes), ready to send to a joining viewer before the stream; empty until a
   * PAT and a PMT have been received. The view is valid until the next analyze() call.
   */
  latestPsi(): Uint8Array {
    if (this.#psiDirty) this.#buildPsi();
    return this.#psiView;
  }

  /** A JSON-able summary of the stream so far. */
  snapshot(): TsInfo {
    const programs: TsProgramInfo[] = [];
    const listed = new Set<number>();
    for (const pr of this.#programs) {
      const tracks: TsTrackInfo[] = [];
      for (const t of pr.tracks) {
        listed.add(t.pid);
        const slot = this.#pidSlot[t.pid]!;
        const info: TsTrackInfo = {
          pid: t.pid,
          streamType: t.streamType,
          codec: t.codec,
          kind: t.kind,
          bitrateKbps: slot >= 0 ? this.#rateKbps(slot) : 0,
          ccErrors: slot >= 0 ? this.#ccErrors[slot]! : 0,
          packets: slot >= 0 ? this.#packets[slot]! : 0,
        };
        if (t.language !== undefined) info.language = t.language;
        if (t.registration !== undefined) info.registration = t.registration;
        const scanner = slot >= 0 ? this.#scanner[slot] : null;
        if (scanner != null && scanner.width > 0) {
          info.width = scanner.width;
          info.height = scanner.height;
        }
        tracks.push(info);
      }
      programs.push({ number: pr.number, pmtPid: pr.pmtPid, pcrPid: pr.pmt?.pcrPid ?? null, tracks });
    }
    const otherPids: TsPidInfo[] = [];
    for (let s = 0; s < this.#used; s++) {
      const pid = this.#slotPid[s]!;
      if (listed.has(pid) || this.#packets[s] === 0) continue;
      const psi = this.#psi[s];
      otherPids.push({
        pid,
        role: psi == null ? 'other' : psi.isPat ? 'pat' : 'pmt',
        bitrateKbps: this.#rateKbps(s),
        ccErrors: this.#ccErrors[s]!,
        packets: this.#packets[s]!,
      });
    }
    return {
      programs,
      otherPids,
      totalBitrateKbps: this.#rateKbps(-1),
      keyframeIntervalMs: this.#kfIntervalMs === null ? null : round1(this.#kfIntervalMs),
      keyframeIntervalFrames: this.#kfIntervalFrames,
      keyframes: this.#keyframes,
      lastKeyframeSeq: this.#lastKeyframeSeq < 0 ? null : this.#lastKeyframeSeq,
      videoPid: this.#videoPid < 0 ? null : this.#videoPid,
      ccErrors: this.#ccErrorsTotal,
      pcr: this.#lastPcr < 0 ? null : this.#lastPcr,
      psiPackets: this.#psiPackets,
      latestPsiBytes: this.latestPsi().byteLength,
      psiCrcErrors: this.#psiCrcErrors,
      packets: this.#totalPackets,
      bytes: this.#totalBytes,
      messages: this.#messages,
      nonTsMessages: this.#nonTs,
      syncErrors: this.#syncErrors,
      transportErrors: this.#tei,
      scrambledPackets: this.#scrambled,
      nullPackets: this.#nullPackets,
    };
  }

  // --- packet path -------------------------------------------------------------------------

  #attach(slots: Uint8Array, slotSize: number, slotCount: number): void {
    if (!Number.isInteger(slotCount) || slotCount < 1 || (slotCount & (slotCount - 1)) !== 0) {
      throw new RangeError(`slotCount must be a power of two (got ${slotCount})`);
    }
    if (!Number.isInteger(slotSize) || slotSize <= SLOT_HEADER_BYTES || slots.byteLength < slotCount * slotSize) {
      throw new RangeError(`slots (${slots.byteLength} bytes) do not hold ${slotCount} slots of ${slotSize} bytes`);
    }
    this.#slots = slots;
    this.#slotSize = slotSize;
    this.#mask = slotCount - 1;
    // A PES start remembered for a deferred keyframe flag refers to the previous buffer.
    for (let s = 0; s < this.#used; s++) this.#scanner[s]?.abort();
  }

  #slotFor(pid: number): number {
    const s = this.#pidSlot[pid]!;
    if (s >= 0) return s;
    if (this.#used === MAX_TRACKED_PIDS) return -1;
    const n = this.#used++;
    this.#pidSlot[pid] = n;
    this.#slotPid[n] = pid;
    return n;
  }

  /** One TS packet at b[p]; returns the slot flags it contributes. */
  #packet(b: Uint8Array, p: number): number {
    if (b[p] !== TS_SYNC_BYTE) {
      this.#syncErrors++;
      return 0;
    }
    this.#totalPackets++;
    this.#totalBytes += TS_PACKET_SIZE;
    const b1 = b[p + 1]!;
    if ((b1 & 0x80) !== 0) {
      this.#tei++;
      return 0;
    }
    const pid = ((b1 & 0x1f) << 8) | b[p + 2]!;
    if (pid === PID_NULL) {
      this.#nullPackets++;
      return 0;
    }
    const b3 = b[p + 3]!;
    let slot = this.#pidSlot[pid]!;
    if (slot < 0) {
      slot = this.#slotFor(pid);
      if (slot < 0) return 0;
    }
    this.#packets[slot] = this.#packets[slot]! + 1;
    this.#bytes[slot] = this.#bytes[slot]! + TS_PACKET_SIZE;

    const afc = (b3 >> 4) & 0x3;
    let payload = p + 4;
    let discontinuity = false;
    if ((afc & 0x2) !== 0) {
      const afLen = b[p + 4]!;
      payload = p + 5 + afLen;
      if (payload > p + TS_PACKET_SIZE) return 0; // malformed adaptation field
      if (afLen > 0) {
        const afFlags = b[p + 5]!;
        discontinuity = (afFlags & 0x80) !== 0;
        if ((afFlags & 0x10) !== 0 && afLen >= 7) this.#pcr(pid, b, p + 6, discontinuity);
      }
    }
    if ((afc & 0x1) === 0) return 0; // no payload: the CC does not advance

    // continuity counter
    const cc = b3 & 0x0f;
    const last = this.#ccLast[slot]!;
    let continuous = true;
    if (last >= 0 && !discontinuity) {
      const expected = (last + 1) & 0x0f;
      if (cc !== expected) {
        const alt = this.#ccAlt[slot]!;
        if (cc === last && this.#ccDup[slot] === 0) {
          this.#ccDup[slot] = 1; // a duplicate packet (allowed once): discard its payload
          return this.#role[slot] === ROLE_PSI ? SLOT_FLAG_PSI : 0;
        }
        // alt: the CC the previous packet should have had when it broke the sequence. If this
        // packet follows it, only that one packet had a wrong CC: one error, already counted.
        if (alt < 0 || cc !== ((alt + 1) & 0x0f)) {
          this.#ccErrors[slot] = this.#ccErrors[slot]! + 1;
          this.#ccErrorsTotal++;
          this.#ccAlt[slot] = expected;
          this.#ccDup[slot] = 0;
          this.#ccLast[slot] = cc;
          continuous = false;
        }
      }
    }
    if (continuous) {
      this.#ccAlt[slot] = -1;
      this.#ccDup[slot] = 0;
      this.#ccLast[slot] = cc;
    }

    const role = this.#role[slot]!;
    if (role === ROLE_NONE || role === ROLE_ES) return 0;
    if ((b3 & 0xc0) !== 0) {
      this.#scrambled++;
      return role === ROLE_PSI ? SLOT_FLAG_PSI : 0;
    }
    const pusi = (b1 & 0x40) !== 0;
    if (role === ROLE_PSI) {
      this.#psiPacket(b, p, payload, pusi, slot, continuous);
      return SLOT_FLAG_PSI;
    }
    // ROLE_VIDEO
    const scanner = this.#scanner[slot]!;
    if (!continuous) scanner.abort();
    if (pusi) {
      if (scanner.active) scanner.finish();
      scanner.start();
      this.#scanSeq[slot] = this.#curSeq;
      if (pid === this.#videoPid) this.#videoPes++;
    } else if (!scanner.active) {
      return 0;
    }
    const r = scanner.feed(b, payload, p + TS_PACKET_SIZE);
    if (r !== SCAN_KEYFRAME || pid !== this.#videoPid) return 0;
    return this.#keyframe(scanner, this.#scanSeq[slot]!);
  }

  #pcr(pid: number, b: Uint8Array, q: number, discontinuity: boolean): void {
    if (this.#pcrPid < 0) this.#pcrPid = pid; // no PMT yet: the first PID with a PCR
    if (pid !== this.#pcrPid) return;
    const pcr = readPcr(b, q);
    if (this.#lastPcr >= 0 && !discontinuity) {
      let d = pcr - this.#lastPcr;
      if (d < 0) d += PCR_WRAP;
      if (d <= PCR_MAX_STEP) this.#pcrClockMs += d / 27_000;
    }
    this.#lastPcr = pcr;
    this.#lastPcrWallMs = this.#nowMs;
  }

  /** Time for rates and intervals: the PCR clock while PCRs arrive, else the caller's clock. */
  #clockMs(): number {
    const pcrMode = this.#lastPcrWallMs >= 0 && this.#nowMs - this.#lastPcrWallMs <= PCR_STALE_MS;
    if (pcrMode !== this.#pcrMode) {
      this.#pcrMode = pcrMode;
      this.#epoch++;
    }
    return pcrMode ? this.#pcrClockMs : this.#nowMs;
  }

  /** After each message: takes a bitrate sample every SAMPLE_INTERVAL_MS. */
  #tick(): void {
    const t = this.#clockMs();
    if (this.#sampleEpoch !== this.#epoch) {
      this.#sampleEpoch = this.#epoch;
      this.#sampleCount = 0;
    } else if (this.#sampleCount > 0) {
      const newest = (this.#sampleHead + SAMPLES - 1) % SAMPLES;
      if (t - this.#sampleT[newest]! < SAMPLE_INTERVAL_MS) return;
    }
    const h = this.#sampleHead;
    this.#sampleT[h] = t;
    this.#sampleTotal[h] = this.#totalBytes;
    const row = h * MAX_TRACKED_PIDS;
    const bytes = this.#bytes;
    const out = this.#sampleBytes;
    for (let s = 0; s < this.#used; s++) out[row + s] = bytes[s]!;
    this.#sampleHead = (h + 1) % SAMPLES;
    if (this.#sampleCount < SAMPLES) this.#sampleCount++;
  }

  /** kbit/s of a PID slot (or the whole multiplex for -1) between the oldest and newest sample. */
  #rateKbps(slot: number): number {
    if (this.#sampleCount < 2) return 0;
    const newest = (this.#sampleHead + SAMPLES - 1) % SAMPLES;
    const tNewest = this.#sampleT[newest]!;
    let oldest = newest;
    for (let k = 1; k < this.#sampleCount; k++) {
      oldest = (newest + SAMPLES - k) % SAMPLES;
      if (tNewest - this.#sampleT[oldest]! >= RATE_WINDOW_MS) break;
    }
    const ms = tNewest - this.#sampleT[oldest]!;
    if (ms <= 0) return 0;
    const bytes =
      slot < 0
        ? this.#sampleTotal[newest]! - this.#sampleTotal[oldest]!
        : this.#sampleBytes[newest * MAX_TRACKED_PIDS + slot]! - this.#sampleBytes[oldest * MAX_TRACKED_PIDS + slot]!;
    return round1((bytes * 8) / ms);
  }

  /** A keyframe of the main video starts in the slot of sequence `seq`. Returns the flag for the current slot. */
  #keyframe(scanner: VideoScanner, seq: number): number {
    this.#keyframes++;
    this.#lastKeyframeSeq = seq;
    this.#batchKeyframeSeq = seq;
    const t = this.#clockMs();
    const pts = scanner.pts;
    if (this.#keyframes > 1) {
      this.#kfIntervalFrames = this.#videoPes - this.#kfPes;
      if (pts >= 0 && this.#kfPts >= 0) {
        let d = pts - this.#kfPts;
        if (d < 0) d += PTS_WRAP;
        if (d > 0 && d <= MAX_KEYFRAME_INTERVAL_PTS) this.#kfIntervalMs = d / 90;
      } else if (this.#kfEpoch === this.#epoch && this.#kfTime >= 0) {
        this.#kfIntervalMs = t - this.#kfTime;
      }
    }
    this.#kfPts = pts;
    this.#kfTime = t;
    this.#kfEpoch = this.#epoch;
    this.#kfPes = this.#videoPes;
    if (seq === this.#curSeq) return SLOT_FLAG_KEYFRAME;
    // Decided in a later slot: flag the slot where the PES starts, if the ring still holds it.
    if (((this.#curSeq - seq) >>> 0) <= this.#mask) {
      const off = (seq & this.#mask) * this.#slotSize + 4;
      const b = this.#slots!;
      b[off] = b[off]! | SLOT_FLAG_KEYFRAME;
    }
    return 0;
  }

  // --- PSI -------------------------------------------------------------------------------------

  #psiPacket(b: Uint8Array, p: number, payload: number, pusi: boolean, slot: number, continuous: boolean): void {
    this.#psiPackets++;
    const st = this.#psi[slot]!;
    const asm = st.assembler;
    if (!continuous) {
      asm.reset();
      st.captureCount = 0;
    }
    if (!asm.active) {
      if (!pusi) return;
      st.captureCount = 0;
    }
    if (st.captureCount === PSI_CAPTURE_PACKETS) {
      asm.reset();
      st.captureCount = 0;
      if (!pusi) return;
    }
    const cap = st.capture;
    const at = st.captureCount * TS_PACKET_SIZE;
    for (let i = 0; i < TS_PACKET_SIZE; i++) cap[at + i] = b[p + i]!;
    asm.packetTag = st.captureCount++;
    this.#curPsi = st;
    asm.push(b, payload, p + TS_PACKET_SIZE, pusi, this.#onSection);
    if (!asm.active) st.captureCount = 0;
  }

  /** A complete section on the PSI PID #curPsi. */
  #section(buf: Uint8Array, len: number): void {
    const st = this.#curPsi!;
    const table = buf[0]!;
    if (table !== (st.isPat ? TABLE_PAT : TABLE_PMT)) return;
    if (!sectionCrcOk(buf, len)) {
      this.#psiCrcErrors++;
      return;
    }
    const crc = ((buf[len - 4]! << 24) | (buf[len - 3]! << 16) | (buf[len - 2]! << 8) | buf[len - 1]!) >>> 0;
    if (crc !== st.lastCrc) {
      if (st.isPat) {
        const pat = parsePat(buf, len);
        if (pat === null) return;
        this.#applyPat(pat.version, pat.sectionNumber, pat.lastSectionNumber, pat.programs);
      } else {
        const pmt = parsePmt(buf, len);
        if (pmt === null || !this.#applyPmt(st.pid, pmt)) return;
      }
      st.lastCrc = crc;
    }
    // Keep the packets of this section for latestPsi().
    const first = st.assembler.startTag;
    const n = st.captureCount - first;
    if (n > 0 && n <= PSI_CAPTURE_PACKETS) {
      const src = st.capture;
      const dst = st.latest;
      const from = first * TS_PACKET_SIZE;
      const bytes = n * TS_PACKET_SIZE;
      for (let i = 0; i < bytes; i++) dst[i] = src[from + i]!;
      st.latestCount = n;
      this.#psiDirty = true;
    }
  }

  #applyPat(version: number, sectionNumber: number, lastSectionNumber: number, programs: PatProgram[]): void {
    if (version !== this.#patVersion || this.#patSections.length !== lastSectionNumber + 1) {
      this.#patVersion = version;
      this.#patSections = new Array<PatProgram[] | undefined>(lastSectionNumber + 1);
    }
    this.#patSections[sectionNumber] = programs;
    const all: PatProgram[] = [];
    for (const s of this.#patSections) if (s !== undefined) all.push(...s);

    const old = this.#programs;
    const next: Program[] = [];
    for (const entry of all) {
      const kept = old.find((pr) => pr.number === entry.programNumber && pr.pmtPid === entry.pmtPid);
      next.push(kept ?? { number: entry.programNumber, pmtPid: entry.pmtPid, pmt: null, tracks: [] });
    }
    this.#programs = next;
    // PMT PIDs: PSI role for the listed ones, none for those dropped.
    const pmtPids = new Set(next.map((pr) => pr.pmtPid));
    for (let s = 0; s < this.#used; s++) {
      const psi = this.#psi[s];
      if (psi != null && !psi.isPat && !pmtPids.has(psi.pid)) {
        this.#psi[s] = null;
        this.#role[s] = ROLE_NONE;
      }
    }
    for (const pid of pmtPids) {
      if (pid === PID_PAT || pid === PID_NULL) continue;
      const s = this.#slotFor(pid);
      if (s < 0 || this.#psi[s] != null) continue;
      this.#scanner[s] = null;
      this.#role[s] = ROLE_PSI;
      this.#psi[s] = new PsiPid(pid, false);
    }
    this.#psiDirty = true;
    this.#assignStreams();
  }

  /** Applies a PMT received on `pid`; false when no program of the PAT has it there. */
  #applyPmt(pid: number, pmt: Pmt): boolean {
    const pr = this.#programs.find((x) => x.number === pmt.programNumber && x.pmtPid === pid);
    if (pr === undefined) return false;
    pr.pmt = pmt;
    pr.tracks = pmt.streams.map((s) => {
      const c = codecFor(s.streamType, s.descriptors);
      const t: Track = { pid: s.pid, streamType: s.streamType, codec: c.codec, kind: c.kind };
      if (s.descriptors.language !== undefined) t.language = s.descriptors.language;
      if (s.descriptors.registration !== undefined) t.registration = s.descriptors.registration;
      return t;
    });
    this.#assignStreams();
    return true;
  }

  /** Roles of elementary PIDs, scanners, the main video PID and the PCR PID from the current PMTs. */
  #assignStreams(): void {
    const wanted = new Map<number, Track>();
    for (const pr of this.#programs) for (const t of pr.tracks) if (!wanted.has(t.pid)) wanted.set(t.pid, t);
    for (let s = 0; s < this.#used; s++) {
      const role = this.#role[s]!;
      if ((role === ROLE_ES || role === ROLE_VIDEO) && !wanted.has(this.#slotPid[s]!)) {
        this.#role[s] = ROLE_NONE;
        this.#scanner[s] = null;
      }
    }
    for (const [pid, t] of wanted) {
      if (pid === PID_PAT || pid === PID_NULL) continue;
      const s = this.#slotFor(pid);
      if (s < 0 || this.#role[s] === ROLE_PSI) continue;
      const codec = t.codec;
      if (isScannableVideo(codec)) {
        const cur = this.#scanner[s];
        if (cur == null || cur.codec !== codec) this.#scanner[s] = new VideoScanner(codec);
        this.#role[s] = ROLE_VIDEO;
      } else {
        this.#scanner[s] = null;
        this.#role[s] = ROLE_ES;
      }
    }
    // Main video: the first scannable video track of the first program that has one.
    let video = -1;
    for (const pr of this.#programs) {
      const t = pr.tracks.find((x) => isScannableVideo(x.codec));
      if (t !== undefined) {
        video = t.pid;
        break;
      }
    }
    if (video !== this.#videoPid) {
      this.#videoPid = video;
      this.#kfPts = -1;
      this.#kfTime = -1;
      this.#kfPes = this.#videoPes = 0;
    }
    // PCR: the first program with a PMT that names a PCR PID.
    const withPcr = this.#programs.find((pr) => pr.pmt !== null && pr.pmt.pcrPid !== PID_NULL);
    if (withPcr !== undefined) {
      const pcrPid = withPcr.pmt!.pcrPid;
      if (pcrPid !== this.#pcrPid) this.#lastPcr = -1;
      this.#pcrPid = pcrPid;
    }
  }

  #buildPsi(): void {
    this.#psiDirty = false;
    const out = this.#psiOut;
    const pat = this.#psi[this.#pidSlot[PID_PAT]!];
    let n = 0;
    if (pat == null || pat.latestCount === 0) {
      this.#psiView = out.subarray(0, 0);
      return;
    }
    const copy = (src: PsiPid): boolean => {
      if (n + src.latestCount > MAX_PSI_PACKETS) return false;
      out.set(src.latest.subarray(0, src.latestCount * TS_PACKET_SIZE), n * TS_PACKET_SIZE);
      n += src.latestCount;
      return true;
    };
    copy(pat);
    let pmts = 0;
    const done = new Set<number>();
    for (const pr of this.#programs) {
      if (done.has(pr.pmtPid)) continue;
      done.add(pr.pmtPid);
      const s = this.#pidSlot[pr.pmtPid]!;
      const st = s >= 0 ? this.#psi[s] : null;
      if (st == null || st.latestCount === 0) continue;
      if (!copy(st)) break;
      pmts++;
    }
    this.#psiView = out.subarray(0, pmts > 0 ? n * TS_PACKET_SIZE : 0);
  }
}
