/**
 * Config files in YAML (with comments) or JSON, read by the `yaml` package: the same config
 * whichever format, syntax errors and keys given twice as ERR_CONFIG_INVALID naming
 * file:line:column, and JSON files still held to JSON.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigInvalidError } from '../src/errors.js';
import { loadConfig } from '../src/config/load.js';
import { parseConfigText } from '../src/config/parse-file.js';

let dir: string;
let n = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'srt-relay-yaml-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(ext: string, text: string): Promise<string> {
  const file = join(dir, `config-${++n}.${ext}`);
  await writeFile(file, text);
  return file;
}

async function rejection(file: string): Promise<ConfigInvalidError> {
  try {
    await loadConfig({ file });
  } catch (err) {
    assert.ok(err instanceof ConfigInvalidError, `expected ConfigInvalidError, got ${String(err)}`);
    assert.equal(err.code, 'ERR_CONFIG_INVALID');
    return err;
  }
  assert.fail('expected the config to be rejected');
}

const YAML_CONFIG = `# a relay with one camera
nodeId: relay-1   # names this node
workers: 2
srt:
  ports:
    - port: 9000
      host: 127.0.0.1
      direction: both
      params: { latency: 200 }
streams:
  cam1:
    source: push://
    passphrase:
      publish: publish-secret-1
pushes:
  - stream: cam1
    target: srt://127.0.0.1:9100?latency=200
`;

const JSON_CONFIG = {
  nodeId: 'relay-1',
  workers: 2,
  srt: { ports: [{ port: 9000, host: '127.0.0.1', direction: 'both', params: { latency: 200 } }] },
  streams: { cam1: { source: 'push://', passphrase: { publish: 'publish-secret-1' } } },
  pushes: [{ stream: 'cam1', target: 'srt://127.0.0.1:9100?latency=200' }],
};

describe('YAML config files', () => {
  it('a YAML file with comments gives the same config as the same settings in JSON', async () => {
    const fromYaml = await loadConfig({ file: await write('yml', YAML_CONFIG) });
    const fromJson = await loadConfig({ file: await write('json', JSON.stringify(JSON_CONFIG, null, 2)) });
    const strip = (c: object): object => ({ ...c, configFile: undefined });
    assert.deepEqual(strip(fromYaml), strip(fromJson));
    assert.equal(fromYaml.streams['cam1']?.passphrase.publish, 'publish-secret-1');
    assert.equal(fromYaml.srt.ports[0]?.params['latency'], 200);
  });

  it('a key given twice in a YAML mapping is an error naming the key path and both places', async () => {
    const err = await rejection(await write('yaml', 'streams:\n  a:\n    source: push://\n  a:\n    source: push://\n'));
    assert.equal(err.path, 'streams.a');
    assert.match(err.message, /^streams\.a: given twice \(at 2:3 and 4:3 in \S+config-\d+\.yaml\); keep one/);
  });

  it('a YAML syntax error names file:line:column', async () => {
    const err = await rejection(await write('yml', 'workers: 2\nsrt:\n  ports: [\n    { port: 9000 \n'));
    assert.match(err.message, /config-\d+\.yml:\d+:\d+: invalid YAML: /);
    assert.equal(typeof err.details?.['line'], 'number');
    assert.equal(typeof err.details?.['column'], 'number');
    const nested = await rejection(await write('yml', 'nodeId: a: b\n'));
    assert.match(nested.message, /config-\d+\.yml:1:9: invalid YAML: /);
  });

  it('schema problems in a YAML file are the same key-path messages as in JSON', async () => {
    const err = await rejection(await write('yml', 'workers: 0\nsrt:\n  ports:\n    - port: 9000\n      dirction: both\n'));
    assert.match(err.message, /^workers: must be at least 1/m);
    assert.match(err.message, /^srt\.ports\[0\]\.dirction: unknown key; did you mean "direction"\?/m);
  });

  it('each problem found after parsing carries the place of its key in the file (details.problems[].at)', async () => {
    // A missing key points at its parent (the stream); a wrong value at its own key.
    const missing = await write('yml', 'workers: 2\nstreams:\n  cam2: {}\n');
    const a = (await rejection(missing)).details?.['problems'] as Array<{ path: string; at?: string }>;
    assert.deepEqual(a.map((p) => [p.path, p.at]), [['streams.cam2.source', `${missing}:3:3`]]);
    const wrong = await write('yml', 'workers: 2\nstreams:\n  cam:\n    source: http://x/y\n');
    const b = (await rejection(wrong)).details?.['problems'] as Array<{ path: string; at?: string }>;
    assert.deepEqual(b.map((p) => [p.path, p.at]), [['streams.cam.source', `${wrong}:4:5`]]);
  });

  it('a YAML file with only comments, or several documents, is refused', async () => {
    assert.match((await rejection(await write('yml', '# nothing yet\n'))).message, /only comments/);
    assert.match((await rejection(await write('yml', 'workers: 1\n---\nworkers: 2\n'))).message, /:2:1: invalid YAML: a config file holds one document/);
  });

  it('aliases that expand too often are refused, not expanded', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`)].join('\n');
    assert.throws(() => parseConfigText(bomb, 'bomb.yml'), (err: unknown) => err instanceof ConfigInvalidError && /bomb\.yml: invalid YAML/.test(err.message));
  });

  it('a key named __proto__ stays a plain key', () => {
    const v = parseConfigText('streams:\n  __proto__:\n    source: push://\n', 'p.yml') as Record<string, Record<string, unknown>>;
    assert.ok(Object.prototype.hasOwnProperty.call(v['streams'], '__proto__'));
    assert.equal(({} as Record<string, unknown>)['source'], undefined);
  });
});

describe('JSON config files', () => {
  it('a .json file must still be JSON: a trailing comma or a comment is an error with line:column', async () => {
    const trailing = await rejection(await write('json', '{\n  "workers": 2,\n}\n'));
    assert.match(trailing.message, /config-\d+\.json:3:1: invalid JSON: trailing comma before '}'/);
    const comment = await rejection(await write('json', '{\n  # c\n  "workers": 2\n}'));
    assert.match(comment.message, /:2:3: invalid JSON: comments are not allowed in JSON/);
  });

  it('a key given twice in a JSON object is an error, which JSON.parse alone would hide', async () => {
    const err = await rejection(await write('json', '{"workers": 1,\n "workers": 2}'));
    assert.equal(err.path, 'workers');
    assert.match(err.message, /workers: given twice \(at 1:2 and 2:2 in \S+\.json\)/);
  });

  it('a tab-indented JSON file loads', async () => {
    const c = await loadConfig({ file: await write('json', '{\n\t"workers": 3,\n\t"streams": {\n\t\t"cam": {"source": "push://"}\n\t}\n}\n') });
    assert.equal(c.workers, 3);
    assert.ok(c.streams['cam'] !== undefined);
  });
});
