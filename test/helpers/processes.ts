/**
 * Child processes for tests: every spawned process is registered and killed (SIGTERM, then
 * SIGKILL) by `killAll`, by the owning test's `t.after`, and as a last resort when the test
 * process exits. Output is collected, and a test can wait for a line on stdout or stderr.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnedOptions extends SpawnOptions {
  /** Name used in error messages (default: the command). */
  name?: string;
}

/** Something with an `after` hook, such as node:test's TestContext. */
export interface AfterHook {
  after(fn: () => unknown): void;
}

const DEFAULT_WAIT_MS = 10_000;

export class Spawned {
  readonly child: ChildProcess;
  readonly name: string;
  readonly exited: Promise<Exit>;
  #stdout: Buffer[] = [];
  #stderr: Buffer[] = [];
  #exit: Exit | undefined;
  #listeners = new Set<() => void>();

  constructor(command: string, args: readonly string[], options: SpawnedOptions = {}) {
    const { name, ...spawnOptions } = options;
    this.name = name ?? command;
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...spawnOptions });
    this.exited = new Promise<Exit>((resolve) => {
      this.child.once('error', () => {
        // spawn failure (e.g. ENOENT): report as an exit with no code
        if (this.#exit === undefined) {
          this.#exit = { code: null, signal: null };
          this.#notify();
          resolve(this.#exit);
        }
      });
      this.child.once('close', (code, signal) => {
        if (this.#exit === undefined) this.#exit = { code, signal };
        this.#notify();
        resolve(this.#exit);
      });
    });
    this.child.stdout?.on('data', (b: Buffer) => {
      this.#stdout.push(b);
      this.#notify();
    });
    this.child.stderr?.on('data', (b: Buffer) => {
      this.#stderr.push(b);
      this.#notify();
    });
    // A child that exits before reading all of stdin must not crash the test with EPIPE.
    this.child.stdin?.on('error', () => undefined);
    registry.add(this);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exit(): Exit | undefined {
    return this.#exit;
  }

  /** Everything written to stdout so far. */
  stdout(): Buffer {
    return Buffer.concat(this.#stdout);
  }

  /** Everything written to stderr so far, as text. */
  stderr(): string {
    return Buffer.concat(this.#stderr).toString('utf8');
  }

  /** stdout and stderr as text, for assertion messages. */
  output(): string {
    return `--- ${this.name} stdout ---\n${this.stdout().toString('utf8').slice(-4000)}\n--- ${this.name} stderr ---\n${this.stderr().slice(-4000)}`;
  }

  #notify(): void {
    for (const l of [...this.#listeners]) l();
  }

  /**
   * Resolves with the first line of `stream` ('stdout', 'stderr' or 'any') matching `pattern`.
   * Rejects when the process exits first or after `timeoutMs`.
   */
  waitForLine(
    pattern: RegExp | string,
    opts: { stream?: 'stdout' | 'stderr' | 'any'; timeoutMs?: number } = {},
  ): Promise<string> {
    const stream = opts.stream ?? 'any';
    const timeoutMs = opts.timeoutMs ?? DEFAULT_WAIT_MS;
    const matches = (line: string): boolean =>
      typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line);
    const find = (): string | undefined => {
      const texts: string[] = [];
      if (stream !== 'stderr') texts.push(this.stdout().toString('utf8'));
      if (stream !== 'stdout') texts.push(this.stderr());
      for (const text of texts) {
        for (const line of text.split(/\r?\n/)) if (matches(line)) return line;
      }
      return undefined;
    };
    return new Promise<string>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      const check = (): void => {
        const line = find();
        if (line !== undefined) {
          done();
          resolve(line);
        } else if (this.#exit !== undefined) {
          done();
          reject(new Error(`${this.name} exited (${describeExit(this.#exit)}) before printing ${String(pattern)}\n${this.output()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name} did not print ${String(pattern)} within ${timeoutMs} ms\n${this.output()}`));
      }, timeoutMs);
      this.#listeners.add(check);
      check();
    });
  }

  /** Waits for the process to exit by itself; rejects after `timeoutMs`. */
  async waitExit(timeoutMs = DEFAULT_WAIT_MS): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.name} did not exit within ${timeoutMs} ms\n${this.output()}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves when the process has exited. */
  async kill(graceMs = 2000): Promise<Exit> {
    if (this.#exit !== undefined || this.child.pid === undefined) {
      registry.delete(this);
      return this.exited;
    }
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        if (this.#exit === undefined) this.child.kill('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, forced]);
    clearTimeout(timer);
    const exit = await this.exited;
    registry.delete(this);
    return exit;
  }
}

export function describeExit(e: Exit): string {
  return e.signal !== null ? `signal ${e.signal}` : `code ${String(e.code)}`;
}

const registry = new Set<Spawned>();

/** Kills every process still running that this test process spawned. */
export async function killAll(): Promise<void> {
  await Promise.all([...registry].map((p) => p.kill()));
}

process.once('exit', () => {
  for (const p of registry) {
    if (p.exit === undefined) p.child.kill('SIGKILL');
  }
});

/** Spawns `command`; the process is killed when the test (or suite) owning `t` ends. */
export function spawnFor(t: AfterHook, command: string, args: readonly string[], options: SpawnedOptions = {}): Spawned {
  const p = new Spawned(command, args, options);
  t.after(() => p.kill());
  return p;
}

/** Spawns `command`, registered for `killAll` and exit-time clean-up only. */
export function spawnTracked(command: string, args: readonly string[], options: SpawnedOptions = {}): Spawned {
  return new Spawned(command, args, options);
}
