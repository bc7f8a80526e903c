/**
 * `srt-relay streamid '<id>' [--config FILE] [--port N] [--from ADDRESS]`: how a port of the
 * relay reads a stream id (the same rules as the handshake gate, native/gate.cc), so an operator
 * can check an encoder's setting before going on air.
 */
import { BlockList, isIP } from 'node:net';
import { MASK, maskText } from '../config/secrets.js';
import { loadConfig } from '../config/load.js';
import type { SrtPortConfig } from '../config/types.js';
import { StreamIdInvalidError, isSrtRelayError } from '../errors.js';
import { MODE_PLAY, MODE_PUBLISH } from '../srt/constants.js';
import { parseStreamId, type GateDialects } from '../srt/streamid.js';
import { STREAM_NAME_RULE, isValidStreamName } from '../streams/stream-name.js';

export const STREAMID_COMMAND_USAGE = `usage: srt-relay streamid [--config FILE] [--port N] [--from ADDRESS] [--show-secrets] '<id>'

Prints, as JSON, how srt-relay reads a caller's stream id: the stream, the direction
(and what decided it), the user and token handed to the auth webhook, and the dialect.
With --config, the port's settings apply (srt.ports[].direction, stream, streamIds,
streamIdless): --port picks the port (default: the first); --from is the caller's
address for streamIdless.byAddress. Without --config: a "both" port with no settings.

  srt-relay streamid '#!::r=live/cam1,m=publish'
  srt-relay streamid --config relay.json 'uplive.sls.com/live/cam1'
  srt-relay streamid --config relay.json --from 10.1.2.3 ''

Quote the id in the shell ('#', '!' and '&' are special there).
Exit status: 0 when the relay would read it as a valid stream, 1 when it would refuse
it (1400), 2 for bad usage or an invalid config.
`;

type PortView = Pick<SrtPortConfig, 'port' | 'direction' | 'stream' | 'dialects'>;

const DEFAULT_PORT: PortView = { port: 0, direction: 'both', dialects: {} };

/** The stream for a caller without a stream id (the gate's rule; first matching prefix wins). */
function idlessStream(d: GateDialects, from: string | undefined): string | undefined {
  const map = d.streamIdless;
  if (map === undefined) return undefined;
  if (from !== undefined) {
    const fam = isIP(from) === 6 ? 'ipv6' : 'ipv4';
    for (const [prefix, stream] of Object.entries(map.byAddress ?? {})) {
      const slash = prefix.indexOf('/');
      const host = slash < 0 ? prefix : prefix.slice(0, slash);
      const pfam = isIP(host) === 6 ? 'ipv6' : 'ipv4';
      const bits = slash < 0 ? (pfam === 'ipv6' ? 128 : 32) : Number(prefix.slice(slash + 1));
      const list = new BlockList();
      list.addSubnet(host, bits, pfam);
      if (pfam === fam && list.check(from, fam)) return stream;
    }
  }
  return map.default;
}

export interface StreamIdReport {
  streamid: string;
  port: number | undefined;
  dialect: string;
  stream: string;
  direction: 'publish' | 'play' | 'publish, or play when the stream is live';
  directionFrom: 'stream id' | 'domain' | 'streamIdless' | 'port' | 'live state';
  user?: string;
  token?: string;
  keys?: Record<string, string>;
  percentDecoded?: true;
  domain?: string;
  streamFrom?: 'port stream' | 'streamIdless';
}

