/**
 * PM2: one srt-relay node, or a small cluster on one host for trying the cluster locally.
 *
 * Without SRT_RELAY_CLUSTER_SECRET: one app, `srt-relay`, a single node (no Redis) on the default
 * ports (SRT 8889, HTTP API 127.0.0.1:4242), with the config file SRT_RELAY_CONFIG when set:
 *
 *   SRT_RELAY_CONFIG=/etc/srt-relay/relay.json pm2 start ecosystem.config.cjs
 *   pm2 logs srt-relay
 *
 * With SRT_RELAY_CLUSTER_SECRET: the cluster demo instead:
 *
 *   redis-server --port 6379 --save '' --daemonize yes
 *   SRT_RELAY_CLUSTER_SECRET=$(openssl rand -base64 24) pm2 start ecosystem.config.cjs
 *   pm2 logs srt-relay-1
 *
 * Three nodes against one Redis: SRT ports 18891-18893 (internal links on 18991-18993), HTTP API
 * on 127.0.0.1:4241-4243. Put nginx with deploy/nginx/srt-lb.conf in front (UDP 8889 → the three
 * SRT ports) or connect to any node directly: every node serves every stream.
 * Settings: SRT_RELAY_NODES (node count, default 3), SRT_RELAY_REDIS (default
 * redis://127.0.0.1:6379/0), SRT_RELAY_CLUSTER_SECRET (required, 16+ characters, the same for all).
 *
 * In production run one node per host (docs/deploy.md, deploy/systemd/srt-relay.service):
 * a node uses every core of its machine by itself.
 */
'use strict';

const count = Number(process.env.SRT_RELAY_NODES || 3);
const redis = process.env.SRT_RELAY_REDIS || 'redis://127.0.0.1:6379/0';
const secret = process.env.SRT_RELAY_CLUSTER_SECRET || '';
const config = process.env.SRT_RELAY_CONFIG || '';
if (secret !== '' && secret.length < 16) {
  throw new Error('set SRT_RELAY_CLUSTER_SECRET to the same random string of 16+ characters for every node, e.g. $(openssl rand -base64 24)');
}

/** The single node: no Redis, no secret; its settings come from SRT_RELAY_CONFIG (or the defaults). */
const single = {
  name: 'srt-relay',
  script: 'bin/srt-relay.js',
  cwd: __dirname,
  args: config === '' ? [] : ['--config', config],
  // One process: worker threads inside, never PM2 cluster mode (UDP ports are per process).
  exec_mode: 'fork',
  instances: 1,
  autorestart: true,
  restart_delay: 2000,
  kill_timeout: 10000,
  max_memory_restart: '2G',
};

module.exports = {
  apps: secret === '' ? [single] : Array.from({ length: count }, (_, k) => {
    const i = k + 1;
    return {
      name: `srt-relay-${i}`,
      script: 'bin/srt-relay.js',
      cwd: __dirname,
      args: [
        '--node-id', `edge-${i}`,
        '--srt-port', String(18890 + i),
        '--internal-port', String(18990 + i),
        '--api-port', String(4240 + i),
        // Nodes on one host share its cores: give each a share instead of all of them.
        '--workers', '1',
      ],
      // Secrets through the environment, not argv (visible in `ps`).
      env: { SRT_RELAY_REDIS: redis, SRT_RELAY_CLUSTER_SECRET: secret },
      // One process per node: worker threads inside, never PM2 cluster mode (UDP ports are per process).
      exec_mode: 'fork',
      instances: 1,
      autorestart: true,
      restart_delay: 2000,
      kill_timeout: 10000,
      max_memory_restart: '2G',
    };
  }),
};
