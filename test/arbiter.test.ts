/**
 * Publisher arbitration (src/supervisor/arbiter.ts) as a table: every branch of who publishes a
 * stream when a second publisher arrives, decided without sockets. The relay-takeover,
 * relay-failover and failover-silent-publisher integration tests prove the same decisions with
 * real peers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decidePublisher, type ArbiterAction, type ArbiterInput } from '../src/supervisor/arbiter.js';

const base: Omit<ArbiterInput, 'current' | 'candidate'> = {
  policy: 'refuse',
  enforceConflict: true,
  currentStalled: false,
  currentSourceQuiet: false,
};

interface Row {
  name: string;
  current?: { session: number; sourceIndex: number };
  candidate: { session: number; sourceIndex: number };
  facts?: Partial<ArbiterInput>;
  action: ArbiterAction;
  closeOld?: string;
  msg?: string;
}

const rows: Row[] = [
  { name: 'no publisher yet: accept', candidate: { session: 2, sourceIndex: 0 }, action: 'accept' },
  { name: 'the same session again: accept', current: { session: 2, sourceIndex: 0 }, candidate: { session: 2, sourceIndex: 0 }, action: 'accept' },
  {
    name: 'refuse policy, publisher sends media: the newcomer is refused (1409)',
    current: { session: 1, sourceIndex: 0 },
    candidate: { session: 2, sourceIndex: 0 },
    action: 'refuse',
    msg: 'stream already has a publisher (1409 policy); closing the newcomer',
  },
  {
    name: 'refuse policy, publisher quiet for takeoverAfterMs: takeover',
    current: { session: 1, sourceIndex: 0 },
    candidate: { session: 2, sourceIndex: 0 },
    facts: { currentStalled: true },
    action: 'takeover',
    closeOld: 'taken over: it had sent no media for takeoverAfterMs',
  },
  {
    name: 'replace policy: the old publisher is replaced',
    current: { session: 1, sourceIndex: 0 },
    candidate: { session: 2, sourceIndex: 0 },
    facts: { policy: 'replace' },
    action: 'replace',
    closeOld: 'replaced by a new publisher',
  },
  {
    name: 'replace policy, old publisher stalled: reported as a takeover',
    current: { session: 1, sourceIndex: 0 },
    candidate: { session: 2, sourceIndex: 0 },
    facts: { policy: 'replace', currentStalled: true },
    action: 'takeover',
  },
  {
    name: 'a relay source (conflict policy not enforced) replaces under refuse',
    current: { session: 1, sourceIndex: 0 },
    candidate: { session: 2, sourceIndex: 0 },
    facts: { enforceConflict: false },
    action: 'replace',
  },
  {
    name: 'a better source (lower index) replaces a backup under refuse',
    current: { session: 1, sourceIndex: 1 },
    candidate: { session: 2, sourceIndex: 0 },
    action: 'replace',
    closeOld: 'replaced by a new publisher',
  },
  {
    name: 'a better source takes over a stalled backup',
    current: { session: 1, sourceIndex: 2 },
    candidate: { session: 2, sourceIndex: 0 },
    facts: { currentStalled: true },
    action: 'takeover',
  },
  {
    name: 'a backup while the better source is live: refused, even under replace',
    current: { session: 1, sourceIndex: 0 },
    candidate: { session: 2, sourceIndex: 1 },
    facts: { policy: 'replace', enforceConflict: false },
    action: 'refuse',
    msg: 'a better source is live; closing the backup',
  },
  {
    name: 'a backup while the better source is stalled but its source not quiet: refused',
    current: { session: 1, sourceIndex: 0 },
    candidate: { session: 2, sourceIndex: 1 },
    facts: { currentStalled: true },
    action: 'refuse',
  },
  {
    name: 'a backup while the better source is quiet: failover',
    current: { session: 1, sourceIndex: 0 },
    candidate: { session: 2, sourceIndex: 1 },
    facts: { currentSourceQuiet: true },
    action: 'failover',
    closeOld: 'failed over: it had sent no media for takeoverAfterMs',
    msg: 'failover: the better source sent no media for takeoverAfterMs; the backup takes over',
  },
  {
    name: 'a quiet source does not matter to a publisher of the same index (refuse policy)',
    current: { session: 1, sourceIndex: 0 },
    candidate: { session: 2, sourceIndex: 0 },
    facts: { currentSourceQuiet: true },
    action: 'refuse',
  },
];

for (const r of rows) {
  test(`arbiter: ${r.name}`, () => {
    const d = decidePublisher({ ...base, ...r.facts, current: r.current, candidate: r.candidate });
    assert.equal(d.action, r.action, d.reason);
    assert.ok(d.reason.length > 0);
    if (r.closeOld !== undefined) assert.equal(d.closeOld, r.closeOld);
    if (r.action === 'accept' || r.action === 'refuse') assert.equal(d.closeOld, undefined, 'nothing to close');
    else assert.ok(d.closeOld !== undefined, 'the old publisher is closed');
    if (r.msg !== undefined) assert.equal(d.log?.msg, r.msg);
    if (r.action !== 'accept') assert.ok(d.log !== undefined, 'every conflict is logged');
  });
}

test('arbiter: the table covers every action', () => {
  assert.deepEqual(new Set(rows.map((r) => r.action)), new Set<ArbiterAction>(['accept', 'refuse', 'replace', 'takeover', 'failover']));
});
