/**
 * Validation of API request bodies and path parameters. Every check throws a typed error the
 * server turns into a 400: ERR_API_BAD_REQUEST for shape problems, or the SRT code from the URL
 * parser / option catalog (ERR_SRT_URL_INVALID, ERR_SRT_OPTION_UNKNOWN, ERR_SRT_OPTION_INVALID,
 * ERR_SRT_MODE_INVALID) for SRT URLs and passphrases.
 */
import { formatKeyPath } from '../config/load.js';
import { normalizeStream, type StreamContext } from '../config/stream-config.js';
import type { StreamConfig } from '../config/types.js';
import { ConfigInvalidError, ERROR_CODES, type ErrorCode } from '../errors.js';
import { parseSrtUrl } from '../srt/url.js';
import { isFileTarget, parseFileTarget } from '../recording/target.js';
import type { RelayPushOptions } from '../supervisor/relay-api.js';
import { ApiError, badRequest } from './http.js';
import { checkRequestBody } from './openapi.js';

import { STREAM_NAME_RULE, isValidStreamName } from '../streams/stream-name.js';
export { STREAM_NAME_PATTERN, STREAM_NAME_MAX } from '../streams/stream-name.js';

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

/**
 * The body of PUT /api/v1/streams/{name}: the config file's stream object, checked by the one
 * stream model (src/config/stream-config.ts) — the same keys, defaults and messages as
 * `streams.<name>` in the config file. A problem is a 400 whose message is the config file's
 * `streams.<name>.<key>: ...` line(s); its code is the URL parser's or option catalog's when one
 * of them found it (ERR_SRT_URL_INVALID, ERR_SRT_OPTION_UNKNOWN, ERR_SRT_OPTION_INVALID,
 * ERR_SRT_MODE_INVALID; ERR_SRT_OPTION_INVALID for a passphrase), else ERR_API_BAD_REQUEST. `details.path` is the key path,
 * `details.field` the same path inside the body.
 */
export function checkStreamBody(name: string, body: unknown, ctx: StreamContext): StreamConfig {
  if (!isObject(body)) throw badRequest('request body must be a JSON object');
  try {
    return normalizeStream(name, body, ctx);
  } catch (err) {
    if (!(err instanceof ConfigInvalidError)) throw err;
    const problems = Array.isArray(err.details?.['problems']) ? (err.details['problems'] as Array<{ path: string; code?: string }>) : [];
    const path = typeof err.details?.['path'] === 'string' ? err.details['path'] : problems[0]?.path;
    const prefix = `${formatKeyPath(['streams', name])}`;
    const field = path !== undefined && path.startsWith(prefix) ? path.slice(prefix.length).replace(/^\./, '') : undefined;
    const inner = problems[0]?.code;
    const code: ErrorCode =
      inner !== undefined && (ERROR_CODES as ReadonlyArray<{ code: string }>).some((e) => e.code === inner)
        ? (inner as ErrorCode)
        : field !== undefined && /^passphrase\b/.test(field)
          ? 'ERR_SRT_OPTION_INVALID' // the SRT passphrase rule, checked by the schema first
          : 'ERR_API_BAD_REQUEST';
    throw new ApiError(400, code, err.message, {
      details: { ...(path !== undefined ? { path } : {}), ...(field !== undefined && field !== '' ? { field } : {}), problems },
    });
  }
}

/** The body of POST /api/v1/pushes (and PUT /api/v1/pushes/{id}): checked against PushPost in docs/openapi.yaml, then the target by the URL parser. */
export function parsePushBody(body: unknown, operationId: 'addPush' | 'updatePush' = 'addPush'): RelayPushOptions {
  checkRequestBody(operationId, body);
  const { stream, target, auto } = body as { stream: string; target: string; auto?: boolean };
  // Throws the parser's typed error (ERR_SRT_URL_INVALID, ERR_SRT_OPTION_UNKNOWN, ERR_RECORDING_TARGET_INVALID...);
  // a file:// target's confinement to recordingsRoot is checked where the root is known (Relay.addPush).
  if (isFileTarget(target)) parseFileTarget(target);
  else parseSrtUrl(target.trim());
  return { stream, target: target.trim(), ...(auto !== undefined ? { auto } : {}) };
}

/** A positive integer id from a path segment. */
export function parseId(text: string): number | undefined {
  if (!/^[1-9][0-9]{0,15}$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
