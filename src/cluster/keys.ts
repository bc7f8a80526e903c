/**
 * Redis key and channel names of the cluster layer. Everything lives under one prefix (default
 * `srt-relay:`), so several clusters can share a database and
 * `redis-cli --scan --pattern 'srt-relay:*'` shows exactly one cluster's keys.
 *
 * | name                           | type           | written by                      | lifetime                              |
 * | ------------------------------ | -------------- | ------------------------------- | ------------------------------------- |
 * | `node:<id>`                    | hash           | NodeRegistry heartbeat          | PEXPIRE node TTL (3000 ms)            |
 * | `nodes`                        | sorted set     | NodeRegistry heartbeat          | member = node id, score = expiry (ms) |
 * | `stream:{<name>}:lease`        | string (JSON)  | StreamLeases claim/renew        | PX lease TTL (3000 ms)                |
 * | `stream:{<name>}:epoch`        | integer        | StreamLeases claim (INCR)       | kept: the fencing counter             |
 * | `config:streams`               | hash           | ConfigStore (name → JSON)       | kept                                  |
 * | `config:pushes`                | hash           | ConfigStore (push id → JSON)    | kept                                  |
 * | `config:auth`                  | hash           | ConfigStore (setting → JSON)    | kept                                  |
 * | channel `config-changed`       | pub/sub        | ConfigStore on every change     |                                       |
 * | channel `routing-changed`      | pub/sub        | claim (new epoch) and release   |                                       |
 *
 * Node list: a sorted set, not SCAN. `nodes` holds every node id with score = the time its entry
 * expires (Redis server time + TTL, so node clocks do not matter). Listing the live nodes is
 * `ZRANGEBYSCORE nodes <now> +inf` plus one HGETALL per node: O(log N + nodes), independent of
 * how many other keys the database holds, where SCAN would walk the whole keyspace. The
 * `node:<id>` hash expires by itself, so a node that dies disappears even if nobody prunes the
 * set; heartbeats prune members whose score has passed.
 *
 * Stream keys put the name in braces: a Redis Cluster hash tag, so a stream's lease and epoch
 * keys live in the same slot and the claim script may touch both. Stream names are
 * `A-Z a-z 0-9 . _ ~ + -` with inner `/` (src/config/load.ts), so they never contain braces or
 * colons and the key names cannot collide.
 */

export const DEFAULT_KEY_PREFIX = 'srt-relay:';

export interface ClusterKeys {
  /** The prefix every name starts with, e.g. `srt-relay:`. */
  readonly prefix: string;
  /** `node:<id>`: hash of one node's addresses and load. */
  node(id: string): string;
  /** `nodes`: sorted set, member = node id, score = expiry time in ms (Redis clock). */
  readonly nodes: string;
  /** `stream:{<name>}:lease`: JSON `{node, epoch, srt}` with a PX TTL. */
  streamLease(name: string): string;
  /** `stream:{<name>}:epoch`: the stream's fencing counter (INCR on every change of owner). */
  streamEpoch(name: string): string;
  /** SCAN pattern matching every lease key. */
  readonly leasePattern: string;
  /** The stream name of a lease key, or undefined for another key. */
  streamOfLeaseKey(key: string): string | undefined;
  /** `config:streams`: hash stream name → JSON stream settings. */
  readonly configStreams: string;
  /** `config:pushes`: hash push id → JSON push. */
  readonly configPushes: string;
  /** `config:auth`: hash setting name (`webhook`, `timeoutMs`, `cacheMs`, `hold`) → JSON value. */
  readonly configAuth: string;
  /** Channel of `{kind, name, op, by}` notices, one per config change. */
  readonly configChanged: string;
  /** Channel of `{stream, op, node, epoch, srtAddress}` notices, one per claim with a new epoch and per release. */
  readonly routingChanged: string;
}

/** Characters SCAN/KEYS patterns treat specially. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

function checkStreamName(name: string): string {
  if (name === '' || /[{}]/.test(name)) {
    throw new TypeError(`stream name ${JSON.stringify(name)} cannot be used in a Redis key (empty or has braces)`);
  }
  return name;
}

/** The key names under `prefix` (default `srt-relay:`). */
export function clusterKeys(prefix: string = DEFAULT_KEY_PREFIX): ClusterKeys {
  const leaseHead = `${prefix}stream:{`;
  const leaseTail = '}:lease';
  return Object.freeze({
    prefix,
    node: (id: string) => `${prefix}node:${id}`,
    nodes: `${prefix}nodes`,
    streamLease: (name: string) => `${leaseHead}${checkStreamName(name)}${leaseTail}`,
    streamEpoch: (name: string) => `${prefix}stream:{${checkStreamName(name)}}:epoch`,
    leasePattern: `${globEscape(leaseHead)}*${leaseTail}`,
    streamOfLeaseKey(key: string): string | undefined {
      if (!key.startsWith(leaseHead) || !key.endsWith(leaseTail)) return undefined;
      const name = key.slice(leaseHead.length, key.length - leaseTail.length);
      return name === '' ? undefined : name;
    },
    configStreams: `${prefix}config:streams`,
    configPushes: `${prefix}config:pushes`,
    configAuth: `${prefix}config:auth`,
    configChanged: `${prefix}config-changed`,
    routingChanged: `${prefix}routing-changed`,
  });
}
