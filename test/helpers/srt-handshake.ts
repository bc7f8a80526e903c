/**
 * Raw SRT handshake packets, built byte by byte for fuzzing a listener from node:dgram (written
 * from the SRT draft, draft-sharabayko-srt §3.2.1, and libsrt 1.5's handshake.h / core.cpp):
 *
 *   header (16 bytes): word0 = 0x80000000 (control bit, type 0 = handshake, subtype 0),
 *                      word1 = type-specific info (0), word2 = timestamp µs, word3 = destination
 *                      socket id (0 for a listener)
 *   CIF (48 bytes):    version | encryption(16) extension(16) | initial sequence number | MTU |
 *                      max flow window | handshake type (1 induction, 0xFFFFFFFF conclusion,
 *                      0 wave-a-hand, 0xFFFFFFFE agreement) | SRT socket id | SYN cookie |
 *                      peer IP (16 bytes)
 *   extensions (HSv5 conclusion only): type(16) length-in-32-bit-words(16) content...
 *     SRT_CMD_HSREQ = 1 (3 words: SRT version, flags, receiver/sender TSBPD delay)
 *     SRT_CMD_KMREQ = 3, SRT_CMD_SID = 5 (the stream id; libsrt stores each 4-byte group of
 *     the string byte-reversed: it reads the bytes as host-order (little-endian) words and
 *     writes them in network order), SRT_CMD_CONGESTION = 6, SRT_CMD_FILTER = 7,
 *     SRT_CMD_GROUP = 8.
 *
 * A caller's induction is version 4 with extension field 2 (UDT_DGRAM) and cookie 0; the listener
 * answers version 5, extension field 0x4A17 (the SRT magic) and a cookie that the conclusion
 * (version 5, extension flags HSREQ=1 | KMREQ=2 | CONFIG=4) must echo.
 */

export const HS_HEADER = 16;
export const HS_CIF = 48;
export const HS_MIN = HS_HEADER + HS_CIF;

export const HS_TYPE_INDUCTION = 1;
export const HS_TYPE_CONCLUSION = 0xffffffff;
export const HS_TYPE_WAVEAHAND = 0;
export const HS_TYPE_AGREEMENT = 0xfffffffe;

export const SRT_MAGIC = 0x4a17;
export const HS_EXT_HSREQ = 1;
export const HS_EXT_KMREQ = 2;
export const HS_EXT_CONFIG = 4;

export const SRT_CMD_HSREQ = 1;
export const SRT_CMD_HSRSP = 2;
export const SRT_CMD_KMREQ = 3;
export const SRT_CMD_SID = 5;
export const SRT_CMD_CONGESTION = 6;
export const SRT_CMD_FILTER = 7;
export const SRT_CMD_GROUP = 8;

/** TSBPDSND | TSBPDRCV | TLPKTDROP | PERIODICNAK | REXMITFLG (what a live-mode caller sends). */
export const HSREQ_FLAGS_LIVE = 0x01 | 0x02 | 0x08 | 0x10 | 0x20;

export interface HandshakeFields {
  version: number;
  encryption?: number;
  extension: number;
  isn?: number;
  mtu?: number;
  flightWindow?: number;
  type: number;
  socketId: number;
  cookie: number;
  destSocketId?: number;
  timestamp?: number;
}

/** Header + CIF (64 bytes), every field as given. */
export function handshakePacket(f: HandshakeFields): Buffer {
  const b = Buffer.alloc(HS_MIN);
  b.writeUInt32BE(0x80000000, 0);
  b.writeUInt32BE(0, 4);
  b.writeUInt32BE((f.timestamp ?? 0) >>> 0, 8);
  b.writeUInt32BE((f.destSocketId ?? 0) >>> 0, 12);
  const c = HS_HEADER;
  b.writeUInt32BE(f.version >>> 0, c);
  b.writeUInt16BE((f.encryption ?? 0) & 0xffff, c + 4);
  b.writeUInt16BE(f.extension & 0xffff, c + 6);
  b.writeUInt32BE((f.isn ?? 0x1234567) >>> 0, c + 8);
  b.writeUInt32BE((f.mtu ?? 1500) >>> 0, c + 12);
  b.writeUInt32BE((f.flightWindow ?? 8192) >>> 0, c + 16);
  b.writeUInt32BE(f.type >>> 0, c + 20);
  b.writeUInt32BE(f.socketId >>> 0, c + 24);
  b.writeUInt32BE(f.cookie >>> 0, c + 28);
  // peer IP: 127.0.0.1 as libsrt writes an IPv4 address (first word), rest zero
  b.writeUInt32BE(0x0100007f, c + 32);
  return b;
}

