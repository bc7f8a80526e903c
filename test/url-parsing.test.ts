import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { SrtRelayError, type ErrorCode } from '../src/errors.js';
import { formatSrtUrl, parseSrtUrl } from '../src/srt/url.js';
import { maskUrl } from '../src/config/secrets.js';
import { runUrlCommand } from '../src/cli/url-command.js';

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SrtRelayError, `expected SrtRelayError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message !== undefined) assert.match(e.message, message);
    return true;
  });
}

// --- modes ---------------------------------------------------------------------------------------

test('a URL without a host is a listener on any address', () => {
  const u = parseSrtUrl('srt://:9000');
  assert.equal(u.mode, 'listener');
  assert.equal(u.host, '');
  assert.equal(u.port, 9000);
  assert.deepEqual(u.options, {});
  assert.equal(u.raw, 'srt://:9000');
});

test('a URL with a host is a caller', () => {
  const u = parseSrtUrl('srt://relay.example.com:4200');
  assert.equal(u.mode, 'caller');
  assert.equal(u.host, 'relay.example.com');
  assert.equal(u.port, 4200);
});

test('the wildcard addresses 0.0.0.0 and [::] make a listener bound to them', () => {
  assert.deepEqual(
    { ...parseSrtUrl('srt://0.0.0.0:9000'), raw: '' },
    { mode: 'listener', host: '0.0.0.0', port: 9000, options: {}, raw: '' },
  );
  const v6 = parseSrtUrl('srt://[::]:9000');
  assert.equal(v6.mode, 'listener');
  assert.equal(v6.host, '::');
});

test('mode= overrides the inferred mode, and client/server are aliases', () => {
  assert.equal(parseSrtUrl('srt://:9000?mode=listener').mode, 'listener');
  assert.equal(parseSrtUrl('srt://h:9000?mode=client').mode, 'caller');
  assert.equal(parseSrtUrl('srt://:9000?mode=server').mode, 'listener');
  assert.equal(parseSrtUrl('srt://h:9000?mode=CALLER').mode, 'caller');
  const r = parseSrtUrl('srt://peer.example:9000?mode=rendezvous');
  assert.equal(r.mode, 'rendezvous');
  assert.equal(r.host, 'peer.example');
});

test('an explicit listener with a host binds to that address', () => {
  const u = parseSrtUrl('srt://192.0.2.10:9000?mode=listener');
  assert.equal(u.mode, 'listener');
  assert.equal(u.host, '192.0.2.10');
  assert.equal(u.adapter, undefined);
});

test('adapter= on a listener is its bind address', () => {
  const u = parseSrtUrl('srt://:9000?adapter=192.0.2.10');
  assert.equal(u.mode, 'listener');
  assert.equal(u.host, '192.0.2.10');
  assert.equal(u.adapter, undefined);
  assert.equal(parseSrtUrl('srt://192.0.2.10:9000?mode=listener&adapter=192.0.2.10').host, '192.0.2.10');
  throwsCode(
    () => parseSrtUrl('srt://192.0.2.10:9000?mode=listener&adapter=192.0.2.11'),
    'ERR_SRT_URL_INVALID',
    /not both/,
  );
});

test('adapter= and port= on a caller or rendezvous set the local address and port', () => {
  const u = parseSrtUrl('srt://peer:9000?mode=rendezvous&adapter=192.0.2.5&port=5000');
  assert.equal(u.adapter, '192.0.2.5');
  assert.equal(u.localPort, 5000);
  const c = parseSrtUrl('srt://peer:9000?adapter=[2001:db8::5]');
  assert.equal(c.adapter, '2001:db8::5');
  assert.equal(c.localPort, undefined);
});

test('port= on a listener is refused: it listens on the URL port', () => {
  throwsCode(() => parseSrtUrl('srt://:9000?port=5000'), 'ERR_SRT_URL_INVALID', /listens on the URL's port/);
});

test('caller and rendezvous without a peer host are mode errors', () => {
  throwsCode(() => parseSrtUrl('srt://:9000?mode=caller'), 'ERR_SRT_MODE_INVALID', /caller mode needs the peer's host/);
  throwsCode(() => parseSrtUrl('srt://:9000?mode=rendezvous'), 'ERR_SRT_MODE_INVALID', /rendezvous mode needs/);
  throwsCode(() => parseSrtUrl('srt://0.0.0.0:9000?mode=caller'), 'ERR_SRT_MODE_INVALID', /any-address/);
});

test('an unknown mode names the accepted ones', () => {
  throwsCode(
    () => parseSrtUrl('srt://h:9000?mode=publisher'),
    'ERR_SRT_MODE_INVALID',
    /mode must be caller, listener or rendezvous .*got 'publisher'/,
  );
});

// --- hosts and ports -----------------------------------------------------------------------------

test('IPv6 hosts are written in brackets and stored without them', () => {
  const u = parseSrtUrl('srt://[::1]:9000');
  assert.equal(u.mode, 'caller');
  assert.equal(u.host, '::1');
  assert.equal(parseSrtUrl('srt://[2001:db8::1]:1234').host, '2001:db8::1');
});

test('an IPv6 zone is written %25 and decoded', () => {
  assert.equal(parseSrtUrl('srt://[fe80::1%25eth0]:9000').host, 'fe80::1%eth0');
});

test('IPv6 without brackets, unclosed brackets and IPv4 in brackets are rejected', () => {
  throwsCode(() => parseSrtUrl('srt://::1:9000'), 'ERR_SRT_URL_INVALID', /IPv6 addresses go in brackets/);
  throwsCode(() => parseSrtUrl('srt://[::1:9000'), 'ERR_SRT_URL_INVALID', /closing '\]'/);
  throwsCode(() => parseSrtUrl('srt://[192.0.2.1]:9000'), 'ERR_SRT_URL_INVALID', /not an IPv6 address/);
  throwsCode(() => parseSrtUrl('srt://[::1]9000'), 'ERR_SRT_URL_INVALID', /expected ':port'/);
  throwsCode(() => parseSrtUrl('srt://[::g]:9000'), 'ERR_SRT_URL_INVALID', /not an IPv6 address/);
});

test('bad hosts are rejected with what a host may be', () => {
  throwsCode(() => parseSrtUrl('srt://300.1.1.1:9000'), 'ERR_SRT_URL_INVALID', /not a valid IPv4 address/);
  throwsCode(() => parseSrtUrl('srt://bad_host!:9000'), 'ERR_SRT_URL_INVALID', /not a valid host name/);
  throwsCode(() => parseSrtUrl('srt://user@host:9000'), 'ERR_SRT_URL_INVALID', /no user name/);
  throwsCode(() => parseSrtUrl('srt://h:9000?adapter=999.0.0.1'), 'ERR_SRT_URL_INVALID', /adapter .*IPv4/);
});

test('the port must be 1 to 65535', () => {
  assert.equal(parseSrtUrl('srt://h:1').port, 1);
  assert.equal(parseSrtUrl('srt://h:65535').port, 65535);
  throwsCode(() => parseSrtUrl('srt://h:0'), 'ERR_SRT_URL_INVALID', /port must be 1 to 65535 \(got '0'\)/);
  throwsCode(() => parseSrtUrl('srt://h:65536'), 'ERR_SRT_URL_INVALID', /port must be 1 to 65535 \(got '65536'\)/);
  throwsCode(() => parseSrtUrl('srt://h:90x0'), 'ERR_SRT_URL_INVALID', /port must be 1 to 65535/);
  throwsCode(() => parseSrtUrl('srt://h:9000?mode=rendezvous&port=0'), 'ERR_SRT_URL_INVALID', /local port/);
});

test('a missing port is an error with an example', () => {
  throwsCode(() => parseSrtUrl('srt://host'), 'ERR_SRT_URL_INVALID', /needs a port, e\.g\. srt:\/\/host:9000/);
  throwsCode(() => parseSrtUrl('srt://host:'), 'ERR_SRT_URL_INVALID', /needs a port/);
});

test('only the srt:// scheme is accepted', () => {
  throwsCode(() => parseSrtUrl('udp://h:9000'), 'ERR_SRT_URL_INVALID', /got a 'udp:' URL/);
  throwsCode(() => parseSrtUrl('srt:h:9000'), 'ERR_SRT_URL_INVALID', /start with 'srt:\/\/'/);
  throwsCode(() => parseSrtUrl('h:9000'), 'ERR_SRT_URL_INVALID', /srt:\/\//);
  throwsCode(() => parseSrtUrl(''), 'ERR_SRT_URL_INVALID', /expected an srt:\/\/ URL/);
  assert.equal(parseSrtUrl('SRT://h:9000').host, 'h');
});

test('a path is refused and the stream name is pointed to streamid', () => {
  throwsCode(() => parseSrtUrl('srt://h:9000/live'), 'ERR_SRT_URL_INVALID', /no path .*streamid=/);
  assert.equal(parseSrtUrl('srt://h:9000/').port, 9000);
});

// --- query parameters ----------------------------------------------------------------------------

test('a raw streamid with #!:: survives: # after ? is not a fragment', () => {
  const u = parseSrtUrl('srt://h:9000?streamid=#!::r=live,m=publish&latency=200');
  assert.equal(u.options.streamid, '#!::r=live,m=publish');
  assert.equal(u.options.latency, 200);
});

test('a streamid with #!:: survives percent-encoding', () => {
  const u = parseSrtUrl('srt://h:9000?streamid=%23%21%3A%3Ar%3Dlive%2Cm%3Dpublish');
  assert.equal(u.options.streamid, '#!::r=live,m=publish');
});

test('+ in a streamid stays a plus, and %26 carries an ampersand', () => {
  assert.equal(parseSrtUrl('srt://h:9000?streamid=a+b').options.streamid, 'a+b');
  assert.equal(parseSrtUrl('srt://h:9000?streamid=a%26b%20c').options.streamid, 'a&b c');
  assert.equal(parseSrtUrl('srt://h:9000?streamid=%C3%A9t%C3%A9').options.streamid, 'été');
});

test('a # before ? is an error, not a silent fragment', () => {
  throwsCode(() => parseSrtUrl('srt://h:9000#x?latency=1'), 'ERR_SRT_URL_INVALID', /'#' may only appear after '\?'/);
});

test('bad percent-encoding is an error that does not echo the value', () => {
  throwsCode(
    () => parseSrtUrl('srt://h:9000?passphrase=abc%zz1234567'),
    'ERR_SRT_URL_INVALID',
    /bad percent-encoding in the value of 'passphrase'.*%25/,
  );
  assert.throws(
    () => parseSrtUrl('srt://h:9000?passphrase=abc%zz1234567'),
    (e: Error) => !e.message.includes('abc'),
  );
});

test('a repeated parameter is an error naming it', () => {
  throwsCode(
    () => parseSrtUrl('srt://h:9000?latency=100&latency=200'),
    'ERR_SRT_URL_INVALID',
    /parameter 'latency' is given twice/,
  );
  throwsCode(() => parseSrtUrl('srt://h:9000?mode=caller&MODE=caller'), 'ERR_SRT_URL_INVALID', /'mode' is given twice/);
});

test('a parameter without =value is an error', () => {
  throwsCode(() => parseSrtUrl('srt://h:9000?tlpktdrop'), 'ERR_SRT_URL_INVALID', /'tlpktdrop' needs a value/);
  throwsCode(() => parseSrtUrl('srt://h:9000?=5'), 'ERR_SRT_URL_INVALID', /no name/);
});

test('an unknown parameter is an error with suggestions, never ignored', () => {
  throwsCode(
    () => parseSrtUrl('srt://h:9000?latncy=200'),
    'ERR_SRT_OPTION_UNKNOWN',
    /unknown SRT option 'latncy'; did you mean 'latency'\?/,
  );
  throwsCode(() => parseSrtUrl('srt://h:9000?adaptor=1.2.3.4'), 'ERR_SRT_OPTION_UNKNOWN', /did you mean 'adapter'/);
  throwsCode(() => parseSrtUrl('srt://h:9000?pkt_size=1316'), 'ERR_SRT_OPTION_UNKNOWN', /unknown SRT option 'pkt_size'/);
});

test('option values in the URL are typed and checked', () => {
  const u = parseSrtUrl(
    'srt://h:9000?latency=200&tlpktdrop=0&transtype=live&maxbw=-1&minversion=1.4.0&packetfilter=fec,cols:10,rows:5',
  );
  assert.deepEqual(u.options, {
    latency: 200,
    tlpktdrop: false,
    transtype: 'live',
    maxbw: -1,
    minversion: 0x010400,
    packetfilter: 'fec,cols:10,rows:5',
  });
  throwsCode(() => parseSrtUrl('srt://h:9000?latency=-1'), 'ERR_SRT_OPTION_INVALID', /latency must be 0 or more/);
  throwsCode(() => parseSrtUrl('srt://h:9000?latency=200ms'), 'ERR_SRT_OPTION_INVALID', /write latency=200/);
  throwsCode(() => parseSrtUrl('srt://h:9000?sndsyn=1'), 'ERR_SRT_OPTION_INVALID', /relay controls blocking mode/);
});

test('option keys are case-insensitive', () => {
  assert.equal(parseSrtUrl('srt://h:9000?Latency=50').options.latency, 50);
});

test('cross-option rules apply to URLs: payloadsize over 1452 with FEC is refused', () => {
  throwsCode(
    () => parseSrtUrl('srt://h:9000?packetfilter=fec,cols:4&payloadsize=1456'),
    'ERR_SRT_OPTION_INVALID',
    /payloadsize must be at most 1452/,
  );
  assert.equal(parseSrtUrl('srt://h:9000?packetfilter=fec,cols:4&payloadsize=1316').options.payloadsize, 1316);
});

test('an empty query and a trailing & are harmless', () => {
  assert.deepEqual(parseSrtUrl('srt://h:9000?').options, {});
  assert.deepEqual(parseSrtUrl('srt://h:9000?latency=1&').options, { latency: 1 });
});

test('the parsed URL is frozen', () => {
  const u = parseSrtUrl('srt://h:9000?latency=1');
  assert.ok(Object.isFrozen(u));
  assert.ok(Object.isFrozen(u.options));
});

// --- formatting ----------------------------------------------------------------------------------

test('formatSrtUrl round-trips through parseSrtUrl', () => {
  const cases = [
    'srt://:9000',
    'srt://[::]:9000',
    'srt://h.example:9000',
    'srt://[::1]:9000?latency=200',
    'srt://192.0.2.10:9000?mode=listener',
    'srt://:9000?adapter=192.0.2.10',
    'srt://[fe80::1%25eth0]:9000?mode=rendezvous&adapter=fe80::2&port=5000',
    'srt://h:9000?streamid=#!::r=live,m=publish&passphrase=correct+horse%26battery',
    'srt://h:9000?streamid=a%20b%25c%23d&tlpktdrop=off&minversion=1.3.0&transtype=file',
    'srt://h:9000?packetfilter=fec,cols:10,rows:-5,layout:staircase,arq:onreq&maxbw=0&oheadbw=25',
  ];
  for (const text of cases) {
    const first = parseSrtUrl(text);
    const formatted = formatSrtUrl(first);
    const second = parseSrtUrl(formatted);
    assert.deepEqual({ ...second, raw: '' }, { ...first, raw: '' }, `${text} -> ${formatted}`);
    assert.equal(formatSrtUrl(second), formatted, 'formatting is stable');
  }
});

test('formatSrtUrl writes the canonical form', () => {
  assert.equal(formatSrtUrl(parseSrtUrl('srt://h:9000?mode=client')), 'srt://h:9000');
  assert.equal(formatSrtUrl(parseSrtUrl('srt://:9000?mode=server&adapter=::1')), 'srt://[::1]:9000?mode=listener');
  assert.equal(
    formatSrtUrl(parseSrtUrl('srt://h:9000?streamid=%23%21%3A%3Ar%3Dlive&tlpktdrop=false&minversion=66304')),
    'srt://h:9000?streamid=%23!::r=live&tlpktdrop=0&minversion=0x010300',
  );
});

test('secrets are redacted on request and by maskUrl (src/config/secrets.ts)', () => {
  const u = parseSrtUrl('srt://h:9000?passphrase=0123456789abc&latency=1');
  assert.equal(formatSrtUrl(u, { redactSecrets: true }), 'srt://h:9000?passphrase=***&latency=1');
  assert.equal(maskUrl('srt://h:9000?latency=1&PASSPHRASE=secret%zz&x=1'), 'srt://h:9000?latency=1&PASSPHRASE=***&x=1');
});

// --- the url command -----------------------------------------------------------------------------

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.text += chunk.toString();
    done();
  }
}

test('srt-relay url prints the parsed URL as JSON and exits 0, or the error code and exits 2', () => {
  const out = new Sink();
  const err = new Sink();
  const ok = runUrlCommand(['srt://[::1]:9000?mode=rendezvous&port=5000&latency=120&tlpktdrop=0&passphrase=0123456789'], out, err);
  assert.equal(ok, 0);
  assert.equal(err.text, '');
  assert.deepEqual(JSON.parse(out.text), {
    mode: 'rendezvous',
    host: '::1',
    port: 9000,
    localPort: 5000,
    options: { latency: 120, tlpktdrop: false, passphrase: '***' },
    url: 'srt://[::1]:9000?mode=rendezvous&port=5000&latency=120&tlpktdrop=0&passphrase=***',
  });

  const shown = new Sink();
  assert.equal(runUrlCommand(['--show-secrets', 'srt://h:9000?passphrase=0123456789'], shown, new Sink()), 0);
  assert.equal((JSON.parse(shown.text) as { options: { passphrase: string } }).options.passphrase, '0123456789');

  const out2 = new Sink();
  const err2 = new Sink();
  assert.equal(runUrlCommand(['srt://h:9000?latncy=120'], out2, err2), 2);
  assert.equal(out2.text, '');
  assert.equal(err2.text, "error ERR_SRT_OPTION_UNKNOWN: unknown SRT option 'latncy'; did you mean 'latency'?\n");

  const err3 = new Sink();
  assert.equal(runUrlCommand([], new Sink(), err3), 2);
  assert.match(err3.text, /usage: srt-relay url/);

  const help = new Sink();
  assert.equal(runUrlCommand(['--help'], help, new Sink()), 0);
  assert.match(help.text, /usage: srt-relay url/);

  assert.equal(runUrlCommand(['srt://:1', 'srt://:2'], new Sink(), new Sink()), 2);
  assert.equal(runUrlCommand(['--bogus', 'srt://:1'], new Sink(), new Sink()), 2);
});
