#!/usr/bin/env node
// srt-relay command line: the compiled TypeScript lives in dist/ (built by `npm ci` / `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('srt-relay is not built: run `npm ci` (or `npm run build`) in the repository first\n');
  process.exit(1);
}
const { main: run } = await import(main.href);
process.exit(await run(process.argv.slice(2)));
