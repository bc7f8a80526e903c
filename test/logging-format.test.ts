/**
 * Log format: JSON lines with level names when the output is piped (the default there),
 * pino-pretty's readable lines with --log-format pretty or on a terminal (a pty made by
 * tmux), secrets masked either way; a wrong --log-format is a typed error naming the values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { createLogger } from '../src/logging.js';
import { freeUdpPort } from './helpers/free-port.js';
import { freeTcpPort } from './helpers/redis-server.js';
import { spawnFor } from './helpers/processes.js';
import { RELAY_BIN } from './helpers/relay-process.js';

async function ports(): Promise<string[]> {
  return ['--srt-port', String(await freeUdpPort()), '--api-port', String(await freeTcpPort()), '--workers', '1'];
}

test('piped, the node logs JSON lines with level names ("level":"info"), not numbers', { timeout: 30_000 }, async (t) => {
  const p = spawnFor(t, process.execPath, [RELAY_BIN, ...(await ports())], { name: 'srt-relay (json)' });
  await p.waitForLine('HTTP API listening', { stream: 'stdout', timeoutMs: 20_000 });
  const lines = p.stdout().toString('utf8').split('\n').filter((l) => l.trim() !== '');
  assert.ok(lines.length >= 2);
  for (const line of lines) {
    const entry = JSON.parse(line) as { level: unknown; msg: unknown; node: unknown };
    assert.ok(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(entry.level as string), `level name in ${line}`);
    assert.equal(typeof entry.msg, 'string');
  }
  assert.ok(lines.some((l) => /"level":"info".*"msg":"HTTP API listening"/.test(l)));
});

test('--log-format pretty writes readable lines (time, LEVEL, message, fields), not JSON', { timeout: 30_000 }, async (t) => {
  const p = spawnFor(t, process.execPath, [RELAY_BIN, ...(await ports()), '--log-format', 'pretty'], { name: 'srt-relay (pretty)' });
  const line = await p.waitForLine('HTTP API listening', { stream: 'stdout', timeoutMs: 20_000 });
  assert.match(line, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: HTTP API listening \{.*"api":"http:\/\/127\.0\.0\.1:\d+"/);
  assert.throws(() => JSON.parse(line));
});

test('on a terminal the default is pretty; --log-format json there gives JSON', { timeout: 60_000 }, async (t) => {
  // tmux runs the node on a pseudo-terminal (its own server socket); timeout(1) stops the node after 4 s.
  const run = async (extra: string): Promise<string> => {
    const socket = `srt-relay-log-${process.pid}-${extra === '' ? 'default' : 'json'}`;
    const tmux = (...args: string[]): Promise<string> =>
      new Promise((resolve, reject) => execFile('tmux', ['-L', socket, ...args], (err, stdout) => (err ? reject(err) : resolve(stdout))));
    t.after(() => tmux('kill-server').catch(() => undefined));
    const cmd = `timeout -s TERM 4 ${process.execPath} ${RELAY_BIN} ${(await ports()).join(' ')} ${extra}; sleep 30`;
    await tmux('new-session', '-d', '-x', '250', '-y', '50', cmd);
    let screen = '';
    const deadline = Date.now() + 20_000;
    while (!/stopping/.test(screen) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      screen = await tmux('capture-pane', '-p', '-J');
    }
    return screen;
  };
  const pretty = await run('');
  assert.match(pretty, /INFO: HTTP API listening/);
  assert.doesNotMatch(pretty, /"msg":"HTTP API listening"/);
  const json = await run('--log-format json');
  assert.match(json, /"level":"info"[^\n]*"msg":"HTTP API listening"/);
});

test('a --log-format other than pretty or json is refused with ERR_CONFIG_INVALID naming both', { timeout: 30_000 }, async (t) => {
  const p = spawnFor(t, process.execPath, [RELAY_BIN, '--log-format', 'xml'], { name: 'srt-relay (bad format)' });
  const exit = await p.waitExit(20_000);
  assert.equal(exit.code, 2);
  assert.match(p.stderr(), /ERR_CONFIG_INVALID: --log-format: must be one of pretty, json \(got "xml"\)/);
});

test('pretty lines mask secrets as JSON lines do', () => {
  const out: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _e, cb) {
      out.push(chunk.toString('utf8'));
      cb();
    },
  });
  const log = createLogger('info', 'n1', dest as unknown as Parameters<typeof createLogger>[2], 'pretty');
  log.info({ passphrase: 'pretty-secret-passphrase', url: 'srt://h:1?passphrase=pretty-secret-2' }, 'with secrets');
  const text = out.join('');
  assert.match(text, /INFO: with secrets/);
  assert.doesNotMatch(text, /pretty-secret/);
});
