/**
 * PSI: section reassembly across TS packets, the MPEG-2 CRC32, and PAT/PMT parsing
 * (ISO/IEC 13818-1 §2.4.4). Reassembly reuses one buffer per PID; parsing allocates the result
 * objects, so callers parse only sections whose CRC differs from the last one they parsed.
 */

/** Longest section a SectionAssembler keeps: 3 header bytes + section_length up to 4093 (private sections). */
export const MAX_SECTION_BYTES = 4096;

export const TABLE_PAT = 0x00;
export const TABLE_CAT = 0x01;
export const TABLE_PMT = 0x02;

/** Descriptor tags that PMT parsing decodes. */
export const DESC_REGISTRATION = 0x05;
export const DESC_ISO_639_LANGUAGE = 0x0a;
export const DESC_METADATA_POINTER = 0x25;
export const DESC_METADATA = 0x26;
export const DESC_TELETEXT_VBI = 0x46;
export const DESC_TELETEXT = 0x56;
export const DESC_SUBTITLING = 0x59;
export const DESC_DVB_AC3 = 0x6a;
export const DESC_DVB_EAC3 = 0x7a;
export const DESC_DVB_DTS = 0x7b;
export const DESC_DVB_AAC = 0x7c;
export const DESC_DVB_EXTENSION = 0x7f;
export const DESC_ATSC_AC3 = 0x81;
export const DESC_SCTE35_CUE_IDENTIFIER = 0x8a;
export const DESC_ATSC_EAC3 = 0xcc;
/** DVB extension descriptor tag_extension values. */
export const DESC_EXT_AC4 = 0x15;

// --- CRC32/MPEG-2: polynomial 0x04C11DB7, init 0xFFFFFFFF, not reflected, no final xor ----------

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c;
  }
  return t;
})();

/**
 * CRC32/MPEG-2 of `b[start, end)` as an unsigned 32-bit number. Over a whole section including
 * its CRC_32 field the result is 0.
 */
export function crc32Mpeg2(b: Uint8Array, start: number, end: number): number {
  let crc = -1;
  for (let i = start; i < end; i++) crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ b[i]!) & 0xff]!;
  return crc >>> 0;
}

/** True when the section in `b[0, len)` has section_syntax_indicator set and a correct CRC_32. */
export function sectionCrcOk(b: Uint8Array, len: number): boolean {
  return len >= 12 && (b[1]! & 0x80) !== 0 && crc32Mpeg2(b, 0, len) === 0;
}

// --- Reassembly ---------------------------------------------------------------------------------

/** Receives one complete section: `buf[0, len)` (valid until the next packet of the PID). */
export type SectionHandler = (buf: Uint8Array, len: number) => void;

/**
 * Collects the sections of one PID from TS packet payloads (pointer_field handling, sections
 * spanning packets, several sections per packet, 0xFF stuffing). No allocation after construction.
 */
export class SectionAssembler {
  readonly buf: Uint8Array;
  /** Bytes of the current section collected so far. */
  length = 0;
  /** Total bytes of the current section (3 + section_length), 0 until known. */
  expected = 0;
  /** A section is being collected. */
  active = false;
  /** Sections dropped: too long, or cut short by a new section start. */
  dropped = 0;
  /** Caller-defined tag of the packet the current section started in (see `packetTag`). */
  startTag = 0;
  /** Set by the caller before push(): recorded as startTag when a section starts in that packet. */
  packetTag = 0;

  constructor(maxSectionBytes = MAX_SECTION_BYTES) {
    this.buf = new Uint8Array(maxSectionBytes);
  }

  reset(): void {
    this.active = false;
    this.length = 0;
    this.expected = 0;
  }

  /**
   * Feeds the payload `b[start, end)` of one packet of the PID; `pusi` is the packet's
   * payload_unit_start_indicator. Calls `onSection` for every section completed by these bytes.
   */
  push(b: Uint8Array, start: number, end: number, pusi: boolean, onSection: SectionHandler): void {
    let p = start;
    if (pusi) {
      if (p >= end) return;
      const pointer = b[p]!;
      p++;
      const tailEnd = p + pointer < end ? p + pointer : end;
      if (this.active) {
        this.#append(b, p, tailEnd, onSection);
        if (this.active) {
          this.dropped++;
          this.active = false;
        }
      }
      p = tailEnd;
      while (p < end && b[p] !== 0xff) {
        this.active = true;
        this.length = 0;
        this.expected = 0;
        this.startTag = this.packetTag;
        p = this.#append(b, p, end, onSection);
        if (this.active) break;
      }
    } else if (this.active) {
      this.#append(b, p, end, onSection);
    }
  }

