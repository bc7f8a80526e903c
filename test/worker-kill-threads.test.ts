/**
 * A killed worker thread is replaced, not duplicated: piscina (minThreads 1) used to start a
 * replacement of its own for a crashed thread, also after the slot's pool was destroyed; that
 * thread was never terminated and waited in Atomics.wait forever with its heap and 4 fds (about
 * one in six kills; the chaos bench's "~8 MB per worker kill"). The slot's restart is the pool's
 * own. (Threads, not fds, are counted: this process's own SRT callers hold fds of their own.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { connectFor, countingReceiver, pacedPublisher, startRelay, waitFor } from './helpers/relay-harness.js';

/** Threads of this process that run JavaScript or libuv ("node"): the main thread, Node's own, and every worker thread. */
function nodeThreads(): number {
  let n = 0;
  for (const t of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() === 'node') n++;
    } catch {
      // the thread ended meanwhile
    }
  }
  return n;
}

test('killing a worker thread 24 times, with sessions on it, leaves no worker thread behind: each kill is one thread gone and one new', { timeout: 120_000 }, async (t) => {
  const { relay, port } = await startRelay(t, { workers: 2, streams: { cam: { source: 'push://' } } });
  const running = (): boolean => relay.health().workers.running === 2;
  await waitFor(running, 'both workers run');
  const threadsBefore = nodeThreads();
  for (let k = 0; k < 24; k++) {
    // A publisher and a viewer, so the killed worker hosts sessions (which one gets them varies).
    const pub = await connectFor(t, port, { streamid: 'publish:cam' });
    const p = pacedPublisher(pub, { pps: 200 });
    const rx = countingReceiver(await connectFor(t, port, { streamid: 'read:cam' }));
    await waitFor(() => rx.packets > 0, `kill ${k}: the viewer receives`);
    relay.crashWorker(k % 2);
    await waitFor(() => !running(), `kill ${k}: the worker is down`, 5_000).catch(() => undefined); // may be back already
    await waitFor(running, `kill ${k}: the worker is replaced`, 15_000);
    p.stop();
    pub.close();
    await waitFor(() => relay.getStream('cam')?.publisher === undefined, `kill ${k}: the publisher gone`);
  }
  // A thread that is ending may still be listed for a moment: wait for the count, then compare.
  await waitFor(() => nodeThreads() <= threadsBefore, `the "node" threads back to ${threadsBefore} (now ${nodeThreads()})`, 10_000).catch(() => undefined);
  assert.equal(nodeThreads(), threadsBefore, 'as many JavaScript/libuv threads as before the kills');
});
