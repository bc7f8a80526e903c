/**
 * The single registry of srt-relay error codes.
 *
 * Every error the relay throws on purpose is a `SrtRelayError` with a stable `code` from
 * `ERROR_CODES`. Codes never change meaning once published; docs/errors.md documents each one
 * (a test keeps the two in step). Messages say what the user should change. Messages and
 * `details` never contain a passphrase.
 */

/** Every error code with a one-line description. Append only; never reuse a code. */
export const ERROR_CODES = Object.freeze([
  Object.freeze({
    code: 'ERR_SRT_URL_INVALID',
    description: 'An srt:// URL is malformed: scheme, host, port, IPv6 brackets, encoding or a repeated parameter.',
  }),
  Object.freeze({
    code: 'ERR_SRT_OPTION_UNKNOWN',
    description: 'A name is not an SRT socket option the relay accepts; the message suggests the closest ones.',
  }),
  Object.freeze({
    code: 'ERR_SRT_OPTION_INVALID',
    description: 'An SRT option has a value outside its allowed range or values, or may not be set by the user.',
  }),
  Object.freeze({
    code: 'ERR_SRT_MODE_INVALID',
    description: 'The connection mode is unknown or does not fit the URL (e.g. caller or rendezvous without a host).',
  }),
  Object.freeze({
    code: 'ERR_CONFIG_INVALID',
    description: 'The relay configuration is malformed or inconsistent.',
  }),
  Object.freeze({
    code: 'ERR_SRT_NATIVE',
    description: 'A libsrt call failed; the error carries the SRT errno and the libsrt message.',
  }),
  Object.freeze({
    code: 'ERR_SRT_INVALID_ARG',
    description: 'A call into the native addon got an argument of the wrong type or out of range (a bug in the caller, not in the input).',
  }),
  Object.freeze({
    code: 'ERR_SRT_REJECTED',
    description: 'An SRT connection was rejected; the error carries the numeric reject reason.',
  }),
  Object.freeze({
    code: 'ERR_API_BAD_REQUEST',
    description: 'An HTTP API request is malformed: bad JSON, a missing or wrong field, or a bad path parameter.',
  }),
  Object.freeze({
    code: 'ERR_API_UNAUTHORIZED',
    description: 'A mutating HTTP API request lacks the bearer token or carries a wrong one.',
  }),
  Object.freeze({
    code: 'ERR_API_NOT_FOUND',
    description: 'The HTTP API route, stream, session or push does not exist.',
  }),
  Object.freeze({
    code: 'ERR_API_METHOD_NOT_ALLOWED',
    description: 'The HTTP API route exists but does not accept this method; the Allow header lists those it does.',
  }),
  Object.freeze({
    code: 'ERR_API_CONFLICT',
    description: 'The HTTP API request conflicts with the current state (e.g. the same push exists, or a port is in use).',
  }),
  Object.freeze({
    code: 'ERR_API_PAYLOAD_TOO_LARGE',
    description: 'An HTTP API request body is larger than the limit (64 KiB).',
  }),
  Object.freeze({
    code: 'ERR_API_UNSUPPORTED_MEDIA_TYPE',
    description: 'An HTTP API request body is not sent as application/json.',
  }),
  Object.freeze({
    code: 'ERR_API_INTERNAL',
    description: 'The HTTP API hit an unexpected error; the relay log has the details.',
  }),
  Object.freeze({
    code: 'ERR_CLUSTER_UNAVAILABLE',
    description: 'Cluster mode needs Redis for this and Redis cannot be reached; SRT refuses with 1503, the API with 503.',
  }),
  Object.freeze({
    code: 'ERR_CLUSTER_FENCED',
    description: "This node's lease on a stream was taken by another node (a newer epoch); it must stop publishing the stream.",
  }),
  Object.freeze({
    code: 'ERR_SOURCE_INVALID',
    description: 'A stream source cannot be used: a file source that is missing, unreadable or not MPEG-TS.',
  }),
  Object.freeze({
    code: 'ERR_PORT_IN_USE',
    description: 'A UDP port the relay would bind is already used by another of its listeners or by another process; the API answers 409.',
  }),
  Object.freeze({
    code: 'ERR_WORKERS_UNAVAILABLE',
    description: 'No worker thread could start (e.g. out of file descriptors: ERR_WORKER_INIT_FAILED, EMFILE), so the node cannot serve sessions.',
  }),
  Object.freeze({
    code: 'ERR_STREAM_ID_INVALID',
    description: 'A stream id does not name a valid stream on the port (the relay refuses such a caller with 1400).',
  }),
  Object.freeze({
    code: 'ERR_RECORDING_TARGET_INVALID',
    description: 'A file:// push target (a recording) is malformed, names an unknown field or parameter, or would write outside recordingsRoot.',
  }),
] as const);

