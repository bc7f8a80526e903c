/**
 * The cluster layer (`--redis`): node registry, stream leases with fencing epochs, the shared
 * configuration in Redis, Redis health, and the `ClusterMember` facade that ties them together.
 * See docs/deploy.md for the behaviour, src/cluster/keys.ts for the Redis layout.
 */
export { ClusterMember, type ClusterMemberOptions, type ClusterMemberEvents } from './cluster-member.js';
export { ClusterBus, type ConfigKind, type ConfigNotice, type RoutingNotice } from './bus.js';
export {
  ConfigStore,
  AUTH_SETTINGS,
  pushId,
  canonicalStream,
  canonicalPush,
  canonicalAuthSetting,
  canonicalClusterConfig,
  clusterConfigFrom,
  type AuthSetting,
  type ClusterConfig,
  type ConfigChange,
  type ConfigValidators,
  type ImportSummary,
  type PutResult,
} from './config-store.js';
export { CommandCounter, type CommandCounts } from './counter.js';
export {
  ClusterFencedError,
  ClusterUnavailableError,
  REJECT_CLUSTER_CONFLICT,
  REJECT_CLUSTER_UNAVAILABLE,
  classifyRedisError,
} from './errors.js';
export {
  INTERNAL_STREAM_TYPE,
  formatInternalStreamId,
  internalPassphrase,
  internalPullUrl,
  parseInternalStreamId,
  splitHostPort,
  type InternalStreamId,
} from './internal-link.js';
export { DEFAULT_KEY_PREFIX, clusterKeys, type ClusterKeys } from './keys.js';
export {
  StreamLeases,
  type ClaimOptions,
  type ClaimResult,
  type ConflictPolicy,
  type LeaseLost,
  type LeaseOwner,
  type StreamLease,
} from './lease.js';
export {
  RedisHealth,
  createCommandConnection,
  createSubscriberConnection,
  redisBackoff,
  type RedisConnectionOptions,
  type RedisState,
} from './redis-health.js';
export { NodeRegistry, cpuSampler, type NodeAddresses, type NodeInfo, type NodeLoad } from './registry.js';
