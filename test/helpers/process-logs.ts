/** Log lines of a spawned process, and a temporary directory removed when the test ends. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AfterHook, Spawned } from './processes.js';
import { waitFor } from './relay-harness.js';

/** A new directory under the system's temp dir (`prefix`…), removed when `t` ends. */
export async function tempDir(t: AfterHook, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The log lines of `proc` (stdout and stderr) that contain `text`. */
export function linesWith(proc: Spawned, text: string): string[] {
  return `${proc.stdout().toString('utf8')}\n${proc.stderr()}`.split('\n').filter((l) => l.includes(text));
}

/** Waits for the `n`th log line containing `text`; returns it. */
export async function nthLine(proc: Spawned, text: string, n: number, timeoutMs = 10_000): Promise<string> {
  const lines = await waitFor(() => {
    const l = linesWith(proc, text);
    return l.length >= n ? l : undefined;
  }, `log line #${n} with "${text}"\n${proc.output()}`, timeoutMs);
  return lines[n - 1]!;
}
