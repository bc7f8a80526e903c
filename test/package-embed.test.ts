/**
 * srt-relay used as a library the way a user's project uses it: the package is packed
 * (`npm pack`: only what `files` ships), installed into a fresh project by name (`npm ci`
 * offline from a lockfile, which runs the package's install script and builds the addon from the
 * shipped native/ sources), then:
 *   - a TypeScript file there type-checks against the emitted declarations (`createRelay`,
 *     typed events: a listener with the wrong argument type is an error);
 *   - examples/embed.mjs runs there with `node`: an ffmpeg publisher of the configured stream
 *     shows as a publisher session, a publish to a name not configured (`streams.dynamic: false`)
 *     is refused with reject code 1404 (seen on the wire by a raw handshake from node:dgram),
 *     and SIGINT closes the relay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freeUdpPort } from './helpers/free-port.js';
import { ffmpegLiveEncoder, srtUrl } from './helpers/media.js';
import { spawnFor } from './helpers/processes.js';
import { conclusionPacket, handshakeType, hsreqExtension, inductionCookie, inductionPacket, sidExtension } from './helpers/srt-handshake.js';
import { testTempDir } from './helpers/ts-fixture.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The environment without npm's own variables (this suite may run under `npm test`). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

/**
 * A project depending on the packed tarball, with a lockfile made from the repository's (its
 * production dependencies, already in npm's cache), so `npm ci --offline` needs no registry.
 */
function writeProject(dir: string, tarball: string): void {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const root = lock.packages['']!;
  const dep = `file:${tarball}`;
  const packages: Record<string, unknown> = {
    '': { name: 'embed-app', dependencies: { 'srt-relay': dep } },
    'node_modules/srt-relay': { version: root['version'], resolved: dep, hasInstallScript: true, dependencies: root['dependencies'], bin: root['bin'], engines: root['engines'] },
  };
  for (const [k, v] of Object.entries(lock.packages)) if (k.startsWith('node_modules/') && v['dev'] !== true && v['link'] !== true) packages[k] = v;
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'embed-app', private: true, type: 'module', dependencies: { 'srt-relay': dep } }, null, 2));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'embed-app', lockfileVersion: 3, requires: true, packages }, null, 2));
}

/** The handshake type a conclusion with stream id `sid` is answered with (1000 + reject code when refused). */
async function conclusionAnswer(port: number, sid: string): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer to the handshake within 20 s')), 20_000);
      sock.on('message', (m) => {
        const cookie = inductionCookie(m);
        if (cookie !== undefined && cookie !== 0) {
          sock.send(conclusionPacket(0x5151, cookie, [hsreqExtension(), sidExtension(sid)]), port, '127.0.0.1');
          return;
        }
        const type = handshakeType(m);
        if (type !== undefined && type !== 1) {
          clearTimeout(timer);
          resolve(type);
        }
      });
      sock.send(inductionPacket(0x5151), port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

test('the packed package installs by name: typed createRelay, and examples/embed.mjs publishes, refuses 1404 and closes', { timeout: 300_000 }, async (t) => {
  const dir = join(testTempDir(), 'embed-app');
  mkdirSync(dir, { recursive: true });
  const { stdout: packed } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, env: cleanEnv() });
  const info = (JSON.parse(packed) as Array<{ filename: string; files: Array<{ path: string }> }>)[0]!;
  const shipped = new Set(info.files.map((f) => f.path));
  for (const f of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/workers/session-host.js', 'binding.gyp', 'native/srt_native.h', 'schema/config.schema.json']) {
    assert.ok(shipped.has(f), `the package ships ${f}`);
  }
  writeProject(dir, join(dir, info.filename));
  await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: dir, env: cleanEnv(), maxBuffer: 16 << 20 });

  const dts = readFileSync(join(dir, 'node_modules/srt-relay/dist/src/index.d.ts'), 'utf8');
  assert.match(dts, /export declare function createRelay\(/);

  // Type-checks by name against the installed declarations; a wrongly typed listener must not.
  writeFileSync(
    join(dir, 'check.ts'),
    [
      "import { createRelay, isSrtRelayError, type Relay, type StreamView } from 'srt-relay';",
      "const relay: Relay = createRelay({ srt: { ports: [{ port: 9000, host: '127.0.0.1', direction: 'both' }] } });",
      "relay.on('publisher-started', (stream: string, session: number, policy: 'refuse' | 'replace') => void [stream, session, policy]);",
      "// @ts-expect-error a stream name is a string",
      "relay.on('stream-live', (name: number) => void name);",
      "const views: Promise<StreamView[]> = relay.listStreams();",
      "void views; void isSrtRelayError;",
      '',
    ].join('\n'),
  );
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const tscArgs = ['--noEmit', '--strict', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022', '--types', 'node', '--typeRoots', join(ROOT, 'node_modules/@types'), 'check.ts'];
  await run(process.execPath, [tsc, ...tscArgs], { cwd: dir }).catch((err: { stdout?: string }) => assert.fail(`check.ts does not type-check against the package:\n${err.stdout ?? String(err)}`));

  copyFileSync(join(ROOT, 'examples/embed.mjs'), join(dir, 'embed.mjs'));
  const port = await freeUdpPort();
  const example = spawnFor(t, process.execPath, ['embed.mjs'], { cwd: dir, env: { ...cleanEnv(), SRT_PORT: String(port) }, name: 'examples/embed.mjs' });
  await example.waitForLine(/"event":"started"/, { timeoutMs: 30_000 });

  assert.equal(await conclusionAnswer(port, 'publish:nope'), 1000 + 1404, 'a publish to a stream not configured is refused with 1404');

  const ffmpeg = ffmpegLiveEncoder(t, srtUrl(port, 'publish:cam'), { size: '320x240' });
  const line = await example.waitForLine(/"event":"publisher-started"/, { timeoutMs: 30_000 });
  const started = JSON.parse(line) as { stream: string; session: number; sessions: Array<{ id: number; kind: string; stream: string }> };
  assert.equal(started.stream, 'cam');
  assert.deepEqual(started.sessions, [{ id: started.session, kind: 'publisher', stream: 'cam' }], 'listSessions() shows the publisher');
  await ffmpeg.kill();

  example.child.kill('SIGINT');
  const exit = await example.waitExit(20_000);
  assert.equal(exit.code, 0, example.output());
  assert.match(example.stdout().toString('utf8'), /"event":"closed"/);
});
