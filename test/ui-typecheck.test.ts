/** The dashboard's JavaScript (ui/*.js) type-checks with TypeScript (ui/tsconfig.json: checkJs). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));

test('the dashboard sources (ui/*.js) type-check: tsc -p ui/tsconfig.json reports no error', () => {
  const r = spawnSync(process.execPath, [TSC, '-p', 'ui/tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `tsc -p ui/tsconfig.json:\n${r.stdout}${r.stderr}`);
});
