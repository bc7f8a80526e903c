/**
 * The dashboard's Cluster page against a real three-node cluster (bin/srt-relay.js processes
 * joined to a test redis-server), in headless Debian chromium: it lists the three nodes with
 * their addresses and load, and which node holds a stream published to one of them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openBrowser } from './helpers/browser.js';
import { ClusterNode } from './helpers/cluster-nodes.js';
import { ffmpegLiveEncoder } from './helpers/media.js';
import { RedisServer } from './helpers/redis-server.js';
import { waitFor } from './helpers/relay-harness.js';
import { needChromium, needEncoder, unmet } from './helpers/requirements.js';

const skip = unmet(needChromium() ?? needEncoder('libx264'));

test('the Cluster page lists the three nodes of the cluster with their SRT addresses, and the node that holds a stream published to it', { skip, timeout: 120_000 }, async (t) => {
  const redis = await RedisServer.start({ t });
  const nodes = await Promise.all(['node-a', 'node-b', 'node-c'].map((id) => ClusterNode.start(t, id, redis.url())));
  const [a, b] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  ffmpegLiveEncoder(t, `srt://127.0.0.1:${b.srtPort}?streamid=publish:news`);
  await waitFor(async () => (await b.cluster()).owned['news'] !== undefined, 'node-b holds the lease of news', 20_000);
  interface NodesJson { enabled: boolean; nodes: { id: string; srtAddress: string }[] }
  const api = await waitFor(async () => {
    const r = await a.get<NodesJson>('/api/v1/cluster/nodes');
    return r.nodes.length === 3 ? r : undefined;
  }, 'three nodes in the registry', 20_000);
  assert.equal(api.enabled, true);

  const browser = await openBrowser(t);
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${a.apiPort}/ui/#/cluster`);
  const table = page.locator('#cluster-nodes');
  await table.waitFor();
  await waitFor(async () => (await page.locator('#cluster-nodes tbody tr').count()) === 3, 'three rows on the Cluster page');
  for (const n of api.nodes) {
    const row = page.locator(`tr[data-node="${n.id}"]`);
    assert.match(await row.innerText(), new RegExp(n.srtAddress.replace(/[.]/g, '\\.')));
  }
  assert.match(await page.locator('tr[data-node="node-a"]').innerText(), /this node/);
  // node-a learns from the routing notices that node-b holds news.
  await waitFor(async () => /news/.test(await page.locator('tr[data-node="node-b"]').innerText()), 'news shown as held by node-b', 15_000);
  assert.equal(await page.locator('#cluster-redis').innerText(), 'reachable');
  if (process.env['SAVE_SCREENSHOTS'] === '1') await page.screenshot({ path: new URL('../../docs/images/dashboard-cluster.png', import.meta.url).pathname, fullPage: true });
});
