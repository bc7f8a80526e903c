/**
 * The one retry delay of the relay: pull sources, auto pushes, worker threads that cannot start,
 * and Redis reconnects. A delay grows per failed attempt (a table of steps whose last entry
 * repeats, or base·2^(attempt-1) capped at max) and is spread by ±jitter so that many retries
 * failing together (every source of a node when its uplink drops) do not hit the peer in step.
 */

/** Sources, pushes and worker starts: 0.5, 1, 2, 4, 8 s, then every 15 s (each ±20 %). */
export const RETRY_STEPS_MS: readonly number[] = Object.freeze([500, 1000, 2000, 4000, 8000, 15000]);
/** The default spread: a delay d becomes a uniform draw in [0.8·d, 1.2·d]. */
export const DEFAULT_JITTER = 0.2;

export type BackoffOptions = (
  | { steps: readonly number[] }
  | { baseMs: number; maxMs: number }
) & {
  /** Relative spread, 0 ≤ jitter < 1 (default 0.2 = ±20 %); 0 for exact delays. */
  jitter?: number;
  /** A number in [0, 1); Math.random by default (inject one for deterministic tests). */
  random?: () => number;
};

/** The delay in ms before retry `attempt` (1 = after the first failure; below 1 counts as 1). */
export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  const n = Math.max(1, Math.floor(Number.isFinite(attempt) ? attempt : 1));
  let d: number;
  if ('steps' in opts) {
    if (opts.steps.length === 0) throw new RangeError('backoffDelay: steps must not be empty');
    d = opts.steps[Math.min(n, opts.steps.length) - 1]!;
  } else {
    d = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(n - 1, 30));
  }
  const jitter = opts.jitter ?? DEFAULT_JITTER;
  if (!(jitter >= 0 && jitter < 1)) throw new RangeError(`backoffDelay: jitter must be in [0, 1), got ${jitter}`);
  if (jitter === 0) return d;
  const r = (opts.random ?? Math.random)();
  return Math.round(d * (1 - jitter + 2 * jitter * r));
}
