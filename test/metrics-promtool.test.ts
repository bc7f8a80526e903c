/**
 * /metrics is what Prometheus's own linter accepts (issue 14): a node with a publisher, a viewer
 * and a refused handshake is scraped and its exposition piped to `promtool check metrics`
 * (Debian package `prometheus`), which must exit 0 and print nothing (no lint warning: counters
 * typed as counters, base units). The refused handshake shows up in the refusal counter by code
 * and listening port; the per-stream loss/retransmit/RTT families are there, and
 * `metrics.sessionSeries` turns the per-session families off (or off above a session count).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Relay } from '../src/supervisor/relay.js';
import { freeUdpPort } from './helpers/free-port.js';
import { connectFor, liveRelayWithApi, pacedPublisher, relayOptions, waitFor, waitLive, serveApi } from './helpers/relay-harness.js';
import { unmet } from './helpers/requirements.js';

function promtoolReason(): string | undefined {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.error === undefined ? undefined : `promtool not found (install the Debian package prometheus): ${r.error.message}`;
}

const skip = unmet(promtoolReason());

test('/metrics of a node with a publisher, a viewer and a refused handshake passes promtool check metrics without warnings', { skip }, async (t) => {
  const { port, base } = await liveRelayWithApi(t);

  // The relay drains the gate's refusals once a second: wait until the counter has it.
  const refused = new RegExp(`^srt_relay_handshakes_refused_total\\{code="1404",listener="srt",port="${port}"\\} ([0-9.e+]+)$`, 'm');
  const text = await waitFor(async () => {
    const body = await (await fetch(`${base}/metrics`)).text();
    const m = refused.exec(body);
    const sessions = /^srt_relay_sessions\{kind="viewer"\} 1$/m.test(body);
    return m !== null && Number(m[1]) >= 1 && sessions ? body : undefined;
  }, 'srt_relay_handshakes_refused_total{code="1404"} and one viewer in /metrics');

  assert.match(text, /^# TYPE srt_relay_session_sent_bytes_total counter$/m, 'libsrt byte counters are counters');
  assert.match(text, /^srt_relay_session_rtt_seconds\{session="\d+",stream="cam",kind="viewer"\} /m, 'per-session series at the default (auto, 2 sessions)');
  assert.match(text, /^srt_relay_session_series_enabled 1$/m);
  assert.match(text, /^# TYPE srt_relay_stream_packets_lost_total counter$/m);
  assert.match(text, /^srt_relay_stream_packets_lost_total\{stream="cam",direction="received"\} \d+$/m, 'per-stream loss');
  assert.match(text, /^srt_relay_stream_packets_retransmitted_total\{stream="cam"\} \d+$/m, 'per-stream retransmits');
  assert.match(text, /^srt_relay_stream_rtt_mean_seconds\{stream="cam",kind="viewer"\} [0-9.e+-]+$/m, 'per-stream RTT by kind');
  assert.match(text, /^srt_relay_stream_rtt_max_seconds\{stream="cam",kind="publisher"\} [0-9.e+-]+$/m);
  assert.match(text, /^srt_relay_build_info\{version="[^"]+",node="v\d+\.[^"]+",libsrt="\d+\.\d+\.\d+"\} 1$/m, 'build_info names the package, Node.js and libsrt versions');

  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  const lines = `${check.stdout}${check.stderr}`.split('\n').filter((l) => l.trim() !== '');
  assert.deepEqual(lines, [], 'promtool check metrics prints no warning');
  assert.equal(check.status, 0, 'promtool check metrics exits 0');
});

for (const [setting, expectOn] of [[{ sessionSeries: false }, false], [{ sessionSeries: 'auto', sessionSeriesLimit: 1 }, false], [{ sessionSeries: true, sessionSeriesLimit: 1 }, true]] as const) {
  test(`metrics ${JSON.stringify(setting)} with a publisher and a viewer: per-session series ${expectOn ? 'exported' : 'left out'}, the per-stream families always; promtool clean`, { skip }, async (t) => {
    const port = await freeUdpPort();
    const relay = new Relay(relayOptions(port));
    const base = await serveApi(t, relay, { metrics: setting });
    const publisher = pacedPublisher(await connectFor(t, port, { streamid: 'publish:cam' }), { pps: 500 });
    t.after(() => publisher.stop());
    await waitLive(relay, 'cam');
    await connectFor(t, port, { streamid: 'read:cam' });
    const text = await waitFor(async () => {
      const body = await (await fetch(`${base}/metrics`)).text();
      return /^srt_relay_stream_rtt_mean_seconds\{stream="cam",kind="viewer"\} /m.test(body) ? body : undefined;
    }, 'the viewer\'s RTT in the per-stream family');
    assert.equal(/^srt_relay_session_[a-z_]+\{/m.test(text), expectOn, 'per-session series');
    assert.match(text, new RegExp(`^srt_relay_session_series_enabled ${expectOn ? 1 : 0}$`, 'm'));
    assert.match(text, /^srt_relay_stream_packets_lost_total\{stream="cam",direction="sent"\} \d+$/m);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.deepEqual(`${check.stdout}${check.stderr}`.split('\n').filter((l) => l.trim() !== ''), [], 'promtool check metrics prints no warning');
    assert.equal(check.status, 0);
  });
}
