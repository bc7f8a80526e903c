/**
 * Finished segments on disk: finding one target's files, retention (which to delete), and
 * what a listing shows of each (start time, duration, bytes), read from the files themselves.
 */
import { closeSync, openSync, readdirSync, readSync, statSync, unlinkSync, rmdirSync, fstatSync } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { SectionAssembler, parsePat, parsePmt } from '../ts/psi.js';
import { codecFor } from '../ts/codecs.js';
import { TS_PACKET_SIZE, readPts } from '../ts/ts-packet.js';
import type { RecordingKeep } from './target.js';

export interface SegmentFile {
  /** Absolute path. */
  path: string;
  bytes: number;
  /** Last modification (the segment's end, for a finished one), ms since the epoch. */
  mtimeMs: number;
}

/** Folders below the base a target's files are looked for in (templates are a few folders deep). */
const MAX_DEPTH = 8;

/** The files under `base` whose '/'-separated path relative to it matches `pattern`, oldest first. */
export function findSegments(base: string, pattern: RegExp): SegmentFile[] {
  const out: SegmentFile[] = [];
  const walk = (dir: string, depth: number): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (depth < MAX_DEPTH) walk(p, depth + 1);
      } else if (e.isFile()) {
        const rel = relative(base, p).split(sep).join('/');
        if (!pattern.test(rel)) continue;
        try {
          const st = statSync(p);
          out.push({ path: p, bytes: st.size, mtimeMs: st.mtimeMs });
        } catch {
          // deleted meanwhile
        }
      }
    }
  };
  walk(base, 0);
  return out.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.path < b.path ? -1 : 1));
}

/** File system calls the async listing keeps in flight at once (libuv's pool has 4 threads by default). */
export const LISTING_CONCURRENCY = 16;

/** `fn` over `items`, at most `limit` at a time; results in the order of `items`. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

/**
 * findSegments without blocking the event loop (the API's listing, on the main thread): the
 * same files in the same order, read with fs/promises, `limit` calls at a time.
 */
export async function findSegmentsAsync(base: string, pattern: RegExp, limit = LISTING_CONCURRENCY): Promise<SegmentFile[]> {
  const files: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    const dirs: string[] = [];
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (depth < MAX_DEPTH) dirs.push(p);
      } else if (e.isFile() && pattern.test(relative(base, p).split(sep).join('/'))) {
        files.push(p);
      }
    }
    await mapLimit(dirs, limit, (d) => walk(d, depth + 1));
  };
  await walk(base, 0);
  const stats = await mapLimit(files, limit, async (p) => {
    try {
      const st = await stat(p);
      return { path: p, bytes: st.size, mtimeMs: st.mtimeMs };
    } catch {
      return undefined; // deleted meanwhile
    }
  });
  return stats.filter((f): f is SegmentFile => f !== undefined).sort((a, b) => a.mtimeMs - b.mtimeMs || (a.path < b.path ? -1 : 1));
}

/**
 * Which finished segments (`files`, oldest first) retention deletes at `nowMs`: every one older
 * than keep.maxAgeHours, then the oldest while all together take more than keep.maxBytes.
 * `exclude` (the open segment) is never deleted nor counted.
 */
export function chooseDeletions(files: readonly SegmentFile[], keep: RecordingKeep, nowMs: number, exclude: ReadonlySet<string> = new Set()): SegmentFile[] {
  const finished = files.filter((f) => !exclude.has(f.path));
  const out: SegmentFile[] = [];
  let kept = finished;
  if (keep.maxAgeHours !== undefined) {
    const limit = nowMs - keep.maxAgeHours * 3600_000;
    out.push(...kept.filter((f) => f.mtimeMs < limit));
    kept = kept.filter((f) => f.mtimeMs >= limit);
  }
  if (keep.maxBytes !== undefined) {
    let total = kept.reduce((s, f) => s + f.bytes, 0);
    let i = 0;
    while (total > keep.maxBytes && i < kept.length) {
      out.push(kept[i]!);
      total -= kept[i]!.bytes;
      i++;
    }
  }
  return out;
}

