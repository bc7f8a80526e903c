/**
 * The servers a bench scenario can load, behind one interface:
 *   self      srt-relay (bench/lib/run-relay.js: the Relay class, 2 workers, one port in both
 *             directions, 2 SO_REUSEPORT listeners), a fresh process per trial;
 *   record    the same srt-relay, recording every stream too (an auto file:// push per stream,
 *             10 s segments, into a temporary recordingsRoot deleted after the trial);
 *   floor     the minimal C fan-out relay (bench/floor/srt-fanout-floor), one process per stream;
 *   slt       srt-live-transmit, one process per publisher→viewer pair (it serves one viewer);
 *   external  any SRT server already running, given URL templates with {stream}; its CPU is
 *             measured only if --server-pid names its process.
 * A target turns "S streams at B bit/s, V_s viewers on stream s" into the publisher and viewer
 * URLs the load generator uses, and reports its processes for /proc sampling.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkerItem } from './loadgen-shared.js';
import { Child, distBench, floorBin, freeUdpPorts, procStatusBytes, repoRoot, waitFor } from './util.js';

export type TargetKind = 'self' | 'record' | 'floor' | 'slt' | 'external';
export const TARGET_LABEL: Record<TargetKind, string> = { self: 'srt-relay', record: 'srt-relay + recording', floor: 'floor (C)', slt: 'srt-live-transmit', external: 'external' };

export interface TrafficPlan {
  streams: number;
  /** Viewers of each stream. */
  viewersPerStream: number[];
  bitrate: number;
}

export interface TargetOptions {
  latency: number;
  /** Command prefix, e.g. ['ip', 'netns', 'exec', NS] to run inside a network namespace. */
  prefix: string[];
  publishUrl?: string;
  playUrl?: string;
  serverPid?: number;
  relayWorkers: number;
  reusePort: number;
}

export interface RunningTarget {
  kind: TargetKind;
  publishers: WorkerItem[];
  viewers: WorkerItem[];
  /** Processes whose CPU is the server's. */
  pids(): number[];
  rssPeakBytes(): number | undefined;
  warnings: string[];
  stop(): Promise<void>;
}

function spawnIn(prefix: string[], name: string, cmd: string, args: string[]): Child {
  return prefix.length > 0 ? new Child(name, prefix[0]!, [...prefix.slice(1), cmd, ...args]) : new Child(name, cmd, args);
}

/** Whether a UDP port is bound in the network namespace of `pid` (/proc/<pid>/net/udp). */
export function udpBoundIn(pid: number | undefined, port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  for (const f of ['udp', 'udp6']) {
    const path = pid === undefined ? `/proc/net/${f}` : `/proc/${pid}/net/${f}`;
    let t: string;
    try {
      t = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    for (const line of t.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local !== undefined && `${local} `.endsWith(hex)) return true;
    }
  }
  return false;
}

function fill(template: string, stream: string): string {
  return template.replace(/\{stream\}/g, encodeURIComponent(stream));
}

function sumRss(children: Child[]): number | undefined {
  let s = 0;
  let any = false;
  for (const c of children) {
    const v = c.pid === undefined ? undefined : procStatusBytes(c.pid, 'VmHWM');
    if (v !== undefined) {
      s += v;
      any = true;
    }
  }
  return any ? s : undefined;
}

async function stopAll(children: Child[]): Promise<void> {
  await Promise.all(children.map((c) => c.stop('SIGTERM', 5000)));
}

