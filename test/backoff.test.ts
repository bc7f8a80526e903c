/**
 * The one retry delay (src/util/backoff.ts) used by pull sources, auto pushes, worker starts and
 * Redis reconnects: the documented steps (0.5, 1, 2, 4, 8 s, then every 15 s; Redis 100 ms
 * doubling to 2 s), each spread by ±20 %, deterministic with an injected random.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redisBackoff } from '../src/cluster/redis-health.js';
import { WORKER_RETRY_MS } from '../src/sessions/worker-pool.js';
import { backoffDelay, DEFAULT_JITTER, RETRY_STEPS_MS } from '../src/util/backoff.js';

const mid = (): number => 0.5; // no spread: the nominal delay

test('backoff: retry steps are 0.5, 1, 2, 4, 8 s, then every 15 s', () => {
  const got = [1, 2, 3, 4, 5, 6, 7, 50].map((a) => backoffDelay(a, { steps: RETRY_STEPS_MS, random: mid }));
  assert.deepEqual(got, [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  assert.equal(WORKER_RETRY_MS, RETRY_STEPS_MS, 'worker starts use the same steps');
});

test('backoff: an attempt below 1 (or not a number) counts as the first', () => {
  for (const a of [0, -3, Number.NaN, 0.4]) assert.equal(backoffDelay(a, { steps: RETRY_STEPS_MS, jitter: 0 }), 500);
});

test('backoff: exponential form doubles from base and is capped at max (Redis 100 ms to 2 s)', () => {
  const got = [1, 2, 3, 4, 5, 6, 100].map((a) => backoffDelay(a, { baseMs: 100, maxMs: 2000, jitter: 0 }));
  assert.deepEqual(got, [100, 200, 400, 800, 1600, 2000, 2000]);
  assert.deepEqual([1, 5, 9].map((a) => redisBackoff(a, 100, 2000, mid)), [100, 1600, 2000]);
});

test('backoff: jitter spreads each delay over ±20 %, bounds included', () => {
  assert.equal(DEFAULT_JITTER, 0.2);
  assert.equal(backoffDelay(3, { steps: RETRY_STEPS_MS, random: () => 0 }), 1600);
  assert.equal(backoffDelay(3, { steps: RETRY_STEPS_MS, random: () => 0.999999 }), 2400);
  assert.equal(backoffDelay(6, { steps: RETRY_STEPS_MS, random: () => 0.25 }), 13500);
  assert.equal(redisBackoff(1, 100, 2000, () => 0), 80);
});

test('backoff: with Math.random every delay stays inside its range and the draws differ', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const d = backoffDelay(2, { steps: RETRY_STEPS_MS });
    assert.ok(d >= 800 && d <= 1200, `${d} outside [800, 1200]`);
    seen.add(d);
  }
  assert.ok(seen.size > 50, `only ${seen.size} distinct delays: not spread`);
});

test('backoff: a custom jitter, and 0 for exact delays', () => {
  assert.equal(backoffDelay(1, { steps: [1000], jitter: 0.5, random: () => 0 }), 500);
  assert.equal(backoffDelay(1, { steps: [1000], jitter: 0, random: () => 0 }), 1000);
});

test('backoff: bad options are refused with a RangeError that names them', () => {
  assert.throws(() => backoffDelay(1, { steps: [] }), /steps must not be empty/);
  assert.throws(() => backoffDelay(1, { steps: [1], jitter: 1 }), /jitter must be in \[0, 1\), got 1/);
  assert.throws(() => backoffDelay(1, { steps: [1], jitter: -0.1 }), /jitter must be in/);
});
