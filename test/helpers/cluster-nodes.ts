/**
 * Real cluster nodes for tests: `bin/srt-relay.js` processes on loopback ports, joined to a test
 * redis-server, with a small client for their HTTP API. A node can be killed (SIGKILL, like a
 * crashed host) and its log read for assertion messages.
 */
import { fileURLToPath } from 'node:url';
import { freeUdpPorts, waitUdpBound } from './free-port.js';
import { freeTcpPort } from './redis-server.js';
import { spawnFor, type AfterHook, type Spawned } from './processes.js';
import { delay } from './srt-io.js';

export const CLUSTER_TEST_SECRET = 'cluster-secret-of-the-tests-0123';
const BIN = fileURLToPath(new URL('../../../bin/srt-relay.js', import.meta.url));

export interface SessionJson {
  id: number;
  kind: string;
  stream: string;
  peer: string;
  streamid: string;
  packets?: number;
}

export interface ClusterJson {
  enabled: boolean;
  node: string;
  redis: boolean;
  owned: Record<string, number>;
  remote: Record<string, string>;
}

export class ClusterNode {
  readonly id: string;
  readonly srtPort: number;
  readonly internalPort: number;
  readonly apiPort: number;
  readonly proc: Spawned;

  private constructor(id: string, srtPort: number, internalPort: number, apiPort: number, proc: Spawned) {
    this.id = id;
    this.srtPort = srtPort;
    this.internalPort = internalPort;
    this.apiPort = apiPort;
    this.proc = proc;
  }

  /** Starts a node joined to `redisUrl`; resolves once its API answers. Killed when `t` ends. */
  static async start(t: AfterHook, id: string, redisUrl: string, extraArgs: readonly string[] = []): Promise<ClusterNode> {
    const [srtPort, internalPort] = await freeUdpPorts(2);
    const apiPort = await freeTcpPort();
    const args = [
      BIN,
      '--node-id', id,
      '--srt-port', String(srtPort!),
      '--internal-port', String(internalPort!),
      '--api-port', String(apiPort),
      '--redis', redisUrl,
      '--workers', '1',
      ...extraArgs,
    ];
    const proc = spawnFor(t, process.execPath, args, {
      name: `node ${id}`,
      env: { ...process.env, SRT_RELAY_CLUSTER_SECRET: CLUSTER_TEST_SECRET },
    });
    const node = new ClusterNode(id, srtPort!, internalPort!, apiPort, proc);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (proc.exit !== undefined) throw new Error(`node ${id} exited at start\n${proc.output()}`);
      try {
        const health = await node.get<{ status: string }>('/healthz');
        if (health.status === 'ok') break;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) throw new Error(`node ${id} did not answer on its API within 20 s\n${proc.output()}`);
      await delay(100);
    }
    await waitUdpBound(srtPort!);
    return node;
  }

  get alive(): boolean {
    return this.proc.exit === undefined;
  }

  /** GET a JSON document from the node's API. */
  async get<T>(path: string): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.apiPort}${path}`);
    if (!res.ok) throw new Error(`GET ${path} on ${this.id}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** A request with a JSON body; returns the status and the parsed body (if any). */
  async send(method: 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`http://127.0.0.1:${this.apiPort}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
  }

  async sessions(): Promise<SessionJson[]> {
    return (await this.get<{ sessions: SessionJson[] }>('/api/v1/sessions')).sessions;
  }

  async cluster(): Promise<ClusterJson> {
    return this.get<ClusterJson>('/api/v1/cluster');
  }

  /** Sessions of `kind` for `stream` on this node. */
  async count(kind: string, stream: string): Promise<number> {
    return (await this.sessions()).filter((s) => s.kind === kind && s.stream === stream).length;
  }

  /** SIGKILL: the node vanishes without releasing anything (a crashed host). */
  async kill(): Promise<void> {
    this.proc.child.kill('SIGKILL');
    await this.proc.exited;
  }

  /** The node's log lines (pino JSON) so far, for assertion messages. */
  log(lines = 40): string {
    return this.proc.output().split('\n').slice(-lines).join('\n');
  }
}
