/**
 * The node's configuration problems, from the reloads of its config file (SIGHUP) through
 * GET /api/v1/node (`config`) to the dashboard's Node page in headless chromium: a key that needs
 * a restart, a refused file with each error, and a clean reload that clears them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBrowser } from './helpers/browser.js';
import { startRelayProcess } from './helpers/relay-process.js';
import { waitFor } from './helpers/relay-harness.js';
import { needChromium, unmet } from './helpers/requirements.js';
import { testTempDir } from './helpers/ts-fixture.js';

const skip = unmet(needChromium());

interface NodeConfig {
  file: string | null;
  lastReload: { at: string; trigger: string; ok: boolean } | null;
  needsRestart: string[];
  problems: Array<{ source: string; message: string }>;
}

test("the Node page shows the config file's problems the node knows: a key that needs a restart, a refused reload with its errors, all cleared by a clean reload", { skip, timeout: 90_000 }, async (t) => {
  const file = join(testTempDir(), `node-config-${process.pid}.json`);
  // nodeId is a key that needs a restart (limits and ports apply live).
  const write = (nodeId: string, streams: object = {}): void =>
    writeFileSync(file, JSON.stringify({ nodeId, srt: { ports: [{ port: 9000, direction: 'both' }] }, streams }, null, 2));
  write('node-a');
  const node = await startRelayProcess(t, { args: ['--config', file], workers: 1, logLevel: 'warn' });
  const config = async (): Promise<NodeConfig> => (await node.api<{ config: NodeConfig }>('/api/v1/node')).body.config;
  const reload = async (what: string, until: (c: NodeConfig) => boolean, since: string | undefined): Promise<NodeConfig> => {
    node.proc.child.kill('SIGHUP');
    return waitFor(async () => {
      const c = await config();
      return c.lastReload !== null && c.lastReload.at !== since && until(c) ? c : undefined;
    }, what, 15_000);
  };

  const start = await config();
  assert.deepEqual(start, { file, lastReload: null, needsRestart: [], problems: [] });
  const browser = await openBrowser(t);
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${node.apiPort}/ui/#/node`);
  const section = page.locator('#config-status');
  await section.waitFor();
  assert.match(await section.innerText(), /no problems/);
  assert.match(await page.locator('#config-file').innerText(), /not reloaded since the start/);

  // limits need a restart; the new stream applies.
  write('node-b', { added: { source: 'push://' } });
  const restart = await reload('the reload naming nodeId', (c) => c.needsRestart.length > 0, undefined);
  assert.deepEqual(restart.needsRestart, ['nodeId']);
  assert.equal(restart.lastReload!.ok, true);
  assert.equal(restart.lastReload!.trigger, 'SIGHUP');
  await page.locator('#config-restart li', { hasText: 'nodeId' }).waitFor();
  assert.match(await page.locator('#config-last').innerText(), /^applied$/);
  assert.match(await page.locator('#config-flag').innerText(), /1 to look at/);

  // A file with an error: refused, each problem listed with its key path; the restart key stays.
  write('node-b', { added: { source: 'srt://127.0.0.1:9?latncy=200' } });
  const refused = await reload('the refused reload', (c) => c.lastReload?.ok === false, restart.lastReload!.at);
  assert.equal(refused.problems.length, 1, JSON.stringify(refused.problems));
  assert.equal(refused.problems[0]!.source, 'reload');
  // With its place in the file: file:line:column.
  assert.match(refused.problems[0]!.message, /node-config-\d+\.json:\d+:\d+: streams\.added\.source: unknown SRT option 'latncy'; did you mean 'latency'/);
  assert.deepEqual(refused.needsRestart, ['nodeId'], 'what needs a restart is still waiting');
  await page.locator('#config-last', { hasText: 'refused, the running configuration is kept' }).waitFor();
  const listed = page.locator('#config-problems li');
  await listed.first().waitFor();
  assert.match(await listed.first().innerText(), /^reload: .*\.json:\d+:\d+: streams\.added\.source: .*did you mean 'latency'/);
  if (process.env['SAVE_SCREENSHOTS'] === '1') await page.locator('#config-status').screenshot({ path: new URL('../../docs/images/dashboard-node-config.png', import.meta.url).pathname });

  // Back to what runs: nothing to look at any more.
  write('node-a', { added: { source: 'push://' } });
  const clean = await reload('the clean reload', (c) => c.lastReload?.ok === true, refused.lastReload!.at);
  assert.deepEqual({ needsRestart: clean.needsRestart, problems: clean.problems }, { needsRestart: [], problems: [] });
  await page.locator('#config-status', { hasText: 'no problems' }).waitFor();
  assert.equal(await page.locator('#config-problems').count(), 0);
  assert.equal(await page.locator('#config-restart').count(), 0);
  await page.close();
});
