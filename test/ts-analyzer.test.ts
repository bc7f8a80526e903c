/**
 * src/ts: MPEG-TS analysis of ring slots. Synthetic streams (test/helpers/ts-build.ts) cover
 * PSI parsing, codec recognition, continuity counters and keyframe decisions in detail; ffmpeg
 * fixtures (test/helpers/ts-files.ts) are checked against what ffprobe says about the same files.
 */
import { skipOrFail } from './helpers/requirements.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketRing, SLOT_FLAG_KEYFRAME, SLOT_FLAG_PSI, SLOT_PHASE_NONE, SLOT_PHASE_SHIFT } from '../src/ring/packet-ring.js';
import { SLOT_HEADER_BYTES } from '../src/srt/native.js';
import {
  ANALYZER_PHASE_NONE,
  ANALYZER_PHASE_SHIFT,
  ANALYZER_FLAG_KEYFRAME,
  ANALYZER_FLAG_PSI,
  ANALYZER_SLOT_HEADER_BYTES,
  TsAnalyzer,
  type TsInfo,
  type TsTrackInfo,
} from '../src/ts/analyzer.js';
import { codecFor } from '../src/ts/codecs.js';
import { parseH264Sps } from '../src/ts/keyframe.js';
import { crc32Mpeg2, parseDescriptors, SectionAssembler } from '../src/ts/psi.js';
import {
  readPts,
  tsAdaptationFieldControl,
  tsAdaptationFieldLength,
  tsContinuityCounter,
  tsDiscontinuity,
  tsPayloadOffset,
  tsPcr,
  tsPid,
  tsPusi,
  tsRandomAccess,
} from '../src/ts/ts-packet.js';
import {
  annexB,
  crc32,
  desc,
  encodePcr,
  H264_AUD,
  H264_PPS,
  h264Sei,
  h264Slice,
  h264Sps,
  patSection,
  pmtSection,
  TS,
  TsWriter,
  type H264SpsSpec,
  type PmtStreamSpec,
} from './helpers/ts-build.js';
import {
  analyzerCodecFor,
  feedRing,
  ffprobeKeyFrameCount,
  ffprobeKeyPacketPositions,
  ffprobePrograms,
  ffprobeStreams,
  hasEncoder,
  messagesOf,
  messagesWithPids,
  pidAt,
  SRT_MESSAGE,
  tsFile,
  tsFileBytes,
  type TsFixtureName,
} from './helpers/ts-files.js';

const FFMPEG_TIMEOUT = 120_000;

// --- helpers -------------------------------------------------------------------------------------

function allTracks(info: TsInfo): TsTrackInfo[] {
  return info.programs.flatMap((p) => p.tracks);
}

function track(info: TsInfo, pid: number): TsTrackInfo {
  const t = allTracks(info).find((x) => x.pid === pid);
  assert.ok(t, `no track for PID ${pid} in ${JSON.stringify(info.programs)}`);
  return t;
}

/** Slots of `ring` (sequences 0..head-1) whose flags have `bit`. */
function flagged(ring: PacketRing, bit: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < ring.head(); s++) if (ring.flags(s) & bit) out.push(s);
  return out;
}

/** Each TS packet as its own message (the smallest messages the relay may see). */
function packetMessages(bytes: Uint8Array): Uint8Array[] {
  return messagesOf(bytes, TS);
}

/** An SPS NAL unit → its RBSP (header byte dropped, emulation prevention removed). */
function spsRbsp(nal: Uint8Array): Uint8Array {
  const out: number[] = [];
  let zeros = 0;
  for (let i = 1; i < nal.length; i++) {
    const b = nal[i]!;
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Uint8Array.from(out);
}

/** Last PCR (27 MHz) of `pid` in a file, decoded here independently of src/ts. */
function lastPcrOf(bytes: Uint8Array, pid: number): number {
  let pcr = -1;
  for (let p = 0; p + TS <= bytes.length; p += TS) {
    if (pidAt(bytes, p) !== pid || (bytes[p + 3]! & 0x20) === 0 || bytes[p + 4]! < 7 || (bytes[p + 5]! & 0x10) === 0) continue;
    const base = bytes[p + 6]! * 2 ** 25 + bytes[p + 7]! * 2 ** 17 + bytes[p + 8]! * 2 ** 9 + bytes[p + 9]! * 2 + (bytes[p + 10]! >> 7);
    pcr = base * 300 + ((bytes[p + 10]! & 1) << 8) + bytes[p + 11]!;
  }
  return pcr;
}

const PMT_PID = 0x1000;
const VIDEO_PID = 0x100;
const AUDIO_PID = 0x101;

/** PAT + PMT (H.264 video on 0x100 carrying the PCR, AAC audio on 0x101). */
function writeTables(w: TsWriter, streams: PmtStreamSpec[] = [
  { type: 0x1b, pid: VIDEO_PID },
  { type: 0x0f, pid: AUDIO_PID, descriptors: [desc.language('eng')] },
]): void {
  w.psi(0, patSection([{ number: 1, pmtPid: PMT_PID }]));
  w.psi(PMT_PID, pmtSection(1, VIDEO_PID, streams));
}

const SPS_1080: H264SpsSpec = { profile: 100, widthMbs: 120, heightMapUnits: 68, crop: { left: 0, right: 0, top: 0, bottom: 4 }, scalingMatrix: true };

// --- units ---------------------------------------------------------------------------------------

test('slot layout and flag bits: the analyzer uses the ring\'s', () => {
  assert.deepEqual(
    [ANALYZER_SLOT_HEADER_BYTES, ANALYZER_FLAG_KEYFRAME, ANALYZER_FLAG_PSI, ANALYZER_PHASE_SHIFT, ANALYZER_PHASE_NONE],
    [SLOT_HEADER_BYTES, SLOT_FLAG_KEYFRAME, SLOT_FLAG_PSI, SLOT_PHASE_SHIFT, SLOT_PHASE_NONE],
  );
});

test('CRC32/MPEG-2 equals a bitwise reference, and a whole section checks to 0', () => {
  const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) & 0xff);
  for (const n of [0, 1, 4, 187, 1000]) assert.equal(crc32Mpeg2(data, 0, n), crc32(data.subarray(0, n)), `length ${n}`);
  const pat = patSection([{ number: 1, pmtPid: 0x1000 }, { number: 2, pmtPid: 0x1001 }]);
  assert.equal(crc32Mpeg2(pat, 0, pat.length), 0);
  pat[9] = pat[9]! ^ 1;
  assert.notEqual(crc32Mpeg2(pat, 0, pat.length), 0);
});

