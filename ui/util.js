import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);

/** Polls `fn` every `ms` (the next call starts `ms` after the previous answer; paused while the tab is hidden). */
export function usePoll(fn, ms, deps = []) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    let stopped = false;
    let timer;
    const tick = async () => {
      if (stopped) return;
      if (document.hidden) {
        timer = setTimeout(tick, ms);
        return;
      }
      try {
        const data = await fnRef.current();
        if (!stopped) setState({ data, error: undefined });
      } catch (error) {
        if (!stopped) setState((s) => ({ data: s.data, error }));
      }
      if (!stopped) timer = setTimeout(tick, ms);
    };
    const onVisible = () => {
      if (!document.hidden) {
        clearTimeout(timer);
        void tick();
      }
    };
    document.addEventListener('visibilitychange', onVisible);
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, deps);
  return state;
}

/** The route from location.hash: `#/`, `#/stream/NAME`, `#/sessions`, `#/node`, `#/cluster`. */
export function useHashRoute() {
  const read = () => {
    const raw = location.hash.replace(/^#\/?/, '');
    const [page = '', ...rest] = raw.split('/');
    return { page: page === '' ? 'overview' : page, arg: rest.length > 0 ? decodeURIComponent(rest.join('/')) : undefined };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function streamHref(name) {
  return `#/stream/${encodeURIComponent(name)}`;
}

export function fmtKbps(kbps) {
  if (kbps === null || kbps === undefined) return '–';
  if (kbps >= 10000) return `${(kbps / 1000).toFixed(1)} Mbit/s`;
  if (kbps >= 1000) return `${(kbps / 1000).toFixed(2)} Mbit/s`;
  return `${Math.round(kbps)} kbit/s`;
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '–';
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

export function fmtAge(iso) {
  if (!iso) return '–';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return '–';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

/** Sum of the last `n` non-null values of a column. */
export function lastSum(col, n) {
  let s = 0;
  if (!col) return 0;
  for (let i = Math.max(0, col.length - n); i < col.length; i++) s += col[i] ?? 0;
  return s;
}

export function lastValue(col) {
  if (!col) return null;
  for (let i = col.length - 1; i >= 0; i--) if (col[i] !== null && col[i] !== undefined) return col[i];
  return null;
}

/** SRT reject codes (libsrt SRT_REJX_* and this relay's use of them). */
export const REJECT_NAMES = {
  1400: 'bad request',
  1401: 'unauthorized',
  1402: 'overload',
  1403: 'forbidden',
  1404: 'not found',
  1405: 'bad mode',
  1406: 'unacceptable',
  1409: 'conflict',
  1429: 'too many handshakes',
  1500: 'internal error',
  1503: 'unavailable / over limits',
};

/** Main video track and the other tracks from a stream's `media`. */
export function tracksOf(media) {
  const tracks = [];
  for (const p of media?.programs ?? []) for (const t of p.tracks) tracks.push({ ...t, program: p.number });
  const video = tracks.find((t) => t.pid === media?.videoPid) ?? tracks.find((t) => t.kind === 'video');
  return { tracks, video };
}

export function mediaSummary(media) {
  const { tracks, video } = tracksOf(media);
  if (tracks.length === 0) return '–';
  const parts = [];
  if (video) parts.push(`${video.codec}${video.width ? ` ${video.width}×${video.height}` : ''}`);
  for (const t of tracks) if (t !== video && t.kind === 'audio') parts.push(t.codec);
  const others = tracks.filter((t) => t !== video && t.kind !== 'audio').length;
  if (others > 0) parts.push(`+${others} more`);
  return parts.join(' · ');
}

/**
 * Health flags of a stream: [{level: 'ok'|'warn'|'bad', text}] from its view, its history (the
 * last 10 s) and the node's UDP drops.
 */
export function healthFlags(s, hist) {
  const flags = [];
  if (s.state !== 'live') return [{ level: 'idle', text: 'no publisher' }];
  const loss = lastSum(hist?.lossPackets, 10);
  const retrans = lastSum(hist?.retransmittedPackets, 10);
  const undecrypted = lastSum(hist?.undecryptedPackets, 10);
  const rtt = lastValue(hist?.rttMs);
  if (undecrypted > 0) flags.push({ level: 'bad', text: `${undecrypted} undecrypted` });
  if (loss > 0) flags.push({ level: loss > 100 ? 'bad' : 'warn', text: `loss ${loss}/10 s` });
  if (retrans > 0) flags.push({ level: retrans > 200 ? 'bad' : 'warn', text: `retrans ${retrans}/10 s` });
  if (rtt !== null && rtt > 100) flags.push({ level: rtt > 300 ? 'bad' : 'warn', text: `RTT ${Math.round(rtt)} ms` });
  if (s.publisher?.quiet) flags.push({ level: 'bad', text: 'publisher quiet' });
  if ((s.media?.ccErrors ?? 0) > 0) flags.push({ level: 'warn', text: `${s.media.ccErrors} CC errors` });
  if (s.sources && s.sources.active !== undefined && s.sources.active > 0) flags.push({ level: 'warn', text: 'on backup source' });
  if (flags.length === 0) flags.push({ level: 'ok', text: 'ok' });
  return flags;
}

export function Flags({ flags }) {
  return html`<ul class="flags" aria-label="health">
    ${flags.map((f) => html`<li class=${`flag flag-${f.level}`}>${f.level === 'bad' ? '✖ ' : f.level === 'warn' ? '▲ ' : f.level === 'ok' ? '✔ ' : ''}${f.text}</li>`)}
  </ul>`;
}

/** Inline SVG sparkline of a column (nulls as gaps). */
export function Sparkline({ values, label, width = 120, height = 28 }) {
  const vals = values ?? [];
  let max = 0;
  for (const v of vals) if (v !== null && v > max) max = v;
  if (max === 0) max = 1;
  const n = Math.max(vals.length, 2);
  let d = '';
  let pen = false;
  vals.forEach((v, i) => {
    if (v === null || v === undefined) {
      pen = false;
      return;
    }
    const x = (i / (n - 1)) * width;
    const y = height - 2 - (v / max) * (height - 4);
    d += `${pen ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    pen = true;
  });
  return html`<svg class="spark" width=${width} height=${height} viewBox=${`0 0 ${width} ${height}`} role="img" aria-label=${label}>
    <path d=${d} fill="none" stroke="currentColor" stroke-width="1.5" />
  </svg>`;
}

/** A table whose columns sort when their header button is pressed (aria-sort tells which). */
export function useSort(initial, dir = 'asc') {
  const [sort, setSort] = useState({ key: initial, dir });
  const toggle = (key) => setSort((s) => ({ key, dir: s.key === key && s.dir === 'asc' ? 'desc' : 'asc' }));
  const apply = (rows, get) =>
    [...rows].sort((a, b) => {
      const x = get(a, sort.key);
      const y = get(b, sort.key);
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x ?? '').localeCompare(String(y ?? ''), undefined, { numeric: true });
      return sort.dir === 'asc' ? c : -c;
    });
  const Th = ({ k, children }) =>
    html`<th scope="col" aria-sort=${sort.key === k ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button type="button" class="sort" onClick=${() => toggle(k)}>${children}<span aria-hidden="true">${sort.key === k ? (sort.dir === 'asc' ? ' ▲' : ' ▼') : ''}</span></button>
    </th>`;
  return { sort, apply, Th };
}
