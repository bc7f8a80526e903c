/**
 * The shape docs/architecture.md describes, checked: the Relay is a composition root, its users
 * depend on its interfaces, and the reject codes have one table that the native gate and the
 * docs agree with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT, tsFiles } from './helpers/source-files.js';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REJECT } from '../src/srt/reject-codes.js';

const SRC = join(ROOT, 'src');


function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => relative(ROOT, resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'))));
}

const lines = (f: string): number => readFileSync(f, 'utf8').split('\n').length;

test('the HTTP API and the cluster bridge depend on the RelayApi / ClusterRelay interfaces, not on the Relay class', () => {
  const users = [...tsFiles(join(SRC, 'api')), join(SRC, 'supervisor', 'cluster-bridge.ts')];
  const offenders = users.filter((f) => importsOf(f).includes('src/supervisor/relay.ts')).map((f) => relative(ROOT, f));
  assert.deepEqual(offenders, [], 'these import src/supervisor/relay.ts; import the interface from src/supervisor/relay-api.ts');
});

test('src/supervisor/relay.ts is a composition root: under 400 lines and not the largest file in src/', () => {
  const relay = join(SRC, 'supervisor', 'relay.ts');
  const n = lines(relay);
  assert.ok(n < 400, `relay.ts has ${n} lines`);
  const largest = tsFiles(SRC).sort((a, b) => lines(b) - lines(a))[0]!;
  assert.notEqual(largest, relay, `the largest file is ${relative(ROOT, largest)}`);
});

test('every reject code the native gate sets (SRT_REJC_PREDEFINED + N) is in the one table src/srt/reject-codes.ts', () => {
  const table = new Set<number>(Object.values(REJECT));
  const native = readdirSync(join(ROOT, 'native')).filter((f) => f.endsWith('.cc')).map((f) => readFileSync(join(ROOT, 'native', f), 'utf8'));
  const used = new Set<number>();
  for (const text of native) for (const m of text.matchAll(/SRT_REJC_PREDEFINED\s*\+\s*(\d+)/g)) used.add(1000 + Number(m[1]));
  assert.ok(used.size >= 5, `found only ${used.size} codes in native/*.cc: the pattern no longer matches`);
  assert.deepEqual([...used].filter((c) => !table.has(c)).sort(), [], 'codes set natively but missing from REJECT');
});

test("docs/auth.md's reject-code table lists exactly the codes of src/srt/reject-codes.ts", () => {
  const doc = readFileSync(join(ROOT, 'docs', 'auth.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Reject codes a caller can read'), doc.indexOf('\n## ', doc.indexOf('## Reject codes a caller can read') + 5));
  const documented = new Set([...section.matchAll(/^\| (1\d{3}) \|/gm)].map((m) => Number(m[1])));
  const table = [...new Set<number>(Object.values(REJECT))].sort();
  assert.deepEqual([...documented].sort(), table);
});
