/**
 * Segmenter: decides where a recording is cut into files. It reads the stream as it came (the
 * payloads of the ring's slots, in order), finds PAT, PMT and the video keyframes itself, and
 * tells a sink to open a segment, write bytes to it, and close it. Pure: no file system.
 *
 * Rules:
 *  - the first segment starts at the first keyframe; what comes before it is not recorded;
 *  - a cut is made only at a keyframe, once the segment is `segmentSeconds` long (by the
 *    video PTS; the slot time when the video has none) or has `segmentBytes` bytes;
 *  - a segment starts with PAT and PMT: the stream's own ones when they come right before the
 *    keyframe (ffmpeg writes them there), else the latest ones are inserted before it;
 *  - every byte of the stream from the first segment's start on goes to exactly one segment,
 *    in order (no byte lost, none duplicated; inserted PAT/PMT are the only bytes added);
 *  - gap() (the reader fell behind the ring and lost packets) closes the segment and waits
 *    for the next keyframe.
 */
import { SectionAssembler, parsePat, parsePmt } from '../ts/psi.js';
import { codecFor, isScannableVideo } from '../ts/codecs.js';
import { SCAN_KEYFRAME, SCAN_PENDING, VideoScanner } from '../ts/keyframe.js';
import { TS_PACKET_SIZE, TS_SYNC_BYTE, tsPayloadOffset } from '../ts/ts-packet.js';

const PTS_WRAP = 2 ** 33;
/** A keyframe decision that takes more than this many held bytes is given up (not a keyframe). */
const MAX_HOLD_BYTES = 256 * 1024;

export interface SegmentStart {
  /** Video PTS (90 kHz) of the keyframe the segment starts with, -1 when unknown. */
  pts: number;
  /** The time passed with the bytes that started it (µs; the ring's slot time). */
  timeUs: number;
  /** Bytes of PAT/PMT inserted before the keyframe (0 when the stream had them there). */
  insertedBytes: number;
}

export interface SegmentEnd {
  /** Length in seconds: PTS of the next segment's keyframe (or of the last picture + one frame) minus this one's. */
  durationSeconds: number;
  bytes: number;
}

export interface SegmentSink {
  open(start: SegmentStart): void;
  write(bytes: Uint8Array): void;
  close(end: SegmentEnd): void;
}

export interface SegmenterOptions {
  segmentSeconds?: number | undefined;
  segmentBytes?: number | undefined;
  /** PAT + PMT packets known before the first byte (the ring's stored PSI): inserted when the stream has none before its keyframe. */
  initialPsi?: Uint8Array | undefined;
}

export class Segmenter {
  readonly #sink: SegmentSink;
  readonly #seconds: number | undefined;
  readonly #bytes: number | undefined;
  // packet framing
  readonly #carry = new Uint8Array(TS_PACKET_SIZE);
  #carryLen = 0;
  // PSI
  readonly #pat = new SectionAssembler();
  readonly #pmt = new SectionAssembler();
  #pmtPid = -1;
  #videoPid = -1;
  #scanner: VideoScanner | undefined;
  /** The latest complete PAT and PMT packets (inserted before a keyframe that lacks them). */
  #patPackets: Uint8Array = new Uint8Array(0);
  #pmtPackets: Uint8Array = new Uint8Array(0);
  #collectPat: Uint8Array[] | undefined;
  #collectPmt: Uint8Array[] | undefined;
  // held bytes: a run of PAT/PMT packets, then (deciding) a video PES start and what follows it
  #hold: Uint8Array = new Uint8Array(64 * 1024);
  #holdLen = 0;
  #holdPat = false;
  #holdPmt = false;
  #deciding = false;
  #holdTime = 0;
  // output
  #out: Uint8Array = new Uint8Array(64 * 1024);
  #outLen = 0;
  #open = false;
  #segBytes = 0;
  #segStartPts = -1;
  #segStartTime = 0;
  #lastPts = -1;
  #frameTicks = 0;
  #time = 0;
  /** Bytes before the first keyframe (or after a gap) that went to no segment. */
  discarded = 0;
  /** Bytes of PAT/PMT inserted in all. */
  inserted = 0;
  segments = 0;

