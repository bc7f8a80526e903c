/**
 * HostedSession: one SRT connection on a worker thread, in one of three roles (see
 * SessionRole). A publisher is received straight into its stream's ring in batches; a viewer is
 * a member of the ring's FanoutGroup on this worker.
 */
import { PacketRing, SLOT_FLAG_KEYFRAME, SLOT_PHASE_NONE, WRITE_BATCH } from '../ring/packet-ring.js';
import { RingWriter } from '../ring/ring-writer.js';
import type { TsInfo } from '../ts/analyzer.js';
import { signalChannel } from '../srt/reactor.js';
import { SrtSocket } from '../srt/socket.js';
import type { FanoutGroup, GroupMember } from './fanout-group.js';
import { UNDECIDED_MS, type SessionRole, type ViewerJoin } from './messages.js';
import { srtNow } from '../srt/clock.js';

export interface JoinOptions {
  join: ViewerJoin;
  timeShiftMs?: number;
  /** No MPEG-TS analysis: pure byte relay. */
  raw?: boolean;
}

const DRAIN = new Uint8Array(1500);

export interface SessionHooks {
  /** The ring's fan-out group on this worker (created on demand). */
  group(): FanoutGroup;
  /** The session no longer needs the group. */
  releaseGroup(): void;
  ended(reason: string): void;
  mediaDetected(): void;
  becameViewer(): void;
}

export class HostedSession implements GroupMember {
  readonly id: number;
  readonly socket: SrtSocket;
  readonly sock: number;
  sent = 0;
  skipped = 0;
  #received = 0;
  #role: SessionRole;
  readonly #inferred: boolean;
  readonly #ring: PacketRing;
  readonly #hooks: SessionHooks;
  #group: FanoutGroup | undefined;
  #open = true;
  #timer: NodeJS.Timeout | undefined;
  #reported = false;
  #writer: RingWriter | undefined;

  readonly #joinOpts: JoinOptions;

