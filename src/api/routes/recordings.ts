/**
 * /api/v1/recordings: the finished segments of file:// pushes, read from the file system; and
 * /api/v1/recordings/file?path=: one file under recordingsRoot (a segment or a playlist),
 * downloaded. Like the live preview, a download needs the token whenever one is set.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, extname, relative } from 'node:path';
import parseRange from 'range-parser';
import { badRequest, notFound } from '../http.js';
import type { Route } from '../router.js';
import { isValidStreamName } from '../../streams/stream-name.js';
import { confine, realPathOfExisting, within } from '../../recording/target.js';
import type { DownloadTickets } from '../download-tickets.js';

/** What a recording file is served as, by extension; other files under recordingsRoot are not served. */
const TYPES: Readonly<Record<string, string>> = { '.ts': 'video/mp2t', '.m3u8': 'application/vnd.apple.mpegurl' };

/** The download route: it checks the token (or a ticket) itself, also for reads without protectReads. */
export const RECORDING_FILE_PATH = '/api/v1/recordings/file';

export interface RecordingRouteOptions {
  /** Throws ApiError 401 unless the request carries the API token (no-op without a token). */
  authorize: (req: IncomingMessage) => void;
  /** Tickets that let a plain link download one file (POST /api/v1/recordings/link). */
  tickets: DownloadTickets;
}

/** The file `rel` names under recordingsRoot, checked: its absolute path, type and size; throws 400/404 (ApiError). */
async function recordingFile(root: string | undefined, rel: string | null): Promise<{ abs: string; type: string; size: number; rel: string }> {
  if (rel === null || rel === '') throw badRequest('path is required: a recording\'s path relative to recordingsRoot, as GET /api/v1/recordings lists it', { field: 'path' });
  if (rel.startsWith('/') || rel.includes('\0')) throw badRequest(`path ${JSON.stringify(rel.slice(0, 200))} must be relative to recordingsRoot, as GET /api/v1/recordings lists it`, { field: 'path' });
  if (root === undefined) throw notFound('this node has no recordingsRoot, so no recordings');
  // ".." and symbolic links out of the root: 400 ERR_RECORDING_TARGET_INVALID.
  const abs = confine(root, rel);
  const type = TYPES[extname(abs).toLowerCase()];
  const st = await stat(abs).catch(() => undefined);
  if (type === undefined || st === undefined || !st.isFile() || !within(realPathOfExisting(abs), realPathOfExisting(root))) {
    throw notFound(`no recording '${rel.slice(0, 200)}' under recordingsRoot (segments .ts and playlists .m3u8 only)`);
  }
  return { abs, type, size: st.size, rel };
}

export function recordingRoutes(opts: RecordingRouteOptions): Route[] {
  return [
    {
      path: '/api/v1/recordings',
      methods: {
        async GET({ relay, req }) {
          const url = new URL(req.url ?? '/', 'http://localhost');
          const stream = url.searchParams.get('stream') ?? undefined;
          if (stream !== undefined && !isValidStreamName(stream)) throw badRequest(`stream ${JSON.stringify(stream.slice(0, 200))} is not a stream name`, { field: 'stream' });
          const recordings = (await relay.recordings.segments(stream)).map((s) => ({
            push: s.push,
            stream: s.stream,
            path: s.relativePath,
            start: s.start,
            durationSeconds: s.durationSeconds,
            bytes: s.bytes,
          }));
          return { status: 200, json: { recordings } };
        },
      },
    },
    {
      path: '/api/v1/recordings/link',
      methods: {
        async POST({ relay, req, body }) {
          opts.authorize(req);
          const b = await body();
          const rel = typeof b === 'object' && b !== null && typeof (b as { path?: unknown }).path === 'string' ? (b as { path: string }).path : null;
          const file = await recordingFile(relay.recordingsRoot, rel);
          const t = opts.tickets.issue(file.rel);
          return {
            status: 200,
            json: { url: `/api/v1/recordings/file?path=${encodeURIComponent(file.rel)}&ticket=${t.ticket}`, expiresAt: new Date(t.expiresAt).toISOString() },
          };
        },
      },
    },
    {
      path: RECORDING_FILE_PATH,
      methods: {
        async GET({ relay, req }) {
          const q = new URL(req.url ?? '/', 'http://localhost').searchParams;
          const ticket = q.get('ticket');
          // A ticket stands in for the token, for the one path it was issued for.
          if (ticket === null || !opts.tickets.allows(ticket, q.get('path') ?? '')) opts.authorize(req);
          const { abs, type, size } = await recordingFile(relay.recordingsRoot, q.get('path'));
          const root = relay.recordingsRoot!;
          const name = relative(root, abs).split('/').join('_') || basename(abs);
          // One byte range (`Range: bytes=a-b`, `a-`, `-n`) of the size at the stat: 206; a range
          // past the end: 416; several ranges or a malformed header: the whole file (RFC 9110 14.2).
          const ranges = req.headers.range === undefined ? undefined : parseRange(size, req.headers.range, { combine: true });
          const range = Array.isArray(ranges) && ranges.length === 1 && ranges.type === 'bytes' ? ranges[0]! : undefined;
          const unsatisfiable = ranges === -1;
          const headers = {
            'content-type': type,
            'content-disposition': `attachment; filename="${name.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
            'accept-ranges': 'bytes',
            'cache-control': 'no-store',
            'x-content-type-options': 'nosniff',
          };
          return {
            status: unsatisfiable ? 416 : range !== undefined ? 206 : 200,
            stream: (res: ServerResponse): void => {
              if (unsatisfiable) {
                res.writeHead(416, { ...headers, 'content-range': `bytes */${size}`, 'content-length': '0' });
                res.end();
                return;
              }
              const start = range?.start ?? 0;
              const end = range?.end ?? size - 1;
              res.writeHead(range !== undefined ? 206 : 200, {
                ...headers,
                'content-length': String(Math.max(0, end - start + 1)),
                ...(range !== undefined ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
              });
              if (res.req.method === 'HEAD' || size === 0) {
                res.end();
                return;
              }
              // The size at the stat: a segment still being written is served up to there.
              const file = createReadStream(abs, { start, end });
              file.on('error', () => res.destroy());
              res.on('close', () => file.destroy());
              file.pipe(res);
            },
          };
        },
      },
    },
  ];
}
