/**
 * Loading the relay configuration: JSON file → JSON Schema (schema/config.schema.json, via ajv)
 * → command-line overrides → semantic checks (ports, srt:// URLs and SRT options, sources,
 * URLs) → defaults → deep freeze.
 *
 * Every problem is reported as one `ConfigInvalidError` (ERR_CONFIG_INVALID) whose message has a
 * line per problem, `key.path: what is wrong (got ...)`, naming what to change. All schema
 * problems are reported at once, and all semantic ones. Passphrases and tokens are never echoed.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { availableParallelism, cpus, hostname, totalmem } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ConfigInvalidError, isSrtRelayError, orList } from '../errors.js';
import { SRT_OPTIONS, editDistance, normalizeOptions, type SrtOptionValue } from '../srt/options.js';
import { formatSrtUrl, parseSrtUrl, type SrtUrl } from '../srt/url.js';
import { checkFileTarget, isFileTarget, type FileTarget } from '../recording/target.js';
import { hostWords, PortRegistry } from '../srt/port-registry.js';
import { isSecretKey, maskUrl } from './secrets.js';
import { portDialects } from './stream-ids.js';
import { DEFAULT_TAKEOVER_AFTER_MS } from '../streams/defaults.js';
import type {
  CliOverrides,
  ClusterConfig,
  ClusterInput,
  PushConfig,
  RelayConfig,
  RelayConfigInput,
  SrtParamsInput,
  SrtPortConfig,
  SrtPortInput,
  StreamConfig,
  StreamInput,
  StreamSource,
} from './types.js';

// ---------------------------------------------------------------------------------------------
// defaults

export const DEFAULT_SRT_PORT = 8889;
export const DEFAULT_SRT_HOST = '0.0.0.0';
export const DEFAULT_API_PORT = 4242;
export const DEFAULT_API_HOST = '127.0.0.1';
/** Upper bound of `reusePort`, and of its default (the worker count). */
export const MAX_REUSE_PORT = 16;

export const STREAM_DEFAULTS = Object.freeze({
  bufferTimeMs: 50_000,
  acceptStreamIds: 'ignore',
  alwaysOn: false,
  onPublisherConflict: 'refuse',
  takeoverAfterMs: DEFAULT_TAKEOVER_AFTER_MS,
  raw: false,
  idleTimeoutMs: 20_000,
  failoverTimeoutMs: 10_000,
} as const);

export const AUTH_DEFAULTS = Object.freeze({ timeoutMs: 2000, cacheMs: 5000 } as const);

/** Same rule as the schema's `nodeId` pattern. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** Same rule as the schema's stream name (1..200 chars, '/' only between non-empty parts). */
export { STREAM_NAME_PATTERN } from '../streams/stream-name.js';

/** Number of CPU cores (the default worker count). */
export function defaultWorkers(): number {
  try {
    return Math.max(1, availableParallelism());
  } catch {
    return Math.max(1, cpus().length);
  }
}

/** `<hostname>-<pid>`, reduced to the characters a node id may contain. */
export function defaultNodeId(): string {
  const host = hostname().replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'relay';
  return `${host.slice(0, 100)}-${process.pid}`;
}

// ---------------------------------------------------------------------------------------------
// problems and key paths

type Seg = string | number;

interface Problem {
  readonly path: string;
  readonly message: string;
  /** The code of the error behind it (the URL parser's, the option catalog's), when there was one. */
  readonly code?: string;
}

/** `['srt', 'ports', 0, 'direction']` → `srt.ports[0].direction`; odd names in `["..."]`. */
export function formatKeyPath(segs: readonly Seg[]): string {
  let out = '';
  for (const s of segs) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z0-9_$-]+$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

class Problems {
  readonly list: Problem[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly flagPaths: ReadonlyMap<string, string> = new Map()) {}

  add(segs: readonly Seg[], message: string, code?: string): void {
    const path = formatKeyPath(segs);
    if (this.seen.has(path)) return; // first problem per key is enough
    this.seen.add(path);
    const flag = this.flagFor(path);
    this.list.push({ path, message: flag === undefined ? message : `${message} (set by ${flag})`, ...(code !== undefined ? { code } : {}) });
  }

  /** Record an error thrown by the srt:// URL parser or the options catalog. */
  wrap(segs: readonly Seg[], err: unknown): void {
    if (!isSrtRelayError(err)) throw err;
    this.add(segs, err.message, err.code);
  }

  /** The flag that set the value at `path`, if any. */
  flagFor(path: string): string | undefined {
    for (const [p, flag] of this.flagPaths) if (path === p || path.startsWith(`${p}.`)) return flag;
    return undefined;
  }

  throwIfAny(file: string | undefined): void {
    if (this.list.length === 0) return;
    const lines = this.list.map((p) => `${p.path === '' ? '(top level)' : p.path}: ${p.message}`);
    const first = this.list[0] as Problem;
    throw new ConfigInvalidError(lines.join('\n'), first.path, {
      ...(file === undefined ? {} : { file }),
      problems: this.list.map((p) => ({ ...p })),
    });
  }
}

/** Values under secret keys (src/config/secrets.ts) are never shown in messages. */
function isSecretPath(segs: readonly Seg[]): boolean {
  return segs.some((s) => typeof s === 'string' && isSecretKey(s));
}

