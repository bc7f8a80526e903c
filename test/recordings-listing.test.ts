/**
 * GET /api/v1/recordings over a large folder (issue 17): the listing reads the file system with
 * fs/promises, a bounded number of calls at a time, so the event loop keeps turning while it runs
 * (a sync walk of thousands of files would hold it until the end), and it still answers the same:
 * every matching segment, oldest first, with its size and its duration from the PTS. Real MPEG-TS
 * files made by ffmpeg.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { probeDuration } from '../src/recording/segments.js';
import { Relay } from '../src/supervisor/relay.js';
import { freeUdpPort } from './helpers/free-port.js';
import { makeTsFile } from './helpers/media.js';
import { relayOptions, serveApi } from './helpers/relay-harness.js';
import { needEncoder, unmet } from './helpers/requirements.js';
import { testTempDir } from './helpers/ts-fixture.js';

const skip = unmet(needEncoder('libx264'));
const FILES = 2000;

interface RecordingJson { push: number; stream: string; path: string; start: string; durationSeconds: number; bytes: number }

test(`a listing of ${FILES} segment files lets the event loop turn while it reads them and lists every one, oldest first, with its size and duration`, { skip, timeout: 120_000 }, async (t) => {
  // A short clip (all of it in the 64 KB head) and a longer one (head and tail read apart).
  const clips = [await makeTsFile({ name: 'listing-short', seconds: 0.4, size: '64x64' }), await makeTsFile({ name: 'listing-long', seconds: 3, size: '320x240' })];
  assert.ok(statSync(clips[1]!).size > 64 * 1024, 'the long clip is longer than the head the listing reads');
  const durations = clips.map((c) => Math.round((probeDuration(c) ?? -1) * 1000) / 1000);
  assert.ok(durations.every((d) => d > 0), `durations ${durations.join(', ')}`);

  const root = mkdtempSync(join(testTempDir(), 'listing-'));
  const base = Date.UTC(2026, 11, 1, 0, 0, 0);
  const expected: Array<{ path: string; bytes: number; durationSeconds: number; mtimeMs: number }> = [];
  for (let i = 0; i < FILES; i++) {
    const at = base + i * 60_000; // one a minute: 33 h over two date folders
    const d = new Date(at);
    const day = d.toISOString().slice(0, 10);
    const name = `${String(d.getUTCHours()).padStart(2, '0')}-${String(d.getUTCMinutes()).padStart(2, '0')}-00.ts`;
    mkdirSync(join(root, 'cam', day), { recursive: true });
    const rel = `cam/${day}/${name}`;
    const clip = i % 2;
    copyFileSync(clips[clip]!, join(root, rel));
    utimesSync(join(root, rel), at / 1000, at / 1000);
    expected.push({ path: rel, bytes: statSync(clips[clip]!).size, durationSeconds: durations[clip]!, mtimeMs: at });
  }
  // Not segments of the target: another stream's folder, a file the template does not match.
  mkdirSync(join(root, 'other', '2026-12-01'), { recursive: true });
  copyFileSync(clips[0]!, join(root, 'other', '2026-12-01', '00-00-00.ts'));
  writeFileSync(join(root, 'cam', '2026-12-01', 'notes.txt'), 'x');

  const port = await freeUdpPort();
  const relay = new Relay(relayOptions(port, { recordingsRoot: root, workers: 1 }));
  const api = await serveApi(t, relay);
  relay.addPush({ stream: 'cam', target: 'file://$stream/%Y-%m-%d/%H-%M-%S.ts' });

  // The listing yields to the event loop: a chain of setImmediate callbacks runs while it reads.
  let turns = 0;
  let listing = true;
  const spin = (): void => {
    if (!listing) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  let segments;
  try {
    const pending = relay.recordings.segments('cam');
    assert.ok(pending instanceof Promise, 'segments() answers later, not after a synchronous walk');
    segments = await pending;
  } finally {
    listing = false;
  }
  assert.ok(turns >= 10, `the event loop turned ${turns} times during the listing of ${FILES} files`);
  assert.equal(segments.length, FILES);

  // The HTTP answer: every file, oldest first, with its size, duration and start.
  const res = await fetch(`${api}/api/v1/recordings?stream=cam`);
  assert.equal(res.status, 200);
  const { recordings } = (await res.json()) as { recordings: RecordingJson[] };
  assert.equal(recordings.length, FILES);
  assert.deepEqual(recordings.map((r) => r.path), expected.map((e) => e.path), 'every segment, oldest first, nothing else');
  for (let i = 0; i < FILES; i++) {
    const r = recordings[i]!;
    const e = expected[i]!;
    assert.equal(r.bytes, e.bytes, r.path);
    assert.equal(r.durationSeconds, e.durationSeconds, r.path);
    assert.equal(r.start, new Date(Math.round(e.mtimeMs - e.durationSeconds * 1000)).toISOString(), r.path);
    assert.equal(r.stream, 'cam');
  }
});
