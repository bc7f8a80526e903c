/**
 * The reload plan (src/config/reload-plan.ts): what a changed config file adds, changes and
 * removes live, and which keys it names as needing a restart. Pure: configs in, plan out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeConfig } from '../src/config/load.js';
import { isEmptyPlan, planReload } from '../src/config/reload-plan.js';
import type { SrtUrl } from '../src/srt/url.js';

const base = {
  srt: { ports: [{ port: 9000, host: '127.0.0.1', direction: 'both' }] },
  streams: { keep: { source: 'push://' }, change: { source: 'push://' }, gone: { source: 'push://' } },
  pushes: [{ stream: 'keep', target: 'srt://127.0.0.1:9100' }, { stream: 'keep', target: 'srt://127.0.0.1:9101', auto: true }],
  auth: { timeoutMs: 2000 },
};

function cfg(over: Record<string, unknown> = {}): ReturnType<typeof normalizeConfig> {
  return normalizeConfig({ ...structuredClone(base), ...over });
}

test('the same file again plans nothing', () => {
  const plan = planReload(cfg(), cfg());
  assert.ok(isEmptyPlan(plan), JSON.stringify(plan));
});

test('streams added, changed and removed; an unchanged stream is in no list', () => {
  const next = cfg({ streams: { keep: { source: 'push://' }, change: { source: 'push://', onPublisherConflict: 'replace' }, added: { source: 'srt://:9200' } } });
  const plan = planReload(cfg(), next);
  assert.deepEqual(plan.addStreams.map(([n]) => n), ['added']);
  assert.deepEqual(plan.changeStreams.map(([n]) => n), ['change']);
  assert.equal(plan.changeStreams[0]?.[1].onPublisherConflict, 'replace');
  assert.deepEqual(plan.removeStreams, ['gone']);
  assert.deepEqual(plan.restart, []);
});

test('a push added or removed; a push whose auto changed is removed and added again', () => {
  const next = cfg({ pushes: [{ stream: 'keep', target: 'srt://127.0.0.1:9100', auto: true }, { stream: 'keep', target: 'srt://127.0.0.1:9101', auto: true }, { stream: 'change', target: 'srt://127.0.0.1:9102' }] });
  const plan = planReload(cfg(), next);
  assert.deepEqual(plan.removePushes.map((p) => [p.stream, (p.target as SrtUrl).port, p.auto]), [['keep', 9100, false]]);
  assert.deepEqual(plan.addPushes.map((p) => [p.stream, (p.target as SrtUrl).port, p.auto]), [['keep', 9100, true], ['change', 9102, false]]);
});

test('auth settings that differ are applied; the same ones are not', () => {
  assert.equal(planReload(cfg(), cfg({ auth: { timeoutMs: 2000 } })).auth, undefined);
  const plan = planReload(cfg(), cfg({ auth: { webhook: 'http://127.0.0.1:9/auth', timeoutMs: 500 } }));
  assert.equal(plan.auth?.webhook, 'http://127.0.0.1:9/auth');
  assert.equal(plan.auth?.timeoutMs, 500);
  assert.deepEqual(plan.restart, []);
});

test('workers, API, redis, log level and streams.dynamic are named as needing a restart, by key path; limits and ports are planned live', () => {
  const next = cfg({
    srt: { ports: [{ port: 9001, host: '127.0.0.1', direction: 'both' }] },
    workers: 3,
    limits: { maxSessions: 10 },
    api: { port: 4300 },
    logLevel: 'debug',
    redis: 'redis://127.0.0.1:6390/0',
    cluster: { secret: 'a-cluster-secret-of-16+' },
    streams: { ...base.streams, dynamic: false, added: { source: 'push://' } },
  });
  const plan = planReload(cfg({ workers: 2 }), next);
  assert.deepEqual(plan.restart, ['logLevel', 'workers', 'api.port', 'redis', 'cluster', 'streams.dynamic']);
  assert.deepEqual(plan.addStreams.map(([n]) => n), ['added']);
  assert.equal(plan.limits?.maxSessions, 10);
  assert.deepEqual(plan.addPorts.map((p) => p.port), [9001], 'the port moved: 9001 added');
  assert.deepEqual(plan.removePorts.map((p) => p.port), [9000], 'and 9000 removed');
});

test('srt.ports entries added and removed by host:port; the unchanged one is in no list; one changed in place needs a restart', () => {
  const two = cfg({ srt: { ports: [...base.srt.ports, { port: 9005, host: '127.0.0.1', direction: 'outgoing' }] } });
  const added = planReload(cfg(), two);
  assert.deepEqual([added.addPorts.map((p) => `${p.host}:${p.port}/${p.direction}`), added.removePorts, added.restart], [['127.0.0.1:9005/outgoing'], [], []]);
  assert.ok(!isEmptyPlan(added));
  const removed = planReload(two, cfg());
  assert.deepEqual([removed.addPorts, removed.removePorts.map((p) => p.port), removed.restart], [[], [9005], []]);
  const otherHost = planReload(cfg(), cfg({ srt: { ports: [{ port: 9000, host: '127.0.0.2', direction: 'both' }] } }));
  assert.deepEqual([otherHost.addPorts.map((p) => p.host), otherHost.removePorts.map((p) => p.host)], [['127.0.0.2'], ['127.0.0.1']]);
  const inPlace = planReload(cfg(), cfg({ srt: { ports: [{ port: 9000, host: '127.0.0.1', direction: 'incoming' }] } }));
  assert.deepEqual([inPlace.addPorts, inPlace.removePorts, inPlace.restart], [[], [], ['srt.ports[0].direction']]);
});

test('limits that differ are planned; the same ones are not', () => {
  assert.equal(planReload(cfg({ limits: { maxSessions: 5 } }), cfg({ limits: { maxSessions: 5 } })).limits, undefined);
  const plan = planReload(cfg(), cfg({ limits: { maxViewersPerStream: 3, handshakesPerSecondPerHost: 7 } }));
  assert.deepEqual([plan.limits?.maxViewersPerStream, plan.limits?.handshakesPerSecondPerHost, plan.restart], [3, 7, []]);
});
