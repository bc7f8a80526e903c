/**
 * Runs one relay node until SIGTERM/SIGINT; then closes every session and exits 0 within 5 s.
 * SIGHUP (and, with --watch-config, a change of the file) reloads the config file (config-reload.ts).
 */
import type { CliOverrides, RelayConfig } from '../config/types.js';
import type { Logger } from '../logging.js';
import { isSrtRelayError } from '../errors.js';
import { Relay } from '../supervisor/relay.js';
import { relayOptionsFrom } from '../supervisor/from-config.js';
import { ApiServer } from '../api/http-server.js';
import type { ClusterMember } from '../cluster/cluster-member.js';
import type { ClusterBridge } from '../supervisor/cluster-bridge.js';
import { ConfigReloader } from './config-reload.js';

const STOP_DEADLINE_MS = 5000;

export interface RunNodeOptions {
  /** The config file, reloaded on SIGHUP; none: SIGHUP is logged and ignored. */
  readonly configFile?: string;
  /** The command line's values, applied again over the file at each reload. */
  readonly overrides?: CliOverrides;
  /** Also reload when the file changes. */
  readonly watchConfig?: boolean;
}

export async function runNode(config: RelayConfig, log: Logger, opts: RunNodeOptions = {}): Promise<number> {
  const relay = new Relay(relayOptionsFrom(config, log));
  // What GET /api/v1/node and previews see: the ports and limits in force, updated by each reload.
  const apiPorts = [...config.srt.ports];
  const apiLimits: Record<string, unknown> = { ...config.limits };
  const applied = (c: RelayConfig): void => {
    apiPorts.splice(0, apiPorts.length, ...c.srt.ports);
    for (const k of Object.keys(apiLimits)) delete apiLimits[k];
    Object.assign(apiLimits, c.limits);
  };
  const reloader =
    opts.configFile !== undefined ? new ConfigReloader({ relay, file: opts.configFile, overrides: opts.overrides ?? {}, config, log, applied }) : undefined;
  ignoreSignals(log, reloader);
  let member: ClusterMember | undefined;
  let bridge: ClusterBridge | undefined;
  let api: ApiServer | undefined;
  const shutdown = async (): Promise<void> => {
    reloader?.close();
    bridge?.stop();
    await Promise.allSettled([api?.close(), relay.stop()]);
    // After the relay: publishers are closed, so their leases are released on the way out.
    await member?.close();
  };
  try {
    await relay.start();
    if (config.redis !== undefined && config.cluster !== undefined) {
      ({ member, bridge } = await joinCluster(relay, config, log));
    }
    api = new ApiServer(relay, {
      host: config.api.host,
      port: config.api.port,
      logger: log,
      srtPorts: apiPorts,
      limits: apiLimits,
      metrics: config.metrics,
      ...(reloader !== undefined ? { configReport: () => reloader.status() } : {}),
      ...(config.api.token !== undefined ? { token: config.api.token, protectReads: config.api.protectReads } : {}),
      ...(bridge !== undefined ? { cluster: bridge } : {}),
      ...(config.mediaRoot !== undefined ? { mediaRoot: config.mediaRoot } : {}),
    });
    const addr = await api.listen();
    log.info({ api: `http://${addr.host}:${addr.port}` }, 'HTTP API listening');
    if (opts.watchConfig === true) reloader?.watch();
  } catch (err) {
    log.fatal({ err }, 'could not start');
    // Also on stderr, in words, for whoever started the process (the log may go to a collector).
    process.stderr.write(`srt-relay could not start: ${isSrtRelayError(err) ? `error ${err.code}: ` : ''}${err instanceof Error ? err.message : String(err)}\n`);
    await shutdown();
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      const deadline = setTimeout(() => {
        log.warn('clean stop took too long; exiting');
        resolve(0);
      }, STOP_DEADLINE_MS);
      deadline.unref();
      void shutdown().then(() => {
        clearTimeout(deadline);
        resolve(0);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/**
 * Signals a process manager or logrotate may send must not stop (or debug) the node (docs/deploy.md,
 * "Signals"). SIGHUP reloads the config file (without one it is logged and ignored). SIGUSR1: with a
 * listener, Node 20 does not open its inspector (9229). SIGUSR2: Node's default would end the process.
 */
function ignoreSignals(log: Logger, reloader: ConfigReloader | undefined): void {
  process.on('SIGHUP', () => {
    if (reloader === undefined) {
      log.warn({ signal: 'SIGHUP' }, 'SIGHUP received: the node runs without a config file (--config), so there is nothing to reload');
      return;
    }
    log.info({ signal: 'SIGHUP' }, 'SIGHUP received: reloading the config file');
    reloader.reload('SIGHUP').catch((err: unknown) => log.error({ err }, 'config reload failed'));
  });
  for (const signal of ['SIGUSR1', 'SIGUSR2'] as const) {
    process.on(signal, () => log.info({ signal }, `${signal} received and ignored (it has no meaning for srt-relay)`));
  }
}

/** Connects to Redis, opens the internal listener and wires the relay to the cluster. */
async function joinCluster(relay: Relay, config: RelayConfig, log: Logger): Promise<{ member: ClusterMember; bridge: ClusterBridge }> {
  const cluster = config.cluster!;
  const [{ ClusterMember }, { ClusterBridge }, { cpuSampler }] = await Promise.all([
    import('../cluster/cluster-member.js'),
    import('../supervisor/cluster-bridge.js'),
    import('../cluster/registry.js'),
  ]);
  const cpu = cpuSampler();
  const bandwidth = bandwidthSampler(relay);
  const member = await ClusterMember.connect({
    redisUrl: config.redis!,
    nodeId: config.nodeId,
    srtAddress: hostPort(cluster.advertiseHost, cluster.internalPort),
    apiAddress: `http://${hostPort(cluster.advertiseHost, config.api.port)}`,
    clusterSecret: cluster.secret,
    keyPrefix: cluster.keyPrefix,
    logger: log,
    // A node whose Redis is down at start still serves; it refuses publishes (1503) until Redis comes.
    startWithoutRedis: true,
    load: () => {
      const sessions = relay.listSessions();
      return {
        sessions: sessions.length,
        streams: relay.listStreams().filter((s) => s.publisher !== undefined && s.publisher.fromCluster !== true).length,
        cpu: cpu(),
        bandwidthMbps: bandwidth(),
      };
    },
  });
  try {
    relay.listenInternal(cluster.internalHost, cluster.internalPort, member.internalPassphrase);
    const bridge = new ClusterBridge({ relay, member, logger: log, idleTimeoutMs: cluster.idleTimeoutMs, routingRefreshMs: cluster.routingRefreshMs, localAuth: config.auth, ...(config.mediaRoot !== undefined ? { mediaRoot: config.mediaRoot } : {}) });
    await bridge.start();
    return { member, bridge };
  } catch (err) {
    await member.close();
    throw err;
  }
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Media bandwidth in + out (Mbit/s, libsrt's send and receive rates summed over the sessions).
 * Returns the last sample at once and asks the workers for a fresh one for the next call.
 */
function bandwidthSampler(relay: Relay): () => number {
  let last = 0;
  let pending = false;
  return () => {
    if (!pending) {
      pending = true;
      relay.sessionStats().then(
        (stats) => {
          let sum = 0;
          for (const s of stats.values()) sum += (s.srt?.['mbpsSendRate'] ?? 0) + (s.srt?.['mbpsRecvRate'] ?? 0);
          last = Math.round(sum * 10) / 10;
          pending = false;
        },
        () => {
          pending = false;
        },
      );
    }
    return last;
  };
}
