/**
 * Kernel UDP receive drops: when a socket's receive buffer is full the kernel drops datagrams
 * libsrt never sees. The relay reads the counts from /proc/net/udp{,6} for the sockets it bound,
 * logs them, and shows them in the API and the metrics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Writable } from 'node:stream';
import pino from 'pino';
import { silentLogger } from '../src/logging.js';
import { parseProcNetUdp, UdpDropWatch } from '../src/srt/udp-drops.js';
import { Relay } from '../src/supervisor/relay.js';
import { freeUdpPort } from './helpers/free-port.js';
import { connectFor, countingReceiver, pacedPublisher, waitAttached, waitFor, waitLive, sessionOf, serveApi } from './helpers/relay-harness.js';

/** A /proc/net/udp text in the kernel's format: `rows` are [local port, inode, drops]. */
function procNetUdp(rows: Array<[number, number, number]>, v6 = false): string {
  const addr = (port: number): string => `${v6 ? '00000000000000000000000001000000' : '0100007F'}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const header = '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops';
  const lines = rows.map(
    ([port, inode, drops], i) =>
      `  ${i}: ${addr(port)} ${addr(0)} 07 00000000:00000000 00:00000000 00000000     0        0 ${inode} 2 ffff8f0e4c2a1c00 ${drops}`,
  );
  return `${[header, ...lines].join('\n')}\n`;
}

/** A pino logger whose lines land in `lines` (parsed). */
function capturingLogger(lines: Array<Record<string, unknown>>): pino.Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return pino({ level: 'info' }, sink);
}

test('parseProcNetUdp reads inode and drops from the IPv4 and IPv6 tables', () => {
  const m = parseProcNetUdp(procNetUdp([[8889, 1001, 0], [9000, 1002, 17]]));
  parseProcNetUdp(procNetUdp([[8889, 2001, 5]], true), m);
  assert.deepEqual([...m.entries()].sort((a, b) => a[0] - b[0]), [[1001, 0], [1002, 17], [2001, 5]]);
  assert.equal(parseProcNetUdp('header only\n').size, 0);
  assert.equal(parseProcNetUdp(`h\n  0: garbage line\n\n`).size, 0);
});

test('UdpDropWatch counts growth per socket role/port/stream, logs it, and keeps the totals of closed sockets', async () => {
  const lines: Array<Record<string, unknown>> = [];
  let table = new Map<number, number>();
  const watch = new UdpDropWatch({ log: capturingLogger(lines), read: async () => table });
  watch.add({ inode: 11, receiveBufferBytes: 8_388_608 }, { role: 'srt-port', port: 8889 });
  watch.add({ inode: 12, receiveBufferBytes: 8_388_608 }, { role: 'pull', stream: 'cam' });
  watch.add(undefined, { role: 'pull', stream: 'ignored' }); // libsrt chose the socket: nothing to read
  table = new Map([[11, 0], [12, 0]]);
  await watch.poll();
  assert.equal(lines.length, 0, 'no drops, no warning');
  table = new Map([[11, 40], [12, 3]]);
  await watch.poll();
  assert.deepEqual(lines.map((l) => [l.role, l.port, l.stream, l.dropped, l.level]), [['srt-port', 8889, undefined, 40, 40], ['pull', undefined, 'cam', 3, 40]]);
  assert.match(String(lines[0]!.msg), /kernel dropped 40 datagrams arriving on UDP port 8889.*net\.core\.rmem_max/);
  // The pull reconnects on a new socket (12 closed, 13 new): its drops add to the stream's total.
  watch.add({ inode: 13, receiveBufferBytes: 425_984 }, { role: 'pull', stream: 'cam' });
  table = new Map([[11, 40], [13, 2]]);
  await watch.poll();
  assert.equal(watch.watching, 2, 'the closed socket is forgotten');
  assert.deepEqual(watch.counts(), [
    { role: 'srt-port', port: 8889, receiveBufferBytes: 8_388_608, dropped: 40 },
    { role: 'pull', stream: 'cam', receiveBufferBytes: 425_984, dropped: 5 },
  ]);
  // A socket added while a reading is under way is not mistaken for a closed one.
  let release: (() => void) | undefined;
  const slow = new UdpDropWatch({ log: silentLogger(), read: () => new Promise((r) => (release = () => r(new Map()))) });
  slow.add({ inode: 21, receiveBufferBytes: 1 }, { role: 'srt-port', port: 1 });
  const p = slow.poll();
  slow.add({ inode: 22, receiveBufferBytes: 1 }, { role: 'srt-port', port: 2 });
  release!();
  await p;
  assert.equal(slow.watching, 1, 'socket 21 (in the reading, missing) is gone; 22 (added during it) stays');
});

test('a full UDP receive buffer on the SRT port is counted, logged and shown in the API and metrics, and the relay keeps serving', { timeout: 60_000 }, async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const port = await freeUdpPort();
  const flooded = await freeUdpPort();
  const relay = new Relay({
    nodeId: 'udp-test',
    workers: 1,
    ports: [
      { port, host: '127.0.0.1', direction: 'both', params: { latency: 200 }, reusePort: 1 },
      // ~3 KB of receive buffer: a burst overflows it at once.
      { port: flooded, host: '127.0.0.1', direction: 'both', params: { udp_rcvbuf: 1 }, reusePort: 1 },
    ],
    streams: {},
    pushes: [],
    limits: {},
    ringSlots: 1024,
    logger: capturingLogger(lines),
    udpDropCheckMs: 200,
  });
  const base = await serveApi(t, relay);
  const udp = async (): Promise<Array<{ role: string; port?: number; dropped: number; receiveBufferBytes: number }>> =>
    ((await (await fetch(`${base}/api/v1/udp`)).json()) as { sockets: Array<{ role: string; port?: number; dropped: number; receiveBufferBytes: number }> }).sockets;

  const before = await udp();
  assert.deepEqual(before.map((s) => [s.role, s.port, s.dropped]), [['srt-port', port, 0], ['srt-port', flooded, 0]]);
  assert.ok(before[1]!.receiveBufferBytes < 16_384, `the flooded port's buffer is tiny (${before[1]!.receiveBufferBytes} bytes)`);

  // A stream plays on the first port while the second is flooded.
  const pub = await connectFor(t, port, { streamid: 'publish:udp' });
  await waitLive(relay, 'udp');
  const viewer = await connectFor(t, port, { streamid: 'read:udp' });
  await waitAttached(relay, [await waitFor(() => sessionOf(relay, viewer)?.id, 'viewer listed')]);
  const rx = countingReceiver(viewer);
  const p = pacedPublisher(pub, { pps: 500, count: 1000 });

  const sender = createSocket('udp4');
  t.after(() => sender.close());
  const junk = Buffer.alloc(1316, 0x5a); // a data packet for no connection: libsrt drops it, if it ever sees it
  for (let burst = 0; burst < 20; burst++) {
    await Promise.all(Array.from({ length: 500 }, () => new Promise<void>((r) => sender.send(junk, flooded, '127.0.0.1', () => r()))));
  }
  const after = await waitFor(async () => {
    const s = await udp();
    return s.find((x) => x.port === flooded && x.dropped > 0) !== undefined ? s : undefined;
  }, 'kernel drops on the flooded port reported', 10_000);
  const dropped = after.find((x) => x.port === flooded)!.dropped;
  t.diagnostic(`10,000 datagrams at a ${before[1]!.receiveBufferBytes}-byte buffer: the kernel dropped ${dropped}`);
  assert.ok(dropped > 0 && dropped <= 10_000, `0 < drops (${dropped}) ≤ datagrams sent (10000)`);
  assert.equal(after.find((x) => x.port === port)!.dropped, 0, 'the other port lost nothing');
  await waitFor(() => lines.find((l) => l.port === flooded && l.level === 40 && typeof l.dropped === 'number'), 'a warning naming the port', 5_000);

  const metrics = await (await fetch(`${base}/metrics`)).text();
  const line = metrics.split('\n').find((l) => l.startsWith('srt_relay_udp_receive_drops_total{') && l.includes(`port="${flooded}"`));
  assert.ok(line !== undefined, 'srt_relay_udp_receive_drops_total has the flooded port');
  assert.ok(Number(line.split(' ').pop()) >= dropped, line);

  await waitFor(() => rx.packets >= 1000 || p.error, `the viewer got the stream (${rx.packets})`, 15_000);
  assert.equal(rx.discontinuities, 0, 'the playing stream lost nothing');
});
