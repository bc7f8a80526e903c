/**
 * Cluster bench: the same fan-out through the nginx UDP load balancer to 1 node and to N nodes
 * (real `bin/srt-relay.js` processes joined to one redis-server), side by side, plus what the
 * cluster costs in Redis commands.
 *
 *   node dist/bench/cluster.js [--viewers 30] [--bitrate 10] [--seconds 15] [--nodes 1,3]
 *                              [--per-process 30] [--settle 2] [--out DIR]
 *
 * Per variant (fresh Redis, nodes and nginx each time): srt-blast publishes `bench` through nginx
 * (it lands on one node, which claims the lease), then --viewers viewers (bench/lib/viewers.js)
 * play `read:bench` through nginx: nginx hashes each flow onto a node, and every node that is not
 * the owner pulls the stream once from the owner. Measured over the window: per-viewer Mbit/s,
 * loss, CPU seconds (user+sys, /proc) of all node processes and of nginx per delivered Gbit, and
 * Redis commands (INFO commandstats): for the publish, per new viewer, and per second at steady
 * state. Writes bench/results/cluster-<date>.{json,md}.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { native } from '../src/srt/native.js';
import { ClusterNode } from '../test/helpers/cluster-nodes.js';
import { NginxUdp, rewriteDeployConfig, streamModulePath } from '../test/helpers/nginx-udp.js';
import { RedisServer } from '../test/helpers/redis-server.js';
import type { AfterHook } from '../test/helpers/processes.js';
import {
  Child,
  buildFloor,
  delay,
  fileStamp,
  floorBin,
  fmt,
  machineInfo,
  markdownTable,
  median,
  nodeChild,
  parseList,
  pidCpu,
  positive,
  repoRoot,
  sourceInfo,
  textTable,
  waitQuiet,
} from './lib/util.js';

const { values } = parseArgs({
  options: {
    viewers: { type: 'string', default: '30' },
    bitrate: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '15' },
    nodes: { type: 'string', default: '1,3' },
    direct: { type: 'string', default: 'on' },
    'lb-conf': { type: 'string' },
    'per-process': { type: 'string', default: '30' },
    settle: { type: 'string', default: '2' },
    out: { type: 'string' },
  },
});
const viewerCount = positive(values.viewers, '--viewers', 30);
const bitrate = positive(values.bitrate, '--bitrate', 10);
const seconds = positive(values.seconds, '--seconds', 15);
const nodeCounts = parseList(values.nodes!, '--nodes');
const perProcess = positive(values['per-process'], '--per-process', 30);
const settle = Number(values.settle);
const outDir = values.out ?? join(repoRoot(), 'bench', 'results');

interface Variant {
  nodes: number;
  /** Publisher and viewers connect to the node itself, without nginx (the load balancer's cost). */
  direct: boolean;
  connected: number;
  perViewerMbps: { min: number; median: number };
  lossPct: number;
  deliveredMbps: number;
  nodeCpuS: number;
  nginxCpuS: number;
  redisCpuS: number;
  generatorCpuS: number;
  windowS: number;
  nodeSPerGbit: number;
  allSPerGbit: number;
  viewersPerNode: number[];
  pullsPerNode: number[];
  redis: { publish: number; perViewer: number; perSecond: number; steadyByCommand: Record<string, number> };
}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function commandStats(r: Redis): Promise<Record<string, number>> {
  const text = await r.info('commandstats');
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** Commands between two snapshots, without the bench's own INFO calls. */
function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) {
    const d = v - (a[k] ?? 0);
    if (d > 0 && k !== 'info') out[k] = d;
  }
  return out;
}

const total = (d: Record<string, number>): number => Object.values(d).reduce((x, y) => x + y, 0);

