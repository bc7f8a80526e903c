/** /api/v1/streams: list, read, create or change, delete. */
import { boundAddress } from '../../srt/port-registry.js';
import { parseSrtUrl, type SrtUrl } from '../../srt/url.js';
import { sourcePortHolder } from '../../supervisor/stream-sources.js';
import type { Relay } from '../../supervisor/relay.js';
import { notFound } from '../http.js';
import type { Route } from '../router.js';
import { checkClusterStreamBody, checkStreamName, parseStreamBody } from '../validate.js';
import { statsSnapshot, streamView } from '../views.js';

export function streamRoutes(): Route[] {
  return [
    {
      path: '/api/v1/streams',
      methods: {
        async GET({ relay }) {
          const stats = await statsSnapshot(relay);
          return { status: 200, json: { streams: relay.listStreams().map((s) => streamView(s, stats, relay.sourcesOf(s.name))) } };
        },
      },
    },
    {
      path: '/api/v1/streams/:name',
      methods: {
        async GET({ relay, params }) {
          const name = params['name']!;
          const stream = relay.getStream(name);
          if (stream === undefined) throw notFound(`no stream '${name}'`);
          return { status: 200, json: streamView(stream, await statsSnapshot(relay), relay.sourcesOf(stream.name)) };
        },
        async PUT({ relay, params, body, cluster }) {
          const name = checkStreamName(params['name'], 'stream name');
          if (cluster !== undefined) {
            // Cluster: the shared configuration (checked like the config file), applied on every node.
            const existed = relay.getStream(name)?.settings.configured === true;
            const input = checkClusterStreamBody(await body());
            refusePortsInUse(relay, name, input);
            await cluster.putStream(name, input);
            const stream = relay.getStream(name);
            if (stream === undefined) throw notFound(`stream '${name}' was stored but not applied here; see the node's log`);
            return { status: existed ? 200 : 201, json: streamView(stream, await statsSnapshot(relay), relay.sourcesOf(name)) };
          }
          const opts = parseStreamBody(await body());
          const existed = relay.getStream(name) !== undefined;
          let stream;
          try {
            stream = relay.putStream(name, opts);
          } catch (err) {
            // Relay.putStream registers the stream before it opens a listener source; do not leave
            // a half-made new stream behind when that fails (e.g. the port is taken).
            if (!existed) relay.deleteStream(name);
            throw err;
          }
          return { status: existed ? 200 : 201, json: streamView(stream, await statsSnapshot(relay), relay.sourcesOf(stream.name)) };
        },
        async DELETE({ relay, params, cluster }) {
          const name = params['name']!;
          const deleted = cluster !== undefined ? await cluster.deleteStream(name) : relay.deleteStream(name);
          if (!deleted) throw notFound(`no stream '${name}'`);
          return { status: 204 };
        },
      },
    },
  ];
}

/**
 * A cluster PUT is refused here, before it is shared, when a listener or rendezvous source would
 * bind a UDP port this node already uses for something other than this stream's own sources (409).
 */
function refusePortsInUse(relay: Relay, name: string, input: unknown): void {
  const body = input as { source?: unknown; sources?: unknown };
  const texts = [body.source, ...(Array.isArray(body.sources) ? body.sources : [])].filter((x): x is string => typeof x === 'string');
  for (const text of texts) {
    let url: SrtUrl;
    try {
      url = parseSrtUrl(text.trim());
    } catch {
      continue; // not srt:// (push://, file://) or invalid: the shared validator answers that
    }
    const at = boundAddress(url);
    if (at === undefined || url.mode === 'caller') continue;
    if (relay.ports.holderOf(at.host, at.port)?.holder === sourcePortHolder(name, url.mode)) continue;
    relay.ports.ensureFree(at.host, at.port);
  }
}
