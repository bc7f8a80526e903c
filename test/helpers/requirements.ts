/**
 * What a test needs from the machine, found the way the system finds it (never by guessing
 * paths): nginx's stream module from `nginx -V` (built in with `--with-stream`, or a dynamic
 * `ngx_stream_module.so` in the `--modules-path` nginx reports), ffmpeg encoders from
 * `ffmpeg -encoders`, GStreamer elements from `gst-inspect-1.0`.
 *
 * `unmet(reason)` is what a test passes as `skip`: outside CI it skips with the reason; with
 * `CI=true` (CI sets it) a missing tool, module or encoder is a failure, so a green CI run never
 * hides a test that did not run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** True when CI=true (or 1): nothing may be skipped. */
export const IN_CI = /^(true|1)$/i.test(process.env['CI'] ?? '');

/**
 * `false` when `reason` is undefined (requirement met). Otherwise, outside CI, the skip reason;
 * in CI it throws, so the test file fails at load with the reason.
 */
export function unmet(reason: string | undefined): false | string {
  if (reason === undefined) return false;
  if (IN_CI) throw new Error(`CI=true and a test requirement is missing: ${reason}`);
  return reason;
}

/** In a running test: skip (outside CI) or fail (CI=true) because `reason` is missing. */
export function skipOrFail(t: { skip: (msg?: string) => void }, reason: string): void {
  if (IN_CI) throw new Error(`CI=true and a test requirement is missing: ${reason}`);
  t.skip(reason);
}

function output(cmd: string, args: readonly string[]): string | undefined {
  try {
    // nginx -V and gst-inspect print to stderr or stdout depending on the tool: keep both.
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 8 << 20 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: string };
    if (e.code === 'ENOENT') return undefined;
    return `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
}

let nginxCache: { module: string | null; reason?: string } | undefined;

/**
 * How nginx gets its stream module: `null` when built in (`--with-stream` static), the path of
 * `ngx_stream_module.so` under nginx's `--modules-path` when dynamic, or `undefined` (with
 * `nginxStreamReason()` saying why) when it has none.
 */
export function nginxStreamModule(): string | null | undefined {
  if (nginxCache === undefined) nginxCache = findNginxStream();
  return nginxCache.module === null ? null : nginxCache.module;
}

/** Why nginx's stream module is unavailable, or undefined when it is available. */
export function nginxStreamReason(): string | undefined {
  if (nginxCache === undefined) nginxCache = findNginxStream();
  return nginxCache.reason;
}

function findNginxStream(): { module: string | null; reason?: string } {
  // `nginx -V` prints its configure arguments on stderr.
  const r = spawnSync('nginx', ['-V'], { encoding: 'utf8' });
  if (r.error !== undefined) return { module: null, reason: `nginx -V failed: ${r.error.message} (install nginx)` };
  const text = `${r.stdout}${r.stderr}`;
  if (/--with-stream(\s|$)/.test(text)) return { module: null };
  if (!/--with-stream=dynamic/.test(text)) return { module: null, reason: 'nginx -V: built without the stream module' };
  const modulesPath = /--modules-path=(\S+)/.exec(text)?.[1] ?? join(/--prefix=(\S+)/.exec(text)?.[1] ?? '/usr/local/nginx', 'modules');
  const so = join(modulesPath, 'ngx_stream_module.so');
  if (!existsSync(so)) return { module: null, reason: `nginx -V: stream module is dynamic but ${so} is missing (install libnginx-mod-stream)` };
  return { module: so };
}

let encoders: string | undefined;

/** Whether `ffmpeg -encoders` lists `name`. */
export function ffmpegHasEncoder(name: string): boolean {
  encoders ??= output('ffmpeg', ['-hide_banner', '-encoders']) ?? '';
  return new RegExp(`^\\s*[VAS][A-Z.]{5}\\s+${name}\\s`, 'm').test(encoders);
}

/** Undefined when `ffmpeg -encoders` lists `name`, else the reason. */
export function needEncoder(name: string): string | undefined {
  return ffmpegHasEncoder(name) ? undefined : `ffmpeg -encoders does not list ${name}`;
}

/** Undefined when `gst-inspect-1.0 <element>` finds every element, else the reason. */
export function needGstElements(...elements: string[]): string | undefined {
  for (const el of elements) {
    try {
      execFileSync('gst-inspect-1.0', ['--exists', el], { stdio: 'ignore' });
    } catch (err) {
      const e = err as { code?: string };
      if (e.code === 'ENOENT') return 'gst-inspect-1.0 not found (install gstreamer1.0-tools)';
      return `gst-inspect-1.0 finds no ${el} element (install gstreamer1.0-plugins-bad)`;
    }
  }
  return undefined;
}

/** Undefined when Debian's `chromium` runs (`chromium --version`), else the reason. */
export function needChromium(): string | undefined {
  const r = spawnSync('chromium', ['--version'], { encoding: 'utf8' });
  if (r.error !== undefined) return `chromium not found: ${r.error.message} (install the Debian package chromium; scripts/setup.sh does)`;
  if (r.status !== 0 || !/Chromium/i.test(r.stdout)) return `chromium --version failed: ${r.stderr.trim()}`;
  return undefined;
}