  /** Appends up to the end of the current section; returns the offset after the bytes used. */
  #append(b: Uint8Array, p: number, end: number, onSection: SectionHandler): number {
    const buf = this.buf;
    while (p < end) {
      if (this.expected === 0) {
        buf[this.length++] = b[p++]!;
        if (this.length === 3) {
          const total = 3 + (((buf[1]! & 0x0f) << 8) | buf[2]!);
          if (total > buf.length) {
            this.dropped++;
            this.active = false;
            return end;
          }
          this.expected = total;
        }
        continue;
      }
      let n = this.expected - this.length;
      if (n > end - p) n = end - p;
      for (let i = 0; i < n; i++) buf[this.length + i] = b[p + i]!;
      this.length += n;
      p += n;
      if (this.length === this.expected) {
        this.active = false;
        onSection(buf, this.length);
        return p;
      }
    }
    return p;
  }
}

// --- Tables ---------------------------------------------------------------------------------------

export interface PatProgram {
  programNumber: number;
  /** program_map_PID. */
  pmtPid: number;
}

export interface Pat {
  transportStreamId: number;
  version: number;
  sectionNumber: number;
  lastSectionNumber: number;
  /** Programs in section order (program_number 0, the network PID, excluded). */
  programs: PatProgram[];
  networkPid: number | null;
}

/** What the descriptors of a PMT loop (program or elementary stream) say. */
export interface Descriptors {
  /** Every descriptor tag, in order. */
  tags: number[];
  /** registration_descriptor (0x05) format_identifier as 4 ASCII characters, e.g. 'Opus', 'AC-3', 'HEVC', 'CUEI'. */
  registration?: string;
  /** First ISO_639_language_descriptor (0x0A) code, e.g. 'eng'. */
  language?: string;
  /** DVB AC-3 (0x6A) or ATSC AC-3 audio (0x81) descriptor present. */
  ac3?: boolean;
  /** DVB enhanced AC-3 (0x7A) or ATSC E-AC-3 (0xCC) descriptor present. */
  eac3?: boolean;
  /** DVB AC-4 (extension descriptor 0x7F, tag_extension 0x15). */
  ac4?: boolean;
  /** DVB DTS descriptor (0x7B). */
  dts?: boolean;
  /** DVB AAC descriptor (0x7C). */
  aac?: boolean;
  /** DVB subtitling descriptor (0x59). */
  subtitling?: boolean;
  /** DVB teletext / VBI teletext descriptor (0x56 / 0x46). */
  teletext?: boolean;
  /** SCTE-35 cue_identifier_descriptor (0x8A) cue_stream_type. */
  cueStreamType?: number;
  /** metadata_descriptor (0x26) / metadata_pointer_descriptor (0x25) format: metadata_format_identifier ('ID3 ') when metadata_format is 0xFF, else the format byte as '0xNN'. */
  metadataFormat?: string;
}

export interface PmtStream {
  streamType: number;
  pid: number;
  descriptors: Descriptors;
}

export interface Pmt {
  programNumber: number;
  version: number;
  pcrPid: number;
  programDescriptors: Descriptors;
  streams: PmtStream[];
}

function fourCC(b: Uint8Array, q: number): string {
  return String.fromCharCode(b[q]!, b[q + 1]!, b[q + 2]!, b[q + 3]!);
}

