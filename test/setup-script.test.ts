/**
 * scripts/setup.sh: `start` (and a plain install) never stop or disable the host's nginx or
 * redis-server; only `test` may. Run for real with stand-ins for the service managers
 * (systemctl, service, update-rc.d) and dpkg-query first on PATH, which log their calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnFor } from './helpers/processes.js';

const SETUP = fileURLToPath(new URL('../../scripts/setup.sh', import.meta.url));
const PKG = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

test('setup.sh start runs the node without stopping or disabling nginx or redis-server', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'srt-relay-setup-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const calls = join(dir, 'calls.log');
  // Every service manager says the service runs (so the old script would stop it) and logs its call.
  for (const tool of ['systemctl', 'service', 'update-rc.d']) {
    await writeFile(join(dir, tool), `#!/bin/sh\necho "${tool} $*" >> '${calls}'\nexit 0\n`);
    await chmod(join(dir, tool), 0o755);
  }
  // Every package is installed: nothing is asked of apt.
  await writeFile(join(dir, 'dpkg-query'), `#!/bin/sh\nprintf 'install ok installed'\n`);
  await chmod(join(dir, 'dpkg-query'), 0o755);
  const env = { ...process.env, PATH: `${dir}:${process.env['PATH'] ?? ''}` };
  for (const args of [['start', '--version'], []]) {
    const p = spawnFor(t, 'bash', [SETUP, ...args], { env });
    const exit = await p.exited;
    assert.equal(exit.code, 0, p.output());
    if (args.length > 0) assert.equal(p.stdout().toString().trim(), PKG.version, 'start ran the node');
  }
  const log = await readFile(calls, 'utf8').catch(() => '');
  assert.doesNotMatch(log, /nginx|redis/, `setup.sh start asked a service manager about nginx or redis-server:\n${log}`);
});
