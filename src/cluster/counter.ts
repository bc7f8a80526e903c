/**
 * Counts the Redis commands the cluster layer sends, per operation, so the relay can report
 * "Redis operations per connection and per second".
 *
 * A command is one request on the wire: a Lua script call (EVALSHA, or EVAL the first time on a
 * connection) is one command however many Redis calls the script makes inside; a pipeline of N
 * commands is N commands in one round trip. Pub/sub messages received are not commands.
 */

/** What a `CommandCounter` has counted. */
export interface CommandCounts {
  /** Every command sent. */
  readonly total: number;
  /** Per operation, e.g. `lease.claim`, `lease.renew`, `registry.heartbeat`, `config.put`. */
  readonly byOp: Readonly<Record<string, number>>;
}

export class CommandCounter {
  #total = 0;
  readonly #byOp = new Map<string, number>();

  /** Records `n` commands sent for `op`. */
  add(op: string, n = 1): void {
    this.#total += n;
    this.#byOp.set(op, (this.#byOp.get(op) ?? 0) + n);
  }

  get total(): number {
    return this.#total;
  }

  /** Commands sent for `op` so far. */
  count(op: string): number {
    return this.#byOp.get(op) ?? 0;
  }

  snapshot(): CommandCounts {
    return Object.freeze({ total: this.#total, byOp: Object.freeze(Object.fromEntries(this.#byOp)) });
  }

  /**
   * Commands per second between two snapshots taken `elapsedMs` apart (total and per op); use it
   * for a periodic "Redis ops/s" figure.
   */
  static rate(before: CommandCounts, after: CommandCounts, elapsedMs: number): CommandCounts {
    const per = (n: number): number => (elapsedMs > 0 ? (n * 1000) / elapsedMs : 0);
    const byOp: Record<string, number> = {};
    for (const [op, n] of Object.entries(after.byOp)) byOp[op] = per(n - (before.byOp[op] ?? 0));
    return Object.freeze({ total: per(after.total - before.total), byOp: Object.freeze(byOp) });
  }
}
