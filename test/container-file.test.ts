/**
 * The Containerfile's static check (issue 14, container): `scripts/container-smoke.sh check`
 * finds every path the build context must hold, every build output the runtime stage copies
 * (made by this checkout's npm ci), every Debian 12 package it installs (apt-cache), the default
 * ports in EXPOSE, the /healthz HEALTHCHECK and the non-root user. No engine runs here, so this is
 * not a build: docs/deploy.md (Container) says what was run and verified.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('scripts/container-smoke.sh check passes on the Containerfile', () => {
  const r = spawnSync('bash', ['scripts/container-smoke.sh', 'check'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /OK: Containerfile's context paths, build outputs, Debian packages \(\d+\)/);
});
