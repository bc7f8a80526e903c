/**
 * deploy/grafana/srt-relay.json asks only for metrics the relay exports (issue 14): every PromQL
 * expression of the dashboard (panel targets and template variable queries) is parsed for the
 * metric names it selects, and each must be a family in the live /metrics of a relay with a
 * publisher, a viewer and a refused handshake, and be documented in docs/api.md (Metrics) or be
 * one of prom-client's process metrics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { liveRelayWithApi, waitFor } from './helpers/relay-harness.js';

const DASHBOARD = new URL('../../deploy/grafana/srt-relay.json', import.meta.url);

/** PromQL words that are not metric names: aggregations, functions (followed by '('), keywords. */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** The metric names an expression selects (a Grafana `label_values(metric, label)` query included). */
export function metricNames(expr: string): string[] {
  let e = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // strings
    .replace(/\$\{?\w+\}?/g, '1') // Grafana variables ($__rate_interval, $instance)
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ''); // label lists
  const m = /^\s*label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)/.exec(e);
  if (m !== null) return [m[1]!];
  const names = new Set<string>();
  e = e.replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ' ');
  for (const t of e.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    if (t[2] !== undefined) continue; // a function or aggregation
    if (KEYWORDS.has(t[1]!.toLowerCase())) continue;
    names.add(t[1]!);
  }
  return [...names];
}

interface Panel {
  title?: string;
  targets?: Array<{ expr?: string }>;
  panels?: Panel[];
}

function expressions(): Array<{ where: string; expr: string }> {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[]; templating?: { list: Array<{ name: string; query?: string | { query: string } }> } };
  const out: Array<{ where: string; expr: string }> = [];
  const walk = (ps: Panel[]): void => {
    for (const p of ps) {
      for (const t of p.targets ?? []) if (typeof t.expr === 'string') out.push({ where: `panel '${p.title ?? '?'}'`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dash.panels);
  for (const v of dash.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (q !== undefined) out.push({ where: `variable $${v.name}`, expr: q });
  }
  return out;
}

test('metricNames reads the selected metrics out of PromQL', () => {
  assert.deepEqual(metricNames('sum by (code) (rate(srt_relay_handshakes_refused_total{instance=~"$instance"}[$__rate_interval]))'), ['srt_relay_handshakes_refused_total']);
  assert.deepEqual(metricNames('a_bytes{x="y"} * 8 / on(instance) group_left b_total'), ['a_bytes', 'b_total']);
  assert.deepEqual(metricNames('label_values(srt_relay_stream_live{instance=~"$instance"}, stream)'), ['srt_relay_stream_live']);
  assert.deepEqual(metricNames('process_resident_memory_bytes / 1e9'), ['process_resident_memory_bytes']);
});

test('every PromQL expression of deploy/grafana/srt-relay.json names only families a live relay exports and docs/api.md documents', async (t) => {
  const { base } = await liveRelayWithApi(t);
  const text = await waitFor(async () => {
    const body = await (await fetch(`${base}/metrics`)).text();
    return /^srt_relay_handshakes_refused_total\{/m.test(body) && /^srt_relay_stream_rtt_mean_seconds\{stream="cam",kind="viewer"\}/m.test(body) ? body : undefined;
  }, 'a refusal and the viewer RTT in /metrics');
  const exported = new Set([...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]!));
  const apiMd = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
  const documented = new Set([...apiMd.matchAll(/^\| `([a-z_:]+)`/gm)].map((m) => m[1]!));

  const exprs = expressions();
  assert.ok(exprs.length >= 15, `the dashboard has its panels (${exprs.length} expressions)`);
  const seen = new Set<string>();
  for (const { where, expr } of exprs) {
    const names = metricNames(expr);
    assert.ok(names.length > 0, `${where}: no metric in ${expr}`);
    for (const name of names) {
      seen.add(name);
      assert.ok(exported.has(name), `${where}: ${name} is not exported by the relay (${expr})`);
      assert.ok(documented.has(name) || /^(process|nodejs)_/.test(name), `${where}: ${name} is not documented in docs/api.md`);
    }
  }
  // What the issue asks the dashboard to show.
  for (const family of ['srt_relay_streams', 'srt_relay_stream_viewers', 'srt_relay_stream_source_rate_bytes_per_second', 'srt_relay_stream_packets_lost_total', 'srt_relay_stream_rtt_mean_seconds', 'srt_relay_handshakes_refused_total', 'srt_relay_udp_receive_drops_total', 'srt_relay_sessions']) {
    assert.ok(seen.has(family), `the dashboard shows ${family}`);
  }
});
