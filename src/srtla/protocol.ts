/**
 * SRTLA version 2 wire format ("SRT transport proxy with link aggregation", as spoken by
 * BELABOX's srtla_send, Moblin and IRL Pro). Pure functions over bytes, no I/O.
 *
 * Every SRTLA control message starts with a big-endian 16-bit type:
 *   KEEPALIVE 0x9000  (any length ≥ 2; echoed back unchanged)
 *   ACK       0x9100  in the high half of a 32-bit word, then 10 × u32 sequence numbers (44 bytes)
 *   REG1      0x9200  + 256-byte group id, the sender filled the first 128 bytes   (258 bytes)
 *   REG2      0x9201  + the full 256-byte group id                                  (258 bytes)
 *   REG3      0x9202                                                              (2 bytes)
 *   REG_ERR   0x9210, REG_NGP 0x9211 (no such group), REG_NAK 0x9212              (2 bytes)
 * Everything else is an SRT packet: a data packet has the top bit of byte 0 clear and its
 * sequence number in the low 31 bits of the first word; a control packet has it set and its
 * 15-bit type after it (ACK = 2). SRT control types are 0x0000–0x0008 and 0x7fff, so a first
 * u16 of 0x8000–0x8008 or 0xffff; SRTLA's 0x9000–0x92ff never collide with them.
 */
import { randomFillSync } from 'node:crypto';

export const SRTLA_TYPE_KEEPALIVE = 0x9000;
export const SRTLA_TYPE_ACK = 0x9100;
export const SRTLA_TYPE_REG1 = 0x9200;
export const SRTLA_TYPE_REG2 = 0x9201;
export const SRTLA_TYPE_REG3 = 0x9202;
export const SRTLA_TYPE_REG_ERR = 0x9210;
export const SRTLA_TYPE_REG_NGP = 0x9211;
export const SRTLA_TYPE_REG_NAK = 0x9212;

/** Length of a group id. */
export const SRTLA_ID_LEN = 256;
/** The part of the id the sender chooses (the receiver fills the rest). */
export const SRTLA_ID_SENDER_LEN = SRTLA_ID_LEN / 2;
/** Length of REG1 and REG2. */
export const SRTLA_REG_LEN = 2 + SRTLA_ID_LEN;
/** Sequence numbers per SRTLA ACK. */
export const SRTLA_ACK_SEQS = 10;
/** Length of an SRTLA ACK: the type word and 10 sequence numbers. */
export const SRTLA_ACK_LEN = 4 + 4 * SRTLA_ACK_SEQS;

/** SRT control type of a (full or light) ACK. */
export const SRT_CONTROL_ACK = 0x0002;

/** What a datagram arriving on the SRTLA port is. */
export const enum Kind {
  /** Too short to be anything (0 or 1 byte). */
  Runt = 0,
  SrtData = 1,
  SrtControl = 2,
  Keepalive = 3,
  Ack = 4,
  Reg1 = 5,
  Reg2 = 6,
  Reg3 = 7,
  RegErr = 8,
  RegNgp = 9,
  RegNak = 10,
  /** A first u16 in SRTLA's 0x9000–0x92ff range that is not a known type, or a known type of the wrong length. */
  BadSrtla = 11,
}

/** Classifies one datagram (no allocation). */
export function classify(msg: Uint8Array): Kind {
  if (msg.length < 2) return Kind.Runt;
  const b0 = msg[0]!;
  if ((b0 & 0x80) === 0) return msg.length >= 16 ? Kind.SrtData : Kind.Runt;
  const type = (b0 << 8) | msg[1]!;
  if (type < 0x9000 || type > 0x92ff) return msg.length >= 16 ? Kind.SrtControl : Kind.Runt;
  switch (type) {
    case SRTLA_TYPE_KEEPALIVE:
      return Kind.Keepalive;
    case SRTLA_TYPE_ACK:
      return msg.length === SRTLA_ACK_LEN && msg[2] === 0 && msg[3] === 0 ? Kind.Ack : Kind.BadSrtla;
    case SRTLA_TYPE_REG1:
      return msg.length === SRTLA_REG_LEN ? Kind.Reg1 : Kind.BadSrtla;
    case SRTLA_TYPE_REG2:
      return msg.length === SRTLA_REG_LEN ? Kind.Reg2 : Kind.BadSrtla;
    case SRTLA_TYPE_REG3:
      return msg.length === 2 ? Kind.Reg3 : Kind.BadSrtla;
    case SRTLA_TYPE_REG_ERR:
      return msg.length === 2 ? Kind.RegErr : Kind.BadSrtla;
    case SRTLA_TYPE_REG_NGP:
      return msg.length === 2 ? Kind.RegNgp : Kind.BadSrtla;
    case SRTLA_TYPE_REG_NAK:
      return msg.length === 2 ? Kind.RegNak : Kind.BadSrtla;
    default:
      return Kind.BadSrtla;
  }
}

