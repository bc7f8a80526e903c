/**
 * The one place that knows what a secret is, and how to hide it. Every printer uses it: the
 * `config` and `config export` commands, API responses, log lines (`LOG_REDACT`, `maskLogArgs`)
 * and error messages. Nothing else keeps a list of secret names.
 *
 * - A secret key: an object key or URL query parameter named like a credential (`passphrase`,
 *   `password`, `secret`, `token`, `key`, ..., see `SECRET_KEY_NAMES`; case-insensitive, an
 *   `srto_` prefix and percent-encoding do not hide it). Its value is replaced by `***`; under an
 *   object-valued secret key (`passphrase: {publish, play}`) every value is.
 * - A URL (any scheme: srt://, http(s)://, redis(s)://): the password of `user:password@` (a user
 *   name alone, which may be a token, too) and every secret query parameter are replaced.
 * - Free text (messages, errors): every URL in it, and `name=value` pairs of secret names.
 *
 * Masking only ever removes: a masked value keeps its shape (key, scheme, host, other params) so
 * a reader still sees which stream or server it is about.
 */

/** What a hidden value is replaced with. */
export const MASK = '***';

/** Names (object keys, query parameters) whose values are secrets. */
export const SECRET_KEY_NAMES: readonly string[] = Object.freeze([
  'passphrase',
  'password',
  'passwd',
  'pass',
  'pwd',
  'secret',
  'token',
  'key',
  'apikey',
  'api_key',
  'api-key',
  'access_token',
  'auth_token',
  'client_secret',
  'authorization',
  'credentials',
  'sig',
  'signature',
]);

const SECRET_SET: ReadonlySet<string> = new Set(SECRET_KEY_NAMES);

function decodeName(name: string): string {
  if (!name.includes('%')) return name;
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}

/** True when a value under this key (object key or query parameter name) must never be shown. */
export function isSecretKey(name: string): boolean {
  const bare = decodeName(name).trim().toLowerCase().replace(/^srto_/, '');
  if (SECRET_SET.has(bare)) return true;
  // webhookToken, redis_password, x-api-key ...: a name ending in one of the unambiguous words.
  return /(?:passphrase|password|secret|token|api[_-]?key)$/.test(bare);
}

/** In a URL's query: a value runs to the next `&` (as in srt:// URLs, where `#` and `;` are literal). */
const QUERY_PAIR = /([?&])([^=&?#]+)=([^&]*)/g;
/** In free text: `name=value` after a start, a space, a quote or a bracket; the value ends at a space or quote. */
const TEXT_PAIR = /(^|[?&\s"'(\[{,])([^=&?#\s"'(\[{,]+)=([^&\s"'<>]*)/g;

/** Hides the values of secret `name=value` pairs (`a=1&passphrase=x` → `a=1&passphrase=***`). */
function maskPairs(text: string, pattern: RegExp): string {
  return text.replace(pattern, (m, sep: string, name: string, value: string) => (value !== '' && isSecretKey(name) ? `${sep}${name}=${MASK}` : m));
}

/** Hides `user:password@` (or a lone `user@`, which may be a token) in a URL's authority. */
function maskUserinfo(url: string): string {
  // Up to the last '@' before the path, as URL parsers read it (a password may hold '@').
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/?#\s]*)@/i, (_m, scheme: string, info: string) => {
    const colon = info.indexOf(':');
    if (colon < 0) return info === '' ? `${scheme}@` : `${scheme}${MASK}@`;
    const user = info.slice(0, colon);
    return `${scheme}${user}:${MASK}@`;
  });
}

/**
 * One URL (or text that was meant to be one), secrets hidden: `srt://h:9000?passphrase=x` →
 * `srt://h:9000?passphrase=***`, `https://u:p@h/x?key=k` → `https://u:***@h/x?key=***`,
 * `redis://:p@h:6379/0` → `redis://:***@h:6379/0`. Works on text that does not parse.
 */
