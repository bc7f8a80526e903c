import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  ERROR_CODES,
  SrtNativeError,
  SrtRejectedError,
  SrtRelayError,
  describeRejectReason,
  isSrtRelayError,
} from '../src/errors.js';

// The compiled test is dist/test/*.js: the repository root is two levels up.
const root = new URL('../../', import.meta.url);
const docs = readFileSync(fileURLToPath(new URL('docs/errors.md', root)), 'utf8');

test('every error code is documented in docs/errors.md, and the docs list no other code', () => {
  const documented = new Set(docs.match(/\bERR_[A-Z0-9_]+\b/g) ?? []);
  const registered = new Set<string>(ERROR_CODES.map((c) => c.code));
  for (const code of registered) assert.ok(documented.has(code), `${code} is missing from docs/errors.md`);
  for (const code of documented) assert.ok(registered.has(code), `docs/errors.md names ${code}, which src/errors.ts does not define`);
});

test('every documented code has its own table row', () => {
  for (const { code } of ERROR_CODES) {
    assert.match(docs, new RegExp(`^\\| \`${code}\` \\|`, 'm'), `${code} has a row`);
  }
});

test('the registry is frozen, codes are unique and each has a one-line description', () => {
  assert.ok(Object.isFrozen(ERROR_CODES));
  const codes = ERROR_CODES.map((c) => c.code);
  assert.equal(new Set(codes).size, codes.length);
  for (const entry of ERROR_CODES) {
    assert.ok(Object.isFrozen(entry));
    assert.match(entry.code, /^ERR_[A-Z0-9_]+$/);
    assert.ok(entry.description.length > 0 && !entry.description.includes('\n'), entry.code);
  }
});

test('native and reject errors carry the libsrt numbers', () => {
  const n = new SrtNativeError('srt_bind', 5009, 'Operation not supported: Another socket is bound to that port');
  assert.ok(isSrtRelayError(n, 'ERR_SRT_NATIVE'));
  assert.equal(n.srtErrno, 5009);
  assert.match(n.message, /^srt_bind failed: Operation not supported.*\(SRT errno 5009\)$/);
  assert.deepEqual(n.details, { call: 'srt_bind', srtErrno: 5009, srtMessage: n.srtMessage });

  const r = new SrtRejectedError(10, 'srt://h:9000');
  assert.ok(r instanceof SrtRelayError);
  assert.equal(r.code, 'ERR_SRT_REJECTED');
  assert.equal(r.reason, 10);
  assert.equal(r.reasonName, 'SRT_REJ_BADSECRET');
  assert.match(r.message, /wrong passphrase; use the same passphrase on both sides/);
  assert.equal(describeRejectReason(1404).name, 'SRT_REJX_NOTFOUND');
  assert.equal(describeRejectReason(2001).name, 'USER_2001');
  assert.equal(describeRejectReason(16).name, 'SRT_REJ_TIMEOUT');
});