/** Deletes what chooseDeletions picks, and folders under `base` left empty. Returns the deleted files. */
export function applyRetention(base: string, pattern: RegExp, keep: RecordingKeep, exclude: ReadonlySet<string>, nowMs = Date.now()): SegmentFile[] {
  if (keep.maxAgeHours === undefined && keep.maxBytes === undefined) return [];
  const doomed = chooseDeletions(findSegments(base, pattern), keep, nowMs, exclude);
  const deleted: SegmentFile[] = [];
  for (const f of doomed) {
    try {
      unlinkSync(f.path);
      deleted.push(f);
    } catch {
      continue;
    }
    // Remove the folders the template made, up to the base, once empty.
    let dir = join(f.path, '..');
    while (dir.startsWith(base) && relative(base, dir) !== '') {
      try {
        rmdirSync(dir);
      } catch {
        break;
      }
      dir = join(dir, '..');
    }
  }
  return deleted;
}

/** What a listing shows of a segment. */
export interface SegmentInfo {
  path: string;
  bytes: number;
  /** ISO time of the first picture (the file's end minus its duration). */
  start: string;
  durationSeconds: number;
}

/** Bytes read at each end of a file for its duration (PAT/PMT and first PTS; the last pictures' PTS). */
const HEAD_BYTES = 64 * 1024;
const TAIL_BYTES = 1024 * TS_PACKET_SIZE;

/**
 * Duration of a TS file from its video (or first PES) PTS: the largest PTS in its last
 * TAIL_BYTES minus the smallest in its first HEAD_BYTES, plus one frame interval.
 */
export function probeDuration(path: string): number | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, HEAD_BYTES));
    readSync(fd, head, 0, head.length, 0);
    let tail: Buffer | undefined;
    if (size > HEAD_BYTES) {
      const at = tailOffset(size);
      tail = Buffer.alloc(size - at);
      readSync(fd, tail, 0, tail.length, at);
    }
    return durationOf(head, tail);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** probeDuration with fs/promises (the API's listing on the main thread). */
export async function probeDurationAsync(path: string): Promise<number | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(Math.min(size, HEAD_BYTES));
    await fh.read(head, 0, head.length, 0);
    let tail: Buffer | undefined;
    if (size > HEAD_BYTES) {
      const at = tailOffset(size);
      tail = Buffer.alloc(size - at);
      await fh.read(tail, 0, tail.length, at);
    }
    return durationOf(head, tail);
  } catch {
    return undefined;
  } finally {
    await fh?.close();
  }
}

/** Where the last TAIL_BYTES of a file of `size` start, on a packet boundary. */
function tailOffset(size: number): number {
  return Math.max(0, Math.floor((size - TAIL_BYTES) / TS_PACKET_SIZE) * TS_PACKET_SIZE);
}

/** The duration from a file's first bytes and (when it is longer than them) its last. */
function durationOf(head: Buffer, tail: Buffer | undefined): number | undefined {
  const pids = findPids(head);
  if (pids === undefined) return undefined;
  const first = ptsList(head, pids.video);
  const last = tail === undefined ? first : ptsList(tail, pids.video);
  if (first.length === 0 || last.length === 0) return undefined;
  const min = Math.min(...first);
  const max = Math.max(...last);
  const sorted = [...new Set(last)].sort((a, b) => a - b);
  let frame = 0;
  for (let i = 1; i < sorted.length; i++) {
    const d = sorted[i]! - sorted[i - 1]!;
    if (d > 0 && (frame === 0 || d < frame)) frame = d;
  }
  return Math.max(0, (max - min + frame) / 90000);
}

