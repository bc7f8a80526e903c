/**
 * What /healthz reports: whether every SRT port of the node can take callers now. A port cannot
 * when no worker thread runs (its callers are refused with 1503) or when its listener failed
 * (srt_accept error: nobody is accepted any more). Workers that cannot start while others run
 * make the node "degraded", still healthy.
 */
import type { WorkerStatus } from '../sessions/worker-pool.js';

export interface ListenerHealth {
  port: number | undefined;
  acceptError: Error | undefined;
}

export interface NodeHealth {
  /** ok: everything runs; degraded: some workers do not run, the others serve; unhealthy: a port cannot accept. */
  status: 'ok' | 'degraded' | 'unhealthy';
  /** Why it is not ok, one sentence each. */
  reasons: string[];
  workers: { total: number; running: number; slots: WorkerStatus[] };
}

export function nodeHealth(workers: readonly WorkerStatus[], listeners: readonly ListenerHealth[]): NodeHealth {
  const running = workers.filter((w) => w.state === 'running').length;
  const reasons: string[] = [];
  let unhealthy = false;
  if (running === 0) {
    unhealthy = true;
    const last = workers.find((w) => w.lastError !== undefined)?.lastError;
    reasons.push(`no worker thread runs (${workers.length} configured${last !== undefined ? `, last error: ${last}` : ''}): SRT callers are refused with 1503`);
  } else if (running < workers.length) {
    reasons.push(`${workers.length - running} of ${workers.length} worker threads do not run; the others serve`);
  }
  for (const l of listeners) {
    if (l.acceptError === undefined) continue;
    unhealthy = true;
    reasons.push(`SRT listener on port ${l.port ?? '?'} cannot accept: ${l.acceptError.message}`);
  }
  return {
    status: unhealthy ? 'unhealthy' : reasons.length > 0 ? 'degraded' : 'ok',
    reasons,
    workers: { total: workers.length, running, slots: [...workers] },
  };
}
