/**
 * Lua scripts of the cluster layer, registered on the command connection with ioredis'
 * `defineCommand` (sent as EVAL the first time on a connection, EVALSHA afterwards, and again as
 * EVAL after a Redis restart: ioredis handles NOSCRIPT). Each script is one command on the wire
 * and runs atomically; every script does O(1) work except the node list (O(nodes)).
 *
 * Lease value (`stream:{NAME}:lease`): JSON `{"node": id, "epoch": n, "srt": "host:port"}`, plus
 * `"quiet": true` while the owner's publisher has sent no media for the stream's takeoverAfterMs.
 */
import type { ChainableCommander, Redis } from 'ioredis';

/**
 * claim. KEYS: lease, epoch. ARGV: node, srt, ttlMs, policy ('refuse'|'replace'), minEpoch,
 * routing channel, stream name.
 * - lease held by this node: renew it (same epoch, TTL reset) → {1, epoch}
 * - held by another node and policy refuse → {0, epoch, node, srt}, unless the lease is quiet
 * - free, expired, held by another with policy replace, or quiet: epoch = max(INCR epoch, minEpoch+1),
 *   SET lease PX ttl, PUBLISH a routing notice → {1, epoch[, prevNode, prevEpoch, prevSrt]}
 * Redis calls: GET, SET (self) | GET (refused) | GET, INCR, [SET epoch], SET, PUBLISH (new epoch).
 */
export const CLAIM_LUA = `
local cur = redis.call('GET', KEYS[1])
local prev = nil
if cur then
  local l = cjson.decode(cur)
  if l.node == ARGV[1] then
    redis.call('SET', KEYS[1], cjson.encode({node = ARGV[1], epoch = l.epoch, srt = ARGV[2]}), 'PX', ARGV[3])
    return {1, l.epoch}
  end
  if ARGV[4] ~= 'replace' and l.quiet ~= true then
    return {0, l.epoch, l.node, l.srt}
  end
  prev = l
end
local e = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[5])
if e <= floor then
  e = floor + 1
  redis.call('SET', KEYS[2], e)
end
redis.call('SET', KEYS[1], cjson.encode({node = ARGV[1], epoch = e, srt = ARGV[2]}), 'PX', ARGV[3])
local notice = {stream = ARGV[7], op = 'claim', node = ARGV[1], epoch = e, srtAddress = ARGV[2]}
if prev then notice.previous = prev.node end
redis.call('PUBLISH', ARGV[6], cjson.encode(notice))
if prev then
  return {1, e, prev.node, prev.epoch, prev.srt}
end
return {1, e}
`;

/**
 * renew (fenced). KEYS: lease, epoch. ARGV: node, epoch, ttlMs, srt.
 * - lease is ours with this epoch: PEXPIRE → 1
 * - lease gone but the epoch counter still equals ours (nobody claimed since it lapsed): SET it
 *   again with the same epoch → 2
 * - otherwise (another node or a newer epoch holds it): → 0, the caller is fenced
 * Redis calls: GET, PEXPIRE | GET, GET, SET | GET[, GET].
 */
export const RENEW_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local l = cjson.decode(cur)
  if l.node == ARGV[1] and tostring(l.epoch) == ARGV[2] then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return 1
  end
  return 0
end
if redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('SET', KEYS[1], cjson.encode({node = ARGV[1], epoch = tonumber(ARGV[2]), srt = ARGV[4]}), 'PX', ARGV[3])
  return 2
end
return 0
`;

/**
 * release (fenced). KEYS: lease. ARGV: node, epoch, routing channel, stream name.
 * Deletes the lease only if it is ours with this epoch, and publishes a routing notice → 1; else 0.
 * Redis calls: GET, DEL, PUBLISH | GET.
 */
export const RELEASE_LUA = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local l = cjson.decode(cur)
if l.node ~= ARGV[1] or tostring(l.epoch) ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[3], cjson.encode({stream = ARGV[4], op = 'release', node = ARGV[1], epoch = l.epoch}))
return 1
`;

/**
 * quiet (fenced). KEYS: lease. ARGV: node, epoch, '1'|'0', routing channel, stream name.
 * Marks the lease quiet (its publisher sends no media: a refuse-policy claim may take it over) or
 * not, keeping its TTL, and publishes a routing notice when that changed → 1; not ours → 0.
 * Redis calls: GET[, SET KEEPTTL, PUBLISH].
 */