test('TS header helpers: PID, PUSI, CC, random_access_indicator, PCR up to the 33-bit limit', () => {
  const w = new TsWriter();
  const pcrMax = (2 ** 33 - 1) * 300 + 299;
  w.pes(0x1abc, 0xe0, new Uint8Array(10), { rai: true, pcr: pcrMax });
  w.pes(0x1abc, 0xe0, new Uint8Array(10), { pcr: 123_456_789 * 300 + 17 });
  const [a, b] = w.packets as [Uint8Array, Uint8Array];
  assert.equal(tsPid(a, 0), 0x1abc);
  assert.equal(tsPusi(a, 0), true);
  assert.equal(tsContinuityCounter(a, 0), 0);
  assert.equal(tsContinuityCounter(b, 0), 1);
  assert.equal(tsRandomAccess(a, 0), true);
  assert.equal(tsRandomAccess(b, 0), false);
  assert.equal(tsPcr(a, 0), pcrMax);
  assert.equal(tsPcr(b, 0), 123_456_789 * 300 + 17);
  assert.deepEqual(encodePcr(tsPcr(b, 0)), Array.from(b.subarray(6, 12)));
  // Adaptation field: 1 length byte + flags + 6 PCR bytes + stuffing up to the 10-byte payload.
  assert.equal(tsAdaptationFieldControl(a, 0), 3);
  assert.equal(tsAdaptationFieldLength(a, 0), 188 - 4 - 1 - 9 - 10);
  assert.equal(tsPayloadOffset(a, 0), 188 - 19);
  assert.equal(tsDiscontinuity(a, 0), false);
  const plain = new TsWriter().packet(0x11, { payload: new Uint8Array(184) });
  assert.deepEqual([tsAdaptationFieldLength(plain, 0), tsPayloadOffset(plain, 0), tsPcr(plain, 0)], [0, 4, -1]);
  const afOnly = new TsWriter().packet(0x11, { adaptation: Uint8Array.of(0x80) });
  assert.deepEqual([tsAdaptationFieldControl(afOnly, 0), tsPayloadOffset(afOnly, 0), tsDiscontinuity(afOnly, 0)], [2, -1, true]);
  // PTS: 33 bits from the 5 PES header bytes (marker bits ignored).
  const pes = new TsWriter();
  pes.pes(0x100, 0xe0, new Uint8Array(4), { pts: 2 ** 33 - 2 });
  assert.equal(readPts(pes.packets[0]!, tsPayloadOffset(pes.packets[0]!, 0) + 9), 2 ** 33 - 2);
});

test('SectionAssembler: sections spanning packets, several per packet, pointer_field, stuffing', () => {
  const A = patSection([{ number: 1, pmtPid: 0x100 }]);
  const streams: PmtStreamSpec[] = Array.from({ length: 40 }, (_, i) => ({ type: 0x0f, pid: 0x200 + i, descriptors: [desc.language('eng')] }));
  const B = pmtSection(1, 0x200, streams); // 416 bytes: spans three packets
  const A2 = patSection([{ number: 1, pmtPid: 0x100 }], 1);
  assert.ok(B.length > 2 * 184 - A.length);
  // packet 1: PUSI, pointer 0, A, start of B; packet 2: middle of B; packet 3: PUSI, pointer = rest of B, A2, 0xFF.
  const first = 183 - A.length;
  const mid = 184;
  const rest = B.length - first - mid;
  const p1 = new Uint8Array(184).fill(0xff);
  p1.set([0, ...A, ...B.subarray(0, first)]);
  const p2 = B.slice(first, first + mid);
  const p3 = new Uint8Array(184).fill(0xff);
  p3.set([rest, ...B.subarray(first + mid), ...A2]);
  const asm = new SectionAssembler();
  const got: Uint8Array[] = [];
  const onSection = (buf: Uint8Array, len: number): void => void got.push(buf.slice(0, len));
  asm.push(p1, 0, p1.length, true, onSection);
  asm.push(p2, 0, p2.length, false, onSection);
  asm.push(p3, 0, p3.length, true, onSection);
  assert.deepEqual(got, [A, B, A2]);
  // A section cut short by the next PUSI is dropped, not glued to the next one.
  const cut = new Uint8Array(184).fill(0xff);
  cut.set([0, ...B.subarray(0, 100)]);
  const again = new Uint8Array(184).fill(0xff);
  again.set([0, ...A]);
  got.length = 0;
  asm.push(cut, 0, 184, true, onSection);
  asm.push(again, 0, 184, true, onSection);
  assert.deepEqual(got, [A]);
  assert.equal(asm.dropped, 1);
});

