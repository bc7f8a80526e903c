/**
 * Smoke test of the UDP load balancer: deploy/nginx/srt-lb.conf itself (its public port and
 * example upstreams rewritten to loopback test ports) run by nginx's stream module. SRT callers
 * connect to nginx's port, nginx hashes each flow ($remote_addr$remote_port) onto one of three
 * binding listeners standing in for three nodes, the handshake completes through the proxy, and
 * the data a caller sends arrives intact at the one listener its flow maps to. Also: the deploy
 * file passes `nginx -t` and keeps the settings SRT needs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SrtSocket } from '../src/srt/socket.js';
import { NginxUdp, nginxTest, nginxUnmetReason, rewriteDeployConfig } from './helpers/nginx-udp.js';
import { unmet } from './helpers/requirements.js';
import { eventually } from './helpers/redis-server.js';
import { connectBinding, listenBinding, receiveAll, sendFile, waitDelivered, withTimeout, type ListeningServer } from './helpers/srt-io.js';

// Outside CI a machine without nginx's stream module skips; with CI=true it fails (helpers/requirements.ts).
const skip = unmet(nginxUnmetReason());
// The compiled test is dist/test/*.js: the repository root is two levels up.
const deployConfig = readFileSync(fileURLToPath(new URL('../../deploy/nginx/srt-lb.conf', import.meta.url)), 'utf8');
/** The config without comments. */
const directives = deployConfig.replace(/#.*$/gm, '');

test('deploy/nginx/srt-lb.conf passes nginx -t and keeps what SRT needs', { skip }, async () => {
  assert.match(directives, /^\s*hash \$remote_addr\$remote_port consistent;/m, 'flows hashed on source address and port');
  assert.match(directives, /^\s*listen 8889 udp reuseport rcvbuf=\d+m sndbuf=\d+m;/m, 'reuseport and large socket buffers');
  assert.doesNotMatch(directives, /proxy_responses/, 'no proxy_responses: node packets must flow back for the whole session');
  const timeout = /proxy_timeout\s+(\d+)s;/.exec(directives);
  assert.ok(timeout !== null && Number(timeout[1]) > 5, 'proxy_timeout above SRT\'s 5 s peer idle timeout');
  const r = await nginxTest(rewriteDeployConfig(deployConfig, 8889, ['127.0.0.1:18891', '127.0.0.1:18892', '127.0.0.1:18893'], '/tmp'));
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /syntax is ok/);
});

test('SRT callers reach one of three listeners through the deploy nginx config, data intact', { skip, timeout: 60_000 }, async (t) => {
  const nodes: ListeningServer[] = [];
  t.after(() => {
    for (const n of nodes) n.close();
  });
  for (let i = 0; i < 3; i++) nodes.push(listenBinding({ latency: 120 }));
  const upstreams = nodes.map((n) => `127.0.0.1:${n.port}`);
  const lb = await NginxUdp.start({ upstreams, t, streamBlock: (port, dir) => rewriteDeployConfig(deployConfig, port, upstreams, dir) });

  const callers: SrtSocket[] = [];
  t.after(() => {
    for (const c of callers) c.close();
  });
  const payloads: Buffer[] = [];
  for (let k = 0; k < 3; k++) {
    // Each caller is its own flow (own source port): nginx may map it to any node.
    const caller = await withTimeout(connectBinding(lb.port, { latency: 120, streamid: `publish:cam${k}` }), 10_000, `caller ${k} connects through nginx\n${lb.errorLog()}`);
    callers.push(caller);
    // The new connection, on whichever listener the flow was hashed to.
    const accepted = await eventually(() => {
      for (const [i, n] of nodes.entries()) {
        const c = n.connections.find((x) => x.streamid === `publish:cam${k}`);
        if (c !== undefined) return { c, i };
      }
      return undefined;
    }, `a listener accepts caller ${k}`, 5000);
    assert.equal(accepted.c.streamid, `publish:cam${k}`, 'the streamid travels through the proxy');
    assert.equal(accepted.c.host, '127.0.0.1');
    assert.notEqual(accepted.c.port, caller.localAddress().port, 'the listener sees nginx as the peer, not the caller');

    const data = randomBytes(1316 * 200);
    payloads.push(data);
    const received = receiveAll(accepted.c.socket, { untilBytes: data.length, timeoutMs: 15_000 });
    await sendFile(caller, data, { pps: 2000 });
    await waitDelivered(caller, 100);
    const got = await received;
    assert.equal(got.length, data.length, `all bytes through the LB (node ${accepted.i})`);
    assert.ok(got.equals(data), 'byte-exact');
    t.diagnostic(`caller ${k} (local port ${caller.localAddress().port}) → node ${accepted.i}`);
  }
  // Exactly one connection per caller, across the three listeners.
  assert.equal(nodes.reduce((n, s) => n + s.connections.length, 0), 3);
});
