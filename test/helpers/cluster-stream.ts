/**
 * A stream published on one cluster node and watched on another: the owner holds its lease, the
 * puller routes it to the owner and pulls it, and a viewer on the puller receives (packets tagged 1).
 */
import type { ClusterNode } from './cluster-nodes.js';
import type { AfterHook } from './processes.js';
import { countingReceiver, pacedPublisher, waitFor, type CountingReceiver, type PacedPublisher } from './relay-harness.js';
import { connectBinding } from './srt-io.js';
import type { SrtSocket } from '../../src/srt/socket.js';

export async function pulledStream(t: AfterHook, owner: ClusterNode, puller: ClusterNode, stream = 'cam'): Promise<{ pub: PacedPublisher; pubSock: SrtSocket; viewer: CountingReceiver }> {
  const pubSock = await connectBinding(owner.srtPort, { streamid: `publish:${stream}`, latency: 120 });
  t.after(() => pubSock.close());
  const pub = pacedPublisher(pubSock, { pps: 200, tag: 1 });
  t.after(() => pub.stop());
  await waitFor(async () => (await owner.cluster()).owned[stream] !== undefined, `the owner holds ${stream}`);
  await waitFor(async () => (await puller.cluster()).remote[stream] === owner.id, `the puller routes ${stream} to the owner`);
  const viewSock = await connectBinding(puller.srtPort, { streamid: `read:${stream}`, latency: 120 });
  t.after(() => viewSock.close());
  const viewer = countingReceiver(viewSock, 1);
  await waitFor(() => viewer.packets > 100, 'the viewer on the puller receives');
  return { pub, pubSock, viewer };
}
