/** What the SRTLA tests share: a Relay with an SrtlaServer in front, and a viewer whose session is attached. */
import type { Relay } from '../../src/supervisor/relay.js';
import type { SrtSocket } from '../../src/srt/socket.js';
import { SrtlaServer } from '../../src/srtla/server.js';
import { startRelay, connectFor, waitFor, sessionOf, waitAttached } from './relay-harness.js';
import type { AfterHook } from './processes.js';

/** A Relay (latency 200, lossmaxttl 40 for reordering links) and an SrtlaServer forwarding to its port. */
export async function relayWithSrtla(t: AfterHook & Parameters<typeof startRelay>[0], linkTimeoutMs?: number): Promise<{ relay: Relay; port: number; srtla: SrtlaServer; receiver: { host: string; port: number } }> {
  const { relay, port } = await startRelay(t, {}, { latency: 200, lossmaxttl: 40 });
  const srtla = new SrtlaServer({ port: 0, host: '127.0.0.1', target: { host: '127.0.0.1', port }, ...(linkTimeoutMs !== undefined ? { linkTimeoutMs } : {}) });
  t.after(() => srtla.close());
  await srtla.start();
  return { relay, port, srtla, receiver: { host: '127.0.0.1', port: srtla.address().port } };
}

/** A viewer of `stream` on the relay's normal port, returned once its session runs on a worker. */
export async function attachedViewer(t: AfterHook, relay: Relay, port: number, stream: string): Promise<SrtSocket> {
  const viewer = await connectFor(t, port, { streamid: `read:${stream}`, latency: 200 });
  await waitFor(() => sessionOf(relay, viewer) !== undefined, 'the viewer session registered', 20_000);
  await waitAttached(relay, [sessionOf(relay, viewer)!.id]);
  return viewer;
}
