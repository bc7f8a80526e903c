/**
 * Reloading the config file of a running node (SIGHUP, or `--watch-config`): re-read and check
 * the whole file, plan the difference (src/config/reload-plan.ts) and apply it through the
 * Relay's public methods, the ones the HTTP API and the start use (putStream, deleteStream,
 * addPush, removePush, setAuth, setLimits, addPort, removePort).
 *
 * - A file with errors changes nothing: the running configuration is kept and the error is
 *   logged (file:line:column for syntax, `key.path: ...` for each other problem).
 * - Keys that cannot change live are logged as needing a restart, by key path; the rest applies.
 * - A step that fails (e.g. a listener source's port is taken) is logged and skipped; the
 *   running configuration keeps the old value there, so the next reload tries it again.
 * - Streams whose settings did not change are not touched: their sessions go on, and so do the
 *   sessions of SRT ports that stay. A removed port's listener is closed and its sessions ended.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { ConfigReport } from '../api/routes/history.js';
import { loadConfig } from '../config/load.js';
import { isEmptyPlan, planReload, portKey, pushKey, type ReloadPlan } from '../config/reload-plan.js';
import { maskUrl } from '../config/secrets.js';
import type { CliOverrides, PushConfig, RelayConfig, SrtPortConfig, StreamConfig } from '../config/types.js';
import { isSrtRelayError } from '../errors.js';
import type { Logger } from '../logging.js';
import { relayLimitsFrom, relayPortFrom, relayStreamFrom, srtlaTargetFor, srtlaTargetOf } from '../supervisor/from-config.js';
import type { Relay } from '../supervisor/relay.js';

export interface ReloadOptions {
  readonly relay: Relay;
  readonly file: string;
  readonly overrides: CliOverrides;
  /** The configuration the node started with. */
  readonly config: RelayConfig;
  readonly log: Logger;
  /** Called with the configuration in force after each reload that applied something (e.g. for what the API shows). */
  readonly applied?: (config: RelayConfig) => void;
}

export interface ReloadOutcome {
  /** False when the file could not be read or has errors (nothing changed). */
  readonly ok: boolean;
  readonly plan?: ReloadPlan;
  /** What could not be applied (`streams.cam: ...`). */
  readonly failed: readonly string[];
}

/** What the node knows of its config file's problems: the API's shape (GET /api/v1/node, the dashboard's Node page). */
export type ReloadStatus = ConfigReport;

export class ConfigReloader {
  readonly #relay: Relay;
  readonly #file: string;
  readonly #overrides: CliOverrides;
  readonly #log: Logger;
  readonly #applied: ((config: RelayConfig) => void) | undefined;
  #running: RelayConfig;
  #queue: Promise<unknown> = Promise.resolve();
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #status: ReloadStatus;

  constructor(opts: ReloadOptions) {
    this.#relay = opts.relay;
    this.#file = opts.file;
    this.#overrides = opts.overrides;
    this.#running = opts.config;
    this.#log = opts.log.child({ component: 'config-reload' });
    this.#applied = opts.applied;
    this.#status = { file: opts.file, last: undefined, needsRestart: [], problems: [] };
  }

  /** The config file's problems as the last reload found them. */
  status(): ReloadStatus {
    return this.#status;
  }

