/**
 * One stream model: a stream object PUT to a single node's API is accepted or refused exactly
 * like the same object under `streams.<name>` in a config file (loaded by the config loader):
 * the relay is given the same normalized stream, and a refusal carries the config file's key
 * path and message. A PUT that cannot be applied (a listener source's port is taken) changes
 * nothing: the previous stream config and its live publisher stay.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { ConfigInvalidError } from '../src/errors.js';
import { relayStreamFrom } from '../src/supervisor/from-config.js';
import { Relay, type RelayStreamOptions } from '../src/supervisor/relay.js';
import { freeUdpPort } from './helpers/free-port.js';
import { connectBinding, delay, sendFile, withTimeout } from './helpers/srt-io.js';
import { serveApi } from './helpers/relay-harness.js';

let mediaRoot: string;
let n = 0;

before(async () => {
  mediaRoot = await realpath(await mkdtemp(join(tmpdir(), 'srt-relay-model-')));
  await writeFile(join(mediaRoot, 'clip.ts'), Buffer.alloc(188 * 10, 0x47));
});

after(async () => {
  await rm(mediaRoot, { recursive: true, force: true });
});

/** A Relay that records every stream it is given. */
class RecordingRelay extends Relay {
  readonly puts: Array<[string, RelayStreamOptions]> = [];
  override putStream(name: string, s: RelayStreamOptions): ReturnType<Relay['putStream']> {
    this.puts.push([name, structuredClone(s)]);
    return super.putStream(name, s);
  }
}

interface Node {
  relay: RecordingRelay;
  base: string;
  srtPort: number;
}

async function startNode(t: TestContext): Promise<Node> {
  const srtPort = await freeUdpPort();
  const relay = new RecordingRelay({
    nodeId: 'model-test',
    workers: 1,
    ports: [{ port: srtPort, host: '127.0.0.1', direction: 'both', params: {}, reusePort: 1 }],
    streams: {},
    pushes: [],
    limits: {},
    ringSlots: 1024,
  });
  const base = await serveApi(t, relay, { mediaRoot });
  return { relay, base, srtPort };
}

