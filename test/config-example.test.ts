/**
 * srt-relay.yml, the annotated example config: generated from schema/config.schema.json (no
 * drift), loads as the defaults, names every key of the schema, and `srt-relay config --example`
 * prints it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { exampleConfig } from '../src/config/example-config.js';
import { configSchema, defaultConfig, loadConfig } from '../src/config/load.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const examplePath = `${root}srt-relay.yml`;
const bin = `${root}bin/srt-relay.js`;

test('the committed srt-relay.yml is what the generator writes from the schema (run `npm run gen:example-config` after changing the schema)', async () => {
  assert.equal(await readFile(examplePath, 'utf8'), exampleConfig());
});

test('srt-relay.yml as shipped loads, and gives the default configuration', async () => {
  const c = await loadConfig({ file: examplePath });
  const d = defaultConfig();
  const strip = (x: object): object => ({ ...x, configFile: undefined, nodeId: undefined });
  assert.deepEqual(strip(c), strip(d));
});

test('srt-relay.yml names every key of the schema, with a comment above it', async () => {
  const text = await readFile(examplePath, 'utf8');
  const schema = configSchema() as { properties: Record<string, unknown>; definitions: Record<string, unknown> };
  const keys = new Set<string>();
  const walk = (s: unknown): void => {
    if (s === null || typeof s !== 'object') return;
    const o = s as Record<string, unknown>;
    if (typeof o['$ref'] === 'string') return walk(schema.definitions[(o['$ref'] as string).replace('#/definitions/', '')]);
    for (const [k, v] of Object.entries((o['properties'] as Record<string, unknown> | undefined) ?? {})) {
      keys.add(k);
      walk(v);
    }
    walk(o['items']);
    if (typeof o['additionalProperties'] === 'object') walk(o['additionalProperties']);
  };
  walk(schema);
  assert.ok(keys.size > 60, `walked ${keys.size} keys`);
  const lines = text.split('\n');
  for (const key of keys) {
    const at = lines.findIndex((l) => new RegExp(`^\\s*(?:# )?(?:- )?${key.replace('$', '\\$')}:( |$)`).test(l));
    assert.ok(at > 0, `${key} is in srt-relay.yml`);
    assert.match(lines[at - 1] ?? '', /^\s*# \S/, `${key} has an explanation above it`);
  }
});

test('uncommenting the example stream and push gives a config that loads', async () => {
  // Every "# key: value" line under streams and pushes, uncommented: the examples are valid values.
  const text = await readFile(examplePath, 'utf8');
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('streams:'));
  const end = lines.findIndex((l, i) => i > start && l.startsWith('# auth:'));
  const body = lines
    .slice(start, end)
    .filter((l) => /^\s*(# )?(- )?[a-z$][\w$]*:( |$)/.test(l) && !/^\s*# sources:/.test(l))
    .map((l) => l.replace(/^(\s*)# /, '$1'))
    .join('\n');
  const doc = parse(body) as { streams: { cam1: Record<string, unknown> }; pushes: unknown[] };
  assert.equal(doc.streams.cam1['source'], 'push://');
  const c = await import('../src/config/load.js').then((m) => m.normalizeConfig({ ...doc, pushes: [{ ...(doc.pushes[0] as object), stream: 'cam1' }] }));
  assert.equal(c.streams['cam1']?.passphrase.publish, 'change-me-to-a-long-random-string');
  assert.equal(c.pushes.length, 1);
});

test('srt-relay config --example prints srt-relay.yml', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [bin, 'config', '--example']);
  assert.equal(stdout, await readFile(examplePath, 'utf8'));
});

test('the YAML example in docs/config.md loads', async () => {
  const docs = await readFile(`${root}docs/config.md`, 'utf8');
  const block = /```yaml\n([\s\S]*?)\n```/.exec(docs.slice(docs.indexOf('## YAML or JSON')))?.[1];
  assert.ok(block !== undefined, 'docs/config.md has a YAML example');
  const { normalizeConfig } = await import('../src/config/load.js');
  const { parseConfigText } = await import('../src/config/parse-file.js');
  const c = normalizeConfig(parseConfigText(block, 'docs.yml'));
  assert.equal(c.streams['studio']?.passphrase.publish, 'a-long-publish-secret');
});