function findPids(b: Uint8Array): { video: number } | undefined {
  const pat = new SectionAssembler();
  const pmt = new SectionAssembler();
  let pmtPid = -1;
  let found: number | undefined;
  for (let p = 0; p + TS_PACKET_SIZE <= b.length && found === undefined; p += TS_PACKET_SIZE) {
    if (b[p] !== 0x47) continue;
    const pid = ((b[p + 1]! & 0x1f) << 8) | b[p + 2]!;
    const pusi = (b[p + 1]! & 0x40) !== 0;
    const afc = (b[p + 3]! >> 4) & 3;
    if ((afc & 1) === 0) continue;
    const start = p + 4 + ((afc & 2) !== 0 ? 1 + b[p + 4]! : 0);
    if (start >= p + TS_PACKET_SIZE) continue;
    if (pid === 0) {
      pat.push(b, start, p + TS_PACKET_SIZE, pusi, (buf, len) => {
        const t = parsePat(buf, len);
        if (t?.programs[0] !== undefined) pmtPid = t.programs[0].pmtPid;
      });
    } else if (pid === pmtPid) {
      pmt.push(b, start, p + TS_PACKET_SIZE, pusi, (buf, len) => {
        const t = parsePmt(buf, len);
        if (t === null) return;
        const video = t.streams.find((s) => codecFor(s.streamType, s.descriptors).kind === 'video') ?? t.streams[0];
        if (video !== undefined) found = video.pid;
      });
    }
  }
  return found === undefined ? undefined : { video: found };
}

function ptsList(b: Uint8Array, pid: number): number[] {
  const out: number[] = [];
  for (let p = 0; p + TS_PACKET_SIZE <= b.length; p += TS_PACKET_SIZE) {
    if (b[p] !== 0x47 || (b[p + 1]! & 0x40) === 0 || (((b[p + 1]! & 0x1f) << 8) | b[p + 2]!) !== pid) continue;
    const afc = (b[p + 3]! >> 4) & 3;
    if ((afc & 1) === 0) continue;
    const q = p + 4 + ((afc & 2) !== 0 ? 1 + b[p + 4]! : 0);
    if (q + 14 > p + TS_PACKET_SIZE || b[q] !== 0 || b[q + 1] !== 0 || b[q + 2] !== 1) continue;
    if ((b[q + 7]! & 0x80) === 0) continue;
    out.push(readPts(b, q + 9));
  }
  return out;
}

/** A listing entry for a finished segment file. */
export function segmentInfo(f: SegmentFile): SegmentInfo {
  return infoOf(f, probeDuration(f.path) ?? 0);
}

/** segmentInfo with fs/promises. */
export async function segmentInfoAsync(f: SegmentFile): Promise<SegmentInfo> {
  return infoOf(f, (await probeDurationAsync(f.path)) ?? 0);
}

/** The listing entries of `files`, read `limit` at a time. */
export function segmentInfosAsync(files: readonly SegmentFile[], limit = LISTING_CONCURRENCY): Promise<SegmentInfo[]> {
  return mapLimit(files, limit, segmentInfoAsync);
}

function infoOf(f: SegmentFile, duration: number): SegmentInfo {
  return { path: f.path, bytes: f.bytes, start: new Date(Math.round(f.mtimeMs - duration * 1000)).toISOString(), durationSeconds: Math.round(duration * 1000) / 1000 };
}

/** An HLS playlist (VOD once `ended`) of segments, with URIs relative to the playlist's folder. */
export function playlistText(entries: ReadonlyArray<{ uri: string; durationSeconds: number; start?: string }>, ended: boolean): string {
  const target = Math.max(1, Math.ceil(Math.max(0, ...entries.map((e) => e.durationSeconds))));
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', `#EXT-X-TARGETDURATION:${target}`, '#EXT-X-MEDIA-SEQUENCE:0', `#EXT-X-PLAYLIST-TYPE:${ended ? 'VOD' : 'EVENT'}`];
  for (const e of entries) {
    if (e.start !== undefined) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${e.start}`);
    lines.push(`#EXTINF:${e.durationSeconds.toFixed(3)},`, e.uri);
  }
  if (ended) lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}
