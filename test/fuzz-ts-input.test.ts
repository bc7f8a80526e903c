/**
 * Broken MPEG-TS from a publisher: a real H.264+AAC stream whose SRT messages are mutated by a
 * seeded fuzzer (flipped bytes, broken sync bytes, random PIDs and continuity counters, impossible
 * adaptation-field lengths, garbage PES headers, PAT/PMT sections with wrong lengths and CRCs,
 * messages of pure noise, truncated messages that are not whole TS packets). The relay's analyzer
 * reads all of it on the worker: it must count, never crash (the publisher's and the viewer's
 * sessions survive on the same worker), and a viewer must receive exactly the bytes that were sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SrtSocket } from '../src/srt/socket.js';
import { connectFor, sessionOf, startRelay, waitAttached, waitFor, waitLive } from './helpers/relay-harness.js';
import { prng } from './helpers/srt-fuzzer.js';
import { delay, receiveDetailed, waitDelivered } from './helpers/srt-io.js';
import { tsFixtureBytes } from './helpers/ts-fixture.js';

const TS = 188;
const MSG = 7 * TS;

const MUTATIONS = [
  'intact',
  'flip-bytes',
  'break-sync',
  'random-pid-cc',
  'bad-adaptation-field',
  'garbage-pes-header',
  'broken-psi',
  'noise',
  'truncated',
  'all-0x47',
] as const;
type Mutation = (typeof MUTATIONS)[number];

/** The fixture cut into 1316-byte messages, each mutated (seeded); returns the messages and what was done. */
function fuzzedMessages(source: Buffer, count: number, seed: number): { messages: Buffer[]; kinds: Record<Mutation, number> } {
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const kinds = Object.fromEntries(MUTATIONS.map((m) => [m, 0])) as Record<Mutation, number>;
  const messages: Buffer[] = [];
  const whole = Math.floor(source.length / MSG);
  for (let i = 0; i < count; i++) {
    const m = Buffer.from(source.subarray((i % whole) * MSG, (i % whole) * MSG + MSG));
    // Two in three messages stay intact, so the analyzer also sees real PAT/PMT/PES between the damage.
    const kind: Mutation = rnd() < 0.66 ? 'intact' : MUTATIONS[1 + int(MUTATIONS.length - 1)]!;
    kinds[kind]++;
    const pkt = (): number => int(7) * TS;
    switch (kind) {
      case 'intact':
        break;
      case 'flip-bytes':
        for (let k = 1 + int(10); k > 0; k--) m[int(MSG)] = int(256);
        break;
      case 'break-sync':
        m[pkt()] = int(256);
        break;
      case 'random-pid-cc': {
        const p = pkt();
        m[p + 1] = (m[p + 1]! & 0xe0) | int(32);
        m[p + 2] = int(256);
        m[p + 3] = (m[p + 3]! & 0xf0) | int(16);
        break;
      }
      case 'bad-adaptation-field': {
        const p = pkt();
        m[p + 3] = (m[p + 3]! & 0x0f) | (int(4) << 4); // any adaptation_field_control, incl. reserved 0
        m[p + 4] = 183 + int(73); // length 183..255: up to past the packet's end
        m[p + 5] = int(256); // flags: PCR, OPCR, splice, private data, extension ...
        break;
      }
      case 'garbage-pes-header': {
        const p = pkt();
        m[p + 1] = m[p + 1]! | 0x40; // payload_unit_start
        m[p + 3] = (m[p + 3]! & 0xcf) | 0x10; // payload only
        m.writeUIntBE(0x000001, p + 4, 3); // PES start code
        for (let k = p + 7; k < p + 7 + 20; k++) m[k] = int(256); // stream id, length, flags, header length, PTS ...
        break;
      }
      case 'broken-psi': {
        const p = pkt();
        const pid = int(2) === 0 ? 0 : 0x1000; // PAT, or ffmpeg's PMT PID
        m[p] = 0x47;
        m[p + 1] = 0x40 | (pid >> 8);
        m[p + 2] = pid & 0xff;
        m[p + 3] = 0x10 | int(16);
        m[p + 4] = int(4) === 0 ? int(256) : 0; // pointer field, sometimes past the packet
        m[p + 5] = int(2) === 0 ? 0x00 : 0x02; // table id
        m[p + 6] = 0xb0 | int(16); // section_length high bits (up to 0xFFF)
        m[p + 7] = int(256);
        for (let k = p + 8; k < p + TS; k++) m[k] = int(256); // entries, program info length, ES info lengths, CRC
        break;
      }
      case 'noise':
        for (let k = 0; k < MSG; k++) m[k] = int(256);
        break;
      case 'truncated':
        messages.push(m.subarray(0, 1 + int(MSG - 1)));
        continue;
      case 'all-0x47':
        m.fill(0x47);
        break;
    }
    messages.push(m);
  }
  return { messages, kinds };
}

