/**
 * srt-live-transmit (srt-tools, libsrt 1.5.1) as the reference peer. What these tests rely on:
 *   - `-a:no` (no auto-reconnect): it exits when its SRT peer disconnects (output flushed then:
 *     it writes file://con through a buffered stream, so stdout is complete only after exit).
 *   - Reading file://con (stdin) it sends chunks of `-chunk` bytes (default 1456: the helper keeps
 *     the default; a test about the setting passes `-chunk:N` in `extra`)
 *     and drops a final partial chunk at end of input; it does not exit at end of input.
 *   - Data read from stdin before an SRT target connects is dropped.
 *   - A rejected caller logs "REJECT ..." on stderr (as a source it then keeps trying).
 */
import type { AfterHook, Spawned } from './processes.js';
import { spawnFor } from './processes.js';

export const SLT = 'srt-live-transmit';

/** `srt://host:port?k=v&...` with values as given (srt-live-transmit reads commas literally). */
export function srtUrl(host: string, port: number, params: Readonly<Record<string, string | number>> = {}): string {
  const q = Object.entries(params)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join('&');
  return `srt://${host}:${port}${q === '' ? '' : `?${q}`}`;
}

/** srt-live-transmit's default `-chunk`: the size of each SRT message it sends from stdin. */
export const SLT_DEFAULT_CHUNK = 1456;

/** Starts srt-live-transmit `input` → `output` with `-a:no` and its defaults otherwise (`extra` before the URLs); killed when `t` ends. */
export function startSlt(t: AfterHook, input: string, output: string, extra: readonly string[] = []): Spawned {
  return spawnFor(t, SLT, ['-a:no', ...extra, input, output], { name: SLT });
}

/** The largest prefix of `data` that srt-live-transmit sends from stdin (whole `chunk`-byte chunks, default its 1456). */
export function wholeChunks(data: Buffer, chunk = SLT_DEFAULT_CHUNK): Buffer {
  return data.subarray(0, data.length - (data.length % chunk));
}

/** Resolves when `p` has written at least `bytes` to stdout (or rejects after `timeoutMs`). */
export async function waitStdoutBytes(p: Spawned, bytes: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (p.stdout().length < bytes) {
    if (p.exit !== undefined) throw new Error(`${p.name} exited with ${p.stdout().length} of ${bytes} bytes\n${p.output()}`);
    if (Date.now() > deadline) throw new Error(`${p.name}: ${p.stdout().length} of ${bytes} bytes after ${timeoutMs} ms\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
