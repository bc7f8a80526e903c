/**
 * SegmentWriter: the file side of a recording, on the recorder's worker thread. It is the
 * Segmenter's sink: it opens each segment file (the path template expanded at the keyframe's
 * arrival, confined to recordingsRoot, never replacing a file), writes whole chunks with
 * blocking writes (this thread only: the data plane never waits), and fsyncs and closes a
 * finished segment, then applies retention and rewrites the target's playlist.
 *
 * A write, open or sync that fails (ENOSPC, EACCES, EROFS, ENOENT...) or an open file that was
 * deleted (its link count is 0) ends the segment cleanly: the file is cut back to its last whole
 * TS packet (deleted when empty), synced and closed, and the error is kept in `failure` for the
 * worker to report; nothing is written after that.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, renameSync, unlinkSync, writeFileSync, writeSync, constants } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { SegmentEnd, SegmentSink, SegmentStart } from './segmenter.js';
import { confine } from './target.js';
import { expandDate, templateBase, templatePattern } from './template.js';
import { applyRetention, findSegments, playlistText, probeDuration } from './segments.js';
import type { RecordingKeep } from './target.js';
import { TS_PACKET_SIZE } from '../ts/ts-packet.js';

export interface SegmentWriterOptions {
  root: string;
  /** The template with $stream and $node filled in. */
  template: string;
  timeZone: string | undefined;
  keep: RecordingKeep;
  /** Playlist file name in the template's base folder; undefined = none. */
  playlist: string | undefined;
  /** Test hook: the clock (ms since the epoch). */
  now?: () => number;
}

export interface FinishedSegment {
  path: string;
  bytes: number;
  durationSeconds: number;
  startMs: number;
}

export interface SegmentWriterEvents {
  opened(path: string): void;
  finished(seg: FinishedSegment): void;
  deleted(paths: string[]): void;
}

export class SegmentWriter implements SegmentSink {
  readonly #o: SegmentWriterOptions;
  readonly #ev: SegmentWriterEvents;
  readonly #base: string;
  readonly #pattern: RegExp;
  readonly #durations = new Map<string, number>();
  #fd: number | undefined;
  #path: string | undefined;
  #written = 0;
  #openedAt = 0;
  /** The first error: nothing is written once it is set. */
  failure: Error | undefined;
  bytesWritten = 0;

  constructor(o: SegmentWriterOptions, ev: SegmentWriterEvents) {
    this.#o = o;
    this.#ev = ev;
    this.#base = confine(o.root, templateBase(o.template) === '' ? '.' : templateBase(o.template));
    this.#pattern = templatePattern(o.template);
  }

  get currentPath(): string | undefined {
    return this.#path;
  }

