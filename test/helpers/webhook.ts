/** An auth webhook on loopback for tests: a real HTTP server that answers as `decide` says. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Call {
  action: string;
  stream: string;
  streamid: string;
  remoteAddr: string;
  nodeId: string;
}

export async function startWebhook(decide: (c: Call) => { status: number; body?: unknown } | 'hang'): Promise<{ server: Server; url: string; calls: Call[] }> {
  const calls: Call[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const call = JSON.parse(body) as Call;
      calls.push(call);
      const r = decide(call);
      if (r === 'hang') return; // never answers: the relay must time out
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(r.body ?? {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/auth`, calls };
}

