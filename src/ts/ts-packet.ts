/**
 * MPEG-TS packet header accessors (ISO/IEC 13818-1 §2.4.3). Every helper reads bytes straight
 * from a Uint8Array at `p`, the offset of a packet's sync byte; none allocates or checks bounds
 * beyond the 188 bytes of the packet, so callers must pass whole packets.
 *
 *   byte 0    sync 0x47
 *   byte 1    TEI(1) PUSI(1) priority(1) PID[12:8](5)
 *   byte 2    PID[7:0]
 *   byte 3    scrambling(2) adaptation_field_control(2) continuity_counter(4)
 *   byte 4    adaptation_field_length            (when adaptation_field_control & 2)
 *   byte 5    discontinuity(1) random_access(1) ES_priority(1) PCR(1) OPCR(1) splicing(1) private(1) ext(1)
 *   byte 6-11 PCR: base(33) reserved(6) extension(9)
 */

export const TS_PACKET_SIZE = 188;
export const TS_SYNC_BYTE = 0x47;
export const PID_PAT = 0x0000;
export const PID_CAT = 0x0001;
export const PID_NULL = 0x1fff;
export const PID_COUNT = 0x2000;

/** adaptation_field_control bits. */
export const AFC_PAYLOAD = 0x1;
export const AFC_ADAPTATION = 0x2;

/** Adaptation field flag bits (byte 5 of the packet). */
export const AF_DISCONTINUITY = 0x80;
export const AF_RANDOM_ACCESS = 0x40;
export const AF_PCR = 0x10;

/** PCR ticks per second (27 MHz) and the PCR's modulus: 2^33 * 300 (about 26.5 hours). */
export const PCR_HZ = 27_000_000;
export const PCR_WRAP = 8589934592 * 300;
/** PTS/DTS ticks per second (90 kHz) and modulus 2^33. */
export const PTS_HZ = 90_000;
export const PTS_WRAP = 8589934592;

export function tsHasSync(b: Uint8Array, p: number): boolean {
  return b[p] === TS_SYNC_BYTE;
}

/** transport_error_indicator: the demodulator flagged the packet as damaged. */
export function tsTransportError(b: Uint8Array, p: number): boolean {
  return (b[p + 1]! & 0x80) !== 0;
}

/** payload_unit_start_indicator: a PES packet or a PSI section starts in this packet. */
export function tsPusi(b: Uint8Array, p: number): boolean {
  return (b[p + 1]! & 0x40) !== 0;
}

export function tsPid(b: Uint8Array, p: number): number {
  return ((b[p + 1]! & 0x1f) << 8) | b[p + 2]!;
}

/** adaptation_field_control: 1 payload only, 2 adaptation field only, 3 both, 0 reserved. */
export function tsAdaptationFieldControl(b: Uint8Array, p: number): number {
  return (b[p + 3]! >> 4) & 0x3;
}

export function tsScrambling(b: Uint8Array, p: number): number {
  return b[p + 3]! >> 6;
}

export function tsContinuityCounter(b: Uint8Array, p: number): number {
  return b[p + 3]! & 0x0f;
}

export function tsHasPayload(b: Uint8Array, p: number): boolean {
  return (b[p + 3]! & 0x10) !== 0;
}

export function tsHasAdaptationField(b: Uint8Array, p: number): boolean {
  return (b[p + 3]! & 0x20) !== 0;
}

/** adaptation_field_length (0 when the packet has no adaptation field). */
export function tsAdaptationFieldLength(b: Uint8Array, p: number): number {
  return (b[p + 3]! & 0x20) !== 0 ? b[p + 4]! : 0;
}

/** The adaptation field's flag byte, or 0 when there is none (or it is empty). */
export function tsAdaptationFlags(b: Uint8Array, p: number): number {
  return (b[p + 3]! & 0x20) !== 0 && b[p + 4]! > 0 ? b[p + 5]! : 0;
}

export function tsDiscontinuity(b: Uint8Array, p: number): boolean {
  return (tsAdaptationFlags(b, p) & AF_DISCONTINUITY) !== 0;
}

export function tsRandomAccess(b: Uint8Array, p: number): boolean {
  return (tsAdaptationFlags(b, p) & AF_RANDOM_ACCESS) !== 0;
}

export function tsHasPcr(b: Uint8Array, p: number): boolean {
  return (tsAdaptationFlags(b, p) & AF_PCR) !== 0 && b[p + 4]! >= 7;
}

/**
 * The PCR as 27 MHz ticks (base * 300 + extension, < 2^43, exact in a double), or -1 when the
 * packet carries none.
 */
export function tsPcr(b: Uint8Array, p: number): number {
  if (!tsHasPcr(b, p)) return -1;
  return readPcr(b, p + 6);
}

/** The 6 PCR bytes at `q` as 27 MHz ticks (no presence check). */
export function readPcr(b: Uint8Array, q: number): number {
  // base: 33 bits = b0(8) b1(8) b2(8) b3(8) b4 bit 7; the top byte is scaled by 2^25 to stay exact.
  const base = b[q]! * 33554432 + ((b[q + 1]! << 17) | (b[q + 2]! << 9) | (b[q + 3]! << 1) | (b[q + 4]! >> 7));
  const ext = ((b[q + 4]! & 0x01) << 8) | b[q + 5]!;
  return base * 300 + ext;
}

/**
 * Offset (absolute, within `b`) of the packet's payload, or -1 when the packet has no payload or
 * its adaptation_field_length runs past the packet.
 */
export function tsPayloadOffset(b: Uint8Array, p: number): number {
  const afc = (b[p + 3]! >> 4) & 0x3;
  if ((afc & AFC_PAYLOAD) === 0) return -1;
  if ((afc & AFC_ADAPTATION) === 0) return p + 4;
  const start = p + 5 + b[p + 4]!;
  return start < p + TS_PACKET_SIZE ? start : -1;
}

/** A 33-bit PTS/DTS from the 5 bytes at `q` of a PES header, in 90 kHz ticks. */
export function readPts(b: Uint8Array, q: number): number {
  return (
    ((b[q]! >> 1) & 0x07) * 1073741824 +
    ((b[q + 1]! << 22) | ((b[q + 2]! >> 1) << 15) | (b[q + 3]! << 7) | (b[q + 4]! >> 1))
  );
}