export const QUIET_LUA = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local l = cjson.decode(cur)
if l.node ~= ARGV[1] or tostring(l.epoch) ~= ARGV[2] then return 0 end
local q = ARGV[3] == '1'
if (l.quiet == true) == q then return 1 end
if q then l.quiet = true else l.quiet = nil end
redis.call('SET', KEYS[1], cjson.encode(l), 'KEEPTTL')
redis.call('PUBLISH', ARGV[4], cjson.encode({stream = ARGV[5], op = 'quiet', node = ARGV[1], epoch = l.epoch, srtAddress = l.srt, quiet = q}))
return 1
`;

/**
 * heartbeat. KEYS: node hash, nodes sorted set. ARGV: node id, ttlMs, field, value, ...
 * HSET the fields plus `heartbeat` (Redis time, ms), PEXPIRE the hash, ZADD the id with score
 * now + ttl, and prune members whose score has passed. Returns the Redis time (ms).
 * Redis calls: TIME, HSET, PEXPIRE, ZADD, ZREMRANGEBYSCORE.
 */
export const HEARTBEAT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'heartbeat', now, unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)
return now
`;

/**
 * node list. KEYS: nodes sorted set. ARGV: key prefix of node hashes, node id or '' for all.
 * Returns {now, id1, {field, value, ...}, id2, {...}, ...} for live nodes (score ≥ now, hash present).
 * Redis calls: TIME, ZRANGEBYSCORE (or ZSCORE), one HGETALL per node.
 */
export const NODES_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids
if ARGV[2] ~= '' then
  local s = redis.call('ZSCORE', KEYS[1], ARGV[2])
  if s and tonumber(s) >= now then ids = {ARGV[2]} else ids = {} end
else
  ids = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
end
local out = {now}
for _, id in ipairs(ids) do
  local h = redis.call('HGETALL', ARGV[1] .. id)
  if #h > 0 then
    out[#out + 1] = id
    out[#out + 1] = h
  end
end
return out
`;

/**
 * config put. KEYS: hash. ARGV: field, JSON value, channel, kind, by.
 * HSET the field and PUBLISH `{kind, name, op: 'put', by}` unless the stored value is the same.
 * Returns 0 unchanged, 1 created, 2 changed. Redis calls: HGET[, HSET, PUBLISH].
 */
export const CONFIG_PUT_LUA = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], cjson.encode({kind = ARGV[4], name = ARGV[1], op = 'put', by = ARGV[5]}))
if old then return 2 end
return 1
`;

/**
 * config delete. KEYS: hash. ARGV: field, channel, kind, by.
 * HDEL the field and, if it existed, PUBLISH `{kind, name, op: 'delete', by}`. Returns 1 if it
 * existed, else 0. Redis calls: HDEL[, PUBLISH].
 */
export const CONFIG_DELETE_LUA = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('PUBLISH', ARGV[2], cjson.encode({kind = ARGV[3], name = ARGV[1], op = 'delete', by = ARGV[4]}))
return 1
`;

export const SCRIPTS = Object.freeze({
  srClaim: { numberOfKeys: 2, lua: CLAIM_LUA },
  srRenew: { numberOfKeys: 2, lua: RENEW_LUA },
  srRelease: { numberOfKeys: 1, lua: RELEASE_LUA },
  srQuiet: { numberOfKeys: 1, lua: QUIET_LUA },
  srHeartbeat: { numberOfKeys: 2, lua: HEARTBEAT_LUA },
  srNodes: { numberOfKeys: 1, lua: NODES_LUA },
  srConfigPut: { numberOfKeys: 1, lua: CONFIG_PUT_LUA },
  srConfigDelete: { numberOfKeys: 1, lua: CONFIG_DELETE_LUA },
} as const);

export type ScriptName = keyof typeof SCRIPTS;

const defined = new WeakSet<Redis>();

/** Registers every script on `redis` (once per connection object). */
export function defineScripts(redis: Redis): void {
  if (defined.has(redis)) return;
  for (const [name, def] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: def.numberOfKeys, lua: def.lua });
  defined.add(redis);
}

type ScriptArg = string | number;

/** Calls script `name` on a connection: one command. Resolves with the raw reply. */
export function callScript(redis: Redis, name: ScriptName, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
  defineScripts(redis);
  const fn = (redis as unknown as Record<string, (...a: ScriptArg[]) => Promise<unknown>>)[name];
  if (typeof fn !== 'function') throw new Error(`script ${name} is not defined on this connection`);
  return fn.call(redis, ...keys, ...args);
}

/** Queues script `name` on a pipeline (the pipeline's connection must have the scripts defined). */
export function queueScript(pipeline: ChainableCommander, name: ScriptName, keys: readonly string[], args: readonly ScriptArg[]): void {
  const fn = (pipeline as unknown as Record<string, (...a: ScriptArg[]) => unknown>)[name];
  if (typeof fn !== 'function') throw new Error(`script ${name} is not defined on this pipeline's connection`);
  fn.call(pipeline, ...keys, ...args);
}
