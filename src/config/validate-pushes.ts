/** The `pushes` section: restreams to SRT targets and recordings (file://), each (stream, target) once. */
import { formatSrtUrl, parseSrtUrl, type SrtUrl } from '../srt/url.js';
import { checkFileTarget, isFileTarget, parseFileTarget, type FileTarget } from '../recording/target.js';
import { formatKeyPath, type Problems, type Seg } from './problems.js';
import type { UdpListener } from './validate-listeners.js';
import type { PushConfig, RelayConfigInput } from './types.js';

/** `pushes` → checked pushes; adds the listeners of listener-mode targets. */
export function normalizePushes(
  pushesIn: RelayConfigInput['pushes'],
  problems: Problems,
  listeners: UdpListener[],
  recordings: { root: string | undefined; node: string; parseOnly?: boolean } = { root: undefined, node: 'node' },
): PushConfig[] {
  const pushes: PushConfig[] = [];
  const pushKeys = new Map<string, number>();
  (pushesIn ?? []).forEach((p, i) => {
    const segs: Seg[] = ['pushes', i];
    let target: SrtUrl | FileTarget | undefined;
    try {
      // file:// targets are recordings (src/recording), inside recordingsRoot (parseOnly: checked by each node when applied).
      target = !isFileTarget(p.target)
        ? parseSrtUrl(p.target)
        : recordings.parseOnly === true
          ? parseFileTarget(p.target)
          : checkFileTarget(p.target, recordings.root, { stream: p.stream, node: recordings.node });
    } catch (err) {
      problems.wrap([...segs, 'target'], err);
    }
    if (target === undefined) return;
    const key = `${p.stream}\n${'template' in target ? target.raw : formatSrtUrl(target)}`;
    const earlier = pushKeys.get(key);
    if (earlier !== undefined) {
      problems.add(segs, `the same push as pushes[${earlier}] (same stream and target); keep one`);
    }
    pushKeys.set(key, i);
    if (!('template' in target) && target.mode === 'listener') {
      listeners.push({ segs: [...segs, 'target'], host: target.host, port: target.port, what: `${formatKeyPath(segs)}.target` });
    }
    pushes.push({ stream: p.stream, target, auto: p.auto ?? false });
  });
  return pushes;
}
