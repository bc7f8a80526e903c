/** /api/v1/pushes: list, add, remove. */
import { redactSrtUrl } from '../../srt/url.js';
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
        async POST({ relay, body }) {
          const opts = parsePushBody(await body());
          const target = redactSrtUrl(opts.target);
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
        DELETE({ relay, params }) {
          const id = parseId(params['id']!);
          if (id === undefined || !relay.removePush(id)) throw notFound(`no push '${params['id']}'`);
          return { status: 204 };
        },
      },
    },
  ];
}
