/** /api/v1/recordings: the finished segments of file:// pushes, read from the file system. */
import { badRequest } from '../http.js';
import type { Route } from '../router.js';
import { isValidStreamName } from '../../streams/stream-name.js';

export function recordingRoutes(): Route[] {
  return [
    {
      path: '/api/v1/recordings',
      methods: {
        GET({ relay, req }) {
          const url = new URL(req.url ?? '/', 'http://localhost');
          const stream = url.searchParams.get('stream') ?? undefined;
          if (stream !== undefined && !isValidStreamName(stream)) throw badRequest(`stream ${JSON.stringify(stream.slice(0, 200))} is not a stream name`, { field: 'stream' });
          const recordings = relay.recordings.segments(stream).map((s) => ({
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
  ];
}
