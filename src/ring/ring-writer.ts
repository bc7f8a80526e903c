/**
 * RingWriter: the one place packets enter a ring. After a batch is in the slots it runs the
 * MPEG-TS analyzer (keyframe and PSI flags, tracks, CC errors), keeps the ring's PAT/PMT and
 * last keyframe current for joiners, and publishes the batch.
 *
 * A writer that takes over a ring another writer fed (a publisher reconnect, a failover to a
 * backup or back) makes the switch invisible to decoders that stay connected:
 *  - it starts at the new source's first keyframe (earlier packets are dropped), preceded by
 *    the new source's PAT/PMT;
 *  - every PID's continuity counter continues from the last one in the ring (read back once);
 *  - the first packet with an adaptation field of each PID gets the discontinuity_indicator.
 * The first writer of a new ring (a stream's first source, e.g. an on-demand pull whose viewer is
 * held) also starts at its source's first keyframe, preceded by its PAT/PMT, so a held viewer's
 * first picture decodes; it has no counters to continue.
 * `raw` streams skip all of this: pure byte relay.
 */
import { TsAnalyzer, type TsInfo } from '../ts/analyzer.js';
import { AF_DISCONTINUITY, TS_PACKET_SIZE, TS_SYNC_BYTE } from '../ts/ts-packet.js';
import { SLOT_PHASE_NONE, type PacketRing } from './packet-ring.js';

/** How far back a taking-over writer looks for each PID's last continuity counter (~4 s at 2 Mbit/s). */
const TAKEOVER_SCAN_SLOTS = 1024;
/**
 * Longest wait for a taking-over source's first keyframe. A source that sends none (no PAT/PMT,
 * raw-ish TS, keyframes rarer than this, intra refresh) is relayed from then on as it comes.
 */
export const MAX_KEYFRAME_WAIT_MS = 5000;

export class RingWriter {
  readonly ring: PacketRing;
  readonly #analyzer: TsAnalyzer | undefined;
  /** True until the source's first keyframe (a new ring's first source, or one that took over the ring). */
  #waitKeyframe: boolean;
  /** Continuity-counter rewriting after a switch: shift per PID (0x10 | shift once known). */
  readonly #shift: Uint8Array | undefined;
  readonly #marked: Uint8Array | undefined;
  /** After a takeover: the last counter written per PID (0x10 | cc), kept current by #rewrite. */
  readonly #last: Uint8Array | undefined;
  #dropped = 0;
  #ended = false;
  /** When the wait for the first keyframe after a takeover began (-1: not yet). */
  #waitSince = -1;
  /** After a takeover: the first slot of the new source has been published. */
  #started = false;
  readonly #maxWaitMs: number;
  /** A packet whose header (the continuity counter) continues in the next slot: its start, header bytes held, slot. */
  #splitAt = -1;
  #splitHave = 0;
  #splitSeq = 0;

  constructor(ring: PacketRing, opts: { raw: boolean; maxKeyframeWaitMs?: number }) {
    this.ring = ring;
    this.#maxWaitMs = opts.maxKeyframeWaitMs ?? MAX_KEYFRAME_WAIT_MS;
    const takeover = ring.beginWriter() > 0 && ring.head() > 0;
    this.#analyzer = opts.raw ? undefined : new TsAnalyzer();
    this.#waitKeyframe = !opts.raw;
    this.#shift = takeover && !opts.raw ? new Uint8Array(0x2000) : undefined;
    this.#marked = this.#shift === undefined ? undefined : new Uint8Array(0x2000);
    this.#last = this.#shift === undefined ? undefined : RingWriter.#lastCounters(ring);
    // The previous source's keyframe is old: joiners wait for this source's first one.
    if (takeover) ring.forgetKeyframe();
  }

  /** This writer stops (its publisher or source is gone). Call once. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.ring.endWriter();
  }

  /** Packets dropped while waiting for the first keyframe (at the start, or after a switch). */
  get dropped(): number {
    return this.#dropped;
  }

