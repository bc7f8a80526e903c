/**
 * MPEG-TS fixtures made by ffmpeg for the analyzer tests (generated on first use, cached per
 * test process, in the temporary directory of ./ts-fixture.js), what ffprobe says about them,
 * and feeding a file through a PacketRing in SRT-sized messages the way the publisher does.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PacketRing, WRITE_BATCH } from '../../src/ring/packet-ring.js';
import type { TsAnalyzer } from '../../src/ts/analyzer.js';
import { testTempDir } from './ts-fixture.js';

const run = promisify(execFile);

export const SRT_MESSAGE = 1316;

const VIDEO_4S = ['-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine', '-t', '4'];
const AUDIO_1S = ['-f', 'lavfi', '-i', 'sine', '-t', '1'];

/** ffmpeg arguments (inputs and codecs, without the output) of each fixture. */
export const TS_FIXTURES = {
  /** H.264 (testsrc is RGB: x264 picks 4:4:4, High 4:4:4 Predictive) + AAC, keyframe every second. */
  h264Aac: [...VIDEO_4S, '-c:v', 'libx264', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0', '-c:a', 'aac'],
  /** H.264 4:2:0 interlaced (field-coded SPS: frame_mbs_only_flag 0) + MP2. */
  h264Interlaced: [
    ...VIDEO_4S, '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-flags', '+ildct+ilme', '-g', '25', '-keyint_min', '25',
    '-sc_threshold', '0', '-c:a', 'mp2',
  ],
  hevcAc3: [
    ...VIDEO_4S, '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'keyint=25:min-keyint=25:scenecut=0:log-level=error', '-c:a', 'ac3',
  ],
  mpeg2Mp2: [...VIDEO_4S, '-c:v', 'mpeg2video', '-g', '25', '-c:a', 'mp2'],
  /** Opus: stream_type 0x06 + registration 'Opus'. */
  opus: [...AUDIO_1S, '-c:a', 'libopus'],
  /** AC-3 the DVB way (system B): stream_type 0x06 + AC-3 descriptor. */
  ac3SystemB: [...AUDIO_1S, '-c:a', 'ac3', '-mpegts_flags', 'system_b'],
  /** E-AC-3 the DVB way: stream_type 0x06 + enhanced AC-3 descriptor. */
  eac3SystemB: [...AUDIO_1S, '-c:a', 'eac3', '-mpegts_flags', 'system_b'],
  /** E-AC-3 the ATSC way: stream_type 0x87. */
  eac3Atsc: [...AUDIO_1S, '-c:a', 'eac3'],
  /** AAC in LATM: stream_type 0x11. */
  aacLatm: [...AUDIO_1S, '-c:a', 'aac', '-mpegts_flags', 'latm'],
} satisfies Record<string, string[]>;

export type TsFixtureName = keyof typeof TS_FIXTURES;

const files = new Map<string, Promise<string>>();

/** Path of a fixture (made by ffmpeg on first use). */
export function tsFile(name: TsFixtureName): Promise<string> {
  let p = files.get(name);
  if (p === undefined) {
    const out = join(testTempDir(), `analyzer-${name}.ts`);
    p = run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...TS_FIXTURES[name], '-f', 'mpegts', out], {
      timeout: 60_000,
    }).then(() => out);
    p.catch(() => files.delete(name));
    files.set(name, p);
  }
  return p;
}

export async function tsFileBytes(name: TsFixtureName): Promise<Uint8Array> {
  return new Uint8Array(readFileSync(await tsFile(name)));
}

let encoderList: Promise<string> | undefined;

/** Whether this ffmpeg has an encoder of that name (e.g. 'libx265', 'libopus'). */
export async function hasEncoder(name: string): Promise<boolean> {
  encoderList ??= run('ffmpeg', ['-hide_banner', '-encoders'], { maxBuffer: 8 << 20 }).then((r) => r.stdout);
  const list = await encoderList;
  return new RegExp(`^\\s*[VAS][A-Z.]{5}\\s+${name}\\s`, 'm').test(list);
}

export interface ProbedStream {
  index: number;
  pid: number;
  codecName: string;
  codecType: string;
  width?: number;
  height?: number;
}

export interface ProbedProgram {
  number: number;
  pmtPid: number;
  pcrPid: number;
}

