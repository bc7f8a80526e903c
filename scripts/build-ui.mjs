#!/usr/bin/env node
// Builds the web dashboard (ui/) into dist/ui/ with esbuild: minified app.js (Preact + htm, uPlot)
// and the preview chunk (mpegts.js, loaded by the stream page), app.css, index.html. No CDN: the
// node serves these files itself (src/api/routes/dashboard.ts). Prints the sizes
// (docs/dashboard.md quotes them).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'ui');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: { app: join(root, 'ui', 'main.js') },
  bundle: true,
  minify: true,
  // ES modules with code splitting: the overview loads without mpegts.js (the stream page imports it).
  format: 'esm',
  splitting: true,
  chunkNames: '[name]-[hash]',
  target: ['chrome100', 'firefox100', 'safari15'],
  outdir: out,
  legalComments: 'linked',
  loader: { '.css': 'css' },
  logLevel: 'warning',
});
copyFileSync(join(root, 'ui', 'index.html'), join(out, 'index.html'));

if (!process.argv.includes('--quiet')) {
  let total = 0;
  let gz = 0;
  for (const f of readdirSync(out)) {
    const p = join(out, f);
    const size = statSync(p).size;
    const z = gzipSync(readFileSync(p)).length;
    if (!f.endsWith('.txt')) {
      total += size;
      gz += z;
    }
    process.stdout.write(`dist/ui/${f}\t${(size / 1024).toFixed(1)} KiB\t(gzip ${(z / 1024).toFixed(1)} KiB)\n`);
  }
  process.stdout.write(`dashboard bundle\t${(total / 1024).toFixed(1)} KiB\t(gzip ${(gz / 1024).toFixed(1)} KiB)\n`);
}
