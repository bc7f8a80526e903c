/** /api/v1/auth: the auth webhook settings, read and changed at runtime (cluster-wide on a member). */
import { normalizeConfig } from '../../config/load.js';
import { maskUrl } from '../../config/secrets.js';
import type { AuthSettings } from '../../supervisor/relay-api.js';
import { checkRequestBody } from '../openapi.js';
import type { Route } from '../router.js';

/**
 * The body of PUT /api/v1/auth: `{webhook?: URL | null, timeoutMs?, cacheMs?, hold?}`, checked against
 * its schema in docs/openapi.yaml, whose values are the config file's `auth` keys (a wrong value:
 * ERR_CONFIG_INVALID naming `auth.<key>`; not an object or an unknown field: ERR_API_BAD_REQUEST).
 * Absent or null webhook: off.
 */
export function parseAuthBody(body: unknown): AuthSettings {
  checkRequestBody('putAuth', body, { valueCode: 'ERR_CONFIG_INVALID', prefix: ['auth'] });
  const input: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) if (v !== null) input[k] = v;
  const auth = normalizeConfig({ srt: { ports: [] }, auth: input }).auth;
  return { ...(auth.webhook !== undefined ? { webhook: auth.webhook } : {}), timeoutMs: auth.timeoutMs, cacheMs: auth.cacheMs, hold: auth.hold };
}

/** The settings as the API shows them: the webhook URL without its password and secret query parameters. */
export function authView(a: AuthSettings): { webhook: string | null; timeoutMs: number; cacheMs: number; hold: boolean } {
  return { webhook: a.webhook === undefined ? null : maskUrl(a.webhook), timeoutMs: a.timeoutMs, cacheMs: a.cacheMs, hold: a.hold ?? true };
}

export function authRoutes(): Route[] {
  return [
    {
      path: '/api/v1/auth',
      methods: {
        GET({ relay }) {
          return { status: 200, json: authView(relay.authSettings()) };
        },
        async PUT({ relay, body, cluster }) {
          const settings = parseAuthBody(await body());
          if (cluster !== undefined) await cluster.putAuth(settings);
          else relay.setAuth(settings);
          return { status: 200, json: authView(relay.authSettings()) };
        },
      },
    },
  ];
}