  constructor(sink: SegmentSink, opts: SegmenterOptions) {
    this.#sink = sink;
    this.#seconds = opts.segmentSeconds;
    this.#bytes = opts.segmentBytes;
    if (opts.initialPsi !== undefined && opts.initialPsi.byteLength > 0) {
      const psi = opts.initialPsi;
      for (let p = 0; p + TS_PACKET_SIZE <= psi.byteLength; p += TS_PACKET_SIZE) {
        if (psi[p] === TS_SYNC_BYTE) this.#learnPsi(psi, p);
      }
    }
  }

  /** True while a segment is open. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** The next bytes of the stream; `timeUs` is their arrival (or source) time. */
  push(b: Uint8Array, timeUs = 0): void {
    this.#time = timeUs;
    let i = 0;
    const n = b.byteLength;
    if (this.#carryLen > 0) {
      const need = TS_PACKET_SIZE - this.#carryLen;
      if (n < need) {
        this.#carry.set(b, this.#carryLen);
        this.#carryLen += n;
        this.#flushOut();
        return;
      }
      this.#carry.set(b.subarray(0, need), this.#carryLen);
      this.#carryLen = 0;
      this.#packet(this.#carry, 0);
      i = need;
    }
    while (i < n) {
      if (b[i] !== TS_SYNC_BYTE) {
        // Not at a packet start: pass bytes through up to the next sync byte.
        let j = i + 1;
        while (j < n && b[j] !== TS_SYNC_BYTE) j++;
        this.#other(b, i, j);
        i = j;
        continue;
      }
      if (i + TS_PACKET_SIZE > n) {
        this.#carry.set(b.subarray(i, n), 0);
        this.#carryLen = n - i;
        break;
      }
      this.#packet(b, i);
      i += TS_PACKET_SIZE;
    }
    this.#flushOut();
  }

  /** Packets were lost before the next push: the open segment ends here; the next one starts at a keyframe. */
  gap(): void {
    this.#releaseHold(false);
    this.#carryLen = 0;
    this.#closeSegment(this.#estimateDuration());
  }

  /** The stream ended: everything held goes to the open segment, which is closed. */
  end(): void {
    this.#releaseHold(false);
    if (this.#carryLen > 0) {
      this.#emit(this.#carry, 0, this.#carryLen);
      this.#carryLen = 0;
    }
    this.#closeSegment(this.#estimateDuration());
  }

  // ---- packets ------------------------------------------------------------------------------

  #other(b: Uint8Array, start: number, end: number): void {
    if (this.#holdLen > 0) this.#appendHold(b, start, end - start);
    else this.#emit(b, start, end - start);
  }