  #record(trigger: string, ok: boolean, problems: readonly string[], needsRestart?: readonly string[]): void {
    this.#status = { file: this.#file, last: { at: Date.now(), trigger, ok }, needsRestart: needsRestart ?? this.#status.needsRestart, problems };
  }

  /** The configuration in force (what the last reload applied). */
  get running(): RelayConfig {
    return this.#running;
  }

  /** Re-reads the file and applies the difference; reloads run one after the other. */
  reload(trigger: string): Promise<ReloadOutcome> {
    const next = this.#queue.then(() => this.#reload(trigger));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Reloads whenever the file changes, `debounceMs` after the last change (editors write in bursts). */
  watch(debounceMs = 300): void {
    if (this.#watcher !== undefined) return;
    // The directory, not the file: editors and config tools replace the file (rename), which ends a watch on it.
    const name = basename(this.#file);
    this.#watcher = watch(dirname(this.#file), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed.toString() !== name) return;
      if (this.#debounce !== undefined) clearTimeout(this.#debounce);
      this.#debounce = setTimeout(() => {
        this.#debounce = undefined;
        void this.reload('file change');
      }, debounceMs);
    });
    this.#watcher.on('error', (err) => this.#log.warn({ err, file: this.#file }, 'watching the config file failed; SIGHUP still reloads it'));
    this.#log.info({ file: this.#file, debounceMs }, 'watching the config file for changes');
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#debounce !== undefined) clearTimeout(this.#debounce);
  }

  async #reload(trigger: string): Promise<ReloadOutcome> {
    let next: RelayConfig;
    try {
      next = await loadConfig({ file: this.#file, overrides: this.#overrides });
    } catch (err) {
      if (!isSrtRelayError(err)) throw err;
      // Each problem with its place in the file (file:line:column), when the file has it.
      const problems = err.details?.['problems'];
      const lines = Array.isArray(problems)
        ? (problems as Array<{ path: string; message: string; at?: string }>).map((p) => `${p.at !== undefined ? `${p.at}: ` : ''}${p.path === '' ? '(top level)' : p.path}: ${p.message}`)
        : [err.message];
      const text = lines.join('; ');
      this.#log.error(
        { trigger, file: this.#file, code: err.code, problems, position: err.details?.['position'] },
        `config reload refused, the running configuration is kept: ${text}`,
      );
      this.#record(trigger, false, lines);
      return { ok: false, failed: [] };
    }
    const plan = planReload(this.#running, next);
    if (isEmptyPlan(plan)) {
      this.#log.info({ trigger, file: this.#file }, 'config file re-read: nothing changed');
      this.#record(trigger, true, [], []);
      return { ok: true, plan, failed: [] };
    }
    const failed: string[] = [];
    const fail = (what: string, err: unknown): void => {
      const message = err instanceof Error ? err.message : String(err);
      failed.push(`${what}: ${message}`);
      this.#log.error({ err, trigger }, `config reload: ${what} not applied: ${message}`);
    };
    const streams: Record<string, StreamConfig> = { ...this.#running.streams };
    const pushes = new Map(this.#running.pushes.map((p) => [pushKey(p), p]));

    // Ports first: a removed one frees its address (and a stream's listener source may want it).
    const openPorts = new Map(this.#running.srt.ports.map((p) => [portKey(p), p]));
    for (const p of plan.removePorts) {
      const ended = this.#relay.removePort(p.host, p.port);
      openPorts.delete(portKey(p));
      this.#log.info({ trigger, port: portKey(p), sessionsEnded: ended ?? 0 }, `config reload: SRT port ${portKey(p)} removed: listener closed, ${ended ?? 0} session(s) on it ended`);
    }
    for (const p of plan.addPorts) {
      try {
        this.#relay.addPort(relayPortFrom(p));
        openPorts.set(portKey(p), p);
        this.#log.info({ trigger, port: portKey(p), direction: p.direction }, `config reload: SRT port ${portKey(p)} added`);
      } catch (err) {
        fail(`srt.ports (${portKey(p)})`, err);
      }
    }
    this.#followSrtlaTarget(next, openPorts, trigger, fail);
    let limits = this.#running.limits;
    if (plan.limits !== undefined) {
      this.#relay.setLimits(relayLimitsFrom(plan.limits));
      limits = plan.limits;
    }

    for (const p of plan.removePushes) {
      const id = this.#pushId(p);
      if (id !== undefined) this.#relay.removePush(id);
      pushes.delete(pushKey(p));
    }
    for (const name of plan.removeStreams) {
      this.#relay.deleteStream(name);
      delete streams[name];
    }
    for (const [name, s] of [...plan.changeStreams, ...plan.addStreams]) {
      try {
        this.#relay.putStream(name, relayStreamFrom(s));
        streams[name] = s;
      } catch (err) {
        fail(`streams.${name}`, err);
      }
    }
    for (const p of plan.addPushes) {
      const before = new Set(this.#relay.listPushes().map((x) => x.id));
      try {
        this.#relay.addPush({ stream: p.stream, target: p.target.raw, auto: p.auto });
        pushes.set(pushKey(p), p);
      } catch (err) {
        // addPush records the push before a listener target binds: remove it when that fails (as the API does).
        for (const x of this.#relay.listPushes()) if (!before.has(x.id)) this.#relay.removePush(x.id);
        fail(`pushes (${p.stream} → ${maskUrl(p.target.raw)})`, err);
      }
    }
    let auth = this.#running.auth;
    if (plan.auth !== undefined) {
      this.#relay.setAuth({ ...(plan.auth.webhook !== undefined ? { webhook: plan.auth.webhook } : {}), timeoutMs: plan.auth.timeoutMs, cacheMs: plan.auth.cacheMs });
      auth = plan.auth;
    }

    // What is now in force: the applied parts of the new file; the parts that need a restart stay as running.
    const r = this.#running;
    const { srtla: _srtla, mediaRoot: _mediaRoot, redis: _redis, cluster: _cluster, ...applied } = next;
    this.#running = Object.freeze({
      ...applied,
      nodeId: r.nodeId,
      logLevel: r.logLevel,
      workers: r.workers,
      limits,
      // The new file's order; a port changed in place keeps its running settings (it needs a restart).
      srt: Object.freeze({ ...r.srt, ports: Object.freeze(next.srt.ports.map((p) => openPorts.get(portKey(p))).filter((p) => p !== undefined)) }),
      api: r.api,
      dynamicStreams: r.dynamicStreams,
      streams: Object.freeze(streams),
      pushes: Object.freeze([...pushes.values()]),
      auth,
      ...pick(r, 'srtla'),
      ...pick(r, 'mediaRoot'),
      ...pick(r, 'redis'),
      ...pick(r, 'cluster'),
    }) as RelayConfig;

    this.#log.info(
      {
        trigger,
        file: this.#file,
        streamsAdded: plan.addStreams.map(([n]) => n),
        streamsChanged: plan.changeStreams.map(([n]) => n),
        streamsRemoved: plan.removeStreams,
        pushesAdded: plan.addPushes.length,
        pushesRemoved: plan.removePushes.length,
        authChanged: plan.auth !== undefined,
        limitsChanged: plan.limits !== undefined,
        portsAdded: plan.addPorts.map(portKey),
        portsRemoved: plan.removePorts.map(portKey),
        failed: failed.length,
      },
      'config reloaded',
    );
    this.#applied?.(this.#running);
    if (plan.restart.length > 0) {
      this.#log.warn({ trigger, keys: plan.restart }, `config reload: ${plan.restart.join(', ')} changed and needs a restart (the running value is kept); the rest is applied`);
    }
    this.#record(trigger, true, failed, plan.restart);
    return { ok: true, plan, failed };
  }

  /** The relay's id of a push the file made: same stream, target (as the relay shows it) and auto. */
  /**
   * The SRTLA receiver calls the first SRT port that takes publishers; when a reload closed that
   * port, it is pointed at the first such port now open (its groups re-register there).
   */
  #followSrtlaTarget(next: RelayConfig, openPorts: ReadonlyMap<string, SrtPortConfig>, trigger: string, fail: (what: string, err: unknown) => void): void {
    const srtla = this.#relay.srtla;
    if (srtla === undefined) return;
    const open = next.srt.ports.map((p) => openPorts.get(portKey(p))).filter((p) => p !== undefined);
    const current = srtla.target;
    const calls = (p: SrtPortConfig): boolean => {
      const t = srtlaTargetOf(p);
      return p.direction !== 'outgoing' && t.host === current.host && t.port === current.port;
    };
    if (open.some(calls)) return;
    const target = srtlaTargetFor(open);
    if (target === undefined) {
      fail('srtla', new Error(`no open SRT port takes publishers: bonded senders cannot reach ${current.host}:${current.port} any more`));
      return;
    }
    const closed = srtla.retarget(target);
    this.#log.info({ trigger, from: `${current.host}:${current.port}`, target: `${target.host}:${target.port}`, groupsClosed: closed }, `config reload: srtla now feeds ${target.host}:${target.port} (its SRT port ${current.host}:${current.port} was removed)`);
  }

  #pushId(p: PushConfig): number | undefined {
    const target = maskUrl(p.target.raw);
    return this.#relay.listPushes().find((x) => x.stream === p.stream && x.target === target && x.auto === p.auto)?.id;
  }
}

/** `{key: value}` when `o` has the key, else `{}` (keeps optional keys absent rather than undefined). */
function pick<K extends keyof RelayConfig>(o: RelayConfig, key: K): Partial<Pick<RelayConfig, K>> {
  return o[key] === undefined ? {} : ({ [key]: o[key] } as Partial<Pick<RelayConfig, K>>);
}
