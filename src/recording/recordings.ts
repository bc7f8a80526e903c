/**
 * Recordings: the file:// pushes of a relay node (main thread). The Relay hands every push
 * whose target is file:// here (addPush), tells when a stream goes live or idle, and lists
 * these pushes with its own. Each push, while its stream is live, runs one recorder worker
 * thread (recorder.ts); a failure (disk full, read-only or missing folder, a deleted file)
 * marks the push `failed` with the reason and retries with the relay's backoff (auto pushes).
 *
 * States: waiting (stream not live) → active (recording) → waiting again when the stream ends
 * (auto) or done (not auto); failed with lastError after a failure (retried when auto).
 */
import { Worker } from 'node:worker_threads';
import { relative, join } from 'node:path';
import type { Logger } from '../logging.js';
import { PacketRing } from '../ring/packet-ring.js';
import { backoffDelay, RETRY_STEPS_MS } from '../util/backoff.js';
import type { RecorderEvent, RecorderInit } from './recorder.js';
import { checkFileTarget, confine, type FileTarget } from './target.js';
import { substituteVars, templateBase, templatePattern } from './template.js';
import { findSegmentsAsync, segmentInfosAsync, type SegmentInfo } from './segments.js';

/** What a file push shows in the API besides the common push fields. */
export interface RecordingStatus {
  /** The segment being written (absolute path), if any. */
  segment: string | undefined;
  /** Segments finished since the push was added. */
  segments: number;
  /** Bytes written since the push was added. */
  bytes: number;
  /** Ring slots (SRT messages) the recorder lost because it fell behind (a slow disk). */
  lostPackets: number;
  /** The error code of the last failure (ENOSPC, EACCES, EROFS, ENOENT...), if any. */
  errno: string | undefined;
}

export interface RecordingPushInfo {
  id: number;
  stream: string;
  target: string;
  auto: boolean;
  state: 'waiting' | 'active' | 'done' | 'failed';
  session: undefined;
  attempts: number;
  lastError: string | undefined;
  recording: RecordingStatus;
}

export interface RecordingHost {
  nodeId: string;
  /** The node's recordingsRoot (absolute); undefined: no file:// pushes. */
  root: string | undefined;
  log: Logger;
  nextId(): number;
  /** The stream's ring when the stream is live here (a publisher, and its ring made). */
  live(stream: string): SharedArrayBuffer | undefined;
  /** The stream's ring head now (undefined: no ring yet, so the publisher starts at 0). */
  ringHead(stream: string): number | undefined;
}

interface RecordingPush {
  info: RecordingPushInfo;
  target: FileTarget;
  template: string;
  worker: Worker | undefined;
  timer: NodeJS.Timeout | undefined;
  removed: boolean;
  stopped: Promise<void> | undefined;
  /** Where the publisher now live started in the ring (the first recording of it starts there). */
  liveStart: number | undefined;
  /** This live period has been recorded from its start already (a retry starts at the newest keyframe). */
  startedThisLive: boolean;
}

const WORKER_URL = new URL('../../workers/recorder.js', import.meta.url);

export class Recordings {
  readonly #host: RecordingHost;
  readonly #pushes = new Map<number, RecordingPush>();

  constructor(host: RecordingHost) {
    this.#host = host;
  }