  /** What the analyzer knows of the stream (undefined for raw streams). */
  info(): TsInfo | undefined {
    return this.#analyzer?.snapshot();
  }

  /** Slots [first, first + count) are filled: analyze, fix up after a switch, publish. */
  commit(first: number, count: number): void {
    const ring = this.ring;
    const a = this.#analyzer;
    if (a !== undefined && count > 0) {
      const kf = a.analyze(ring.slots, ring.slotSize, ring.slotCount, first, count);
      if (this.#waitKeyframe && kf < 0 && this.#noVideo(a)) this.#waitKeyframe = false; // audio-only or not TS: nothing to wait for
      if (this.#waitKeyframe && kf < 0) {
        // A bounded wait: one clock read per batch while waiting.
        const now = performance.now();
        if (this.#waitSince < 0) this.#waitSince = now;
        else if (now - this.#waitSince >= this.#maxWaitMs) this.#waitKeyframe = false;
      }
      if (!this.#waitKeyframe && this.#shift !== undefined && !this.#started) {
        // Relayed without a keyframe to start at: begin at a packet start all the same.
        const phase = ring.phase(first);
        if (phase > 0 && phase !== SLOT_PHASE_NONE && phase < ring.length(first)) ring.trimFront(first, phase);
      }
      if (this.#waitKeyframe) {
        if (kf < 0 || ((kf - first) | 0) < 0) {
          for (let i = 0; i < count; i++) ring.clear((first + i) >>> 0);
          this.#dropped += count;
          ring.publish(first + count);
          return;
        }
        // Drop what precedes the keyframe; put the new PAT/PMT right before it when there is room.
        const skip = (kf - first) >>> 0;
        for (let i = 0; i < skip; i++) ring.clear((first + i) >>> 0);
        this.#dropped += skip;
        // The keyframe's slot may begin with the tail of a packet whose start was just dropped.
        const phase = ring.phase(kf);
        if (phase > 0) ring.trimFront(kf, phase);
        const psi = a.latestPsi();
        if (skip > 0 && psi.byteLength > 0) {
          ring.fill(psi, ((kf - 1 - ring.head()) >>> 0));
          if (this.#shift !== undefined) this.#rewrite((kf - 1) >>> 0);
        }
        this.#waitKeyframe = false;
        this.#started = true;
        if (this.#shift !== undefined) for (let i = skip; i < count; i++) this.#rewrite((first + i) >>> 0);
      } else if (this.#shift !== undefined) {
        this.#started = true;
        // Counters are continued only in what is known to be MPEG-TS: other payloads pass untouched.
        if (a.hasPat) for (let i = 0; i < count; i++) this.#rewrite((first + i) >>> 0);
      }
      if (kf >= 0) ring.setLastKeyframe(kf);
      if (kf >= 0 || !ring.hasPsi()) {
        const psi = a.latestPsi();
        if (psi.byteLength > 0) {
          ring.setPsi(psi);
          const vp = a.snapshot().videoPid;
          ring.setVideoPid(vp ?? -1);
        }
      }
    }
    ring.publish(first + count);
  }

  /** True when the source cannot have keyframes: its PMT lists no video, or it is not MPEG-TS. */
  #noVideo(a: TsAnalyzer): boolean {
    if (a.nonTsMessages > 0 && a.keyframes === 0 && !this.ring.hasPsi() && a.latestPsi().byteLength === 0) return true;
    if (a.latestPsi().byteLength === 0) return false;
    return a.snapshot().videoPid === null;
  }

  /**
   * The last continuity counter the previous writer left on each PID (0x10 | cc, 0 = not seen),
   * read back from the newest slots once at takeover, so the first writer pays nothing per packet.
   */
  static #lastCounters(ring: PacketRing): Uint8Array {
    const last = new Uint8Array(0x2000);
    const b = ring.slots;
    const head = ring.head();
    const oldest = ring.oldest();
    for (let k = 1; k <= TAKEOVER_SCAN_SLOTS; k++) {
      const seq = (head - k) >>> 0;
      if (((seq - oldest) | 0) < 0) break;
      const at = ring.payloadOffset(seq);
      const len = ring.length(seq);
      const phase = ring.phase(seq);
      if (len <= 0 || phase >= len || phase === SLOT_PHASE_NONE) continue;
      // Packets start at the phase; the last one may continue in the next slot (its header is read when here).
      const lastStart = at + phase + Math.floor((len - phase - 1) / TS_PACKET_SIZE) * TS_PACKET_SIZE;
      for (let p = lastStart; p >= at + phase; p -= TS_PACKET_SIZE) {
        if (p + 4 > at + len || b[p] !== TS_SYNC_BYTE || (b[p + 3]! & 0x10) === 0) continue;
        const pid = ((b[p + 1]! & 0x1f) << 8) | b[p + 2]!;
        if (last[pid] === 0) last[pid] = 0x10 | (b[p + 3]! & 0xf);
      }
    }
    return last;
  }

  /**
   * Continues each PID's counter from the ring's table and marks the first AF packet as a
   * discontinuity. Packets start at the slot's phase; a packet split across messages is handled
   * in the slot holding its continuity counter (the discontinuity mark waits for a packet whose
   * adaptation field is in the same slot as its header).
   */
  #rewrite(seq: number): void {
    const ring = this.ring;
    const b = ring.slots;
    const at = ring.payloadOffset(seq);
    const len = ring.length(seq);
    const end = at + len;
    const phase = ring.phase(seq);
    if (this.#splitAt >= 0) {
      // The header of the previous slot's last packet ends here (when this slot continues it).
      const have = this.#splitHave;
      const p = this.#splitAt;
      this.#splitAt = -1;
      if (((seq - this.#splitSeq) >>> 0) === 1 && phase === TS_PACKET_SIZE - have && len >= 4 - have) {
        const i1 = have > 1 ? p + 1 : at + (1 - have);
        const i2 = have > 2 ? p + 2 : at + (2 - have);
        const i3 = at + (3 - have);
        this.#counter(b, ((b[i1]! & 0x1f) << 8) | b[i2]!, i3);
      }
    }
    if (len <= 0 || phase >= len || phase === SLOT_PHASE_NONE) return; // nothing that is TS to fix
    for (let p = at + phase; p < end; p += TS_PACKET_SIZE) {
      if (b[p] !== TS_SYNC_BYTE) continue;
      if (p + 4 > end) {
        this.#splitAt = p;
        this.#splitHave = end - p;
        this.#splitSeq = seq;
        break;
      }
      const pid = ((b[p + 1]! & 0x1f) << 8) | b[p + 2]!;
      const afc = (b[p + 3]! >> 4) & 3;
      if (this.#marked![pid] === 0 && (afc & 2) !== 0 && p + 6 <= end && b[p + 4]! > 0) {
        b[p + 5] = b[p + 5]! | AF_DISCONTINUITY;
        this.#marked![pid] = 1;
      }
      this.#counter(b, pid, p + 3);
    }
  }

  /** Rewrites the continuity counter in byte b[i] (the packet's 4th header byte) of a packet of `pid`. */
  #counter(b: Uint8Array, pid: number, i: number): void {
    const afc = (b[i]! >> 4) & 3;
    if ((afc & 1) === 0) return;
    const cc = this.#last!;
    const shift = this.#shift!;
    const own = b[i]! & 0xf;
    if (shift[pid] === 0) {
      const last = cc[pid]!;
      shift[pid] = 0x10 | (last === 0 ? 0 : (((last & 0xf) + 1 - own) & 0xf));
    }
    const out = (own + (shift[pid]! & 0xf)) & 0xf;
    b[i] = (b[i]! & 0xf0) | out;
    cc[pid] = 0x10 | out;
  }
}
