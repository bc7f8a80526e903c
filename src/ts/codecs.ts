/**
 * Codec of an elementary stream from its PMT stream_type and descriptors. The names are the
 * relay's own (stable, lowercase); `ffprobeCodecName` notes the ffprobe equivalent where the
 * two differ.
 */
import type { Descriptors } from './psi.js';

export type TrackKind = 'video' | 'audio' | 'subtitle' | 'data';

export type CodecName =
  | 'h264'
  | 'hevc'
  | 'mpeg1video'
  | 'mpeg2video'
  | 'mpeg4'
  | 'av1'
  | 'vc1'
  | 'aac'
  | 'aac-latm'
  | 'mpeg-audio'
  | 'ac3'
  | 'eac3'
  | 'ac4'
  | 'dts'
  | 'opus'
  | 's302m'
  | 'scte35'
  | 'id3'
  | 'metadata'
  | 'klv'
  | 'dvb-subtitle'
  | 'teletext'
  | 'private'
  | `private-0x${string}`;

export interface CodecInfo {
  codec: CodecName;
  kind: TrackKind;
}

/** Video codecs whose PES payload the keyframe scanner understands. */
export type ScannableVideoCodec = 'h264' | 'hevc' | 'mpeg2video' | 'mpeg1video';

export const STREAM_TYPE_MPEG1_VIDEO = 0x01;
export const STREAM_TYPE_MPEG2_VIDEO = 0x02;
export const STREAM_TYPE_MPEG1_AUDIO = 0x03;
export const STREAM_TYPE_MPEG2_AUDIO = 0x04;
export const STREAM_TYPE_PRIVATE_SECTIONS = 0x05;
export const STREAM_TYPE_PRIVATE_PES = 0x06;
export const STREAM_TYPE_AAC_ADTS = 0x0f;
export const STREAM_TYPE_MPEG4_VIDEO = 0x10;
export const STREAM_TYPE_AAC_LATM = 0x11;
export const STREAM_TYPE_METADATA_PES = 0x15;
export const STREAM_TYPE_H264 = 0x1b;
export const STREAM_TYPE_HEVC = 0x24;
export const STREAM_TYPE_AC3 = 0x81;
export const STREAM_TYPE_SCTE35 = 0x86;
export const STREAM_TYPE_EAC3 = 0x87;
export const STREAM_TYPE_VC1 = 0xea;

const KIND: Record<string, TrackKind> = {
  h264: 'video',
  hevc: 'video',
  mpeg1video: 'video',
  mpeg2video: 'video',
  mpeg4: 'video',
  av1: 'video',
  vc1: 'video',
  aac: 'audio',
  'aac-latm': 'audio',
  'mpeg-audio': 'audio',
  ac3: 'audio',
  eac3: 'audio',
  ac4: 'audio',
  dts: 'audio',
  opus: 'audio',
  s302m: 'audio',
  'dvb-subtitle': 'subtitle',
  teletext: 'subtitle',
};

/** registration_descriptor format identifiers that name a codec. */
const REGISTRATIONS: Record<string, CodecName> = {
  Opus: 'opus',
  'AC-3': 'ac3',
  EAC3: 'eac3',
  'AC-4': 'ac4',
  DTS1: 'dts',
  DTS2: 'dts',
  DTS3: 'dts',
  HEVC: 'hevc',
  AV01: 'av1',
  'VC-1': 'vc1',
  BSSD: 's302m',
  CUEI: 'scte35',
  'ID3 ': 'id3',
  KLVA: 'klv',
};

function info(codec: CodecName): CodecInfo {
  return { codec, kind: KIND[codec] ?? 'data' };
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** What the descriptors alone identify (DVB/ATSC audio descriptors, subtitles, registration, metadata). */
function fromDescriptors(d: Descriptors): CodecName | undefined {
  if (d.eac3) return 'eac3';
  if (d.ac3) return 'ac3';
  if (d.ac4) return 'ac4';
  if (d.dts) return 'dts';
  if (d.aac) return 'aac';
  if (d.subtitling) return 'dvb-subtitle';
  if (d.teletext) return 'teletext';
  if (d.registration !== undefined) {
    const c = REGISTRATIONS[d.registration];
    if (c !== undefined) return c;
  }
  if (d.metadataFormat === 'ID3 ') return 'id3';
  if (d.cueStreamType !== undefined) return 'scte35';
  return undefined;
}

/** The codec of an elementary stream from its stream_type and ES descriptor loop. */
export function codecFor(streamType: number, d: Descriptors): CodecInfo {
  switch (streamType) {
    case STREAM_TYPE_MPEG1_VIDEO:
      return info('mpeg1video');
    case STREAM_TYPE_MPEG2_VIDEO:
      return info('mpeg2video');
    case STREAM_TYPE_MPEG1_AUDIO:
    case STREAM_TYPE_MPEG2_AUDIO:
      return info('mpeg-audio');
    case STREAM_TYPE_AAC_ADTS:
      return info('aac');
    case STREAM_TYPE_MPEG4_VIDEO:
      return info('mpeg4');
    case STREAM_TYPE_AAC_LATM:
      return info('aac-latm');
    case STREAM_TYPE_METADATA_PES:
      // ID3 timed metadata (Apple HLS) declares metadata_format_identifier 'ID3 '; other formats stay generic.
      return info(d.metadataFormat === undefined || d.metadataFormat === 'ID3 ' || d.registration === 'ID3 ' ? 'id3' : 'metadata');
    case STREAM_TYPE_H264:
      return info('h264');
    case STREAM_TYPE_HEVC:
      return info('hevc');
    case STREAM_TYPE_AC3:
      return info('ac3');
    case STREAM_TYPE_SCTE35:
      return info('scte35');
    case STREAM_TYPE_EAC3:
      return info('eac3');
    case STREAM_TYPE_VC1:
      return info('vc1');
    case STREAM_TYPE_PRIVATE_PES:
      return info(fromDescriptors(d) ?? 'private');
    default: {
      // User-private stream types (0x80-0xFF) and anything else: trust a descriptor that names the codec.
      const c = fromDescriptors(d);
      if (c !== undefined) return info(c);
      return info(`private-0x${hex2(streamType)}`);
    }
  }
}

/** ffprobe's codec_name for one of ours (same name unless listed). */
export function ffprobeCodecName(codec: CodecName): string {
  switch (codec) {
    case 'aac-latm':
      return 'aac_latm';
    case 'scte35':
      return 'scte_35';
    case 'id3':
      return 'timed_id3';
    case 'dvb-subtitle':
      return 'dvb_subtitle';
    case 'teletext':
      return 'dvb_teletext';
    case 'mpeg-audio':
      return 'mp2'; // or 'mp3': the stream_type does not tell layer II from layer III
    default:
      return codec;
  }
}

export function isScannableVideo(codec: CodecName): codec is ScannableVideoCodec {
  return codec === 'h264' || codec === 'hevc' || codec === 'mpeg2video' || codec === 'mpeg1video';
}
