/** An auth webhook on loopback for tests: a real HTTP server that answers as `decide` says. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { SrtRejectedError } from '../../src/errors.js';
import { SrtSocket } from '../../src/srt/socket.js';
import type { GateDialects } from '../../src/srt/streamid.js';
import { Relay } from '../../src/supervisor/relay.js';
import { freeUdpPort } from './free-port.js';

export interface Call {
  action: string;
  stream: string;
  streamid: string;
  remoteAddr: string;
  nodeId: string;
}

/** `decide` answers a call: at once, after `delayMs`, when its promise settles, or never ('hang'). */
export async function startWebhook(
  decide: (c: Call) => { status: number; body?: unknown; delayMs?: number } | 'hang' | Promise<{ status: number; body?: unknown }>,
): Promise<{ server: Server; url: string; calls: Call[] }> {
  const calls: Call[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const call = JSON.parse(body) as Call;
      calls.push(call);
      const r = decide(call);
      if (r === 'hang') return; // never answers: the relay must time out
      const answer = (a: { status: number; body?: unknown }): void => {
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(a.body ?? {}));
      };
      if (r instanceof Promise) void r.then(answer);
      else if (r.delayMs !== undefined) setTimeout(() => answer(r), r.delayMs);
      else answer(r);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/auth`, calls };
}


/**
 * Connects; while the relay's answer is pending (1503: it is asking the webhook) retries, like an
 * encoder with auto-reconnect, until it decides (a generous deadline, not a guess at how long the
 * webhook takes).
 */
export async function connectDecided(port: number, options: Record<string, string | number>, deadlineMs = 20_000): Promise<SrtSocket> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const s = SrtSocket.create(options);
    try {
      await s.connect('127.0.0.1', port);
      return s;
    } catch (e) {
      if (e instanceof SrtRejectedError && e.reason === 1503 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      throw e;
    }
  }
}

/** The reject reason of a connection attempt that must fail (a socket it resolves to is closed and the test fails). */
export async function rejectionOf(p: Promise<unknown>): Promise<number> {
  try {
    const s = await p;
    if (s instanceof SrtSocket) s.close();
  } catch (e) {
    if (e instanceof SrtRejectedError) return e.reason;
    throw e;
  }
  assert.fail('expected the connection to be rejected');
}

/** A one-worker Relay (nodeId 'hook-test') on a free loopback port whose auth webhook is `webhook`. */
export async function startWebhookRelay(
  webhook: string,
  opts: { timeoutMs?: number; cacheMs?: number; dialects?: GateDialects; hold?: boolean } = {},
): Promise<{ relay: Relay; port: number }> {
  const port = await freeUdpPort();
  const relay = new Relay({
    nodeId: 'hook-test',
    workers: 1,
    ports: [{ port, host: '127.0.0.1', direction: 'both', params: { latency: 120 }, reusePort: 1, ...(opts.dialects !== undefined ? { dialects: opts.dialects } : {}) }],
    streams: {},
    pushes: [],
    limits: {},
    ringSlots: 1024,
    auth: { webhook, timeoutMs: opts.timeoutMs ?? 2000, cacheMs: opts.cacheMs ?? 5000, ...(opts.hold !== undefined ? { hold: opts.hold } : {}) },
  });
  await relay.start();
  return { relay, port };
}
