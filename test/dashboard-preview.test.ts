/**
 * GET /api/v1/streams/{name}/ts: the live preview as MPEG-TS over chunked HTTP, against a real
 * Relay with a real ffmpeg publisher. It is a viewer of the stream (counted, and refused by
 * limits.maxViewersPerStream), needs the API token, ends its SRT viewer when the client goes
 * away, and ffprobe finds the H.264 video in what it sent.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { Relay, type RelayLimits } from '../src/supervisor/relay.js';
import { freeUdpPort } from './helpers/free-port.js';
import { ffmpegLiveEncoder, srtUrl, waitLiveWhile } from './helpers/media.js';
import { waitFor, serveApi } from './helpers/relay-harness.js';
import { connectBinding } from './helpers/srt-io.js';
import { testTempDir } from './helpers/ts-fixture.js';

const run = promisify(execFile);
const TOKEN = 'preview-test-token';

interface Node {
  relay: Relay;
  base: string;
  srtPort: number;
}

async function startNode(t: TestContext, limits: RelayLimits = {}, play?: string): Promise<Node> {
  const srtPort = await freeUdpPort();
  const ports = [{ port: srtPort, host: '127.0.0.1', direction: 'both' as const, params: {}, reusePort: 1 }];
  const relay = new Relay({
    nodeId: 'preview-test',
    workers: 1,
    ports,
    streams: play === undefined ? {} : { cam: { source: 'push://', passphrase: { play } } },
    pushes: [],
    limits,
    ringSlots: 4096,
  });
  const base = await serveApi(t, relay, { token: TOKEN, srtPorts: ports });
  return { relay, base, srtPort };
}

async function viewersOf(node: Node, name: string): Promise<number> {
  return node.relay.getStream(name)?.viewers.size ?? -1;
}

/** Reads the preview until `bytes` arrived; returns them (the request is then aborted). */
async function readPreview(node: Node, name: string, bytes: number, onOpen?: () => Promise<void>): Promise<Buffer> {
  const ac = new AbortController();
  const res = await request(`${node.base}/api/v1/streams/${encodeURIComponent(name)}/ts`, {
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: ac.signal,
  });
  assert.equal(res.statusCode, 200, `preview answered ${res.statusCode}: ${res.statusCode === 200 ? '' : await res.body.text()}`);
  assert.equal(res.headers['content-type'], 'video/mp2t');
  assert.equal(res.headers['transfer-encoding'], 'chunked', 'the preview is chunked HTTP');
  await onOpen?.();
  const chunks: Buffer[] = [];
  let got = 0;
  try {
    for await (const c of res.body) {
      chunks.push(c as Buffer);
      got += (c as Buffer).byteLength;
      if (got >= bytes) break;
    }
  } finally {
    ac.abort();
  }
  return Buffer.concat(chunks);
}

test('the preview streams MPEG-TS over chunked HTTP that ffprobe decodes as H.264 video, as a counted viewer that ends with the client', async (t) => {
  const node = await startNode(t);
  const enc = ffmpegLiveEncoder(t, srtUrl(node.srtPort, 'publish:cam'));
  await waitLiveWhile(node.relay, 'cam', enc);
  const data = await readPreview(node, 'cam', 150_000, async () => {
    await waitFor(async () => (await viewersOf(node, 'cam')) === 1, 'the preview counted as one viewer of cam');
    const sessions = node.relay.listSessions().filter((s) => s.stream === 'cam' && s.kind === 'viewer');
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]!.streamid, 'read:cam', 'the preview plays with the streamid read:cam');
  });
  assert.equal(data[0], 0x47, 'the preview starts on a TS sync byte');
  const file = join(testTempDir(), `preview-${process.pid}.ts`);
  writeFileSync(file, data);
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name,width,height', '-of', 'json', file]);
  const probe = JSON.parse(stdout) as { streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number }> };
  const video = probe.streams.find((s) => s.codec_type === 'video');
  assert.ok(video !== undefined, `ffprobe found no video stream in the preview: ${stdout}`);
  assert.equal(video.codec_name, 'h264');
  assert.equal(video.width, 640);
  await waitFor(async () => (await viewersOf(node, 'cam')) === 0, 'the preview viewer gone after the client aborted');
});

test('the preview needs the API token even for reads, and answers 404 for an unknown stream', async (t) => {
  const node = await startNode(t);
  const none = await request(`${node.base}/api/v1/streams/cam/ts`);
  assert.equal(none.statusCode, 401);
  assert.equal(((await none.body.json()) as { error: { code: string } }).error.code, 'ERR_API_UNAUTHORIZED');
  const wrong = await request(`${node.base}/api/v1/streams/cam/ts`, { headers: { authorization: 'Bearer nope' } });
  assert.equal(wrong.statusCode, 401);
  await wrong.body.dump();
  const missing = await request(`${node.base}/api/v1/streams/nosuch/ts`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(missing.statusCode, 404);
  const err = ((await missing.body.json()) as { error: { code: string; message: string } }).error;
  assert.equal(err.code, 'ERR_API_NOT_FOUND');
  assert.match(err.message, /no stream 'nosuch'/, 'the 404 names the unknown stream, not a missing route');
});

test('the preview is refused with 503 when maxViewersPerStream viewers already watch', async (t) => {
  const node = await startNode(t, { maxViewersPerStream: 1 });
  const enc = ffmpegLiveEncoder(t, srtUrl(node.srtPort, 'publish:cam'));
  await waitLiveWhile(node.relay, 'cam', enc);
  const viewer = await connectBinding(node.srtPort, { streamid: 'read:cam', latency: 200 });
  t.after(() => viewer.close());
  await waitFor(async () => (await viewersOf(node, 'cam')) === 1, 'the SRT viewer connected');
  const res = await request(`${node.base}/api/v1/streams/cam/ts`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = (await res.body.json()) as { error: { code: string; details?: { reason?: number } } };
  assert.equal(res.statusCode, 503, JSON.stringify(body));
  assert.equal(body.error.code, 'ERR_SRT_REJECTED');
  assert.equal(body.error.details?.reason, 1503, "SRT reject 1503: the stream has maxViewersPerStream viewers");
});

test('the preview of a stream with a play passphrase plays with that passphrase', async (t) => {
  const node = await startNode(t, {}, 'viewer-secret-1');
  const enc = ffmpegLiveEncoder(t, srtUrl(node.srtPort, 'publish:cam'));
  await waitLiveWhile(node.relay, 'cam', enc);
  const data = await readPreview(node, 'cam', 100_000);
  assert.ok(data.byteLength >= 100_000);
  assert.equal(data[0], 0x47);
});

test('the preview closes its SRT viewer session when the HTTP client goes away', async (t) => {
  const node = await startNode(t);
  const enc = ffmpegLiveEncoder(t, srtUrl(node.srtPort, 'publish:cam'));
  await waitLiveWhile(node.relay, 'cam', enc);
  const ac = new AbortController();
  const res = await request(`${node.base}/api/v1/streams/cam/ts`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ac.signal });
  assert.equal(res.statusCode, 200);
  res.body.on('error', () => {});
  await waitFor(() => node.relay.listSessions().some((s) => s.stream === 'cam' && s.streamid === 'read:cam'), 'the preview session read:cam listed');
  ac.abort();
  await waitFor(() => !node.relay.listSessions().some((s) => s.stream === 'cam' && s.streamid === 'read:cam'), 'the preview session read:cam gone after the client went away');
  assert.equal(await viewersOf(node, 'cam'), 0, 'no viewer left on cam');
});
