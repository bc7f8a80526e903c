/**
 * A small MPEG-TS builder for synthetic test streams: PAT/PMT sections with a correct CRC_32
 * (computed here bit by bit, independently of src/ts/psi.ts), descriptors, PES packets split
 * into TS packets with per-PID continuity counters, and an H.264 SPS writer.
 */

export const TS = 188;

/** CRC32/MPEG-2, bitwise (the reference the table-driven one in src/ts/psi.ts is checked against). */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte << 24;
    for (let k = 0; k < 8; k++) crc = crc & 0x80000000 ? ((crc << 1) ^ 0x04c11db7) >>> 0 : (crc << 1) >>> 0;
  }
  return crc >>> 0;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A long-form section: table_id, table_id_extension, version, body, CRC_32. */
export function section(tableId: number, tableIdExtension: number, version: number, body: Uint8Array): Uint8Array {
  const sectionLength = 5 + body.length + 4;
  const head = Uint8Array.of(
    tableId,
    0xb0 | ((sectionLength >> 8) & 0x0f),
    sectionLength & 0xff,
    tableIdExtension >> 8,
    tableIdExtension & 0xff,
    0xc1 | ((version & 0x1f) << 1),
    0x00,
    0x00,
  );
  const withoutCrc = concat([head, body]);
  const crc = crc32(withoutCrc);
  return concat([withoutCrc, Uint8Array.of(crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff)]);
}

export function patSection(programs: Array<{ number: number; pmtPid: number }>, version = 0, tsid = 1): Uint8Array {
  const body = new Uint8Array(programs.length * 4);
  programs.forEach((p, i) => {
    body.set([p.number >> 8, p.number & 0xff, 0xe0 | (p.pmtPid >> 8), p.pmtPid & 0xff], i * 4);
  });
  return section(0x00, tsid, version, body);
}

export interface PmtStreamSpec {
  type: number;
  pid: number;
  descriptors?: Uint8Array[];
}

export function pmtSection(
  programNumber: number,
  pcrPid: number,
  streams: PmtStreamSpec[],
  programDescriptors: Uint8Array[] = [],
  version = 0,
): Uint8Array {
  const progInfo = concat(programDescriptors);
  const parts: Uint8Array[] = [
    Uint8Array.of(0xe0 | (pcrPid >> 8), pcrPid & 0xff, 0xf0 | (progInfo.length >> 8), progInfo.length & 0xff),
    progInfo,
  ];
  for (const s of streams) {
    const es = concat(s.descriptors ?? []);
    parts.push(Uint8Array.of(s.type, 0xe0 | (s.pid >> 8), s.pid & 0xff, 0xf0 | (es.length >> 8), es.length & 0xff), es);
  }
  return section(0x02, programNumber, version, concat(parts));
}

export function descriptor(tag: number, body: ArrayLike<number>): Uint8Array {
  return Uint8Array.from([tag, body.length, ...Array.from(body)]);
}

const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

export const desc = {
  registration: (fourcc: string) => descriptor(0x05, ascii(fourcc)),
  language: (code: string) => descriptor(0x0a, [...ascii(code), 0x00]),
  dvbAc3: () => descriptor(0x6a, [0x00]),
  dvbEac3: () => descriptor(0x7a, [0x00]),
  cueIdentifier: (cueStreamType = 0x01) => descriptor(0x8a, [cueStreamType]),
  /** metadata_descriptor for ID3 (Apple HLS timed metadata): application format 0xFFFF 'ID3 ', format 0xFF 'ID3 '. */
  id3Metadata: () => descriptor(0x26, [0xff, 0xff, ...ascii('ID3 '), 0xff, ...ascii('ID3 '), 0x00, 0x0f]),
};

/** Builds TS packets, keeping a continuity counter per PID. */
export class TsWriter {
  readonly packets: Uint8Array[] = [];
  readonly #cc = new Map<number, number>();

