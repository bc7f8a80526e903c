/**
 * The one table of the reject codes srt-relay answers a refused SRT caller with (the caller
 * reads them as its reject reason; SRT_REJC_PREDEFINED 1000 + an HTTP-like status). The native
 * gate (native/gate.cc) sets the same numbers as `SRT_REJC_PREDEFINED + N`; a test mirrors this
 * table against it (test/architecture.test.ts), and docs/auth.md lists them for users.
 * Loads without the addon.
 */
export const REJECT = Object.freeze({
  /** The stream id names no valid stream. */
  BAD_REQUEST: 1400,
  /** The webhook did not authorize the caller (no or wrong credentials). */
  UNAUTHORIZED: 1401,
  /** The stream refuses this caller (webhook denial, streamid policy "refuse"). */
  FORBIDDEN: 1403,
  /** No such stream, or not live and not playable. */
  NOT_FOUND: 1404,
  /** The port does not allow this direction (publish on outgoing, play on incoming). */
  BAD_DIRECTION: 1405,
  /** The caller's latency is over the stream's latency policy (`latency.max`, onExceed "refuse"). */
  NOT_ACCEPTABLE: 1406,
  /** The stream already has a publisher (onPublisherConflict "refuse"). */
  CONFLICT: 1409,
  /** Over the per-host or node-wide handshake / session limits. */
  TOO_MANY: 1429,
  /** The gate failed internally. */
  INTERNAL: 1500,
  /** Try again: webhook pending, cluster unavailable, no worker runs, over a node limit. */
  UNAVAILABLE: 1503,
});

export type RejectCode = (typeof REJECT)[keyof typeof REJECT];