export type ErrorCode = (typeof ERROR_CODES)[number]['code'];

/** Extra, machine-readable facts about an error (never secrets). */
export type ErrorDetails = Readonly<Record<string, unknown>>;

/** Base class of every error srt-relay throws on purpose. */
export class SrtRelayError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message: string, details?: ErrorDetails, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SrtRelayError';
    this.code = code;
    this.details = details === undefined ? undefined : Object.freeze({ ...details });
  }
}

/** True when `err` is a `SrtRelayError`, optionally with the given code. */
export function isSrtRelayError(err: unknown, code?: ErrorCode): err is SrtRelayError {
  return err instanceof SrtRelayError && (code === undefined || err.code === code);
}

/**
 * ERR_PORT_IN_USE: `port` on `host` is held by `holder` (another listener of this relay, e.g. "the
 * main SRT listener", or another process, with its `pid` when /proc tells it).
 */
export class PortInUseError extends SrtRelayError {
  readonly port: number;
  readonly host: string;
  readonly holder: string;
  readonly pid: number | undefined;

  constructor(message: string, info: { port: number; host: string; holder: string; pid?: number }) {
    super('ERR_PORT_IN_USE', message, { port: info.port, host: info.host, holder: info.holder, ...(info.pid !== undefined ? { pid: info.pid } : {}) });
    this.port = info.port;
    this.host = info.host;
    this.holder = info.holder;
    this.pid = info.pid;
  }
}

/** ERR_STREAM_ID_INVALID: a stream id the relay would refuse with 1400 (`srt-relay streamid`). */
export class StreamIdInvalidError extends SrtRelayError {
  constructor(message: string, details?: ErrorDetails) {
    super('ERR_STREAM_ID_INVALID', message, details);
    this.name = 'StreamIdInvalidError';
  }
}

/** ERR_RECORDING_TARGET_INVALID: a file:// push target that cannot be recorded to as written. */
export class RecordingTargetError extends SrtRelayError {
  constructor(message: string, details?: ErrorDetails) {
    super('ERR_RECORDING_TARGET_INVALID', message, details);
    this.name = 'RecordingTargetError';
  }
}

/** ERR_SRT_URL_INVALID: the URL text itself is wrong. */
export class SrtUrlInvalidError extends SrtRelayError {
  constructor(message: string, details?: ErrorDetails) {
    super('ERR_SRT_URL_INVALID', message, details);
    this.name = 'SrtUrlInvalidError';
  }
}

/** ERR_SRT_OPTION_UNKNOWN: `option` is not in the catalog; `suggestions` are the closest names. */
export class SrtOptionUnknownError extends SrtRelayError {
  readonly option: string;
  readonly suggestions: readonly string[];

  constructor(option: string, suggestions: readonly string[], hint?: string) {
    super('ERR_SRT_OPTION_UNKNOWN', unknownOptionMessage(option, suggestions, hint), {
      option,
      suggestions: [...suggestions],
    });
    this.name = 'SrtOptionUnknownError';
    this.option = option;
    this.suggestions = Object.freeze([...suggestions]);
  }
}

function unknownOptionMessage(option: string, suggestions: readonly string[], hint?: string): string {
  const head = `unknown SRT option '${option}'`;
  if (suggestions.length > 0) return `${head}; did you mean ${orList(suggestions.map((s) => `'${s}'`))}?`;
  return `${head}; ${hint ?? 'use a lowercase libsrt option name without the SRTO_ prefix, e.g. latency=200'}`;
}

/** ERR_SRT_OPTION_INVALID: `option` was given a value it cannot take; `allowed` describes what it can. */
export class SrtOptionInvalidError extends SrtRelayError {
  readonly option: string;

