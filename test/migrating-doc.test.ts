/**
 * docs/migrating.md is true: every srt-relay configuration on the page loads, and every row of
 * its id tables is read as the row says (stream and direction), by the code behind
 * `srt-relay streamid`, on the port the row names (else the section's first port).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load.js';
import { readStreamId } from '../src/cli/streamid-command.js';

const DOC = fileURLToPath(new URL('../../docs/migrating.md', import.meta.url));

interface Section {
  title: string;
  config: string;
  rows: string[][];
}

function sections(md: string): Section[] {
  return md
    .split(/^## /m)
    .slice(1)
    .map((chunk) => {
      const title = chunk.split('\n')[0] ?? '';
      const config = /```json\n([\s\S]*?)```/.exec(chunk)?.[1] ?? '';
      const rows = chunk
        .split('\n')
        .filter((l) => l.startsWith('| `'))
        .map((l) =>
          l
            .split('|')
            .slice(1, -1)
            .map((c) => c.trim().replace(/^`|`$/g, '')),
        );
      return { title, config, rows };
    });
}

test('every configuration in docs/migrating.md loads and reads its table of ids as written', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'srt-relay-migrating-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const all = sections(await readFile(DOC, 'utf8'));
  assert.deepEqual(
    all.map((s) => s.title),
    ['SRT Live Server (SLS) and irl-srt-server', 'MediaMTX', 'SRS', 'OvenMediaEngine (OME)'],
  );
  let checked = 0;
  for (const s of all) {
    assert.notEqual(s.config, '', `${s.title}: an srt-relay config`);
    const file = join(dir, `${checked}.json`);
    await writeFile(file, s.config);
    const config = await loadConfig({ file });
    assert.ok(s.rows.length > 0, `${s.title}: a table of ids`);
    for (const row of s.rows) {
      const [id, ...rest] = row as [string, ...string[]];
      const [portText, stream, direction] = rest.length === 3 ? rest : [undefined, ...rest];
      const port = portText === undefined ? config.srt.ports[0] : config.srt.ports.find((p) => p.port === Number(portText));
      assert.ok(port !== undefined, `${s.title}: port ${portText}`);
      const r = readStreamId(id, port);
      assert.deepEqual([r.stream, r.direction], [stream, direction], `${s.title}: ${id} on port ${port.port}`);
      checked++;
    }
  }
  assert.equal(checked, 13);
});