  /** Validates and adds a file:// push (RecordingTargetError when it cannot record there); `id`: the id it keeps when edited. */
  add(p: { stream: string; target: string; auto?: boolean }, id?: number): RecordingPushInfo {
    const vars = { stream: p.stream, node: this.#host.nodeId };
    const target = checkFileTarget(p.target, this.#host.root, vars);
    const push: RecordingPush = {
      info: {
        id: id ?? this.#host.nextId(),
        stream: p.stream,
        target: target.raw,
        auto: p.auto === true,
        state: 'waiting',
        session: undefined,
        attempts: 0,
        lastError: undefined,
        recording: { segment: undefined, segments: 0, bytes: 0, lostPackets: 0, errno: undefined },
      },
      target,
      template: substituteVars(target.template, vars),
      worker: undefined,
      timer: undefined,
      removed: false,
      stopped: undefined,
      liveStart: undefined,
      startedThisLive: false,
    };
    this.#pushes.set(push.info.id, push);
    this.#maybeStart(push);
    return this.#view(push);
  }

  has(id: number): boolean {
    return this.#pushes.has(id);
  }

  /** What push `id` was added with (target as written), or undefined. */
  options(id: number): { stream: string; target: string; auto: boolean } | undefined {
    const p = this.#pushes.get(id);
    return p === undefined ? undefined : { stream: p.info.stream, target: p.info.target, auto: p.info.auto };
  }

  remove(id: number): boolean {
    const p = this.#pushes.get(id);
    if (p === undefined) return false;
    p.removed = true;
    this.#pushes.delete(id);
    clearTimeout(p.timer);
    this.#stopWorker(p);
    return true;
  }

  list(): RecordingPushInfo[] {
    return [...this.#pushes.values()].map((p) => this.#view(p));
  }

  /** `stream` got a publisher here (Relay.#takePublisher): its recordings start. */
  streamLive(stream: string): void {
    const head = this.#host.ringHead(stream) ?? 0;
    for (const p of this.#pushes.values()) {
      if (p.info.stream !== stream) continue;
      if (p.liveStart === undefined) {
        p.liveStart = head;
        p.startedThisLive = false;
      }
      if (p.worker !== undefined || p.info.state === 'done') continue;
      // After the publisher's attach (the ring exists then).
      setImmediate(() => this.#maybeStart(p));
    }
  }

  /** `stream` lost its publisher: its recordings finish their segment and wait. */
  streamIdle(stream: string): void {
    for (const p of this.#pushes.values()) {
      if (p.info.stream !== stream) continue;
      p.liveStart = undefined;
      if (p.worker !== undefined) this.#stopWorker(p);
    }
  }

  /**
   * Finished segments of the file pushes of `stream` (all streams when undefined), oldest first
   * per push. Read with fs/promises, a bounded number of calls at a time: a folder of many
   * thousand segments does not stall the event loop (the data plane's JS, the API).
   */
  async segments(stream?: string): Promise<Array<SegmentInfo & { push: number; stream: string; relativePath: string }>> {
    const root = this.#host.root;
    if (root === undefined) return [];
    const out: Array<SegmentInfo & { push: number; stream: string; relativePath: string }> = [];
    for (const p of [...this.#pushes.values()]) {
      if (stream !== undefined && p.info.stream !== stream) continue;
      let base: string;
      try {
        base = confine(root, templateBase(p.template) === '' ? '.' : templateBase(p.template));
      } catch {
        continue;
      }
      const files = await findSegmentsAsync(base, templatePattern(p.template));
      // The segments being written now (read after the walk, which took a while).
      const open = new Set<string>();
      for (const q of this.#pushes.values()) if (q.info.recording.segment !== undefined) open.add(q.info.recording.segment);
      const infos = await segmentInfosAsync(files.filter((f) => !open.has(f.path)));
      for (const info of infos) out.push({ ...info, push: p.info.id, stream: p.info.stream, relativePath: relative(root, info.path) });
    }
    return out;
  }

  /** Stops every recorder (segments closed and synced). */
  async stop(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const p of this.#pushes.values()) {
      p.removed = true;
      clearTimeout(p.timer);
      const w = this.#stopWorker(p);
      if (w !== undefined) waits.push(w);
    }
    this.#pushes.clear();
    await Promise.all(waits);
  }

  #view(p: RecordingPush): RecordingPushInfo {
    return { ...p.info, recording: { ...p.info.recording } };
  }

  #maybeStart(p: RecordingPush): void {
    if (p.removed || p.worker !== undefined || p.timer !== undefined || p.info.state === 'done') return;
    const live = this.#host.live(p.info.stream);
    if (live === undefined) {
      if (p.info.state !== 'failed') p.info.state = 'waiting';
      return;
    }
    if (p.info.state === 'failed' && !p.info.auto) return;
    const root = this.#host.root!;
    // The first recording of a live period starts where its publisher started; a restart at
    // the ring's newest keyframe (a little before it, for its PAT/PMT), inside this period.
    const ring = PacketRing.attach(live);
    const oldest = ring.oldest();
    const floor = p.liveStart !== undefined && ((p.liveStart - oldest) | 0) >= 0 ? p.liveStart : oldest;
    let start = floor;
    if (p.startedThisLive || p.liveStart === undefined || floor !== p.liveStart) {
      const kf = ring.lastKeyframe();
      start = ring.head();
      if (kf !== undefined && ((kf - floor) | 0) >= 0) {
        const from = (kf - 8) >>> 0;
        start = ((from - floor) | 0) >= 0 ? from : floor;
      }
    }
    p.startedThisLive = true;
    const init: RecorderInit = {
      push: p.info.id,
      stream: p.info.stream,
      ring: live,
      start,
      root,
      template: p.template,
      timeZone: p.target.timeZone,
      segmentSeconds: p.target.segmentSeconds,
      segmentBytes: p.target.segmentBytes,
      keep: p.target.keep,
      playlist: p.target.playlist ? `${p.info.stream.replace(/\//g, '_')}.m3u8` : undefined,
    };
    p.info.attempts++;
    p.info.state = 'active';
    const log = this.#host.log.child({ stream: p.info.stream, push: p.info.id });
    const worker = new Worker(WORKER_URL, { workerData: init, name: `recorder ${p.info.id}` });
    p.worker = worker;
    let failure: { reason: string; errno: string | undefined } | undefined;
    let stoppedCleanly = false;
    worker.on('message', (m: RecorderEvent) => {
      const r = p.info.recording;
      switch (m.type) {
        case 'opened':
          r.segment = m.path;
          log.info({ segment: m.path }, 'recording segment opened');
          break;
        case 'finished':
          if (r.segment === m.path) r.segment = undefined;
          r.segments++;
          p.info.attempts = 0;
          log.info({ segment: m.path, bytes: m.bytes, durationSeconds: Math.round(m.durationSeconds * 1000) / 1000 }, 'recording segment finished');
          break;
        case 'deleted':
          log.info({ deleted: m.paths.map((x) => relative(root, x)) }, 'recording retention deleted old segments');
          break;
        case 'progress':
          r.bytes = m.bytes;
          if (m.lostSlots > r.lostPackets) log.warn({ lostPackets: m.lostSlots }, 'recording fell behind the stream (slow disk?): packets lost; the segment ended and the next starts at a keyframe');
          r.lostPackets = m.lostSlots;
          break;
        case 'failed':
          failure = { reason: m.reason, errno: m.errno };
          break;
        case 'stopped':
          stoppedCleanly = true;
          break;
      }
    });
    worker.on('error', (err) => {
      failure ??= { reason: `recorder thread failed: ${err.message}`, errno: undefined };
    });
    const exited = new Promise<void>((resolve) => {
      worker.once('exit', () => {
        p.worker = undefined;
        p.info.recording.segment = undefined;
        resolve();
        if (failure === undefined && !stoppedCleanly && !p.removed) failure = { reason: 'recorder thread exited unexpectedly', errno: undefined };
        if (failure !== undefined) this.#failed(p, failure, log);
        else if (!p.removed) {
          p.info.state = p.info.auto ? 'waiting' : 'done';
          // Stopped because the stream went idle; live again meanwhile: record again.
          if (p.info.auto && this.#host.live(p.info.stream) !== undefined) this.#maybeStart(p);
        }
      });
    });
    p.stopped = exited;
    log.info({ target: p.target.raw, start }, 'recording started');
  }

  #failed(p: RecordingPush, f: { reason: string; errno: string | undefined }, log: Logger): void {
    p.info.state = 'failed';
    p.info.lastError = f.reason;
    p.info.recording.errno = f.errno;
    if (p.removed) return;
    if (!p.info.auto) {
      log.error({ err: f.reason, errno: f.errno }, 'recording failed; the push is not auto, so it stays failed (delete and add it again)');
      return;
    }
    const delay = backoffDelay(p.info.attempts, { steps: RETRY_STEPS_MS });
    log.error({ err: f.reason, errno: f.errno, retryInMs: delay }, 'recording failed; retrying');
    p.timer = setTimeout(() => {
      p.timer = undefined;
      this.#maybeStart(p);
    }, delay);
  }

  #stopWorker(p: RecordingPush): Promise<void> | undefined {
    const w = p.worker;
    if (w === undefined) return undefined;
    w.postMessage({ type: 'stop' });
    // A recorder that hangs (a disk that never answers) is terminated after 10 s.
    const kill = setTimeout(() => void w.terminate(), 10_000);
    kill.unref();
    return p.stopped?.finally(() => clearTimeout(kill));
  }
}

/** The absolute path of a listed segment's relative path (for downloads), confined to the root. */
export function segmentPath(root: string, rel: string): string {
  return confine(root, join('.', rel));
}
