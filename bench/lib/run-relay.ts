/**
 * Bench runner: one srt-relay node in its own process, built straight from the Relay class
 * (the same data plane as `bin/srt-relay.js`, without the HTTP API or the config loader), so a
 * benchmark can measure this process's CPU and memory from /proc.
 *
 *   node dist/bench/lib/run-relay.js --port P [--host 127.0.0.1] [--workers 2] [--reuse-port 2]
 *                                    [--ring-slots 8192] [--log-level warn] [--latency MS]
 * --latency: SRT latency of the port's listeners (inherited by every accepted socket); default libsrt's 120.
 * --record DIR --record-streams N: also record streams bench0..bench{N-1} (auto file:// pushes,
 *   10 s segments, at most 1 GB kept per stream) under recordingsRoot DIR.
 *
 * Prints one JSON line {"event":"ready","pid":..,"port":..} on stdout once every listener is up;
 * stops cleanly (closes every session) on SIGTERM/SIGINT and exits 0.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Relay } from '../../src/supervisor/relay.js';
import { createLogger } from '../../src/logging.js';
import { SrtSocket } from '../../src/srt/socket.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    workers: { type: 'string', default: '2' },
    'reuse-port': { type: 'string', default: '2' },
    'ring-slots': { type: 'string', default: '8192' },
    'log-level': { type: 'string', default: 'warn' },
    latency: { type: 'string' },
    record: { type: 'string' },
    'record-streams': { type: 'string', default: '0' },
  },
});

function int(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`run-relay: --${name} must be a whole number (got ${String(v)})\n`);
    process.exit(2);
  }
  return n;
}

const port = int('port', values.port);

/** Threads of this process that are not libsrt's (named SRT:*): their names are all "node". */
function nodeThreads(): Set<number> {
  const out = new Set<number>();
  for (const t of readdirSync('/proc/self/task')) {
    try {
      if (!readFileSync(`/proc/self/task/${t}/comm`, 'utf8').startsWith('SRT:')) out.add(Number(t));
    } catch {
      // thread ended
    }
  }
  return out;
}
const minus = (a: Set<number>, b: Set<number>): number[] => [...a].filter((t) => !b.has(t));

// Every thread but libsrt's is called "node". To tell them apart, start the addon's reactor
// thread first (watching a socket starts it; closing the socket leaves it running), then the
// relay: the threads that appear then are the worker threads.
const t0 = nodeThreads();
const probe = SrtSocket.create();
probe.on({});
probe.close();
const t1 = nodeThreads();

const log = createLogger(values['log-level'] ?? 'warn', 'bench');
const relay = new Relay({
  nodeId: 'bench',
  workers: int('workers', values.workers),
  ports: [
    {
      port,
      host: values.host ?? '127.0.0.1',
      direction: 'both',
      params: values.latency === undefined ? {} : { latency: int('latency', values.latency) },
      reusePort: int('reuse-port', values['reuse-port']),
    },
  ],
  streams: {},
  pushes: Array.from({ length: values.record === undefined ? 0 : int('record-streams', values['record-streams']) }, (_, s) => ({
    stream: `bench${s}`,
    target: 'file://$stream/%H-%M-%S.ts?segmentSeconds=10&keepMaxBytes=1000000000&playlist=0',
    auto: true,
  })),
  ...(values.record !== undefined ? { recordingsRoot: values.record } : {}),
  limits: {},
  ringSlots: int('ring-slots', values['ring-slots']),
  logger: log,
});

await relay.start();
const t2 = nodeThreads();
process.stdout.write(
  `${JSON.stringify({ event: 'ready', pid: process.pid, port, mainTid: process.pid, reactorTids: minus(t1, t0), workerTids: minus(t2, t1) })}\n`,
);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  // What the recordings did (segments, bytes, packets lost behind a slow disk), for the bench log.
  for (const p of relay.listPushes()) if (p.recording !== undefined) process.stderr.write(`run-relay: recording ${p.stream} ${p.state} ${JSON.stringify(p.recording)}\n`);
  // No process.exit(): once the relay has closed everything the event loop empties and Node
  // exits normally (builds of the addon before e8905b1 aborted on exit() while the reactor
  // thread ran: "terminate called without an active exception").
  const deadline = setTimeout(() => process.kill(process.pid, 'SIGKILL'), 8000);
  deadline.unref();
  void relay.stop();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
