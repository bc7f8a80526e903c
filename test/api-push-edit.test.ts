/**
 * PUT /api/v1/pushes/{id} edits a push in place (issue 16): the same checks as POST, the push
 * keeps its id and restarts with the new target; a target that cannot be set up (a port in use)
 * or that another push already has leaves the old push running. Real receivers: srt-live-transmit
 * listeners the push connects to, and an srt-live-transmit caller of a listener push.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { freeUdpPorts } from './helpers/free-port.js';
import { liveRelayWithApi, waitFor } from './helpers/relay-harness.js';
import { unmet } from './helpers/requirements.js';
import { SLT, startSlt } from './helpers/slt.js';

const skip = unmet(spawnSync(SLT, ['-version'], { encoding: 'utf8' }).error !== undefined ? `${SLT} not found (Debian package srt-tools)` : undefined);

interface PushJson { id: number; stream: string; target: string; auto: boolean; state: string; session: number | null }
interface ErrorJson { error: { code: string; message: string } }

async function call<T>(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: (text === '' ? undefined : JSON.parse(text)) as T };
}

test('PUT /api/v1/pushes/{id} moves a push to a new target under the same id: the old receiver loses its connection, the new one receives the stream', { skip, timeout: 60_000 }, async (t) => {
  const { base } = await liveRelayWithApi(t);
  const [a, b] = await freeUdpPorts(2);
  const receiverA = startSlt(t, `srt://127.0.0.1:${a}?mode=listener`, 'file://con');
  const receiverB = startSlt(t, `srt://127.0.0.1:${b}?mode=listener`, 'file://con');
  const added = await call<PushJson>(base, 'POST', '/api/v1/pushes', { stream: 'cam', target: `srt://127.0.0.1:${a}` });
  assert.equal(added.status, 201, JSON.stringify(added.json));
  await waitFor(() => receiverA.stdout().length > 10_000, 'receiver A gets the stream', 15_000);
  assert.equal(receiverB.stdout().length, 0);

  const edited = await call<PushJson>(base, 'PUT', `/api/v1/pushes/${added.json.id}`, { stream: 'cam', target: `srt://127.0.0.1:${b}?latency=300`, auto: true });
  assert.equal(edited.status, 200, JSON.stringify(edited.json));
  assert.equal(edited.json.id, added.json.id, 'the push keeps its id');
  assert.equal(edited.json.target, `srt://127.0.0.1:${b}?latency=300`);
  assert.equal(edited.json.auto, true);
  await waitFor(() => receiverB.stdout().length > 10_000, 'receiver B gets the stream after the edit', 15_000);
  // srt-live-transmit (-a:no) exits when its connection is closed: the old push was stopped.
  assert.ok((await receiverA.waitExit(10_000)) !== undefined, 'receiver A lost its connection');
  const list = (await call<{ pushes: PushJson[] }>(base, 'GET', '/api/v1/pushes')).json.pushes;
  assert.deepEqual(list.map((p) => [p.id, p.target]), [[added.json.id, `srt://127.0.0.1:${b}?latency=300`]], 'one push, edited');
});

test('PUT /api/v1/pushes/{id} refuses like POST and then leaves the push as it was: 409 ERR_PORT_IN_USE, 409 ERR_API_CONFLICT, 400 for a bad option, 404 for no such push', { skip, timeout: 60_000 }, async (t) => {
  const { base, port } = await liveRelayWithApi(t);
  const [a, c] = await freeUdpPorts(2);
  const receiver = startSlt(t, `srt://127.0.0.1:${a}?mode=listener`, 'file://con');
  const push = (await call<PushJson>(base, 'POST', '/api/v1/pushes', { stream: 'cam', target: `srt://127.0.0.1:${a}`, auto: true })).json;
  const other = (await call<PushJson>(base, 'POST', '/api/v1/pushes', { stream: 'cam', target: `srt://127.0.0.1:${c}` })).json;
  await waitFor(() => receiver.stdout().length > 10_000, 'the receiver gets the stream', 15_000);
  const get = async (id: number): Promise<PushJson> => (await call<PushJson>(base, 'GET', `/api/v1/pushes/${id}`)).json;
  const before = await get(push.id);
  assert.equal(before.state, 'active');

  // A listener target on the relay's own SRT port.
  const inUse = await call<ErrorJson>(base, 'PUT', `/api/v1/pushes/${push.id}`, { stream: 'cam', target: `srt://:${port}` });
  assert.equal(inUse.status, 409, JSON.stringify(inUse.json));
  assert.equal(inUse.json.error.code, 'ERR_PORT_IN_USE');
  // Another push's stream and target.
  const same = await call<ErrorJson>(base, 'PUT', `/api/v1/pushes/${push.id}`, { stream: 'cam', target: `srt://127.0.0.1:${c}` });
  assert.equal(same.status, 409, JSON.stringify(same.json));
  assert.equal(same.json.error.code, 'ERR_API_CONFLICT');
  assert.match(same.json.error.message, new RegExp(`push ${other.id} already sends 'cam'`));
  const bad = await call<ErrorJson>(base, 'PUT', `/api/v1/pushes/${push.id}`, { stream: 'cam', target: `srt://127.0.0.1:${a}?latncy=300` });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, 'ERR_SRT_OPTION_UNKNOWN');
  const unknownKey = await call<ErrorJson>(base, 'PUT', `/api/v1/pushes/${push.id}`, { stream: 'cam', target: `srt://127.0.0.1:${a}`, tagret: 'x' });
  assert.equal(unknownKey.status, 400);
  assert.equal(unknownKey.json.error.code, 'ERR_API_BAD_REQUEST');
  assert.equal((await call<ErrorJson>(base, 'PUT', '/api/v1/pushes/999999', { stream: 'cam', target: `srt://127.0.0.1:${a}` })).status, 404);

  const after = await get(push.id);
  assert.equal(after.target, before.target, 'the target is unchanged');
  assert.equal(after.session, before.session, 'the same connection runs');
  assert.equal(receiver.exit, undefined, 'the receiver was never disconnected');
  const bytes = receiver.stdout().length;
  await waitFor(() => receiver.stdout().length > bytes + 10_000, 'the receiver still gets the stream', 10_000);
});

test('a listener push edited to new options on its own port keeps serving callers there', { skip, timeout: 60_000 }, async (t) => {
  const { base } = await liveRelayWithApi(t);
  const [l] = await freeUdpPorts(1);
  const push = (await call<PushJson>(base, 'POST', '/api/v1/pushes', { stream: 'cam', target: `srt://:${l}` })).json;
  assert.equal(push.state, 'active');
  const edited = await call<PushJson>(base, 'PUT', `/api/v1/pushes/${push.id}`, { stream: 'cam', target: `srt://:${l}?latency=400` });
  assert.equal(edited.status, 200, JSON.stringify(edited.json));
  assert.equal(edited.json.state, 'active');
  const caller = startSlt(t, `srt://127.0.0.1:${l}`, 'file://con');
  await waitFor(() => caller.stdout().length > 10_000 || caller.exit !== undefined, 'a caller of the edited listener push gets the stream', 15_000);
  assert.equal(caller.exit, undefined, caller.output());
});
