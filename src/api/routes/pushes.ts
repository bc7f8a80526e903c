/** /api/v1/pushes: list, add, edit, remove. */
import { maskUrl } from '../../config/secrets.js';
import { boundAddress } from '../../srt/port-registry.js';
import { parseSrtUrl } from '../../srt/url.js';
import { checkFileTarget, isFileTarget } from '../../recording/target.js';
import { conflict, notFound } from '../http.js';
import type { Route } from '../router.js';
import { parseId, parsePushBody } from '../validate.js';
import { pushView } from '../views.js';

export function pushRoutes(): Route[] {
  return [
    {
      path: '/api/v1/pushes',
      methods: {
        GET({ relay }) {
          return { status: 200, json: { pushes: relay.listPushes().map(pushView) } };
        },
        async POST({ relay, body, cluster }) {
          const opts = parsePushBody(await body());
          // A recording is checked against this node's recordingsRoot before anything is stored (400).
          if (isFileTarget(opts.target)) checkFileTarget(opts.target, relay.recordingsRoot, { stream: opts.stream, node: relay.nodeId });
          if (cluster !== undefined) {
            // Refused here before it is shared: a new push's listener or rendezvous port in use (409).
            const at = isFileTarget(opts.target) ? undefined : boundAddress(parseSrtUrl(opts.target));
            const known = relay.listPushes().some((p) => p.stream === opts.stream && p.target === maskUrl(opts.target));
            if (at !== undefined && !known) relay.ports.ensureFree(at.host, at.port);
            const res = await cluster.putPush(opts);
            const push = relay.listPushes().find((p) => p.id === res.local);
            if (push === undefined) throw notFound('push was stored but not applied here; see the node\'s log');
            return { status: res.outcome === 'created' ? 201 : 200, json: pushView(push) };
          }
          const target = maskUrl(opts.target);
          const same = relay.listPushes().find((p) => p.stream === opts.stream && p.target === target);
          if (same !== undefined) {
            throw conflict(`push ${same.id} already sends '${opts.stream}' to ${target}; delete it first`, { push: same.id });
          }
          const before = new Set(relay.listPushes().map((p) => p.id));
          try {
            return { status: 201, json: pushView(relay.addPush(opts)) };
          } catch (err) {
            // Relay.addPush records the push before a listener target binds; remove it when that fails.
            for (const p of relay.listPushes()) if (!before.has(p.id)) relay.removePush(p.id);
            throw err;
          }
        },
      },
    },
    {
      path: '/api/v1/pushes/:id',
      methods: {
        GET({ relay, params }) {
          const id = parseId(params['id']!);
          const push = id === undefined ? undefined : relay.listPushes().find((p) => p.id === id);
          if (push === undefined) throw notFound(`no push '${params['id']}'`);
          return { status: 200, json: pushView(push) };
        },
        async PUT({ relay, params, body, cluster }) {
          // The same checks as POST, then the push is replaced under its id and restarts.
          const id = parseId(params['id']!);
          const old = id === undefined ? undefined : relay.listPushes().find((p) => p.id === id);
          if (old === undefined || id === undefined) throw notFound(`no push '${params['id']}'`);
          const opts = parsePushBody(await body(), 'updatePush');
          if (isFileTarget(opts.target)) checkFileTarget(opts.target, relay.recordingsRoot, { stream: opts.stream, node: relay.nodeId });
          const target = maskUrl(opts.target);
          const same = relay.listPushes().find((p) => p.id !== id && p.stream === opts.stream && p.target === target);
          if (same !== undefined) {
            throw conflict(`push ${same.id} already sends '${opts.stream}' to ${target}; edit or delete that one instead`, { push: same.id });
          }
          if (cluster !== undefined) {
            // Refused before it is shared: a listener or rendezvous port in use by anything but this push (409).
            const at = isFileTarget(opts.target) ? undefined : boundAddress(parseSrtUrl(opts.target));
            const was = isFileTarget(old.target) ? undefined : boundAddress(parseSrtUrl(old.target));
            if (at !== undefined && !(was !== undefined && was.host === at.host && was.port === at.port)) relay.ports.ensureFree(at.host, at.port);
            const push = await cluster.updatePush(id, opts);
            if (push === undefined) throw notFound('push was stored but not applied here; see the node\'s log');
            return { status: 200, json: pushView(push) };
          }
          // All or nothing: a target that cannot be set up (409 ERR_PORT_IN_USE) leaves the old push running.
          const push = relay.updatePush(id, opts);
          if (push === undefined) throw notFound(`no push '${params['id']}'`);
          return { status: 200, json: pushView(push) };
        },
        async DELETE({ relay, params, cluster }) {
          const id = parseId(params['id']!);
          const removed = id !== undefined && (cluster !== undefined ? await cluster.deletePush(id) : relay.removePush(id));
          if (!removed) throw notFound(`no push '${params['id']}'`);
          return { status: 204 };
        },
      },
    },
  ];
}
