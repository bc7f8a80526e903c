/**
 * Errors of the cluster layer, and the one place that decides whether an ioredis failure means
 * "Redis is unavailable" (turned into ERR_CLUSTER_UNAVAILABLE, which the relay answers with SRT
 * reject 1503 or HTTP 503) or is a real bug (a Lua error, a wrong type: rethrown as is).
 */
import { SrtRelayError } from '../errors.js';
import type { LeaseOwner } from './lease.js';
import { REJECT } from '../srt/reject-codes.js';

/** SRT reject reason for "needs Redis, Redis is down": SRT_REJX_DOWN. */
export const REJECT_CLUSTER_UNAVAILABLE = REJECT.UNAVAILABLE;
/** SRT reject reason for a publish refused by the cluster-wide conflict policy: SRT_REJX_CONFLICT. */
export const REJECT_CLUSTER_CONFLICT = REJECT.CONFLICT;

/**
 * ERR_CLUSTER_UNAVAILABLE: an operation needed Redis and Redis cannot be reached (down, refusing
 * connections, or not answering within the command timeout). `op` names the operation.
 */
export class ClusterUnavailableError extends SrtRelayError {
  readonly op: string;
  readonly reason: string;
  /** What an SRT handshake that needed this answers: 1503 (SRT_REJX_DOWN). */
  readonly rejectReason = REJECT_CLUSTER_UNAVAILABLE;
  /** What an API request that needed this answers: 503. */
  readonly httpStatus = 503;

  constructor(op: string, reason: string, options?: { cause?: unknown }) {
    super(
      'ERR_CLUSTER_UNAVAILABLE',
      `${op}: Redis is unavailable (${reason}); what is already served keeps running, this needs Redis: retry when it is back`,
      { op, reason },
      options,
    );
    this.name = 'ClusterUnavailableError';
    this.op = op;
    this.reason = reason;
  }
}

/**
 * ERR_CLUSTER_FENCED: this node's lease on `stream` (epoch `epoch`) is gone: another node holds
 * the stream with a newer epoch (`owner`, when known), so this node must stop publishing it.
 */
export class ClusterFencedError extends SrtRelayError {
  readonly stream: string;
  readonly epoch: number;
  readonly owner: LeaseOwner | undefined;

  constructor(stream: string, epoch: number, owner?: LeaseOwner) {
    const who =
      owner === undefined
        ? 'another node may hold it now'
        : `node '${owner.node}' holds it now (epoch ${owner.epoch})`;
    super(
      'ERR_CLUSTER_FENCED',
      `lease on stream '${stream}' (epoch ${epoch}) was lost: ${who}; stop publishing it on this node`,
      { stream, epoch, ...(owner === undefined ? {} : { owner: { ...owner } }) },
    );
    this.name = 'ClusterFencedError';
    this.stream = stream;
    this.epoch = epoch;
    this.owner = owner;
  }
}

/** Server replies that mean "Redis cannot serve now", not "the command is wrong". */
const UNAVAILABLE_REPLIES = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY|NOREPLICAS)\b/;
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** ioredis' message for a command that got no reply within `commandTimeout`. */
export const COMMAND_TIMED_OUT = 'Command timed out';

export type RedisFailureKind = 'timeout' | 'connection' | 'other';

/**
 * Classifies an error from an ioredis call: `timeout` (no reply within the command timeout: the
 * server hangs or the network drops packets), `connection` (not connected, connection lost,
 * server loading or read-only), `other` (a reply error that is a bug: rethrow it).
 */
export function classifyRedisError(err: unknown): RedisFailureKind {
  if (!(err instanceof Error)) return 'other';
  const msg = err.message;
  if (msg === COMMAND_TIMED_OUT) return 'timeout';
  if (err.name === 'ReplyError') return UNAVAILABLE_REPLIES.test(msg) ? 'connection' : 'other';
  if (err.name === 'MaxRetriesPerRequestError') return 'connection';
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && CONNECTION_CODES.has(code)) return 'connection';
  if (
    msg.startsWith("Stream isn't writeable") ||
    msg === 'Connection is closed.' ||
    msg.startsWith('Reached the max retries per request limit') ||
    msg.startsWith('connect ') ||
    msg.startsWith('Socket closed')
  ) {
    return 'connection';
  }
  return 'other';
}
