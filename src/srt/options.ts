/**
 * The catalog of libsrt socket options a user may set, by URL (`srt://host:port?latency=200`)
 * or in a config object. Names are the libsrt names lowercased, without `SRTO_` (libsrt 1.5.1,
 * /usr/include/srt/srt.h); `srto` is the exact constant the native addon sets.
 *
 * Each entry knows its value type, its allowed values, whether it must be set before the
 * connection exists (`phase: 'pre'`, and `preBind` for options that must precede bind) or may be
 * set on a live connection (`'post'`), and how to turn URL text or a typed config value into a
 * checked value. All checking happens here: the native side trusts what it gets.
 *
 * Native conversions the addon must apply: `type: 'enum'` maps the string through `enumValues`;
 * `linger` is seconds, 0 = off (struct linger {l_onoff: v > 0, l_linger: v}); `int64` values are
 * JS numbers (all fit in 2^53).
 */
import { SrtOptionInvalidError, SrtOptionUnknownError, orList } from '../errors.js';

export type SrtOptionType = 'int' | 'int64' | 'bool' | 'string' | 'enum';
export type SrtOptionValue = number | boolean | string;

export interface SrtOptionSpec<V extends SrtOptionValue = SrtOptionValue> {
  /** Lowercase libsrt name without SRTO_, as written in URLs. */
  readonly name: string;
  /** The libsrt constant, e.g. `SRTO_LATENCY`. */
  readonly srto: string;
  readonly type: SrtOptionType;
  /** 'pre': set before connect/accept completes; 'post': may also be changed on a live connection. */
  readonly phase: 'pre' | 'post';
  /** Must be set before the socket is bound (it configures the UDP socket / multiplexer). */
  readonly preBind: boolean;
  /** Unit of numeric values ('ms', 'bytes', 'bytes/s', 'packets', 'percent', 's', 'hops'). */
  readonly unit?: string;
  /** Human text of what is allowed, as used in error messages. */
  readonly allowed: string;
  /** Numeric bounds (inclusive) when they apply. */
  readonly min?: number;
  readonly max?: number;
  /** The only allowed values (numbers for a value set, strings for choices and enums). */
  readonly values?: readonly V[];
  /** For `type: 'enum'`: the libsrt integer each string stands for. */
  readonly enumValues?: Readonly<Record<string, number>>;
  readonly description: string;
  /** URL text → checked typed value. Throws `SrtOptionInvalidError`. */
  readonly validate: (raw: string) => V;
  /** Typed (or string) config value → checked typed value. Throws `SrtOptionInvalidError`. */
  readonly normalize: (value: SrtOptionValue) => V;
}

const INT32_MAX = 2_147_483_647;
const INT32_MIN = -2_147_483_648;

/** libsrt: live payload fits one 1500-byte MTU: 1500 - 28 (IPv4+UDP) - 16 (SRT header). */
export const SRT_LIVE_MAX_PAYLOAD = 1456;
/** With the FEC packet filter, 4 bytes of each packet go to the filter header. */
export const SRT_FEC_MAX_PAYLOAD = 1452;
/** libsrt silently ignores SRTO_PACKETFILTER strings longer than this. */
export const SRT_PACKETFILTER_MAX_LENGTH = 64;
export const SRT_STREAMID_MAX_BYTES = 512;
export const SRT_PASSPHRASE_MIN = 10;
export const SRT_PASSPHRASE_MAX = 79;
/** Default SRTO_KMREFRESHRATE (packets) used when checking kmpreannounce. */
const SRT_DEFAULT_KM_REFRESH = 0x1000000;

const UNIT_WORDS: Readonly<Record<string, string>> = {
  ms: 'milliseconds',
  s: 'seconds',
  bytes: 'bytes',
  'bytes/s': 'bytes per second',
  packets: 'packets',
  percent: 'percent',
  hops: 'hops',
};

// ---------------------------------------------------------------------------------------------
// helpers

/** Quote user text for a message: single quotes, control characters escaped, long text cut. */
function show(raw: string): string {
  const cut = raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
  return `'${cut.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}'`;
}

function invalid(name: string, message: string, details?: Record<string, unknown>): SrtOptionInvalidError {
  return new SrtOptionInvalidError(name, message, details);
}

const DECIMAL = /^-?[0-9]+$/;