/** Collects every message `socket` receives until nothing arrived for `idleMs` after the first. */
function collectMessages(socket: SrtSocket, idleMs: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  const buf = new Uint8Array(1500);
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      resolve(out);
    };
    const drain = (): void => {
      let got = false;
      for (;;) {
        if (socket.isClosed) break;
        const n = socket.recv(buf);
        if (n <= 0) break;
        out.push(Buffer.from(buf.subarray(0, n)));
        got = true;
      }
      if (socket.isClosed) return done();
      if (got) {
        clearTimeout(timer);
        timer = setTimeout(done, idleMs);
      }
    };
    timer = setTimeout(done, 30_000);
    socket.on({ readable: drain, closed: done });
    drain();
  });
}

/** Sends each message, paced at `pps`, retrying while the send buffer is full. */
async function sendMessages(socket: SrtSocket, messages: readonly Buffer[], pps: number): Promise<void> {
  const start = performance.now();
  let i = 0;
  while (i < messages.length) {
    const due = Math.min(messages.length, Math.floor(((performance.now() - start) * pps) / 1000) + 1);
    while (i < due) {
      const n = socket.send(messages[i]!);
      if (n < 0) throw new Error(`publisher connection broke after ${i} messages`);
      if (n === 0) break;
      i++;
    }
    await delay(2);
  }
}

test('broken TS from a publisher (10,000 seeded mutated messages) is counted, relayed byte for byte, and crashes nothing', { timeout: 120_000 }, async (t) => {
  const { relay, port } = await startRelay(t, { workers: 2 });
  const source = await tsFixtureBytes();
  const seed = Number(process.env['SRT_RELAY_FUZZ_SEED'] ?? 77);
  const { messages, kinds } = fuzzedMessages(source, 10_000, seed);
  const expected = Buffer.concat(messages);
  t.diagnostic(`seed ${seed} (SRT_RELAY_FUZZ_SEED), mutations: ${JSON.stringify(kinds)}`);

  const pub = await connectFor(t, port, { streamid: 'publish:broken' });
  await waitLive(relay, 'broken');
  const viewer = await connectFor(t, port, { streamid: 'read:broken' });
  const pubInfo = await waitFor(() => sessionOf(relay, pub), 'publisher listed');
  const viewerInfo = await waitFor(() => sessionOf(relay, viewer), 'viewer listed');
  await waitAttached(relay, [pubInfo.id, viewerInfo.id]);

  const received = receiveDetailed(viewer, { untilBytes: expected.length, timeoutMs: 60_000 });
  // Viewers joining while the damage flows: the join looks for a key frame in what the ring holds.
  const late: Array<Promise<Buffer[]>> = [];
  const lateSockets: SrtSocket[] = [];
  const joining = (async () => {
    for (let k = 0; k < 3; k++) {
      await delay(1000);
      const v = await connectFor(t, port, { streamid: 'read:broken' });
      lateSockets.push(v);
      late.push(collectMessages(v, 2000));
    }
  })();
  await sendMessages(pub, messages, 2000); // ~5 s, ~21 Mbit/s
  await joining;
  await waitDelivered(pub, 500, 20_000);
  const got = await received;
  const lateStats = await relay.sessionStats();
  const lateGot = await Promise.all(late);

  // Nothing crashed: both sessions are still there, on the workers they started on.
  const sessions = relay.listSessions();
  assert.ok(sessions.some((s) => s.id === pubInfo.id && s.worker === pubInfo.worker), 'the publisher session survived on its worker');
  assert.ok(sessions.some((s) => s.id === viewerInfo.id && s.worker === viewerInfo.worker), 'the viewer session survived on its worker');
  assert.equal(relay.getStream('broken')?.publisher?.session, pubInfo.id);

  // Relayed: every byte, in order, message boundaries kept.
  assert.equal(got.ended, 'bytes', `viewer got ${got.data.length} of ${expected.length} bytes`);
  assert.equal(got.messages, messages.length, 'one message out per message in');
  assert.ok(got.data.equals(expected), 'the viewer received exactly the bytes sent');

  // Late joiners: the relay starts them at a key frame with PAT and PMT in front (its first
  // message is made by the relay); everything after that is a contiguous tail of the stream.
  for (const [k, msgs] of lateGot.entries()) {
    const id = sessionOf(relay, lateSockets[k]!)?.id;
    const st = id === undefined ? undefined : lateStats.get(id);
    const rest = Buffer.concat(msgs.slice(1));
    t.diagnostic(`late viewer ${k}: ${msgs.length} messages (first ${msgs[0]?.length} bytes), sent ${st?.packets}, skipped ${st?.skipped}`);
    assert.ok(msgs.length > 1, `late viewer ${k} received the stream`);
    assert.equal(msgs[0]!.length % TS, 0, `late viewer ${k}: the first message is whole TS packets`);
    assert.ok(rest.equals(expected.subarray(expected.length - rest.length)), `late viewer ${k}: after the first message, the stream's tail byte for byte`);
  }

  // Counted: the analyzer looked at it and found the damage.
  const stats = await relay.sessionStats();
  const ts = stats.get(pubInfo.id)?.ts as { packets?: number; ccErrors?: number } | undefined;
  t.diagnostic(`analyzer: ${JSON.stringify(ts)?.slice(0, 600)}`);
  assert.ok(ts !== undefined, 'the publisher has an analyzer snapshot');
  assert.ok((ts.ccErrors ?? 0) > 0, 'continuity errors were counted');
});