test('codecs: stream_type and descriptors', () => {
  const d = (...ds: Uint8Array[]) => {
    const all = Uint8Array.from(ds.flatMap((x) => Array.from(x)));
    return parseDescriptors(all, 0, all.length);
  };
  const cases: Array<[number, ReturnType<typeof d>, string, string]> = [
    [0x1b, d(), 'h264', 'video'],
    [0x24, d(desc.registration('HEVC')), 'hevc', 'video'],
    [0x02, d(), 'mpeg2video', 'video'],
    [0x0f, d(), 'aac', 'audio'],
    [0x11, d(), 'aac-latm', 'audio'],
    [0x03, d(), 'mpeg-audio', 'audio'],
    [0x04, d(), 'mpeg-audio', 'audio'],
    [0x81, d(desc.registration('AC-3')), 'ac3', 'audio'],
    [0x87, d(), 'eac3', 'audio'],
    [0x06, d(desc.dvbAc3()), 'ac3', 'audio'],
    [0x06, d(desc.dvbEac3()), 'eac3', 'audio'],
    [0x06, d(desc.registration('Opus')), 'opus', 'audio'],
    [0x86, d(desc.cueIdentifier()), 'scte35', 'data'],
    [0x15, d(desc.id3Metadata()), 'id3', 'data'],
    [0x06, d(desc.registration('ID3 ')), 'id3', 'data'],
    [0x06, d(), 'private', 'data'],
    [0x06, d(desc.language('deu')), 'private', 'data'],
    [0xc0, d(), 'private-0xc0', 'data'],
  ];
  for (const [type, descriptors, codec, kind] of cases) {
    assert.deepEqual(codecFor(type, descriptors), { codec, kind }, `stream_type 0x${type.toString(16)} ${JSON.stringify(descriptors)}`);
  }
  const lang = d(desc.language('eng'), desc.registration('Opus'));
  assert.equal(lang.language, 'eng');
  assert.equal(lang.registration, 'Opus');
  assert.deepEqual(lang.tags, [0x0a, 0x05]);
  assert.equal(d(desc.id3Metadata()).metadataFormat, 'ID3 ');
});

test('H.264 SPS: picture size with cropping, field coding, scaling matrices and 4:4:4', () => {
  const cases: Array<[H264SpsSpec, number, number]> = [
    [SPS_1080, 1920, 1080],
    [{ profile: 66, widthMbs: 22, heightMapUnits: 18 }, 352, 288],
    [{ profile: 77, widthMbs: 45, heightMapUnits: 18, frameMbsOnly: false }, 720, 576],
    [{ profile: 100, widthMbs: 120, heightMapUnits: 34, frameMbsOnly: false, crop: { left: 0, right: 0, top: 0, bottom: 2 } }, 1920, 1080],
    [{ profile: 244, chromaFormatIdc: 3, widthMbs: 40, heightMapUnits: 23, crop: { left: 0, right: 0, top: 0, bottom: 8 } }, 640, 360],
    [{ profile: 122, chromaFormatIdc: 2, widthMbs: 40, heightMapUnits: 23, crop: { left: 2, right: 2, top: 0, bottom: 8 } }, 632, 360],
  ];
  for (const [spec, width, height] of cases) {
    const size = { width: 0, height: 0 };
    const rbsp = spsRbsp(h264Sps(spec));
    assert.ok(parseH264Sps(rbsp, rbsp.length, size), JSON.stringify(spec));
    assert.deepEqual(size, { width, height }, JSON.stringify(spec));
  }
  const truncated = spsRbsp(h264Sps(SPS_1080)).subarray(0, 6);
  assert.equal(parseH264Sps(truncated, truncated.length, { width: 0, height: 0 }), false);
});

// --- synthetic streams through the analyzer ---------------------------------------------------

test('PAT/PMT: programs, tracks, codecs, languages; PSI flags; latestPsi() is PAT then the PMT packets', () => {
  const streams: PmtStreamSpec[] = [
    { type: 0x1b, pid: 0x100 },
    { type: 0x0f, pid: 0x101, descriptors: [desc.language('eng')] },
    { type: 0x06, pid: 0x102, descriptors: [desc.registration('Opus'), desc.language('fra')] },
    { type: 0x06, pid: 0x103, descriptors: [desc.dvbAc3(), desc.language('deu')] },
    { type: 0x06, pid: 0x104, descriptors: [desc.dvbEac3()] },
    { type: 0x86, pid: 0x105, descriptors: [desc.cueIdentifier()] },
    { type: 0x15, pid: 0x106, descriptors: [desc.id3Metadata()] },
    { type: 0x06, pid: 0x107 },
    { type: 0xc0, pid: 0x108 },
  ];
  // Padding descriptors make the PMT longer than one packet.
  const padded = streams.map((s) => ({ ...s, descriptors: [...(s.descriptors ?? []), new Uint8Array([0x80, 16, ...new Array<number>(16).fill(0)])] }));
  const w = new TsWriter();
  w.psi(0, patSection([{ number: 7, pmtPid: PMT_PID }]));
  w.psi(PMT_PID, pmtSection(7, 0x100, padded, [desc.registration('CUEI')]));
  const pmtPackets = w.packets.length - 1;
  assert.ok(pmtPackets >= 2, 'the PMT spans packets');
  w.pes(0x101, 0xc0, new Uint8Array(300));
  const bytes = w.bytes();
  const a = new TsAnalyzer();
  const ring = feedRing(a, packetMessages(bytes));
  const info = a.snapshot();
  assert.equal(info.programs.length, 1);
  const pr = info.programs[0]!;
  assert.deepEqual([pr.number, pr.pmtPid, pr.pcrPid], [7, PMT_PID, 0x100]);
  assert.deepEqual(
    pr.tracks.map((t) => [t.pid, t.streamType, t.codec, t.kind, t.language ?? null]),
    [
      [0x100, 0x1b, 'h264', 'video', null],
      [0x101, 0x0f, 'aac', 'audio', 'eng'],
      [0x102, 0x06, 'opus', 'audio', 'fra'],
      [0x103, 0x06, 'ac3', 'audio', 'deu'],
      [0x104, 0x06, 'eac3', 'audio', null],
      [0x105, 0x86, 'scte35', 'data', null],
      [0x106, 0x15, 'id3', 'data', null],
      [0x107, 0x06, 'private', 'data', null],
      [0x108, 0xc0, 'private-0xc0', 'data', null],
    ],
  );
  assert.equal(track(info, 0x102).registration, 'Opus');
  assert.equal(track(info, 0x101).packets, 2);
  assert.equal(info.videoPid, 0x100);
  // One packet per message: PSI flags on exactly the PAT and PMT slots.
  assert.deepEqual(flagged(ring, SLOT_FLAG_PSI), Array.from({ length: 1 + pmtPackets }, (_, i) => i));
  const psi = a.latestPsi();
  assert.equal(psi.length, (1 + pmtPackets) * TS);
  assert.deepEqual(psi, bytes.subarray(0, (1 + pmtPackets) * TS));
  assert.equal(info.latestPsiBytes, psi.length);
  assert.equal(info.psiPackets, 1 + pmtPackets);
  assert.deepEqual(
    info.otherPids.map((p) => [p.pid, p.role]),
    [
      [0, 'pat'],
      [PMT_PID, 'pmt'],
    ],
  );
});

