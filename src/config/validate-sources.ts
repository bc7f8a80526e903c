/** A stream's `source` text (`push://`, `srt://...`, `file://...`) → the parsed `StreamSource`. */
import { resolve } from 'node:path';
import { parseSrtUrl } from '../srt/url.js';
import { maskUrl } from './secrets.js';
import { cut, type Problems, type Seg } from './problems.js';
import { insideDir } from './validate-values.js';
import type { StreamSource } from './types.js';

/** Parse a stream `source`. */
export function parseSource(text: string, segs: readonly Seg[], baseDir: string, problems: Problems, mediaRoot?: string): StreamSource | undefined {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text)?.[1]?.toLowerCase();
  if (scheme === 'push') {
    if (text.toLowerCase() === 'push://') return { kind: 'push' };
    problems.add(
      segs,
      `write exactly "push://" (allowed-address lists after push:// are not supported yet) (got ${JSON.stringify(cut(text))})`,
    );
    return undefined;
  }
  if (scheme === 'srt') {
    try {
      return { kind: 'srt', url: parseSrtUrl(text) };
    } catch (err) {
      problems.wrap(segs, err);
      return undefined;
    }
  }
  if (scheme === 'file') {
    if (!text.toLowerCase().startsWith('file://') || text.length <= 'file://'.length) {
      problems.add(segs, `write a file source as "file:///absolute/path.ts" or "file://relative/path.ts" (got ${JSON.stringify(cut(text))})`);
      return undefined;
    }
    let path = text.slice('file://'.length);
    if (/[?#]/.test(path)) {
      problems.add(segs, `a file source takes no '?' or '#'; write the path only, percent-encoded (%3F, %23) if the name has them`);
      return undefined;
    }
    try {
      path = decodeURIComponent(path);
    } catch {
      problems.add(segs, 'bad percent-encoding in the file path: escapes are %XX, and a literal % is written %25');
      return undefined;
    }
    const abs = resolve(baseDir, path);
    if (mediaRoot !== undefined && !insideDir(abs, mediaRoot)) {
      problems.add(segs, `the file ${JSON.stringify(cut(abs))} is outside mediaRoot ${JSON.stringify(mediaRoot)}; put it there (symbolic links are followed)`);
      return undefined;
    }
    return { kind: 'file', path: abs };
  }
  problems.add(
    segs,
    `must be "push://", "srt://host:port" (pull), "srt://:port" (listen) or "file://path.ts" (got ${JSON.stringify(cut(maskUrl(text)))})`,
  );
  return undefined;
}
