/**
 * Live media around an in-process Relay: ffmpeg publishers (a live testsrc encoder, or a file
 * re-sent in real time), TS files made by ffmpeg for sources and slates, a binding viewer that
 * keeps every byte it receives with arrival times, and ffprobe/ffmpeg readers. Everything is
 * asynchronous (child processes through ./processes.js): the relay under test runs on this
 * thread and must never be blocked.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SrtSocket } from '../../src/srt/socket.js';
import type { Relay } from '../../src/supervisor/relay.js';
import { spawnFor, type AfterHook, type Spawned } from './processes.js';
import { waitFor } from './relay-harness.js';
import { testTempDir } from './ts-fixture.js';

const run = promisify(execFile);

/** An ffmpeg caller URL on the relay: only the stream id, every other srt option at ffmpeg's default. */
export function srtUrl(port: number, streamid: string): string {
  return `srt://127.0.0.1:${port}?streamid=${streamid}`;
}

export interface LiveEncoderOptions {
  /** Frames between key frames (25 fps): 50 = 2 s GOP. */
  gop?: number;
  size?: string;
  /** lavfi video source (default testsrc). */
  source?: string;
  video?: 'h264' | 'hevc';
  audio?: 'aac' | 'ac3';
  name?: string;
}

/** ffmpeg encoding a live test pattern (-re) with a tone and publishing it to `url`. */
export function ffmpegLiveEncoder(t: AfterHook, url: string, o: LiveEncoderOptions = {}): Spawned {
  const gop = String(o.gop ?? 25);
  const video =
    (o.video ?? 'h264') === 'h264'
      ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', gop, '-keyint_min', gop, '-sc_threshold', '0']
      : ['-c:v', 'libx265', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-x265-params', `keyint=${gop}:min-keyint=${gop}:scenecut=0:log-level=error`];
  return spawnFor(
    t,
    'ffmpeg',
    [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
      '-f', 'lavfi', '-i', `${o.source ?? 'testsrc'}=size=${o.size ?? '640x360'}:rate=25`,
      '-f', 'lavfi', '-i', 'sine=frequency=1000',
      ...video,
      '-c:a', o.audio ?? 'aac',
      '-f', 'mpegts', url,
    ],
    { name: o.name ?? 'ffmpeg live encoder' },
  );
}

/** ffmpeg re-sending a TS file in real time (looping) to `url`, streams copied. */
export function ffmpegFilePublisher(t: AfterHook, file: string, url: string, name = 'ffmpeg file publisher'): Spawned {
  return spawnFor(
    t,
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-stream_loop', '-1', '-i', file, '-c', 'copy', '-f', 'mpegts', url],
    { name },
  );
}

/** Waits until `name` is live; fails at once (with its output) if `proc` exits first. */
export async function waitLiveWhile(relay: Relay, name: string, proc: Spawned, timeoutMs = 15_000): Promise<void> {
  await Promise.race([
    waitFor(() => relay.getStream(name)?.publisher !== undefined, `stream '${name}' live`, timeoutMs),
    proc.exited.then((e) => assert.fail(`${proc.name} exited (${JSON.stringify(e)}) before '${name}' went live\n${proc.output()}`)),
  ]);
}

const made = new Map<string, Promise<string>>();

/**
 * An MPEG-TS file made by ffmpeg from lavfi test sources, cached per test process:
 * `seconds` of `source` video at `size`, 25 fps, H.264 with a key frame every `gop` frames, and
 * a sine tone in AAC.
 */
export function makeTsFile(o: { name: string; seconds: number; size?: string; source?: string; gop?: number; frequency?: number }): Promise<string> {
  let p = made.get(o.name);
  if (p === undefined) {
    const out = join(testTempDir(), `${o.name}.ts`);
    const gop = String(o.gop ?? 25);
    p = run(
      'ffmpeg',
      [
        '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
        '-f', 'lavfi', '-i', `${o.source ?? 'testsrc'}=size=${o.size ?? '320x240'}:rate=25`,
        '-f', 'lavfi', '-i', `sine=frequency=${o.frequency ?? 1000}`,
        '-t', String(o.seconds),
        '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', gop, '-keyint_min', gop, '-sc_threshold', '0',
        '-c:a', 'aac',
        '-f', 'mpegts', out,
      ],
      { timeout: 60_000 },
    ).then(() => out);
    p.catch(() => made.delete(o.name));
    made.set(o.name, p);
  }
  return p;
}

export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export interface Collector {
  readonly bytes: number;
  readonly messages: number;
  /** performance.now() of the first and the latest message (undefined before any). */
  readonly firstAt: number | undefined;
  readonly lastAt: number | undefined;
  readonly closed: boolean;
  readonly closedAt: number | undefined;
  readonly closedPromise: Promise<void>;
  /** Arrival time (performance.now()) and size of every message, in order. */
  readonly arrivals: ReadonlyArray<{ at: number; bytes: number }>;
  /** Everything received so far, in order. */
  data(): Buffer;
  /** Stops collecting (the socket stays open). */
  stop(): void;
}

/** Keeps every message `socket` receives (up to `maxBytes`; later ones are only counted). */
export function collect(socket: SrtSocket, maxBytes = 64 << 20): Collector {
  const chunks: Buffer[] = [];
  const arrivals: Array<{ at: number; bytes: number }> = [];
  const buf = new Uint8Array(1500);
  let bytes = 0;
  let kept = 0;
  let messages = 0;
  let firstAt: number | undefined;
  let lastAt: number | undefined;
  let closed = false;
  let closedAt: number | undefined;
  let stopped = false;
  let resolveClosed: (() => void) | undefined;
  const closedPromise = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  const markClosed = (): void => {
    if (closed) return;
    closed = true;
    closedAt = performance.now();
    resolveClosed?.();
  };
  const drain = (): void => {
    for (;;) {
      if (socket.isClosed) break;
      const n = socket.recv(buf);
      if (n <= 0) break;
      if (stopped) continue;
      const now = performance.now();
      firstAt ??= now;
      lastAt = now;
      bytes += n;
      messages++;
      arrivals.push({ at: now, bytes: n });
      if (kept + n <= maxBytes) {
        chunks.push(Buffer.from(buf.subarray(0, n)));
        kept += n;
      }
    }
    if (socket.isClosed) markClosed();
  };
  socket.on({ readable: drain, closed: markClosed });
  if (socket.isClosed) markClosed();
  else drain();
  return {
    get bytes() {
      return bytes;
    },
    get messages() {
      return messages;
    },
    get firstAt() {
      return firstAt;
    },
    get lastAt() {
      return lastAt;
    },
    get closed() {
      return closed;
    },
    get closedAt() {
      return closedAt;
    },
    closedPromise,
    arrivals,
    data: () => Buffer.concat(chunks, kept),
    stop() {
      stopped = true;
    },
  };
}

/**
 * ffprobe reading `url` until it has decoded one video frame: the key_frame flag of the
 * first frame it reports (undefined when it reported none), and the process for its output.
 * `-flags2 +showall` makes the decoder output frames that do not start at a key frame too, so a
 * join in the middle of a GOP shows as key_frame=0 instead of being hidden by the decoder.
 */
export async function ffprobeFirstFrame(t: AfterHook, url: string, timeoutMs = 20_000): Promise<{ keyFrame: number | undefined; probe: Spawned }> {
  const probe = spawnFor(
    t,
    'ffprobe',
    ['-v', 'error', '-analyzeduration', '1000000', '-flags2', '+showall', '-select_streams', 'v', '-read_intervals', '%+#1', '-show_entries', 'frame=key_frame', '-of', 'csv', url],
    { name: 'ffprobe' },
  );
  const exit = await probe.waitExit(timeoutMs);
  assert.equal(exit.code, 0, `ffprobe on ${url} failed\n${probe.output()}`);
  const line = probe
    .stdout()
    .toString('utf8')
    .split(/\r?\n/)
    .find((l) => l.startsWith('frame,'));
  return { keyFrame: line === undefined ? undefined : Number(line.split(',')[1]), probe };
}

/** The latest value of `key` in the `-progress pipe:1` output of an ffmpeg process (undefined before any). */
export function progressValue(proc: Spawned, key: string): string | undefined {
  const text = proc.stdout().toString('utf8');
  const re = new RegExp(`^${key}=(.*)$`, 'gm');
  let last: string | undefined;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) last = m[1]!.trim();
  return last;
}

/** Frames ffmpeg has output so far, by its `-progress pipe:1` report (0 before the first report). */
export function progressFrames(proc: Spawned): number {
  const v = progressValue(proc, 'frame');
  return v === undefined ? 0 : Number(v);
}

/** waitFor with a message built when it times out (so it shows the values at that moment). */
export async function waitUntil<T>(cond: () => T | Promise<T>, what: () => string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== null && v !== false) return v as NonNullable<T>;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