test('a PMT with a bad CRC_32 is ignored; the next good one is used', () => {
  const w = new TsWriter();
  w.psi(0, patSection([{ number: 1, pmtPid: PMT_PID }]));
  const bad = pmtSection(1, VIDEO_PID, [{ type: 0x1b, pid: VIDEO_PID }]);
  bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
  w.psi(PMT_PID, bad);
  const a = new TsAnalyzer();
  feedRing(a, packetMessages(w.bytes()));
  let info = a.snapshot();
  assert.equal(info.psiCrcErrors, 1);
  assert.deepEqual(info.programs, [{ number: 1, pmtPid: PMT_PID, pcrPid: null, tracks: [] }]);
  assert.equal(a.latestPsi().length, 0, 'no PSI for joiners without a PMT');
  const before = w.packets.length;
  w.psi(PMT_PID, pmtSection(1, VIDEO_PID, [{ type: 0x1b, pid: VIDEO_PID }])); // the next CC on the PMT PID
  const ring = PacketRing.create(128);
  ring.write(w.packets[before]!);
  a.analyzeRing(ring, 0, 1);
  info = a.snapshot();
  assert.equal(track(info, VIDEO_PID).codec, 'h264');
  assert.equal(a.latestPsi().length, 2 * TS);
});

test('continuity counters: in order, duplicates, adaptation-only packets, null packets, one bad CC, a lost packet, discontinuity_indicator', () => {
  const pid = 0x300;
  const run = (ccs: Array<number | { cc: number; afOnly?: boolean; disc?: boolean; nul?: boolean }>): number => {
    const w = new TsWriter();
    for (const x of ccs) {
      const o = typeof x === 'number' ? { cc: x } : x;
      if (o.nul) {
        w.packet(0x1fff, { payload: new Uint8Array(184), cc: o.cc });
      } else if (o.afOnly) {
        w.packet(pid, { adaptation: Uint8Array.of(0x00), cc: o.cc });
      } else {
        w.packet(pid, { payload: new Uint8Array(o.disc ? 182 : 184), cc: o.cc, ...(o.disc ? { adaptation: Uint8Array.of(0x80) } : {}) });
      }
    }
    const a = new TsAnalyzer();
    feedRing(a, messagesOf(w.bytes()));
    const info = a.snapshot();
    const other = info.otherPids.find((p) => p.pid === pid);
    assert.equal(other?.ccErrors ?? 0, info.ccErrors);
    return info.ccErrors;
  };
  const seq = (from: number, n: number) => Array.from({ length: n }, (_, i) => (from + i) & 15);
  assert.equal(run(seq(0, 40)), 0, 'in order, wrapping');
  assert.equal(run([...seq(0, 6), 5, ...seq(6, 5)]), 0, 'one duplicate is allowed');
  assert.equal(run([...seq(0, 6), 5, 5, ...seq(6, 5)]), 1, 'a second duplicate is an error');
  assert.equal(run([...seq(0, 4), { cc: 3, afOnly: true }, { cc: 9, afOnly: true }, ...seq(4, 4)]), 0, 'adaptation-only packets do not advance the CC');
  assert.equal(run([...seq(0, 4), { cc: 0, nul: true }, { cc: 0, nul: true }, ...seq(4, 4)]), 0, 'null packets are ignored');
  assert.equal(run([...seq(0, 5), 13, ...seq(6, 5)]), 1, 'one packet with a wrong CC: one error');
  assert.equal(run([...seq(0, 5), ...seq(6, 5)]), 1, 'a lost packet: one error');
  assert.equal(run([...seq(0, 5), 13, ...seq(6, 5), 2, ...seq(12, 5)]), 2, 'two separate bad CCs: two errors');
  assert.equal(run([...seq(0, 5), { cc: 11, disc: true }, ...seq(12, 5)]), 0, 'discontinuity_indicator: a new CC sequence');
  assert.equal(run([...seq(0, 5), 11, ...seq(12, 5)]), 1, 'the same jump without the indicator');
});

