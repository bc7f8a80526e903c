/** /api/v1/streams: list, read, create or change, delete. */
import { sourceText } from '../../config/types.js';
import { relayStreamFrom } from '../../supervisor/from-config.js';
import { notFound } from '../http.js';
import type { Route } from '../router.js';
import { checkStreamBody, checkStreamName } from '../validate.js';
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
        async PUT({ relay, params, body, cluster, mediaRoot }) {
          const name = checkStreamName(params['name'], 'stream name');
          const input = await body();
          if (cluster !== undefined) {
            // Cluster: the shared configuration (checked like the config file), applied on every node.
            const existed = relay.getStream(name)?.settings.configured === true;
            const checked = checkStreamBody(name, input, { origin: 'cluster-api' });
            // Refused here, before it is shared, when a listener or rendezvous source would bind a
            // UDP port this node already uses for something other than this stream's own sources (409).
            relay.checkStreamPorts(name, checked.sources.map(sourceText));
            await cluster.putStream(name, input);
            const stream = relay.getStream(name);
            if (stream === undefined) throw notFound(`stream '${name}' was stored but not applied here; see the node's log`);
            return { status: existed ? 200 : 201, json: streamView(stream, await statsSnapshot(relay), relay.sourcesOf(name)) };
          }
          const checked = checkStreamBody(name, input, { origin: 'api', ...(mediaRoot !== undefined ? { mediaRoot } : {}) });
          const existed = relay.getStream(name) !== undefined;
          // All or nothing: a source that cannot be set up (409 ERR_PORT_IN_USE) leaves the stream as it was.
          const stream = relay.putStream(name, relayStreamFrom(checked));
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
