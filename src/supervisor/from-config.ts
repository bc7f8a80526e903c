/** Maps the checked configuration (src/config) onto what the Relay needs. */
import { sourceText, type Limits, type RelayConfig, type SrtPortConfig, type StreamConfig } from '../config/types.js';
import { ringSlotsFor } from '../ring/packet-ring.js';
import type { Logger } from '../logging.js';
import type { RelayLimits, RelayOptions, RelayPortOptions, RelayStreamOptions } from './relay.js';


export function relayOptionsFrom(config: RelayConfig, logger: Logger): RelayOptions {
  const streams: Record<string, RelayStreamOptions> = {};
  for (const [name, s] of Object.entries(config.streams)) streams[name] = relayStreamFrom(s);
  return {
    nodeId: config.nodeId,
    workers: config.workers,
    ports: config.srt.ports.map(relayPortFrom),
    streams,
    dynamicStreams: config.dynamicStreams,
    pushes: config.pushes.map((p) => ({ stream: p.stream, target: p.target.raw, auto: p.auto })),
    limits: relayLimitsFrom(config.limits),
    auth: { ...config.auth },
    // ~8 s at 10 Mbit/s (950 packets/s); bounded per stream (12 MB).
    ringSlots: ringSlotsFor(8192),
    logger,
    ...(config.srtla !== undefined ? { srtla: srtlaOptionsFrom(config) } : {}),
    ...(config.recordingsRoot !== undefined ? { recordingsRoot: config.recordingsRoot } : {}),
  };
}

/** One checked srt.ports entry as the Relay opens it (at the start, and when a reload adds it). */
export function relayPortFrom(p: SrtPortConfig): RelayPortOptions {
  return {
    port: p.port,
    host: p.host,
    direction: p.direction,
    ...(p.stream !== undefined ? { stream: p.stream } : {}),
    ...(p.dialects !== undefined ? { dialects: p.dialects } : {}),
    params: p.params,
    reusePort: p.reusePort,
  };
}

/** The checked limits as the Relay takes them (at the start, and on a reload that changes them). */
export function relayLimitsFrom(l: Limits): RelayLimits {
  return { ...l, exemptHosts: [...l.exemptHosts] };
}

/**
 * The SRTLA receiver's options: every group becomes an SRT caller of the first SRT port that
 * takes publishers (srtlaTargetFor; the config loader refuses srtla when no port takes publishers).
 */
function srtlaOptionsFrom(config: RelayConfig): NonNullable<RelayOptions['srtla']> {
  return { ...config.srtla!, target: srtlaTargetFor(config.srt.ports) ?? srtlaTargetOf(config.srt.ports[0]!) };
}

/** The SRT listener bonded groups call among `ports`: the first that takes publishers. */
export function srtlaTargetFor(ports: readonly SrtPortConfig[]): { host: string; port: number } | undefined {
  const p = ports.find((x) => x.direction !== 'outgoing');
  return p === undefined ? undefined : srtlaTargetOf(p);
}

/** How the node's own SRTLA groups reach port `p`: over loopback when it listens on every address. */
export function srtlaTargetOf(p: SrtPortConfig): { host: string; port: number } {
  const host = p.host === '0.0.0.0' || p.host === '' ? '127.0.0.1' : /^[0:]+$/.test(p.host) ? '::1' : p.host;
  return { host, port: p.port };
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