test('H.264 keyframes: IDR, I slice after an SPS, not P; flags on the PES start slot, also when decided in a later analyze() call', () => {
  const w = new TsWriter();
  writeTables(w);
  const sps = h264Sps(SPS_1080);
  const frames: Array<{ es: Uint8Array; key: boolean; headerPadding?: number }> = [
    { es: annexB([H264_AUD, sps, H264_PPS, h264Slice(5, 7)]), key: true },
    { es: annexB([H264_AUD, h264Slice(1, 5)]), key: false },
    { es: annexB([H264_AUD, sps, H264_PPS, h264Slice(1, 7)]), key: true }, // open GOP: I slice, not IDR
    { es: annexB([H264_AUD, sps, h264Slice(1, 5)]), key: false }, // SPS then a P slice
    { es: annexB([H264_AUD, h264Sei(600), sps, H264_PPS, h264Slice(5, 7, 300)]), key: true }, // IDR in the 4th packet
    { es: annexB([H264_AUD, h264Slice(5, 2)]), key: true, headerPadding: 200 }, // PES header runs into the 2nd packet
    { es: annexB([H264_AUD, h264Slice(1, 0, 1000)]), key: false },
  ];
  const expectedStarts: number[] = [];
  frames.forEach((f, i) => {
    const start = w.packets.length;
    w.pes(VIDEO_PID, 0xe0, f.es, { pts: 90_000 + i * 3600, ...(f.headerPadding ? { headerPadding: f.headerPadding } : {}), pcr: (1 + i * 0.04) * 27e6 });
    if (f.key) expectedStarts.push(start);
    w.pes(AUDIO_PID, 0xc0, new Uint8Array(200), { pts: 90_000 + i * 3600 });
  });
  const bytes = w.bytes();
  // One packet per message and per analyze() call: decisions that need later packets land in later calls.
  const a = new TsAnalyzer();
  const returned: number[] = [];
  const deferred: number[] = [];
  const ring = feedRing(a, packetMessages(bytes), {
    batch: 1,
    onBatch: (_ring, first, _count, keyframeSeq) => {
      if (keyframeSeq < 0) return;
      returned.push(keyframeSeq);
      if (keyframeSeq !== first) deferred.push(keyframeSeq);
      assert.equal(a.lastKeyframeSeq, keyframeSeq);
    },
  });
  assert.deepEqual(flagged(ring, SLOT_FLAG_KEYFRAME), expectedStarts);
  assert.deepEqual(returned, expectedStarts, 'analyze() returns the keyframe start it found');
  assert.deepEqual(deferred, [expectedStarts[2], expectedStarts[3]], 'the long-SEI and long-PES-header keyframes were decided in later calls');
  const info = a.snapshot();
  assert.equal(info.keyframes, 4);
  assert.equal(info.lastKeyframeSeq, expectedStarts[3]);
  assert.equal(info.keyframeIntervalMs, 40, 'from the PTS of the last two keyframes');
  assert.equal(info.keyframeIntervalFrames, 1);
  const v = track(info, VIDEO_PID);
  assert.deepEqual([v.width, v.height], [1920, 1080]);
  assert.equal(info.ccErrors, 0);
  // The same stream in 1316-byte messages, all analyzed in one call: same keyframe slots.
  const b = new TsAnalyzer();
  const ring2 = feedRing(b, messagesOf(bytes), { batch: 1000 });
  assert.deepEqual(flagged(ring2, SLOT_FLAG_KEYFRAME), [...new Set(expectedStarts.map((p) => Math.floor((p * TS) / SRT_MESSAGE)))]);
  assert.equal(b.snapshot().keyframes, 4);
});

test('keyframe interval and rates without PTS: from the PCR (across its 2^33 wrap), else from the caller clock', () => {
  const idr = annexB([H264_AUD, h264Sps(SPS_1080), H264_PPS, h264Slice(5, 7, 900)]);
  let filler = 900;
  while (annexB([H264_AUD, h264Slice(1, 5, filler)]).length < idr.length) filler++;
  const p = annexB([H264_AUD, h264Slice(1, 5, filler)]);
  assert.equal(idr.length, p.length, 'frames of equal size (equal messages)');
  const PCR_WRAP = 2 ** 33 * 300;
  /** One message per frame: a keyframe every 4 frames. */
  const build = (pcrPid: number, pcrOf: (i: number) => number | undefined): Uint8Array[] => {
    const w = new TsWriter();
    w.psi(0, patSection([{ number: 1, pmtPid: PMT_PID }]));
    w.psi(PMT_PID, pmtSection(1, pcrPid, [{ type: 0x1b, pid: VIDEO_PID }]));
    const messages = [w.bytes()];
    for (let i = 0; i < 12; i++) {
      const from = w.packets.length;
      const pcr = pcrOf(i);
      w.pes(VIDEO_PID, 0xe0, i % 4 === 0 ? idr : p, pcr === undefined ? {} : { pcr });
      const pkts = w.packets.slice(from);
      assert.ok(pkts.length <= 7);
      messages.push(Uint8Array.from(pkts.flatMap((x) => Array.from(x))));
    }
    return messages;
  };
  // PCR: 0.5 s per frame, starting 3 s before the wrap; the caller clock stands still.
  const a = new TsAnalyzer();
  const withPcr = build(VIDEO_PID, (i) => (PCR_WRAP - 3 * 27e6 + i * 13.5e6) % PCR_WRAP);
  feedRing(a, withPcr, { batch: 1, nowMs: () => 5000 });
  let info = a.snapshot();
  assert.equal(info.keyframes, 3);
  assert.equal(info.keyframeIntervalMs, 2000);
  assert.equal(info.keyframeIntervalFrames, 4);
  // Two frames (messages) per second of PCR.
  const kbps = (bytes: number): number => Math.round(((bytes * 8) / 1000) * 10) / 10;
  assert.equal(info.totalBitrateKbps, kbps(2 * withPcr[withPcr.length - 1]!.length));
  // No PCR (PCR_PID 0x1FFF): the caller's clock, 250 ms per message.
  const b = new TsAnalyzer();
  const noPcr = build(0x1fff, () => undefined);
  feedRing(b, noPcr, { batch: 1, nowMs: (i) => 10_000 + i * 250 });
  info = b.snapshot();
  assert.equal(info.pcr, null);
  assert.equal(info.keyframes, 3);
  assert.equal(info.keyframeIntervalMs, 1000);
  // Four frames (messages) per second of caller clock.
  assert.equal(info.totalBitrateKbps, kbps(4 * noPcr[noPcr.length - 1]!.length));
  assert.equal(track(info, VIDEO_PID).bitrateKbps, info.totalBitrateKbps);
});

