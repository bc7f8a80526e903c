/**
 * A port's stream-id settings (`srt.ports[].streamIds`, `.streamIdless`) checked beyond the
 * schema: byAddress keys are numeric addresses or prefixes with a length that fits the family.
 */
import { isIP } from 'node:net';
import type { GateDialects } from '../srt/streamid.js';
import type { SrtPortInput } from './types.js';

/** Why `text` is not a numeric address or address/prefix, or undefined when it is one. */
export function checkAddressPrefix(text: string): string | undefined {
  const slash = text.indexOf('/');
  const host = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(host);
  if (family === 0) return `must be a numeric IPv4 or IPv6 address, optionally with /prefix-length (got ${JSON.stringify(text)})`;
  if (slash < 0) return undefined;
  const bitsText = text.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > max) return `prefix length must be 0 to ${max} (got ${JSON.stringify(text)})`;
  return undefined;
}

/** `{dialects}` of one port, or `{}` when it sets none; problems are reported with their key path below the port. */
export function portDialects(p: SrtPortInput, problem: (key: string[], message: string) => void): { dialects?: GateDialects } {
  const out: { domains?: GateDialects['domains']; streamIdless?: GateDialects['streamIdless'] } = {};
  const domains = p.streamIds?.domains;
  if (domains !== undefined && Object.keys(domains).length > 0) out.domains = Object.freeze({ ...domains });
  const idless = p.streamIdless;
  if (idless !== undefined) {
    for (const key of Object.keys(idless.byAddress ?? {})) {
      const why = checkAddressPrefix(key);
      if (why !== undefined) problem(['streamIdless', 'byAddress', key], why);
    }
    out.streamIdless = Object.freeze({
      ...(idless.default !== undefined ? { default: idless.default } : {}),
      ...(idless.byAddress !== undefined ? { byAddress: Object.freeze({ ...idless.byAddress }) } : {}),
      ...(idless.direction !== undefined ? { direction: idless.direction } : {}),
    });
  }
  return out.domains === undefined && out.streamIdless === undefined ? {} : { dialects: Object.freeze(out) };
}
