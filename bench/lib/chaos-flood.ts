/**
 * The chaos bench's handshake flood, in its own process: `total` publish handshakes to
 * 127.0.0.1:`port` with a wrong passphrase or none, `concurrency` at a time; prints one JSON line
 * with the outcomes ({"refused 10": n, ...}) and the time it took. Its own process because each
 * caller socket has its own libsrt multiplexer, and libsrt tears the closed ones down while
 * holding its global lock: in the bench process that would stall the viewers being measured.
 *
 *   node dist/bench/lib/chaos-flood.js PORT TOTAL CONCURRENCY
 */
import { SrtRejectedError } from '../../src/errors.js';
import { SrtSocket } from '../../src/srt/socket.js';

const port = Number(process.argv[2]);
const total = Number(process.argv[3] ?? 300);
const concurrency = Number(process.argv[4] ?? 12);
const outcomes: Record<string, number> = {};
let next = 0;
const t0 = performance.now();

async function one(): Promise<void> {
  for (;;) {
    const i = next++;
    if (i >= total) return;
    // Two of three on `locked` (idle, with a publish secret): wrong secret, no secret; one of three on the live `push`.
    const target = i % 3 === 2 ? 'push' : 'locked';
    const pass = i % 3 === 1 ? undefined : 'a-wrong-secret-for-chaos';
    const s = SrtSocket.create({ latency: 120, conntimeo: 3000, streamid: `publish:${target}`, ...(pass !== undefined ? { passphrase: pass } : {}) });
    let key: string;
    try {
      await s.connect('127.0.0.1', port);
      key = 'accepted';
    } catch (e) {
      key = e instanceof SrtRejectedError ? `refused ${e.reason}` : 'timeout/error';
    } finally {
      s.close();
    }
    outcomes[key] = (outcomes[key] ?? 0) + 1;
  }
}

await Promise.all(Array.from({ length: concurrency }, one));
process.stdout.write(`${JSON.stringify({ outcomes, tookMs: performance.now() - t0 })}\n`);
process.exit(0);