/** Explain a number written with a unit or in a wrong base; undefined when no specific hint fits. */
function numberHint(name: string, raw: string, unit: string | undefined): string | undefined {
  const words = unit === undefined ? undefined : (UNIT_WORDS[unit] ?? unit);
  if (/^-?0x[0-9a-f]+$/i.test(raw)) {
    const n = Number.parseInt(raw, 16);
    return `${name} takes decimal numbers only, write ${name}=${n}`;
  }
  const m = /^(-?[0-9]+(?:\.[0-9]+)?)\s*([a-z/%]+)$/i.exec(raw);
  if (m === null || words === undefined) return undefined;
  const n = Number(m[1]);
  const suffix = (m[2] ?? '').toLowerCase();
  let fixed: number | undefined;
  if (unit === 'ms') fixed = suffix === 'ms' ? n : ['s', 'sec', 'secs'].includes(suffix) ? n * 1000 : undefined;
  else if (unit === 's') fixed = ['s', 'sec', 'secs'].includes(suffix) ? n : suffix === 'ms' ? n / 1000 : undefined;
  else if (unit === 'percent') fixed = suffix === '%' ? n : undefined;
  else if (unit === 'bytes') fixed = ['b', 'bytes'].includes(suffix) ? n : undefined;
  else if (unit === 'packets') fixed = ['p', 'pkt', 'pkts', 'packets'].includes(suffix) ? n : undefined;
  else if (unit === 'bytes/s') {
    const bits: Readonly<Record<string, number>> = { kbps: 1e3, kbit: 1e3, mbps: 1e6, mbit: 1e6, gbps: 1e9, gbit: 1e9 };
    const scale = bits[suffix];
    if (scale !== undefined) {
      const bytes = (n * scale) / 8;
      if (Number.isInteger(bytes)) return `${name} is in bytes per second, write ${name}=${bytes} for ${m[1]} ${m[2]}`;
    }
    return `${name} is in bytes per second as a plain integer, e.g. ${name}=1250000 for 10 Mbit/s (got ${show(raw)})`;
  }
  if (fixed !== undefined && Number.isInteger(fixed)) return `${name} is in ${words}, write ${name}=${fixed}`;
  return `${name} is in ${words}, written as a plain decimal integer (got ${show(raw)})`;
}

function parseDecimal(name: string, raw: string, unit: string | undefined, allowed: string): number {
  if (!DECIMAL.test(raw)) {
    throw invalid(
      name,
      numberHint(name, raw, unit) ?? `${name} must be ${allowed}, written as a decimal integer (got ${show(raw)})`,
      { allowed },
    );
  }
  const n = Number(raw);
  return n === 0 ? 0 : n; // no -0
}

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);

function parseBool(name: string, raw: string): boolean {
  const word = raw.toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw invalid(
    name,
    `${name} is a yes/no switch: write ${name}=1 or ${name}=0 (or true/false, yes/no, on/off; got ${show(raw)})`,
    { allowed: '1/0, true/false, yes/no, on/off' },
  );
}

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

// ---------------------------------------------------------------------------------------------
// builders

interface Common {
  readonly phase: 'pre' | 'post';
  readonly preBind?: boolean;
  readonly description: string;
}

interface IntDef extends Common {
  readonly unit?: string;
  readonly min?: number;
  readonly max?: number;
  /** Values allowed besides [min, max], e.g. -1 for "system default". */
  readonly extra?: readonly number[];
  /** The only allowed values (replaces min/max). */
  readonly oneOf?: readonly number[];
  readonly allowed: string;
  /** Custom text parser (e.g. versions); the result is range-checked like any number. */
  readonly parse?: (name: string, raw: string) => number;
}

function intOption(name: string, def: IntDef, int64 = false): SrtOptionSpec<number> {
  const typeMin = int64 ? -Number.MAX_SAFE_INTEGER : INT32_MIN;
  const typeMax = int64 ? Number.MAX_SAFE_INTEGER : INT32_MAX;
  const check = (v: number): number => {
    if (v < typeMin || v > typeMax) {
      throw invalid(name, `${name} must be ${def.allowed}, at most ${typeMax} (got ${v})`, {
        allowed: def.allowed,
        value: v,
      });
    }
    const ok =
      def.oneOf !== undefined
        ? def.oneOf.includes(v)
        : (v >= (def.min ?? typeMin) && v <= (def.max ?? typeMax)) || (def.extra ?? []).includes(v);
    if (!ok) throw invalid(name, `${name} must be ${def.allowed} (got ${v})`, { allowed: def.allowed, value: v });
    return v;
  };
  const validate = (raw: string): number =>
    check(def.parse !== undefined ? def.parse(name, raw) : parseDecimal(name, raw, def.unit, def.allowed));
  return {
    name,
    srto: `SRTO_${name.toUpperCase()}`,
    type: int64 ? 'int64' : 'int',
    phase: def.phase,
    preBind: def.preBind ?? false,
    ...(def.unit === undefined ? {} : { unit: def.unit }),
    allowed: def.allowed,
    ...(def.oneOf === undefined
      ? { ...(def.min === undefined ? {} : { min: def.min }), max: def.max ?? typeMax }
      : { values: def.oneOf }),
    description: def.description,
    validate,
    normalize: (value) => {
      if (typeof value === 'string') return validate(value);
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        throw invalid(name, `${name} must be ${def.allowed}, as a whole number (got ${typeName(value)} ${String(value)})`, {
          allowed: def.allowed,
        });
      }
      return check(value);
    },
  };
}

