/**
 * GET /api/v1/streams/:name/ts: the live preview, the stream as MPEG-TS over chunked HTTP.
 *
 * No core change: for each request the API opens an SRT caller to this node's own SRT port with
 * the streamid `read:NAME` (and the stream's play passphrase), so it is an ordinary viewer
 * session of the stream: same ring, same keyframe join, counted in `viewers`, refused by
 * `limits.maxViewersPerStream` like any other viewer. Received messages are written to the
 * response in batches (one recvSlots call and one Buffer per batch); when the HTTP client goes
 * away the SRT caller is closed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SrtRejectedError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import { RING_SLOT_SIZE } from '../../ring/packet-ring.js';
import { SLOT_HEADER_BYTES } from '../../ring/slot-layout.js';
import type { SrtOptionValue } from '../../srt/options.js';
import { SrtSocket } from '../../srt/socket.js';
import type { PortDirection } from '../../supervisor/relay-api.js';
import { ApiError, notFound } from '../http.js';
import type { Route } from '../router.js';

/** An SRT port of this node, as the config gives it (srt.ports). */
export interface PreviewSrtPort {
  readonly host: string;
  readonly port: number;
  readonly direction: PortDirection;
  readonly stream?: string;
  readonly params: Readonly<Record<string, SrtOptionValue>>;
}

export interface PreviewOptions {
  logger: Logger;
  /** The node's SRT ports: the preview plays from the first one that serves viewers. */
  srtPorts: readonly PreviewSrtPort[];
  /** Throws ApiError 401 unless the request carries the API token (no-op without a token). */
  authorize: (req: IncomingMessage) => void;
}

/** Messages taken from the SRT socket per recvSlots call. */
const BATCH = 64;
/** How long the preview waits for the node's SRT port to accept it. */
const CONNECT_TIMEOUT_MS = 5000;

export interface PreviewRoutes {
  routes: Route[];
  /** Closes every open preview. Idempotent. */
  close(): void;
}

export function previewRoutes(opts: PreviewOptions): PreviewRoutes {
  const log = opts.logger.child({ component: 'preview' });
  const open = new Set<SrtSocket>();
  /** One receive slab for all previews: recvSlots fills it, the payloads are copied out at once. */
  const slab = new Uint8Array(BATCH * RING_SLOT_SIZE);
  const view = new DataView(slab.buffer);

  const routes: Route[] = [
    {
      path: '/api/v1/streams/:name/ts',
      methods: {
        async GET({ relay, params, req }) {
          // The preview is a viewer: it needs the token whenever one is set, protectReads or not.
          opts.authorize(req);
          const name = params['name']!;
          const stream = relay.getStream(name);
          if (stream === undefined) throw notFound(`no stream '${name}'`);
          const port = opts.srtPorts.find((p) => p.direction !== 'incoming' && (p.stream === undefined || p.stream === name));
          if (port === undefined) {
            throw notFound(`no SRT port of this node serves viewers of '${name}'; add one with direction "outgoing" or "both" to srt.ports`);
          }
          const sockParams: Record<string, SrtOptionValue> = { ...port.params, streamid: `read:${name}` };
          const play = stream.settings.passphrase?.play;
          if (play !== undefined && play !== '') sockParams['passphrase'] = play;
          const plog = log.child({ stream: name, peer: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}` });
          const socket = SrtSocket.create(sockParams);
          open.add(socket);
          let gone = false;
          const onGone = (): void => {
            if (gone) return;
            gone = true;
            socket.close();
            open.delete(socket);
          };
          // The client may go away while the caller connects: req 'close' fires then.
          req.socket.once('close', onGone);
          const host = port.host === '0.0.0.0' || port.host === '' ? '127.0.0.1' : port.host === '::' ? '::1' : port.host;
          let timer: NodeJS.Timeout | undefined;
          try {
            await Promise.race([
              socket.connect(host, port.port),
              new Promise<never>((_, reject) => {
                timer = setTimeout(() => reject(new ApiError(504, 'ERR_SRT_REJECTED', `the node's SRT port ${port.port} did not accept the preview within ${CONNECT_TIMEOUT_MS} ms; check that it listens on ${host}`)), CONNECT_TIMEOUT_MS);
              }),
            ]);
          } catch (err) {
            onGone();
            if (err instanceof SrtRejectedError) {
              // 1503: over the node's limits (maxViewersPerStream among them); 1429: handshake rate; 1404: not live.
              const status = err.reason === 1404 ? 404 : err.reason === 1429 || err.reason === 1503 ? 503 : 502;
              throw new ApiError(status, 'ERR_SRT_REJECTED', `the preview was refused by this node: ${err.message}`, { details: { reason: err.reason } });
            }
            throw err;
          } finally {
            clearTimeout(timer);
          }
          return {
            status: 200,
            stream: (res: ServerResponse): void => {
              res.once('close', onGone);
              if (gone) {
                res.destroy();
                return;
              }
              res.writeHead(200, { 'content-type': 'video/mp2t', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
              if (req.method === 'HEAD') {
                res.end();
                onGone();
                return;
              }
              res.flushHeaders();
              plog.info({ local: socket.localAddress().port }, 'preview started');
              let paused = false;
              const end = (): void => {
                if (!gone) {
                  plog.info('preview source closed');
                  res.end();
                }
                onGone();
              };
              const pump = (): void => {
                while (!gone && !paused) {
                  const r = socket.recvSlots(slab, RING_SLOT_SIZE, BATCH, 0, BATCH);
                  const count = r >= 0 ? r : -r - 1;
                  if (count > 0) {
                    let bytes = 0;
                    for (let i = 0; i < count; i++) bytes += view.getInt32(i * RING_SLOT_SIZE, true);
                    const chunk = Buffer.allocUnsafe(bytes);
                    let off = 0;
                    for (let i = 0; i < count; i++) {
                      const at = i * RING_SLOT_SIZE;
                      const len = view.getInt32(at, true);
                      chunk.set(slab.subarray(at + SLOT_HEADER_BYTES, at + SLOT_HEADER_BYTES + len), off);
                      off += len;
                    }
                    // A slow client: stop reading until it drains (the relay skips ahead for this viewer).
                    if (!res.write(chunk)) paused = true;
                  }
                  if (r < 0) {
                    end();
                    return;
                  }
                  if (count < BATCH) return;
                }
              };
              res.on('drain', () => {
                paused = false;
                pump();
              });
              socket.on({ readable: pump, closed: end });
              res.once('close', () => plog.info('preview ended'));
              pump();
            },
          };
        },
      },
    },
  ];
  return {
    routes,
    close(): void {
      for (const s of open) s.close();
      open.clear();
    },
  };
}
