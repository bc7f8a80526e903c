/**
 * The native boundary is sealed (issue 12): only modules in src/srt/ import the addon loader
 * (src/srt/native.ts); everything above goes through its wrappers (SrtSocket, SrtListener,
 * Gate, RingFanout, clock). The slot layout and the shared constants live in modules that do not
 * load the addon.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT, tsFiles } from './helpers/source-files.js';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const NATIVE = join(ROOT, 'src', 'srt', 'native.ts');


/** Files among `files` whose relative imports (static or dynamic) resolve to `target`. */
function importersOf(files: string[], target: string): string[] {
  const found: string[] = [];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const spec = m[1]!.replace(/\.js$/, '.ts');
      if (resolve(dirname(f), spec) === target) {
        found.push(relative(ROOT, f));
        break;
      }
    }
  }
  return found;
}

test('no module outside src/srt/ imports the native addon loader', () => {
  const files = [...tsFiles(join(ROOT, 'src')), ...tsFiles(join(ROOT, 'workers'))];
  const importers = importersOf(files, NATIVE);
  assert.ok(importers.includes('src/srt/socket.ts'), `the scan finds the real importers (${importers.join(', ')})`);
  const outside = importers.filter((f) => !f.startsWith('src/srt/'));
  assert.deepEqual(outside, [], `import src/srt/ wrappers instead of the addon: ${outside.join(', ')}`);
});

test('the slot layout and shared constants load without the addon', () => {
  for (const f of ['src/ring/slot-layout.ts', 'src/srt/constants.ts']) {
    assert.deepEqual(importersOf([join(ROOT, f)], NATIVE), [], `${f} does not import the addon`);
    assert.doesNotMatch(readFileSync(join(ROOT, f), 'utf8'), /\bimport\b/, `${f} imports nothing`);
  }
});

test('bad arguments at the boundary are refused with ERR_SRT_INVALID_ARG: RingFanout at construction, the addon on a wrong type', async () => {
  const { RingFanout } = await import('../src/srt/ring-io.js');
  const { native } = await import('../src/srt/native.js');
  const code = (fn: () => unknown): unknown => {
    try {
      fn();
    } catch (e) {
      return (e as { code?: unknown }).code;
    }
    return 'no error';
  };
  assert.equal(code(() => new RingFanout({ slots: new Uint8Array(1472 * 3), slotSize: 1472, slotCount: 3 })), 'ERR_SRT_INVALID_ARG', 'slotCount not a power of two');
  assert.equal(code(() => new RingFanout({ slots: new Uint8Array(100), slotSize: 1472, slotCount: 4 })), 'ERR_SRT_INVALID_ARG', 'slots too small');
  assert.equal(code(() => new RingFanout({ slots: new Uint8Array(1472 * 4), slotSize: 1472, slotCount: 4 })), 'no error');
  assert.equal(code(() => (native.gateRejections as (g: unknown) => unknown)('not a gate')), 'ERR_SRT_INVALID_ARG');
});
