/** The `api`, `srtla` and `auth` sections: the HTTP API's address and token, SRTLA's address, the webhook. */
import type { Problems } from './problems.js';
import { AUTH_DEFAULTS, DEFAULT_API_HOST, DEFAULT_API_PORT } from './defaults.js';
import { bareHost, checkHostText, checkHttpUrl } from './validate-values.js';
import type { RelayConfig, RelayConfigInput, SrtPortConfig } from './types.js';

export function checkApiSrtlaAuth(cfg: RelayConfigInput, ports: readonly SrtPortConfig[], problems: Problems): void {
  if (cfg.api?.host !== undefined) {
    const problem = checkHostText(cfg.api.host);
    if (problem !== undefined) problems.add(['api', 'host'], problem);
  }
  if (cfg.srtla?.host !== undefined) {
    const problem = checkHostText(cfg.srtla.host);
    if (problem !== undefined) problems.add(['srtla', 'host'], problem);
  }
  if (cfg.srtla !== undefined && !ports.some((p) => p.direction !== 'outgoing')) {
    problems.add(['srtla'], 'bonded groups publish into the first SRT port that takes publishers, and every srt.ports entry is "outgoing"; add a port with direction "incoming" or "both"');
  }
  if (cfg.api?.protectReads === true && cfg.api.token === undefined) {
    problems.add(['api', 'protectReads'], 'protects reads with the API token, but api.token is not set; set api.token (a long random string) or remove protectReads');
  }
  if (cfg.auth?.webhook !== undefined) {
    const problem = checkHttpUrl(cfg.auth.webhook);
    if (problem !== undefined) problems.add(['auth', 'webhook'], problem);
  }
}

export function apiWithDefaults(cfg: RelayConfigInput): RelayConfig['api'] {
  return {
    port: cfg.api?.port ?? DEFAULT_API_PORT,
    host: cfg.api?.host !== undefined ? bareHost(cfg.api.host) : DEFAULT_API_HOST,
    ...(cfg.api?.token !== undefined ? { token: cfg.api.token } : {}),
    protectReads: cfg.api?.protectReads ?? false,
  };
}

export function authWithDefaults(cfg: RelayConfigInput): RelayConfig['auth'] {
  return {
    ...(cfg.auth?.webhook !== undefined ? { webhook: cfg.auth.webhook } : {}),
    timeoutMs: cfg.auth?.timeoutMs ?? AUTH_DEFAULTS.timeoutMs,
    cacheMs: cfg.auth?.cacheMs ?? AUTH_DEFAULTS.cacheMs,
    hold: cfg.auth?.hold ?? AUTH_DEFAULTS.hold,
  };
}
