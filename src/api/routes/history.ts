/** /api/v1/history, /api/v1/streams/:name/history and /api/v1/node: what the dashboard draws. */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { History } from '../history.js';
import type { SrtlaServer } from '../../srtla/server.js';
import { maskText } from '../../config/secrets.js';
import { badRequest, notFound } from '../http.js';
import type { Route } from '../router.js';
import type { PreviewSrtPort } from './preview.js';

/** `?since=<ms since the epoch>`: only the samples after it. */
export function sinceOf(req: IncomingMessage): number | undefined {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q === -1) return undefined;
  const v = new URLSearchParams(url.slice(q + 1)).get('since');
  if (v === null) return undefined;
  const n = Number(v);
  if (v === '' || !Number.isFinite(n) || n < 0) throw badRequest(`since must be a time in ms since the epoch (a number ≥ 0), got '${v}'`, { field: 'since' });
  return n;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** What the node knows of its config file's problems (src/cli/config-reload.ts keeps it: ReloadStatus). */
export interface ConfigReport {
  readonly file: string;
  /** The last reload: when (ms since the epoch), what triggered it, whether the file was taken. */
  readonly last: { readonly at: number; readonly trigger: string; readonly ok: boolean } | undefined;
  /** Key paths changed in the file that take effect only at a restart. */
  readonly needsRestart: readonly string[];
  /** The last reload's problems: the errors of a refused file, or the steps not applied. */
  readonly problems: readonly string[];
}

export interface NodeRouteOptions {
  configReport?: () => ConfigReport;
  history: History;
  startedAt: number;
  srtPorts: readonly PreviewSrtPort[];
  limits?: Readonly<object>;
  api: () => { host: string; port: number | null; auth: boolean; protectReads: boolean };
  /** Throws ApiError 401 unless the request carries the API token (no-op without a token). */
  authorize: (req: IncomingMessage) => void;
}

export function historyRoutes(opts: NodeRouteOptions): Route[] {
  const version = packageVersion();
  return [
    {
      // The dashboard's login check: the token is right (or the API has none), whatever protectReads says.
      path: '/api/v1/token',
      methods: {
        GET({ req }) {
          opts.authorize(req);
          return { status: 200, json: { tokenRequired: opts.api().auth } };
        },
      },
    },
    {
      path: '/api/v1/history',
      methods: {
        GET({ req }) {
          return { status: 200, json: { streams: opts.history.streams(sinceOf(req)) } };
        },
      },
    },
    {
      path: '/api/v1/streams/:name/history',
      methods: {
        GET({ relay, req, params }) {
          const name = params['name']!;
          if (relay.getStream(name) === undefined) throw notFound(`no stream '${name}'`);
          const since = sinceOf(req);
          const h = opts.history.stream(name, since);
          return {
            status: 200,
            json: h ?? { name, intervalMs: 1000, t: [], ingestKbps: [], lossPackets: [], retransmittedPackets: [], rttMs: [], undecryptedPackets: [], viewers: [] },
          };
        },
      },
    },
    {
      // The Cluster page: every live member with its load (the registry in Redis).
      path: '/api/v1/cluster/nodes',
      methods: {
        async GET({ cluster }) {
          if (cluster === undefined) return { status: 200, json: { enabled: false, nodes: [] } };
          return { status: 200, json: { enabled: true, nodes: await cluster.nodes() } };
        },
      },
    },
    {
      path: '/api/v1/node',
      methods: {
        GET({ relay, req, cluster }) {
          const h = relay.health();
          return {
            status: 200,
            json: {
              nodeId: relay.nodeId,
              version,
              node: process.version,
              uptimeS: Math.floor((performance.now() - opts.startedAt) / 1000),
              health: { status: h.status, reasons: h.reasons, workers: h.workers },
              api: opts.api(),
              cluster: cluster !== undefined,
              ports: opts.srtPorts.map((p) => ({ host: p.host, port: p.port, direction: p.direction, stream: p.stream ?? null })),
              srtla: srtlaView(relay.srtla),
              limits: opts.limits ?? null,
              sessions: relay.listSessions().length,
              streams: relay.listStreams().length,
              refused: relay.refusedHandshakes(),
              history: opts.history.node(sinceOf(req)),
              config: configView(opts.configReport?.(), cluster?.notApplied() ?? []),
            },
          };
        },
      },
    },
  ];
}

/** The `srtla` of GET /api/v1/node: the SRTLA receiver's UDP address and the SRT port its groups call, or null when off. */
function srtlaView(srtla: SrtlaServer | undefined) {
  if (srtla === undefined) return null;
  const a = srtla.address();
  const t = srtla.target;
  return { host: a.address, port: a.port, target: `${t.host}:${t.port}`, groups: srtla.stats().length };
}

/** The `config` of GET /api/v1/node: the file, its last reload, keys waiting for a restart, and every problem now known. */
function configView(r: ConfigReport | undefined, shared: readonly string[]) {
  return {
    file: r?.file ?? null,
    lastReload: r?.last === undefined ? null : { at: new Date(r.last.at).toISOString(), trigger: r.last.trigger, ok: r.last.ok },
    needsRestart: [...(r?.needsRestart ?? [])],
    problems: [
      ...(r?.problems ?? []).map((message) => ({ source: 'reload' as const, message: maskText(message) })),
      ...shared.map((message) => ({ source: 'cluster' as const, message: maskText(message) })),
    ],
  };
}
