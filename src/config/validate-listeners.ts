/**
 * Every UDP port the config listens on (srt.ports, listener sources, listener push targets),
 * once: the rule the running relay's PortRegistry applies, checked before anything binds.
 */
import { hostWords, PortRegistry } from '../srt/port-registry.js';
import { formatKeyPath, type Problems, type Seg } from './problems.js';

export interface UdpListener {
  readonly segs: readonly Seg[];
  readonly host: string; // '' = any address
  readonly port: number;
  readonly what: string;
}

/** Adds a problem for each listener whose host:port an earlier one already holds. */
export function checkListenerClashes(listeners: readonly UdpListener[], problems: Problems): void {
  const owner = new PortRegistry();
  const byWhat = new Map<string, UdpListener>();
  for (const b of listeners) {
    const held = owner.holderOf(b.host, b.port);
    if (held === undefined) {
      owner.claim(b.host, b.port, b.what);
      byWhat.set(b.what, b);
      continue;
    }
    const a = byWhat.get(held.holder) as UdpListener;
    const by = problems.flagFor(formatKeyPath(a.segs));
    const user = `${a.what}${by === undefined ? '' : ` (set by ${by})`}`;
    problems.add(
      b.segs,
      a.host === b.host
        ? `UDP port ${b.port} on ${b.host === '' ? 'every address' : b.host} is already used by ${user}; use another port or host`
        : `UDP port ${b.port} on ${hostWords(b.host)} is already used by ${user}, which listens on ${hostWords(a.host)}; use another port`,
    );
  }
}