/** The sequence number of an SRT data packet (low 31 bits of the first word). */
export function srtDataSeq(msg: Uint8Array): number {
  return (((msg[0]! & 0x7f) << 24) | (msg[1]! << 16) | (msg[2]! << 8) | msg[3]!) >>> 0;
}

/** True for an SRT control packet of type ACK (the one answer sent on every link). */
export function isSrtAck(msg: Uint8Array): boolean {
  return msg.length >= 16 && msg[0] === 0x80 && msg[1] === SRT_CONTROL_ACK;
}

/** A two-byte message of `type` (REG3, REG_ERR, REG_NGP, REG_NAK; a bare keepalive). */
export function buildShort(type: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(type, 0);
  return b;
}

/** REG1 or REG2 with `id` (256 bytes). */
export function buildReg(type: typeof SRTLA_TYPE_REG1 | typeof SRTLA_TYPE_REG2, id: Uint8Array): Buffer {
  if (id.length !== SRTLA_ID_LEN) throw new RangeError(`an SRTLA group id is ${SRTLA_ID_LEN} bytes, got ${id.length}`);
  const b = Buffer.allocUnsafe(SRTLA_REG_LEN);
  b.writeUInt16BE(type, 0);
  b.set(id, 2);
  return b;
}

/** The 256-byte id carried by a REG1/REG2 (a view into `msg`, not a copy). */
export function regId(msg: Uint8Array): Uint8Array {
  return msg.subarray(2, 2 + SRTLA_ID_LEN);
}

/** A new sender-side id: random first half, zero second half (what REG1 carries). */
export function newSenderId(): Buffer {
  const id = Buffer.alloc(SRTLA_ID_LEN);
  randomFillSync(id, 0, SRTLA_ID_SENDER_LEN);
  return id;
}

/** The receiver's full id for a REG1's id: the sender's first half, then 128 random bytes. */
export function completeId(senderId: Uint8Array): Buffer {
  const id = Buffer.allocUnsafe(SRTLA_ID_LEN);
  id.set(senderId.subarray(0, SRTLA_ID_SENDER_LEN), 0);
  randomFillSync(id, SRTLA_ID_SENDER_LEN, SRTLA_ID_LEN - SRTLA_ID_SENDER_LEN);
  return id;
}

/** True when `full` (from REG2) starts with the sender half of `senderId` (from REG1). */
export function sameSenderHalf(full: Uint8Array, senderId: Uint8Array): boolean {
  for (let i = 0; i < SRTLA_ID_SENDER_LEN; i++) if (full[i] !== senderId[i]) return false;
  return true;
}

/** A reusable SRTLA ACK buffer: the type word written once, sequence numbers filled in place. */
export function newAckBuffer(): Buffer {
  const b = Buffer.alloc(SRTLA_ACK_LEN);
  b.writeUInt32BE((SRTLA_TYPE_ACK << 16) >>> 0, 0);
  return b;
}

/** Writes sequence number `seq` as the `i`-th (0..9) entry of an ACK buffer. */
export function putAckSeq(ack: Buffer, i: number, seq: number): void {
  ack.writeUInt32BE(seq >>> 0, 4 + 4 * i);
}

/** The sequence numbers of an SRTLA ACK (for senders and tests). */
export function parseAck(msg: Uint8Array): number[] {
  if (classify(msg) !== Kind.Ack) throw new RangeError('not an SRTLA ACK');
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const out: number[] = [];
  for (let i = 0; i < SRTLA_ACK_SEQS; i++) out.push(v.getUint32(4 + 4 * i));
  return out;
}

/** Human name of a kind, for logs. */
export function kindName(k: Kind): string {
  return ['runt', 'srt-data', 'srt-control', 'keepalive', 'srtla-ack', 'reg1', 'reg2', 'reg3', 'reg-err', 'reg-ngp', 'reg-nak', 'bad-srtla'][k] ?? 'unknown';
}