function cut(s: string, n = 60): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** A value for "(got ...)" in a message. */
function showValue(v: unknown, secret = false): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string':
      return secret ? `a string of ${[...v].length} characters` : JSON.stringify(cut(v));
    case 'number':
    case 'boolean':
      return secret ? `a ${typeof v}` : String(v);
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = c.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best !== undefined && bestDist <= Math.min(3, Math.max(1, Math.floor(word.length / 2))) ? best : undefined;
}

// ---------------------------------------------------------------------------------------------
// the JSON Schema

let validator: ValidateFunction | undefined;
let schemaPath: string | undefined;

/** Absolute path of schema/config.schema.json (found above this module, in src/ or dist/src/). */
export function configSchemaPath(): string {
  if (schemaPath !== undefined) return schemaPath;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'schema', 'config.schema.json');
    if (existsSync(candidate)) {
      schemaPath = candidate;
      return candidate;
    }
    dir = dirname(dir);
  }
  throw new Error('srt-relay: schema/config.schema.json not found next to the installed package');
}

/** The parsed JSON Schema of the config file. */
export function configSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(configSchemaPath(), 'utf8')) as Record<string, unknown>;
}

function getValidator(): ValidateFunction {
  if (validator === undefined) {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
    // VS Code's extension keyword: the text shown when a `pattern` fails; we show it too.
    ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
    validator = ajv.compile(configSchema());
  }
  return validator;
}

const TYPE_WORDS: Readonly<Record<string, string>> = {
  integer: 'a whole number',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object ({...})',
  array: 'a list ([...])',
  null: 'null',
};

function pointerSegs(pointer: string, data: unknown): Seg[] {
  if (pointer === '') return [];
  const segs: Seg[] = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      const i = Number(part);
      segs.push(i);
      cur = cur[i];
    } else {
      segs.push(part);
      cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[part] : undefined;
    }
  }
  return segs;
}

type Schema = Record<string, unknown>;

function num(schema: Schema | undefined, key: string): number | undefined {
  const v = schema?.[key];
  return typeof v === 'number' ? v : undefined;
}

function rangeText(lo: number | undefined, hi: number | undefined, unit = ''): string {
  if (lo !== undefined && hi !== undefined) return `must be ${lo} to ${hi}${unit}`;
  if (lo !== undefined) return `must be at least ${lo}${unit}`;
  return `must be at most ${hi ?? '?'}${unit}`;
}

/** One ajv error → a key path and a message; undefined to skip it. */
function describeAjvError(e: ErrorObject, data: unknown): { segs: Seg[]; message: string } | undefined {
  const segs = pointerSegs(e.instancePath, data);
  const parent = e.parentSchema as Schema | undefined;
  const value: unknown = e.data;
  const secret = isSecretPath(segs);
  const params = e.params as Record<string, unknown>;

  if (e.propertyName !== undefined) {
    // A key of a map (a stream name) failed its propertyNames schema.
    const name = e.propertyName;
    const what = segs[segs.length - 1] === 'streams' ? 'stream name' : 'name';
    let rule: string;
    if (e.keyword === 'pattern') {
      rule = typeof parent?.['patternErrorMessage'] === 'string' ? parent['patternErrorMessage'] : `must match ${String(params['pattern'])}`;
    } else if (e.keyword === 'minLength' || e.keyword === 'maxLength') {
      rule = `${rangeText(num(parent, 'minLength'), num(parent, 'maxLength'), ' characters')} (got ${[...name].length})`;
    } else {
      rule = e.message ?? 'is not valid';
    }
    return { segs: [...segs, name], message: `invalid ${what}: ${rule}` };
  }

  switch (e.keyword) {
    case 'propertyNames':
      return undefined; // reported through the inner error, which carries the name
    case 'type': {
      const types = Array.isArray(params['type']) ? (params['type'] as string[]) : String(params['type']).split(',');
      const want = orList(types.map((t) => TYPE_WORDS[t] ?? t));
      let hint = '';
      if (typeof value === 'string' && !secret && (types.includes('integer') || types.includes('number')) && /^-?[0-9.]+$/.test(value)) {
        hint = `; write it without quotes: ${value}`;
      } else if (typeof value === 'string' && types.includes('boolean') && /^(true|false)$/i.test(value)) {
        hint = `; write it without quotes: ${value.toLowerCase()}`;
      }
      return { segs, message: `must be ${want} (got ${showValue(value, secret)})${hint}` };
    }
    case 'enum': {
      const allowed = (params['allowedValues'] as unknown[]).map(String);
      const near = typeof value === 'string' ? closest(value, allowed) : undefined;
      const hint = near !== undefined && near !== value ? `; did you mean "${near}"?` : '';
      return { segs, message: `must be one of ${allowed.join(', ')} (got ${showValue(value, secret)})${hint}` };
    }
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      const known = Object.keys((parent?.['properties'] as Schema | undefined) ?? {}).filter((k) => k !== '$schema');
      const near = closest(key, known);
      const hint = near !== undefined ? `did you mean "${near}"? ` : '';
      return {
        segs: [...segs, key],
        message: `unknown key; ${hint}valid keys here are ${known.join(', ')} (remove or rename it)`,
      };
    }
    case 'required': {
      const key = String(params['missingProperty']);
      const prop = (parent?.['properties'] as Record<string, Schema> | undefined)?.[key];
      const example = Array.isArray(prop?.['examples']) ? prop['examples'][0] : undefined;
      const eg = example === undefined ? '' : `, e.g. "${key}": ${JSON.stringify(example)}`;
      return { segs: [...segs, key], message: `is required${eg}` };
    }
    case 'minimum':
    case 'maximum': {
      const unit = segs.length > 0 && /Ms$/.test(String(segs[segs.length - 1])) ? ' milliseconds' : '';
      return { segs, message: `${rangeText(num(parent, 'minimum'), num(parent, 'maximum'), unit)} (got ${showValue(value, secret)})` };
    }
    case 'exclusiveMinimum':
      return { segs, message: `must be more than ${String(params['limit'])} (got ${showValue(value, secret)})` };
    case 'exclusiveMaximum':
      return { segs, message: `must be less than ${String(params['limit'])} (got ${showValue(value, secret)})` };
    case 'minLength':
    case 'maxLength': {
      const len = typeof value === 'string' ? [...value].length : 0;
      const lo = num(parent, 'minLength');
      const hi = num(parent, 'maxLength');
      if (lo === 1 && len === 0) return { segs, message: 'must not be empty' };
      return { segs, message: `${rangeText(lo, hi, ' characters')} (got ${len})` };
    }
    case 'pattern': {
      const rule =
        typeof parent?.['patternErrorMessage'] === 'string' ? parent['patternErrorMessage'] : `must match ${String(params['pattern'])}`;
      return { segs, message: `${rule} (got ${showValue(typeof value === 'string' ? maskUrl(value) : value, secret)})` };
    }
    default:
      return { segs, message: e.message ?? `is not valid (${e.keyword})` };
  }
}