  #packet(b: Uint8Array, p: number): void {
    const pid = ((b[p + 1]! & 0x1f) << 8) | b[p + 2]!;
    const pusi = (b[p + 1]! & 0x40) !== 0;
    const isPsi = pid === 0 || pid === this.#pmtPid;
    if (isPsi) this.#learnPsi(b, p);
    if (this.#deciding) {
      if (pid === this.#videoPid && pusi) {
        // A new picture before the last one was decided: that one was no keyframe.
        this.#releaseHold(false);
      } else {
        this.#appendHold(b, p, TS_PACKET_SIZE);
        if (pid === this.#videoPid) this.#scan(b, p);
        else if (this.#holdLen > MAX_HOLD_BYTES) this.#releaseHold(false);
        return;
      }
    }
    if (isPsi) {
      if (pid === 0 && (this.#holdPmt || this.#holdPat)) this.#releaseHold(false); // a new run of tables
      this.#appendHold(b, p, TS_PACKET_SIZE);
      if (pid === 0) this.#holdPat = true;
      else this.#holdPmt = true;
      return;
    }
    if (pid === this.#videoPid && pusi && this.#scanner !== undefined) {
      this.#deciding = true;
      this.#holdTime = this.#time;
      this.#scanner.start();
      this.#appendHold(b, p, TS_PACKET_SIZE);
      this.#scan(b, p);
      return;
    }
    if (this.#holdLen > 0) this.#releaseHold(false);
    this.#emit(b, p, TS_PACKET_SIZE);
  }

  /** Feeds a video packet's payload to the scanner; acts on its decision. */
  #scan(b: Uint8Array, p: number): void {
    const s = this.#scanner!;
    const start = tsPayloadOffset(b, p);
    if (start < 0) return;
    const end = p + TS_PACKET_SIZE;
    const r = s.feed(b, start, end);
    if (r === SCAN_PENDING) {
      if (this.#holdLen > MAX_HOLD_BYTES) this.#releaseHold(false);
      return;
    }
    this.#releaseHold(r === SCAN_KEYFRAME);
  }

  /** The held bytes go out: at a keyframe (maybe a cut before them), or as ordinary bytes. */
  #releaseHold(keyframe: boolean): void {
    const deciding = this.#deciding;
    this.#deciding = false;
    const pts = deciding && this.#scanner !== undefined ? this.#scanner.pts : -1;
    if (deciding && pts >= 0) this.#notePts(pts);
    if (keyframe && this.#shouldCut(pts)) {
      const duration = this.#open ? this.#durationTo(pts) : 0;
      this.#closeSegment(duration);
      let inserted = 0;
      const psi = this.#holdPat && this.#holdPmt ? undefined : this.#currentPsi();
      this.#open = true;
      this.#segBytes = 0;
      this.#segStartPts = pts;
      this.#segStartTime = this.#holdTime;
      this.#lastPts = pts;
      this.segments++;
      if (psi !== undefined && psi.byteLength > 0) inserted = psi.byteLength;
      this.#sink.open({ pts, timeUs: this.#holdTime, insertedBytes: inserted });
      if (inserted > 0) {
        this.#emit(psi!, 0, inserted);
        this.inserted += inserted;
      }
    }
    if (this.#holdLen > 0) this.#emit(this.#hold, 0, this.#holdLen);
    this.#holdLen = 0;
    this.#holdPat = false;
    this.#holdPmt = false;
  }

  #shouldCut(pts: number): boolean {
    if (!this.#open) return true;
    if (this.#bytes !== undefined && this.#segBytes + this.#outLen >= this.#bytes) return true;
    if (this.#seconds !== undefined) {
      const elapsed = pts >= 0 && this.#segStartPts >= 0 ? ptsDiff(pts, this.#segStartPts) / 90000 : (this.#holdTime - this.#segStartTime) / 1e6;
      if (elapsed >= this.#seconds) return true;
    }
    return false;
  }

  #notePts(pts: number): void {
    if (this.#lastPts >= 0) {
      const d = ptsDiff(pts, this.#lastPts);
      if (d > 0 && d < 90000 && (this.#frameTicks === 0 || d < this.#frameTicks)) this.#frameTicks = d;
      if (d > 0 && d < PTS_WRAP / 2) this.#lastPts = pts;
    } else this.#lastPts = pts;
  }

  #durationTo(pts: number): number {
    if (pts >= 0 && this.#segStartPts >= 0) return ptsDiff(pts, this.#segStartPts) / 90000;
    return (this.#holdTime - this.#segStartTime) / 1e6;
  }

  #estimateDuration(): number {
    if (this.#lastPts >= 0 && this.#segStartPts >= 0) return (ptsDiff(this.#lastPts, this.#segStartPts) + this.#frameTicks) / 90000;
    return (this.#time - this.#segStartTime) / 1e6;
  }

  #closeSegment(durationSeconds: number): void {
    if (!this.#open) return;
    this.#flushOut();
    this.#open = false;
    this.#sink.close({ durationSeconds: Math.max(0, durationSeconds), bytes: this.#segBytes });
  }

  #currentPsi(): Uint8Array | undefined {
    if (this.#patPackets.byteLength === 0 || this.#pmtPackets.byteLength === 0) return undefined;
    const out = new Uint8Array(this.#patPackets.byteLength + this.#pmtPackets.byteLength);
    out.set(this.#patPackets, 0);
    out.set(this.#pmtPackets, this.#patPackets.byteLength);
    return out;
  }

  // ---- PSI ----------------------------------------------------------------------------------

  /** Learns PMT and video PIDs and keeps copies of the latest PAT/PMT packets. */
  #learnPsi(b: Uint8Array, p: number): void {
    const pid = ((b[p + 1]! & 0x1f) << 8) | b[p + 2]!;
    const pusi = (b[p + 1]! & 0x40) !== 0;
    const start = tsPayloadOffset(b, p);
    if (start < 0) return;
    const end = p + TS_PACKET_SIZE;
    const pkt = b.slice(p, end);
    if (pid === 0) {
      if (pusi) this.#collectPat = [];
      this.#collectPat?.push(pkt);
      this.#pat.push(b, start, end, pusi, (buf, len) => {
        const pat = parsePat(buf, len);
        const first = pat?.programs[0];
        if (first !== undefined) {
          if (first.pmtPid !== this.#pmtPid) this.#pmt.reset();
          this.#pmtPid = first.pmtPid;
        }
        if (this.#collectPat !== undefined) this.#patPackets = concat(this.#collectPat);
        this.#collectPat = undefined;
      });
    } else if (pid === this.#pmtPid) {
      if (pusi) this.#collectPmt = [];
      this.#collectPmt?.push(pkt);
      this.#pmt.push(b, start, end, pusi, (buf, len) => {
        const pmt = parsePmt(buf, len);
        if (pmt !== null) {
          let video = -1;
          let codec: ReturnType<typeof codecFor>['codec'] | undefined;
          for (const s of pmt.streams) {
            const c = codecFor(s.streamType, s.descriptors);
            if (c.kind === 'video' && isScannableVideo(c.codec)) {
              video = s.pid;
              codec = c.codec;
              break;
            }
          }
          if (video !== this.#videoPid || (codec !== undefined && this.#scanner?.codec !== codec)) {
            this.#videoPid = video;
            this.#scanner = codec !== undefined && isScannableVideo(codec) ? new VideoScanner(codec) : undefined;
          }
        }
        if (this.#collectPmt !== undefined) this.#pmtPackets = concat(this.#collectPmt);
        this.#collectPmt = undefined;
      });
    }
  }

  // ---- buffers ------------------------------------------------------------------------------

  #appendHold(b: Uint8Array, start: number, len: number): void {
    if (this.#holdLen + len > this.#hold.byteLength) this.#hold = grow(this.#hold, this.#holdLen + len);
    this.#hold.set(b.subarray(start, start + len), this.#holdLen);
    this.#holdLen += len;
  }

  /** Bytes for the open segment (dropped when none is open: before the first keyframe). */
  #emit(b: Uint8Array, start: number, len: number): void {
    if (!this.#open) {
      this.discarded += len;
      return;
    }
    if (this.#outLen + len > this.#out.byteLength) {
      this.#flushOut();
      if (len > this.#out.byteLength) this.#out = grow(this.#out, len);
    }
    this.#out.set(b.subarray(start, start + len), this.#outLen);
    this.#outLen += len;
  }

  #flushOut(): void {
    if (this.#outLen === 0) return;
    const chunk = this.#out.subarray(0, this.#outLen);
    this.#segBytes += this.#outLen;
    this.#outLen = 0;
    this.#sink.write(chunk);
  }
}

/** a − b in 90 kHz ticks, across the 33-bit wrap. */
function ptsDiff(a: number, b: number): number {
  let d = (a - b) % PTS_WRAP;
  if (d < 0) d += PTS_WRAP;
  return d;
}

function grow(b: Uint8Array, need: number): Uint8Array {
  let size = b.byteLength * 2;
  while (size < need) size *= 2;
  const out = new Uint8Array(size);
  out.set(b);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