function int64Option(name: string, def: IntDef): SrtOptionSpec<number> {
  return intOption(name, def, true);
}

function boolOption(name: string, def: Common): SrtOptionSpec<boolean> {
  const validate = (raw: string): boolean => parseBool(name, raw);
  return {
    name,
    srto: `SRTO_${name.toUpperCase()}`,
    type: 'bool',
    phase: def.phase,
    preBind: def.preBind ?? false,
    allowed: 'true or false',
    description: def.description,
    validate,
    normalize: (value) => {
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string') return validate(value);
      if (value === 0 || value === 1) return value === 1;
      throw invalid(name, `${name} is a yes/no switch: use true or false (got ${typeName(value)} ${String(value)})`, {
        allowed: 'true or false',
      });
    },
  };
}

interface StringDef extends Common {
  readonly allowed: string;
  /** Returns an error message, or undefined when the string is acceptable. */
  readonly check: (name: string, s: string) => string | undefined;
  /** Secret values are never echoed in messages. */
  readonly secret?: boolean;
}

function stringOption(name: string, def: StringDef): SrtOptionSpec<string> {
  const validate = (raw: string): string => {
    const problem = def.check(name, raw);
    if (problem !== undefined) throw invalid(name, problem, { allowed: def.allowed });
    return raw;
  };
  return {
    name,
    srto: `SRTO_${name.toUpperCase()}`,
    type: 'string',
    phase: def.phase,
    preBind: def.preBind ?? false,
    allowed: def.allowed,
    description: def.description,
    validate,
    normalize: (value) => {
      if (typeof value === 'string') return validate(value);
      const shown = def.secret === true ? typeName(value) : `${typeName(value)} ${String(value)}`;
      throw invalid(name, `${name} must be a string; quote it in the config (got ${shown})`, {
        allowed: def.allowed,
      });
    },
  };
}

interface ChoiceDef<T extends string> extends Common {
  /** For 'enum': the libsrt integer for each choice. For 'string': any value (unused). */
  readonly choices: Readonly<Record<T, number>>;
  readonly aliases?: Readonly<Record<string, NoInfer<T>>>;
}