  open(start: SegmentStart): void {
    void start;
    if (this.failure !== undefined) return;
    try {
      if (!existsSync(this.#o.root)) {
        throw Object.assign(new Error(`recordingsRoot ${this.#o.root} does not exist (not mounted?); create it`), { code: 'ENOENT' });
      }
      const now = (this.#o.now ?? Date.now)();
      const rel = expandDate(this.#o.template, new Date(now), this.#o.timeZone);
      let path = confine(this.#o.root, rel);
      makeFolders(this.#o.root, dirname(path));
      path = confine(this.#o.root, rel); // a symbolic link made meanwhile is caught here
      for (let n = 1; existsSync(path); n++) path = withSuffix(confine(this.#o.root, rel), n);
      this.#fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
      this.#path = path;
      this.#written = 0;
      this.#openedAt = now;
      this.#ev.opened(path);
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
    }
  }

  write(bytes: Uint8Array): void {
    if (this.failure !== undefined || this.#fd === undefined) return;
    try {
      let off = 0;
      while (off < bytes.byteLength) {
        const n = writeSync(this.#fd, bytes, off, bytes.byteLength - off);
        off += n;
        this.#written += n;
        this.bytesWritten += n;
      }
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      this.#abandon();
    }
  }

  close(end: SegmentEnd): void {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    const path = this.#path!;
    this.#fd = undefined;
    this.#path = undefined;
    try {
      fsyncSync(fd);
      closeSync(fd);
    } catch (err) {
      this.failure ??= err instanceof Error ? err : new Error(String(err));
      try {
        closeSync(fd);
      } catch {
        // closed already
      }
      return;
    }
    this.#durations.set(path, end.durationSeconds);
    this.#ev.finished({ path, bytes: this.#written, durationSeconds: end.durationSeconds, startMs: this.#openedAt });
    this.housekeeping();
  }

  /** Retention, then the playlist (after each finished segment, and once at the start). */
  housekeeping(ended = false): void {
    try {
      const exclude = new Set(this.#path !== undefined ? [this.#path] : []);
      const deleted = applyRetention(this.#base, this.#pattern, this.#o.keep, exclude);
      for (const d of deleted) this.#durations.delete(d.path);
      if (deleted.length > 0) this.#ev.deleted(deleted.map((d) => d.path));
      if (this.#o.playlist !== undefined) this.#writePlaylist(exclude, ended);
    } catch (err) {
      // Housekeeping never fails the recording; the next segment tries again.
      void err;
    }
  }

  /** True when the open segment file was deleted (its link count is 0): the caller ends the segment. */
  checkDeleted(): boolean {
    if (this.#fd === undefined || this.failure !== undefined) return false;
    try {
      if (fstatSync(this.#fd).nlink > 0) return false;
    } catch {
      // fstat failing is the same news
    }
    this.failure = new Error(`the segment file ${this.#path} was deleted while it was being written`);
    const fd = this.#fd;
    this.#fd = undefined;
    this.#path = undefined;
    try {
      closeSync(fd);
    } catch {
      // nothing left to do
    }
    return true;
  }

  /** Ends a segment after a failed write: cut back to whole packets (or removed when empty), synced and closed. */
  #abandon(): void {
    const fd = this.#fd;
    const path = this.#path;
    this.#fd = undefined;
    this.#path = undefined;
    if (fd === undefined) return;
    const whole = Math.floor(this.#written / TS_PACKET_SIZE) * TS_PACKET_SIZE;
    try {
      ftruncateSync(fd, whole);
    } catch {
      // keep what is there
    }
    try {
      fsyncSync(fd);
    } catch {
      // the disk refuses even that
    }
    try {
      closeSync(fd);
    } catch {
      // closed
    }
    if (path === undefined) return;
    if (whole === 0) {
      try {
        unlinkSync(path);
      } catch {
        // gone already
      }
    } else {
      const duration = probeDuration(path) ?? 0;
      this.#durations.set(path, duration);
      this.#ev.finished({ path, bytes: whole, durationSeconds: duration, startMs: this.#openedAt });
    }
  }

  /** Ends the open segment at once (the worker stops after a failure elsewhere). */
  abort(): void {
    this.#abandon();
  }

  #writePlaylist(exclude: ReadonlySet<string>, ended: boolean): void {
    const files = findSegments(this.#base, this.#pattern).filter((f) => !exclude.has(f.path));
    const entries = files.map((f) => {
      let d = this.#durations.get(f.path);
      if (d === undefined) {
        d = probeDuration(f.path) ?? 0;
        this.#durations.set(f.path, d);
      }
      return { uri: relative(this.#base, f.path).split(sep).join('/'), durationSeconds: d, start: new Date(Math.round(f.mtimeMs - d * 1000)).toISOString() };
    });
    // No folder yet (nothing recorded; recordingsRoot perhaps not mounted): nothing to list, nothing created.
    if (!existsSync(this.#base)) return;
    const out = join(this.#base, this.#o.playlist!);
    const tmp = `${out}.tmp`;
    writeFileSync(tmp, playlistText(entries, ended));
    renameSync(tmp, out);
  }
}

/**
 * Creates the folders from `root` (which must exist) down to `dir`, one at a time, so that the
 * error of the one that cannot be made is reported as it is (EROFS, EACCES, ENOSPC...).
 */
function makeFolders(root: string, dir: string): void {
  const rel = relative(root, dir);
  if (rel === '') return;
  let cur = root;
  for (const part of rel.split(sep)) {
    cur = join(cur, part);
    try {
      mkdirSync(cur);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** `a/b.ts` + 2 → `a/b-2.ts`. */
function withSuffix(path: string, n: number): string {
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  return dot > slash ? `${path.slice(0, dot)}-${n}${path.slice(dot)}` : `${path}-${n}`;
}