  constructor(option: string, message: string, details?: ErrorDetails) {
    super('ERR_SRT_OPTION_INVALID', message, { option, ...details });
    this.name = 'SrtOptionInvalidError';
    this.option = option;
  }
}

/** ERR_SRT_MODE_INVALID: unknown mode, or a mode the rest of the URL cannot support. */
export class SrtModeInvalidError extends SrtRelayError {
  constructor(message: string, details?: ErrorDetails) {
    super('ERR_SRT_MODE_INVALID', message, details);
    this.name = 'SrtModeInvalidError';
  }
}

/** ERR_CONFIG_INVALID: the relay configuration is wrong; `path` names the offending field. */
export class ConfigInvalidError extends SrtRelayError {
  readonly path: string | undefined;

  constructor(message: string, path?: string, details?: ErrorDetails) {
    super('ERR_CONFIG_INVALID', message, path === undefined ? details : { path, ...details });
    this.name = 'ConfigInvalidError';
    this.path = path;
  }
}

/** ERR_SRT_NATIVE: a libsrt call (e.g. `srt_bind`) failed with `srtErrno` and libsrt's text. */
export class SrtNativeError extends SrtRelayError {
  readonly call: string;
  readonly srtErrno: number;
  readonly srtMessage: string;
  readonly sysErrno: number | undefined;

  constructor(call: string, srtErrno: number, srtMessage: string, sysErrno?: number) {
    const sys = sysErrno === undefined || sysErrno === 0 ? '' : `, system errno ${sysErrno}`;
    super('ERR_SRT_NATIVE', `${call} failed: ${srtMessage} (SRT errno ${srtErrno}${sys})`, {
      call,
      srtErrno,
      srtMessage,
      ...(sysErrno === undefined ? {} : { sysErrno }),
    });
    this.name = 'SrtNativeError';
    this.call = call;
    this.srtErrno = srtErrno;
    this.srtMessage = srtMessage;
    this.sysErrno = sysErrno;
  }
}

/** ERR_SRT_REJECTED: a connection was rejected with libsrt reject reason `reason`. */
export class SrtRejectedError extends SrtRelayError {
  readonly reason: number;
  readonly reasonName: string;

  constructor(reason: number, context?: string) {
    const info = describeRejectReason(reason);
    const where = context === undefined ? 'connection rejected' : `${context}: connection rejected`;
    const hint = info.hint === undefined ? '' : `; ${info.hint}`;
    super('ERR_SRT_REJECTED', `${where} (${info.name}, reason ${reason}): ${info.text}${hint}`, {
      reason,
      reasonName: info.name,
    });
    this.name = 'SrtRejectedError';
    this.reason = reason;
    this.reasonName = info.name;
  }
}

export interface RejectReasonInfo {
  /** Symbolic name: `SRT_REJ_*`, `SRT_REJX_*`, or `USER_<n>` / `PREDEFINED_<n>` for unnamed codes. */
  readonly name: string;
  readonly text: string;
  /** What to change, when there is something obvious. */
  readonly hint?: string;
}

const INTERNAL_REJECTS: readonly RejectReasonInfo[] = [
  { name: 'SRT_REJ_UNKNOWN', text: 'unknown reason (handshake did not complete)' },
  { name: 'SRT_REJ_SYSTEM', text: 'a system function failed' },
  { name: 'SRT_REJ_PEER', text: 'the peer rejected the connection' },
  { name: 'SRT_REJ_RESOURCE', text: 'resource allocation failed' },
  { name: 'SRT_REJ_ROGUE', text: 'incorrect data in the handshake' },
  { name: 'SRT_REJ_BACKLOG', text: "the listener's backlog is full" },
  { name: 'SRT_REJ_IPE', text: 'internal program error in libsrt' },
  { name: 'SRT_REJ_CLOSE', text: 'the socket is closing' },
  {
    name: 'SRT_REJ_VERSION',
    text: 'the peer is older than the minimum version set',
    hint: 'lower minversion or upgrade the peer',
  },
  { name: 'SRT_REJ_RDVCOOKIE', text: 'rendezvous cookie collision', hint: 'retry the connection' },
  { name: 'SRT_REJ_BADSECRET', text: 'wrong passphrase', hint: 'use the same passphrase on both sides' },
  {
    name: 'SRT_REJ_UNSECURE',
    text: 'one side set a passphrase and the other did not',
    hint: 'set the passphrase on both sides or on neither',
  },
  {
    name: 'SRT_REJ_MESSAGEAPI',
    text: 'messageapi differs between the two sides',
    hint: 'use the same messageapi (or transtype) on both sides',
  },
  {
    name: 'SRT_REJ_CONGESTION',
    text: 'congestion control type differs between the two sides',
    hint: 'use the same transtype/congestion on both sides',
  },
  {
    name: 'SRT_REJ_FILTER',
    text: 'packet filter (FEC) configuration is incompatible',
    hint: 'make packetfilter agree on both sides',
  },
  { name: 'SRT_REJ_GROUP', text: 'incompatible socket group' },
  { name: 'SRT_REJ_TIMEOUT', text: 'connection timed out', hint: 'check the address, the firewall and conntimeo' },
];

