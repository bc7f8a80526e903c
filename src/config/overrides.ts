/** Command-line overrides merged into the file's config, and which flag set which key path. */
import { DEFAULT_SRT_HOST } from './defaults.js';
import type { CliOverrides, RelayConfigInput } from './types.js';

/** Copy of `input` with the flags' values in, and key path → flag (for "(set by --flag)"). */
export function applyOverrides(input: RelayConfigInput, o: CliOverrides | undefined): { merged: RelayConfigInput; flagPaths: Map<string, string> } {
  const merged = structuredClone(input);
  const flagPaths = new Map<string, string>();
  if (o === undefined) return { merged, flagPaths };
  if (o.srtPort !== undefined) {
    merged.srt = { ...merged.srt };
    const ports = merged.srt.ports;
    if (ports !== undefined && ports.length > 0 && ports[0] !== undefined) {
      ports[0] = { ...ports[0], port: o.srtPort };
    } else {
      merged.srt.ports = [{ port: o.srtPort, host: DEFAULT_SRT_HOST, direction: 'both' }];
    }
    flagPaths.set('srt.ports[0].port', '--srt-port');
  }
  if (o.apiPort !== undefined) {
    merged.api = { ...merged.api, port: o.apiPort };
    flagPaths.set('api.port', '--api-port');
  }
  if (o.apiHost !== undefined) {
    merged.api = { ...merged.api, host: o.apiHost };
    flagPaths.set('api.host', '--api-host');
  }
  if (o.nodeId !== undefined) {
    merged.nodeId = o.nodeId;
    flagPaths.set('nodeId', '--node-id');
  }
  if (o.logLevel !== undefined) {
    merged.logLevel = o.logLevel;
    flagPaths.set('logLevel', '--log-level');
  }
  if (o.workers !== undefined) {
    merged.workers = o.workers;
    flagPaths.set('workers', '--workers');
  }
  if (o.redis !== undefined) {
    merged.redis = o.redis;
    flagPaths.set('redis', o.from?.redis ?? '--redis');
  }
  if (o.clusterSecret !== undefined) {
    merged.cluster = { ...merged.cluster, secret: o.clusterSecret };
    flagPaths.set('cluster.secret', o.from?.clusterSecret ?? '--cluster-secret');
  }
  if (o.internalPort !== undefined) {
    merged.cluster = { ...merged.cluster, internalPort: o.internalPort };
    flagPaths.set('cluster.internalPort', '--internal-port');
  }
  if (o.advertiseHost !== undefined) {
    merged.cluster = { ...merged.cluster, advertiseHost: o.advertiseHost };
    flagPaths.set('cluster.advertiseHost', '--advertise-host');
  }
  if (o.srtlaPort !== undefined) {
    merged.srtla = { ...merged.srtla, port: o.srtlaPort };
    flagPaths.set('srtla.port', '--srtla-port');
  }
  return { merged, flagPaths };
}