async function ffprobeJson(file: string, args: string[]): Promise<Record<string, unknown>> {
  const r = await run('ffprobe', ['-v', 'error', ...args, '-of', 'json', file], { maxBuffer: 64 << 20, timeout: 60_000 });
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

export async function ffprobeStreams(file: string): Promise<ProbedStream[]> {
  const j = await ffprobeJson(file, ['-show_streams']);
  const streams = (j.streams ?? []) as Array<Record<string, unknown>>;
  return streams.map((s) => {
    const out: ProbedStream = {
      index: s.index as number,
      pid: parseInt(String(s.id), 16),
      codecName: String(s.codec_name),
      codecType: String(s.codec_type),
    };
    if (typeof s.width === 'number') out.width = s.width;
    if (typeof s.height === 'number') out.height = s.height;
    return out;
  });
}

export async function ffprobePrograms(file: string): Promise<ProbedProgram[]> {
  const j = await ffprobeJson(file, ['-show_programs']);
  const programs = (j.programs ?? []) as Array<Record<string, unknown>>;
  return programs.map((p) => ({ number: p.program_num as number, pmtPid: p.pmt_pid as number, pcrPid: p.pcr_pid as number }));
}

/** Frames of the first video stream that ffprobe decodes as key frames. */
export async function ffprobeKeyFrameCount(file: string): Promise<number> {
  const r = await run(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_frames', '-show_entries', 'frame=key_frame', '-of', 'csv=p=0', file],
    { maxBuffer: 64 << 20, timeout: 60_000 },
  );
  return r.stdout.split('\n').filter((l) => l.trim().startsWith('1')).length;
}

/** Byte offsets in the file of the first TS packet of each key-frame PES of the first video stream. */
export async function ffprobeKeyPacketPositions(file: string): Promise<number[]> {
  const j = await ffprobeJson(file, ['-select_streams', 'v:0', '-show_packets', '-show_entries', 'packet=pos,flags']);
  const packets = (j.packets ?? []) as Array<Record<string, unknown>>;
  return packets.filter((p) => String(p.flags).includes('K')).map((p) => Number(p.pos));
}

/** ffprobe codec_name → the analyzer's codec name. */
export function analyzerCodecFor(ffprobeName: string): string {
  switch (ffprobeName) {
    case 'aac_latm':
      return 'aac-latm';
    case 'mp2':
    case 'mp3':
      return 'mpeg-audio';
    default:
      return ffprobeName;
  }
}

/** `bytes` cut into messages of `size` bytes (the last one shorter), as views. */
export function messagesOf(bytes: Uint8Array, size = SRT_MESSAGE): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += size) out.push(bytes.subarray(o, Math.min(o + size, bytes.length)));
  return out;
}

export interface FeedOptions {
  /** Ring slots (power of two >= 128); default: enough for every message. */
  slotCount?: number;
  /** Messages written per analyze() call (default WRITE_BATCH, as the publisher's receive batches). */
  batch?: number;
  /** Caller clock passed to analyze() for batch i (default: performance.now()). */
  nowMs?: (batchIndex: number) => number;
  /** After each batch has been analyzed; `keyframeSeq` is what analyze() returned. */
  onBatch?: (ring: PacketRing, firstSeq: number, count: number, keyframeSeq: number) => void;
}

/**
 * Writes `messages` into a PacketRing batch by batch and runs the analyzer on each new batch,
 * as the publisher's worker does. Returns the ring.
 */
export function feedRing(analyzer: TsAnalyzer, messages: Uint8Array[], opts: FeedOptions = {}): PacketRing {
  let slotCount = opts.slotCount ?? 128;
  if (opts.slotCount === undefined) while (slotCount < messages.length) slotCount *= 2;
  const ring = PacketRing.create(slotCount);
  const batch = opts.batch ?? WRITE_BATCH;
  for (let i = 0, b = 0; i < messages.length; i += batch, b++) {
    const first = ring.head();
    const n = Math.min(batch, messages.length - i);
    for (let k = 0; k < n; k++) ring.write(messages[i + k]!);
    const keyframeSeq = analyzer.analyzeRing(ring, first, n, opts.nowMs ? opts.nowMs(b) : performance.now());
    opts.onBatch?.(ring, first, n, keyframeSeq);
  }
  return ring;
}

/** PID of the TS packet at `p`. */
export function pidAt(b: Uint8Array, p: number): number {
  return ((b[p + 1]! & 0x1f) << 8) | b[p + 2]!;
}

/** Indices of the messages (of `size` bytes) that hold at least one packet of one of `pids`. */
export function messagesWithPids(bytes: Uint8Array, pids: Set<number>, size = SRT_MESSAGE): Set<number> {
  const out = new Set<number>();
  for (let p = 0; p + 188 <= bytes.length; p += 188) if (pids.has(pidAt(bytes, p))) out.add(Math.floor(p / size));
  return out;
}
