import { Relay } from '../dist/src/supervisor/relay.js';
import { relayOptions, pacedPublisher, countingReceiver, waitFor, waitLive } from '../dist/test/helpers/relay-harness.js';
import { connectBinding } from '../dist/test/helpers/srt-io.js';
import { freeUdpPort } from '../dist/test/helpers/free-port.js';
const port = await freeUdpPort(); const inPort = await freeUdpPort();
const relay = new Relay(relayOptions(port, { streams: { ing: { source: `srt://127.0.0.1:${inPort}?mode=listener&latency=200` } } }));
await relay.start();
let totalCorrupt = 0;
for (let round = 0; round < 4; round++) {
  const s1 = await connectBinding(inPort, { latency: 200 });
  const p1 = pacedPublisher(s1, { pps: 500, tag: 3 });
  await waitLive(relay, 'ing');
  await new Promise(r => setTimeout(r, 500));
  await p1.stop(); s1.close();
  const s2 = await waitFor(() => connectBinding(inPort, { latency: 200 }).catch(() => undefined), 'new caller');
  const p2 = pacedPublisher(s2, { pps: 500, tag: 4 });
  const v = await connectBinding(port, { latency: 200, streamid: 'read:ing' });
  const rx = countingReceiver(v, 4, 3);
  await waitFor(() => rx.packets >= 50, '50');
  rx.stop();
  console.log('round', round, 'packets', rx.packets, 'corrupt', rx.corrupt);
  totalCorrupt += rx.corrupt;
  await p2.stop(); s2.close(); v.close();
  await waitFor(() => relay.getStream('ing')?.publisher === undefined, 'idle', 15000).catch(() => {});
}
console.log('total corrupt', totalCorrupt);
await relay.stop(); process.exit(0);
