// srt-relay inside your own Node program (docs/library.md).
//   npm install srt-relay        (builds the addon: needs libsrt-openssl-dev and pkg-config)
//   SRT_PORT=9000 node embed.mjs
// Publish:  ffmpeg -re -i in.ts -c copy -f mpegts 'srt://127.0.0.1:9000?streamid=publish:cam'
// Play:     ffplay 'srt://127.0.0.1:9000?streamid=play:cam'
// Ctrl-C closes the relay. Each line on stdout is one JSON event.
import { createRelay, isSrtRelayError } from 'srt-relay';

const port = Number(process.env.SRT_PORT ?? 9000);
const print = (o) => console.log(JSON.stringify(o));

let relay;
try {
  relay = createRelay({
    logLevel: 'warn',
    srt: { ports: [{ port, host: '127.0.0.1', direction: 'both' }] },
    // Only the streams named here may be published (others are refused with reject code 1404).
    streams: { dynamic: false, cam: { source: 'push://' } },
  });
  relay.on('stream-live', (stream) => print({ event: 'stream-live', stream }));
  relay.on('stream-idle', (stream) => print({ event: 'stream-idle', stream }));
  relay.on('publisher-started', async (stream, session) => {
    const sessions = await relay.listSessions();
    print({ event: 'publisher-started', stream, session, sessions: sessions.map((s) => ({ id: s.id, kind: s.kind, stream: s.stream })) });
  });
  relay.on('publisher-ended', (stream, session) => print({ event: 'publisher-ended', stream, session }));
  await relay.start();
} catch (err) {
  // Typed errors: a stable code (docs/errors.md) and a message that says what to change.
  console.error(isSrtRelayError(err) ? `${err.code}: ${err.message}` : err);
  await relay?.close();
  process.exit(1);
}
print({ event: 'started', port, streams: (await relay.listStreams()).map((s) => s.name) });

process.once('SIGINT', async () => {
  await relay.close();
  print({ event: 'closed' });
});