/** A caller's induction request (HSv5 caller: version 4, UDT_DGRAM). */
export function inductionPacket(socketId: number, overrides: Partial<HandshakeFields> = {}): Buffer {
  return handshakePacket({ version: 4, extension: 2, type: HS_TYPE_INDUCTION, socketId, cookie: 0, ...overrides });
}

/** The cookie of a listener's induction response, or undefined when `msg` is not one. */
export function inductionCookie(msg: Buffer): number | undefined {
  if (msg.length < HS_MIN) return undefined;
  if (msg.readUInt32BE(0) !== 0x80000000) return undefined;
  if (msg.readUInt32BE(HS_HEADER + 20) !== HS_TYPE_INDUCTION) return undefined;
  return msg.readUInt32BE(HS_HEADER + 28);
}

/** Handshake type of a handshake packet the listener sent back (e.g. a rejection code 1000+), or undefined. */
export function handshakeType(msg: Buffer): number | undefined {
  if (msg.length < HS_MIN || msg.readUInt32BE(0) !== 0x80000000) return undefined;
  return msg.readUInt32BE(HS_HEADER + 20);
}

/** One extension block: type, length (words; default: the content's length) and content. */
export function extension(type: number, content: Uint8Array, lengthWords?: number): Buffer {
  const padded = Buffer.alloc(Math.ceil(content.length / 4) * 4);
  padded.set(content);
  const b = Buffer.alloc(4 + padded.length);
  b.writeUInt16BE(type & 0xffff, 0);
  b.writeUInt16BE((lengthWords ?? padded.length / 4) & 0xffff, 2);
  padded.copy(b, 4);
  return b;
}

/** The HSREQ extension of a live-mode HSv5 caller (SRT 1.5.1, TSBPD delays `delayMs`). */
export function hsreqExtension(opts: { version?: number; flags?: number; delayMs?: number } = {}): Buffer {
  const c = Buffer.alloc(12);
  c.writeUInt32BE((opts.version ?? 0x010501) >>> 0, 0);
  c.writeUInt32BE((opts.flags ?? HSREQ_FLAGS_LIVE) >>> 0, 4);
  const d = (opts.delayMs ?? 120) & 0xffff;
  c.writeUInt32BE(((d << 16) | d) >>> 0, 8);
  return extension(SRT_CMD_HSREQ, c);
}

/** Stream-id bytes as libsrt puts them on the wire: zero-padded to 4, each 4-byte group reversed. */
export function streamIdWire(bytes: Uint8Array): Buffer {
  const padded = Buffer.alloc(Math.ceil(bytes.length / 4) * 4);
  padded.set(bytes);
  for (let i = 0; i < padded.length; i += 4) {
    const a = padded[i]!;
    const b = padded[i + 1]!;
    padded[i] = padded[i + 3]!;
    padded[i + 1] = padded[i + 2]!;
    padded[i + 2] = b;
    padded[i + 3] = a;
  }
  return padded;
}

/** The SID extension for `sid` (string: UTF-8; bytes: as they are), optionally with a false length. */
export function sidExtension(sid: string | Uint8Array, lengthWords?: number): Buffer {
  const bytes = typeof sid === 'string' ? Buffer.from(sid, 'utf8') : sid;
  return extension(SRT_CMD_SID, streamIdWire(bytes), lengthWords);
}

/** An HSv5 conclusion request echoing `cookie`, followed by `extensions` (already encoded). */
export function conclusionPacket(
  socketId: number,
  cookie: number,
  extensions: readonly Buffer[],
  overrides: Partial<HandshakeFields> = {},
): Buffer {
  const hasSid = extensions.some((e) => e.length >= 2 && e.readUInt16BE(0) >= SRT_CMD_SID);
  const head = handshakePacket({
    version: 5,
    extension: HS_EXT_HSREQ | (hasSid ? HS_EXT_CONFIG : 0),
    type: HS_TYPE_CONCLUSION,
    socketId,
    cookie,
    ...overrides,
  });
  return Buffer.concat([head, ...extensions]);
}