// ---------------------------------------------------------------------------------------------
// JSON with positions

/** Byte offset → "line:column" (1-based). */
function lineCol(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return `${line}:${offset - lineStart + 1}`;
}

class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

interface DuplicateKey {
  readonly segs: Seg[];
  readonly first: number;
  readonly again: number;
}

/**
 * A strict JSON scanner used for its positions: it finds the first syntax error (with an
 * explanation) and every key given twice in one object, which JSON.parse silently drops.
 */
class JsonScanner {
  private i = 0;
  readonly duplicates: DuplicateKey[] = [];

  constructor(private readonly s: string) {}

  scan(): void {
    this.value([]);
    this.ws();
    if (this.i < this.s.length) this.fail('unexpected text after the end of the JSON value (only one top-level object is allowed)');
  }

  private fail(message: string, at = this.i): never {
    throw new JsonSyntaxError(message, at);
  }

  private ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.i++;
      else if (c === '/' && (s[this.i + 1] === '/' || s[this.i + 1] === '*')) this.fail('comments are not allowed in JSON; remove them');
      else break;
    }
  }

  private value(path: Seg[]): void {
    this.ws();
    const c = this.s[this.i];
    if (c === undefined) this.fail('unexpected end of the file: a value is missing or a bracket is not closed');
    if (c === '{') return this.object(path);
    if (c === '[') return this.array(path);
    if (c === '"') {
      this.string();
      return;
    }
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    for (const word of ['true', 'false', 'null']) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return;
      }
    }
    if (c === "'") this.fail('strings must use double quotes ("), not single quotes');
    if (/[A-Za-z_]/.test(c)) this.fail('unquoted text: strings and key names must be in double quotes');
    this.fail(`unexpected '${c}' where a value was expected`);
  }

  private object(path: Seg[]): void {
    this.i++; // {
    const keys = new Map<string, number>();
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      const c = this.s[this.i];
      if (c === '}') this.fail("trailing comma before '}': remove the last comma", this.i);
      if (c !== '"') {
        if (c === undefined) this.fail("unexpected end of the file: an object is not closed with '}'");
        if (c === "'") this.fail('key names must use double quotes ("), not single quotes');
        this.fail('expected a key name in double quotes');
      }
      const at = this.i;
      const key = this.string();
      const first = keys.get(key);
      if (first !== undefined) this.duplicates.push({ segs: [...path, key], first, again: at });
      else keys.set(key, at);
      this.ws();
      if (this.s[this.i] !== ':') this.fail(`expected ':' after the key "${cut(key, 40)}"`);
      this.i++;
      this.value([...path, key]);
      this.ws();
      const d = this.s[this.i];
      if (d === ',') {
        this.i++;
        continue;
      }
      if (d === '}') {
        this.i++;
        return;
      }
      if (d === undefined) this.fail("unexpected end of the file: an object is not closed with '}'");
      this.fail("expected ',' or '}' after a value (is a comma missing?)");
    }
  }

  private array(path: Seg[]): void {
    this.i++; // [
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return;
    }
    for (let n = 0; ; n++) {
      this.ws();
      if (this.s[this.i] === ']') this.fail("trailing comma before ']': remove the last comma");
      this.value([...path, n]);
      this.ws();
      const d = this.s[this.i];
      if (d === ',') {
        this.i++;
        continue;
      }
      if (d === ']') {
        this.i++;
        return;
      }
      if (d === undefined) this.fail("unexpected end of the file: a list is not closed with ']'");
      this.fail("expected ',' or ']' after a list item (is a comma missing?)");
    }
  }

  private string(): string {
    const start = this.i;
    this.i++; // "
    const s = this.s;
    for (;;) {
      const c = s[this.i];
      if (c === undefined || c === '\n') this.fail('a string is not closed with a double quote', start);
      if (c === '"') {
        this.i++;
        return JSON.parse(s.slice(start, this.i)) as string;
      }
      if (c === '\\') {
        const e = s[this.i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(this.i + 2, this.i + 6))) this.fail('\\u must be followed by 4 hex digits');
          this.i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          this.i += 2;
        } else {
          this.fail(`bad escape '\\${e ?? ''}' in a string (a backslash is written \\\\)`);
        }
        continue;
      }
      if (c < ' ') this.fail('control character in a string (write a tab as \\t)');
      this.i++;
    }
  }

  private number(): void {
    const re = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    re.lastIndex = this.i;
    const m = re.exec(this.s);
    if (m === null || m[0] === '-') this.fail('bad number (JSON numbers are like 200, -1 or 1.5, without leading zeros)');
    this.i = re.lastIndex;
    const next = this.s[this.i];
    if (next !== undefined && /[0-9A-Za-z_.]/.test(next)) this.fail('bad number (JSON numbers are like 200, -1 or 1.5; quote other text)');
  }
}

