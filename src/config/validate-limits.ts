/** The `limits` section: session, stream, bitrate, handshake and ring-memory limits. */
import type { Problems } from './problems.js';
import { defaultRingMemoryMb } from './defaults.js';
import { bareHost, checkHostText } from './validate-values.js';
import type { RelayConfig, RelayConfigInput } from './types.js';

export function checkLimits(cfg: RelayConfigInput, problems: Problems): void {
  (cfg.limits?.exemptHosts ?? []).forEach((h, i) => {
    const problem = typeof h === 'string' ? checkHostText(h) : undefined;
    if (problem !== undefined) problems.add(['limits', 'exemptHosts', i], problem);
  });
}

/** The limits with their defaults (after `checkLimits` found no problem). */
export function limitsWithDefaults(cfg: RelayConfigInput): RelayConfig['limits'] {
  const limits = cfg.limits ?? {};
  return {
    ...(limits.maxSessions !== undefined ? { maxSessions: limits.maxSessions } : {}),
    ...(limits.maxStreams !== undefined ? { maxStreams: limits.maxStreams } : {}),
    ...(limits.maxBitrateMbps !== undefined ? { maxBitrateMbps: limits.maxBitrateMbps } : {}),
    maxSessionsPerHost: limits.maxSessionsPerHost ?? 500,
    handshakesPerSecondPerHost: limits.handshakesPerSecondPerHost ?? 50,
    handshakesPerSecond: limits.handshakesPerSecond ?? 200,
    exemptHosts: (limits.exemptHosts ?? ['127.0.0.1', '::1']).map(bareHost),
    ...(limits.maxViewersPerStream !== undefined ? { maxViewersPerStream: limits.maxViewersPerStream } : {}),
    maxRingMemoryMb: limits.maxRingMemoryMb ?? defaultRingMemoryMb(),
    maxWildcardStreams: limits.maxWildcardStreams ?? 100,
  };
}
