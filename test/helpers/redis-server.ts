/**
 * A private redis-server for tests: its own free loopback port (never 6379), a temp directory,
 * no persistence. `stop()`/`start()` again on the same port simulate Redis going down and coming
 * back (empty, as after a crash without persistence); `pause()`/`resume()` (SIGSTOP/SIGCONT)
 * simulate a Redis that hangs with the connection open.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnTracked, type AfterHook, type Spawned } from './processes.js';

/** A TCP port on 127.0.0.1 that nothing listens on right now (never 6379). */
export async function freeTcpPort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr !== null ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port !== 6379 && port !== 80) return port;
  }
}

/** Sends PING on a fresh connection; true on +PONG within `timeoutMs`. */
export function pingRedis(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

export class RedisServer {
  readonly port: number;
  readonly dir: string;
  #proc: Spawned | undefined;
  #paused = false;

  private constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
  }

  /** Starts a server on a free port (or `port`); stopped and removed when `t` ends, if given. */
  static async start(opts: { port?: number; t?: AfterHook } = {}): Promise<RedisServer> {
    const port = opts.port ?? (await freeTcpPort());
    const dir = mkdtempSync(join(tmpdir(), 'srt-relay-redis-'));
    const server = new RedisServer(port, dir);
    opts.t?.after(() => server.close());
    await server.start();
    return server;
  }

  /** `redis://127.0.0.1:<port>/<db>`. */
  url(db = 0): string {
    return `redis://127.0.0.1:${this.port}/${db}`;
  }

  /** Process id of the running server. */
  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  get running(): boolean {
    return this.#proc !== undefined && this.#proc.exit === undefined;
  }

  /** (Re)starts the server on the same port; resolves once it answers PING. */
  async start(timeoutMs = 10_000): Promise<void> {
    if (this.running) return;
    const proc = spawnTracked(
      'redis-server',
      [
        '--port', String(this.port),
        '--bind', '127.0.0.1',
        '--save', '',
        '--appendonly', 'no',
        '--dir', this.dir,
        '--daemonize', 'no',
        '--logfile', '',
        '--databases', '4',
      ],
      { name: `redis-server:${this.port}` },
    );
    this.#proc = proc;
    this.#paused = false;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (proc.exit !== undefined) throw new Error(`redis-server on port ${this.port} exited at start\n${proc.output()}`);
      if (await pingRedis(this.port, 300)) return;
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer PING within ${timeoutMs} ms\n${proc.output()}`);
      await new Promise((r) => setTimeout(r, 30));
    }
  }

  /** Stops the server (SIGTERM; SIGKILL after 2 s): connections see it go down. Data is lost. */
  async stop(): Promise<void> {
    const proc = this.#proc;
    if (proc === undefined) return;
    if (this.#paused) this.resume();
    await proc.kill(2000);
    this.#proc = undefined;
  }

  /** SIGSTOP: the server keeps its connections open but answers nothing. */
  pause(): void {
    const pid = this.#proc?.pid;
    if (pid === undefined || this.#paused) return;
    process.kill(pid, 'SIGSTOP');
    this.#paused = true;
  }

  /** SIGCONT after `pause()`. */
  resume(): void {
    const pid = this.#proc?.pid;
    if (pid === undefined || !this.#paused) return;
    process.kill(pid, 'SIGCONT');
    this.#paused = false;
  }

  /** Stops the server and removes its directory. */
  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Redis' own per-command call counts (`INFO commandstats`: `get` → calls), read on a fresh
 * connection. Commands run inside Lua scripts are counted under their own names too.
 */
export async function commandStats(server: RedisServer): Promise<Record<string, number>> {
  const { Redis } = await import('ioredis');
  const conn = new Redis(server.url(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await conn.connect();
    const text = await conn.info('commandstats');
    const out: Record<string, number> = {};
    for (const line of text.split(/\r?\n/)) {
      const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
      if (m !== null) out[m[1]!] = Number(m[2]);
    }
    return out;
  } finally {
    conn.disconnect();
  }
}

/** `after - before` per command, leaving out commands that did not change. */
export function statsDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

/** Polls `cond` every 20 ms until it returns a truthy value; throws after `timeoutMs`. */
export async function eventually<T>(cond: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== null && v !== false) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
