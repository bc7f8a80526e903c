/**
 * Re-renders the SVG figures of harness result files (and writes their Vega-Lite specs):
 *   node dist/bench/plot.js bench/results/fanout-<date>.json [...]
 */
import { readFileSync } from 'node:fs';
import { renderFigures } from './harness.js';

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: node dist/bench/plot.js <results.json> [...]\n');
  process.exitCode = 2;
}
for (const f of files) {
  const data = JSON.parse(readFileSync(f, 'utf8')) as Parameters<typeof renderFigures>[1];
  for (const svg of await renderFigures(f, data)) process.stdout.write(`${svg}\n`);
}
