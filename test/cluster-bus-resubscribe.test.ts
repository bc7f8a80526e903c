/**
 * ClusterBus (src/cluster/bus.ts) and a SUBSCRIBE that failed while Redis was away: ioredis
 * re-subscribes after a reconnect only the channels a SUBSCRIBE succeeded for, so the bus sends
 * it again itself when the connection is back; otherwise the node would never hear config or
 * routing notices (a fresh-clone CI run once saw a node started without Redis stay deaf).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { ClusterBus } from '../src/cluster/bus.js';
import { clusterKeys } from '../src/cluster/keys.js';
import { waitFor } from './helpers/relay-harness.js';

/** Enough of an ioredis subscriber connection: its first SUBSCRIBE fails, later ones succeed. */
class FlakySubscriber extends EventEmitter {
  status = 'wait';
  readonly subscribes: string[][] = [];
  connect(): Promise<void> {
    return Promise.resolve();
  }
  subscribe(...channels: string[]): Promise<number> {
    this.subscribes.push(channels);
    return this.subscribes.length === 1 ? Promise.reject(new Error('Connection is closed.')) : Promise.resolve(channels.length);
  }
}

test('a SUBSCRIBE that failed while Redis was away is sent again once the connection is back', async () => {
  const sub = new FlakySubscriber();
  const keys = clusterKeys('test:');
  const bus = new ClusterBus({ subscriber: sub as unknown as Redis, keys });
  assert.equal(await bus.start(200), false, 'not subscribed while Redis is away');
  assert.equal(sub.subscribes.length, 1);
  sub.emit('error', new Error('connect ECONNREFUSED'));
  sub.status = 'ready';
  sub.emit('ready');
  await waitFor(() => sub.subscribes.length === 2, 'the SUBSCRIBE sent again', 2_000);
  assert.deepEqual(sub.subscribes[1], [keys.configChanged, keys.routingChanged]);
  sub.emit('close');
  sub.emit('ready');
  await new Promise((r) => setImmediate(r));
  assert.equal(sub.subscribes.length, 2, 'once subscribed, reconnects are left to ioredis (autoResubscribe)');
});
