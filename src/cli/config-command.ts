/**
 * `srt-relay config import FILE` and `srt-relay config export`: move the shared configuration
 * (streams, pushes, auth) between a config file and the cluster's Redis.
 *
 * - import: reads FILE with the relay's own loader (`loadConfig`: every check a node applies at
 *   start), and writes its streams, pushes and auth settings to Redis in one transaction. By
 *   default Redis then holds exactly the file's entries (others are deleted); `--merge` keeps
 *   entries the file does not name. Every running member applies the changes live.
 * - export: prints the stored streams, pushes and auth as JSON, a config-file fragment that
 *   import accepts back. Secrets (passphrases, the webhook's password and key) are `***` unless
 *   `--show-secrets` (a backup to import back needs them); `--mask-secrets` is the default.
 */
import { hostname } from 'node:os';
import { loadConfig } from '../config/load.js';
import { isSrtRelayError } from '../errors.js';
import { maskText, maskUrl, printable } from '../config/secrets.js';
import { ClusterUnavailableError } from '../cluster/errors.js';
import { quitConnection } from '../cluster/bus.js';
import { ConfigStore, clusterConfigFrom } from '../cluster/config-store.js';
import { CommandCounter } from '../cluster/counter.js';
import { clusterKeys, DEFAULT_KEY_PREFIX } from '../cluster/keys.js';
import { RedisHealth, createCommandConnection } from '../cluster/redis-health.js';

export const CONFIG_COMMAND_USAGE = `usage: srt-relay config import [--merge] FILE --redis redis://host:port/db
       srt-relay config export [--show-secrets] --redis redis://host:port/db

import  checks FILE like a node does at start and writes its streams, pushes and
        auth settings to Redis; every running node applies the changes live.
        Without --merge, stored entries FILE does not name are deleted.
export  prints the stored streams, pushes and auth settings as JSON (a config
        file fragment import accepts). Secrets are shown as "***" unless
        --show-secrets (needed for a backup to import back).

Exit status: 0 done, 1 Redis unavailable, 2 bad usage or invalid FILE.
`;

export interface ConfigCommandOptions {
  /** Key prefix (default `srt-relay:`). */
  keyPrefix?: string;
  /** How long to wait for Redis. Default 3000 ms. */
  connectTimeoutMs?: number;
}

function fail(err: NodeJS.WritableStream, e: unknown): number {
  err.write(`${isSrtRelayError(e) ? `error ${e.code}: ` : ''}${maskText((e as Error).message)}\n`);
  return e instanceof ClusterUnavailableError ? 1 : isSrtRelayError(e) ? 2 : 1;
}

/**
 * Runs `config import|export` (`args` are the words after `config`). Returns the exit status:
 * 0 done, 1 Redis unavailable (or an unexpected error), 2 bad usage or an invalid file.
 */
export async function runConfigCommand(
  args: string[],
  redisUrl: string | undefined,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  opts: ConfigCommandOptions = {},
): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    (sub === undefined ? err : out).write(CONFIG_COMMAND_USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'import' && sub !== 'export') {
    err.write(`unknown config command '${sub}'\n\n${CONFIG_COMMAND_USAGE}`);
    return 2;
  }
  let merge = false;
  let show = false;
  const positional: string[] = [];
  for (const a of rest) {
    if (a === '--merge' && sub === 'import') merge = true;
    else if (a === '--show-secrets' && sub === 'export') show = true;
    else if (a === '--mask-secrets' && sub === 'export') show = false; // the default; kept for old scripts
    else if (a.startsWith('-')) {
      err.write(`unknown option '${a}' for config ${sub}\n\n${CONFIG_COMMAND_USAGE}`);
      return 2;
    } else positional.push(a);
  }
  if ((sub === 'import' && positional.length !== 1) || (sub === 'export' && positional.length !== 0)) {
    err.write(`config ${sub} ${sub === 'import' ? 'takes one FILE' : 'takes no file'}\n\n${CONFIG_COMMAND_USAGE}`);
    return 2;
  }
  if (redisUrl === undefined || redisUrl === '') {
    err.write(`config ${sub} needs the cluster's Redis: --redis redis://host:port/db (or "redis" in the config file)\n`);
    return 2;
  }

  // Check the file before touching Redis.
  let shared;
  if (sub === 'import') {
    try {
      shared = clusterConfigFrom(await loadConfig({ file: positional[0]! }));
    } catch (e) {
      return fail(err, e);
    }
  }

  const keys = clusterKeys(opts.keyPrefix ?? DEFAULT_KEY_PREFIX);
  const redis = createCommandConnection(redisUrl, { connectionName: 'srt-relay:config-cli', maxBackoffMs: 500 });
  const health = new RedisHealth(redis, { probeMs: 0 });
  const counter = new CommandCounter();
  try {
    redis.connect().catch(() => undefined);
    const waitMs = opts.connectTimeoutMs ?? 3000;
    if (!(await health.waitReady(waitMs))) {
      throw new ClusterUnavailableError(
        `config ${sub}`,
        `${health.reason ?? 'no connection'}; Redis at ${maskUrl(redisUrl)} not reachable within ${waitMs} ms`,
      );
    }
    const store = new ConfigStore({ redis, keys, health, counter, nodeId: `cli:${hostname()}:${process.pid}` });
    if (sub === 'import') {
      const s = await store.importConfig(shared, { mode: merge ? 'merge' : 'replace' });
      out.write(
        `imported into ${maskUrl(redisUrl)}: ${s.created} created, ${s.changed} changed, ${s.unchanged} unchanged, ${s.deleted} deleted\n`,
      );
    } else {
      const cfg = await store.exportConfig();
      out.write(`${printable(cfg, show)}\n`);
    }
    return 0;
  } catch (e) {
    return fail(err, e);
  } finally {
    health.close();
    await quitConnection(redis);
    health.detach();
  }
}