/** How `port` reads `sid`; throws StreamIdInvalidError when the gate would refuse it with 1400. */
export function readStreamId(sid: string, port: PortView, from?: string, showSecrets = false): StreamIdReport {
  if (Buffer.byteLength(sid, 'utf8') > 512) {
    throw new StreamIdInvalidError(`a stream id is at most 512 bytes (libsrt's limit); this one has ${Buffer.byteLength(sid, 'utf8')}`);
  }
  const dialects = port.dialects ?? {};
  const p = parseStreamId(sid, dialects);
  let stream = p.resource;
  let streamFrom: StreamIdReport['streamFrom'];
  if (port.stream !== undefined) {
    stream = port.stream;
    streamFrom = 'port stream';
  } else if (sid === '') {
    const s = idlessStream(dialects, from);
    if (s !== undefined) {
      stream = s;
      streamFrom = 'streamIdless';
    }
  }
  if (!isValidStreamName(stream)) {
    const why =
      stream === ''
        ? sid === ''
          ? 'the caller sends no stream id and the port has no stream for it: set srt.ports[].stream or streamIdless'
          : p.badTime !== undefined
            ? `t=${p.badTime} is neither a time shift (a negative duration: t=-10s, -500ms, -2m, -10) nor an access-control type (stream, file, auth)`
            : 'it names no stream (an r= key, or a name after the prefix)'
        : `it names ${JSON.stringify(stream)}, not a valid stream name (${STREAM_NAME_RULE})`;
    throw new StreamIdInvalidError(`the relay refuses this stream id with 1400: ${why}`, { dialect: p.dialect });
  }
  let direction: StreamIdReport['direction'];
  let directionFrom: StreamIdReport['directionFrom'];
  const idlessDirection = sid === '' && port.stream === undefined ? dialects.streamIdless?.direction : undefined;
  if (idlessDirection !== undefined) {
    direction = idlessDirection;
    directionFrom = 'streamIdless';
  } else if (p.mode === MODE_PUBLISH || p.mode === MODE_PLAY) {
    direction = p.mode === MODE_PUBLISH ? 'publish' : 'play';
    directionFrom = p.domain !== undefined && p.dialect !== 'access-control' && p.dialect !== 'mediamtx' ? 'domain' : 'stream id';
  } else if (port.direction === 'incoming' || port.direction === 'outgoing') {
    direction = port.direction === 'incoming' ? 'publish' : 'play';
    directionFrom = 'port';
  } else {
    direction = 'publish, or play when the stream is live';
    directionFrom = 'live state';
  }
  const conflicting =
    (port.direction === 'incoming' && direction === 'play') || (port.direction === 'outgoing' && direction === 'publish');
  if (conflicting) {
    throw new StreamIdInvalidError(`the id says ${direction} but port ${port.port} is ${port.direction}: the relay refuses it with 1405`, { dialect: p.dialect });
  }
  const keys = { ...p.keys };
  if (!showSecrets && keys['s'] !== undefined) keys['s'] = MASK;
  return {
    streamid: sid,
    port: port.port === 0 ? undefined : port.port,
    dialect: p.dialect,
    stream,
    direction,
    directionFrom,
    ...(p.user !== undefined ? { user: p.user } : {}),
    ...(p.token !== undefined ? { token: showSecrets ? p.token : MASK } : {}),
    ...(Object.keys(keys).length > 0 ? { keys } : {}),
    ...(p.percentDecoded ? { percentDecoded: true as const } : {}),
    ...(p.domain !== undefined ? { domain: p.domain } : {}),
    ...(streamFrom !== undefined ? { streamFrom } : {}),
  };
}

/** Runs the command; returns the exit status (0 valid, 1 refused id, 2 bad usage or config). */
export async function runStreamIdCommand(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let configFile: string | undefined;
  let portNumber: number | undefined;
  let from: string | undefined;
  let showSecrets = false;
  const positional: string[] = [];
  const usage = (problem: string): number => {
    err.write(`error: ${problem}\n\n${STREAMID_COMMAND_USAGE}`);
    return 2;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--help' || arg === '-h') {
      out.write(STREAMID_COMMAND_USAGE);
      return 0;
    }
    if (arg === '--show-secrets') showSecrets = true;
    else if (arg === '--config' || arg === '--port' || arg === '--from') {
      const v = args[++i];
      if (v === undefined) return usage(`${arg} needs a value`);
      if (arg === '--config') configFile = v;
      else if (arg === '--from') {
        if (isIP(v) === 0) return usage(`--from must be a numeric IPv4 or IPv6 address (got ${JSON.stringify(v)})`);
        from = v;
      } else {
        if (!/^[0-9]{1,5}$/.test(v)) return usage(`--port must be a port number (got ${JSON.stringify(v)})`);
        portNumber = Number(v);
      }
    } else if (arg === '--') {
      positional.push(...args.slice(i + 1));
      break;
    } else if (arg.startsWith('--')) return usage(`unknown flag '${arg}'`);
    else positional.push(arg);
  }
  if (positional.length !== 1) return usage(positional.length === 0 ? "missing the stream id (give '' for none)" : 'give exactly one stream id (quote it in the shell)');
  let port: PortView = DEFAULT_PORT;
  if (configFile !== undefined || portNumber !== undefined) {
    try {
      const config = await loadConfig(configFile !== undefined ? { file: configFile } : {});
      const ports = config.srt.ports;
      const found = portNumber === undefined ? ports[0] : ports.find((p) => p.port === portNumber);
      if (found === undefined) return usage(`no srt.ports entry has port ${String(portNumber)} (the config has ${ports.map((p) => p.port).join(', ') || 'none'})`);
      port = found;
    } catch (e) {
      err.write(`${isSrtRelayError(e) ? `error ${e.code}: ` : ''}${maskText((e as Error).message)}\n`);
      return 2;
    }
  }
  try {
    out.write(`${JSON.stringify(readStreamId(positional[0] as string, port, from, showSecrets), null, 2)}\n`);
    return 0;
  } catch (e) {
    if (isSrtRelayError(e)) {
      err.write(`error ${e.code}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