test('messages in which no TS packet is found are counted and skipped', () => {
  const w = new TsWriter();
  writeTables(w);
  const good = w.bytes();
  const noSync = new Uint8Array(SRT_MESSAGE).fill(0x11);
  // Odd length, and 0x47 bytes (at 71, 327, ...) never followed by another 188 bytes later.
  const ramp = new Uint8Array(1001).map((_, i) => i & 0xff);
  const a = new TsAnalyzer();
  const ring = feedRing(a, [noSync, ramp, good, noSync]);
  const info = a.snapshot();
  assert.equal(info.nonTsMessages, 3);
  assert.equal(a.nonTsMessages, 3);
  assert.equal(info.messages, 1);
  assert.equal(info.packets, good.length / TS);
  // Not TS: no flags, and the phase says "no packet start here" so writers leave the bytes alone.
  assert.deepEqual([ring.flags(0), ring.flags(1), ring.flags(3)], [0, 0, 0].map(() => SLOT_PHASE_NONE << SLOT_PHASE_SHIFT));
  assert.equal(ring.flags(2), SLOT_FLAG_PSI);
});

test('reset() forgets programs, counters and PSI', () => {
  const w = new TsWriter();
  writeTables(w);
  w.pes(VIDEO_PID, 0xe0, annexB([H264_AUD, h264Sps(SPS_1080), H264_PPS, h264Slice(5, 7)]), { pts: 0 });
  const a = new TsAnalyzer();
  feedRing(a, messagesOf(w.bytes()));
  assert.equal(a.snapshot().keyframes, 1);
  assert.ok(a.latestPsi().length > 0);
  a.reset();
  const info = a.snapshot();
  assert.deepEqual(
    [info.programs, info.keyframes, info.packets, info.lastKeyframeSeq, info.pcr, a.latestPsi().length],
    [[], 0, 0, null, null, 0],
  );
});

// --- ffmpeg files, checked against ffprobe ---------------------------------------------------------

interface Analyzed {
  file: string;
  bytes: Uint8Array;
  analyzer: TsAnalyzer;
  ring: PacketRing;
  info: TsInfo;
}

async function analyzeFixture(name: TsFixtureName, opts: { slotCount?: number; bytes?: Uint8Array } = {}): Promise<Analyzed> {
  const file = await tsFile(name);
  const bytes = opts.bytes ?? (await tsFileBytes(name));
  const analyzer = new TsAnalyzer();
  const ring = feedRing(analyzer, messagesOf(bytes), opts.slotCount === undefined ? {} : { slotCount: opts.slotCount });
  return { file, bytes, analyzer, ring, info: analyzer.snapshot() };
}

/** Tracks and codecs equal ffprobe's streams (PID, codec name, type, picture size). */
async function assertMatchesFfprobe(r: Analyzed): Promise<void> {
  const probed = await ffprobeStreams(r.file);
  const tracks = allTracks(r.info);
  assert.deepEqual(tracks.map((t) => t.pid).sort(), probed.map((s) => s.pid).sort(), 'same PIDs');
  for (const s of probed) {
    const t = track(r.info, s.pid);
    assert.equal(t.codec, analyzerCodecFor(s.codecName), `PID ${s.pid}: ffprobe says ${s.codecName}`);
    assert.equal(t.kind, s.codecType, `PID ${s.pid} kind`);
    if (s.width !== undefined) assert.deepEqual([t.width, t.height], [s.width, s.height], `PID ${s.pid} picture size`);
  }
  const programs = await ffprobePrograms(r.file);
  assert.deepEqual(
    r.info.programs.map((p) => ({ number: p.number, pmtPid: p.pmtPid, pcrPid: p.pcrPid })),
    programs,
  );
}

/** Keyframes: count equals ffprobe's key frames; flags exactly on the slots where ffprobe's key packets start. */
async function assertKeyframes(r: Analyzed): Promise<void> {
  const keyFrames = await ffprobeKeyFrameCount(r.file);
  assert.ok(keyFrames >= 4, `ffprobe found ${keyFrames} key frames`);
  assert.equal(r.info.keyframes, keyFrames);
  const positions = await ffprobeKeyPacketPositions(r.file);
  assert.equal(positions.length, keyFrames);
  const expected = positions.map((pos) => Math.floor(pos / SRT_MESSAGE));
  if (r.ring.head() <= r.ring.slotCount) assert.deepEqual(flagged(r.ring, SLOT_FLAG_KEYFRAME), expected);
  assert.equal(r.info.lastKeyframeSeq, expected[expected.length - 1]);
  assert.ok(r.info.keyframeIntervalMs !== null && Math.abs(r.info.keyframeIntervalMs - 1000) <= 100, `interval ${r.info.keyframeIntervalMs} ms`);
  assert.equal(r.info.keyframeIntervalFrames, 25);
}