/** Decodes a descriptor loop `b[start, end)`. */
export function parseDescriptors(b: Uint8Array, start: number, end: number): Descriptors {
  const d: Descriptors = { tags: [] };
  let q = start;
  while (q + 2 <= end) {
    const tag = b[q]!;
    const len = b[q + 1]!;
    const body = q + 2;
    if (body + len > end) break;
    d.tags.push(tag);
    switch (tag) {
      case DESC_REGISTRATION:
        if (len >= 4 && d.registration === undefined) d.registration = fourCC(b, body);
        break;
      case DESC_ISO_639_LANGUAGE:
        if (len >= 3 && d.language === undefined) {
          const code = String.fromCharCode(b[body]!, b[body + 1]!, b[body + 2]!);
          if (/^[\x20-\x7e]{3}$/.test(code)) d.language = code.trim();
        }
        break;
      case DESC_DVB_AC3:
      case DESC_ATSC_AC3:
        d.ac3 = true;
        break;
      case DESC_DVB_EAC3:
      case DESC_ATSC_EAC3:
        d.eac3 = true;
        break;
      case DESC_DVB_DTS:
        d.dts = true;
        break;
      case DESC_DVB_AAC:
        d.aac = true;
        break;
      case DESC_SUBTITLING:
        d.subtitling = true;
        if (len >= 3 && d.language === undefined) d.language = String.fromCharCode(b[body]!, b[body + 1]!, b[body + 2]!);
        break;
      case DESC_TELETEXT:
      case DESC_TELETEXT_VBI:
        d.teletext = true;
        if (tag === DESC_TELETEXT && len >= 3 && d.language === undefined) {
          d.language = String.fromCharCode(b[body]!, b[body + 1]!, b[body + 2]!);
        }
        break;
      case DESC_DVB_EXTENSION:
        if (len >= 1 && b[body] === DESC_EXT_AC4) d.ac4 = true;
        break;
      case DESC_SCTE35_CUE_IDENTIFIER:
        if (len >= 1) d.cueStreamType = b[body]!;
        break;
      case DESC_METADATA:
      case DESC_METADATA_POINTER: {
        // metadata_application_format(16) [identifier(32) if 0xFFFF] metadata_format(8) [identifier(32) if 0xFF]
        let r = body;
        const bodyEnd = body + len;
        if (r + 2 > bodyEnd) break;
        const appFormat = (b[r]! << 8) | b[r + 1]!;
        r += appFormat === 0xffff ? 6 : 2;
        if (r + 1 > bodyEnd) break;
        const format = b[r]!;
        if (format === 0xff) {
          if (r + 5 <= bodyEnd) d.metadataFormat = fourCC(b, r + 1);
        } else {
          d.metadataFormat = `0x${format.toString(16).padStart(2, '0')}`;
        }
        break;
      }
      default:
        break;
    }
    q = body + len;
  }
  return d;
}

/**
 * Parses a PAT section `b[0, len)` (CRC already checked by the caller, or not: this only checks
 * the structure). Returns null for anything that is not a current PAT section.
 */
export function parsePat(b: Uint8Array, len: number): Pat | null {
  if (len < 12 || b[0] !== TABLE_PAT || (b[1]! & 0x80) === 0) return null;
  const sectionLength = ((b[1]! & 0x0f) << 8) | b[2]!;
  if (3 + sectionLength > len) return null;
  if ((b[5]! & 0x01) === 0) return null; // current_next_indicator = 0: not yet applicable
  const pat: Pat = {
    transportStreamId: (b[3]! << 8) | b[4]!,
    version: (b[5]! >> 1) & 0x1f,
    sectionNumber: b[6]!,
    lastSectionNumber: b[7]!,
    programs: [],
    networkPid: null,
  };
  const end = 3 + sectionLength - 4;
  for (let q = 8; q + 4 <= end; q += 4) {
    const programNumber = (b[q]! << 8) | b[q + 1]!;
    const pid = ((b[q + 2]! & 0x1f) << 8) | b[q + 3]!;
    if (programNumber === 0) pat.networkPid = pid;
    else pat.programs.push({ programNumber, pmtPid: pid });
  }
  return pat;
}

/** Parses a PMT section `b[0, len)` (structure only; CRC is the caller's). Null if not a current PMT. */
export function parsePmt(b: Uint8Array, len: number): Pmt | null {
  if (len < 16 || b[0] !== TABLE_PMT || (b[1]! & 0x80) === 0) return null;
  const sectionLength = ((b[1]! & 0x0f) << 8) | b[2]!;
  if (3 + sectionLength > len) return null;
  if ((b[5]! & 0x01) === 0) return null;
  const end = 3 + sectionLength - 4;
  const programInfoLength = ((b[10]! & 0x0f) << 8) | b[11]!;
  let q = 12 + programInfoLength;
  if (q > end) return null;
  const pmt: Pmt = {
    programNumber: (b[3]! << 8) | b[4]!,
    version: (b[5]! >> 1) & 0x1f,
    pcrPid: ((b[8]! & 0x1f) << 8) | b[9]!,
    programDescriptors: parseDescriptors(b, 12, q),
    streams: [],
  };
  while (q + 5 <= end) {
    const streamType = b[q]!;
    const pid = ((b[q + 1]! & 0x1f) << 8) | b[q + 2]!;
    const esInfoLength = ((b[q + 3]! & 0x0f) << 8) | b[q + 4]!;
    const dEnd = q + 5 + esInfoLength;
    if (dEnd > end) break;
    pmt.streams.push({ streamType, pid, descriptors: parseDescriptors(b, q + 5, dEnd) });
    q = dEnd;
  }
  return pmt;
}
