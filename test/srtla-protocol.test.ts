/** SRTLA wire format (src/srtla/protocol.ts): classification, building and parsing, pure. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildReg,
  buildShort,
  classify,
  completeId,
  isSrtAck,
  Kind,
  newAckBuffer,
  newSenderId,
  parseAck,
  putAckSeq,
  regId,
  sameSenderHalf,
  srtDataSeq,
  SRTLA_ACK_LEN,
  SRTLA_REG_LEN,
  SRTLA_TYPE_KEEPALIVE,
  SRTLA_TYPE_REG1,
  SRTLA_TYPE_REG2,
  SRTLA_TYPE_REG3,
  SRTLA_TYPE_REG_ERR,
  SRTLA_TYPE_REG_NAK,
  SRTLA_TYPE_REG_NGP,
} from '../src/srtla/protocol.js';
import { ipv4Key } from '../src/srtla/server.js';

test('REG1/REG2 are 258 bytes with the big-endian type first and the id after it', () => {
  const id = newSenderId();
  const r1 = buildReg(SRTLA_TYPE_REG1, id);
  assert.equal(r1.length, SRTLA_REG_LEN);
  assert.deepEqual([r1[0], r1[1]], [0x92, 0x00]);
  assert.equal(classify(r1), Kind.Reg1);
  assert.ok(Buffer.from(regId(r1)).equals(id));
  assert.equal(classify(buildReg(SRTLA_TYPE_REG2, id)), Kind.Reg2);
  assert.equal(classify(r1.subarray(0, 100)), Kind.BadSrtla, 'a truncated REG1 is malformed');
});

test('the receiver keeps the sender half of the id and fills the second half with random bytes', () => {
  const id = newSenderId();
  assert.ok(id.subarray(128).every((b) => b === 0));
  const full = completeId(id);
  assert.ok(sameSenderHalf(full, id));
  assert.ok(!full.subarray(128).every((b) => b === 0), 'second half filled');
  assert.ok(!completeId(id).equals(full), 'two completions differ');
});

test('short messages classify by type and length', () => {
  assert.equal(classify(buildShort(SRTLA_TYPE_REG3)), Kind.Reg3);
  assert.equal(classify(buildShort(SRTLA_TYPE_REG_ERR)), Kind.RegErr);
  assert.equal(classify(buildShort(SRTLA_TYPE_REG_NGP)), Kind.RegNgp);
  assert.equal(classify(buildShort(SRTLA_TYPE_REG_NAK)), Kind.RegNak);
  assert.equal(classify(buildShort(SRTLA_TYPE_KEEPALIVE)), Kind.Keepalive);
  assert.equal(classify(Buffer.from([0x90, 0x00, 1, 2, 3, 4, 5, 6, 7, 8])), Kind.Keepalive, 'keepalive with a timestamp');
  assert.equal(classify(Buffer.from([0x92, 0x02, 0])), Kind.BadSrtla, 'REG3 with a trailing byte');
  assert.equal(classify(Buffer.from([0x92, 0x55])), Kind.BadSrtla, 'unknown SRTLA type');
  assert.equal(classify(Buffer.from([0x12])), Kind.Runt);
});

test('SRT data and control packets are told apart from SRTLA, and an SRT ACK is recognised', () => {
  const data = Buffer.alloc(1316 + 16);
  data.writeUInt32BE(0x12345678, 0);
  assert.equal(classify(data), Kind.SrtData);
  assert.equal(srtDataSeq(data), 0x12345678);
  const ack = Buffer.alloc(44);
  ack.writeUInt16BE(0x8002, 0);
  assert.equal(classify(ack), Kind.SrtControl);
  assert.ok(isSrtAck(ack));
  const nak = Buffer.alloc(20);
  nak.writeUInt16BE(0x8003, 0);
  assert.equal(classify(nak), Kind.SrtControl);
  assert.ok(!isSrtAck(nak));
  const user = Buffer.alloc(16);
  user.writeUInt16BE(0xffff, 0);
  assert.equal(classify(user), Kind.SrtControl, 'SRT user-defined control type 0x7fff is not SRTLA');
});

test('an SRTLA ACK is 0x9100 in the high half of the first word and 10 sequence numbers', () => {
  const b = newAckBuffer();
  assert.equal(b.length, SRTLA_ACK_LEN);
  assert.equal(b.readUInt32BE(0), 0x91000000);
  for (let i = 0; i < 10; i++) putAckSeq(b, i, 1000 + i);
  assert.equal(classify(b), Kind.Ack);
  assert.deepEqual(parseAck(b), [1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009]);
  assert.equal(classify(b.subarray(0, 40)), Kind.BadSrtla);
});

test('ipv4Key packs address and port into one number and rejects anything that is not a dotted quad', () => {
  assert.equal(ipv4Key('127.0.0.2', 5000), (0x7f000002 * 65536) + 5000);
  assert.notEqual(ipv4Key('127.0.0.2', 5000), ipv4Key('127.0.0.3', 5000));
  for (const bad of ['::1', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', 'a.b.c.d', '']) assert.equal(ipv4Key(bad, 1), -1, bad);
});
