/**
 * HTTP plumbing for the API: the error type routes throw, JSON body reading with a size limit and
 * a content-type check, and the mapping from any thrown error to a status and `{error: {code,
 * message}}` body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SrtRelayError, type ErrorCode, type ErrorDetails } from '../errors.js';
import { maskSecrets, maskText } from '../config/secrets.js';

/** Largest request body the API reads. */
export const MAX_BODY_BYTES = 64 * 1024;

/** An API error with its HTTP status (and extra response headers, e.g. Allow or WWW-Authenticate). */
export class ApiError extends SrtRelayError {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: ErrorCode,
    message: string,
    opts: { details?: ErrorDetails; headers?: Record<string, string> } = {},
  ) {
    super(code, message, opts.details);
    this.name = 'ApiError';
    this.status = status;
    this.headers = Object.freeze({ ...(opts.headers ?? {}) });
  }
}

export function badRequest(message: string, details?: ErrorDetails): ApiError {
  return new ApiError(400, 'ERR_API_BAD_REQUEST', message, details === undefined ? {} : { details });
}

export function notFound(message: string): ApiError {
  return new ApiError(404, 'ERR_API_NOT_FOUND', message);
}

export function conflict(message: string, details?: ErrorDetails): ApiError {
  return new ApiError(409, 'ERR_API_CONFLICT', message, details === undefined ? {} : { details });
}

/** The JSON body of an error response. */
export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  headers: Readonly<Record<string, string>>;
  /** true for errors the API did not expect (logged at error level). */
  unexpected: boolean;
}

/** EADDRINUSE on Linux, macOS and Windows. */
const ADDR_IN_USE = new Set([98, 48, 10048]);
/** libsrt SRT_EDUPLISTEN and SRT_EBINDCONFLICT. */
const SRT_BIND_CONFLICT = new Set([5011, 5015]);

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  ERR_SRT_URL_INVALID: 400,
  ERR_SRT_OPTION_UNKNOWN: 400,
  ERR_SRT_OPTION_INVALID: 400,
  ERR_SRT_MODE_INVALID: 400,
  ERR_CONFIG_INVALID: 400,
  ERR_RECORDING_TARGET_INVALID: 400,
  ERR_CLUSTER_UNAVAILABLE: 503,
  ERR_CLUSTER_FENCED: 409,
  ERR_PORT_IN_USE: 409,
  ERR_SRT_REJECTED: 502,
  ERR_SRT_NATIVE: 500,
};

/** Turns anything a route threw into the response to send. */
export function errorResponse(err: unknown): ErrorResponse {
  if (err instanceof ApiError) {
    return { status: err.status, body: errorBody(err.code, err.message, err.details), headers: err.headers, unexpected: false };
  }
  if (err instanceof SrtRelayError) {
    let status = STATUS_BY_CODE[err.code] ?? 500;
    if (err.code === 'ERR_SRT_NATIVE') {
      const srtErrno = Number(err.details?.['srtErrno']);
      const sysErrno = Number(err.details?.['sysErrno']);
      if (SRT_BIND_CONFLICT.has(srtErrno) || ADDR_IN_USE.has(sysErrno) || /bound to that port/i.test(err.message)) {
        status = 409;
      }
    }
    return { status, body: errorBody(err.code, err.message, err.details), headers: {}, unexpected: status === 500 };
  }
  return {
    status: 500,
    body: errorBody('ERR_API_INTERNAL', 'internal error; see the relay log'),
    headers: {},
    unexpected: true,
  };
}

/** Every error answer goes through here: its message and details with secrets masked. */
function errorBody(code: string, message: string, details?: ErrorDetails): ErrorBody {
  const text = maskText(message);
  return details === undefined ? { error: { code, message: text } } : { error: { code, message: text, details: maskSecrets({ ...details }) } };
}

/** Writes a JSON response (`body` undefined: no body, e.g. 204). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const common = { 'cache-control': 'no-store', ...headers };
  if (body === undefined || status === 204) {
    res.writeHead(status, common);
    res.end();
    return;
  }
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...common,
  });
  res.end(text);
}

/** Writes a plain-text response (Prometheus exposition). */
export function sendText(res: ServerResponse, status: number, contentType: string, text: string): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const type = value.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/**
 * Reads and parses a JSON request body: at most `limit` bytes, sent as application/json, one
 * JSON value. Throws ApiError 413 / 415 / 400.
 */
export async function readJsonBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    throw new ApiError(413, 'ERR_API_PAYLOAD_TOO_LARGE', `request body is over the ${limit}-byte limit`, {
      headers: { connection: 'close' },
    });
  }
  const body = await readBody(req, limit);
  const total = body.byteLength;
  if (total === 0) throw badRequest('this request needs a JSON body');
  if (!isJsonContentType(req.headers['content-type'])) {
    throw new ApiError(415, 'ERR_API_UNSUPPORTED_MEDIA_TYPE', 'send the request body as JSON with Content-Type: application/json');
  }
  const text = body.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    // V8's message quotes part of the input, which may hold a passphrase: report only the position.
    const pos = /position (\d+)/.exec(err instanceof Error ? err.message : '')?.[1];
    throw badRequest(`request body is not valid JSON${pos === undefined ? '' : ` (error at character ${pos})`}`);
  }
}

/**
 * Collects the body. Over the limit it rejects at once and lets the rest of the body flow away
 * unread (the 413 response closes the connection), so the client still gets the answer.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let done = false;
    const fail = (err: Error): void => {
      if (done) return;
      done = true;
      reject(err);
    };
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      total += chunk.byteLength;
      if (total > limit) {
        fail(
          new ApiError(413, 'ERR_API_PAYLOAD_TOO_LARGE', `request body is over the ${limit}-byte limit`, {
            headers: { connection: 'close' },
          }),
        );
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks, total));
    });
    req.on('error', (err) => fail(err));
    req.on('close', () => fail(badRequest('the request body ended early')));
  });
}