export async function startTarget(kind: TargetKind, plan: TrafficPlan, o: TargetOptions): Promise<RunningTarget> {
  const q = `latency=${o.latency}`;
  const publishers: WorkerItem[] = [];
  const viewers: WorkerItem[] = [];
  const children: Child[] = [];
  const warnings: string[] = [];
  const name = (s: number): string => `bench${s}`;
  const base = {
    kind,
    publishers,
    viewers,
    warnings,
    pids: (): number[] => children.filter((c) => c.running && c.pid !== undefined).map((c) => c.pid!),
    rssPeakBytes: (): number | undefined => sumRss(children),
    stop: (): Promise<void> => stopAll(children),
  };
  try {
    if (kind === 'self' || kind === 'record') {
      const [port] = await freeUdpPorts(1);
      const recordDir = kind === 'record' ? mkdtempSync(join(tmpdir(), 'bench-record-')) : undefined;
      const relay = spawnIn(o.prefix, 'srt-relay', process.execPath, [
        distBench('lib/run-relay.js'), '--port', String(port), '--workers', String(o.relayWorkers), '--reuse-port', String(o.reusePort), '--log-level', 'warn', '--latency', String(o.latency),
        ...(recordDir !== undefined ? ['--record', recordDir, '--record-streams', String(plan.streams)] : []),
      ]);
      if (recordDir !== undefined) {
        base.stop = async () => {
          await stopAll(children);
          // run-relay's summary of each recording (segments, bytes, lostPackets) goes to the bench log.
          for (const line of relay.stderr.split('\n')) if (line.startsWith('run-relay: recording')) process.stderr.write(`    ${line}\n`);
          rmSync(recordDir, { recursive: true, force: true });
        };
      }
      children.push(relay);
      await relay.waitEvent('ready', 20_000);
      await waitFor(() => udpBoundIn(relay.pid, port!) || !relay.running, 20_000, `srt-relay on port ${port}`);
      for (let s = 0; s < plan.streams; s++) {
        publishers.push({ url: `srt://127.0.0.1:${port}?streamid=publish:${name(s)}&${q}`, stream: s, bitrate: plan.bitrate });
        for (let v = 0; v < plan.viewersPerStream[s]!; v++) viewers.push({ url: `srt://127.0.0.1:${port}?streamid=read:${name(s)}&${q}`, stream: s });
      }
    } else if (kind === 'floor') {
      for (let s = 0; s < plan.streams; s++) {
        const [pin, pout] = await freeUdpPorts(2);
        const f = spawnIn(o.prefix, `srt-fanout-floor#${s}`, floorBin('srt-fanout-floor'), [
          '--in', `127.0.0.1:${pin}`, '--out', `127.0.0.1:${pout}`, '--reuseport', String(o.reusePort), '--latency', String(o.latency),
        ]);
        children.push(f);
        await waitFor(() => (udpBoundIn(f.pid, pin!) && udpBoundIn(f.pid, pout!)) || !f.running, 10_000, 'srt-fanout-floor ports');
        if (!f.running) throw new Error(`srt-fanout-floor exited: ${f.stderr.slice(-300)}`);
        publishers.push({ url: `srt://127.0.0.1:${pin}?${q}`, stream: s, bitrate: plan.bitrate });
        for (let v = 0; v < plan.viewersPerStream[s]!; v++) viewers.push({ url: `srt://127.0.0.1:${pout}?${q}`, stream: s });
      }
    } else if (kind === 'slt') {
      // One process per publisher→viewer pair: pair k carries its own copy of stream s.
      let k = 0;
      for (let s = 0; s < plan.streams; s++) {
        for (let v = 0; v < plan.viewersPerStream[s]!; v++, k++) {
          const [pin, pout] = await freeUdpPorts(2);
          const c = spawnIn(o.prefix, `srt-live-transmit#${k}`, 'srt-live-transmit', [
            '-q', '-a:no', `srt://127.0.0.1:${pin}?mode=listener&${q}`, `srt://127.0.0.1:${pout}?mode=listener&${q}`,
          ]);
          children.push(c);
          await waitFor(() => udpBoundIn(c.pid, pin!) || !c.running, 10_000, `srt-live-transmit#${k} input port`);
          if (!c.running) throw new Error(`srt-live-transmit exited: ${c.stderr.slice(-300)}`);
          publishers.push({ url: `srt://127.0.0.1:${pin}?${q}`, stream: k, bitrate: plan.bitrate });
          viewers.push({ url: `srt://127.0.0.1:${pout}?${q}`, stream: k });
        }
      }
    } else {
      if (o.publishUrl === undefined || o.playUrl === undefined) throw new Error('--target external needs --publish-url and --play-url (templates with {stream})');
      for (let s = 0; s < plan.streams; s++) {
        publishers.push({ url: fill(o.publishUrl, name(s)), stream: s, bitrate: plan.bitrate });
        for (let v = 0; v < plan.viewersPerStream[s]!; v++) viewers.push({ url: fill(o.playUrl, name(s)), stream: s });
      }
      return {
        ...base,
        pids: () => (o.serverPid !== undefined && existsSync(`/proc/${o.serverPid}`) ? [o.serverPid] : []),
        rssPeakBytes: () => (o.serverPid === undefined ? undefined : procStatusBytes(o.serverPid, 'VmHWM')),
        stop: async () => {},
      };
    }
  } catch (e) {
    await stopAll(children);
    throw e;
  }
  return base;
}

/** srt-live-transmit is installed? */
export function haveSlt(): boolean {
  for (const d of (process.env['PATH'] ?? '').split(':')) if (d !== '' && existsSync(join(d, 'srt-live-transmit'))) return true;
  return false;
}

export { repoRoot };
