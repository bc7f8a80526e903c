/** /api/v1/sessions: list with statistics, kick. */
import { notFound } from '../http.js';
import type { Route } from '../router.js';
import { parseId } from '../validate.js';
import { sessionView, statsSnapshot } from '../views.js';

export function sessionRoutes(): Route[] {
  return [
    {
      path: '/api/v1/sessions',
      methods: {
        async GET({ relay }) {
          const stats = await statsSnapshot(relay);
          return { status: 200, json: { sessions: relay.listSessions().map((s) => sessionView(s, stats, relay)) } };
        },
      },
    },
    {
      path: '/api/v1/sessions/:id',
      methods: {
        async GET({ relay, params }) {
          const id = parseId(params['id']!);
          const info = id === undefined ? undefined : relay.listSessions().find((s) => s.id === id);
          if (info === undefined) throw notFound(`no session '${params['id']}'`);
          return { status: 200, json: sessionView(info, await statsSnapshot(relay), relay) };
        },
        DELETE({ relay, params }) {
          const id = parseId(params['id']!);
          if (id === undefined || !relay.kickSession(id)) throw notFound(`no session '${params['id']}'`);
          return { status: 204 };
        },
      },
    },
  ];
}