  #nextCc(pid: number): number {
    const cc = ((this.#cc.get(pid) ?? -1) + 1) & 0x0f;
    this.#cc.set(pid, cc);
    return cc;
  }

  /**
   * One packet. `adaptation` is the adaptation field after its length byte (flags first); when
   * the payload does not fill the packet, the adaptation field is added or stuffed with 0xFF.
   */
  packet(pid: number, opts: { pusi?: boolean; payload?: Uint8Array; adaptation?: Uint8Array; cc?: number }): Uint8Array {
    const pkt = new Uint8Array(TS).fill(0xff);
    const payload = opts.payload ?? new Uint8Array(0);
    let af = opts.adaptation;
    const room = TS - 4 - payload.length - (af ? 1 + af.length : 0);
    if (room < 0) throw new RangeError('payload does not fit');
    if (room > 0) {
      if (af) af = concat([af, new Uint8Array(room).fill(0xff)]);
      else if (room === 1) af = new Uint8Array(0);
      else af = concat([Uint8Array.of(0x00), new Uint8Array(room - 2).fill(0xff)]);
    }
    const hasPayload = opts.payload !== undefined;
    const afc = (af !== undefined ? 2 : 0) | (hasPayload ? 1 : 0);
    const cc = opts.cc ?? (hasPayload ? this.#nextCc(pid) : (this.#cc.get(pid) ?? 0));
    pkt[0] = 0x47;
    pkt[1] = (opts.pusi ? 0x40 : 0) | ((pid >> 8) & 0x1f);
    pkt[2] = pid & 0xff;
    pkt[3] = (afc << 4) | cc;
    let o = 4;
    if (af !== undefined) {
      pkt[o++] = af.length;
      pkt.set(af, o);
      o += af.length;
    }
    pkt.set(payload, o);
    this.packets.push(pkt);
    return pkt;
  }

  /** A PSI section on `pid` (pointer_field 0, continued over as many packets as needed, 0xFF stuffing). */
  psi(pid: number, sec: Uint8Array): void {
    const data = concat([Uint8Array.of(0x00), sec]);
    for (let o = 0; o < data.length; o += TS - 4) {
      const chunk = new Uint8Array(TS - 4).fill(0xff);
      chunk.set(data.subarray(o, o + TS - 4));
      this.packet(pid, { pusi: o === 0, payload: chunk });
    }
  }

  /**
   * A PES packet on `pid` split over TS packets; the last one is padded with adaptation-field
   * stuffing. `pts` (90 kHz) goes in the PES header; `headerPadding` adds stuffing bytes to the
   * PES header; `rai`/`pcr` go in the first packet's adaptation field.
   */
  pes(pid: number, streamId: number, es: Uint8Array, opts: { pts?: number; headerPadding?: number; rai?: boolean; pcr?: number } = {}): void {
    const ptsBytes = opts.pts === undefined ? [] : encodePts(0x2, opts.pts);
    const pad = new Array<number>(opts.headerPadding ?? 0).fill(0xff);
    const hdrData = [...ptsBytes, ...pad];
    const pesLen = 3 + hdrData.length + es.length;
    const header = Uint8Array.from([
      0x00, 0x00, 0x01, streamId,
      pesLen > 0xffff ? 0 : pesLen >> 8, pesLen > 0xffff ? 0 : pesLen & 0xff,
      0x80, opts.pts === undefined ? 0x00 : 0x80, hdrData.length,
      ...hdrData,
    ]);
    const data = concat([header, es]);
    let o = 0;
    let first = true;
    while (o < data.length) {
      let af: Uint8Array | undefined;
      if (first && (opts.rai || opts.pcr !== undefined)) {
        const flags = (opts.rai ? 0x40 : 0) | (opts.pcr !== undefined ? 0x10 : 0);
        af = Uint8Array.from([flags, ...(opts.pcr !== undefined ? encodePcr(opts.pcr) : [])]);
      }
      const room = TS - 4 - (af ? 1 + af.length : 0);
      const n = Math.min(room, data.length - o);
      this.packet(pid, { pusi: first, payload: data.subarray(o, o + n), ...(af ? { adaptation: af } : {}) });
      o += n;
      first = false;
    }
  }

  /** A null packet (PID 0x1FFF). */
  nullPacket(): void {
    this.packet(0x1fff, { payload: new Uint8Array(TS - 4), cc: 0 });
  }

  bytes(): Uint8Array {
    return concat(this.packets);
  }
}

function encodePts(prefix: number, pts: number): number[] {
  const hi = Math.floor(pts / 2 ** 30) & 0x7;
  const lo = pts % 2 ** 30;
  return [
    (prefix << 4) | (hi << 1) | 1,
    (lo >> 22) & 0xff,
    (((lo >> 15) & 0x7f) << 1) | 1,
    (lo >> 7) & 0xff,
    ((lo & 0x7f) << 1) | 1,
  ];
}

/** PCR in 27 MHz ticks → the 6 adaptation-field bytes. */
export function encodePcr(pcr: number): number[] {
  const base = Math.floor(pcr / 300);
  const ext = pcr % 300;
  const hi = Math.floor(base / 2 ** 25);
  const lo = base % 2 ** 25;
  return [hi & 0xff, (lo >> 17) & 0xff, (lo >> 9) & 0xff, (lo >> 1) & 0xff, ((lo & 1) << 7) | 0x7e | ((ext >> 8) & 1), ext & 0xff];
}

// --- H.264 elementary stream pieces ---------------------------------------------------------

class BitWriter {
  bits: number[] = [];
  u(n: number, v: number): this {
    for (let i = n - 1; i >= 0; i--) this.bits.push(Math.floor(v / 2 ** i) & 1);
    return this;
  }
  ue(v: number): this {
    const x = v + 1;
    const len = Math.floor(Math.log2(x));
    this.u(len, 0);
    return this.u(len + 1, x);
  }
  se(v: number): this {
    return this.ue(v <= 0 ? -2 * v : 2 * v - 1);
  }
  /** rbsp_trailing_bits, then emulation prevention. */
  rbsp(): Uint8Array {
    this.bits.push(1);
    while (this.bits.length % 8) this.bits.push(0);
    const raw: number[] = [];
    for (let i = 0; i < this.bits.length; i += 8) raw.push(parseInt(this.bits.slice(i, i + 8).join(''), 2));
    const out: number[] = [];
    let zeros = 0;
    for (const b of raw) {
      if (zeros >= 2 && b <= 3) {
        out.push(3);
        zeros = 0;
      }
      out.push(b);
      zeros = b === 0 ? zeros + 1 : 0;
    }
    return Uint8Array.from(out);
  }
}

export interface H264SpsSpec {
  profile: number;
  widthMbs: number;
  heightMapUnits: number;
  frameMbsOnly?: boolean;
  chromaFormatIdc?: number;
  crop?: { left: number; right: number; top: number; bottom: number };
  /** High profiles: emit a scaling matrix (exercises the scaling_list parser). */
  scalingMatrix?: boolean;
}

/** An H.264 SPS NAL unit (with its header byte 0x67, emulation prevention applied). */
export function h264Sps(spec: H264SpsSpec): Uint8Array {
  const w = new BitWriter();
  w.u(8, spec.profile).u(8, 0).u(8, 40).ue(0);
  if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(spec.profile)) {
    const chroma = spec.chromaFormatIdc ?? 1;
    w.ue(chroma);
    if (chroma === 3) w.u(1, 0);
    w.ue(0).ue(0).u(1, 0);
    if (spec.scalingMatrix) {
      w.u(1, 1);
      for (let i = 0; i < (chroma !== 3 ? 8 : 12); i++) {
        const present = i % 2 === 0;
        w.u(1, present ? 1 : 0);
        if (present) {
          const size = i < 6 ? 16 : 64;
          for (let j = 0; j < size; j++) w.se(j === 0 ? 8 : 1); // deltas: 16, 17, 18, ...
        }
      }
    } else {
      w.u(1, 0);
    }
  }
  w.ue(0); // log2_max_frame_num_minus4
  w.ue(0).ue(0); // pic_order_cnt_type 0, log2_max_poc_lsb_minus4
  w.ue(1).u(1, 0); // max_num_ref_frames, gaps
  w.ue(spec.widthMbs - 1).ue(spec.heightMapUnits - 1);
  const fmo = spec.frameMbsOnly ?? true;
  w.u(1, fmo ? 1 : 0);
  if (!fmo) w.u(1, 0);
  w.u(1, 1); // direct_8x8_inference_flag
  if (spec.crop) {
    w.u(1, 1).ue(spec.crop.left).ue(spec.crop.right).ue(spec.crop.top).ue(spec.crop.bottom);
  } else {
    w.u(1, 0);
  }
  w.u(1, 0); // vui_parameters_present_flag
  return concat([Uint8Array.of(0x67), w.rbsp()]);
}

/** A slice NAL unit: nal_unit_type 5 (IDR) or 1, with the given slice_type, plus filler bytes. */
export function h264Slice(nalType: 1 | 5, sliceType: number, fillerBytes = 64): Uint8Array {
  const w = new BitWriter().ue(0).ue(sliceType).ue(0);
  const hdr = w.rbsp();
  return concat([Uint8Array.of(nalType === 5 ? 0x65 : 0x41), hdr, new Uint8Array(fillerBytes).fill(0xaa)]);
}

/** Annex B: each NAL unit behind a 4-byte start code. */
export function annexB(nals: Uint8Array[]): Uint8Array {
  return concat(nals.flatMap((n) => [Uint8Array.of(0, 0, 0, 1), n]));
}

export const H264_AUD = Uint8Array.of(0x09, 0xf0);
export const H264_PPS = Uint8Array.of(0x68, 0xce, 0x38, 0x80);

/** An SEI NAL unit of about `bytes` bytes (user_data_unregistered), to push the slice further into the PES. */
export function h264Sei(bytes: number): Uint8Array {
  const size = Math.max(16, bytes);
  const body: number[] = [0x06, 0x05];
  let n = size;
  while (n >= 255) {
    body.push(0xff);
    n -= 255;
  }
  body.push(n);
  for (let i = 0; i < size; i++) body.push(i < 16 ? 0x11 : 0x42);
  body.push(0x80);
  return Uint8Array.from(body);
}
