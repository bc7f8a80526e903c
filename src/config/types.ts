/**
 * Types of the relay configuration: `RelayConfigInput` is what a config file may contain
 * (schema/config.schema.json describes the same shape, with documentation), `RelayConfig` is the
 * checked, normalized result of `loadConfig` (every default filled in, deeply frozen).
 */
import type { SrtOptionValue } from '../srt/options.js';
import type { FileTarget } from '../recording/target.js';
import type { SrtUrl } from '../srt/url.js';
import type { GateDialects } from '../srt/streamid.js';
import type { LatencyInput, StreamLatency } from './latency-policy.js';

export const LOG_LEVELS = Object.freeze(['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const);
export type LogLevel = (typeof LOG_LEVELS)[number];

export const PORT_DIRECTIONS = Object.freeze(['incoming', 'outgoing', 'both'] as const);
/** `incoming`: peers publish; `outgoing`: peers play; `both`: chosen by the streamid. */
export type PortDirection = (typeof PORT_DIRECTIONS)[number];

export const ACCEPT_STREAM_IDS = Object.freeze(['wildcard', 'ignore', 'refuse'] as const);
export type AcceptStreamIds = (typeof ACCEPT_STREAM_IDS)[number];

export const PUBLISHER_CONFLICT = Object.freeze(['refuse', 'replace'] as const);
export type PublisherConflict = (typeof PUBLISHER_CONFLICT)[number];

/** SRT options as written in a config: an object of name → value, or `"latency=200&tlpktdrop=0"`. */
export type SrtParamsInput = Record<string, string | number | boolean> | string;

// ---------------------------------------------------------------------------------------------
// input: what the JSON file may contain (all optional except where the schema requires)

export interface LimitsInput {
  maxSessions?: number;
  maxStreams?: number;
  maxBitrateMbps?: number;
  maxSessionsPerHost?: number;
  handshakesPerSecondPerHost?: number;
  handshakesPerSecond?: number;
  exemptHosts?: string[];
  maxViewersPerStream?: number;
  maxRingMemoryMb?: number;
  maxWildcardStreams?: number;
}

export interface SrtPortInput {
  port: number;
  host?: string;
  direction: PortDirection;
  stream?: string;
  streamIds?: { domains?: Record<string, 'publish' | 'play' | 'both'> };
  streamIdless?: { default?: string; byAddress?: Record<string, string>; direction?: 'publish' | 'play' };
  params?: SrtParamsInput;
  reusePort?: number;
}

/** `srtla`: the SRTLA bonded-ingest receiver (docs/srtla.md). */
export interface SrtlaInput {
  port: number;
  host?: string;
  maxGroups?: number;
  maxLinksPerGroup?: number;
  linkTimeoutMs?: number;
  groupTimeoutMs?: number;
  socketBufferBytes?: number;
}

export interface ApiInput {
  port?: number;
  host?: string;
  token?: string;
  /** With a token: GETs need it too (all but /healthz). */
  protectReads?: boolean;
}

export interface PassphraseInput {
  publish?: string;
  play?: string;
}

export interface StreamInput {
  /** `push://`, `srt://host:port?...`, `srt://:port?...`, `file:///abs.ts` or `file://rel.ts`. */
  source?: string;
  /** Primary first, then backups; wins over `source`. */
  sources?: string[];
  loop?: boolean;
  simulatedLive?: boolean;
  join?: 'keyframe' | 'live';
  bufferTimeMs?: number;
  acceptStreamIds?: AcceptStreamIds;
  alwaysOn?: boolean;
  passphrase?: PassphraseInput;
  onPublisherConflict?: PublisherConflict;
  /** Under "refuse": a publisher silent this long may be taken over by a new one (0 = never). */
  takeoverAfterMs?: number;
  raw?: boolean;
  idleTimeoutMs?: number;
  failoverTimeoutMs?: number;
  /** Latency policy of the stream's callers, ms (docs/streams.md#latency-policy). */
  latency?: LatencyInput;
}

export interface PushInput {
  stream: string;
  target: string;
  auto?: boolean;
}

export interface AuthInput {
  webhook?: string;
  timeoutMs?: number;
  cacheMs?: number;
  hold?: boolean;
}

/** The contents of a config file (schema/config.schema.json). */
export interface RelayConfigInput {
  /** For editors; ignored. */
  $schema?: string;
  nodeId?: string;
  logLevel?: LogLevel;
  workers?: number;
  limits?: LimitsInput;
  srt?: { ports?: SrtPortInput[] };
  srtla?: SrtlaInput;
  api?: ApiInput;
  metrics?: MetricsConfig;
  /** Stream name → stream; the key `dynamic` (a boolean) is the dynamic-publishing switch. */
  streams?: Record<string, StreamInput | boolean>;
  pushes?: PushInput[];
  auth?: AuthInput;
  redis?: string;
  cluster?: ClusterInput;
  mediaRoot?: string;
  /** Folder file:// push targets (recordings) write under. */
  recordingsRoot?: string;
}

export interface ClusterInput {
  secret?: string;
  internalPort?: number;
  internalHost?: string;
  advertiseHost?: string;
  keyPrefix?: string;
  idleTimeoutMs?: number;
  routingRefreshMs?: number;
}

/** Values from command-line flags; they win over the file. Produced by `parseCliArgs`. */
export interface CliOverrides {
  /** `--srt-port`: replaces the port of the first `srt.ports` entry (or creates the default one). */
  srtPort?: number;
  /** `--srt-host`: the address of the first `srt.ports` entry (or of the default one it creates). */
  srtHost?: string;
  /** `--api-port` */
  apiPort?: number;
  /** `--api-host` */
  apiHost?: string;
  /** `--node-id` */
  nodeId?: string;
  /** `--log-level` */
  logLevel?: LogLevel;
  /** `--workers` */
  workers?: number;
  /** `--redis` (or the environment: SRT_RELAY_REDIS, SRT_RELAY_REDIS_FILE) */
  redis?: string;
  /** `--cluster-secret` (or the environment: SRT_RELAY_CLUSTER_SECRET, SRT_RELAY_CLUSTER_SECRET_FILE) */
  clusterSecret?: string;
  /** Where a value came from when not from its flag: the environment variable's name (e.g. `srtPort: 'SRT_RELAY_SRT_PORT'`). */
  from?: { readonly [K in Exclude<keyof CliOverrides, 'from'>]?: string };
  /** `--internal-port` */
  internalPort?: number;
  /** `--advertise-host` */
  advertiseHost?: string;
  /** `--srtla-port`: sets `srtla.port` (and turns the SRTLA receiver on). */
  srtlaPort?: number;
}

// ---------------------------------------------------------------------------------------------
// normalized: what loadConfig returns (deeply frozen)

export interface Limits {
  /** undefined = unlimited. */
  readonly maxSessions?: number;
  /** undefined = unlimited. */
  readonly maxStreams?: number;
  /** undefined = unlimited. */
  readonly maxBitrateMbps?: number;
  /** 0 = unlimited. */
  readonly maxSessionsPerHost: number;
  /** 0 = unlimited. */
  readonly handshakesPerSecondPerHost: number;
  /** 0 = unlimited. */
  readonly handshakesPerSecond: number;
  readonly exemptHosts: readonly string[];
  /** undefined = unlimited. */
  readonly maxViewersPerStream?: number;
  readonly maxRingMemoryMb: number;
  readonly maxWildcardStreams: number;
}

export interface SrtPortConfig {
  readonly port: number;
  /** Bind address; IPv6 without brackets. Default '0.0.0.0'. */
  readonly host: string;
  readonly direction: PortDirection;
  /** The one stream this port serves/ingests, whatever the streamid says. */
  readonly stream?: string;
  /** Stream-id domains and the no-streamid map (src/srt/streamid.ts GateDialects); absent when neither is set. */
  readonly dialects?: GateDialects;
  /** Checked SRT options (catalog names, typed values) for every connection on the port. */
  readonly params: Readonly<Record<string, SrtOptionValue>>;
  /** Number of SO_REUSEPORT listeners, 1..16. Default min(workers, 16). */
  readonly reusePort: number;
}

/** `metrics`: per-session series 'auto' (up to sessionSeriesLimit open sessions), on or off. */
export interface MetricsConfig {
  readonly sessionSeries?: boolean | 'auto';
  readonly sessionSeriesLimit?: number;
}

export interface ApiConfig {
  readonly port: number;
  readonly host: string;
  readonly token?: string;
  readonly protectReads: boolean;
}

export type StreamSource =
  | { readonly kind: 'push' }
  | { readonly kind: 'srt'; readonly url: SrtUrl }
  /** `path` is absolute (a relative file:// path is resolved against the config file's directory). */
  | { readonly kind: 'file'; readonly path: string };

export interface StreamPassphrases {
  readonly publish?: string;
  readonly play?: string;
}

export interface StreamConfig {
  readonly name: string;
  readonly source: StreamSource;
  readonly bufferTimeMs: number;
  readonly acceptStreamIds: AcceptStreamIds;
  readonly alwaysOn: boolean;
  /** Primary first, then backups; `source` is sources[0]. */
  readonly sources: readonly StreamSource[];
  readonly loop: boolean;
  readonly simulatedLive: boolean;
  readonly join: 'keyframe' | 'live';
  readonly passphrase: StreamPassphrases;
  readonly onPublisherConflict: PublisherConflict;
  readonly takeoverAfterMs: number;
  readonly raw: boolean;
  readonly idleTimeoutMs: number;
  readonly failoverTimeoutMs: number;
  /** Per-direction latency policy ({} = the ports' own latency for every caller). */
  readonly latency: StreamLatency;
}

export interface PushConfig {
  readonly stream: string;
  /** An srt:// URL, or a file:// recording target (src/recording/target.ts). */
  readonly target: SrtUrl | FileTarget;
  /** Retry/restart whenever the push fails or ends; false = run once. Default false. */
  readonly auto: boolean;
}

export interface AuthConfig {
  readonly webhook?: string;
  readonly timeoutMs: number;
  readonly cacheMs: number;
  /** Held admission (docs/auth.md). */
  readonly hold: boolean;
}

/** The checked configuration, every default filled in, deeply frozen. */
export interface ClusterConfig {
  /** Shared secret (≥ 16 characters); the internal links' passphrase is derived from it. */
  readonly secret: string;
  /** UDP port of the internal SRT listener (default: first SRT port + 1). */
  readonly internalPort: number;
  /** Address the internal listener binds (default 0.0.0.0). */
  readonly internalHost: string;
  /** Host the other nodes reach this node at (internal listener and API). */
  readonly advertiseHost: string;
  /** Redis key prefix (default `srt-relay:`). */
  readonly keyPrefix: string;
  /** Pull from the owner kept this long after the last local viewer left. */
  readonly idleTimeoutMs: number;
  /** Full re-read of the routing table (catches leases that expired silently). */
  readonly routingRefreshMs: number;
}

export interface RelayConfig {
  readonly nodeId: string;
  readonly logLevel: LogLevel;
  readonly workers: number;
  readonly limits: Limits;
  readonly srt: { readonly ports: readonly SrtPortConfig[] };
  /** The SRTLA receiver; undefined = off. Limits left out take SrtlaServer's defaults. */
  readonly srtla?: Readonly<SrtlaInput> & { readonly host: string };
  readonly api: ApiConfig;
  readonly metrics: Required<MetricsConfig>;
  readonly streams: Readonly<Record<string, StreamConfig>>;
  /** `streams.dynamic` (default true): publishes to names not in `streams` create a stream. */
  readonly dynamicStreams: boolean;
  readonly pushes: readonly PushConfig[];
  readonly auth: AuthConfig;
  /** redis:// or rediss:// URL; undefined = single node without Redis. */
  readonly redis?: string;
  /** Absolute directory every file:// source must be inside; undefined = anywhere. */
  readonly mediaRoot?: string;
  /** Absolute folder file:// pushes (recordings) write under; undefined = no recordings. */
  readonly recordingsRoot?: string;
  /** Cluster settings; present exactly when `redis` is set. */
  readonly cluster?: ClusterConfig;
  /** Absolute path of the file the config was read from; undefined for defaults only. */
  readonly configFile?: string;
}

/** A checked source written back as text (`push://`, the srt:// URL, `file://` + absolute path). */
export function sourceText(s: StreamSource): string {
  switch (s.kind) {
    case 'push':
      return 'push://';
    case 'srt':
      return s.url.raw;
    case 'file':
      return `file://${s.path}`;
  }
}
