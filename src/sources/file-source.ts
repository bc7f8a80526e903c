/**
 * FileSource: plays an MPEG-TS file into a stream's ring as if it were live.
 *  - simulatedLive (default): paced by the file's PCR, so a 60 s file takes 60 s;
 *  - otherwise as fast as allowed by `maxRateMbps` (tests, pushes);
 *  - loop: at the end it starts again; the first PCR packet after the loop point carries the
 *    TS discontinuity_indicator and every PID's continuity counter continues from where it
 *    was, so decoders see a clean time-base change instead of errors.
 * It reads 1316-byte messages (7 TS packets) into a reused buffer; the ring write is the one
 * copy. Runs on a worker thread (or any thread); one timer tick every few milliseconds.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { native } from '../srt/native.js';
import { WRITE_BATCH, type PacketRing } from '../ring/packet-ring.js';
import { RingWriter } from '../ring/ring-writer.js';
import type { TsInfo } from '../ts/analyzer.js';
import { SrtRelayError } from '../errors.js';
import {
  AF_DISCONTINUITY,
  PCR_HZ,
  TS_PACKET_SIZE,
  TS_SYNC_BYTE,
  tsAdaptationFieldLength,
  tsContinuityCounter,
  tsHasPayload,
  tsHasPcr,
  tsPcr,
  tsPid,
} from '../ts/ts-packet.js';

const MESSAGE_PACKETS = 7;
const MESSAGE_BYTES = MESSAGE_PACKETS * TS_PACKET_SIZE; // 1316
const READ_MESSAGES = 64;
const TICK_MS = 4;
/** Largest gap between PCRs that is taken as real time; anything else is a discontinuity in the file. */
const MAX_PCR_STEP = PCR_HZ; // 1 s

export interface FileSourceOptions {
  simulatedLive: boolean;
  loop: boolean;
  /** Without simulatedLive: cap on the read rate. */
  maxRateMbps?: number;
  /** Not MPEG-TS analysis (the file is still checked for TS sync). */
  raw?: boolean;
  /** Called after the first message is in the ring. */
  onFirstWrite?: () => void;
  /** Called once when the file ends (not looping) or fails. */
  onEnd?: (error?: Error) => void;
}

/** Checks that `path` is readable and starts with TS sync bytes; throws a typed error otherwise. */
export async function checkTsFile(path: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new SrtRelayError('ERR_SOURCE_INVALID', `cannot open file source '${path}': ${(e as Error).message}`, { path });
  }
  try {
    const probe = new Uint8Array(TS_PACKET_SIZE * 3);
    const { bytesRead } = await fh.read(probe, 0, probe.byteLength, 0);
    const ok = bytesRead >= TS_PACKET_SIZE && probe[0] === TS_SYNC_BYTE && (bytesRead < 2 * TS_PACKET_SIZE || probe[TS_PACKET_SIZE] === TS_SYNC_BYTE);
    if (!ok) {
      throw new SrtRelayError(
        'ERR_SOURCE_INVALID',
        `file source '${path}' is not MPEG-TS (no 0x47 sync byte every 188 bytes); convert it with ffmpeg -c copy -f mpegts`,
        { path },
      );
    }
  } finally {
    await fh.close();
  }
}

export class FileSource {
  readonly #path: string;
  readonly #ring: PacketRing;
  readonly #opts: FileSourceOptions;
  readonly #buf = new Uint8Array(MESSAGE_BYTES * READ_MESSAGES);
  readonly #cc = new Int8Array(0x2000).fill(-1); // last continuity counter written per PID
  readonly #ccShift = new Uint8Array(0x2000); // added to each PID's counter after a loop
  #fh: FileHandle | undefined;
  #writer: RingWriter | undefined;
  #batch = 0;
  #filePos = 0;
  #bufLen = 0;
  #bufPos = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #reading = false;
  // Pacing: wall-clock ms at which PCR `#pcrBase` is due.
  #pcrBase = -1;
  #pcrLast = -1;
  #pcrOffset = 0; // accumulated PCR offset across loops/discontinuities
  #startMs = 0;
  #sentBytes = 0;
  #loopPending = false;
  #loops = 0;
  #messages = 0;

  constructor(path: string, ring: PacketRing, opts: FileSourceOptions) {
    this.#path = path;
    this.#ring = ring;
    this.#opts = opts;
  }

  get loops(): number {
    return this.#loops;
  }

  get messages(): number {
    return this.#messages;
  }

  tsInfo(): TsInfo | undefined {
    return this.#writer?.info();
  }