test('ffmpeg H.264 + AAC: codecs, 640x360, keyframes, flags, PSI, PCR, bitrates match the file', { timeout: FFMPEG_TIMEOUT }, async () => {
  const r = await analyzeFixture('h264Aac');
  await assertMatchesFfprobe(r);
  const video = allTracks(r.info).find((t) => t.kind === 'video')!;
  assert.deepEqual([video.codec, video.width, video.height], ['h264', 640, 360]);
  assert.equal(r.info.videoPid, video.pid);
  await assertKeyframes(r);
  assert.equal(r.info.ccErrors, 0);
  for (const t of allTracks(r.info)) assert.equal(t.ccErrors, 0);
  assert.equal(r.info.nonTsMessages, 0);
  assert.equal(r.info.packets, r.bytes.length / TS);
  // PSI flags: exactly the messages holding a PAT or PMT packet.
  const [program] = await ffprobePrograms(r.file);
  const psiMessages = [...messagesWithPids(r.bytes, new Set([0, program!.pmtPid]))].sort((x, y) => x - y);
  assert.deepEqual(flagged(r.ring, SLOT_FLAG_PSI), psiMessages);
  // latestPsi(): the PAT packet, then the PMT packet: one message for a joining viewer.
  const psi = r.analyzer.latestPsi();
  assert.equal(psi.length, 2 * TS);
  assert.ok(psi.length <= SRT_MESSAGE);
  assert.deepEqual([psi[0], pidAt(psi, 0), psi[TS], pidAt(psi, TS)], [0x47, 0, 0x47, program!.pmtPid]);
  // PCR: the last one of the PCR PID.
  assert.equal(r.info.pcr, lastPcrOf(r.bytes, program!.pcrPid));
  // Rates over the last second of PCR time: plausible against the file, and per-PID rates add up to the total.
  const fileKbps = (r.bytes.length * 8) / 4000;
  assert.ok(r.info.totalBitrateKbps > fileKbps / 2 && r.info.totalBitrateKbps < fileKbps * 2, `total ${r.info.totalBitrateKbps} kbit/s vs file ${fileKbps}`);
  const sum = [...allTracks(r.info), ...r.info.otherPids].reduce((n, t) => n + t.bitrateKbps, 0);
  assert.ok(Math.abs(sum - r.info.totalBitrateKbps) < 1, `PID rates add up to ${sum}, total ${r.info.totalBitrateKbps}`);
  assert.ok(video.bitrateKbps > 0);
});

test('ffmpeg H.264 4:2:0 interlaced + MP2: field-coded SPS size, keyframes', { timeout: FFMPEG_TIMEOUT }, async () => {
  const r = await analyzeFixture('h264Interlaced');
  await assertMatchesFfprobe(r);
  await assertKeyframes(r);
  assert.equal(r.info.ccErrors, 0);
});

test('continuity errors: exactly N when N packets of the video PID get a wrong CC', { timeout: FFMPEG_TIMEOUT }, async () => {
  const clean = await tsFileBytes('h264Aac');
  const [probed] = await ffprobeStreams(await tsFile('h264Aac'));
  const videoPid = probed!.pid;
  const videoPackets: number[] = [];
  for (let p = 0; p < clean.length; p += TS) if (pidAt(clean, p) === videoPid && (clean[p + 3]! & 0x10) !== 0) videoPackets.push(p);
  for (const n of [1, 5]) {
    const bytes = clean.slice();
    const chosen = Array.from({ length: n }, (_, i) => videoPackets[10 + i * 37]!);
    for (const p of chosen) bytes[p + 3] = bytes[p + 3]! ^ 0x08; // CC + 8 (mod 16)
    const r = await analyzeFixture('h264Aac', { bytes });
    assert.equal(r.info.ccErrors, n);
    assert.equal(track(r.info, videoPid).ccErrors, n);
  }
});

test('discontinuity_indicator: a CC jump it announces is not an error', { timeout: FFMPEG_TIMEOUT }, async () => {
  const clean = await tsFileBytes('h264Aac');
  const [probed] = await ffprobeStreams(await tsFile('h264Aac'));
  const videoPid = probed!.pid;
  const video: number[] = [];
  for (let p = 0; p < clean.length; p += TS) if (pidAt(clean, p) === videoPid) video.push(p);
  // A video packet past the start with an adaptation field and a payload.
  const k = video.findIndex((p, i) => i > 20 && (clean[p + 3]! & 0x30) === 0x30 && clean[p + 4]! > 0);
  assert.ok(k > 0);
  const jumped = (withIndicator: boolean): Uint8Array => {
    const b = clean.slice();
    for (const p of video.slice(k)) b[p + 3] = (b[p + 3]! & 0xf0) | ((b[p + 3]! + 8) & 0x0f);
    if (withIndicator) b[video[k]! + 5] = b[video[k]! + 5]! | 0x80;
    return b;
  };
  assert.equal((await analyzeFixture('h264Aac', { bytes: jumped(true) })).info.ccErrors, 0);
  assert.equal((await analyzeFixture('h264Aac', { bytes: jumped(false) })).info.ccErrors, 1);
});

test('ffmpeg HEVC + AC-3: codecs, picture size from the HEVC SPS, IRAP keyframes', { timeout: FFMPEG_TIMEOUT }, async (t) => {
  if (!(await hasEncoder('libx265'))) {
    skipOrFail(t, 'ffmpeg -encoders does not list libx265: no HEVC fixture');
    return;
  }
  const r = await analyzeFixture('hevcAc3');
  await assertMatchesFfprobe(r);
  const video = allTracks(r.info).find((x) => x.kind === 'video')!;
  assert.deepEqual([video.codec, video.width, video.height], ['hevc', 640, 360]);
  await assertKeyframes(r);
  assert.equal(r.info.ccErrors, 0);
});

test('ffmpeg MPEG-2 video + MP2 through a 128-slot ring that wraps: codecs, size, I-frame keyframes', { timeout: FFMPEG_TIMEOUT }, async () => {
  const r = await analyzeFixture('mpeg2Mp2', { slotCount: 128 });
  assert.ok(r.ring.head() > 2 * r.ring.slotCount, 'the ring wrapped');
  await assertMatchesFfprobe(r);
  await assertKeyframes(r);
  // The latest keyframe's slot is still in the ring and flagged.
  assert.ok(r.ring.flags(r.info.lastKeyframeSeq!) & SLOT_FLAG_KEYFRAME);
  assert.equal(r.info.ccErrors, 0);
});

