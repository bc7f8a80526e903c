/**
 * docs/security.md and docs/reliability.md name the test that proves each claim, as
 * `file.test.ts` → *title* (a title may be shortened with "…"). Every cited file must exist in
 * test/ and every cited title must be one of its test() titles, so renaming or deleting a test
 * cannot leave a claim pointing at nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../../', import.meta.url);
const read = (rel: string): string => readFileSync(fileURLToPath(new URL(rel, root)), 'utf8');

interface Citation {
  doc: string;
  file: string;
  title: string;
}

/** Every `x.test.ts` → *title* in `doc`. */
export function citations(doc: string, text: string): Citation[] {
  const out: Citation[] = [];
  for (const m of text.matchAll(/`([A-Za-z0-9_-]+\.test\.ts)` → \*([^*]+)\*/g)) out.push({ doc, file: m[1]!, title: m[2]!.trim() });
  return out;
}

/** Every `x.test.ts` named in `doc`, cited with a title or not. */
function citedFiles(text: string): string[] {
  return [...new Set([...text.matchAll(/`([A-Za-z0-9_-]+\.test\.ts)`/g)].map((m) => m[1]!))];
}

/** Numeric constants of a test file (`const N = 5;`, `const N = envInt('X', 1_000);`), for titles built with `${N}`. */
function constants(src: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const c of src.matchAll(/const ([A-Z_][A-Z0-9_]*) = (?:envInt\('[^']*', )?([0-9_.]+)\)?;/g)) m.set(c[1]!, c[2]!.replace(/_/g, ''));
  return m;
}

/**
 * The titles of test() calls in `src`, as literal pieces: a template literal's `${…}` that is not
 * a known numeric constant splits the title (it matches any text).
 */
export function testTitles(src: string): string[][] {
  const consts = constants(src);
  const titles: string[][] = [];
  for (const m of src.matchAll(/\b(?:test|it)\(\s*(?:'((?:\\.|[^'\\])*)'|"((?:\\.|[^"\\])*)"|`((?:\\.|[^`\\])*)`)/g)) {
    if (m[3] !== undefined) {
      const resolved = m[3].replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (all, name: string) => consts.get(name) ?? all);
      titles.push(resolved.split(/\$\{[^}]*\}/).map(unquote));
    } else titles.push([unquote(m[1] ?? m[2]!)]);
  }
  return titles;
}

function unquote(s: string): string {
  return s.replace(/\\t/g, '\t').replace(/\\(.)/g, '$1');
}

const escapeRe = (t: string): string => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Whether a title shortened with "…" names the test with `pieces`: its parts occur in order, a
 * word of a part matching a `${…}` gap of the title (a word containing the gap).
 */
export function citesTitle(cited: string, pieces: readonly string[]): boolean {
  const parts = cited.split('…').map((x) => x.trim()).filter((x) => x !== '');
  const title = pieces.join('\u0000');
  let from = 0;
  for (const part of parts) {
    const re = new RegExp(part.split(/(\s+)/).map((tok) => (/^\s+$/.test(tok) ? '\\s+' : `(?:${escapeRe(tok)}|\\S*\\u0000\\S*)`)).join(''));
    const m = re.exec(title.slice(from));
    if (m === null) return false;
    from += m.index + m[0].length;
  }
  return parts.length > 0;
}

test('the citation matcher: "…" shortens a title, ${…} in a title matches any text, other titles do not match', () => {
  assert.equal(citesTitle('a host opening connections … gets 1429 …', ['a host opening connections faster than the limit gets 1429, and more']), true);
  assert.equal(citesTitle('the relay survives 1000000 random datagrams …', ['the relay survives ', ' random datagrams and ', ' handshakes']), true);
  assert.equal(citesTitle('the relay survives 1000000 random datagrams …', testTitles("const DATAGRAMS = envInt('X', 1_000_000);\ntest(`the relay survives ${DATAGRAMS} random datagrams`, () => {});")[0]!), true);
  assert.equal(citesTitle('a renamed test …', ['a host opening connections']), false);
  assert.deepEqual(testTitles("test('it\\'s one', () => {});\ntest(\n  \"two\",\n () => {});"), [["it's one"], ['two']]);
});

test('every test cited in docs/security.md and docs/reliability.md exists in test/ under that title', () => {
  const missing: string[] = [];
  let checked = 0;
  for (const doc of ['docs/security.md', 'docs/reliability.md']) {
    const text = read(doc);
    for (const file of citedFiles(text)) {
      if (!existsSync(fileURLToPath(new URL(`test/${file}`, root)))) missing.push(`${doc}: test/${file} does not exist`);
    }
    for (const c of citations(doc, text)) {
      const path = fileURLToPath(new URL(`test/${c.file}`, root));
      if (!existsSync(path)) continue;
      checked++;
      const titles = testTitles(readFileSync(path, 'utf8'));
      if (!titles.some((pieces) => citesTitle(c.title, pieces))) missing.push(`${doc}: ${c.file} has no test titled *${c.title}*`);
    }
  }
  assert.ok(checked >= 30, `only ${checked} citations found: has the citation format changed?`);
  assert.deepEqual(missing, [], 'cited tests that do not exist (rename the citation with the test)');
});
