/**
 * An MPEG-TS test file made by ffmpeg (4 s of testsrc H.264 video + 1 kHz AAC audio), generated
 * once per test process into a temporary directory that is removed when the process exits.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const TS_PACKET = 188;
export const TS_SYNC = 0x47;

let tempDir: string | undefined;
let fixture: Promise<string> | undefined;

/** A temporary directory for this test process, removed at exit. */
export function testTempDir(): string {
  if (tempDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'srt-relay-test-'));
    tempDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return tempDir;
}

/** Path of the MPEG-TS fixture (generated on first use, then cached). */
export function tsFixture(): Promise<string> {
  if (fixture === undefined) {
    const out = join(testTempDir(), 'fixture.ts');
    fixture = run(
      'ffmpeg',
      [
        '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
        '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25',
        '-f', 'lavfi', '-i', 'sine=frequency=1000',
        '-t', '4',
        '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25',
        '-c:a', 'aac',
        '-f', 'mpegts', out,
      ],
      { timeout: 30_000 },
    ).then(() => out);
    fixture.catch(() => {
      fixture = undefined;
    });
  }
  return fixture;
}

/** The fixture's bytes. */
export async function tsFixtureBytes(): Promise<Buffer> {
  return readFileSync(await tsFixture());
}

/** Number of 188-byte packets in `buf` that start with the sync byte, and whether all do. */
export function checkTsPackets(buf: Buffer): { packets: number; allSynced: boolean; remainder: number } {
  const packets = Math.floor(buf.length / TS_PACKET);
  let allSynced = true;
  for (let i = 0; i < packets; i++) {
    if (buf[i * TS_PACKET] !== TS_SYNC) {
      allSynced = false;
      break;
    }
  }
  return { packets, allSynced, remainder: buf.length % TS_PACKET };
}
