/**
 * The internal link: how one node pulls a stream from the node that owns it (holds its lease).
 *
 * - Address: the owner's `srtAddress` from its lease (and its registry entry), `host:port` of an
 *   SRT listener the owner keeps for other nodes.
 * - Authentication: every internal connection is encrypted with `internalPassphrase(secret)`,
 *   a passphrase derived from the cluster secret (HMAC-SHA256, 43 characters), with AES-256
 *   (`pbkeylen=32`). A peer without the secret fails the handshake (SRT_REJ_BADSECRET): put the
 *   passphrase on the internal listener, so no stream's own passphrase is involved.
 * - Stream id, its own form: `#!::r=<stream>,m=request,t=srt-relay-cluster,u=<node id>[,s=<epoch>]`.
 *   It is a standard SRT access-control streamid (the gate reads `r` and `m` as for any
 *   viewer), and `t=srt-relay-cluster` + `u` tell the owner it is a member pulling, for logs,
 *   limits and "one internal pull per stream per node". `s` is the owner's epoch the puller saw.
 */
import { createHmac } from 'node:crypto';
import { ConfigInvalidError } from '../errors.js';

/** Value of `t=` in internal stream ids. */
export const INTERNAL_STREAM_TYPE = 'srt-relay-cluster';
/** Shortest cluster secret accepted. */
export const MIN_CLUSTER_SECRET_LENGTH = 16;

export interface InternalStreamId {
  /** The stream to pull. */
  readonly stream: string;
  /** Id of the node that pulls. */
  readonly node: string;
  /** The owner's epoch when the pull started. */
  readonly epoch?: number;
}

/** The SRT passphrase of internal links, derived from the cluster secret. Throws ERR_CONFIG_INVALID if too short. */
export function internalPassphrase(clusterSecret: string): string {
  if (typeof clusterSecret !== 'string' || clusterSecret.length < MIN_CLUSTER_SECRET_LENGTH) {
    throw new ConfigInvalidError(
      `the cluster secret must be at least ${MIN_CLUSTER_SECRET_LENGTH} characters, the same on every node`,
      'clusterSecret',
    );
  }
  return createHmac('sha256', clusterSecret).update('srt-relay internal link v1').digest('base64url');
}

const SAFE = /^[^,=#\s]+$/;

/** `#!::r=<stream>,m=request,t=srt-relay-cluster,u=<node>[,s=<epoch>]`. */
export function formatInternalStreamId(id: InternalStreamId): string {
  if (!SAFE.test(id.stream) || !SAFE.test(id.node)) {
    throw new TypeError('stream names and node ids in an internal stream id may not contain ",", "=", "#" or spaces');
  }
  const epoch = id.epoch === undefined ? '' : `,s=${id.epoch}`;
  return `#!::r=${id.stream},m=request,t=${INTERNAL_STREAM_TYPE},u=${id.node}${epoch}`;
}

/** Parses an internal stream id; undefined for any other stream id (a normal viewer or publisher). */
export function parseInternalStreamId(streamid: string): InternalStreamId | undefined {
  if (!streamid.startsWith('#!::')) return undefined;
  const fields = new Map<string, string>();
  for (const part of streamid.slice(4).split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  if (fields.get('t') !== INTERNAL_STREAM_TYPE) return undefined;
  const stream = fields.get('r');
  const node = fields.get('u');
  if (stream === undefined || stream === '' || node === undefined || node === '' || fields.get('m') !== 'request') return undefined;
  const s = fields.get('s');
  const epoch = s !== undefined && /^[0-9]{1,15}$/.test(s) ? Number(s) : undefined;
  return { stream, node, ...(epoch !== undefined ? { epoch } : {}) };
}

/** Splits `host:port` or `[v6]:port`. Throws TypeError when malformed. */
export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(address);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || !(port >= 1 && port <= 65535)) {
    throw new TypeError(`not a host:port address: ${JSON.stringify(address)} (write 10.0.0.5:8890 or [2001:db8::5]:8890)`);
  }
  return { host: (m[1] ?? m[2])!, port };
}

export interface InternalPullOptions {
  /** `host:port` of the owner's internal listener (`LeaseOwner.srtAddress`). */
  readonly ownerAddress: string;
  readonly stream: string;
  /** This node's id. */
  readonly nodeId: string;
  /** `internalPassphrase(clusterSecret)`. */
  readonly passphrase: string;
  /** The owner's epoch (goes into `s=`). */
  readonly epoch?: number;
  /** SRT latency of the internal hop, ms. Default 120 (nodes are close to each other). */
  readonly latencyMs?: number;
}

/** The srt:// caller URL a node pulls `stream` from its owner with (for Relay's srt:// pull). */
export function internalPullUrl(o: InternalPullOptions): string {
  const { host, port } = splitHostPort(o.ownerAddress);
  const h = host.includes(':') ? `[${host}]` : host;
  const sid = formatInternalStreamId({ stream: o.stream, node: o.nodeId, ...(o.epoch !== undefined ? { epoch: o.epoch } : {}) });
  const q = [
    `streamid=${encodeURIComponent(sid)}`,
    `passphrase=${encodeURIComponent(o.passphrase)}`,
    'pbkeylen=32',
    `latency=${o.latencyMs ?? 120}`,
  ];
  return `srt://${h}:${port}?mode=caller&${q.join('&')}`;
}
