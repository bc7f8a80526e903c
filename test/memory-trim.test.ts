/**
 * MemoryTrim (src/supervisor/guards/memory-trim.ts) decides when to hand freed heap memory back:
 * after a burst of ended sessions and after a worker thread died, once things are quiet; not for
 * a worker that starts, nor for a few sessions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryTrim } from '../src/supervisor/guards/memory-trim.js';
import { capturingLogger } from './helpers/log-capture.js';
import { waitFor } from './helpers/relay-harness.js';

const TRIMMED = /^returned freed memory to the system$/;

test('a worker thread that died makes the trim run once the restart is over; workers starting and a few ended sessions do not', { timeout: 20_000 }, async (t) => {
  const log = capturingLogger('debug');
  const pool = new EventEmitter();
  const trim = new MemoryTrim(log.logger, pool as never);
  trim.start();
  t.after(() => trim.stop());
  pool.emit('workers-changed', 1); // the first worker started
  pool.emit('workers-changed', 2); // the second
  for (let i = 0; i < 5; i++) trim.sessionEnded();
  await sleep(3500); // past the quiet time a burst would need (2 s) and a check (1 s)
  assert.equal(log.find(TRIMMED).length, 0, 'no trim for workers starting or 5 ended sessions');

  pool.emit('workers-changed', 1); // a worker died
  pool.emit('workers-changed', 2); // and was replaced
  const lines = await waitFor(() => (log.find(TRIMMED).length > 0 ? log.find(TRIMMED) : undefined), 'a trim after the worker died', 8_000);
  assert.equal(lines[0]!['burstOver'], true, 'the trim of a burst that is over');
});
