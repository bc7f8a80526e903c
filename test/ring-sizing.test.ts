/**
 * docs/streams.md "The memory window": a configured stream's ring gets one slot per millisecond
 * of `bufferTimeMs`, rounded up to a power of two, never more than 16384 slots (≈ 24 MB) and
 * never fewer than 1024; a stream made by a first publish gets 8192 (≈ 12 MB). The pure sizing
 * function, then the same sizes read back from a real node's API (`window.slots`, `window.bytes`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ringBytesFor } from '../src/ring/packet-ring.js';
import { RING_MAX_SLOTS, RING_MIN_SLOTS, ringSlotsForBufferTime } from '../src/streams/stream-options.js';
import { STREAM_DEFAULTS } from '../src/config/defaults.js';
import { startRelayProcess } from './helpers/relay-process.js';
import { connectBinding } from './helpers/srt-io.js';
import { waitFor } from './helpers/relay-harness.js';

test('ring slots follow bufferTimeMs (one per millisecond, rounded up to a power of two) between 1024 and the cap of 16384', () => {
  assert.equal(RING_MAX_SLOTS, 16384);
  assert.equal(RING_MIN_SLOTS, 1024);
  const table: Array<[number, number]> = [
    [0, 1024],
    [100, 1024],
    [1024, 1024],
    [1025, 2048],
    [2000, 2048],
    [5000, 8192],
    [8192, 8192],
    [9000, 16384],
    [16384, 16384],
    [16385, 16384],
    [STREAM_DEFAULTS.bufferTimeMs, 16384],
    [3_600_000, 16384],
  ];
  for (const [ms, slots] of table) assert.equal(ringSlotsForBufferTime(ms), slots, `bufferTimeMs ${ms}`);
  // Within the bounds: the smallest power of two holding one slot per millisecond.
  for (let ms = 1024; ms <= 16384; ms += 97) {
    const s = ringSlotsForBufferTime(ms);
    assert.ok(s >= ms && s / 2 < ms && (s & (s - 1)) === 0, `bufferTimeMs ${ms} → ${s} slots`);
  }
  // The cap bounds memory per stream: ≈ 24 MB; the default ring of a first publish ≈ 12 MB.
  assert.ok(Math.abs(ringBytesFor(16384) - 24e6) < 0.5e6, `16384 slots take ${ringBytesFor(16384)} bytes`);
  assert.ok(Math.abs(ringBytesFor(8192) - 12e6) < 0.5e6, `8192 slots take ${ringBytesFor(8192)} bytes`);
});

test('a real node sizes each configured stream’s ring from its bufferTimeMs (default 50000 → the 16384 cap) and a first publish’s ring at 8192, as GET /api/v1/streams/{name} → window shows', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ring-sizing-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'relay.json');
  const expected: Record<string, number> = { standard: 16384, two: 2048, tiny: 1024, nine: 16384, hour: 16384, dyn: 8192 };
  await writeFile(
    file,
    JSON.stringify({
      streams: {
        standard: { source: 'push://' },
        two: { source: 'push://', bufferTimeMs: 2000 },
        tiny: { source: 'push://', bufferTimeMs: 100 },
        nine: { source: 'push://', bufferTimeMs: 9000 },
        hour: { source: 'push://', bufferTimeMs: 3_600_000 },
      },
    }),
  );
  const node = await startRelayProcess(t, { args: ['--config', file], logLevel: 'warn' });
  for (const name of Object.keys(expected)) {
    const pub = await connectBinding(node.srtPort, { streamid: `publish:${name}`, latency: 200 });
    t.after(() => pub.close());
    const packet = new Uint8Array(1316).fill(0x47);
    type View = { state: string; window: { slots: number; bytes: number } };
    const view = await waitFor(async () => {
      pub.send(packet);
      const r = await node.api<View>(`/api/v1/streams/${name}`);
      return r.status === 200 && r.body.state === 'live' && r.body.window.slots > 0 ? r.body : undefined;
    }, `stream ${name} live with a ring`);
    t.diagnostic(`${name}: ${view.window.slots} slots, ${view.window.bytes} bytes`);
    assert.equal(view.window.slots, expected[name], `ring slots of ${name}`);
    assert.equal(view.window.bytes, ringBytesFor(expected[name]!), `ring bytes of ${name}`);
  }
});