test('ffmpeg audio-only files: Opus, AC-3 and E-AC-3 the DVB way, E-AC-3 the ATSC way, AAC-LATM', { timeout: FFMPEG_TIMEOUT }, async (t) => {
  const cases: Array<[TsFixtureName, string | null, number, string]> = [
    ['opus', 'libopus', 0x06, 'opus'],
    ['ac3SystemB', 'ac3', 0x06, 'ac3'],
    ['eac3SystemB', 'eac3', 0x06, 'eac3'],
    ['eac3Atsc', 'eac3', 0x87, 'eac3'],
    ['aacLatm', 'aac', 0x11, 'aac-latm'],
  ];
  for (const [name, encoder, streamType, codec] of cases) {
    await t.test(name, async (st) => {
      if (encoder !== null && !(await hasEncoder(encoder))) {
        skipOrFail(st, `ffmpeg -encoders does not list ${encoder}`);
        return;
      }
      const r = await analyzeFixture(name);
      await assertMatchesFfprobe(r);
      const [a] = allTracks(r.info);
      assert.deepEqual([a!.streamType, a!.codec, a!.kind], [streamType, codec, 'audio']);
      assert.equal(r.info.keyframes, 0);
      assert.equal(r.info.videoPid, null);
      assert.equal(r.info.ccErrors, 0);
      assert.equal(r.analyzer.latestPsi().length, 2 * TS);
    });
  }
});

test('corrupted input (random bytes, damaged headers, odd message sizes) never throws', { timeout: FFMPEG_TIMEOUT }, async () => {
  const clean = await tsFileBytes('h264Aac');
  let seed = 12345;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  for (let iter = 0; iter < 24; iter++) {
    const b = clean.slice();
    const n = Math.floor(rnd() * 300);
    for (let k = 0; k < n; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    for (let k = 0; k < n / 3; k++) b[Math.floor(rnd() * (b.length / TS)) * TS + 1 + Math.floor(rnd() * 5)] = Math.floor(rnd() * 256);
    const size = [SRT_MESSAGE, TS, 1456, 1000][iter % 4]!;
    const a = new TsAnalyzer();
    feedRing(a, messagesOf(b, size), { slotCount: 128 });
    const info = a.snapshot();
    assert.doesNotThrow(() => JSON.stringify(info));
    assert.ok(a.latestPsi().length <= SRT_MESSAGE);
  }
});

// --- messages that are not whole TS packets (srt-live-transmit's default -chunk 1456) ------------

/** What must not depend on how the publisher cut the stream into messages. */
function chunkingInvariant(info: TsInfo) {
  return {
    programs: info.programs.map((p) => ({ ...p, tracks: p.tracks.map((t) => ({ ...t, bitrateKbps: 0 })) })),
    keyframes: info.keyframes,
    videoPid: info.videoPid,
    ccErrors: info.ccErrors,
    packets: info.packets,
    psiPackets: info.psiPackets,
    syncErrors: info.syncErrors,
    nonTsMessages: info.nonTsMessages,
    pcr: info.pcr,
    keyframeIntervalFrames: info.keyframeIntervalFrames,
  };
}

for (const size of [1456, 1000, 100]) {
  test(`${size}-byte messages (TS packets split across messages): same programs, keyframes, PSI, CC counts and packets as 1316; flags on the slot where the packet starts`, { timeout: FFMPEG_TIMEOUT }, async () => {
    const ref = await analyzeFixture('h264Aac');
    const bytes = ref.bytes;
    const a = new TsAnalyzer();
    const ring = feedRing(a, messagesOf(bytes, size));
    const info = a.snapshot();
    assert.equal(size % TS === 0, false);
    assert.deepEqual(chunkingInvariant(info), chunkingInvariant(ref.info));
    assert.equal(info.packets, bytes.length / TS);
    assert.equal(info.nonTsMessages, 0);
    assert.deepEqual(a.latestPsi(), ref.analyzer.latestPsi());
    // Keyframe flags: on the message where ffprobe's key packet starts.
    const positions = await ffprobeKeyPacketPositions(ref.file);
    assert.deepEqual(flagged(ring, SLOT_FLAG_KEYFRAME), positions.map((pos) => Math.floor(pos / size)));
    // PSI flags: on the messages where a PAT or PMT packet starts.
    const [program] = await ffprobePrograms(ref.file);
    const psi = new Set<number>();
    for (let p = 0; p + TS <= bytes.length; p += TS) if (pidAt(bytes, p) === 0 || pidAt(bytes, p) === program!.pmtPid) psi.add(Math.floor(p / size));
    assert.deepEqual(flagged(ring, SLOT_FLAG_PSI), [...psi].sort((x, y) => x - y));
    // Phase: the offset of the first packet that starts in each message (its length when none does).
    for (let i = 0; i < ring.head(); i++) {
      const o = i * size;
      const len = Math.min(size, bytes.length - o);
      const expected = Math.min(Math.ceil(o / TS) * TS - o, len);
      assert.equal(ring.phase(i), expected, `phase of message ${i}`);
    }
  });
}

test('a lost 1456-byte message: the packets cut by it are dropped, the analyzer resynchronises, nothing counted as non-TS', { timeout: FFMPEG_TIMEOUT }, async () => {
  const bytes = await tsFileBytes('h264Aac');
  const size = 1456;
  const messages = messagesOf(bytes, size);
  const lost = 40;
  const a = new TsAnalyzer();
  feedRing(a, messages.filter((_, i) => i !== lost));
  const info = a.snapshot();
  // Packets that share a byte with the lost message never reach the analyzer whole.
  const from = lost * size;
  const to = from + size;
  let cut = 0;
  for (let p = 0; p + TS <= bytes.length; p += TS) if (p < to && p + TS > from) cut++;
  assert.equal(info.packets, bytes.length / TS - cut);
  assert.equal(info.nonTsMessages, 0);
  assert.equal(info.syncErrors, 0);
  assert.ok(info.ccErrors > 0, 'the gap shows as continuity errors');
  assert.ok(info.keyframes >= 4);
});