  async start(): Promise<void> {
    await checkTsFile(this.#path);
    this.#fh = await open(this.#path, 'r');
    this.#writer = new RingWriter(this.#ring, { raw: this.#opts.raw === true });
    this.#startMs = performance.now();
    this.#timer = setInterval(() => void this.#tick(), TICK_MS);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#writer?.end();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close();
  }

  async #tick(): Promise<void> {
    if (this.#reading || this.#stopped) return;
    this.#reading = true;
    let wrote = false;
    try {
      const now = performance.now();
      for (let guard = 0; guard < 4096; guard++) {
        if (this.#bufPos >= this.#bufLen && !(await this.#fill())) break;
        const due = this.#dueMs(this.#bufPos);
        if (due > now) break;
        this.#emit(this.#bufPos);
        wrote = true;
        if (this.#batch === WRITE_BATCH) this.#commit();
      }
    } catch (e) {
      this.#fail(e as Error);
    } finally {
      this.#commit();
      this.#reading = false;
    }
    if (wrote) {
      native.signal(this.#ring.channel);
      if (this.#messages > 0 && !this.#announced) {
        this.#announced = true;
        this.#opts.onFirstWrite?.();
      }
    }
  }

  /** Publishes the messages filled since the last commit. */
  #commit(): void {
    if (this.#batch === 0 || this.#writer === undefined) return;
    this.#writer.commit(this.#ring.head(), this.#batch);
    this.#batch = 0;
  }

  #fail(e: Error): void {
    if (this.#stopped) return;
    void this.stop();
    this.#opts.onEnd?.(e);
  }

  /**
   * Reads the next chunk; at EOF loops or ends. False when nothing more will come now.
   * Never recurses: at most one rewind per call, and a file with no whole TS packet at its
   * start (truncated to 0 or under 188 bytes while playing, or replaced by something that is
   * not TS) ends the source with ERR_SOURCE_INVALID instead of rewinding forever.
   */
  async #fill(): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const fh = this.#fh;
      if (fh === undefined) return false;
      const { bytesRead } = await fh.read(this.#buf, 0, this.#buf.byteLength, this.#filePos);
      if (this.#stopped) return false;
      const whole = bytesRead - (bytesRead % TS_PACKET_SIZE);
      if (whole > 0) {
        if (this.#buf[0] !== TS_SYNC_BYTE) {
          throw new SrtRelayError(
            'ERR_SOURCE_INVALID',
            `file source '${this.#path}' is no longer MPEG-TS at byte ${this.#filePos} (no 0x47 sync byte; was it replaced or rewritten while playing?)`,
            { path: this.#path },
          );
        }
        this.#filePos += whole;
        this.#bufLen = whole;
        this.#bufPos = 0;
        return true;
      }
      if (this.#filePos === 0) {
        throw new SrtRelayError(
          'ERR_SOURCE_INVALID',
          `file source '${this.#path}' holds ${bytesRead} bytes, less than one 188-byte TS packet (was it truncated while playing?)`,
          { path: this.#path },
        );
      }
      if (!this.#opts.loop) {
        void this.stop();
        this.#opts.onEnd?.();
        return false;
      }
      this.#filePos = 0;
      this.#loops++;
      this.#loopPending = true;
      for (let pid = 0; pid < 0x2000; pid++) this.#ccShift[pid] = 0;
      this.#ccNeedsShift = true;
    }
    return false;
  }

  #ccNeedsShift = false;
  #announced = false;

  /** When the message at `pos` is due, in performance.now() milliseconds. */
  #dueMs(pos: number): number {
    if (!this.#opts.simulatedLive) {
      const rate = (this.#opts.maxRateMbps ?? 200) * 125; // bytes per ms
      return this.#startMs + this.#sentBytes / rate;
    }
    const end = Math.min(pos + MESSAGE_BYTES, this.#bufLen);
    for (let p = pos; p < end; p += TS_PACKET_SIZE) {
      if (!tsHasPcr(this.#buf, p)) continue;
      let pcr = tsPcr(this.#buf, p);
      if (this.#pcrLast >= 0) {
        const step = pcr + this.#pcrOffset - this.#pcrLast;
        if (step < 0 || step > MAX_PCR_STEP) this.#pcrOffset = this.#pcrLast - pcr + PCR_HZ / 100; // continue 10 ms later
      }
      pcr += this.#pcrOffset;
      if (this.#pcrBase < 0) {
        this.#pcrBase = pcr;
        this.#startMs = performance.now();
      }
      return this.#startMs + ((pcr - this.#pcrBase) * 1000) / PCR_HZ;
    }
    return 0; // no PCR in this message: send with the previous one
  }

  #emit(pos: number): void {
    const end = Math.min(pos + MESSAGE_BYTES, this.#bufLen);
    const b = this.#buf;
    for (let p = pos; p < end; p += TS_PACKET_SIZE) {
      const pid = tsPid(b, p);
      if (tsHasPcr(b, p)) {
        this.#pcrLast = tsPcr(b, p) + this.#pcrOffset;
        if (this.#loopPending && tsAdaptationFieldLength(b, p) > 0) {
          b[p + 5] = b[p + 5]! | AF_DISCONTINUITY;
          this.#loopPending = false;
        }
      }
      if (!tsHasPayload(b, p)) continue;
      const cc = tsContinuityCounter(b, p);
      if (this.#ccNeedsShift && this.#cc[pid]! >= 0 && this.#ccShift[pid] === 0) {
        // First packet of this PID after the loop: continue its counter.
        this.#ccShift[pid] = (this.#cc[pid]! + 1 - cc + 16) & 0xf || 16;
      }
      const shifted = (cc + (this.#ccShift[pid]! & 0xf)) & 0xf;
      if (shifted !== cc) b[p + 3] = (b[p + 3]! & 0xf0) | shifted;
      this.#cc[pid] = shifted;
    }
    this.#ring.fill(b.subarray(pos, end), this.#batch++, native.now());
    this.#sentBytes += end - pos;
    this.#bufPos = end;
    this.#messages++;
  }
}