async function runVariant(n: number, direct = false): Promise<Variant> {
  const cleanups: Array<() => unknown> = [];
  const hook: AfterHook = { after: (fn) => void cleanups.push(fn) };
  const children: Child[] = [];
  try {
    const redis = await RedisServer.start({ t: hook });
    const client = new Redis(redis.url(), { lazyConnect: false });
    cleanups.push(() => client.quit().catch(() => undefined));
    const nodes = await Promise.all(Array.from({ length: n }, (_, i) => ClusterNode.start(hook, `bench-${i + 1}`, redis.url(), ['--log-level', 'warn'])));
    const upstreams = nodes.map((x) => `127.0.0.1:${x.srtPort}`);
    // --lb-conf FILE: that nginx stream block (e.g. deploy/nginx/srt-lb.conf) instead of the test's plain one.
    const lbConf = values['lb-conf'] !== undefined ? readFileSync(values['lb-conf'], 'utf8') : undefined;
    const lb = direct
      ? undefined
      : await NginxUdp.start({
          upstreams,
          t: hook,
          proxyTimeout: '60s',
          ...(lbConf !== undefined ? { streamBlock: (port: number, d: string) => rewriteDeployConfig(lbConf, port, upstreams, d) } : {}),
        });
    const nginxPid = lb === undefined ? 0 : Number(readFileSync(join(lb.dir, 'nginx.pid'), 'utf8').trim());
    const entryPort = lb?.port ?? nodes[0]!.srtPort;
    const s0 = await commandStats(client);

    const publisher = new Child('srt-blast', floorBin('srt-blast'), ['--connect', `127.0.0.1:${entryPort}`, '--rate', String(bitrate), '--seconds', '100000', '--streamid', 'publish:bench']);
    children.push(publisher);
    let owner: ClusterNode | undefined;
    for (let i = 0; i < 100 && owner === undefined; i++) {
      await delay(100);
      for (const x of nodes) if ((await x.cluster()).owned['bench'] !== undefined) owner = x;
      if (!publisher.running) throw new Error(`srt-blast exited: ${publisher.stderr.slice(-300)}`);
    }
    if (owner === undefined) throw new Error('no node took the publisher');
    await delay(500);
    const s1 = await commandStats(client);
    const t1 = performance.now();

    const groups: Child[] = [];
    const nGroups = Math.max(1, Math.ceil(viewerCount / perProcess));
    for (let g = 0; g < nGroups; g++) {
      const count = Math.floor(viewerCount / nGroups) + (g < viewerCount % nGroups ? 1 : 0);
      const c = nodeChild(`viewers#${g}`, 'lib/viewers.js', ['--port', String(entryPort), '--count', String(count), '--streamid', 'read:bench'], true);
      groups.push(c);
      children.push(c);
    }
    const conn = await Promise.all(groups.map((g) => g.waitEvent('connected', 60_000)));
    const connected = conn.reduce((a, m) => a + Number(m['connected']), 0);
    say(`  ${n} node(s)${direct ? ' direct' : ''}: ${connected}/${viewerCount} viewers connected${direct ? '' : ' through nginx'}; owner ${owner.id}`);
    await delay(1000);
    const s2 = await commandStats(client);
    const connectS = (performance.now() - t1) / 1000;
    await delay(settle * 1000);

    const pids = nodes.map((x) => x.proc.child.pid!);
    const cpuOf = (list: number[]): number => list.reduce((a, p) => a + (p > 0 ? pidCpu(p) ?? 0 : 0), 0);
    const redisPid = redis.pid ?? 0;
    const c0 = { nodes: cpuOf(pids), nginx: cpuOf([nginxPid]), redis: cpuOf([redisPid]), gen: cpuOf([...groups.map((g) => g.pid!), publisher.pid!]) };
    const s3 = await commandStats(client);
    const wFromNs = process.hrtime.bigint();
    const t0 = performance.now();
    for (let left = seconds; left > 0; left--) {
      await delay(1000);
      process.stderr.write(`\r  ${n} node(s): measuring, ${left - 1} s left   `);
    }
    process.stderr.write('\n');
    const windowS = (performance.now() - t0) / 1000;
    const wToNs = process.hrtime.bigint();
    const c1 = { nodes: cpuOf(pids), nginx: cpuOf([nginxPid]), redis: cpuOf([redisPid]), gen: cpuOf([...groups.map((g) => g.pid!), publisher.pid!]) };
    const s4 = await commandStats(client);
    const viewersPerNode = await Promise.all(nodes.map((x) => x.count('viewer', 'bench')));
    const pullsPerNode = await Promise.all(nodes.map((x) => x.count('cluster-pull', 'bench')));
    await publisher.stop('SIGTERM', 3000);
    const reports = await Promise.all(
      groups.map((g) => {
        const seen = g.lines.length;
        const p = g.waitMessage((m) => m['event'] === 'report' && g.lines.indexOf(m) >= seen, 60_000, 'report');
        g.send({ cmd: 'report', from: String(wFromNs), to: String(wToNs) });
        return p;
      }),
    );
    const vs: Array<{ bytes: number; packets: number; lost: number; seconds: number }> = [];
    for (const r of reports) for (const v of r['viewers'] as Array<{ bytes: number; packets: number; lost: number }>) vs.push({ ...v, seconds: Number(r['seconds']) });
    const mbps = vs.map((v) => (v.bytes * 8) / v.seconds / 1e6);
    const deliveredMbps = mbps.reduce((a, b) => a + b, 0);
    const packets = vs.reduce((a, v) => a + v.packets, 0);
    const lost = vs.reduce((a, v) => a + v.lost, 0);
    const gbit = (deliveredMbps * windowS) / 1000;
    const nodeCpuS = c1.nodes - c0.nodes;
    const nginxCpuS = c1.nginx - c0.nginx;
    const steady = delta(s3, s4);
    return {
      nodes: n,
      direct,
      connected,
      perViewerMbps: { min: Math.min(...mbps), median: median(mbps) },
      lossPct: packets + lost > 0 ? (100 * lost) / (packets + lost) : 0,
      deliveredMbps,
      nodeCpuS,
      nginxCpuS,
      redisCpuS: c1.redis - c0.redis,
      generatorCpuS: c1.gen - c0.gen,
      windowS,
      nodeSPerGbit: nodeCpuS / gbit,
      allSPerGbit: (nodeCpuS + nginxCpuS) / gbit,
      viewersPerNode,
      pullsPerNode,
      redis: {
        publish: total(delta(s0, s1)),
        // What the viewers' arrival added on top of the steady rate.
        perViewer: Math.max(0, total(delta(s1, s2)) - (total(steady) / windowS) * connectS) / Math.max(1, connected),
        perSecond: total(steady) / windowS,
        steadyByCommand: Object.fromEntries(Object.entries(steady).map(([k, v]) => [k, Math.round((v / windowS) * 100) / 100])),
      },
    };
  } finally {
    for (const c of children) await c.stop('SIGTERM', 2000);
    for (const fn of cleanups.reverse()) await fn();
  }
}

