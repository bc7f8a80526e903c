/** The `srt.ports` section: each SRT listening port with its host, params and stream-id dialects. */
import { formatKeyPath, type Problems, type Seg } from './problems.js';
import { DEFAULT_SRT_HOST, DEFAULT_SRT_PORT, MAX_REUSE_PORT } from './defaults.js';
import { bareHost, checkHostText, checkParams } from './validate-values.js';
import { portDialects } from './stream-ids.js';
import type { UdpListener } from './validate-listeners.js';
import type { SrtPortConfig, SrtPortInput } from './types.js';

/** `srt.ports` (default: one port, 8889, for both directions) → checked ports; adds their listeners. */
export function normalizePorts(portsInput: SrtPortInput[] | undefined, workers: number, problems: Problems, listeners: UdpListener[]): SrtPortConfig[] {
  const portsIn: SrtPortInput[] = portsInput ?? [{ port: DEFAULT_SRT_PORT, host: DEFAULT_SRT_HOST, direction: 'both' }];
  return portsIn.map((p, i) => {
    const segs: Seg[] = ['srt', 'ports', i];
    let host = DEFAULT_SRT_HOST;
    if (p.host !== undefined) {
      const problem = checkHostText(p.host);
      if (problem !== undefined) problems.add([...segs, 'host'], problem);
      host = bareHost(p.host);
    }
    const params = checkParams(p.params, [...segs, 'params'], problems);
    listeners.push({ segs: [...segs, 'port'], host, port: p.port, what: formatKeyPath(segs) });
    return {
      port: p.port,
      host,
      direction: p.direction,
      ...(p.stream !== undefined ? { stream: p.stream } : {}),
      ...portDialects(p, (key, message) => problems.add([...segs, ...key], message)),
      params,
      reusePort: p.reusePort ?? Math.min(workers, MAX_REUSE_PORT),
    };
  });
}
