/** /healthz and /metrics. */
import type { RelayMetrics } from '../metrics.js';
import type { Route } from '../router.js';

export function systemRoutes(deps: { metrics: RelayMetrics; startedAt: number }): Route[] {
  return [
    {
      path: '/healthz',
      methods: {
        GET({ relay }) {
          const uptimeS = Math.floor((performance.now() - deps.startedAt) / 1000);
          // 503 when an SRT port cannot take callers (no worker runs, a listener failed): a load
          // balancer's health check then sends callers elsewhere.
          const h = relay.health();
          const body = { status: h.status, nodeId: relay.nodeId, uptimeS, ...(h.reasons.length > 0 ? { reasons: h.reasons } : {}), workers: h.workers };
          return { status: h.status === 'unhealthy' ? 503 : 200, json: body };
        },
      },
    },
    {
      path: '/api/v1/cluster',
      methods: {
        GET({ cluster }) {
          if (cluster === undefined) return { status: 200, json: { enabled: false } };
          return { status: 200, json: { enabled: true, ...cluster.view() } };
        },
      },
    },
    {
      path: '/api/v1/udp',
      methods: {
        async GET({ relay }) {
          return { status: 200, json: { sockets: await relay.udpDrops() } };
        },
      },
    },
    {
      path: '/api/v1/srtla',
      methods: {
        GET({ relay }) {
          const srtla = relay.srtla;
          if (srtla === undefined) return { status: 200, json: { enabled: false } };
          return { status: 200, json: { enabled: true, ...srtla.address(), counters: { ...srtla.counters }, groups: srtla.stats() } };
        },
      },
    },
    {
      path: '/metrics',
      methods: {
        async GET() {
          return { status: 200, text: await deps.metrics.metrics(), contentType: deps.metrics.contentType };
        },
      },
    },
  ];
}