function choiceOption<const T extends string>(
  name: string,
  type: 'enum' | 'string',
  def: ChoiceDef<T>,
): SrtOptionSpec<T> {
  const values = Object.keys(def.choices) as T[];
  const allowed = `one of ${orList(values)}`;
  const validate = (raw: string): T => {
    const word = raw.toLowerCase();
    if ((values as string[]).includes(word)) return word as T;
    const alias = def.aliases?.[word];
    if (alias !== undefined) return alias;
    throw invalid(name, `${name} must be ${allowed} (got ${show(raw)})`, { allowed, value: raw });
  };
  return {
    name,
    srto: `SRTO_${name.toUpperCase()}`,
    type,
    phase: def.phase,
    preBind: def.preBind ?? false,
    allowed,
    values,
    ...(type === 'enum' ? { enumValues: Object.freeze({ ...def.choices }) } : {}),
    description: def.description,
    validate,
    normalize: (value) => {
      if (typeof value === 'string') return validate(value);
      throw invalid(name, `${name} must be ${allowed} (got ${typeName(value)} ${String(value)})`, { allowed });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// special string checks

function checkPassphrase(name: string, s: string): string | undefined {
  if (s.length === 0) return undefined; // empty disables encryption
  const bytes = Buffer.byteLength(s, 'utf8');
  if (bytes >= SRT_PASSPHRASE_MIN && bytes <= SRT_PASSPHRASE_MAX) return undefined;
  if (bytes === s.length) {
    return `${name} must be ${SRT_PASSPHRASE_MIN} to ${SRT_PASSPHRASE_MAX} characters (got ${s.length}), or empty to disable encryption`;
  }
  return `${name} must be ${SRT_PASSPHRASE_MIN} to ${SRT_PASSPHRASE_MAX} bytes of UTF-8, where non-ASCII characters take 2 to 4 bytes (got ${bytes} bytes), or empty to disable encryption`;
}

function checkStreamId(name: string, s: string): string | undefined {
  const bytes = Buffer.byteLength(s, 'utf8');
  if (bytes <= SRT_STREAMID_MAX_BYTES) return undefined;
  return `${name} must be at most ${SRT_STREAMID_MAX_BYTES} bytes of UTF-8 (got ${bytes} bytes); shorten it`;
}

function checkDevice(name: string, s: string): string | undefined {
  if (/^[A-Za-z0-9_.:@-]{1,15}$/.test(s)) return undefined;
  return `${name} must be a network interface name of 1 to 15 characters, e.g. ${name}=eth0 (got ${show(s)})`;
}

const FEC_KEYS = ['cols', 'rows', 'layout', 'arq'] as const;
const FEC_EXAMPLE = 'fec,cols:10,rows:5';

/**
 * Check an SRTO_PACKETFILTER string: `fec,cols:N[,rows:M][,layout:even|staircase][,arq:always|never|onreq]`,
 * at most 64 characters (libsrt silently drops longer strings).
 */
export function checkPacketFilter(name: string, s: string): string | undefined {
  if (s.length === 0) return `${name} must not be empty; leave it out to disable FEC, or write ${name}=${FEC_EXAMPLE}`;
  if (s.length > SRT_PACKETFILTER_MAX_LENGTH) {
    return `${name} must be at most ${SRT_PACKETFILTER_MAX_LENGTH} characters (got ${s.length}); libsrt silently ignores longer filter strings`;
  }
  const [type, ...entries] = s.split(',');
  if (type !== 'fec') {
    return `${name} must start with the filter type 'fec' (the only built-in filter), e.g. ${name}=${FEC_EXAMPLE} (got ${show(type ?? '')})`;
  }
  const seen = new Set<string>();
  for (const entry of entries) {
    const colon = entry.indexOf(':');
    if (colon <= 0) return `${name}: each setting after 'fec' is key:value, e.g. cols:10 (got ${show(entry)})`;
    const key = entry.slice(0, colon);
    const value = entry.slice(colon + 1);
    if (seen.has(key)) return `${name}: '${key}' is given twice; keep one`;
    seen.add(key);
    switch (key) {
      case 'cols':
        if (!/^[0-9]+$/.test(value) || Number(value) < 1) {
          return `${name}: cols must be an integer of 1 or more (got ${show(value)})`;
        }
        break;
      case 'rows':
        if (!/^-?[0-9]+$/.test(value) || Math.abs(Number(value)) < 1) {
          return `${name}: rows must be a non-zero integer (negative: column-only FEC) (got ${show(value)})`;
        }
        break;
      case 'layout':
        if (value !== 'even' && value !== 'staircase') {
          return `${name}: layout must be even or staircase (got ${show(value)})`;
        }
        break;
      case 'arq':
        if (value !== 'always' && value !== 'never' && value !== 'onreq') {
          return `${name}: arq must be always, never or onreq (got ${show(value)})`;
        }
        break;
      default: {
        const near = closestNames(key, FEC_KEYS, 1);
        const hint = near.length > 0 ? `did you mean '${near[0]}'?` : `use ${orList([...FEC_KEYS])}`;
        return `${name}: unknown FEC setting '${key}'; ${hint}`;
      }
    }
  }
  if (!seen.has('cols')) return `${name} needs the number of columns, e.g. ${name}=${FEC_EXAMPLE}`;
  return undefined;
}

/** `1.3.0` / `1.3` / `0x010300` / decimal → 0xXXYYZZ. */
function parseVersion(name: string, raw: string): number {
  const example = `write it like ${name}=1.3.0 or ${name}=0x010300`;
  if (/^0x[0-9a-f]{1,6}$/i.test(raw)) return Number.parseInt(raw, 16);
  if (/^[0-9]+$/.test(raw)) return Number(raw);
  const m = /^([0-9]{1,3})\.([0-9]{1,3})(?:\.([0-9]{1,3}))?$/.exec(raw);
  if (m !== null) {
    const parts = [m[1], m[2], m[3] ?? '0'].map(Number);
    const [major = 0, minor = 0, patch = 0] = parts;
    if (parts.every((p) => p <= 255)) return (major << 16) | (minor << 8) | patch;
    throw invalid(name, `${name}: each part of a version is 0 to 255 (got ${show(raw)}); ${example}`);
  }
  throw invalid(name, `${name} is an SRT version; ${example} (got ${show(raw)})`, { allowed: 'a version' });
}

/** 0x010300 → "1.3.0". */
export function formatSrtVersion(v: number): string {
  return `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`;
}

// ---------------------------------------------------------------------------------------------
// the catalog

const MS_AT_LEAST_0 = '0 or more milliseconds';
const MS_POSITIVE = 'a positive number of milliseconds';
const BYTES_POSITIVE = 'a positive number of bytes';

const CATALOG = {
  transtype: choiceOption('transtype', 'enum', {
    phase: 'pre',
    choices: { live: 0, file: 1 },
    description: 'Transmission type: live (TSBPD, message API, live congestion) or file; sets a group of defaults.',
  }),
  congestion: choiceOption('congestion', 'string', {
    phase: 'pre',
    choices: { live: 0, file: 0 },
    aliases: { vod: 'file' },
    description: 'Congestion controller; must match on both sides. Prefer transtype.',
  }),
  latency: intOption('latency', {
    phase: 'pre',
    unit: 'ms',
    min: 0,
    allowed: MS_AT_LEAST_0,
    description: 'Sets both rcvlatency and peerlatency (TSBPD delay).',
  }),
  rcvlatency: intOption('rcvlatency', {
    phase: 'pre',
    unit: 'ms',
    min: 0,
    allowed: MS_AT_LEAST_0,
    description: 'Receiver TSBPD delay; the larger of this and the peer’s peerlatency wins.',
  }),
  peerlatency: intOption('peerlatency', {
    phase: 'pre',
    unit: 'ms',
    min: 0,
    allowed: MS_AT_LEAST_0,
    description: 'Minimum TSBPD delay asked of the peer (as receiver).',
  }),
  passphrase: stringOption('passphrase', {
    phase: 'pre',
    secret: true,
    allowed: `${SRT_PASSPHRASE_MIN} to ${SRT_PASSPHRASE_MAX} characters, or empty to disable encryption`,
    check: checkPassphrase,
    description: 'Encryption passphrase (AES); both sides must agree.',
  }),
  pbkeylen: intOption('pbkeylen', {
    phase: 'pre',
    unit: 'bytes',
    oneOf: [0, 16, 24, 32],
    allowed: 'one of 0, 16, 24 or 32 (0 = default AES-128)',
    description: 'AES key length in bytes: 16 (AES-128), 24 (AES-192), 32 (AES-256).',
  }),
  streamid: stringOption('streamid', {
    phase: 'pre',
    allowed: `at most ${SRT_STREAMID_MAX_BYTES} bytes of UTF-8`,
    check: checkStreamId,
    description: 'Stream ID sent to the listener, e.g. #!::r=live,m=publish.',
  }),
  maxbw: int64Option('maxbw', {
    phase: 'post',
    unit: 'bytes/s',
    min: -1,
    allowed: '-1 (libsrt default), 0 (relative to the input rate) or a positive number of bytes per second',
    description: 'Maximum send bandwidth including retransmissions.',
  }),
  inputbw: int64Option('inputbw', {
    phase: 'post',
    unit: 'bytes/s',
    min: 0,
    allowed: '0 (estimate) or more bytes per second',
    description: 'Input rate used when maxbw=0; 0 = estimate it.',
  }),
  mininputbw: int64Option('mininputbw', {
    phase: 'post',
    unit: 'bytes/s',
    min: 0,
    allowed: '0 or more bytes per second',
    description: 'Minimum input rate estimate when maxbw=0 and inputbw=0.',
  }),
  oheadbw: intOption('oheadbw', {
    phase: 'post',
    unit: 'percent',
    min: 5,
    max: 100,
    allowed: '5 to 100 percent',
    description: 'Retransmission overhead over the input rate when maxbw=0.',
  }),
  tsbpdmode: boolOption('tsbpdmode', { phase: 'pre', description: 'Timestamp-based packet delivery.' }),
  tlpktdrop: boolOption('tlpktdrop', { phase: 'pre', description: 'Drop packets too late to play (live).' }),
  nakreport: boolOption('nakreport', { phase: 'pre', description: 'Periodic NAK reports from the receiver.' }),
  enforcedencryption: boolOption('enforcedencryption', {
    phase: 'pre',
    description: 'Reject the connection when the passphrases do not match.',
  }),
  messageapi: boolOption('messageapi', { phase: 'pre', description: 'Message (not stream) API.' }),
  drifttracer: boolOption('drifttracer', { phase: 'post', description: 'Receiver clock drift tracing.' }),
  ipv6only: intOption('ipv6only', {
    phase: 'pre',
    preBind: true,
    min: -1,
    max: 1,
    allowed: '-1 (system default), 0 or 1',
    description: 'IPV6_V6ONLY on an IPv6 wildcard socket.',
  }),
  snddropdelay: intOption('snddropdelay', {
    phase: 'post',
    unit: 'ms',
    min: 0,
    extra: [-1],
    allowed: '-1 (off) or 0 or more milliseconds',
    description: 'Extra sender delay before dropping late packets.',
  }),
  lossmaxttl: intOption('lossmaxttl', {
    phase: 'pre',
    unit: 'packets',
    min: 0,
    allowed: '0 or more packets',
    description: 'Reorder tolerance before a loss is reported.',
  }),
  conntimeo: intOption('conntimeo', {
    phase: 'pre',
    unit: 'ms',
    min: 1,
    allowed: MS_POSITIVE,
    description: 'Connect timeout (caller; x10 in rendezvous).',
  }),
  peeridletimeo: intOption('peeridletimeo', {
    phase: 'pre',
    unit: 'ms',
    min: 1,
    allowed: MS_POSITIVE,
    description: 'Break the connection after this long without hearing the peer.',
  }),
  packetfilter: stringOption('packetfilter', {
    phase: 'pre',
    allowed: `fec,cols:N[,rows:M][,layout:even|staircase][,arq:always|never|onreq], at most ${SRT_PACKETFILTER_MAX_LENGTH} characters`,
    check: checkPacketFilter,
    description: 'Packet filter (FEC) configuration; must agree with the peer.',
  }),
  payloadsize: intOption('payloadsize', {
    phase: 'pre',
    unit: 'bytes',
    min: 0,
    max: SRT_LIVE_MAX_PAYLOAD,
    allowed: `0 to ${SRT_LIVE_MAX_PAYLOAD} bytes`,
    description: 'Maximum payload per packet (live default 1316 = 7 TS packets).',
  }),
  mss: intOption('mss', {
    phase: 'pre',
    preBind: true,
    unit: 'bytes',
    min: 76,
    max: 1500,
    allowed: '76 to 1500 bytes',
    description: 'Maximum segment size (IP packet) including headers.',
  }),
  fc: intOption('fc', {
    phase: 'pre',
    unit: 'packets',
    min: 32,
    allowed: '32 or more packets',
    description: 'Flow control window (packets in flight).',
  }),
  sndbuf: intOption('sndbuf', {
    phase: 'pre',
    preBind: true,
    unit: 'bytes',
    min: 1,
    allowed: BYTES_POSITIVE,
    description: 'SRT send buffer size.',
  }),
  rcvbuf: intOption('rcvbuf', {
    phase: 'pre',
    preBind: true,
    unit: 'bytes',
    min: 1,
    allowed: BYTES_POSITIVE,
    description: 'SRT receive buffer size (capped by fc).',
  }),
  udp_sndbuf: intOption('udp_sndbuf', {
    phase: 'pre',
    preBind: true,
    unit: 'bytes',
    min: 1,
    allowed: BYTES_POSITIVE,
    description: 'UDP socket send buffer (SO_SNDBUF).',
  }),
  udp_rcvbuf: intOption('udp_rcvbuf', {
    phase: 'pre',
    preBind: true,
    unit: 'bytes',
    min: 1,
    allowed: BYTES_POSITIVE,
    description: 'UDP socket receive buffer (SO_RCVBUF; capped by net.core.rmem_max).',
  }),
  ipttl: intOption('ipttl', {
    phase: 'pre',
    preBind: true,
    unit: 'hops',
    min: 1,
    max: 255,
    extra: [-1],
    allowed: '1 to 255 hops, or -1 for the system default',
    description: 'IP time to live.',
  }),
  iptos: intOption('iptos', {
    phase: 'pre',
    preBind: true,
    min: 0,
    max: 255,
    extra: [-1],
    allowed: '0 to 255, or -1 for the system default',
    description: 'IP type of service / DSCP byte.',
  }),
  minversion: intOption('minversion', {
    phase: 'pre',
    min: 0,
    max: 0xffffff,
    allowed: 'an SRT version such as 1.3.0 or 0x010300',
    parse: parseVersion,
    description: 'Reject peers older than this SRT version.',
  }),
  kmrefreshrate: intOption('kmrefreshrate', {
    phase: 'pre',
    unit: 'packets',
    min: 0,
    allowed: '0 (default) or more packets',
    description: 'Packets sent before the encryption key is changed.',
  }),
  kmpreannounce: intOption('kmpreannounce', {
    phase: 'pre',
    unit: 'packets',
    min: 0,
    allowed: '0 (default) or more packets, at most (kmrefreshrate - 1) / 2',
    description: 'Packets before/after a key change when both keys are announced.',
  }),
  retransmitalgo: intOption('retransmitalgo', {
    phase: 'pre',
    oneOf: [0, 1],
    allowed: '0 (retransmit on every NAK) or 1 (reduced retransmissions)',
    description: 'Retransmission algorithm.',
  }),
  linger: intOption('linger', {
    phase: 'post',
    unit: 's',
    min: 0,
    allowed: '0 (off) or more seconds',
    description: 'How long close waits for unsent data.',
  }),
  bindtodevice: stringOption('bindtodevice', {
    phase: 'pre',
    preBind: true,
    allowed: 'a network interface name of 1 to 15 characters',
    check: checkDevice,
    description: 'SO_BINDTODEVICE (Linux; needs CAP_NET_RAW).',
  }),
};

type SpecValue<S> = S extends SrtOptionSpec<infer V> ? V : never;

export type SrtOptionName = keyof typeof CATALOG;
/** The typed value of each option. */
export type SrtOptionValues = { [K in SrtOptionName]: SpecValue<(typeof CATALOG)[K]> };
/** A checked set of options, as produced by `normalizeOptions` and `parseSrtUrl`. */
export type SrtOptions = Partial<SrtOptionValues>;

for (const spec of Object.values(CATALOG)) Object.freeze(spec);

/** The catalog, by lowercase libsrt name. */
export const SRT_OPTIONS: Readonly<{ readonly [K in SrtOptionName]: SrtOptionSpec<SrtOptionValues[K]> }> =
  Object.freeze(CATALOG);

export const SRT_OPTION_NAMES: readonly SrtOptionName[] = Object.freeze(Object.keys(CATALOG) as SrtOptionName[]);

/**
 * libsrt options that exist but may not be set by users, with the reason. Setting one throws
 * ERR_SRT_OPTION_INVALID with that reason.
 */
export const RESERVED_SRT_OPTIONS: Readonly<Record<string, string>> = Object.freeze({
  sndsyn: 'the relay controls blocking mode (it uses non-blocking sockets)',
  rcvsyn: 'the relay controls blocking mode (it uses non-blocking sockets)',
  sndtimeo: 'the relay controls blocking mode (it uses non-blocking sockets, so timeouts do not apply)',
  rcvtimeo: 'the relay controls blocking mode (it uses non-blocking sockets, so timeouts do not apply)',
  rendezvous: 'choose rendezvous with mode=rendezvous',
  reuseaddr: 'the relay controls address reuse',
  sender: 'the relay sets the sender flag itself',
  groupconnect: 'socket groups (bonding) are not supported by srt-relay',
  groupminstabletimeo: 'socket groups (bonding) are not supported by srt-relay',
  grouptype: 'socket groups (bonding) are not supported by srt-relay',
  isn: 'it is read-only',
  state: 'it is read-only',
  event: 'it is read-only',
  snddata: 'it is read-only',
  rcvdata: 'it is read-only',
  kmstate: 'it is read-only',
  sndkmstate: 'it is read-only',
  rcvkmstate: 'it is read-only',
  version: 'it is read-only',
  peerversion: 'it is read-only',
});

export function isSrtOptionName(name: string): name is SrtOptionName {
  return Object.prototype.hasOwnProperty.call(CATALOG, name);
}

// ---------------------------------------------------------------------------------------------
// suggestions

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      d[i * cols + j] = v;
    }
  }
  return at(a.length, b.length);
}

