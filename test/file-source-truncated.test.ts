/**
 * A looped file:// source whose file is truncated while it plays (to 0 bytes, or to 100 bytes:
 * less than one TS packet) ends with a clear ERR_SOURCE_INVALID reason instead of rewinding
 * forever (issue 13 item 6), and the thread keeps serving another file source.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { FileSource } from '../src/sources/file-source.js';
import { PacketRing } from '../src/ring/packet-ring.js';
import { testTempDir, tsFixture } from './helpers/ts-fixture.js';
import { waitUntil } from './helpers/media.js';

for (const size of [0, 100]) {
  test(`a looped file source truncated to ${size} bytes mid-play ends with a clear error while another source keeps playing`, { timeout: 60_000 }, async (t) => {
    const fixture = await tsFixture();
    const dir = testTempDir();
    const victim = join(dir, `victim-${size}.ts`);
    const other = join(dir, `other-${size}.ts`);
    copyFileSync(fixture, victim);
    copyFileSync(fixture, other);

    const end: { called: boolean; err: Error | undefined } = { called: false, err: undefined };
    const ringA = PacketRing.create(1024);
    const a = new FileSource(victim, ringA, { loop: true, simulatedLive: false, maxRateMbps: 50, onEnd: (e) => { end.called = true; end.err = e; } });
    const ringB = PacketRing.create(1024);
    const b = new FileSource(other, ringB, { loop: true, simulatedLive: false, maxRateMbps: 20 });
    t.after(() => Promise.all([a.stop(), b.stop()]));
    await a.start();
    await b.start();
    await waitUntil(() => a.loops >= 1, () => 'the victim file looped at least once', 20_000);

    truncateSync(victim, size);
    await waitUntil(() => end.called, () => `the source ended after the file was truncated to ${size} bytes`, 20_000);
    const err = end.err;
    assert.ok(err instanceof Error, 'it ended with an error, not as a normal end of file');
    assert.equal((err as Error & { code?: string }).code, 'ERR_SOURCE_INVALID');
    assert.match(err.message, new RegExp(`holds ${size} bytes, less than one 188-byte TS packet`));

    // Nothing spins after the end: the ended source writes no more, the other one still plays.
    const headA = ringA.head();
    const headB = ringB.head();
    const cpu0 = process.cpuUsage();
    await waitUntil(() => ringB.head() - headB > 200, () => 'the other file source kept writing its ring', 20_000);
    const cpu = process.cpuUsage(cpu0);
    assert.equal(ringA.head(), headA, 'the truncated source wrote nothing after it ended');
    t.diagnostic(`cpu while the other source wrote 200 messages: user ${cpu.user / 1000} ms, system ${cpu.system / 1000} ms`);
  });
}