async function put(base: string, name: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}/api/v1/streams/${encodeURIComponent(name)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** The same stream in a config file (inside mediaRoot, which is the file's directory) through the loader. */
async function fromConfigFile(name: string, stream: unknown): Promise<{ ok: RelayStreamOptions } | { err: ConfigInvalidError }> {
  const file = join(mediaRoot, `config-${++n}.json`);
  await writeFile(file, JSON.stringify({ mediaRoot: '.', streams: { [name]: stream } }, null, 2));
  try {
    const config = await loadConfig({ file });
    return { ok: relayStreamFrom(config.streams[name]!) };
  } catch (err) {
    assert.ok(err instanceof ConfigInvalidError, String(err));
    return { err };
  }
}

const CASES: ReadonlyArray<{ what: string; body: Record<string, unknown> }> = [
  { what: 'alwaysOn', body: { source: 'push://', alwaysOn: true } },
  { what: 'bufferTimeMs', body: { source: 'push://', bufferTimeMs: 8000 } },
  { what: 'sources with a backup', body: { sources: ['push://', 'srt://127.0.0.1:9?latency=200'], failoverTimeoutMs: 3000 } },
  { what: 'every other stream key', body: { source: 'push://', join: 'live', raw: true, idleTimeoutMs: 5000, takeoverAfterMs: 0, acceptStreamIds: 'ignore', onPublisherConflict: 'replace' } },
  { what: 'a relative file:// inside mediaRoot', body: { source: 'file://clip.ts', loop: true, simulatedLive: false } },
  { what: 'an absolute file:// inside mediaRoot', body: { sources: ['push://', `file://${'MEDIA'}/clip.ts`] } },
  { what: 'a file:// outside mediaRoot', body: { source: 'file:///etc/passwd' } },
  { what: 'a negative bufferTimeMs', body: { source: 'push://', bufferTimeMs: -1 } },
  { what: 'alwaysOn as a string', body: { source: 'push://', alwaysOn: 'yes' } },
  { what: 'an unknown key', body: { source: 'push://', alwaysOnn: true } },
  { what: 'a backup with an unknown SRT option', body: { sources: ['push://', 'srt://127.0.0.1:9000?latncy=200'] } },
  { what: 'no source', body: { alwaysOn: true } },
  { what: 'a short passphrase', body: { source: 'push://', passphrase: { publish: 'short' } } },
];

test('a stream PUT to a single node is accepted or refused exactly like the same stream in the config file', async (t) => {
  const { relay, base } = await startNode(t);
  let accepted = 0;
  let refused = 0;
  for (const [i, c] of CASES.entries()) {
    const body = JSON.parse(JSON.stringify(c.body).replaceAll('MEDIA', mediaRoot)) as Record<string, unknown>;
    const name = `s${i}`;
    const file = await fromConfigFile(name, body);
    const before = relay.puts.length;
    const r = await put(base, name, body);
    if ('ok' in file) {
      accepted++;
      assert.equal(r.status, 201, `${c.what}: accepted like the config file (${JSON.stringify(r.body)})`);
      assert.equal(relay.puts.length, before + 1, `${c.what}: applied once`);
      assert.deepEqual(relay.puts[before], [name, file.ok], `${c.what}: the relay gets what the config file gives`);
    } else {
      refused++;
      assert.equal(r.status, 400, `${c.what}: refused like the config file (${file.err.message})`);
      assert.equal(r.body.error.message, file.err.message, `${c.what}: the config file's message`);
      assert.equal(r.body.error.details.path, file.err.details?.['path'], `${c.what}: the config file's key path`);
      assert.equal(relay.puts.length, before, `${c.what}: nothing applied`);
      assert.equal(relay.getStream(name), undefined, `${c.what}: no stream made`);
    }
  }
  assert.deepEqual([accepted, refused], [6, 7], 'the table has both kinds');
  const abs = relay.getStream('s5');
  assert.ok(abs !== undefined && relay.sourcesOf('s5')?.sources[1]?.source === `file://${mediaRoot}/clip.ts`, 'the file source is the one inside mediaRoot');
});

test('a single node refuses file:// through the API when it has no mediaRoot, naming the key', async (t) => {
  const srtPort = await freeUdpPort();
  const relay = new Relay({ nodeId: 'no-root', workers: 1, ports: [{ port: srtPort, host: '127.0.0.1', direction: 'both', params: {}, reusePort: 1 }], streams: {}, pushes: [], limits: {}, ringSlots: 1024 });
  const base = await serveApi(t, relay);
  const r = await put(base, 'f', { sources: ['push://', `file://${mediaRoot}/clip.ts`] });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.details.path, 'streams.f.sources[1]');
  assert.match(r.body.error.message, /only inside mediaRoot/);
  assert.equal(relay.getStream('f'), undefined);
});

test('a PUT whose listener source port is taken changes nothing: the old config and its live publisher stay', async (t) => {
  const { base, srtPort, relay } = await startNode(t);
  const first = await put(base, 'cam', { source: 'push://', passphrase: { publish: 'publisher-secret-1' } });
  assert.equal(first.status, 201, JSON.stringify(first.body));

  const publisher = await connectBinding(srtPort, { streamid: 'publish:cam', passphrase: 'publisher-secret-1', latency: 120 });
  t.after(() => publisher.close());
  const chunk = Buffer.alloc(200 * 1316, 0x47);
  await sendFile(publisher, chunk, { pps: 2000 });
  const live = await waitFor(async () => {
    const v = (await (await fetch(`${base}/api/v1/streams/cam`)).json()) as any;
    return v.state === 'live' && v.bytesIn >= chunk.byteLength ? v : undefined;
  }, 'the publisher is live');

  const holder = createSocket('udp4');
  await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', resolve));
  t.after(() => holder.close());
  const busy = holder.address().port;
  const failed = await put(base, 'cam', { source: `srt://127.0.0.1:${busy}?mode=listener`, passphrase: { publish: 'publisher-secret-2' } });
  assert.equal(failed.status, 409, JSON.stringify(failed.body));
  assert.equal(failed.body.error.code, 'ERR_PORT_IN_USE');

  const after1 = (await (await fetch(`${base}/api/v1/streams/cam`)).json()) as any;
  assert.equal(after1.source, 'push://', 'the previous source is still in force');
  assert.equal(after1.configured, true);
  assert.equal(after1.publisher?.session, live.publisher.session, 'the same publisher holds the stream');
  assert.equal(after1.sources.sources.length, 1);
  assert.equal(after1.sources.sources[0].source, 'push://');
  assert.equal(relay.getStream('cam')?.settings.passphrase?.publish, 'publisher-secret-1', 'the previous passphrase is still in force');
  assert.equal(relay.ports.holderOf('127.0.0.1', busy), undefined, 'the failed source holds no port');

  // The publisher goes on feeding the stream after the refused change.
  await sendFile(publisher, chunk, { pps: 2000 });
  await waitFor(async () => {
    const v = (await (await fetch(`${base}/api/v1/streams/cam`)).json()) as any;
    return v.publisher?.session === live.publisher.session && v.bytesIn >= 2 * chunk.byteLength ? v : undefined;
  }, 'the publisher keeps delivering');
});

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  return withTimeout(
    (async () => {
      for (;;) {
        const v = await probe();
        if (v !== undefined) return v;
        await delay(50);
      }
    })(),
    timeoutMs,
    what,
  );
}
