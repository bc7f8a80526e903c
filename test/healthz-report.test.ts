/**
 * What /healthz concludes from the workers and listeners (src/supervisor/health.ts): unhealthy
 * (503) when a port cannot accept, degraded when some workers do not run, ok otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkerStatus } from '../src/sessions/worker-pool.js';
import { nodeHealth } from '../src/supervisor/health.js';

const running = (index: number): WorkerStatus => ({ index, state: 'running', sessions: 0, restarts: 0, failures: 0 });
const retrying = (index: number): WorkerStatus => ({ index, state: 'retrying', sessions: 0, restarts: 0, failures: 2, lastError: 'ERR_WORKER_INIT_FAILED: EMFILE', retryInMs: 900 });

test('health: a listener whose srt_accept failed makes the node unhealthy, naming its port; workers that do not run make it degraded, or unhealthy when none runs', () => {
  assert.deepEqual(nodeHealth([running(0), running(1)], [{ port: 9000, acceptError: undefined }]).status, 'ok');
  const broken = nodeHealth([running(0)], [{ port: 9000, acceptError: new Error('srt_accept failed: invalid socket') }]);
  assert.equal(broken.status, 'unhealthy');
  assert.match(broken.reasons.join(' '), /port 9000 cannot accept: srt_accept failed/);
  const degraded = nodeHealth([running(0), retrying(1)], [{ port: 9000, acceptError: undefined }]);
  assert.equal(degraded.status, 'degraded');
  assert.deepEqual(degraded.reasons, ['1 of 2 worker threads do not run; the others serve']);
  const none = nodeHealth([retrying(0), retrying(1)], [{ port: 9000, acceptError: undefined }]);
  assert.equal(none.status, 'unhealthy');
  assert.match(none.reasons[0]!, /no worker thread runs \(2 configured, last error: ERR_WORKER_INIT_FAILED: EMFILE\): SRT callers are refused with 1503/);
  assert.equal(none.workers.running, 0);
});
