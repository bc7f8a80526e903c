/**
 * compose.yaml (Redis, three nodes, the nginx UDP load balancer) parses, and what it says holds
 * together: every node variable is one srt-relay reads (FLAGS), the nodes' ports differ, and the
 * nginx image points deploy/nginx/srt-lb.conf's upstreams at the node services. Running it is
 * `deploy/container/build.sh compose` (podman-compose; minutes, as root; docs/deploy.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { FLAGS } from '../src/config/cli-args.js';

const ROOT = new URL('../../', import.meta.url);

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: string[];
}

test('compose.yaml: Redis, three nodes and nginx; node variables are srt-relay flags; ports differ; nginx reaches the nodes by name', async () => {
  const compose = parse(await readFile(new URL('compose.yaml', ROOT), 'utf8'), { merge: true }) as { services: Record<string, Service> };
  const services = compose.services;
  assert.deepEqual(Object.keys(services).sort(), ['lb', 'redis', 'relay-1', 'relay-2', 'relay-3']);
  const variables = new Set(FLAGS.flatMap((f) => (typeof f.env === 'string' ? [f.env] : [])));
  const srtPorts = new Set<string>();
  const published = new Set<string>();
  for (const name of ['relay-1', 'relay-2', 'relay-3']) {
    const s = services[name]!;
    assert.equal(s.image, 'srt-relay');
    assert.equal(s.build?.dockerfile, 'Containerfile');
    for (const k of Object.keys(s.environment ?? {})) assert.ok(variables.has(k), `${name}: ${k} is not a variable srt-relay reads`);
    assert.match(s.environment?.['SRT_RELAY_REDIS'] ?? '', /^redis:\/\/redis:6379\//, `${name} uses the redis service`);
    assert.equal(s.environment?.['SRT_RELAY_ADVERTISE_HOST'], name, `${name} is reached by its service name`);
    srtPorts.add(s.environment?.['SRT_RELAY_SRT_PORT'] ?? '');
    for (const p of s.ports ?? []) published.add(p.replace(/:[^:]+$/, ''));
    assert.ok(s.depends_on?.includes('redis'));
  }
  assert.deepEqual([...srtPorts].sort(), ['18891', '18892', '18893']);
  assert.equal(published.size, 6, 'every published host port is different');
  for (const [name, file] of [['redis', 'deploy/container/redis.Containerfile'], ['lb', 'deploy/container/nginx.Containerfile']] as const) {
    assert.equal(services[name]?.build?.dockerfile, file);
    await readFile(new URL(file, ROOT), 'utf8');
  }
  assert.deepEqual(services['lb']?.ports, ['8889:8889/udp']);

  // The nginx image rewrites srt-lb.conf's "server 127.0.0.1:1889N" lines to the services relay-N.
  const lb = await readFile(new URL('deploy/nginx/srt-lb.conf', ROOT), 'utf8');
  const servers = [...lb.matchAll(/^\s*server 127\.0\.0\.1:(1889\d)/gm)].map((m) => m[1]);
  assert.deepEqual(servers, ['18891', '18892', '18893'], "srt-lb.conf's upstreams are the nodes' SRT ports");
  const rewritten = lb.replace(/server 127\.0\.0\.1:1889([0-9])/g, 'server relay-$1:1889$1');
  for (const n of [1, 2, 3]) assert.ok(rewritten.includes(`server relay-${n}:1889${n}`));
  const nginxFile = await readFile(new URL('deploy/container/nginx.Containerfile', ROOT), 'utf8');
  assert.ok(nginxFile.includes("s/server 127\\.0\\.0\\.1:1889([0-9])/server relay-\\1:1889\\1/"), 'the nginx image does that rewrite');
});