  constructor(id: number, sock: number, ring: PacketRing, role: SessionRole, inferred: boolean, join: JoinOptions, hooks: SessionHooks) {
    this.id = id;
    this.sock = sock;
    this.socket = SrtSocket.adopt(sock);
    this.socket.context = { session: id };
    this.#ring = ring;
    this.#role = role;
    this.#inferred = inferred;
    this.#joinOpts = join;
    this.#hooks = hooks;
    this.socket.on({
      readable: () => this.#onReadable(),
      writable: () => this.#group?.flushMember(this),
      closed: () => this.close(this.#role === 'viewer' ? 'viewer disconnected' : 'publisher disconnected'),
    });
    if (role === 'viewer') this.#joinGroup();
    else if (role === 'undecided') {
      this.#timer = setTimeout(() => this.#silent(), UNDECIDED_MS);
      this.#onReadable();
    } else this.#pump();
  }

  get role(): SessionRole {
    return this.#role;
  }

  /** The stream as the analyzer sees it, for a publisher. */
  tsInfo(): TsInfo | undefined {
    return this.#writer?.info();
  }

  /** Packets moved: received (publisher) or sent (viewer). */
  packets(): number {
    return this.#role === 'publisher' ? this.#received : this.sent;
  }

  onBroken(): void {
    this.close('viewer disconnected');
  }

  /** The supervisor made this connection the publisher. */
  confirmPublisher(): void {
    if (!this.#open || this.#role === 'publisher') return;
    this.#clearTimer();
    this.#leaveGroup();
    this.#role = 'publisher';
    this.#pump();
  }

  close(reason: string): void {
    if (!this.#open) return;
    this.#open = false;
    this.#clearTimer();
    this.#leaveGroup();
    this.#writer?.end();
    this.socket.close();
    this.#hooks.ended(reason);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Where a viewer starts: a DVR viewer at the keyframe nearest its time shift, paced in real
   * time; a keyframe join at the newest keyframe in the ring (after the stored PAT/PMT), so the
   * first picture decodes at once; otherwise the live edge.
   */
  #joinGroup(): void {
    const ring = this.#ring;
    const head = ring.head();
    let start = head;
    let delayUs = 0;
    const shift = this.#joinOpts.timeShiftMs;
    let shifted = false;
    if (shift !== undefined && shift < 0) {
      const target = srtNow() + shift * 1000;
      const kf = ring.keyframeAtOrBefore(ring.seqAtTime(target));
      if (kf !== undefined) {
        start = kf;
        shifted = true;
        delayUs = Math.max(0, srtNow() - ring.timeOf(kf));
      }
    }
    if (!shifted && (this.#joinOpts.join === 'keyframe' || shift !== undefined)) {
      const kf = ring.lastKeyframe();
      if (kf !== undefined && ((kf - ring.oldest()) | 0) >= 0 && ((head - kf) | 0) > 0) start = kf;
    }
    if (start !== head) {
      if (ring.hasPsi()) this.socket.sendSlots(ring.psi, ring.slotSize, 1, 0, 1);
      start = this.#sendFromKeyframePacket(start);
    }
    this.#group = this.#hooks.group();
    this.#group.add(this, start, delayUs);
    if (start !== head) this.#group.flush();
  }

  /**
   * The keyframe's slot may begin with the tail of the previous frame (an SRT message carries
   * 7 TS packets, or up to 1456 bytes cut anywhere). Send that slot from the keyframe's first video packet on, so the joiner's
   * first video frame is the keyframe, and continue with the next slot. Returns where to go on.
   */
  #sendFromKeyframePacket(seq: number): number {
    const ring = this.#ring;
    const vpid = ring.videoPid();
    if (vpid < 0 || (ring.flags(seq) & SLOT_FLAG_KEYFRAME) === 0) return seq;
    const b = ring.slots;
    const at = ring.payloadOffset(seq);
    const len = ring.length(seq);
    const phase = ring.phase(seq);
    if (phase >= len || phase === SLOT_PHASE_NONE) return seq;
    // The keyframe's PES is the last video PES that starts in this slot (a keyframe is long).
    // Packets start at the slot's phase; the last one may continue in the next slot.
    let start = -1;
    for (let p = at + phase; p + 4 <= at + len; p += 188) {
      if (b[p] === 0x47 && (b[p + 1]! & 0x40) !== 0 && (((b[p + 1]! & 0x1f) << 8) | b[p + 2]!) === vpid) start = p;
    }
    if (start <= at) return seq;
    this.socket.send(b.subarray(start, at + len));
    return (seq + 1) >>> 0;
  }

  #leaveGroup(): void {
    if (this.#group === undefined) return;
    this.#group.remove(this);
    this.#group = undefined;
    this.#hooks.releaseGroup();
  }

  #silent(): void {
    this.#timer = undefined;
    if (!this.#open || this.#role !== 'undecided') return;
    this.#role = 'viewer';
    this.#joinGroup();
    this.#hooks.becameViewer();
  }

  #onReadable(): void {
    if (!this.#open) return;
    switch (this.#role) {
      case 'publisher':
        this.#pump();
        return;
      case 'undecided':
        // Leave the data in libsrt's buffer until the supervisor decides; one report is enough.
        if (!this.#reported && this.socket.stats()?.pktRecvTotal) this.#report();
        return;
      case 'viewer': {
        let got = false;
        while (this.socket.recv(DRAIN) > 0) got = true;
        if (got && this.#inferred) this.#report();
        return;
      }
    }
  }

  #report(): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#hooks.mediaDetected();
  }

  /** Moves everything libsrt has for us into the ring, WRITE_BATCH slots per native call. */
  #pump(): void {
    const ring = this.#ring;
    const writer = (this.#writer ??= new RingWriter(ring, { raw: this.#joinOpts.raw === true }));
    let moved = 0;
    for (;;) {
      const head = ring.head();
      const r = this.socket.recvSlots(ring.slots, ring.slotSize, ring.slotCount, ring.index(head), WRITE_BATCH);
      const count = r < 0 ? -r - 1 : r;
      if (count > 0) {
        writer.commit(head, count);
        moved += count;
      }
      if (r < 0) {
        this.#received += moved;
        if (moved > 0) signalChannel(ring.channel);
        this.close('publisher disconnected');
        return;
      }
      if (count < WRITE_BATCH) break;
    }
    if (moved > 0) {
      this.#received += moved;
      signalChannel(ring.channel);
    }
  }
}