function closestNames(name: string, candidates: readonly string[], n: number): string[] {
  const wanted = name.toLowerCase().replace(/^srto_/, '');
  if (wanted.length === 0) return [];
  if (candidates.includes(wanted)) return [wanted];
  const scored: { name: string; score: number }[] = [];
  for (const c of candidates) {
    const dist = editDistance(wanted, c);
    const prefix = wanted.length >= 2 && (c.startsWith(wanted) || wanted.startsWith(c));
    // Short names need a closer match: at most half of the longer name may differ.
    const near = dist <= Math.min(3, Math.floor(Math.max(wanted.length, c.length) / 2));
    if (near || prefix) scored.push({ name: c, score: prefix ? Math.min(dist, 1.5) : dist });
  }
  scored.sort((x, y) => x.score - y.score || x.name.localeCompare(y.name));
  return scored.slice(0, n).map((s) => s.name);
}

/**
 * Up to `n` catalog names closest to `name` (edit distance <= 3 and at most half the longer
 * name, or a prefix either way), best first. A leading `SRTO_` and case are ignored. `extra` adds candidate names (e.g. URL keys).
 */
export function closestOptionNames(name: string, n = 3, extra: readonly string[] = []): string[] {
  return closestNames(name, [...SRT_OPTION_NAMES, ...extra], n);
}

