/**
 * Memory after viewers leave: does the node's RSS follow its load? One in-process relay with a
 * 1000 packets/s publisher; 100 viewers join, then leave, three rounds; RSS at the peak, 3 s after
 * they left, and after the relay's heap trim (native.trimMemory = malloc_trim, which the relay runs
 * by itself every 10 s once 20 sessions have ended). The viewers' own sockets live in this process
 * too, so the absolute numbers are client + relay; the difference trim makes is the point.
 *
 *   node dist/bench/memory-return.js [--viewers 100] [--rounds 3]
 */
import { parseArgs } from 'node:util';
import { native } from '../src/srt/native.js';
import { Relay } from '../src/supervisor/relay.js';
import { freeUdpPort } from '../test/helpers/free-port.js';
import { pacedPublisher, relayOptions } from '../test/helpers/relay-harness.js';
import { connectBinding, delay } from '../test/helpers/srt-io.js';

const { values } = parseArgs({ options: { viewers: { type: 'string', default: '100' }, rounds: { type: 'string', default: '3' } } });
const viewers = Number(values.viewers);
const rounds = Number(values.rounds);
const mb = (): number => Math.round(process.memoryUsage.rss() / 1048576);

const port = await freeUdpPort();
const relay = new Relay(relayOptions(port, { limits: { exemptHosts: ['127.0.0.1'] } }, { latency: 200 }));
await relay.start();
const pub = await connectBinding(port, { latency: 200, streamid: 'publish:memory' });
const publisher = pacedPublisher(pub, { pps: 1000 });
process.stdout.write(`start: RSS ${mb()} MB; ${viewers} viewers join and leave, ${rounds} rounds\n`);
for (let round = 1; round <= rounds; round++) {
  const sockets = [];
  for (let i = 0; i < viewers; i++) sockets.push(await connectBinding(port, { latency: 200, streamid: 'read:memory' }));
  await delay(2000);
  const peak = mb();
  for (const s of sockets) s.close();
  await delay(3000);
  const left = mb();
  const t0 = performance.now();
  native.trimMemory();
  const ms = performance.now() - t0;
  process.stdout.write(`round ${round}: RSS ${peak} MB with viewers, ${left} MB after they left, ${mb()} MB after the trim (${ms.toFixed(1)} ms)\n`);
}
await publisher.stop();
pub.close();
await relay.stop();
