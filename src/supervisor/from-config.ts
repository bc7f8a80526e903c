/** Maps the checked configuration (src/config) onto what the Relay needs. */
import { sourceText, type RelayConfig, type StreamConfig } from '../config/types.js';
import { ringSlotsFor } from '../ring/packet-ring.js';
import type { Logger } from '../logging.js';
import type { RelayOptions, RelayStreamOptions } from './relay.js';


export function relayOptionsFrom(config: RelayConfig, logger: Logger): RelayOptions {
  const streams: Record<string, RelayStreamOptions> = {};
  for (const [name, s] of Object.entries(config.streams)) streams[name] = relayStreamFrom(s);
  return {
    nodeId: config.nodeId,
    workers: config.workers,
    ports: config.srt.ports.map((p) => ({
      port: p.port,
      host: p.host,
      direction: p.direction,
      ...(p.stream !== undefined ? { stream: p.stream } : {}),
      ...(p.dialects !== undefined ? { dialects: p.dialects } : {}),
      params: p.params,
      reusePort: p.reusePort,
    })),
    streams,
    dynamicStreams: config.dynamicStreams,
    pushes: config.pushes.map((p) => ({ stream: p.stream, target: p.target.raw, auto: p.auto })),
    limits: { ...config.limits, exemptHosts: [...config.limits.exemptHosts] },
    auth: { ...config.auth },
    // ~8 s at 10 Mbit/s (950 packets/s); bounded per stream (12 MB).
    ringSlots: ringSlotsFor(8192),
    logger,
    ...(config.srtla !== undefined ? { srtla: srtlaOptionsFrom(config) } : {}),
    ...(config.recordingsRoot !== undefined ? { recordingsRoot: config.recordingsRoot } : {}),
  };
}

/**
 * The SRTLA receiver's options: every group becomes an SRT caller of the first SRT port that
 * takes publishers, over loopback when that port listens on every address (the config loader
 * refuses srtla when no port takes publishers).
 */
function srtlaOptionsFrom(config: RelayConfig): NonNullable<RelayOptions['srtla']> {
  const s = config.srtla!;
  const p = config.srt.ports.find((x) => x.direction !== 'outgoing') ?? config.srt.ports[0]!;
  const host = p.host === '0.0.0.0' || p.host === '' ? '127.0.0.1' : /^[0:]+$/.test(p.host) ? '::1' : p.host;
  return { ...s, target: { host, port: p.port } };
}

/** One checked stream (from a file, or from the cluster's shared config) as the Relay takes it. */
export function relayStreamFrom(s: StreamConfig): RelayStreamOptions {
  return {
    source: sourceText(s.source),
    sources: s.sources.map(sourceText),
    loop: s.loop,
    simulatedLive: s.simulatedLive,
    join: s.join,
    passphrase: { ...s.passphrase },
    onPublisherConflict: s.onPublisherConflict,
    takeoverAfterMs: s.takeoverAfterMs,
    acceptStreamIds: s.acceptStreamIds,
    alwaysOn: s.alwaysOn,
    idleTimeoutMs: s.idleTimeoutMs,
    failoverTimeoutMs: s.failoverTimeoutMs,
    raw: s.raw,
    bufferTimeMs: s.bufferTimeMs,
    latency: s.latency,
  };
}
