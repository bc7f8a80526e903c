/**
 * `file://` push targets: a recording of the stream into segment files under the node's
 * `recordingsRoot`. The part after `file://` is a path template (template.ts), not
 * percent-decoded (so `%Y` is a date field); parameters after `?` set the segmenting and the
 * retention:
 *
 *   file:///srv/rec/$stream/%Y-%m-%d/%H-%M-%S.ts?segmentSeconds=60&keepMaxBytes=10000000000
 *   file://$stream/%H-%M-%S.ts            (relative: inside recordingsRoot)
 *
 *   segmentSeconds  cut at the first keyframe this long after the segment's start (default 60)
 *   segmentBytes    cut at the first keyframe once the segment has this many bytes
 *   keepMaxAgeHours delete finished segments older than this (keep.maxAgeHours)
 *   keepMaxBytes    delete the oldest finished segments while all of them take more (keep.maxBytes)
 *   timeZone        IANA zone of the date fields (default UTC)
 *   playlist        1 (default) writes an HLS index.m3u8 next to the segments; 0 does not
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { realpathSync } from 'node:fs';
import { RecordingTargetError } from '../errors.js';
import { checkTemplate, checkTimeZone, substituteVars, templateBase, type TemplateVars } from './template.js';

export interface RecordingKeep {
  maxAgeHours?: number;
  maxBytes?: number;
}

export interface FileTarget {
  /** The target as written. */
  readonly raw: string;
  /** The path template (absolute, or relative to recordingsRoot). */
  readonly template: string;
  readonly segmentSeconds: number | undefined;
  readonly segmentBytes: number | undefined;
  readonly keep: RecordingKeep;
  readonly timeZone: string | undefined;
  readonly playlist: boolean;
}

export const DEFAULT_SEGMENT_SECONDS = 60;

/** True for texts that are meant as file:// targets (any case of the scheme). */
export function isFileTarget(text: string): boolean {
  return /^file:/i.test(text.trim());
}

const PARAMS = ['segmentSeconds', 'segmentBytes', 'keepMaxAgeHours', 'keepMaxBytes', 'timeZone', 'playlist'] as const;

function positive(name: string, value: string, integer: boolean): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isSafeInteger(n))) {
    throw new RecordingTargetError(`${name} must be a positive ${integer ? 'integer' : 'number'} (got ${JSON.stringify(value)})`, { param: name });
  }
  return n;
}

/** Parses a file:// target (no file system access). Throws RecordingTargetError. */
export function parseFileTarget(text: string): FileTarget {
  const raw = text.trim();
  const m = /^file:\/\/([^?#]*)(?:\?([^#]*))?$/i.exec(raw);
  if (m === null) {
    throw new RecordingTargetError(`a recording target is written file:///absolute/path.ts or file://relative/path.ts (got ${JSON.stringify(raw.slice(0, 200))})`);
  }
  const template = m[1]!;
  if (template === '' || template.endsWith('/')) {
    throw new RecordingTargetError(`the recording path ${JSON.stringify(template)} must name a file, e.g. file://$stream/%Y-%m-%d/%H-%M-%S.ts`);
  }
  if (template.split('/').includes('..')) {
    throw new RecordingTargetError(`the recording path ${JSON.stringify(template)} contains "..": recordings stay inside recordingsRoot; write the path without ".."`, { template });
  }
  if (template.includes('\0')) throw new RecordingTargetError('the recording path contains a NUL character');
  checkTemplate(template);
  const params = new Map<string, string>();
  for (const part of (m[2] ?? '').split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
    if (!(PARAMS as readonly string[]).includes(name)) {
      throw new RecordingTargetError(`${JSON.stringify(name)} is not a recording parameter; use ${PARAMS.join(', ')}`, { param: name });
    }
    if (params.has(name)) throw new RecordingTargetError(`the recording parameter ${name} is given twice`, { param: name });
    params.set(name, value);
  }
  const num = (name: string, integer: boolean): number | undefined => {
    const v = params.get(name);
    return v === undefined ? undefined : positive(name, v, integer);
  };
  const segmentBytes = num('segmentBytes', true);
  let segmentSeconds = num('segmentSeconds', false);
  if (segmentSeconds === undefined && segmentBytes === undefined) segmentSeconds = DEFAULT_SEGMENT_SECONDS;
  const timeZone = params.get('timeZone');
  if (timeZone !== undefined) checkTimeZone(timeZone);
  const playlist = params.get('playlist') ?? '1';
  if (playlist !== '0' && playlist !== '1') throw new RecordingTargetError(`playlist must be 0 or 1 (got ${JSON.stringify(playlist)})`, { param: 'playlist' });
  const keep: RecordingKeep = {};
  const age = num('keepMaxAgeHours', false);
  const bytes = num('keepMaxBytes', true);
  if (age !== undefined) keep.maxAgeHours = age;
  if (bytes !== undefined) keep.maxBytes = bytes;
  return { raw, template, segmentSeconds, segmentBytes, keep, timeZone, playlist: playlist === '1' };
}

/** True when `path` is `dir` or inside it (both absolute, already resolved). */
export function within(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && rel.split(sep)[0] !== '..');
}

/** The real path of `p`'s deepest existing ancestor (p itself when it exists), with the rest appended. */
export function realPathOfExisting(p: string): string {
  const rest: string[] = [];
  let cur = p;
  for (;;) {
    try {
      const real = realpathSync(cur);
      return rest.length === 0 ? real : resolve(real, ...rest.reverse());
    } catch {
      const parent = resolve(cur, '..');
      if (parent === cur) return p;
      rest.push(cur.slice(parent.length + (parent.endsWith(sep) ? 0 : 1)));
      cur = parent;
    }
  }
}

/**
 * The absolute path of `relOrAbs` (a template's fixed part or an expanded segment path) inside
 * `root`, or RecordingTargetError when it is outside: lexically, or through a symbolic link in
 * the part that exists already.
 */
export function confine(root: string, relOrAbs: string): string {
  if (relOrAbs.split('/').includes('..')) {
    throw new RecordingTargetError(`the recording path ${JSON.stringify(relOrAbs)} contains ".."; recordings stay inside recordingsRoot`, { path: relOrAbs });
  }
  const abs = resolve(root, relOrAbs);
  if (!within(abs, resolve(root))) {
    throw new RecordingTargetError(`the recording path ${JSON.stringify(abs)} is outside recordingsRoot ${JSON.stringify(root)}; write it relative (file://$stream/...) or under that folder`, { path: abs, recordingsRoot: root });
  }
  const realRoot = realPathOfExisting(resolve(root));
  const real = realPathOfExisting(abs);
  if (!within(real, realRoot)) {
    throw new RecordingTargetError(`the recording path ${JSON.stringify(abs)} leads outside recordingsRoot ${JSON.stringify(root)} through a symbolic link (to ${JSON.stringify(real)})`, { path: abs, recordingsRoot: root });
  }
  return abs;
}

/**
 * Checks a target where it enters (config, API): parseable, and its fixed folders (for the
 * stream and node) inside `root`. Without a root there is nowhere to record: refused.
 */
export function checkFileTarget(text: string, root: string | undefined, vars: TemplateVars): FileTarget {
  const t = parseFileTarget(text);
  if (root === undefined) {
    throw new RecordingTargetError('file:// push targets need recordingsRoot in the config file (the folder recordings are written under)');
  }
  const fixed = substituteVars(t.template, vars);
  confine(root, templateBase(fixed) === '' ? '.' : templateBase(fixed));
  confine(root, fixed);
  return t;
}