/** Parse config JSON text; syntax errors and repeated keys become ConfigInvalidError with line:column. */
export function parseConfigJson(text: string, file = '<config>'): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '') {
    throw new ConfigInvalidError(`${file}: the config file is empty; write {} for all defaults, or leave out --config`, undefined, {
      file,
    });
  }
  const scanner = new JsonScanner(body);
  try {
    scanner.scan();
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err;
    throw new ConfigInvalidError(`${file}:${lineCol(body, err.offset)}: invalid JSON: ${err.message}`, undefined, {
      file,
      position: lineCol(body, err.offset),
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    // The scanner should have caught it; keep JSON.parse's own words.
    throw new ConfigInvalidError(`${file}: invalid JSON: ${(err as Error).message}`, undefined, { file });
  }
  if (scanner.duplicates.length > 0) {
    const problems = new Problems();
    for (const d of scanner.duplicates) {
      problems.add(d.segs, `given twice (at ${lineCol(body, d.first)} and ${lineCol(body, d.again)}); keep one`);
    }
    problems.throwIfAny(file);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// semantic checks shared with the command line

const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** Check a host name or IP address; returns a problem text or undefined. IPv6 may be bracketed. */
export function checkHostText(text: string): string | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (isIP(bare) !== 0) return undefined;
  if (bare.includes(':')) return `must be an IP address or host name; write IPv6 addresses like ::1 (got ${JSON.stringify(cut(text))})`;
  if (/^[0-9.]+$/.test(bare)) return `is not a valid IPv4 address (four numbers 0 to 255, like 192.0.2.10) (got ${JSON.stringify(cut(text))})`;
  if (bare.length <= 253 && bare.split('.').every((l) => HOST_LABEL.test(l))) return undefined;
  return `must be an IP address or host name (letters, digits, '-' and '.') (got ${JSON.stringify(cut(text))})`;
}

function bareHost(text: string): string {
  return text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
}

/** Check a redis:// or rediss:// URL; returns a problem text or undefined. */
export function checkRedisUrl(text: string): string | undefined {
  const shown = JSON.stringify(cut(maskUrl(text)));
  const example = 'redis://127.0.0.1:6379/0';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `must be a URL like ${example} (got ${shown})`;
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    return `must be a redis:// or rediss:// (TLS) URL, e.g. ${example} (got ${shown})`;
  }
  if (url.hostname === '') return `needs a host, e.g. ${example} (got ${shown})`;
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/[0-9]{1,5}$/.test(url.pathname)) {
    return `the path is the database number, e.g. ${example} (got ${shown})`;
  }
  return undefined;
}

/** Check an http(s) URL (the auth webhook); returns a problem text or undefined. */
export function checkHttpUrl(text: string): string | undefined {
  const shown = JSON.stringify(cut(maskUrl(text)));
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `must be an http:// or https:// URL, e.g. "https://auth.example.com/srt" (got ${shown})`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `must be an http:// or https:// URL, e.g. "https://auth.example.com/srt" (got ${shown})`;
  }
  if (url.hostname === '') return `needs a host (got ${shown})`;
  return undefined;
}

/** Parse a query string of SRT options (`latency=200&tlpktdrop=0`) into name → text. */
function splitParamQuery(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  const q = text.trim().replace(/^\?/, '');
  for (const segment of q.split('&')) {
    if (segment === '') continue;
    const eq = segment.indexOf('=');
    if (eq <= 0) return `each option is written name=value, separated by '&', e.g. "latency=200&tlpktdrop=0" (got ${JSON.stringify(cut(maskUrl(`?${segment}`).slice(1)))})`;
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(segment.slice(0, eq));
      value = decodeURIComponent(segment.slice(eq + 1));
    } catch {
      return `bad percent-encoding: escapes are %XX with two hex digits of UTF-8, and a literal % is written %25`;
    }
    if (seen.has(key.toLowerCase())) return `option '${key}' is given twice; keep one`;
    seen.add(key.toLowerCase());
    out[key] = value;
  }
  return out;
}

