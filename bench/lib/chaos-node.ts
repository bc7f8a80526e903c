/**
 * The srt-relay command line (src/cli/main.ts, what bin/srt-relay.js runs) with one addition for
 * the chaos bench: over the IPC channel of its parent, `{ cmd: 'crash-worker', index }` crashes
 * one worker thread through the relay's fault-injection hook (`Relay.crashWorker`, the one the
 * worker-*.test.ts tests use). Nothing else differs: same flags, config, signals and exit codes.
 *
 *   node dist/bench/lib/chaos-node.js --srt-port N --api-port M ...   (started with an IPC channel)
 */
import { Relay } from '../../src/supervisor/relay.js';
import { main } from '../../src/cli/main.js';

const relays: Relay[] = [];
const proto = Relay.prototype as unknown as { start: (...a: unknown[]) => Promise<void> };
const start = proto.start;
proto.start = function (this: Relay, ...a: unknown[]): Promise<void> {
  relays.push(this);
  return start.apply(this, a);
};

process.on('message', (m: { cmd?: string; index?: number }) => {
  if (m.cmd !== 'crash-worker') return;
  const relay = relays[0];
  const index = m.index ?? 0;
  if (relay !== undefined) relay.crashWorker(index);
  process.send?.({ event: 'crash-worker', index, done: relay !== undefined });
});
// The IPC channel must not keep the node alive after main() returns (SIGTERM).
process.channel?.unref();

process.exit(await main(process.argv.slice(2)));
