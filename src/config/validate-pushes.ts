/** The `pushes` section: restreams to SRT targets, each (stream, target) once. */
import { formatSrtUrl, parseSrtUrl, type SrtUrl } from '../srt/url.js';
import { formatKeyPath, type Problems, type Seg } from './problems.js';
import type { UdpListener } from './validate-listeners.js';
import type { PushConfig, RelayConfigInput } from './types.js';

/** `pushes` → checked pushes; adds the listeners of listener-mode targets. */
export function normalizePushes(pushesIn: RelayConfigInput['pushes'], problems: Problems, listeners: UdpListener[]): PushConfig[] {
  const pushes: PushConfig[] = [];
  const pushKeys = new Map<string, number>();
  (pushesIn ?? []).forEach((p, i) => {
    const segs: Seg[] = ['pushes', i];
    let target: SrtUrl | undefined;
    try {
      target = parseSrtUrl(p.target);
    } catch (err) {
      problems.wrap([...segs, 'target'], err);
    }
    if (target === undefined) return;
    const key = `${p.stream}\n${formatSrtUrl(target)}`;
    const earlier = pushKeys.get(key);
    if (earlier !== undefined) {
      problems.add(segs, `the same push as pushes[${earlier}] (same stream and target); keep one`);
    }
    pushKeys.set(key, i);
    if (target.mode === 'listener') {
      listeners.push({ segs: [...segs, 'target'], host: target.host, port: target.port, what: `${formatKeyPath(segs)}.target` });
    }
    pushes.push({ stream: p.stream, target, auto: p.auto ?? false });
  });
  return pushes;
}