export function maskUrl(text: string): string {
  const withInfo = maskUserinfo(text);
  const q = withInfo.indexOf('?');
  return q < 0 ? withInfo : withInfo.slice(0, q) + maskPairs(withInfo.slice(q), QUERY_PAIR);
}

const URL_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;

/** Free text (a message, an error) with every URL in it masked, and secret `name=value` pairs. */
export function maskText(text: string): string {
  // Fast path (most log messages): no URL and no name=value pair, nothing to mask.
  if (!text.includes('=') && !text.includes('://')) return text;
  return maskPairs(text.replace(URL_IN_TEXT, (u) => maskUrl(u)), TEXT_PAIR);
}

function maskAll(value: unknown): unknown {
  if (typeof value === 'string') return value === '' ? value : MASK;
  if (Array.isArray(value)) return value.map(maskAll);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = maskAll(v);
    return out;
  }
  return value;
}

/**
 * A copy of `value` (a config, an API body, a log object) with every secret hidden: values under
 * secret keys become `***`, every other string is masked as text (URLs, `name=value`). Numbers,
 * booleans and null are kept; Error objects become `{message, code?}` masked.
 */
export function maskSecrets<T>(value: T): T {
  return walk(value, new Set(), false) as T;
}

function walk(value: unknown, ancestors: Set<object>, keepErrors: boolean): unknown {
  if (typeof value === 'string') return maskText(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    // Log objects keep their Error for pino's err serializer (its output is masked by LOG_REDACT).
    if (keepErrors) return value;
    const code = (value as { code?: unknown }).code;
    return { message: maskText(value.message), ...(typeof code === 'string' ? { code } : {}) };
  }
  // `ancestors`: the objects on the path here (a cycle), not every object seen (shared ones are fine).
  if (ancestors.has(value)) return '[Circular]';
  ancestors.add(value);
  let out: unknown;
  if (Array.isArray(value)) out = value.map((v) => walk(v, ancestors, keepErrors));
  else {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) o[k] = isSecretKey(k) ? maskAll(v) : walk(v, ancestors, keepErrors);
    out = o;
  }
  ancestors.delete(value);
  return out;
}

/** `JSON.stringify(value, null, 2)`, secrets hidden unless `show` (the CLI's `--show-secrets`). */
export function printable(value: unknown, show = false): string {
  return JSON.stringify(show ? value : maskSecrets(value), null, 2);
}

// ---- logs ------------------------------------------------------------------------------------

/** Keys whose values in log objects are URLs or texts that may carry one: masked in place. */
const URL_LOG_KEYS = ['url', 'redis', 'webhook', 'target', 'source', 'sources', 'raw', 'err', 'error', 'reason', 'lastError', 'message', 'text'] as const;

/** The secret keys pino's `redact` replaces by `***` (those a redact path can name without quotes). */
const LOG_SECRET_KEYS = SECRET_KEY_NAMES.filter((k) => /^[a-z_]+$/.test(k));

/**
 * pino `redact` options for the relay's loggers, for what the log formatter does not see (child
 * bindings such as `logger.child({source})`, and `err` after pino's serializer): values under
 * secret keys become `***`, URL-carrying keys are masked in place. Top-level paths only: each
 * pino wildcard costs ~40 µs a line; nested values are masked by `maskLogObject`.
 */
export const LOG_REDACT = Object.freeze({
  paths: [...LOG_SECRET_KEYS, ...URL_LOG_KEYS],
  censor: (value: unknown, path: string[]): unknown => (isSecretKey(path[path.length - 1] ?? '') ? (value === '' ? value : MASK) : maskSecrets(value)),
});

/**
 * The object of a log call with every secret masked, at any depth (pino's `formatters.log`);
 * Error values are left to pino's err serializer (then to `LOG_REDACT`).
 */
export function maskLogObject(obj: Record<string, unknown>): Record<string, unknown> {
  return walk(obj, new Set(), true) as Record<string, unknown>;
}

/** Masks the string arguments of a log call (the message and its format arguments). */
export function maskLogArgs(args: unknown[]): unknown[] {
  return args.map((a) => (typeof a === 'string' ? maskText(a) : a));
}
