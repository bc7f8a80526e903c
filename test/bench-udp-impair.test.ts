/**
 * bench/floor/udp-impair (the userspace impairment relay of the `impaired` bench scenario):
 * forwards both ways per client, drops with the given probability, delays by at least the given
 * time. Only counts and the order of arrivals are checked (a delayed datagram comes back after
 * one sent directly later); how long the delay was is reported, never judged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { Child, buildFloor, floorBin, freeUdpPort, udpPortBound, waitFor } from '../bench/lib/util.js';

function bound(s: Socket): Promise<number> {
  return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s.address().port)));
}

/**
 * `count` datagrams through udp-impair to an echo server, then (with `direct`) as many straight to
 * the echo server; `order` lists each echo as it comes back ('p' proxied, 'd' direct).
 */
async function run(args: string[], count: number, waitMs: number, direct = false): Promise<{ echoes: number; firstRttMs: number; order: string; stats: Record<string, unknown> | undefined }> {
  const server = createSocket('udp4');
  const sport = await bound(server);
  server.on('message', (m, r) => server.send(m, r.port, r.address));
  const port = await freeUdpPort();
  const proxy = new Child('udp-impair', floorBin('udp-impair'), ['--listen', `127.0.0.1:${port}`, '--to', `127.0.0.1:${sport}`, ...args]);
  try {
    await waitFor(() => udpPortBound(port) || !proxy.running, 5000, 'udp-impair');
    const client = createSocket('udp4');
    await bound(client);
    let echoes = 0;
    let firstRttMs = -1;
    let order = '';
    const t0 = performance.now();
    client.on('message', (m) => {
      if (m[0] === 0x64) {
        order += 'd';
        return;
      }
      order += 'p';
      if (echoes++ === 0) firstRttMs = performance.now() - t0;
    });
    for (let i = 0; i < count; i++) client.send(Buffer.alloc(100, 0x70), port, '127.0.0.1');
    if (direct) for (let i = 0; i < count; i++) client.send(Buffer.alloc(100, 0x64), sport, '127.0.0.1');
    await waitFor(() => echoes >= count && (!direct || order.length >= 2 * count), waitMs, 'echoes').catch(() => undefined);
    client.close();
    await proxy.stop('SIGTERM', 3000);
    return { echoes, firstRttMs, order, stats: proxy.lastJson() };
  } finally {
    await proxy.stop('SIGKILL', 1000);
    server.close();
  }
}

test('udp-impair forwards every datagram both ways without loss settings', async () => {
  buildFloor();
  const r = await run([], 200, 10_000);
  assert.equal(r.echoes, 200);
  assert.equal(r.stats?.['forwarded'], 400);
  assert.equal(r.stats?.['dropped'], 0);
  assert.equal(r.stats?.['clients'], 1);
});

test('udp-impair drops a share of datagrams, and delays them: a datagram through it comes back after ones sent directly after it', async (t) => {
  buildFloor();
  const lossy = await run(['--loss', '50', '--seed', '7'], 400, 3000);
  assert.ok(lossy.echoes > 0 && lossy.echoes < 400, `echoes ${lossy.echoes}`);
  assert.ok(Number(lossy.stats?.['dropped']) > 0);
  const slow = await run(['--delay', '40'], 5, 30_000, true);
  assert.equal(slow.echoes, 5);
  assert.equal(slow.order, 'dddddppppp', 'the five direct echoes, sent after the proxied datagrams, come back first');
  t.diagnostic(`first echo through udp-impair --delay 40 after ${slow.firstRttMs.toFixed(1)} ms (2 x 40 ms delay)`);
  const plain = await run([], 5, 30_000, true);
  assert.equal(plain.order.length, 10, `without --delay every echo comes back (${plain.order})`);
});