/** Check `params` (object or query string) with the SRT options catalog. */
function checkParams(params: SrtParamsInput | undefined, segs: readonly Seg[], problems: Problems): Record<string, SrtOptionValue> {
  if (params === undefined) return {};
  const record = typeof params === 'string' ? splitParamQuery(params) : params;
  if (typeof record === 'string') {
    problems.add(segs, record);
    return {};
  }
  try {
    const normalized = normalizeOptions(record);
    const out: Record<string, SrtOptionValue> = {};
    for (const [k, v] of Object.entries(normalized)) if (v !== undefined) out[k] = v;
    return out;
  } catch (err) {
    // Point at the option itself when params is an object.
    let at: readonly Seg[] = segs;
    if (typeof params !== 'string' && isSrtRelayError(err)) {
      const option = (err as { option?: unknown }).option;
      if (typeof option === 'string') {
        const key = Object.keys(params).find((k) => k === option || k.toLowerCase().replace(/^srto_/, '') === option);
        if (key !== undefined) at = [...segs, key];
      }
    }
    problems.wrap(at, err);
    return {};
  }
}

/** Parse a stream `source`. */
function parseSource(text: string, segs: readonly Seg[], baseDir: string, problems: Problems, mediaRoot?: string): StreamSource | undefined {
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

interface UdpListener {
  readonly segs: readonly Seg[];
  readonly host: string; // '' = any address
  readonly port: number;
  readonly what: string;
}

// ---------------------------------------------------------------------------------------------
// overrides

function applyOverrides(input: RelayConfigInput, o: CliOverrides | undefined): { merged: RelayConfigInput; flagPaths: Map<string, string> } {
  const merged = structuredClone(input);
  const flagPaths = new Map<string, string>();
  if (o === undefined) return { merged, flagPaths };
  if (o.srtPort !== undefined) {
    merged.srt = { ...merged.srt };
    const ports = merged.srt.ports;
    if (ports !== undefined && ports.length > 0 && ports[0] !== undefined) {
      ports[0] = { ...ports[0], port: o.srtPort };
    } else {
      merged.srt.ports = [{ port: o.srtPort, host: DEFAULT_SRT_HOST, direction: 'both' }];
    }
    flagPaths.set('srt.ports[0].port', '--srt-port');
  }
  if (o.apiPort !== undefined) {
    merged.api = { ...merged.api, port: o.apiPort };
    flagPaths.set('api.port', '--api-port');
  }
  if (o.apiHost !== undefined) {
    merged.api = { ...merged.api, host: o.apiHost };
    flagPaths.set('api.host', '--api-host');
  }
  if (o.nodeId !== undefined) {
    merged.nodeId = o.nodeId;
    flagPaths.set('nodeId', '--node-id');
  }
  if (o.logLevel !== undefined) {
    merged.logLevel = o.logLevel;
    flagPaths.set('logLevel', '--log-level');
  }
  if (o.workers !== undefined) {
    merged.workers = o.workers;
    flagPaths.set('workers', '--workers');
  }
  if (o.redis !== undefined) {
    merged.redis = o.redis;
    flagPaths.set('redis', o.from?.redis ?? '--redis');
  }
  if (o.clusterSecret !== undefined) {
    merged.cluster = { ...merged.cluster, secret: o.clusterSecret };
    flagPaths.set('cluster.secret', o.from?.clusterSecret ?? '--cluster-secret');
  }
  if (o.internalPort !== undefined) {
    merged.cluster = { ...merged.cluster, internalPort: o.internalPort };
    flagPaths.set('cluster.internalPort', '--internal-port');
  }
  if (o.advertiseHost !== undefined) {
    merged.cluster = { ...merged.cluster, advertiseHost: o.advertiseHost };
    flagPaths.set('cluster.advertiseHost', '--advertise-host');
  }
  if (o.srtlaPort !== undefined) {
    merged.srtla = { ...merged.srtla, port: o.srtlaPort };
    flagPaths.set('srtla.port', '--srtla-port');
  }
  return { merged, flagPaths };
}

// ---------------------------------------------------------------------------------------------
// normalize

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

export interface NormalizeOptions {
  /** Directory relative `file://` sources are resolved against. Default: the current directory. */
  readonly baseDir?: string;
  readonly overrides?: CliOverrides;
  /** The file the input came from (for messages and `RelayConfig.configFile`). */
  readonly file?: string;
}

/**
 * Check a config object (as parsed from JSON) and return the frozen, normalized config.
 * Throws ConfigInvalidError listing every problem.
 */
export function normalizeConfig(input: unknown, opts: NormalizeOptions = {}): RelayConfig {
  const baseDir = opts.baseDir ?? (opts.file !== undefined ? dirname(resolve(opts.file)) : process.cwd());

  // The file alone must be an object before overrides can be merged into it.
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    const p = new Problems();
    p.add([], `the configuration must be a JSON object ({...}) (got ${showValue(input)})`);
    p.throwIfAny(opts.file);
  }

  const { merged, flagPaths } = applyOverrides(input as RelayConfigInput, opts.overrides);
  const problems = new Problems(flagPaths);

  // 1. shape: JSON Schema
  const validate = getValidator();
  const valid = validate(merged);
  if (!valid) {
    for (const e of validate.errors ?? []) {
      const d = describeAjvError(e, merged);
      if (d !== undefined) problems.add(d.segs, d.message);
    }
  }
  // "source" or "sources" (the schema cannot say "one of two" without strict-mode noise).
  const streamsIn = (merged as { streams?: unknown }).streams;
  if (streamsIn !== null && typeof streamsIn === 'object') {
    for (const [name, st] of Object.entries(streamsIn as Record<string, unknown>)) {
      if (name === 'dynamic') continue;
      if (st !== null && typeof st === 'object' && !('source' in st) && !('sources' in st)) {
        problems.add(['streams', name, 'source'], 'is required, e.g. "source": "push://" (or "sources": [primary, backup, ...])');
      }
    }
  }
  problems.throwIfAny(opts.file);
  const cfg = merged;

  // 2. meaning
  const workers = cfg.workers ?? defaultWorkers();
  const mediaRoot = typeof cfg.mediaRoot === 'string' ? resolve(baseDir, cfg.mediaRoot) : undefined;
  const listeners: UdpListener[] = [];

  const portsIn: SrtPortInput[] = cfg.srt?.ports ?? [{ port: DEFAULT_SRT_PORT, host: DEFAULT_SRT_HOST, direction: 'both' }];
  const ports: SrtPortConfig[] = portsIn.map((p, i) => {
    const segs: Seg[] = ['srt', 'ports', i];
    let host = DEFAULT_SRT_HOST;
    if (p.host !== undefined) {
      const problem = checkHostText(p.host);
      if (problem !== undefined) problems.add([...segs, 'host'], problem);
      host = bareHost(p.host);
    }
    const params = checkParams(p.params, [...segs, 'params'], problems);
    listeners.push({ segs: [...segs, 'port'], host, port: p.port, what: formatKeyPath(segs) });
    return {
      port: p.port,
      host,
      direction: p.direction,
      ...(p.stream !== undefined ? { stream: p.stream } : {}),
      ...portDialects(p, (key, message) => problems.add([...segs, ...key], message)),
      params,
      reusePort: p.reusePort ?? Math.min(workers, MAX_REUSE_PORT),
    };
  });

  const streams: [string, StreamConfig][] = [];
  for (const [name, s] of Object.entries(cfg.streams ?? {}) as [string, StreamInput | boolean][]) {
    if (name === 'dynamic' || typeof s === 'boolean') continue;
    const segs: Seg[] = ['streams', name];
    const sourceTexts = s.sources !== undefined && s.sources.length > 0 ? s.sources : s.source !== undefined ? [s.source] : [];
    const sources: StreamSource[] = [];
    sourceTexts.forEach((text, i) => {
      const at: Seg[] = s.sources !== undefined && s.sources.length > 0 ? [...segs, 'sources', i] : [...segs, 'source'];
      const parsed = parseSource(text, at, baseDir, problems, mediaRoot);
      if (parsed === undefined) return;
      sources.push(parsed);
      if (parsed.kind === 'srt' && parsed.url.mode === 'listener') {
        listeners.push({ segs: at, host: parsed.url.host, port: parsed.url.port, what: formatKeyPath(at) });
      }
    });
    const source = sources[0];
    for (const side of ['publish', 'play'] as const) {
      const pass = s.passphrase?.[side];
      if (pass === undefined) continue;
      try {
        SRT_OPTIONS.passphrase.validate(pass);
      } catch (err) {
        problems.wrap([...segs, 'passphrase', side], err);
      }
    }
    streams.push([
      name,
      {
        name,
        source: source ?? { kind: 'push' },
        bufferTimeMs: s.bufferTimeMs ?? STREAM_DEFAULTS.bufferTimeMs,
        acceptStreamIds: s.acceptStreamIds ?? STREAM_DEFAULTS.acceptStreamIds,
        alwaysOn: s.alwaysOn ?? STREAM_DEFAULTS.alwaysOn,
        sources: sources.length > 0 ? sources : [{ kind: 'push' }],
        loop: s.loop ?? false,
        simulatedLive: s.simulatedLive ?? true,
        join: s.join ?? 'keyframe',
        passphrase: {
          ...(s.passphrase?.publish !== undefined ? { publish: s.passphrase.publish } : {}),
          ...(s.passphrase?.play !== undefined ? { play: s.passphrase.play } : {}),
        },
        onPublisherConflict: s.onPublisherConflict ?? STREAM_DEFAULTS.onPublisherConflict,
        takeoverAfterMs: s.takeoverAfterMs ?? STREAM_DEFAULTS.takeoverAfterMs,
        raw: s.raw ?? STREAM_DEFAULTS.raw,
        idleTimeoutMs: s.idleTimeoutMs ?? STREAM_DEFAULTS.idleTimeoutMs,
        failoverTimeoutMs: s.failoverTimeoutMs ?? STREAM_DEFAULTS.failoverTimeoutMs,
      },
    ]);
  }

  const pushes: PushConfig[] = [];
  const pushKeys = new Map<string, number>();
  const recordingsRoot = typeof cfg.recordingsRoot === 'string' ? resolve(baseDir, cfg.recordingsRoot) : undefined;
  (cfg.pushes ?? []).forEach((p, i) => {
    const segs: Seg[] = ['pushes', i];
    let target: SrtUrl | FileTarget | undefined;
    try {
      // file:// targets are recordings (src/recording), inside recordingsRoot.
      target = isFileTarget(p.target) ? checkFileTarget(p.target, recordingsRoot, { stream: p.stream, node: cfg.nodeId ?? 'node' }) : parseSrtUrl(p.target);
    } catch (err) {
      problems.wrap([...segs, 'target'], err);
    }
    if (target === undefined) return;
    const key = `${p.stream}\n${'template' in target ? target.raw : formatSrtUrl(target)}`;
    const earlier = pushKeys.get(key);
    if (earlier !== undefined) {
      problems.add(segs, `the same push as pushes[${earlier}] (same stream and target); keep one`);
    }
    pushKeys.set(key, i);
    if (!('template' in target) && target.mode === 'listener') {
      listeners.push({ segs: [...segs, 'target'], host: target.host, port: target.port, what: `${formatKeyPath(segs)}.target` });
    }
    pushes.push({ stream: p.stream, target, auto: p.auto ?? false });
  });

  // Every UDP port the relay listens on, once: the rule the running relay's PortRegistry applies.
  const owner = new PortRegistry();
  const byWhat = new Map<string, UdpListener>();
  for (const b of listeners) {
    const held = owner.holderOf(b.host, b.port);
    if (held === undefined) {
      owner.claim(b.host, b.port, b.what);
      byWhat.set(b.what, b);
      continue;
    }
    const a = byWhat.get(held.holder) as UdpListener;
    const by = problems.flagFor(formatKeyPath(a.segs));
    const user = `${a.what}${by === undefined ? '' : ` (set by ${by})`}`;
    problems.add(
      b.segs,
      a.host === b.host
        ? `UDP port ${b.port} on ${b.host === '' ? 'every address' : b.host} is already used by ${user}; use another port or host`
        : `UDP port ${b.port} on ${hostWords(b.host)} is already used by ${user}, which listens on ${hostWords(a.host)}; use another port`,
    );
  }

  if (cfg.api?.host !== undefined) {
    const problem = checkHostText(cfg.api.host);
    if (problem !== undefined) problems.add(['api', 'host'], problem);
  }
  if (cfg.srtla?.host !== undefined) {
    const problem = checkHostText(cfg.srtla.host);
    if (problem !== undefined) problems.add(['srtla', 'host'], problem);
  }
  if (cfg.srtla !== undefined && !ports.some((p) => p.direction !== 'outgoing')) {
    problems.add(['srtla'], 'bonded groups publish into the first SRT port that takes publishers, and every srt.ports entry is "outgoing"; add a port with direction "incoming" or "both"');
  }
  if (cfg.api?.protectReads === true && cfg.api.token === undefined) {
    problems.add(['api', 'protectReads'], 'protects reads with the API token, but api.token is not set; set api.token (a long random string) or remove protectReads');
  }
  if (cfg.auth?.webhook !== undefined) {
    const problem = checkHttpUrl(cfg.auth.webhook);
    if (problem !== undefined) problems.add(['auth', 'webhook'], problem);
  }
  if (cfg.redis !== undefined) {
    const problem = checkRedisUrl(cfg.redis);
    if (problem !== undefined) problems.add(['redis'], problem);
    if (cfg.cluster?.secret === undefined) {
      problems.add(['cluster', 'secret'], 'is required with redis: set the same long random string (16+ characters) on every node, in the file, with --cluster-secret or in SRT_RELAY_CLUSTER_SECRET');
    }
  }
  (cfg.limits?.exemptHosts ?? []).forEach((h, i) => {
    const problem = typeof h === 'string' ? checkHostText(h) : undefined;
    if (problem !== undefined) problems.add(['limits', 'exemptHosts', i], problem);
  });
  for (const key of ['internalHost', 'advertiseHost'] as const) {
    const v = cfg.cluster?.[key];
    if (v === undefined) continue;
    const problem = checkHostText(v);
    if (problem !== undefined) problems.add(['cluster', key], problem);
  }
  const internalPort = cfg.cluster?.internalPort ?? (ports[0]?.port ?? DEFAULT_SRT_PORT) + 1;
  if (cfg.redis !== undefined) {
    const clash = ports.find((p) => p.port === internalPort);
    if (clash !== undefined) problems.add(['cluster', 'internalPort'], `UDP port ${internalPort} is already an SRT port (srt.ports); give the internal listener its own port`);
  }
  problems.throwIfAny(opts.file);

  // 3. defaults
  const limits = cfg.limits ?? {};
  const config: RelayConfig = {
    nodeId: cfg.nodeId ?? defaultNodeId(),
    logLevel: cfg.logLevel ?? 'info',
    workers,
    limits: {
      ...(limits.maxSessions !== undefined ? { maxSessions: limits.maxSessions } : {}),
      ...(limits.maxStreams !== undefined ? { maxStreams: limits.maxStreams } : {}),
      ...(limits.maxBitrateMbps !== undefined ? { maxBitrateMbps: limits.maxBitrateMbps } : {}),
      maxSessionsPerHost: limits.maxSessionsPerHost ?? 500,
      handshakesPerSecondPerHost: limits.handshakesPerSecondPerHost ?? 50,
      handshakesPerSecond: limits.handshakesPerSecond ?? 200,
      exemptHosts: (limits.exemptHosts ?? ['127.0.0.1', '::1']).map(bareHost),
      ...(limits.maxViewersPerStream !== undefined ? { maxViewersPerStream: limits.maxViewersPerStream } : {}),
      maxRingMemoryMb: limits.maxRingMemoryMb ?? defaultRingMemoryMb(),
      maxWildcardStreams: limits.maxWildcardStreams ?? 100,
    },
    srt: { ports },
    ...(cfg.srtla !== undefined ? { srtla: { ...cfg.srtla, host: cfg.srtla.host !== undefined ? bareHost(cfg.srtla.host) : '0.0.0.0' } } : {}),
    api: {
      port: cfg.api?.port ?? DEFAULT_API_PORT,
      host: cfg.api?.host !== undefined ? bareHost(cfg.api.host) : DEFAULT_API_HOST,
      ...(cfg.api?.token !== undefined ? { token: cfg.api.token } : {}),
      protectReads: cfg.api?.protectReads ?? false,
    },
    // fromEntries defines own properties, so a stream named "__proto__" stays a stream.
    streams: Object.fromEntries(streams),
    dynamicStreams: typeof cfg.streams?.['dynamic'] === 'boolean' ? cfg.streams['dynamic'] : true,
    pushes,
    auth: {
      ...(cfg.auth?.webhook !== undefined ? { webhook: cfg.auth.webhook } : {}),
      timeoutMs: cfg.auth?.timeoutMs ?? AUTH_DEFAULTS.timeoutMs,
      cacheMs: cfg.auth?.cacheMs ?? AUTH_DEFAULTS.cacheMs,
    },
    ...(mediaRoot !== undefined ? { mediaRoot } : {}),
    ...(recordingsRoot !== undefined ? { recordingsRoot } : {}),
    ...(cfg.redis !== undefined ? { redis: cfg.redis, cluster: clusterDefaults(cfg.cluster ?? {}, internalPort) } : {}),
    ...(opts.file !== undefined ? { configFile: resolve(opts.file) } : {}),
  };
  return deepFreeze(config);
}

