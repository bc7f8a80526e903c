/**
 * A private nginx UDP load balancer for tests (the stream module), configured like
 * deploy/nginx/srt-lb.conf: `hash $remote_addr$remote_port consistent` over the given upstreams,
 * on its own loopback UDP port, in a temp directory (config, pid file, logs), in the foreground
 * (`daemon off; master_process off;`), never on port 80 or the system service.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeUdpPort, waitUdpBound } from './free-port.js';
import { nginxStreamModule, nginxStreamReason } from './requirements.js';
import { spawnTracked, type AfterHook, type Spawned } from './processes.js';

/**
 * The `load_module` path of nginx's stream module as `nginx -V` reports it (its
 * `--modules-path`), `null` when the module is built in, `undefined` when nginx has none.
 */
export function streamModulePath(): string | null | undefined {
  const m = nginxStreamModule();
  return m === undefined || (m === null && nginxStreamReason() !== undefined) ? undefined : m;
}

/** Why the cluster/nginx tests cannot run (undefined: they can). */
export function nginxUnmetReason(): string | undefined {
  return nginxStreamReason();
}

export interface NginxUdpOptions {
  /** `host:port` of each upstream SRT node (ignored with `streamBlock`). */
  upstreams: readonly string[];
  /**
   * Use this `stream { ... }` text instead of the generated one (e.g. deploy/nginx/srt-lb.conf
   * rewritten by `rewriteDeployConfig`). It must listen on 127.0.0.1:`port`.
   */
  streamBlock?: (port: number, dir: string) => string;
  /** Listen port on 127.0.0.1; default a free one. */
  port?: number;
  /** proxy_timeout; default 60s. */
  proxyTimeout?: string;
  /** Stopped and removed when `t` ends, if given. */
  t?: AfterHook;
}

/** The nginx.conf text the helper writes. */
export function nginxUdpConfig(o: {
  dir: string;
  port: number;
  upstreams: readonly string[];
  proxyTimeout: string;
  /** null: the module is built in, no load_module line. */
  modulePath: string | null;
  streamBlock?: string;
}): string {
  const head = `# written by test/helpers/nginx-udp.ts
${o.modulePath === null ? '' : `load_module ${o.modulePath};\n`}daemon off;
master_process off;
worker_processes 1;
pid ${join(o.dir, 'nginx.pid')};
error_log ${join(o.dir, 'error.log')} info;

events {
    worker_connections 1024;
}
`;
  if (o.streamBlock !== undefined) return `${head}\n${o.streamBlock}\n`;
  return `${head}
stream {
    log_format lb '$remote_addr:$remote_port -> $upstream_addr $status sent=$bytes_sent recv=$bytes_received';
    access_log ${join(o.dir, 'access.log')} lb;

    upstream srt_nodes {
        hash $remote_addr$remote_port consistent;
${o.upstreams.map((u) => `        server ${u};`).join('\n')}
    }

    server {
        listen 127.0.0.1:${o.port} udp;
        proxy_pass srt_nodes;
        proxy_timeout ${o.proxyTimeout};
    }
}
`;
}

export class NginxUdp {
  readonly port: number;
  readonly dir: string;
  readonly configFile: string;
  readonly #proc: Spawned;

  private constructor(port: number, dir: string, configFile: string, proc: Spawned) {
    this.port = port;
    this.dir = dir;
    this.configFile = configFile;
    this.#proc = proc;
  }

  /** Writes the config, starts nginx, and resolves once it has bound its UDP port. */
  static async start(opts: NginxUdpOptions): Promise<NginxUdp> {
    const modulePath = streamModulePath();
    if (modulePath === undefined) throw new Error(`nginx stream module unavailable: ${nginxStreamReason() ?? '?'}`);
    const port = opts.port ?? (await freeUdpPort());
    if (port === 80) throw new Error('refusing port 80');
    const dir = mkdtempSync(join(tmpdir(), 'srt-relay-nginx-'));
    const configFile = join(dir, 'nginx.conf');
    writeFileSync(
      configFile,
      nginxUdpConfig({
        dir,
        port,
        upstreams: opts.upstreams,
        proxyTimeout: opts.proxyTimeout ?? '60s',
        modulePath,
        ...(opts.streamBlock !== undefined ? { streamBlock: opts.streamBlock(port, dir) } : {}),
      }),
    );
    // -e: the error log before the config is read (the default path may not be writable).
    const proc = spawnTracked('nginx', ['-e', join(dir, 'error.log'), '-p', dir, '-c', configFile], { name: `nginx:${port}` });
    const lb = new NginxUdp(port, dir, configFile, proc);
    opts.t?.after(() => lb.stop());
    try {
      await Promise.race([
        waitUdpBound(port, 10_000),
        proc.exited.then((e) => {
          throw new Error(`nginx exited at start (code ${String(e.code)})\n${lb.errorLog()}\n${proc.output()}`);
        }),
      ]);
    } catch (err) {
      await lb.stop();
      throw err;
    }
    return lb;
  }

  /** The error log so far (for assertion messages). */
  errorLog(): string {
    try {
      return readFileSync(join(this.dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** The access log so far: one line per finished UDP session. */
  accessLog(): string {
    try {
      return readFileSync(join(this.dir, 'access.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** Stops nginx (SIGTERM, then SIGKILL) and removes the temp directory. */
  async stop(): Promise<void> {
    await this.#proc.kill(2000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * deploy/nginx/srt-lb.conf made runnable in a test: the public port becomes 127.0.0.1:`port`,
 * the example upstream servers become `upstreams` (same parameters), logs go to `dir`.
 */
export function rewriteDeployConfig(text: string, port: number, upstreams: readonly string[], dir: string): string {
  let out = text.replace(/^(\s*)listen\s+8889\s+udp/m, `$1listen 127.0.0.1:${port} udp`);
  out = out.replace(/access_log\s+\S+/g, `access_log ${join(dir, 'access.log')}`);
  const servers = [...out.matchAll(/^\s*server\s+127\.0\.0\.1:1889\d\b([^;]*);\s*$/gm)];
  if (servers.length === 0) throw new Error('no example upstream servers found in the deploy config');
  const params = servers[0]![1] ?? '';
  const indent = /^(\s*)/.exec(servers[0]![0])![1] ?? '        ';
  const replacement = upstreams.map((u) => `${indent}server ${u}${params};`).join('\n');
  // Replace the first example server line with all of ours, drop the others.
  out = out.replace(servers[0]![0], `\n${replacement}`);
  for (const m of servers.slice(1)) out = out.replace(m[0], '');
  if (!out.includes(`listen 127.0.0.1:${port} udp`)) throw new Error('the deploy config has no "listen 8889 udp" line');
  return out;
}

/** Runs `nginx -t` on a main config that includes `streamBlock`; resolves with nginx's output and exit code. */
export async function nginxTest(streamBlock: string): Promise<{ code: number | null; output: string }> {
  const modulePath = streamModulePath();
  if (modulePath === undefined) throw new Error(`nginx stream module unavailable: ${nginxStreamReason() ?? '?'}`);
  const dir = mkdtempSync(join(tmpdir(), 'srt-relay-nginx-t-'));
  try {
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, nginxUdpConfig({ dir, port: 0, upstreams: [], proxyTimeout: '60s', modulePath, streamBlock }));
    const proc = spawnTracked('nginx', ['-t', '-e', join(dir, 'error.log'), '-p', dir, '-c', conf], { name: 'nginx -t' });
    const exit = await proc.waitExit(10_000);
    return { code: exit.code, output: proc.stderr() + proc.stdout().toString('utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
