/**
 * Resource use of a running process from /proc (Linux): open file descriptors, how many of them
 * are sockets, resident memory and threads. For tests that check a process does not leak.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ProcStats {
  fds: number;
  socketFds: number;
  rssKb: number;
  threads: number;
}

export function procStats(pid: number): ProcStats {
  const dir = `/proc/${pid}/fd`;
  let fds = 0;
  let socketFds = 0;
  for (const fd of readdirSync(dir)) {
    fds++;
    try {
      if (readlinkSync(`${dir}/${fd}`).startsWith('socket:')) socketFds++;
    } catch {
      // closed while we looked
    }
  }
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { fds, socketFds, rssKb: field('VmRSS'), threads: field('Threads') };
}

export function formatStats(s: ProcStats): string {
  return `fds ${s.fds} (sockets ${s.socketFds}), RSS ${Math.round(s.rssKb / 1024)} MiB, threads ${s.threads}`;
}
