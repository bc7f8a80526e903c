/**
 * The bench's synthetic TS (bench/lib/synth-ts.ts): ffprobe and ffmpeg accept it as H.264 in
 * MPEG-TS with an IDR every GOP, it is exactly CBR, and every message carries a stamp.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MSG_BYTES, PID_STAMP, PID_VIDEO, STAMP_MAGIC, TsSynth, TS_PACKET } from '../bench/lib/synth-ts.js';

function generate(bitrate: number, seconds: number, gopFrames = 25): { buf: Uint8Array; synth: TsSynth; n: number } {
  const synth = new TsSynth({ bitrate, gopFrames, stream: 3 });
  const n = Math.round(synth.msgPerSec * seconds);
  const buf = new Uint8Array(n * MSG_BYTES);
  for (let i = 0; i < n; i++) synth.fill(buf, i * MSG_BYTES, 1000 + i);
  return { buf, synth, n };
}

test('ffprobe reads the synthetic TS as one H.264 program, ffmpeg decodes it without errors, IDR every GOP', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-synth-'));
  try {
    const { buf, synth } = generate(4_000_000, 4, 25);
    const file = join(dir, 'synth.ts');
    writeFileSync(file, buf);
    const probe = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file], { encoding: 'utf8' }),
    ) as { streams: Array<Record<string, unknown>>; format: Record<string, unknown> };
    assert.equal(probe.format['format_name'], 'mpegts');
    assert.equal(probe.streams.length, 1, 'only the video PID is in the PMT');
    const v = probe.streams[0]!;
    assert.equal(v['codec_name'], 'h264');
    assert.equal(v['width'], 16);
    assert.equal(v['height'], 16);
    assert.equal(v['id'], `0x${PID_VIDEO.toString(16)}`);
    assert.equal(v['r_frame_rate'], '25/1');
    // container bitrate = the configured CBR (ffprobe: size * 8 / duration)
    const br = Number(probe.format['bit_rate']);
    assert.ok(Math.abs(br - 4_000_000) / 4_000_000 < 0.01, `bit_rate ${br}`);
    // decode everything: no error output at all
    const errors = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(errors.trim(), '');
    const frames = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'frame=key_frame,pict_type', '-of', 'csv=p=0', file], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n');
    assert.equal(frames.length, 100, '4 s at 25 fps');
    const keys = frames.map((f, i) => [f, i] as const).filter(([f]) => f.startsWith('1'));
    assert.deepEqual(keys.map(([, i]) => i), [0, 25, 50, 75]);
    assert.equal(synth.keyframes, 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every message starts with a stamp (magic, stream, sequence, send time); keyframes have random_access_indicator', () => {
  const { buf, n } = generate(10_000_000, 1, 10);
  const dv = new DataView(buf.buffer);
  let rai = 0;
  const ccLast = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const o = i * MSG_BYTES;
    assert.equal(buf[o], 0x47);
    assert.equal(((buf[o + 1]! & 0x1f) << 8) | buf[o + 2]!, PID_STAMP);
    assert.equal(dv.getUint32(o + 4, true), STAMP_MAGIC);
    assert.equal(dv.getUint32(o + 8, true), 3);
    assert.equal(dv.getUint32(o + 12, true), i);
    assert.equal(dv.getFloat64(o + 20, true), 1000 + i);
    for (let k = 0; k < 7; k++) {
      const p = o + k * TS_PACKET;
      assert.equal(buf[p], 0x47);
      const pid = ((buf[p + 1]! & 0x1f) << 8) | buf[p + 2]!;
      if (pid === 0x1fff) continue;
      const cc = buf[p + 3]! & 15;
      const last = ccLast.get(pid);
      if (last !== undefined) assert.equal(cc, (last + 1) & 15, `CC of PID ${pid} at message ${i}`);
      ccLast.set(pid, cc);
      if (pid === PID_VIDEO && (buf[p + 3]! & 0x20) !== 0 && buf[p + 4]! > 0 && (buf[p + 5]! & 0x40) !== 0) {
        rai++;
        // payload: PES start, then AUD, then SPS .. IDR
        assert.equal(buf[p + 1]! & 0x40, 0x40, 'RAI on a PES start');
      }
    }
  }
  assert.equal(rai, 3, '1 s of 25 fps with a 10-frame GOP: IDR at frames 0, 10, 20');
});

/** Byte offset and PCR (27 MHz) of every video packet that carries a PCR. */
function pcrs(buf: Uint8Array): Array<{ byte: number; pcr: number }> {
  const out: Array<{ byte: number; pcr: number }> = [];
  for (let p = 0; p + TS_PACKET <= buf.length; p += TS_PACKET) {
    const pid = ((buf[p + 1]! & 0x1f) << 8) | buf[p + 2]!;
    if (pid !== PID_VIDEO || (buf[p + 3]! & 0x20) === 0 || buf[p + 4]! === 0 || (buf[p + 5]! & 0x10) === 0) continue;
    const base = buf[p + 6]! * 2 ** 25 + buf[p + 7]! * 2 ** 17 + buf[p + 8]! * 2 ** 9 + buf[p + 9]! * 2 + (buf[p + 10]! >> 7);
    const ext = ((buf[p + 10]! & 1) << 8) | buf[p + 11]!;
    out.push({ byte: p, pcr: base * 300 + ext });
  }
  return out;
}

test('the stream is CBR at any bitrate: bytes between PCRs match the bitrate (the way a TS demuxer measures it)', () => {
  for (const br of [1e6, 10e6, 50e6]) {
    const { buf } = generate(br, 2);
    const p = pcrs(buf);
    assert.ok(p.length >= 40, `${br} bit/s: ${p.length} PCRs in 2 s of 25 fps`);
    const first = p[0]!;
    const last = p[p.length - 1]!;
    const measured = ((last.byte - first.byte) * 8) / ((last.pcr - first.pcr) / 27e6);
    assert.ok(Math.abs(measured / br - 1) < 0.01, `${br} bit/s: ${Math.round(measured)} bit/s between the first and the last PCR`);
    // Constant, not only on average: the first and the second half give the same rate.
    const mid = p[Math.floor(p.length / 2)]!;
    const halves = [[first, mid], [mid, last]].map(([a, b]) => ((b!.byte - a!.byte) * 8) / ((b!.pcr - a!.pcr) / 27e6));
    assert.ok(Math.abs(halves[0]! / halves[1]! - 1) < 0.02, `${br} bit/s: halves at ${halves.map(Math.round).join(' and ')} bit/s`);
  }
});
