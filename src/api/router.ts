/**
 * A small router: routes are path patterns (`/api/v1/streams/:name`) with a handler per method.
 * A `:param` matches exactly one path segment and is percent-decoded (so `%2F` puts a `/` into
 * a stream name); static segments match literally.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClusterBridge } from '../supervisor/cluster-bridge.js';
import type { RelayApi } from '../supervisor/relay-api.js';
import { ApiError, badRequest } from './http.js';

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE' | 'PATCH' | 'OPTIONS';

/** Methods that change state and need the bearer token when one is set. */
export const MUTATING_METHODS: ReadonlySet<string> = new Set(['PUT', 'POST', 'DELETE', 'PATCH']);

export interface RouteContext {
  readonly relay: RelayApi;
  /** Set on a cluster member: configuration changes go through the shared configuration. */
  readonly cluster?: ClusterBridge;
  /** The node's mediaRoot (absolute), when the config sets one. */
  readonly mediaRoot?: string;
  readonly req: IncomingMessage;
  readonly params: Readonly<Record<string, string>>;
  /** Reads and parses the JSON body (size and content-type checked). */
  body(): Promise<unknown>;
}

export type RouteResult =
  | { status: number; json?: unknown; headers?: Record<string, string> }
  | { status: number; text: string; contentType: string }
  /** A streamed answer (the live preview): `stream` writes the head and the body itself. */
  | { status: number; stream: (res: ServerResponse) => void };

export type Handler = (ctx: RouteContext) => Promise<RouteResult> | RouteResult;

export interface Route {
  readonly path: string;
  readonly methods: Readonly<Partial<Record<Method, Handler>>>;
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

interface Compiled {
  route: Route;
  segments: readonly string[];
}

export class Router {
  readonly #routes: Compiled[] = [];

  constructor(routes: readonly Route[]) {
    for (const route of routes) this.#routes.push({ route, segments: route.path.split('/').slice(1) });
  }

  /** The route patterns, in match order (`/api/v1/streams/:name`). */
  get paths(): string[] {
    return this.#routes.map((c) => c.route.path);
  }

  /** The route for a raw path (no query), or undefined. Throws 400 on bad percent-encoding. */
  match(path: string): RouteMatch | undefined {
    const parts = path.split('/').slice(1);
    for (const c of this.#routes) {
      if (c.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const pattern = c.segments[i]!;
        const part = parts[i]!;
        if (pattern.startsWith(':')) {
          if (part === '') ok = false;
          else params[pattern.slice(1)] = decodeSegment(part);
        } else if (pattern !== part) {
          ok = false;
        }
      }
      if (ok) return { route: c.route, params };
    }
    return undefined;
  }
}

function decodeSegment(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw badRequest('bad percent-encoding in the path: escapes are %XX with two hex digits of UTF-8');
  }
}

/** The handler for `method`, or a 405 listing the methods the route takes. */
export function handlerFor(route: Route, method: string): Handler {
  const h = route.methods[method as Method] ?? (method === 'HEAD' ? route.methods.GET : undefined);
  if (h !== undefined) return h;
  const methods = Object.keys(route.methods);
  if (route.methods.GET !== undefined) methods.splice(methods.indexOf('GET') + 1, 0, 'HEAD');
  const allow = methods.join(', ');
  throw new ApiError(405, 'ERR_API_METHOD_NOT_ALLOWED', `${method} is not allowed on ${route.path}; use ${allow}`, {
    headers: { allow },
  });
}
