/**
 * The README's ffmpeg publish example, run as printed (only the port changed, and `-t 6` so it
 * ends), into a real node started by the CLI on its defaults: a viewer on the main port gets a
 * stream every player accepts — H.264 in yuv420p (not x264's 4:4:4 default for RGB test
 * sources), AAC audio, a bounded video bitrate — decoded by ffprobe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SrtSocket } from '../src/srt/socket.js';
import { collect } from './helpers/media.js';
import { spawnFor } from './helpers/processes.js';
import { startRelayProcess } from './helpers/relay-process.js';
import { waitFor } from './helpers/relay-harness.js';
import { testTempDir } from './helpers/ts-fixture.js';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));

/** The README's `ffmpeg -re -f lavfi …` command as argv (one sh block, `\` continuations, '…' quoting). */
function readmeFfmpegCommand(): string[] {
  const text = readFileSync(README, 'utf8');
  const block = /```sh\n(ffmpeg -re -f lavfi[\s\S]*?)```/.exec(text)?.[1];
  assert.ok(block !== undefined, 'README.md has an ffmpeg publish example');
  const line = block.replace(/\\\n/g, ' ').trim();
  const args: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|(\S+)/g)) args.push(m[1] ?? m[2]!);
  return args;
}

test("the README's ffmpeg example publishes H.264 yuv420p with AAC that a viewer on the default port decodes", { timeout: 90_000 }, async (t) => {
  const node = await startRelayProcess(t, { logLevel: 'warn' });
  const [cmd, ...args] = readmeFfmpegCommand();
  assert.equal(cmd, 'ffmpeg');
  const url = args.pop()!;
  assert.match(url, /^srt:\/\/127\.0\.0\.1:8889\?streamid=publish:mystream$/, 'the example publishes to the default port');
  const ffmpeg = spawnFor(t, 'ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', ...args, '-t', '6', url.replace(':8889', `:${node.srtPort}`)], { name: 'README ffmpeg' });
  await waitFor(async () => (await node.api<{ state: string }>('/api/v1/streams/mystream')).body.state === 'live', 'mystream live', 20_000);
  const viewer = SrtSocket.create({ streamid: 'read:mystream' });
  t.after(() => viewer.close());
  await viewer.connect('127.0.0.1', node.srtPort);
  const got = collect(viewer);
  await ffmpeg.exited;
  assert.equal(ffmpeg.exit?.code, 0, `ffmpeg exits 0\n${ffmpeg.output()}`);
  await waitFor(() => got.bytes > 0, 'the viewer received the stream');
  const file = join(testTempDir(), `readme-example-${process.pid}.ts`);
  writeFileSync(file, got.data());
  const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file], { encoding: 'utf8' })) as {
    streams: Array<{ codec_type: string; codec_name: string; pix_fmt?: string; profile?: string }>;
  };
  const video = probe.streams.find((s) => s.codec_type === 'video');
  const audio = probe.streams.find((s) => s.codec_type === 'audio');
  assert.equal(video?.codec_name, 'h264');
  assert.equal(video?.pix_fmt, 'yuv420p', 'players (browsers, hardware decoders) need 4:2:0');
  assert.doesNotMatch(video?.profile ?? '', /4:4:4|High 4:2:2/);
  assert.equal(audio?.codec_name, 'aac');
  // Every video frame the viewer got decodes.
  const frames = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file], { encoding: 'utf8' }).trim();
  const decoded = Number.parseInt(frames.split('\n')[0] ?? '', 10);
  assert.ok(decoded >= 25, `at least a second of video decodes (got ${frames} frames)`);
});
