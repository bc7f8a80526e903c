/**
 * Validation of API request bodies and path parameters. Every check throws a typed error the
 * server turns into a 400: ERR_API_BAD_REQUEST for shape problems, or the SRT code from the URL
 * parser / option catalog (ERR_SRT_URL_INVALID, ERR_SRT_OPTION_UNKNOWN, ERR_SRT_OPTION_INVALID,
 * ERR_SRT_MODE_INVALID) for SRT URLs and passphrases.
 */
import { SRT_OPTIONS } from '../srt/options.js';
import { parseSrtUrl } from '../srt/url.js';
import type { RelayPushOptions, RelayStreamOptions } from '../supervisor/relay.js';
import { badRequest } from './http.js';

import { STREAM_NAME_RULE, isValidStreamName } from '../streams/stream-name.js';
export { STREAM_NAME_PATTERN, STREAM_NAME_MAX } from '../streams/stream-name.js';

export const PUSH_SOURCE = 'push://';

const CONFLICT_POLICIES = ['refuse', 'replace'] as const;
const STREAMID_POLICIES = ['wildcard', 'ignore', 'refuse'] as const;

export function checkStreamName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string') throw badRequest(`${field} must be a string`, { field });
  if (!isValidStreamName(name)) {
    throw badRequest(`${field} ${JSON.stringify(name.slice(0, 60))} is not a valid stream name: ${STREAM_NAME_RULE}`, { field });
  }
  return name;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw badRequest(`unknown field '${where}${key}'; allowed: ${allowed.join(', ')}`, { field: `${where}${key}` });
    }
  }
}

function checkEnum<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw badRequest(`${field} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`, { field });
  }
  return value as T;
}

/** A stream source: `push://` or an srt:// URL the URL parser accepts. Returns it trimmed. */
export function checkSource(value: unknown): string {
  if (typeof value !== 'string') throw badRequest("source must be a string: 'push://' or an srt:// URL", { field: 'source' });
  const source = value.trim();
  if (source === PUSH_SOURCE) return source;
  if (/^srt:\/\//i.test(source)) {
    parseSrtUrl(source);
    return source;
  }
  throw badRequest("source must be 'push://' (publishers connect) or an srt:// URL to pull from", { field: 'source' });
}

/**
 * A cluster member's PUT body is checked by the config loader's rules (every stream key), but
 * sources still come in through the API: only push:// and srt:// URLs, never file:// (the API
 * must not name files on the nodes).
 */
export function checkClusterStreamBody(body: unknown): unknown {
  if (!isObject(body)) throw badRequest('request body must be a JSON object');
  if (body['source'] !== undefined) checkSource(body['source']);
  const list = body['sources'];
  if (list !== undefined) {
    if (!Array.isArray(list)) throw badRequest('sources must be a list of sources', { field: 'sources' });
    list.forEach((s) => checkSource(s));
  }
  return body;
}

/** The body of PUT /api/v1/streams/{name}. */
export function parseStreamBody(body: unknown): RelayStreamOptions {
  if (!isObject(body)) throw badRequest('request body must be a JSON object');
  checkKeys(body, ['source', 'passphrase', 'onPublisherConflict', 'takeoverAfterMs', 'acceptStreamIds'], '');
  if (body['source'] === undefined) throw badRequest('source is required', { field: 'source' });
  const out: RelayStreamOptions = { source: checkSource(body['source']) };
  const pass = body['passphrase'];
  if (pass !== undefined && pass !== null) {
    if (!isObject(pass)) throw badRequest('passphrase must be an object {publish?, play?}', { field: 'passphrase' });
    checkKeys(pass, ['publish', 'play'], 'passphrase.');
    const p: { publish?: string; play?: string } = {};
    for (const side of ['publish', 'play'] as const) {
      const v = pass[side];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string') throw badRequest(`passphrase.${side} must be a string`, { field: `passphrase.${side}` });
      // The option catalog's rule (10 to 79 characters, or empty for none); throws ERR_SRT_OPTION_INVALID.
      SRT_OPTIONS.passphrase.validate(v);
      if (v.length === 0) continue;
      p[side] = v;
    }
    out.passphrase = p;
  }
  if (body['onPublisherConflict'] !== undefined) {
    out.onPublisherConflict = checkEnum(body['onPublisherConflict'], CONFLICT_POLICIES, 'onPublisherConflict');
  }
  const takeover = body['takeoverAfterMs'];
  if (takeover !== undefined) {
    if (typeof takeover !== 'number' || !Number.isInteger(takeover) || takeover < 0 || takeover > 600_000) {
      throw badRequest('takeoverAfterMs must be a whole number of milliseconds from 0 to 600000 (0 = never)', { field: 'takeoverAfterMs' });
    }
    out.takeoverAfterMs = takeover;
  }
  if (body['acceptStreamIds'] !== undefined) {
    out.acceptStreamIds = checkEnum(body['acceptStreamIds'], STREAMID_POLICIES, 'acceptStreamIds');
  }
  return out;
}

/** The body of POST /api/v1/pushes. */
export function parsePushBody(body: unknown): RelayPushOptions {
  if (!isObject(body)) throw badRequest('request body must be a JSON object');
  checkKeys(body, ['stream', 'target', 'auto'], '');
  if (body['stream'] === undefined) throw badRequest('stream is required', { field: 'stream' });
  const stream = checkStreamName(body['stream'], 'stream');
  const target = body['target'];
  if (typeof target !== 'string') throw badRequest('target must be an srt:// URL string', { field: 'target' });
  // Throws the URL parser's typed error (ERR_SRT_URL_INVALID, ERR_SRT_OPTION_UNKNOWN, ...).
  parseSrtUrl(target.trim());
  const auto = body['auto'];
  if (auto !== undefined && typeof auto !== 'boolean') throw badRequest('auto must be true or false', { field: 'auto' });
  return { stream, target: target.trim(), ...(auto !== undefined ? { auto } : {}) };
}

/** A positive integer id from a path segment. */
export function parseId(text: string): number | undefined {
  if (!/^[1-9][0-9]{0,15}$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
