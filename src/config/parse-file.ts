/**
 * Config file text → a plain object, with the `yaml` package (YAML 1.2, core schema).
 *
 * - A file whose name ends in `.json` is JSON: it must be valid JSON (what `JSON.parse` takes, so
 *   other JSON tools read the same file), and a syntax error names its line and column.
 * - Any other file is YAML (`key: value`, `# comments`); JSON is valid YAML too.
 * - In both, a key given twice in one mapping is an error naming both places (JSON.parse and
 *   most YAML readers would silently keep one of them).
 *
 * Every problem is a ConfigInvalidError (ERR_CONFIG_INVALID) whose message starts with
 * `file:line:column:`; `details` carries `file`, `position` ("line:column"), `line` and `column`.
 */
import { extname } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { ConfigInvalidError } from '../errors.js';
import { cut, formatKeyPath, Problems, type Seg } from './problems.js';

export type ConfigFormat = 'yaml' | 'json';

/** `.json` → JSON; anything else (`.yml`, `.yaml`, no extension) → YAML. */
export function formatOf(file: string): ConfigFormat {
  return extname(file).toLowerCase() === '.json' ? 'json' : 'yaml';
}

/** Offset → 1-based line and column. */
function lineColOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function syntaxError(file: string, text: string, offset: number | undefined, what: string, message: string, extra: Record<string, unknown> = {}): ConfigInvalidError {
  if (offset === undefined) return new ConfigInvalidError(`${file}: ${what}: ${message}`, undefined, { file, ...extra });
  const { line, column } = lineColOf(text, offset);
  return new ConfigInvalidError(`${file}:${line}:${column}: ${what}: ${message}`, undefined, { file, position: `${line}:${column}`, line, column, ...extra });
}

/** JSON.parse's words, with a hint for the two mistakes people make most. */
function jsonMistake(text: string, err: Error): { offset: number | undefined; message: string } {
  const at = /at position (\d+)/.exec(err.message);
  const offset = at === null ? undefined : Number(at[1]);
  let message = err.message.replace(/ in JSON at position \d+.*$/, '').replace(/^JSON\.parse: /, '');
  message = message.charAt(0).toLowerCase() + message.slice(1);
  if (offset !== undefined) {
    const c = text[offset];
    const before = text.slice(0, offset).trimEnd();
    if (offset >= text.trimEnd().length) {
      message = 'unexpected end of the file: a value is missing or a bracket is not closed';
    } else if ((c === '/' && (text[offset + 1] === '/' || text[offset + 1] === '*')) || c === '#') {
      message = 'comments are not allowed in JSON; remove them, or write the file as YAML (.yml), where # starts a comment';
    } else if ((c === '}' || c === ']') && before.endsWith(',')) {
      message = `trailing comma before '${c}': remove the last comma`;
    } else if (c === "'") {
      message = 'strings and key names must use double quotes ("), not single quotes';
    }
  }
  return { offset, message };
}

/** Every key given twice in one mapping, with the places of both. */
function duplicateKeys(doc: Document, text: string, file: string): void {
  const problems = new Problems();
  const where = (offset: number): string => {
    const { line, column } = lineColOf(text, offset);
    return `${line}:${column}`;
  };
  const walk = (node: unknown, path: Seg[]): void => {
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const offset = (pair.key as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
        const first = seen.get(key);
        if (first !== undefined) problems.add([...path, key], `given twice (at ${where(first)} and ${where(offset)} in ${file}); keep one`);
        else seen.set(key, offset);
        walk(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...path, i]));
    }
  };
  walk(doc.contents, []);
  problems.throwIfAny(file);
}

/** Parse config file text (YAML or JSON, see the module comment). Throws ConfigInvalidError. */
export function parseConfigText(text: string, file = '<config>', format: ConfigFormat = formatOf(file)): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '') {
    throw new ConfigInvalidError(`${file}: the config file is empty; write {} for all defaults, or leave out --config`, undefined, { file });
  }
  let json: unknown;
  if (format === 'json') {
    try {
      json = JSON.parse(body);
    } catch (err) {
      const { offset, message } = jsonMistake(body, err as Error);
      throw syntaxError(file, body, offset, 'invalid JSON', message);
    }
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(body, { lineCounter, prettyErrors: false, uniqueKeys: false, strict: true });
  if (format === 'yaml') {
    const first = doc.errors[0];
    if (first !== undefined) {
      const message =
        first.code === 'MULTIPLE_DOCS'
          ? "a config file holds one document: remove this '---' and what follows it, or merge the two"
          : first.message.replace(/\s+/g, ' ').trim();
      throw syntaxError(file, body, first.pos[0], 'invalid YAML', message, { yamlCode: first.code });
    }
    if (doc.contents === null) {
      throw new ConfigInvalidError(`${file}: the config file has only comments; write {} for all defaults, or leave out --config`, undefined, { file });
    }
  }
  duplicateKeys(doc, body, file);
  if (format === 'json') return json;
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // An alias expanding too often (a "billion laughs" file), or a value the core schema cannot build.
    throw new ConfigInvalidError(`${file}: invalid YAML: ${cut((err as Error).message, 200)}`, undefined, { file });
  }
}

/** Parse JSON config text (kept for callers that hold JSON text without a file name). */
export function parseConfigJson(text: string, file = '<config>'): unknown {
  return parseConfigText(text, file, 'json');
}

/**
 * Where each key path of a config file's text starts (`streams.cam.source` → line and column of
 * its key), for pointing a problem found after parsing (schema, meaning) at its place.
 */
export function keyPositions(text: string): Map<string, { line: number; column: number }> {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const out = new Map<string, { line: number; column: number }>();
  let doc: Document;
  try {
    doc = parseDocument(body, { uniqueKeys: false, prettyErrors: false });
  } catch {
    return out;
  }
  const walk = (node: unknown, path: Seg[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const offset = (pair.key as { range?: [number, number, number] } | null)?.range?.[0];
        const p = [...path, key];
        if (offset !== undefined) out.set(formatKeyPath(p), lineColOf(body, offset));
        walk(pair.value, p);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const offset = (item as { range?: [number, number, number] } | null)?.range?.[0];
        const p = [...path, i];
        if (offset !== undefined) out.set(formatKeyPath(p), lineColOf(body, offset));
        walk(item, p);
      });
    }
  };
  walk(doc.contents, []);
  return out;
}

/**
 * The same error with `at: "file:line:column"` on each of its problems: the place of the key, or
 * of the nearest enclosing key the file has (a missing key points at its parent). Messages are unchanged.
 */
export function withPositions(err: unknown, text: string, file: string): unknown {
  if (!(err instanceof ConfigInvalidError)) return err;
  const list = err.details?.['problems'];
  if (!Array.isArray(list)) return err;
  const positions = keyPositions(text);
  const place = (path: string): string | undefined => {
    for (let p = path; p !== ''; p = p.replace(/(\.[^.[\]]+|\[[^\]]*\])$/, '')) {
      const at = positions.get(p);
      if (at !== undefined) return `${file}:${at.line}:${at.column}`;
      if (!/(\.[^.[\]]+|\[[^\]]*\])$/.test(p)) break;
    }
    return undefined;
  };
  const problems = (list as Array<{ path: string }>).map((p) => {
    const at = place(p.path);
    return at === undefined ? p : { ...p, at };
  });
  return new ConfigInvalidError(err.message, err.path, { ...err.details, problems });
}
