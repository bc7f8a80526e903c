/**
 * The srt-relay command line (src/cli/main.ts, what bin/srt-relay.js runs) with one addition for
 * the chaos bench: over the IPC channel of its parent, `{ cmd: 'crash-worker', index }` crashes
 * one worker thread through the relay's fault-injection hook (`Relay.crashWorker`, the one the
 * worker-*.test.ts tests use), and `{ cmd: 'mem', trim? }` answers where the memory is (glibc's heap,
 * the main thread's V8 heap); `{ cmd: 'heap-snapshot', file }` writes the main thread's heap snapshot. Nothing else differs: same flags, config, signals and exit codes.
 *
 *   node dist/bench/lib/chaos-node.js --srt-port N --api-port M ...   (started with an IPC channel)
 */
import { writeHeapSnapshot } from 'node:v8';
import { Relay } from '../../src/supervisor/relay.js';
import { main } from '../../src/cli/main.js';
import { mallocStats, trimFreedMemory } from '../../src/srt/clock.js';
import { readFileSync } from 'node:fs';

const relays: Relay[] = [];
const proto = Relay.prototype as unknown as { start: (...a: unknown[]) => Promise<void> };
const start = proto.start;
proto.start = function (this: Relay, ...a: unknown[]): Promise<void> {
  relays.push(this);
  return start.apply(this, a);
};

process.on('message', (m: { cmd?: string; index?: number; file?: string; trim?: boolean }) => {
  if (m.cmd === 'mem') {
    // Where the resident memory is: glibc's heap (all arenas) and the main thread's V8 heap.
    // With `trim`, malloc_trim first (what is resident only because glibc kept freed pages is gone after it).
    if (m.trim === true) trimFreedMemory();
    const heap = mallocStats();
    const v8 = process.memoryUsage();
    process.send?.({ event: 'mem', mallocInUse: heap.inUse, mallocFree: heap.free, mallocMmapped: heap.mmapped, v8HeapUsed: v8.heapUsed, v8HeapTotal: v8.heapTotal, arrayBuffers: v8.arrayBuffers, rssKb: Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0), trimmed: m.trim === true ? 1 : 0 });
    return;
  }
  if (m.cmd === 'heap-snapshot') {
    // --heap-snapshots: the main thread's V8 heap, to tell what a run left behind.
    process.send?.({ event: 'heap-snapshot', file: writeHeapSnapshot(m.file) });
    return;
  }
  if (m.cmd !== 'crash-worker') return;
  const relay = relays[0];
  const index = m.index ?? 0;
  if (relay !== undefined) relay.crashWorker(index);
  process.send?.({ event: 'crash-worker', index, done: relay !== undefined });
});
// The IPC channel must not keep the node alive after main() returns (SIGTERM).
process.channel?.unref();

process.exit(await main(process.argv.slice(2)));