async function main(): Promise<void> {
  if (streamModulePath() === undefined) throw new Error('nginx with the stream module is needed (Debian: nginx libnginx-mod-stream)');
  buildFloor();
  const started = Date.now();
  say(`cluster bench: 1 publisher ${bitrate} Mbit/s → ${viewerCount} viewers through nginx; nodes ${nodeCounts.join(', ')}; ${seconds} s window`);
  const quiet = await waitQuiet();
  const results: Variant[] = [];
  if (values.direct !== 'off') results.push(await runVariant(1, true));
  for (const n of nodeCounts) results.push(await runVariant(n));
  const base = results[0]!;
  const header = ['nodes', 'viewers', 'min Mbit/s', 'median Mbit/s', 'loss %', 'nodes CPU s', 'nginx CPU s', 'nodes s/Gbit', 'nodes+nginx s/Gbit', `x ${base.direct ? '1 node direct' : `${base.nodes} node`}`, 'viewers per node', 'pulls per node', 'Redis: publish', 'per viewer', 'per s'];
  const rows = results.map((r) => [
    r.direct ? `${r.nodes} (direct, no nginx)` : String(r.nodes),
    `${r.connected}/${viewerCount}`,
    fmt(r.perViewerMbps.min),
    fmt(r.perViewerMbps.median),
    fmt(r.lossPct, 3),
    fmt(r.nodeCpuS),
    fmt(r.nginxCpuS),
    fmt(r.nodeSPerGbit, 3),
    fmt(r.allSPerGbit, 3),
    fmt(r.allSPerGbit / base.allSPerGbit),
    r.viewersPerNode.join('/'),
    r.pullsPerNode.join('/'),
    String(r.redis.publish),
    fmt(r.redis.perViewer, 2),
    fmt(r.redis.perSecond, 1),
  ]);
  process.stdout.write(`\n${textTable(header, rows)}\n`);
  process.stdout.write(`(machine ${Math.round(quiet * 100)} % busy before the run)\n`);
  for (const r of results) process.stdout.write(`steady Redis commands/s with ${r.nodes} node(s): ${JSON.stringify(r.redis.steadyByCommand)}\n`);
  const stamp = fileStamp();
  mkdirSync(outDir, { recursive: true });
  const machine = machineInfo(native.version());
  const json = { bench: 'cluster', date: new Date().toISOString(), args: { viewerCount, bitrate, seconds, nodeCounts, perProcess }, machine, source: sourceInfo(), machineBusyBefore: quiet, durationS: (Date.now() - started) / 1000, results };
  const jsonFile = join(outDir, `cluster-${stamp}.json`);
  writeFileSync(jsonFile, `${JSON.stringify(json, null, 2)}\n`);
  const md =
    `# cluster bench ${stamp}\n\nOne publisher (srt-blast, ${bitrate} Mbit/s) and ${viewerCount} viewers (bench/lib/viewers.js), all through nginx ` +
    `(UDP, hash $remote_addr$remote_port consistent) to N srt-relay nodes (bin/srt-relay.js, --workers 1 each, one Redis), ${seconds} s window. ` +
    `CPU is user+sys of the processes over the window; "per viewer" Redis commands are those counted while the viewers connected, minus the steady rate over that time, divided by the viewers. Compare rows of one run only: the host is shared.\n\n${markdownTable(header, rows)}\n`;
  const mdFile = join(outDir, `cluster-${stamp}.md`);
  writeFileSync(mdFile, md);
  process.stdout.write(`results: ${jsonFile}\n         ${mdFile}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`cluster bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
