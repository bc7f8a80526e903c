/**
 * Free loopback ports for tests. The port is free when this returns; a test binds it right away
 * (another process could take it in between, which on a test machine is rare enough).
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';

/** A UDP port on 127.0.0.1 that nothing is bound to right now. */
export function freeUdpPort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const sock = createSocket('udp4');
    sock.once('error', (err) => {
      sock.close();
      reject(err);
    });
    sock.bind(0, '127.0.0.1', () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}

/** `count` distinct free UDP ports. */
export async function freeUdpPorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freeUdpPort());
  return [...ports];
}

function boundUdpPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      const hex = local?.split(':').pop();
      if (hex !== undefined && hex !== '') ports.add(Number.parseInt(hex, 16));
    }
  }
  return ports;
}

/**
 * Resolves once some process has bound UDP `port` (read from /proc/net/udp{,6}): use it to know
 * that a child listener (srt-live-transmit, ffmpeg) is ready before connecting to it.
 */
export async function waitUdpBound(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!boundUdpPorts().has(port)) {
    if (Date.now() > deadline) throw new Error(`nothing bound UDP port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