/** True when `path` (after following symbolic links, where it exists) is `dir` or under it. */
function insideDir(path: string, dir: string): boolean {
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  const d = real(dir);
  const p = real(path);
  return p === d || p.startsWith(d.endsWith(sep) ? d : d + sep);
}

/** A quarter of the machine's memory for stream rings, at most 4 GiB. */
export function defaultRingMemoryMb(): number {
  return Math.max(16, Math.min(4096, Math.floor(totalmem() / 4 / 1048576)));
}

function clusterDefaults(c: ClusterInput, internalPort: number): ClusterConfig {
  const internalHost = c.internalHost !== undefined ? bareHost(c.internalHost) : '0.0.0.0';
  const specific = internalHost !== '0.0.0.0' && internalHost !== '::' && internalHost !== '';
  return {
    secret: c.secret ?? '',
    internalPort,
    internalHost,
    advertiseHost: c.advertiseHost !== undefined ? bareHost(c.advertiseHost) : specific ? internalHost : '127.0.0.1',
    keyPrefix: c.keyPrefix ?? 'srt-relay:',
    idleTimeoutMs: c.idleTimeoutMs ?? 20000,
    routingRefreshMs: c.routingRefreshMs ?? 2000,
  };
}

/** The configuration with no file and no flags: every default. */
export function defaultConfig(): RelayConfig {
  return normalizeConfig({});
}

export interface LoadConfigOptions {
  /** JSON config file; relative paths are resolved against the current directory. */
  readonly file?: string;
  /** Command-line values; they win over the file. */
  readonly overrides?: CliOverrides;
}

/** Read, check and normalize the configuration (flags > file > defaults). Throws ConfigInvalidError. */
export async function loadConfig(opts: LoadConfigOptions = {}): Promise<RelayConfig> {
  if (opts.file === undefined) return normalizeConfig({}, opts.overrides === undefined ? {} : { overrides: opts.overrides });
  const file = resolve(opts.file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'config file not found'
        : code === 'EISDIR'
          ? 'the config path is a directory, not a file'
          : code === 'EACCES' || code === 'EPERM'
            ? 'config file cannot be read (permission denied)'
            : `config file cannot be read (${code ?? (err as Error).message})`;
    throw new ConfigInvalidError(`${file}: ${why}; check the --config path`, undefined, { file, ...(code !== undefined ? { errno: code } : {}) });
  }
  const input = parseConfigJson(text, file);
  return normalizeConfig(input, { file, ...(opts.overrides !== undefined ? { overrides: opts.overrides } : {}) });
}