// ---------------------------------------------------------------------------------------------
// validation

/**
 * Resolve a user-written option name (case-insensitive) to a catalog name. Throws
 * ERR_SRT_OPTION_INVALID for reserved/read-only options and ERR_SRT_OPTION_UNKNOWN otherwise.
 * `extraKnown` are other valid names in the caller's context, offered as suggestions.
 */
export function resolveOptionName(name: string, extraKnown: readonly string[] = []): SrtOptionName {
  const lower = name.toLowerCase();
  if (isSrtOptionName(lower)) return lower;
  const bare = lower.replace(/^srto_/, '');
  const reserved = RESERVED_SRT_OPTIONS[bare];
  if (reserved !== undefined && Object.prototype.hasOwnProperty.call(RESERVED_SRT_OPTIONS, bare)) {
    throw new SrtOptionInvalidError(bare, `${bare} cannot be set: ${reserved}`, { reserved: true });
  }
  throw new SrtOptionUnknownError(name, closestOptionNames(name, 3, extraKnown));
}

/** Check URL text for option `name`, returning its typed value. */
export function validateOption<K extends SrtOptionName>(name: K, raw: string): SrtOptionValues[K];
export function validateOption(name: string, raw: string): SrtOptionValue;
export function validateOption(name: string, raw: string): SrtOptionValue {
  const key = resolveOptionName(name);
  return SRT_OPTIONS[key].validate(raw);
}

