/**
 * The relay as its own process (bin/srt-relay.js), for tests that watch the process itself: that
 * it stays alive, its file descriptors and memory, how it exits on a signal.
 */
import { fileURLToPath } from 'node:url';
import { freeUdpPort, waitUdpBound } from './free-port.js';
import { freeTcpPort } from './redis-server.js';
import { spawnFor, type AfterHook, type Spawned } from './processes.js';

export const RELAY_BIN = fileURLToPath(new URL('../../../bin/srt-relay.js', import.meta.url));

export interface RelayProcess {
  proc: Spawned;
  srtPort: number;
  apiPort: number;
  /** GET (or another method) on the relay's API; resolves with status and parsed JSON body. */
  api<T = unknown>(path: string, init?: RequestInit): Promise<{ status: number; body: T }>;
}

export interface RelayProcessOptions {
  workers?: number;
  /** More command-line flags (e.g. --config FILE). */
  args?: readonly string[];
  logLevel?: string;
  env?: NodeJS.ProcessEnv;
  /** A command the relay runs under, e.g. ['prlimit', '--nofile=40:40'] (its pid is then the relay's: it execs). */
  wrap?: readonly string[];
}

/** Starts `srt-relay` on free ports and waits until its API listens; killed when `t` ends. */
export async function startRelayProcess(t: AfterHook, opts: RelayProcessOptions = {}): Promise<RelayProcess> {
  const srtPort = await freeUdpPort();
  const apiPort = await freeTcpPort(); // free for TCP (a UDP-free number may be a TCP connection's local port)
  const [cmd, ...pre] = [...(opts.wrap ?? []), process.execPath];
  const proc = spawnFor(
    t,
    cmd!,
    [
      ...pre,
      RELAY_BIN,
      '--srt-port', String(srtPort),
      '--api-port', String(apiPort),
      '--workers', String(opts.workers ?? 2),
      '--log-level', opts.logLevel ?? 'info',
      ...(opts.args ?? []),
    ],
    { name: 'srt-relay', ...(opts.env !== undefined ? { env: opts.env } : {}) },
  );
  // Ready when the API answers (works at any log level).
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exit !== undefined) throw new Error(`srt-relay exited while starting (${JSON.stringify(proc.exit)})\n${proc.output()}`);
    const ok = await fetch(`http://127.0.0.1:${apiPort}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`srt-relay API not answering after 20 s\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await waitUdpBound(srtPort);
  return {
    proc,
    srtPort,
    apiPort,
    async api<T>(path: string, init?: RequestInit) {
      const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, init);
      const text = await res.text();
      return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
    },
  };
}
