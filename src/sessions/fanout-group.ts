/**
 * FanoutGroup: the viewers of one ring on one worker thread, sent to in one native call per
 * wake-up (native fanout): no JS per packet, and JS per viewer only to read the results.
 */
import { RingFanout } from '../srt/ring-io.js';
import { PacketRing } from '../ring/packet-ring.js';

export interface GroupMember {
  readonly sock: number;
  /** Called when the native send found the connection broken. */
  onBroken(): void;
  sent: number;
  skipped: number;
}

export class FanoutGroup {
  readonly ring: PacketRing;
  #members: GroupMember[] = [];
  #socks = new Int32Array(16);
  #cursors = new Uint32Array(16);
  #results = new Int32Array(32);
  /** Per-viewer delay in µs for time-shifted (DVR) viewers; passed to native only when any is set. */
  #delays = new Float64Array(16);
  #delayed = 0;

  readonly #fanout: RingFanout;

  constructor(ring: PacketRing) {
    this.ring = ring;
    this.#fanout = new RingFanout(ring);
  }

  get size(): number {
    return this.#members.length;
  }

  /**
   * Adds a viewer that starts at sequence `start` (the ring head for a live join, a keyframe
   * for a keyframe join). `delayUs` > 0 paces a time-shifted viewer: a slot goes out once its
   * srctime + delay has passed.
   */
  add(member: GroupMember, start: number, delayUs = 0): void {
    const n = this.#members.length;
    if (n === this.#socks.length) this.#grow();
    this.#members.push(member);
    this.#socks[n] = member.sock;
    this.#cursors[n] = start >>> 0;
    this.#delays[n] = delayUs;
    if (delayUs > 0) this.#delayed++;
  }

  remove(member: GroupMember): void {
    const i = this.#members.indexOf(member);
    if (i < 0) return;
    const last = this.#members.length - 1;
    if (this.#delays[i]! > 0) this.#delayed--;
    this.#members[i] = this.#members[last]!;
    this.#socks[i] = this.#socks[last]!;
    this.#cursors[i] = this.#cursors[last]!;
    this.#delays[i] = this.#delays[last]!;
    this.#members.pop();
  }

  /** Sends everything each viewer has not had yet, up to the ring head. */
  flush(): void {
    const n = this.#members.length;
    if (n === 0) return;
    const ring = this.ring;
    this.#fanout.send(ring.head(), ring.oldest(), this.#socks, this.#cursors, n, this.#results, this.#delayed > 0 ? this.#delays : undefined);
    const results = this.#results;
    let broken: GroupMember[] | undefined;
    for (let i = 0; i < n; i++) {
      const sent = results[2 * i]!;
      const m = this.#members[i]!;
      if (sent < 0) (broken ??= []).push(m);
      else m.sent += sent;
      m.skipped += results[2 * i + 1]!;
    }
    if (broken !== undefined) for (const m of broken) m.onBroken();
  }

  /** Sends what one viewer is missing (its send buffer has room again); the others are untouched. */
  flushMember(member: GroupMember): void {
    const i = this.#members.indexOf(member);
    if (i < 0) return;
    const ring = this.ring;
    const res = this.#results.subarray(2 * i, 2 * i + 2);
    this.#fanout.send(
      ring.head(),
      ring.oldest(),
      this.#socks.subarray(i, i + 1),
      this.#cursors.subarray(i, i + 1),
      1,
      res,
      this.#delays[i]! > 0 ? this.#delays.subarray(i, i + 1) : undefined,
    );
    if (res[0]! < 0) member.onBroken();
    else member.sent += res[0]!;
    member.skipped += res[1]!;
  }

  #grow(): void {
    const cap = this.#socks.length * 2;
    const socks = new Int32Array(cap);
    socks.set(this.#socks);
    const cursors = new Uint32Array(cap);
    cursors.set(this.#cursors);
    const delays = new Float64Array(cap);
    delays.set(this.#delays);
    this.#socks = socks;
    this.#cursors = cursors;
    this.#delays = delays;
    this.#results = new Int32Array(cap * 2);
  }
}
