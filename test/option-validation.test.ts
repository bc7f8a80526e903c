import { test } from 'node:test';
import { skipOrFail } from './helpers/requirements.js';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { SrtRelayError, SrtOptionUnknownError, type ErrorCode } from '../src/errors.js';
import {
  RESERVED_SRT_OPTIONS,
  SRT_OPTIONS,
  SRT_OPTION_NAMES,
  closestOptionNames,
  editDistance,
  normalizeOptions,
  validateOption,
  type SrtOptionValues,
} from '../src/srt/options.js';
import { parseSrtUrl } from '../src/srt/url.js';

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SrtRelayError, `expected SrtRelayError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message !== undefined) assert.match(e.message, message);
    return true;
  });
}

const invalid = (name: string, raw: string, message?: RegExp): void =>
  throwsCode(() => validateOption(name, raw), 'ERR_SRT_OPTION_INVALID', message);

// --- the catalog ---------------------------------------------------------------------------------

test('the catalog holds every option the relay documents', () => {
  const expected = [
    'transtype', 'latency', 'rcvlatency', 'peerlatency', 'passphrase', 'pbkeylen', 'streamid', 'maxbw', 'inputbw',
    'mininputbw', 'oheadbw', 'tsbpdmode', 'tlpktdrop', 'nakreport', 'enforcedencryption', 'messageapi', 'drifttracer',
    'ipv6only', 'snddropdelay', 'lossmaxttl', 'conntimeo', 'peeridletimeo', 'packetfilter', 'congestion',
    'payloadsize', 'mss', 'fc', 'sndbuf', 'rcvbuf', 'udp_sndbuf', 'udp_rcvbuf', 'ipttl', 'iptos', 'minversion',
    'kmrefreshrate', 'kmpreannounce', 'retransmitalgo', 'linger',
  ];
  for (const name of expected) assert.ok(SRT_OPTION_NAMES.includes(name as never), `${name} is in the catalog`);
  for (const name of ['sndsyn', 'rcvsyn', 'groupconnect', 'grouptype']) {
    assert.ok(!SRT_OPTION_NAMES.includes(name as never), `${name} is not a URL option`);
  }
});

test('every catalog entry names an SRTO_ constant that libsrt 1.5.1 srt.h defines', (t) => {
  const header = '/usr/include/srt/srt.h';
  if (!existsSync(header)) {
    skipOrFail(t, `${header} not found (install libsrt-openssl-dev)`);
    return;
  }
  const text = readFileSync(header, 'utf8');
  for (const name of SRT_OPTION_NAMES) {
    const spec = SRT_OPTIONS[name];
    assert.equal(spec.name, name);
    assert.equal(spec.srto, `SRTO_${name.toUpperCase()}`);
    assert.match(text, new RegExp(`^\\s*${spec.srto}\\b`, 'm'), `${spec.srto} is in srt.h`);
  }
});

test('every entry has a type, a phase and an allowed-values text; the catalog is frozen', () => {
  assert.ok(Object.isFrozen(SRT_OPTIONS));
  for (const name of SRT_OPTION_NAMES) {
    const spec = SRT_OPTIONS[name];
    assert.ok(['int', 'int64', 'bool', 'string', 'enum'].includes(spec.type), name);
    assert.ok(spec.phase === 'pre' || spec.phase === 'post', name);
    assert.ok(spec.allowed.length > 0, name);
    assert.ok(Object.isFrozen(spec), name);
  }
  assert.equal(SRT_OPTIONS.maxbw.type, 'int64');
  assert.equal(SRT_OPTIONS.maxbw.phase, 'post');
  assert.equal(SRT_OPTIONS.latency.phase, 'pre');
  assert.equal(SRT_OPTIONS.udp_rcvbuf.preBind, true);
  assert.deepEqual(SRT_OPTIONS.transtype.enumValues, { live: 0, file: 1 });
});

test('the values have the types the catalog promises', () => {
  const latency: SrtOptionValues['latency'] = validateOption('latency', '120');
  const drop: SrtOptionValues['tlpktdrop'] = validateOption('tlpktdrop', 'yes');
  const type: SrtOptionValues['transtype'] = validateOption('transtype', 'file');
  assert.equal(latency, 120);
  assert.equal(drop, true);
  assert.equal(type, 'file');
});

// --- booleans ------------------------------------------------------------------------------------

test('booleans accept 1/0, true/false, yes/no, on/off in any case; tlpktdrop=0 is false', () => {
  for (const word of ['1', 'true', 'TRUE', 'yes', 'Yes', 'on', 'ON']) assert.equal(validateOption('tlpktdrop', word), true, word);
  for (const word of ['0', 'false', 'False', 'no', 'NO', 'off', 'Off']) assert.equal(validateOption('tlpktdrop', word), false, word);
  for (const name of ['tsbpdmode', 'nakreport', 'enforcedencryption', 'messageapi', 'drifttracer']) {
    assert.equal(validateOption(name, '0'), false, name);
  }
});

test('a boolean given something else says how to write it', () => {
  invalid('tlpktdrop', '2', /tlpktdrop is a yes\/no switch: write tlpktdrop=1 or tlpktdrop=0/);
  invalid('nakreport', 'maybe', /got 'maybe'/);
  invalid('messageapi', '', /yes\/no switch/);
});

// --- integers ------------------------------------------------------------------------------------

test('latency takes 0 or more milliseconds; negative is refused with the range', () => {
  assert.equal(validateOption('latency', '0'), 0);
  assert.equal(validateOption('latency', '200'), 200);
  assert.ok(Object.is(validateOption('latency', '-0'), 0));
  invalid('latency', '-1', /latency must be 0 or more milliseconds \(got -1\)/);
  invalid('rcvlatency', '-5', /rcvlatency must be 0 or more milliseconds/);
  invalid('peerlatency', '-5', /peerlatency must be 0 or more milliseconds/);
});

test('trailing garbage in a number is refused with the right way to write it', () => {
  invalid('latency', '200ms', /^latency is in milliseconds, write latency=200$/);
  invalid('latency', '2s', /latency is in milliseconds, write latency=2000/);
  invalid('linger', '5s', /linger is in seconds, write linger=5/);
  invalid('oheadbw', '25%', /oheadbw is in percent, write oheadbw=25/);
  invalid('maxbw', '10mbps', /maxbw is in bytes per second, write maxbw=1250000/);
  invalid('maxbw', '10M', /maxbw is in bytes per second as a plain integer/);
  invalid('latency', '200 ms', /write latency=200/);
  invalid('latency', '12.5', /latency is in milliseconds, written as a plain decimal integer|decimal integer/);
  invalid('latency', '0x10', /decimal numbers only, write latency=16/);
  invalid('latency', 'abc', /latency must be 0 or more milliseconds, written as a decimal integer \(got 'abc'\)/);
  invalid('latency', '', /decimal integer \(got ''\)/);
  invalid('fc', '+64', /decimal integer/);
});

test('integers too large for libsrt are refused', () => {
  invalid('latency', '2147483648', /at most 2147483647/);
  assert.equal(validateOption('maxbw', '2147483648'), 2147483648);
  invalid('maxbw', '99999999999999999999', /at most 9007199254740991/);
});

test('bandwidth options: maxbw -1, 0 or positive; inputbw and mininputbw 0 or more; oheadbw 5 to 100', () => {
  assert.equal(validateOption('maxbw', '-1'), -1);
  assert.equal(validateOption('maxbw', '0'), 0);
  assert.equal(validateOption('maxbw', '250000000'), 250000000);
  invalid('maxbw', '-2', /maxbw must be -1 \(libsrt default\), 0 .* or a positive number of bytes per second \(got -2\)/);
  assert.equal(validateOption('inputbw', '0'), 0);
  invalid('inputbw', '-1', /inputbw must be 0 \(estimate\) or more bytes per second/);
  invalid('mininputbw', '-1', /mininputbw must be 0 or more bytes per second/);
  assert.equal(validateOption('oheadbw', '5'), 5);
  assert.equal(validateOption('oheadbw', '100'), 100);
  invalid('oheadbw', '4', /oheadbw must be 5 to 100 percent \(got 4\)/);
  invalid('oheadbw', '101', /5 to 100 percent/);
});

test('pbkeylen is 0, 16, 24 or 32', () => {
  for (const v of [0, 16, 24, 32]) assert.equal(validateOption('pbkeylen', String(v)), v);
  invalid('pbkeylen', '20', /pbkeylen must be one of 0, 16, 24 or 32.*\(got 20\)/);
});

test('sizes and counts: payloadsize, mss, fc, buffers', () => {
  assert.equal(validateOption('payloadsize', '0'), 0);
  assert.equal(validateOption('payloadsize', '1456'), 1456);
  invalid('payloadsize', '1457', /payloadsize must be 0 to 1456 bytes \(got 1457\)/);
  assert.equal(validateOption('mss', '76'), 76);
  assert.equal(validateOption('mss', '1500'), 1500);
  invalid('mss', '75', /mss must be 76 to 1500 bytes/);
  invalid('mss', '1501', /76 to 1500 bytes/);
  assert.equal(validateOption('fc', '32'), 32);
  invalid('fc', '31', /fc must be 32 or more packets/);
  for (const name of ['sndbuf', 'rcvbuf', 'udp_sndbuf', 'udp_rcvbuf']) {
    assert.equal(validateOption(name, '12000000'), 12000000);
    invalid(name, '0', new RegExp(`${name} must be a positive number of bytes \\(got 0\\)`));
  }
});

test('timeouts and delays: conntimeo and peeridletimeo positive; snddropdelay -1 or more; lossmaxttl 0 or more', () => {
  assert.equal(validateOption('conntimeo', '3000'), 3000);
  invalid('conntimeo', '0', /conntimeo must be a positive number of milliseconds/);
  invalid('peeridletimeo', '0', /peeridletimeo must be a positive number of milliseconds/);
  assert.equal(validateOption('snddropdelay', '-1'), -1);
  assert.equal(validateOption('snddropdelay', '0'), 0);
  invalid('snddropdelay', '-2', /snddropdelay must be -1 \(off\) or 0 or more milliseconds/);
  assert.equal(validateOption('lossmaxttl', '0'), 0);
  invalid('lossmaxttl', '-1', /lossmaxttl must be 0 or more packets/);
  assert.equal(validateOption('linger', '0'), 0);
  invalid('linger', '-1', /linger must be 0 \(off\) or more seconds/);
});

test('IP options: ipttl 1..255 or -1, iptos 0..255 or -1, ipv6only -1..1', () => {
  assert.equal(validateOption('ipttl', '-1'), -1);
  assert.equal(validateOption('ipttl', '64'), 64);
  invalid('ipttl', '0', /ipttl must be 1 to 255 hops, or -1/);
  invalid('ipttl', '256', /1 to 255/);
  assert.equal(validateOption('iptos', '0'), 0);
  assert.equal(validateOption('iptos', '-1'), -1);
  invalid('iptos', '256', /iptos must be 0 to 255, or -1/);
  invalid('iptos', '-2', /iptos must be 0 to 255/);
  for (const v of [-1, 0, 1]) assert.equal(validateOption('ipv6only', String(v)), v);
  invalid('ipv6only', '2', /ipv6only must be -1 \(system default\), 0 or 1/);
});

test('key material options and retransmitalgo', () => {
  assert.equal(validateOption('kmrefreshrate', '0'), 0);
  invalid('kmrefreshrate', '-1', /kmrefreshrate must be 0 \(default\) or more packets/);
  assert.equal(validateOption('kmpreannounce', '4096'), 4096);
  invalid('kmpreannounce', '-1', /kmpreannounce must be 0/);
  assert.equal(validateOption('retransmitalgo', '0'), 0);
  assert.equal(validateOption('retransmitalgo', '1'), 1);
  invalid('retransmitalgo', '2', /retransmitalgo must be 0 .* or 1 /);
});

test('minversion accepts 1.3.0, 1.3 and 0x010300 and normalizes to 0xXXYYZZ', () => {
  assert.equal(validateOption('minversion', '1.3.0'), 0x010300);
  assert.equal(validateOption('minversion', '1.3'), 0x010300);
  assert.equal(validateOption('minversion', '1.4.2'), 0x010402);
  assert.equal(validateOption('minversion', '0x010300'), 0x010300);
  assert.equal(validateOption('minversion', '0X010501'), 0x010501);
  assert.equal(validateOption('minversion', '66304'), 0x010300);
  invalid('minversion', 'v1.3', /minversion is an SRT version; write it like minversion=1\.3\.0 or minversion=0x010300/);
  invalid('minversion', '1.256.0', /each part of a version is 0 to 255/);
  invalid('minversion', '0x1000000', /minversion is an SRT version/);
  invalid('minversion', '16777216', /minversion must be an SRT version such as 1\.3\.0 or 0x010300 \(got 16777216\)/);
});

// --- enums ---------------------------------------------------------------------------------------

test('transtype and congestion are live or file', () => {
  assert.equal(validateOption('transtype', 'live'), 'live');
  assert.equal(validateOption('transtype', 'FILE'), 'file');
  invalid('transtype', 'lve', /transtype must be one of live or file \(got 'lve'\)/);
  assert.equal(validateOption('congestion', 'file'), 'file');
  assert.equal(validateOption('congestion', 'vod'), 'file');
  invalid('congestion', 'bbr', /congestion must be one of live or file/);
});

// --- strings -------------------------------------------------------------------------------------

test('passphrase is 10 to 79 characters, or empty to disable encryption', () => {
  invalid('passphrase', 'x'.repeat(9), /passphrase must be 10 to 79 characters \(got 9\)/);
  assert.equal(validateOption('passphrase', 'x'.repeat(10)), 'x'.repeat(10));
  assert.equal(validateOption('passphrase', 'x'.repeat(79)), 'x'.repeat(79));
  invalid('passphrase', 'x'.repeat(80), /passphrase must be 10 to 79 characters \(got 80\)/);
  invalid('passphrase', 'short', /^passphrase must be 10 to 79 characters \(got 5\), or empty to disable encryption$/);
  invalid('passphrase', 'é'.repeat(40), /10 to 79 bytes of UTF-8.*\(got 80 bytes\)/);
  assert.equal(validateOption('passphrase', ''), '');
});

test('a refused passphrase is never echoed', () => {
  assert.throws(
    () => validateOption('passphrase', 'hunter2'),
    (e: SrtRelayError) => !e.message.includes('hunter2') && !JSON.stringify(e.details).includes('hunter2'),
  );
  assert.throws(
    () => normalizeOptions({ passphrase: 1234567890123 }),
    (e: SrtRelayError) => e.code === 'ERR_SRT_OPTION_INVALID' && !e.message.includes('1234567890123'),
  );
});

test('streamid may be 512 bytes of UTF-8 but not 513', () => {
  assert.equal(validateOption('streamid', 'a'.repeat(512)), 'a'.repeat(512));
  invalid('streamid', 'a'.repeat(513), /streamid must be at most 512 bytes of UTF-8 \(got 513 bytes\)/);
  // 256 two-byte characters = 512 bytes; one more ASCII byte is too many
  assert.equal(validateOption('streamid', 'é'.repeat(256)), 'é'.repeat(256));
  invalid('streamid', `${'é'.repeat(256)}a`, /got 513 bytes/);
  assert.equal(validateOption('streamid', '#!::r=live,m=publish'), '#!::r=live,m=publish');
});

test('packetfilter accepts fec with cols, rows, layout and arq', () => {
  for (const good of [
    'fec,cols:10,rows:5',
    'fec,cols:1',
    'fec,cols:10,rows:-5',
    'fec,cols:10,rows:1,layout:even',
    'fec,cols:8,rows:4,layout:staircase,arq:onreq',
    'fec,rows:4,cols:8,arq:always',
    'fec,cols:8,arq:never',
  ]) {
    assert.equal(validateOption('packetfilter', good), good);
  }
});

test('packetfilter syntax errors say what is wrong', () => {
  invalid('packetfilter', 'fec', /packetfilter needs the number of columns, e\.g\. packetfilter=fec,cols:10,rows:5/);
  invalid('packetfilter', 'fec,rows:5', /needs the number of columns/);
  invalid('packetfilter', 'rs,cols:10', /must start with the filter type 'fec'/);
  invalid('packetfilter', 'fec,cols:0', /cols must be an integer of 1 or more \(got '0'\)/);
  invalid('packetfilter', 'fec,cols:x', /cols must be an integer of 1 or more/);
  invalid('packetfilter', 'fec,cols:10,rows:0', /rows must be a non-zero integer/);
  invalid('packetfilter', 'fec,cols:10,rows:2.5', /rows must be a non-zero integer/);
  invalid('packetfilter', 'fec,cols:10,layout:odd', /layout must be even or staircase \(got 'odd'\)/);
  invalid('packetfilter', 'fec,cols:10,arq:sometimes', /arq must be always, never or onreq/);
  invalid('packetfilter', 'fec,cols:10,colz:3', /unknown FEC setting 'colz'; did you mean 'cols'\?/);
  invalid('packetfilter', 'fec,cols:10,cols:3', /'cols' is given twice/);
  invalid('packetfilter', 'fec,cols=10', /key:value/);
  invalid('packetfilter', 'fec,cols:10,', /key:value/);
  invalid('packetfilter', '', /must not be empty/);
});

test('packetfilter longer than 64 characters is refused because libsrt would ignore it', () => {
  const at64 = 'fec,cols:10,rows:5,layout:staircase,arq:onreq'.padEnd(64, ' ');
  assert.equal(at64.length, 64);
  const ok64 = `fec,cols:${'1'.repeat(60 - 5)}`; // 'fec,cols:' is 9 chars
  const exactly64 = ok64.padEnd(64, '0');
  assert.equal(exactly64.length, 64);
  assert.equal(validateOption('packetfilter', exactly64), exactly64);
  invalid(
    'packetfilter',
    `${exactly64}0`,
    /packetfilter must be at most 64 characters \(got 65\); libsrt silently ignores longer filter strings/,
  );
});

test('bindtodevice is an interface name', () => {
  assert.equal(validateOption('bindtodevice', 'eth0'), 'eth0');
  invalid('bindtodevice', 'a-very-long-interface-name', /network interface name of 1 to 15 characters/);
});

// --- reserved and unknown names ------------------------------------------------------------------

test('sndsyn and rcvsyn are refused: the relay controls blocking mode', () => {
  invalid('sndsyn', '1', /^sndsyn cannot be set: the relay controls blocking mode/);
  invalid('rcvsyn', '0', /^rcvsyn cannot be set: the relay controls blocking mode/);
  invalid('rendezvous', '1', /mode=rendezvous/);
  invalid('groupconnect', '1', /socket groups \(bonding\) are not supported/);
  invalid('peerversion', '1', /read-only/);
  for (const name of Object.keys(RESERVED_SRT_OPTIONS)) invalid(name, '1', /cannot be set/);
});

test('an unknown option names the closest valid options', () => {
  throwsCode(() => validateOption('latncy', '1'), 'ERR_SRT_OPTION_UNKNOWN', /^unknown SRT option 'latncy'; did you mean 'latency'\?$/);
  throwsCode(() => validateOption('pasphrase', 'x'), 'ERR_SRT_OPTION_UNKNOWN', /did you mean 'passphrase'\?/);
  throwsCode(() => validateOption('SRTO_LATENCY', '1'), 'ERR_SRT_OPTION_UNKNOWN', /did you mean 'latency'\?$/);
  throwsCode(() => validateOption('zzzzzzzzzz', '1'), 'ERR_SRT_OPTION_UNKNOWN', /lowercase libsrt option name/);
  try {
    validateOption('streamd', 'x');
    assert.fail('expected an error');
  } catch (e) {
    assert.ok(e instanceof SrtOptionUnknownError);
    assert.deepEqual(e.suggestions, ['streamid']);
    assert.deepEqual(e.details, { option: 'streamd', suggestions: ['streamid'] });
  }
});

test('closestOptionNames ranks by edit distance, takes prefixes and stops at distance 3', () => {
  assert.deepEqual(closestOptionNames('latncy'), ['latency']);
  assert.deepEqual(closestOptionNames('lat'), ['latency']);
  assert.equal(closestOptionNames('rcvlat')[0], 'rcvlatency');
  assert.deepEqual(closestOptionNames('udp_rcvbuff'), ['udp_rcvbuf']);
  assert.deepEqual(closestOptionNames('ipto'), ['iptos', 'ipttl']);
  assert.deepEqual(closestOptionNames('qqqqqqqqqqqq'), []);
  assert.ok(closestOptionNames('latency', 3).length <= 3);
  assert.deepEqual(closestOptionNames('mdoe', 3, ['mode']), ['mode']);
  assert.equal(editDistance('latency', 'latncy'), 1);
  assert.equal(editDistance('mss', 'mms'), 1);
  assert.equal(editDistance('', 'abc'), 3);
});

// --- config objects ------------------------------------------------------------------------------

test('normalizeOptions takes typed or string values and checks them', () => {
  assert.deepEqual(
    normalizeOptions({ latency: 200, tlpktdrop: 0, nakreport: 'yes', transtype: 'live', minversion: '1.3.0', maxbw: -1 }),
    { latency: 200, tlpktdrop: false, nakreport: true, transtype: 'live', minversion: 0x010300, maxbw: -1 },
  );
  assert.deepEqual(normalizeOptions({ drifttracer: true, Latency: '20' }), { drifttracer: true, latency: 20 });
});

test('normalizeOptions refuses wrong types, bad values, unknown and repeated names', () => {
  throwsCode(() => normalizeOptions({ latency: -1 }), 'ERR_SRT_OPTION_INVALID', /latency must be 0 or more milliseconds \(got -1\)/);
  throwsCode(() => normalizeOptions({ latency: 1.5 }), 'ERR_SRT_OPTION_INVALID', /whole number/);
  throwsCode(() => normalizeOptions({ latency: true }), 'ERR_SRT_OPTION_INVALID', /latency must be/);
  throwsCode(() => normalizeOptions({ tlpktdrop: 2 }), 'ERR_SRT_OPTION_INVALID', /yes\/no switch/);
  throwsCode(() => normalizeOptions({ streamid: 5 }), 'ERR_SRT_OPTION_INVALID', /streamid must be a string/);
  throwsCode(() => normalizeOptions({ transtype: 0 }), 'ERR_SRT_OPTION_INVALID', /transtype must be one of live or file/);
  throwsCode(() => normalizeOptions({ latencyy: 1 }), 'ERR_SRT_OPTION_UNKNOWN', /did you mean 'latency'/);
  throwsCode(() => normalizeOptions({ latency: 1, LATENCY: 2 }), 'ERR_SRT_OPTION_INVALID', /latency is given twice/);
  throwsCode(() => normalizeOptions({ sndsyn: true }), 'ERR_SRT_OPTION_INVALID', /relay controls blocking mode/);
});

test('kmpreannounce may not exceed half of kmrefreshrate', () => {
  assert.deepEqual(normalizeOptions({ kmrefreshrate: 1000, kmpreannounce: 499 }), { kmrefreshrate: 1000, kmpreannounce: 499 });
  throwsCode(
    () => normalizeOptions({ kmrefreshrate: 1000, kmpreannounce: 500 }),
    'ERR_SRT_OPTION_INVALID',
    /kmpreannounce must be at most \(kmrefreshrate - 1\) \/ 2 = 499 packets \(got 500\)/,
  );
});

test('a passphrase with enforcedencryption=0 is refused (a peer without it would connect unencrypted)', () => {
  assert.deepEqual(normalizeOptions({ passphrase: 'secret123456', enforcedencryption: true }), { passphrase: 'secret123456', enforcedencryption: true });
  assert.deepEqual(normalizeOptions({ enforcedencryption: '0' }), { enforcedencryption: false });
  throwsCode(
    () => normalizeOptions({ passphrase: 'secret123456', enforcedencryption: '0' }),
    'ERR_SRT_OPTION_INVALID',
    /enforcedencryption=0 with a passphrase lets a peer without the passphrase connect unencrypted/,
  );
  throwsCode(() => parseSrtUrl('srt://:9000?passphrase=secret123456&enforcedencryption=0'), 'ERR_SRT_OPTION_INVALID', /leave enforcedencryption out/);
});

test('payloadsize with a packet filter is at most 1452', () => {
  assert.deepEqual(normalizeOptions({ packetfilter: 'fec,cols:4', payloadsize: 1452 }), {
    packetfilter: 'fec,cols:4',
    payloadsize: 1452,
  });
  throwsCode(
    () => normalizeOptions({ packetfilter: 'fec,cols:4', payloadsize: 1453 }),
    'ERR_SRT_OPTION_INVALID',
    /payloadsize must be at most 1452 bytes with packetfilter/,
  );
});

test('option errors carry the option name and the allowed values', () => {
  try {
    validateOption('oheadbw', '1');
    assert.fail('expected an error');
  } catch (e) {
    assert.ok(e instanceof SrtRelayError);
    assert.equal(e.details?.['option'], 'oheadbw');
    assert.equal(e.details?.['allowed'], '5 to 100 percent');
  }
});