const PREDEFINED_REJECTS: Readonly<Record<number, RejectReasonInfo>> = {
  1000: { name: 'SRT_REJX_FALLBACK', text: 'rejected by the application' },
  1001: { name: 'SRT_REJX_KEY_NOTSUP', text: 'a streamid key is not supported', hint: 'check the streamid' },
  1002: { name: 'SRT_REJX_FILEPATH', text: 'bad file path in the streamid' },
  1003: { name: 'SRT_REJX_HOSTNOTFOUND', text: "the streamid's h= host is not served here" },
  1400: { name: 'SRT_REJX_BAD_REQUEST', text: 'malformed streamid', hint: 'use #!::r=NAME,m=publish|request' },
  1401: { name: 'SRT_REJX_UNAUTHORIZED', text: 'authentication failed', hint: 'check the user and passphrase' },
  1402: { name: 'SRT_REJX_OVERLOAD', text: 'the server is overloaded or the quota is used up' },
  1403: { name: 'SRT_REJX_FORBIDDEN', text: 'access to the stream is denied' },
  1404: { name: 'SRT_REJX_NOTFOUND', text: 'no such stream', hint: 'check the r= name in the streamid' },
  1405: { name: 'SRT_REJX_BAD_MODE', text: 'the m= mode is not supported for this stream' },
  1406: { name: 'SRT_REJX_UNACCEPTABLE', text: 'the requested parameters cannot be satisfied' },
  1409: { name: 'SRT_REJX_CONFLICT', text: 'the stream already has a publisher' },
  1415: { name: 'SRT_REJX_NOTSUP_MEDIA', text: 'the t= media type is not supported' },
  1423: { name: 'SRT_REJX_LOCKED', text: 'the stream is locked' },
  1424: { name: 'SRT_REJX_FAILED_DEPEND', text: 'a dependent session has disconnected' },
  1500: { name: 'SRT_REJX_ISE', text: 'internal server error' },
  1501: { name: 'SRT_REJX_UNIMPLEMENTED', text: 'the request is not implemented' },
  1502: { name: 'SRT_REJX_GW', text: 'the upstream endpoint rejected the connection' },
  1503: { name: 'SRT_REJX_DOWN', text: 'the service is down' },
  1505: { name: 'SRT_REJX_VERSION', text: 'SRT version not supported' },
  1507: { name: 'SRT_REJX_NOROOM', text: 'no storage space left' },
};

/** Name and text for a libsrt reject reason (`SRT_REJ_*` 0..16, `SRT_REJX_*` 1000+, user 2000+). */
export function describeRejectReason(reason: number): RejectReasonInfo {
  if (Number.isInteger(reason) && reason >= 0 && reason < 1000) {
    return INTERNAL_REJECTS[reason] ?? { name: `SRT_REJ_${reason}`, text: 'reason not known to this version' };
  }
  if (Number.isInteger(reason) && reason >= 1000 && reason < 2000) {
    return PREDEFINED_REJECTS[reason] ?? { name: `PREDEFINED_${reason}`, text: `server status ${reason - 1000}` };
  }
  if (Number.isInteger(reason) && reason >= 2000) {
    return { name: `USER_${reason}`, text: `application-defined reason ${reason - 2000}` };
  }
  return { name: 'INVALID', text: `not a reject reason (${reason})` };
}

/** "a", "a or b", "a, b or c". */
export function orList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
