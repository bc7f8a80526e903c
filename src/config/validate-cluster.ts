/** The `redis` and `cluster` sections: the Redis URL, the cluster secret and the internal listener. */
import type { Problems } from './problems.js';
import { DEFAULT_SRT_PORT } from './defaults.js';
import { bareHost, checkHostText, checkRedisUrl } from './validate-values.js';
import type { ClusterConfig, ClusterInput, RelayConfigInput, SrtPortConfig } from './types.js';

/** Checks `redis` and `cluster`; returns the internal port (default: the first SRT port + 1). */
export function checkCluster(cfg: RelayConfigInput, ports: readonly SrtPortConfig[], problems: Problems): number {
  if (cfg.redis !== undefined) {
    const problem = checkRedisUrl(cfg.redis);
    if (problem !== undefined) problems.add(['redis'], problem);
    if (cfg.cluster?.secret === undefined) {
      problems.add(['cluster', 'secret'], 'is required with redis: set the same long random string (16+ characters) on every node, in the file, with --cluster-secret or in SRT_RELAY_CLUSTER_SECRET');
    }
  }
  for (const key of ['internalHost', 'advertiseHost'] as const) {
    const v = cfg.cluster?.[key];
    if (v === undefined) continue;
    const problem = checkHostText(v);
    if (problem !== undefined) problems.add(['cluster', key], problem);
  }
  const internalPort = cfg.cluster?.internalPort ?? (ports[0]?.port ?? DEFAULT_SRT_PORT) + 1;
  if (cfg.redis !== undefined) {
    const clash = ports.find((p) => p.port === internalPort);
    if (clash !== undefined) problems.add(['cluster', 'internalPort'], `UDP port ${internalPort} is already an SRT port (srt.ports); give the internal listener its own port`);
  }
  return internalPort;
}


export function clusterDefaults(c: ClusterInput, internalPort: number): ClusterConfig {
  const internalHost = c.internalHost !== undefined ? bareHost(c.internalHost) : '0.0.0.0';
  const specific = internalHost !== '0.0.0.0' && internalHost !== '::' && internalHost !== '';
  return {
    secret: c.secret ?? '',
    internalPort,
    internalHost,
    advertiseHost: c.advertiseHost !== undefined ? bareHost(c.advertiseHost) : specific ? internalHost : '127.0.0.1',
    keyPrefix: c.keyPrefix ?? 'srt-relay:',
    idleTimeoutMs: c.idleTimeoutMs ?? 20000,
    routingRefreshMs: c.routingRefreshMs ?? 2000,
  };
}

