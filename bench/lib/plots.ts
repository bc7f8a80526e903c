/**
 * SVG plots for the bench results, rendered in Node without a browser: Vega-Lite specs compiled
 * to Vega and rendered by a headless vega View (renderer 'none', view.toSVG()). The specs are
 * written next to the SVGs (*.vl.json), so a figure can be re-rendered or edited in the Vega
 * editor; `node dist/bench/plot.js <results.json>` re-renders every figure of a result file.
 */
import { writeFileSync } from 'node:fs';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const v = compile(spec).spec;
  const view = new vega.View(vega.parse(v), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** Writes base.svg and base.vl.json; returns the SVG path. */
export async function writePlot(base: string, spec: TopLevelSpec): Promise<string> {
  writeFileSync(`${base}.vl.json`, `${JSON.stringify(spec, null, 1)}\n`);
  const svg = await renderSvg(spec);
  writeFileSync(`${base}.svg`, svg);
  return `${base}.svg`;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Line chart of y against x, one line per series (points marked). */
export function lineSpec(
  title: string,
  rows: Array<Record<string, number | string>>,
  x: { field: string; title: string },
  y: { field: string; title: string },
  series: { field: string; title: string },
  dash?: { field: string; title: string },
): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title,
    width: 480,
    height: 300,
    background: 'white',
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: x.field, type: 'quantitative', title: x.title },
      y: { field: y.field, type: 'quantitative', title: y.title, scale: { zero: true } },
      color: { field: series.field, type: 'nominal', title: series.title },
      ...(dash !== undefined ? { strokeDash: { field: dash.field, type: 'nominal', title: dash.title } } : {}),
    },
  } as TopLevelSpec;
}

/** CDF plot: rows {ms, fraction, series}. */
export function cdfSpec(title: string, rows: Array<{ ms: number; fraction: number; series: string }>): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title,
    width: 480,
    height: 300,
    background: 'white',
    data: { values: rows },
    mark: { type: 'line', interpolate: 'step-after' },
    encoding: {
      x: { field: 'ms', type: 'quantitative', title: 'end-to-end latency (ms)', scale: { zero: false } },
      y: { field: 'fraction', type: 'quantitative', title: 'fraction of packets', scale: { domain: [0, 1] } },
      color: { field: 'series', type: 'nominal', title: 'target, viewers' },
    },
  } as TopLevelSpec;
}
