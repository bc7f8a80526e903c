/** Command-line overrides merged into the file's config, and which flag set which key path. */
import { DEFAULT_SRT_HOST, DEFAULT_SRT_PORT } from './defaults.js';
import type { CliOverrides, RelayConfigInput } from './types.js';

/** Copy of `input` with the flags' values in, and key path → flag (for "(set by --flag)"). */
export function applyOverrides(input: RelayConfigInput, o: CliOverrides | undefined): { merged: RelayConfigInput; flagPaths: Map<string, string> } {
  const merged = structuredClone(input);
  const flagPaths = new Map<string, string>();
  if (o === undefined) return { merged, flagPaths };
  const by = (key: Exclude<keyof CliOverrides, 'from'>, flag: string): string => o.from?.[key] ?? flag;
  if (o.srtPort !== undefined || o.srtHost !== undefined) {
    merged.srt = { ...merged.srt };
    const ports = merged.srt.ports;
    const set = { ...(o.srtPort !== undefined ? { port: o.srtPort } : {}), ...(o.srtHost !== undefined ? { host: o.srtHost } : {}) };
    if (ports !== undefined && ports.length > 0 && ports[0] !== undefined) {
      ports[0] = { ...ports[0], ...set };
    } else {
      merged.srt.ports = [{ port: DEFAULT_SRT_PORT, host: DEFAULT_SRT_HOST, direction: 'both', ...set }];
    }
    if (o.srtPort !== undefined) flagPaths.set('srt.ports[0].port', by('srtPort', '--srt-port'));
    if (o.srtHost !== undefined) flagPaths.set('srt.ports[0].host', by('srtHost', '--srt-host'));
  }
  if (o.apiPort !== undefined) {
    merged.api = { ...merged.api, port: o.apiPort };
    flagPaths.set('api.port', by('apiPort', '--api-port'));
  }
  if (o.apiHost !== undefined) {
    merged.api = { ...merged.api, host: o.apiHost };
    flagPaths.set('api.host', by('apiHost', '--api-host'));
  }
  if (o.nodeId !== undefined) {
    merged.nodeId = o.nodeId;
    flagPaths.set('nodeId', by('nodeId', '--node-id'));
  }
  if (o.logLevel !== undefined) {
    merged.logLevel = o.logLevel;
    flagPaths.set('logLevel', by('logLevel', '--log-level'));
  }
  if (o.workers !== undefined) {
    merged.workers = o.workers;
    flagPaths.set('workers', by('workers', '--workers'));
  }
  if (o.redis !== undefined) {
    merged.redis = o.redis;
    flagPaths.set('redis', by('redis', '--redis'));
  }
  if (o.clusterSecret !== undefined) {
    merged.cluster = { ...merged.cluster, secret: o.clusterSecret };
    flagPaths.set('cluster.secret', by('clusterSecret', '--cluster-secret'));
  }
  if (o.internalPort !== undefined) {
    merged.cluster = { ...merged.cluster, internalPort: o.internalPort };
    flagPaths.set('cluster.internalPort', by('internalPort', '--internal-port'));
  }
  if (o.advertiseHost !== undefined) {
    merged.cluster = { ...merged.cluster, advertiseHost: o.advertiseHost };
    flagPaths.set('cluster.advertiseHost', by('advertiseHost', '--advertise-host'));
  }
  if (o.srtlaPort !== undefined) {
    merged.srtla = { ...merged.srtla, port: o.srtlaPort };
    flagPaths.set('srtla.port', by('srtlaPort', '--srtla-port'));
  }
  return { merged, flagPaths };
}
