/**
 * Admission bench (issue: first-try admission with a webhook): time from connect() to the first
 * byte of a new viewer whose (streamid, address) the webhook has not decided yet, with held
 * admission (`auth.hold: true`, the default: one connection, held until the webhook answers)
 * against the retry protocol (`auth.hold: false`: 1503, then a retry every --retry-ms, as an
 * encoder with auto-reconnect does), for a webhook answering in each of --delays ms.
 *
 *   node dist/bench/admission.js [--delays 5,200] [--joins 30] [--retry-ms 100] [--out DIR]
 *
 * The relay runs in this process (Relay class, 1 worker); a publisher sends 1316-byte packets at
 * ~1000 packets/s to stream `a`; each join uses a new stream id (`#!::r=a,m=request,u=viewerN`),
 * so every join is a cache miss. Times are performance.now() in this process: connect() start →
 * the first recv() > 0. Loopback only. Writes bench/results/admission-<date>.{json,md}.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { native } from '../src/srt/native.js';
import { SrtRejectedError } from '../src/errors.js';
import { SrtSocket } from '../src/srt/socket.js';
import { Relay } from '../src/supervisor/relay.js';
import { delay, fileStamp, fmt, freeUdpPort, machineInfo, markdownTable, median, parseList, positive, repoRoot, sourceInfo, textTable } from './lib/util.js';

const { values } = parseArgs({ options: { delays: { type: 'string' }, joins: { type: 'string' }, 'retry-ms': { type: 'string' }, out: { type: 'string' } } });
const delays = parseList(values.delays ?? '5,200', '--delays');
const joins = Math.round(positive(values.joins, '--joins', 30));
const retryMs = positive(values['retry-ms'], '--retry-ms', 100);
const outDir = values.out ?? join(repoRoot(), 'bench', 'results');
const log = (s: string): void => void process.stderr.write(`${s}\n`);

async function webhook(delayMs: number): Promise<{ url: string; close(): void }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"allow":true}');
      }, delayMs),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth`, close: () => server.close() };
}

/** connect() start → first byte, retrying on 1503 every retryMs; also the number of connection attempts. */
async function joinOnce(port: number, sid: string): Promise<{ ms: number; attempts: number }> {
  const t0 = performance.now();
  const buf = new Uint8Array(1500);
  for (let attempts = 1; ; attempts++) {
    const s = SrtSocket.create({ streamid: sid, latency: 120 });
    try {
      await s.connect('127.0.0.1', port);
    } catch (e) {
      s.close();
      if (e instanceof SrtRejectedError && e.reason === 1503 && performance.now() - t0 < 10_000) {
        await delay(retryMs);
        continue;
      }
      throw e;
    }
    try {
      while (s.recv(buf) <= 0) {
        if (performance.now() - t0 > 10_000) throw new Error(`${sid}: no byte within 10 s`);
        await delay(1);
      }
      return { ms: performance.now() - t0, attempts };
    } finally {
      s.close();
    }
  }
}

interface Row {
  delayMs: number;
  hold: boolean;
  times: number[];
  attempts: number[];
}

const rows: Row[] = [];
for (const delayMs of delays) {
  for (const hold of [true, false]) {
    const hook = await webhook(delayMs);
    const port = await freeUdpPort();
    const relay = new Relay({
      nodeId: 'bench',
      workers: 1,
      ports: [{ port, host: '127.0.0.1', direction: 'both', params: { latency: 120 }, reusePort: 1 }],
      streams: {},
      pushes: [],
      limits: {},
      ringSlots: 4096,
      auth: { webhook: hook.url, timeoutMs: 2000, cacheMs: 60_000, hold },
    });
    await relay.start();
    const pubId = '#!::r=a,m=publish,u=publisher';
    const pub = await (async () => {
      for (;;) {
        const s = SrtSocket.create({ streamid: pubId, latency: 120 });
        try {
          await s.connect('127.0.0.1', port);
          return s;
        } catch (e) {
          s.close();
          if (!(e instanceof SrtRejectedError && e.reason === 1503)) throw e;
          await delay(50);
        }
      }
    })();
    const packet = new Uint8Array(1316).fill(7);
    const timer = setInterval(() => {
      for (let i = 0; i < 10; i++) pub.send(packet);
    }, 10);
    while (relay.getStream('a')?.publisher === undefined) await delay(20);
    const row: Row = { delayMs, hold, times: [], attempts: [] };
    for (let i = 0; i < joins; i++) {
      const r = await joinOnce(port, `#!::r=a,m=request,u=viewer${i}`);
      row.times.push(r.ms);
      row.attempts.push(r.attempts);
    }
    rows.push(row);
    log(`[admission] webhook ${delayMs} ms, hold ${hold}: first byte median ${fmt(median(row.times), 1)} ms (max ${fmt(Math.max(...row.times), 1)}), connections per join median ${median(row.attempts)}`);
    clearInterval(timer);
    pub.close();
    await relay.stop();
    hook.close();
  }
}

const header = ['webhook answers in', 'admission', 'joins', 'first byte p50 ms', 'p90 ms', 'max ms', 'connections per join (median / max)'];
const cells = rows.map((r) => {
  const sorted = [...r.times].sort((a, b) => a - b);
  return [
    `${r.delayMs} ms`,
    r.hold ? 'held (hold: true)' : `retry every ${retryMs} ms (hold: false)`,
    String(r.times.length),
    fmt(median(r.times), 1),
    fmt(sorted[Math.floor(sorted.length * 0.9)], 1),
    fmt(sorted.at(-1), 1),
    `${median(r.attempts)} / ${Math.max(...r.attempts)}`,
  ];
});
log(`\n${textTable(header, cells)}`);
mkdirSync(outDir, { recursive: true });
const date = new Date();
const base = join(outDir, `admission-${fileStamp(date)}`);
const machine = machineInfo(native.version());
writeFileSync(`${base}.json`, `${JSON.stringify({ bench: 'admission', date: date.toISOString(), machine, source: sourceInfo(), params: { delays, joins, retryMs }, rows }, null, 2)}\n`);
writeFileSync(
  `${base}.md`,
  `# admission, ${date.toISOString()}\n\nCommand: \`node dist/bench/admission.js --delays ${delays.join(',')} --joins ${joins} --retry-ms ${retryMs}\`\n\n` +
    `${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, libsrt ${machine.libsrt}. A new viewer (a stream id the webhook has not decided) of a live stream: connect() start → first byte; the viewer's SRT latency is 120 ms.\n\n` +
    `${markdownTable(header, cells)}\n`,
);
log(`wrote ${base}.md`);
