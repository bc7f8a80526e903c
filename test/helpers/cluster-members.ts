/**
 * Cluster members for tests: connects ClusterMembers to a test redis-server with addresses that
 * do not collide between test files, keeps them, and closes them all at the end.
 */
import { ClusterMember, type ClusterMemberOptions } from '../../src/cluster/cluster-member.js';

export const TEST_CLUSTER_SECRET = 'a-cluster-secret-for-tests';

export class TestMembers {
  readonly #label: string;
  readonly #portBase: number;
  readonly members: ClusterMember[] = [];
  #seq = 0;

  /** `portBase` keeps the advertised (never contacted) addresses of each test file apart. */
  constructor(label: string, portBase: number) {
    this.#label = label;
    this.#portBase = portBase;
  }

  /** A fresh key prefix, so tests in one Redis do not see each other's keys. */
  prefix(): string {
    return `test-${this.#label}-${process.pid}-${++this.#seq}:`;
  }

  /**
   * Connects member `id`. Timeouts are generous by default (the test machine may be loaded);
   * the outage tests pass their own.
   */
  async member(redisUrl: string, id: string, keyPrefix: string, extra: Partial<ClusterMemberOptions> = {}): Promise<ClusterMember> {
    const n = this.members.length;
    const m = await ClusterMember.connect({
      redisUrl,
      nodeId: id,
      srtAddress: `127.0.0.1:${this.#portBase + n}`,
      apiAddress: `http://127.0.0.1:${this.#portBase + 10000 + n}`,
      clusterSecret: TEST_CLUSTER_SECRET,
      keyPrefix,
      redis: { commandTimeoutMs: 5000, connectTimeoutMs: 5000 },
      connectTimeoutMs: 20_000,
      ...extra,
    });
    this.members.push(m);
    return m;
  }

  closeAll(): Promise<unknown> {
    return Promise.allSettled(this.members.map((m) => m.close()));
  }
}