/**
 * Check a whole option set (values may be strings or already typed), then the rules between
 * options. Keys are case-insensitive; the result uses catalog names.
 */
export function normalizeOptions(record: Readonly<Record<string, string | number | boolean>>): SrtOptions {
  const out: Record<string, SrtOptionValue> = {};
  const given = new Map<string, string>();
  for (const [key, value] of Object.entries(record)) {
    const name = resolveOptionName(key);
    const earlier = given.get(name);
    if (earlier !== undefined) {
      throw new SrtOptionInvalidError(name, `${name} is given twice (as '${earlier}' and '${key}'); keep one`);
    }
    given.set(name, key);
    const spec: SrtOptionSpec = SRT_OPTIONS[name];
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new SrtOptionInvalidError(name, `${name} must be ${spec.allowed} (got ${typeName(value)})`, {
        allowed: spec.allowed,
      });
    }
    out[name] = spec.normalize(value);
  }
  const options = out as SrtOptions;
  checkOptionSet(options);
  return options;
}

/** Rules between options that a single value cannot break. Throws ERR_SRT_OPTION_INVALID. */
export function checkOptionSet(options: SrtOptions): void {
  if (options.passphrase !== undefined && options.enforcedencryption === false) {
    throw new SrtOptionInvalidError(
      'enforcedencryption',
      'enforcedencryption=0 with a passphrase lets a peer without the passphrase connect unencrypted (its plaintext would be taken as the stream); srt-relay refuses it: leave enforcedencryption out, or remove the passphrase',
      { allowed: '1 (the default) when a passphrase is set' },
    );
  }
  if (options.packetfilter !== undefined && options.payloadsize !== undefined) {
    if (options.payloadsize > SRT_FEC_MAX_PAYLOAD) {
      throw new SrtOptionInvalidError(
        'payloadsize',
        `payloadsize must be at most ${SRT_FEC_MAX_PAYLOAD} bytes with packetfilter (FEC takes 4 bytes per packet) (got ${options.payloadsize})`,
        { allowed: `0 to ${SRT_FEC_MAX_PAYLOAD} bytes` },
      );
    }
  }
  if (options.kmpreannounce !== undefined && options.kmpreannounce > 0) {
    const refresh =
      options.kmrefreshrate === undefined || options.kmrefreshrate === 0 ? SRT_DEFAULT_KM_REFRESH : options.kmrefreshrate;
    const limit = Math.floor((refresh - 1) / 2);
    if (options.kmpreannounce > limit) {
      throw new SrtOptionInvalidError(
        'kmpreannounce',
        `kmpreannounce must be at most (kmrefreshrate - 1) / 2 = ${limit} packets (got ${options.kmpreannounce}); raise kmrefreshrate or lower kmpreannounce`,
        { allowed: `0 to ${limit} packets` },
      );
    }
  }
}

/** An option value as URL text (the inverse of `validate`; not percent-encoded). */
export function formatOptionValue(name: SrtOptionName, value: SrtOptionValue): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (name === 'minversion' && typeof value === 'number') return `0x${value.toString(16).padStart(6, '0')}`;
  return String(value);
}
