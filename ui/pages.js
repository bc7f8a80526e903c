import { useEffect, useRef, useState } from 'preact/hooks';
import { api, getToken } from './api.js';
import { Chart } from './chart.js';
import {
  Flags, REJECT_NAMES, Sparkline, fmtAge, fmtBytes, fmtKbps, fmtMs, healthFlags, html, lastValue, mediaSummary, streamHref, tracksOf, usePoll, useSort,
} from './util.js';

/**
 * Keeps the history columns of GET /api/v1/history (or one stream's) up to date with `?since=`:
 * the first call takes the whole window, later ones only the new seconds.
 */
function useHistoryStore() {
  const store = useRef(/** @type {{ since: number | undefined, next: number | undefined, byName: Map<string, any> }} */ ({ since: undefined, next: undefined, byName: new Map() }));
  const KEYS = ['t', 'ingestKbps', 'lossPackets', 'retransmittedPackets', 'rttMs', 'undecryptedPackets', 'viewers'];
  const merge = (list) => {
    const s = store.current;
    const names = new Set();
    for (const h of list) {
      names.add(h.name);
      const cur = s.byName.get(h.name);
      if (cur === undefined || s.since === undefined) {
        s.byName.set(h.name, h);
      } else {
        for (const k of KEYS) cur[k] = [...cur[k], ...h[k]].slice(-300);
      }
      const last = h.t[h.t.length - 1];
      if (last !== undefined && (s.next === undefined || last > s.next)) s.next = last;
    }
    for (const n of [...s.byName.keys()]) if (!names.has(n)) s.byName.delete(n);
    s.since = s.next;
    return s.byName;
  };
  return { store, merge };
}

/** The preview (mpegts.js, most of the bundle) is loaded only when a stream page opens. */
let previewModule;
function LazyPreview(props) {
  const [mod, setMod] = useState(previewModule);
  const [err, setErr] = useState('');
  useEffect(() => {
    if (mod === undefined) import('./preview.js').then((m) => { previewModule = m; setMod(m); }, (e) => setErr(String(e)));
  }, []);
  if (mod !== undefined) return html`<${mod.Preview} ...${props} />`;
  return html`<section class="preview" aria-labelledby="preview-h"><h2 id="preview-h">Live preview</h2><div class="video-wrap"><p class="video-note" role="status">${err || 'Loading the player…'}</p></div></section>`;
}

function stateOf(s, cluster) {
  const remote = cluster?.enabled ? cluster.remote?.[s.name] : undefined;
  if (s.state === 'live' && s.sources && s.sources.active !== undefined && s.sources.active > 0) return { key: 'failover', text: 'live · failed over' };
  if (s.state === 'live') return { key: 'live', text: 'live' };
  if (remote !== undefined) return { key: 'remote', text: `remote · ${remote}` };
  return { key: 'waiting', text: 'waiting' };
}

function StateBadge({ s, cluster }) {
  const st = stateOf(s, cluster);
  return html`<span class=${`state state-${st.key}`} data-field="state">${st.text}</span>`;
}

export function Overview() {
  const { store, merge } = useHistoryStore();
  const streams = usePoll(() => api('/api/v1/streams'), 1000);
  const history = usePoll(async () => {
    const since = store.current.since;
    const res = await api(`/api/v1/history${since !== undefined ? `?since=${since}` : ''}`);
    return merge(res.streams);
  }, 1000);
  const cluster = usePoll(() => api('/api/v1/cluster'), 5000);
  const udp = usePoll(() => api('/api/v1/udp'), 5000);
  const { apply, Th } = useSort('name');
  const list = streams.data?.streams ?? [];
  const hist = history.data ?? new Map();
  const drops = (udp.data?.sockets ?? []).reduce((a, s) => a + s.dropped, 0);
  const live = list.filter((s) => s.state === 'live').length;
  const viewers = list.reduce((a, s) => a + s.viewers, 0);
  const ingest = list.reduce((a, s) => a + (s.publisher?.bitrateKbps ?? 0), 0);
  const rows = apply(list, (s, k) => (k === 'bitrate' ? s.publisher?.bitrateKbps ?? -1 : k === 'viewers' ? s.viewers : k === 'state' ? stateOf(s, cluster.data).text : s.name));

  return html`<section aria-labelledby="overview-h">
    <h1 id="overview-h">Streams</h1>
    ${streams.error ? html`<p class="error" role="alert">${streams.error.message}</p>` : null}
    <dl class="totals">
      <div><dt>Streams</dt><dd id="total-streams">${list.length}</dd></div>
      <div><dt>Live</dt><dd id="total-live">${live}</dd></div>
      <div><dt>Viewers</dt><dd id="total-viewers">${viewers}</dd></div>
      <div><dt>Ingest</dt><dd>${fmtKbps(ingest)}</dd></div>
      <div><dt>UDP drops (kernel)</dt><dd class=${drops > 0 ? 'bad-text' : ''}>${drops}</dd></div>
    </dl>
    ${list.length === 0 && streams.data ? html`<p>No streams yet. Publish with <code>srt://HOST:PORT?streamid=publish:NAME</code> or add one with <code>PUT /api/v1/streams/NAME</code>.</p>` : null}
    <div class="table-wrap">
      <table class="streams cards" id="streams-table">
        <caption class="sr-only">Every stream on this node, updated every second</caption>
        <thead><tr>
          <${Th} k="name">Stream<//><${Th} k="state">State<//><th scope="col">Source · publisher</th><${Th} k="bitrate">Ingest<//>
          <${Th} k="viewers">Viewers<//><th scope="col">Media</th><th scope="col">Keyframes</th><th scope="col">CC errors</th><th scope="col">Health</th>
        </tr></thead>
        <tbody>
          ${rows.map((s) => {
            const h = hist.get(s.name);
            return html`<tr data-stream=${s.name}>
              <th scope="row" data-label="Stream"><a href=${streamHref(s.name)} data-field="name">${s.name}</a></th>
              <td data-label="State"><${StateBadge} s=${s} cluster=${cluster.data} /></td>
              <td data-label="Source"><div class="mono" data-field="source">${s.source}</div><div class="mono dim" data-field="publisher">${s.publisher?.address ?? '—'}</div></td>
              <td data-label="Ingest" class="ingest"><${Sparkline} values=${h?.ingestKbps} label=${`ingest bitrate of ${s.name} over the last minutes`} /><span data-field="bitrate">${fmtKbps(s.publisher?.bitrateKbps)}</span></td>
              <td data-label="Viewers" class="num" data-field="viewers">${s.viewers}</td>
              <td data-label="Media" data-field="media">${mediaSummary(s.media)}</td>
              <td data-label="Keyframes" data-field="keyframe">${s.media?.keyframeIntervalMs != null ? fmtMs(s.media.keyframeIntervalMs) : '–'}</td>
              <td data-label="CC errors" class="num" data-field="cc">${s.media?.ccErrors ?? '–'}</td>
              <td data-label="Health"><${Flags} flags=${healthFlags(s, h)} /></td>
            </tr>`;
          })}
        </tbody>
      </table>
    </div>
  </section>`;
}

function SessionTable({ sessions, onKick, showStream = true, id }) {
  const { apply, Th } = useSort('id');
  const rows = apply(sessions, (s, k) => {
    switch (k) {
      case 'rtt': return s.stats?.rttMs ?? -1;
      case 'rate': return Math.max(s.stats?.recvRateMbps ?? 0, s.stats?.sendRateMbps ?? 0);
      case 'loss': return (s.stats?.lossReceived ?? 0) + (s.stats?.lossSent ?? 0);
      case 'retrans': return s.stats?.retransmitted ?? 0;
      case 'drops': return (s.stats?.dropsReceived ?? 0) + (s.stats?.dropsSent ?? 0) + s.skipped;
      case 'links': return s.srtla?.links.length ?? -1;
      default: return s[k];
    }
  });
  if (sessions.length === 0) return html`<p>No sessions.</p>`;
  return html`<div class="table-wrap"><table class="sessions cards" id=${id}>
    <thead><tr>
      <${Th} k="id">ID<//><${Th} k="kind">Kind<//>${showStream ? html`<${Th} k="stream">Stream<//>` : null}<${Th} k="peer">Peer<//>
      <${Th} k="since">Since<//><${Th} k="rtt">RTT<//><${Th} k="rate">Rate<//><${Th} k="loss">Loss<//><${Th} k="retrans">Retrans<//><${Th} k="drops">Drops · skipped<//>
      <th scope="col">Buffer</th><th scope="col">Undecrypted</th><${Th} k="links">SRTLA links<//><th scope="col"><span class="sr-only">Actions</span></th>
    </tr></thead>
    <tbody>
      ${rows.map((s) => {
        const rate = s.kind === 'publisher' || s.kind === 'undecided' || s.kind === 'pull' ? s.stats?.recvRateMbps : s.stats?.sendRateMbps;
        return html`<tr data-session=${s.id}>
          <th scope="row" data-label="ID">${s.id}</th>
          <td data-label="Kind">${s.kind}</td>
          ${showStream ? html`<td data-label="Stream"><a href=${streamHref(s.stream)}>${s.stream}</a></td>` : null}
          <td data-label="Peer" class="mono">${s.peer}</td>
          <td data-label="Since">${fmtAge(s.since)}</td>
          <td data-label="RTT">${s.stats ? `${s.stats.rttMs.toFixed(1)} ms` : '–'}</td>
          <td data-label="Rate">${rate !== undefined ? fmtKbps(rate * 1000) : '–'}</td>
          <td data-label="Loss">${s.stats ? s.stats.lossReceived + s.stats.lossSent : '–'}</td>
          <td data-label="Retrans">${s.stats?.retransmitted ?? '–'}</td>
          <td data-label="Drops">${s.stats ? `${s.stats.dropsReceived + s.stats.dropsSent} · ${s.skipped}` : s.skipped}</td>
          <td data-label="Buffer">${s.stats ? `${s.stats.receiveBufferMs || s.stats.sendBufferMs} ms` : '–'}</td>
          <td data-label="Undecrypted" class=${s.stats && s.stats.undecrypted > 0 ? 'bad-text num' : 'num'}>${s.stats ? s.stats.undecrypted : '–'}</td>
          <td data-label="SRTLA links" data-field="srtla">${s.srtla ? html`<a href=${`#srtla-${s.id}`}>${s.srtla.links.length} ${s.srtla.links.length === 1 ? 'link' : 'links'}</a>` : '–'}</td>
          <td><button type="button" class="danger" onClick=${() => onKick(s)} aria-label=${`kick session ${s.id} (${s.kind} ${s.peer})`}>Kick</button></td>
        </tr>${s.srtla ? html`<${SrtlaLinks} s=${s} colspan=${showStream ? 14 : 13} />` : null}`;
      })}
    </tbody>
  </table></div>`;
}

/** A bonded (SRTLA) session's links, under its row: where each sends from, what it carried, when it was last heard. */
function SrtlaLinks({ s, colspan }) {
  return html`<tr class="srtla-links" data-srtla-for=${s.id}><td colspan=${colspan}>
    <table class="links" id=${`srtla-${s.id}`}>
      <caption>SRTLA group ${s.srtla.group} of session ${s.id}: ${s.srtla.links.length} ${s.srtla.links.length === 1 ? 'link' : 'links'} (via <span class="mono">${s.srtla.via}</span>)</caption>
      <thead><tr><th scope="col">Link address</th><th scope="col">Bytes</th><th scope="col">Packets</th><th scope="col">Share</th><th scope="col">SRTLA ACKs</th><th scope="col">Last heard</th><th scope="col">Registered</th></tr></thead>
      <tbody>${s.srtla.links.map((l) => {
        const quiet = Date.now() - Date.parse(l.lastHeard) > 2000;
        return html`<tr data-link=${l.address}>
          <th scope="row" data-label="Link" class="mono">${l.address}</th>
          <td data-label="Bytes" data-field="bytes">${fmtBytes(l.bytes)}</td>
          <td data-label="Packets" class="num">${l.packets}</td>
          <td data-label="Share" class="num">${Math.round(l.share * 100)} %</td>
          <td data-label="SRTLA ACKs" class="num">${l.srtlaAcks}</td>
          <td data-label="Last heard" data-field="last-heard" class=${quiet ? 'bad-text' : ''}>${fmtAge(l.lastHeard)} ago</td>
          <td data-label="Registered">${fmtAge(l.registeredSince)} ago</td>
        </tr>`;
      })}</tbody>
    </table>
  </td></tr>`;
}

function useKick(after) {
  const [msg, setMsg] = useState('');
  const kick = async (s) => {
    if (!window.confirm(`Kick session ${s.id} (${s.kind} ${s.peer} on ${s.stream})?`)) return;
    try {
      await api(`/api/v1/sessions/${s.id}`, { method: 'DELETE' });
      setMsg(`Session ${s.id} kicked.`);
      after?.();
    } catch (err) {
      setMsg(`Could not kick session ${s.id}: ${err.message}`);
    }
  };
  return { kick, msg };
}

export function Sessions() {
  const sessions = usePoll(() => api('/api/v1/sessions'), 1000);
  const { kick, msg } = useKick();
  const list = sessions.data?.sessions ?? [];
  return html`<section aria-labelledby="sessions-h">
    <h1 id="sessions-h">Sessions <span class="count">${list.length}</span></h1>
    ${sessions.error ? html`<p class="error" role="alert">${sessions.error.message}</p>` : null}
    <p role="status" class="status">${msg}</p>
    <${SessionTable} sessions=${list} onKick=${kick} id="sessions-table" />
  </section>`;
}

/** Edit one push: PUT /api/v1/pushes/ID with the POST body, prefilled from the PushView. */
function PushEdit({ push, onDone }) {
  const [target, setTarget] = useState(push.target);
  const [auto, setAuto] = useState(push.auto);
  const [msg, setMsg] = useState('');
  const save = async (e) => {
    e.preventDefault();
    try {
      const p = await api(`/api/v1/pushes/${push.id}`, { method: 'PUT', body: { stream: push.stream, target: target.trim(), auto } });
      onDone(`Push ${p.id} now sends to ${p.target}.`);
    } catch (err) {
      setMsg(`Not saved (${err.code}): ${err.message}`);
    }
  };
  return html`<form class="push-edit" id="push-edit" onSubmit=${save} aria-labelledby="push-edit-h">
    <h3 id="push-edit-h">Edit push ${push.id}</h3>
    <p class="dim" id="push-edit-help">Saving restarts the push with the new target. Secrets in the URL show as <code>***</code>: type them again.</p>
    <label for="push-edit-target">Target of push ${push.id}</label>
    <input id="push-edit-target" type="text" inputmode="url" aria-describedby="push-edit-help" value=${target} onInput=${(e) => { setTarget(e.currentTarget.value); setMsg(''); }} required />
    <label class="check"><input type="checkbox" checked=${auto} onChange=${(e) => setAuto(e.currentTarget.checked)} /> Reconnect automatically (auto)</label>
    <div class="buttons"><button type="submit">Save push</button> <button type="button" onClick=${() => onDone('')}>Cancel</button></div>
    <p role="status" class=${msg ? 'status error' : 'status'}>${msg}</p>
  </form>`;
}

function pushStateClass(state) {
  return `state state-${state === 'active' ? 'live' : state === 'failed' ? 'failover' : 'waiting'}`;
}

function Pushes({ name }) {
  const pushes = usePoll(() => api('/api/v1/pushes'), 2000);
  const [target, setTarget] = useState('');
  const [msg, setMsg] = useState('');
  const [editing, setEditing] = useState(undefined);
  const list = (pushes.data?.pushes ?? []).filter((p) => p.stream === name);
  const add = async (e) => {
    e.preventDefault();
    try {
      const p = await api('/api/v1/pushes', { method: 'POST', body: { stream: name, target } });
      setMsg(`Push ${p.id} added.`);
      setTarget('');
    } catch (err) {
      setMsg(`Not added: ${err.message}`);
    }
  };
  const remove = async (p) => {
    if (!window.confirm(`Stop and remove push ${p.id} to ${p.target}?`)) return;
    try {
      await api(`/api/v1/pushes/${p.id}`, { method: 'DELETE' });
      setMsg(`Push ${p.id} removed.`);
    } catch (err) {
      setMsg(`Not removed: ${err.message}`);
    }
  };
  const edited = list.find((p) => p.id === editing);
  return html`<section aria-labelledby="pushes-h">
    <h2 id="pushes-h">Pushes</h2>
    ${list.length === 0 ? html`<p>No pushes.</p>` : html`<div class="table-wrap"><table class="cards" id="pushes-table">
      <thead><tr><th scope="col">ID</th><th scope="col">Target</th><th scope="col">Auto</th><th scope="col">State</th><th scope="col">Attempts</th><th scope="col">Last error</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${list.map((p) => html`<tr data-push=${p.id}>
        <th scope="row" data-label="ID">${p.id}</th><td data-label="Target" class="mono">${p.target}</td><td data-label="Auto">${p.auto ? 'yes' : 'no'}</td>
        <td data-label="State"><span class=${pushStateClass(p.state)}>${p.state}</span></td>
        <td data-label="Attempts">${p.attempts}</td><td data-label="Last error">${p.lastError ?? '—'}</td>
        <td class="actions"><button type="button" onClick=${() => { setMsg(''); setEditing(p.id); }} aria-label=${`edit push ${p.id}`}>Edit</button> <button type="button" class="danger" onClick=${() => remove(p)} aria-label=${`remove push ${p.id}`}>Remove</button></td>
      </tr>`)}</tbody></table></div>`}
    ${edited !== undefined ? html`<${PushEdit} key=${edited.id} push=${edited} onDone=${(text) => { setEditing(undefined); setMsg(text); }} />` : null}
    <form class="inline" onSubmit=${add}>
      <label for="push-target">New push target</label>
      <input id="push-target" type="text" inputmode="url" placeholder="srt://host:port?streamid=publish:name" value=${target} onInput=${(e) => setTarget(e.currentTarget.value)} required />
      <button type="submit">Add push</button>
    </form>
    <p role="status" class="status" id="pushes-status">${msg}</p>
  </section>`;
}

/** Where a recording downloads from (GET /api/v1/recordings/file?path=). */
function recordingHref(path) {
  return `/api/v1/recordings/file?path=${encodeURIComponent(path)}`;
}

/**
 * A download link. Without a token a plain link; with one, the click first asks the node for a
 * ticket (POST /api/v1/recordings/link, with the token) and follows the ticket's link, so the
 * browser streams the file to disk either way (nothing is held in memory).
 */
function DownloadLink({ path, onError }) {
  const click = async (e) => {
    if (getToken() === '') return;
    e.preventDefault();
    try {
      const { url } = await api('/api/v1/recordings/link', { method: 'POST', body: { path } });
      const a = document.createElement('a');
      a.href = url;
      a.download = path.split('/').join('_');
      document.body.append(a);
      a.click();
      a.remove();
    } catch (err) {
      onError(`Download of ${path} failed: ${err.message}`);
    }
  };
  return html`<a href=${recordingHref(path)} download=${path.split('/').join('_')} onClick=${click} aria-label=${`download ${path}`}>Download</a>`;
}

/** The finished recording segments (GET /api/v1/recordings), of one stream or all, newest first. */
function RecordingsTable({ stream, id }) {
  const rec = usePoll(() => api(`/api/v1/recordings${stream !== undefined ? `?stream=${encodeURIComponent(stream)}` : ''}`), 5000, [stream]);
  const [msg, setMsg] = useState('');
  const list = [...(rec.data?.recordings ?? [])].sort((a, b) => (a.start < b.start ? 1 : a.start > b.start ? -1 : 0));
  const total = list.reduce((a, r) => a + r.bytes, 0);
  return html`<div>
    ${rec.error ? html`<p class="error" role="alert">${rec.error.message}</p>` : null}
    ${rec.data && list.length === 0 ? html`<p>No finished recording segments${stream !== undefined ? ' of this stream' : ''}. A <code>file://</code> push records (docs/recording.md).</p>` : null}
    ${list.length > 0 ? html`<p class="dim">${list.length} segments · ${fmtBytes(total)}</p><div class="table-wrap"><table class="cards" id=${id}>
      <thead><tr>${stream === undefined ? html`<th scope="col">Stream</th>` : null}<th scope="col">File</th><th scope="col">Start</th><th scope="col">Duration</th><th scope="col">Size</th><th scope="col">Push</th><th scope="col"><span class="sr-only">Download</span></th></tr></thead>
      <tbody>${list.map((r) => html`<tr data-recording=${r.path}>
        ${stream === undefined ? html`<td data-label="Stream"><a href=${streamHref(r.stream)}>${r.stream}</a></td>` : null}
        <th scope="row" data-label="File" class="mono">${r.path}</th>
        <td data-label="Start">${new Date(r.start).toLocaleString()}</td>
        <td data-label="Duration" data-field="duration">${fmtMs(r.durationSeconds * 1000)}</td>
        <td data-label="Size" data-field="bytes">${fmtBytes(r.bytes)}</td>
        <td data-label="Push">${r.push}</td>
        <td><${DownloadLink} path=${r.path} onError=${setMsg} /></td>
      </tr>`)}</tbody>
    </table></div>` : null}
    <p role="status" class="status error">${msg}</p>
  </div>`;
}

export function RecordingsPage() {
  return html`<section aria-labelledby="recordings-h">
    <h1 id="recordings-h">Recordings</h1>
    <${RecordingsTable} id="recordings-table" />
  </section>`;
}

/** Edit the stream: the JSON body of PUT /api/v1/streams/NAME, checked by the API like the config file. */
function StreamEdit({ name, s }) {
  const initial = () => JSON.stringify(s.sources !== null ? { sources: s.sources.sources.map((x) => x.source) } : { source: s.source }, null, 2);
  const [text, setText] = useState(initial);
  const [msg, setMsg] = useState({ ok: true, text: '' });
  const save = async (e) => {
    e.preventDefault();
    let body;
    try {
      body = JSON.parse(text);
    } catch (err) {
      setMsg({ ok: false, text: `Not JSON: ${err.message}` });
      return;
    }
    try {
      const r = await api(`/api/v1/streams/${encodeURIComponent(name)}`, { method: 'PUT', body });
      setMsg({ ok: true, text: `Saved: ${r.name} now takes ${r.source}.` });
    } catch (err) {
      setMsg({ ok: false, text: `Not saved (${err.code}): ${err.message}` });
    }
  };
  return html`<details class="edit">
    <summary>Edit stream settings</summary>
    <form onSubmit=${save}>
      <label for="stream-settings">Settings of ${name}: the body of <code>PUT /api/v1/streams/${name}</code> (docs/api.md)</label>
      <p class="dim" id="stream-settings-help">Saving replaces every setting: keys left out take their defaults, passphrases included (the API never shows them). Secrets in URLs show as <code>***</code>: type them again.</p>
      <textarea id="stream-settings" rows="6" spellcheck="false" aria-describedby="stream-settings-help" value=${text} onInput=${(e) => setText(e.currentTarget.value)}></textarea>
      <button type="submit">Save</button>
    </form>
    <p role="status" id="stream-edit-status" class=${msg.ok ? 'status' : 'status error'}>${msg.text}</p>
  </details>`;
}

export function StreamPage({ name }) {
  const stream = usePoll(() => api(`/api/v1/streams/${encodeURIComponent(name)}`), 1000, [name]);
  const hist = useRef({ since: undefined, h: undefined });
  const history = usePoll(async () => {
    const r = hist.current;
    const res = await api(`/api/v1/streams/${encodeURIComponent(name)}/history${r.since !== undefined ? `?since=${r.since}` : ''}`);
    if (r.h === undefined) r.h = res;
    else for (const k of ['t', 'ingestKbps', 'lossPackets', 'retransmittedPackets', 'rttMs', 'undecryptedPackets', 'viewers']) r.h[k] = [...r.h[k], ...res[k]].slice(-300);
    const last = r.h.t[r.h.t.length - 1];
    if (last !== undefined) r.since = last;
    return { ...r.h };
  }, 1000, [name]);
  const sessions = usePoll(() => api('/api/v1/sessions'), 1000);
  const { kick, msg } = useKick();
  const s = stream.data;
  const h = history.data;
  if (stream.error && !s) return html`<section><h1>${name}</h1><p class="error" role="alert">${stream.error.message}</p><p><a href="#/">Back to the streams</a></p></section>`;
  if (!s) return html`<section><h1>${name}</h1><p>Loading…</p></section>`;
  const mine = (sessions.data?.sessions ?? []).filter((x) => x.stream === name);
  const { tracks } = tracksOf(s.media);
  return html`<section aria-labelledby="stream-h" class="stream-page">
    <p class="crumbs"><a href="#/">Streams</a> ›</p>
    <h1 id="stream-h">${name} <${StateBadge} s=${s} /></h1>
    <div class="stream-top">
      <${LazyPreview} name=${name} media=${s.media} live=${s.state === 'live'} />
      <section aria-labelledby="facts-h" class="facts">
        <h2 id="facts-h">Now</h2>
        <dl>
          <dt>Source</dt><dd class="mono">${s.source}</dd>
          <dt>Publisher</dt><dd class="mono" id="stream-publisher">${s.publisher ? `${s.publisher.address} (session ${s.publisher.session}, ${fmtAge(s.publisher.since)})` : '—'}</dd>
          <dt>Ingest</dt><dd id="stream-bitrate">${fmtKbps(s.publisher?.bitrateKbps)}</dd>
          <dt>Viewers</dt><dd id="stream-viewers">${s.viewers}</dd>
          <dt>Media</dt><dd>${mediaSummary(s.media)}</dd>
          <dt>Keyframe interval</dt><dd>${s.media?.keyframeIntervalMs != null ? `${fmtMs(s.media.keyframeIntervalMs)} (${s.media.keyframeIntervalFrames} frames)` : '–'}</dd>
          <dt>CC errors</dt><dd>${s.media?.ccErrors ?? '–'}</dd>
          <dt>RTT</dt><dd>${lastValue(h?.rttMs) !== null ? `${lastValue(h?.rttMs)} ms` : '–'}</dd>
          <dt>Window</dt><dd>${s.window.slots} slots · ${fmtBytes(s.window.bytes)}${s.window.oldestMs != null ? ` · ${fmtMs(s.window.oldestMs)}` : ''}</dd>
          <dt>In / out</dt><dd>${fmtBytes(s.bytesIn)} / ${fmtBytes(s.bytesOut)}</dd>
          <dt>Health</dt><dd><${Flags} flags=${healthFlags(s, h)} /></dd>
        </dl>
      </section>
    </div>
    <section aria-labelledby="charts-h">
      <h2 id="charts-h">Last minutes</h2>
      <div class="charts">
        <${Chart} id="chart-bitrate" title="Ingest bitrate" unit="kbit/s" t=${h?.t} series=${[{ label: 'ingest', values: h?.ingestKbps, stroke: '#1f6feb' }]} />
        <${Chart} id="chart-loss" title="Packets lost / retransmitted per second" t=${h?.t} series=${[{ label: 'lost', values: h?.lossPackets, stroke: '#cf222e' }, { label: 'retransmitted', values: h?.retransmittedPackets, stroke: '#9a6700' }]} />
        <${Chart} id="chart-rtt" title="RTT to the publisher" unit="ms" t=${h?.t} series=${[{ label: 'RTT', values: h?.rttMs, stroke: '#8250df' }]} />
        <${Chart} id="chart-viewers" title="Viewers" t=${h?.t} series=${[{ label: 'viewers', values: h?.viewers, stroke: '#1a7f37' }]} />
      </div>
    </section>
    <section aria-labelledby="tracks-h">
      <h2 id="tracks-h">Tracks</h2>
      ${tracks.length === 0 ? html`<p>None read yet.</p>` : html`<div class="table-wrap"><table class="cards" id="tracks-table">
        <thead><tr><th scope="col">PID</th><th scope="col">Kind</th><th scope="col">Codec</th><th scope="col">Size</th><th scope="col">Language</th><th scope="col">Bitrate</th><th scope="col">CC errors</th></tr></thead>
        <tbody>${tracks.map((t) => html`<tr><th scope="row" data-label="PID">${t.pid}</th><td data-label="Kind">${t.kind}</td><td data-label="Codec">${t.codec}</td><td data-label="Size">${t.width ? `${t.width}×${t.height}` : '–'}</td><td data-label="Language">${t.language ?? '–'}</td><td data-label="Bitrate">${fmtKbps(t.bitrateKbps)}</td><td data-label="CC errors">${t.ccErrors}</td></tr>`)}</tbody>
      </table></div>`}
    </section>
    <section aria-labelledby="sources-h">
      <h2 id="sources-h">Sources <span class="dim">(failover order)</span></h2>
      ${s.sources === null ? html`<p>Publishers push to it (<span class="mono">${s.source}</span>).</p>` : html`<ol class="sources" id="sources-list">
        ${s.sources.sources.map((src, i) => html`<li class=${i === s.sources.active ? 'active' : ''} aria-current=${i === s.sources.active ? 'true' : undefined}>
          <span class="mono">${src.source}</span> <span class=${`state state-${src.state === 'live' ? 'live' : src.state === 'failed' ? 'failover' : 'waiting'}`}>${src.state}</span>
          ${i === s.sources.active ? html` <strong>active</strong>` : null} <span class="dim">${src.kind} · ${src.attempts} attempts${src.lastError ? ` · ${src.lastError}` : ''}</span>
        </li>`)}
      </ol><p class="dim">${s.sources.switches} switches</p>`}
    </section>
    <${StreamEdit} name=${name} s=${s} />
    <${Pushes} name=${name} />
    <section aria-labelledby="srec-h">
      <h2 id="srec-h">Recordings</h2>
      <${RecordingsTable} stream=${name} id="stream-recordings" />
    </section>
    <section aria-labelledby="ssess-h">
      <h2 id="ssess-h">Sessions</h2>
      <p role="status" class="status">${msg}</p>
      <${SessionTable} sessions=${mine} onKick=${kick} showStream=${false} id="stream-sessions" />
    </section>
  </section>`;
}

/** What the node knows of its configuration's problems: the last reload, keys waiting for a restart, each problem. */
function ConfigProblems({ c }) {
  if (!c) return null;
  const last = c.lastReload;
  return html`<section aria-labelledby="config-h" id="config-status">
    <h2 id="config-h">Configuration ${c.problems.length + c.needsRestart.length > 0 ? html`<span class="state state-failover" id="config-flag">${c.problems.length + c.needsRestart.length} to look at</span>` : html`<span class="state state-live">no problems</span>`}</h2>
    <p id="config-file">${c.file === null ? 'Started without a config file (--config): nothing to reload.' : html`File <span class="mono">${c.file}</span>, ${last === null ? 'not reloaded since the start' : html`last reloaded ${fmtAge(last.at)} ago (${last.trigger}): <strong class=${last.ok ? 'ok-text' : 'bad-text'} id="config-last">${last.ok ? 'applied' : 'refused, the running configuration is kept'}</strong>`}.`}</p>
    ${c.needsRestart.length > 0 ? html`<div class="warn-box" id="config-restart"><p>Changed in the file, in force only after a restart (the running value is kept):</p><ul>${c.needsRestart.map((k) => html`<li class="mono">${k}</li>`)}</ul></div>` : null}
    ${c.problems.length > 0 ? html`<ul class="error" id="config-problems">${c.problems.map((p) => html`<li><span class="dim">${p.source === 'cluster' ? 'cluster' : 'reload'}:</span> <span class="mono">${p.message}</span></li>`)}</ul>` : null}
  </section>`;
}

export function NodePage() {
  const { store } = { store: useRef({ since: undefined, h: undefined }) };
  const node = usePoll(async () => {
    const r = store.current;
    const res = await api(`/api/v1/node${r.since !== undefined ? `?since=${r.since}` : ''}`);
    if (r.h === undefined) r.h = res.history;
    else {
      const keys = new Set([...Object.keys(r.h.refused), ...Object.keys(res.history.refused)]);
      const len = r.h.t.length;
      for (const k of keys) r.h.refused[k] = [...(r.h.refused[k] ?? new Array(len).fill(0)), ...(res.history.refused[k] ?? new Array(res.history.t.length).fill(0))].slice(-300);
      r.h.t = [...r.h.t, ...res.history.t].slice(-300);
      r.h.sessions = [...r.h.sessions, ...res.history.sessions].slice(-300);
    }
    const last = r.h.t[r.h.t.length - 1];
    if (last !== undefined) r.since = last;
    return { ...res, history: { ...r.h } };
  }, 1000);
  const udp = usePoll(() => api('/api/v1/udp'), 5000);
  const n = node.data;
  if (!n) return html`<section><h1>Node</h1>${node.error ? html`<p class="error" role="alert">${node.error.message}</p>` : html`<p>Loading…</p>`}</section>`;
  const colours = ['#cf222e', '#9a6700', '#8250df', '#1f6feb', '#bc4c00'];
  const refusedSeries = Object.entries(n.history.refused).map(([k, v], i) => ({ label: `${k} ${REJECT_NAMES[k.split(' ')[1]] ?? ''}`, values: v, stroke: colours[i % colours.length] }));
  return html`<section aria-labelledby="node-h">
    <h1 id="node-h">Node <span class="mono">${n.nodeId}</span></h1>
    <dl class="totals">
      <div><dt>Health</dt><dd class=${n.health.status === 'ok' ? 'ok-text' : 'bad-text'} id="node-health">${n.health.status}</dd></div>
      <div><dt>Version</dt><dd>${n.version}</dd></div>
      <div><dt>Node.js</dt><dd>${n.node}</dd></div>
      <div><dt>Up</dt><dd>${Math.floor(n.uptimeS / 60)} min ${n.uptimeS % 60} s</dd></div>
      <div><dt>Streams · sessions</dt><dd>${n.streams} · ${n.sessions}</dd></div>
    </dl>
    ${n.health.reasons.length > 0 ? html`<ul class="error">${n.health.reasons.map((r) => html`<li>${r}</li>`)}</ul>` : null}
    <${ConfigProblems} c=${n.config} />
    <h2>Ports</h2>
    <div class="table-wrap"><table class="cards" id="ports-table">
      <thead><tr><th scope="col">Port</th><th scope="col">Protocol</th><th scope="col">Direction</th><th scope="col">Stream</th></tr></thead>
      <tbody>
        <tr><th scope="row" data-label="Port" class="mono">${n.api.host}:${n.api.port}</th><td data-label="Protocol">HTTP API + dashboard</td><td data-label="Direction">${n.api.auth ? `token required${n.api.protectReads ? ' (reads too)' : ' (changes)'}` : 'open (loopback only)'}</td><td>—</td></tr>
        ${n.ports.map((p) => html`<tr><th scope="row" data-label="Port" class="mono">${p.host}:${p.port}</th><td data-label="Protocol">SRT</td><td data-label="Direction">${p.direction}</td><td data-label="Stream">${p.stream ?? 'any'}</td></tr>`)}
        ${n.srtla ? html`<tr id="srtla-port"><th scope="row" data-label="Port" class="mono">${n.srtla.host}:${n.srtla.port}</th><td data-label="Protocol">SRTLA (bonded ingest)</td><td data-label="Direction">incoming → <span class="mono">${n.srtla.target}</span></td><td data-label="Stream">any · ${n.srtla.groups} ${n.srtla.groups === 1 ? 'group' : 'groups'}</td></tr>` : null}
      </tbody>
    </table></div>
    <h2>Limits</h2>
    ${n.limits === null ? html`<p>Not reported by this node.</p>` : html`<dl class="limits">${Object.entries(n.limits).map(([k, v]) => html`<dt>${k}</dt><dd>${Array.isArray(v) ? v.join(', ') || '—' : v === 0 ? '0 (unlimited)' : String(v)}</dd>`)}</dl>`}
    <h2>Handshakes refused</h2>
    ${n.refused.length === 0 ? html`<p id="refused-none">None since the node started.</p>` : html`<div class="table-wrap"><table class="cards" id="refused-table">
      <thead><tr><th scope="col">Listener</th><th scope="col">Code</th><th scope="col">Meaning</th><th scope="col">Count</th></tr></thead>
      <tbody>${n.refused.map((r) => html`<tr><td data-label="Listener">${r.listener}</td><th scope="row" data-label="Code">${r.code}</th><td data-label="Meaning">${REJECT_NAMES[r.code] ?? ''}</td><td data-label="Count" class="num">${r.count}</td></tr>`)}</tbody>
    </table></div>`}
    <div class="charts">
      <${Chart} id="chart-refused" title="Handshakes refused per second, by code" t=${n.history.t} series=${refusedSeries.length > 0 ? refusedSeries : [{ label: 'refused', values: n.history.t.map(() => 0), stroke: '#cf222e' }]} />
      <${Chart} id="chart-sessions" title="Sessions" t=${n.history.t} series=${[{ label: 'sessions', values: n.history.sessions, stroke: '#1f6feb' }]} />
    </div>
    <h2>UDP sockets</h2>
    <div class="table-wrap"><table class="cards">
      <thead><tr><th scope="col">Role</th><th scope="col">Port</th><th scope="col">Stream</th><th scope="col">Receive buffer</th><th scope="col">Kernel drops</th></tr></thead>
      <tbody>${(udp.data?.sockets ?? []).map((u) => html`<tr><td data-label="Role">${u.role}</td><td data-label="Port">${u.port ?? '–'}</td><td data-label="Stream">${u.stream ?? '–'}</td><td data-label="Buffer">${fmtBytes(u.receiveBufferBytes)}</td><td data-label="Drops" class=${u.dropped > 0 ? 'bad-text num' : 'num'}>${u.dropped}</td></tr>`)}</tbody>
    </table></div>
  </section>`;
}

export function ClusterPage() {
  const cluster = usePoll(() => api('/api/v1/cluster'), 2000);
  const nodes = usePoll(() => api('/api/v1/cluster/nodes'), 2000);
  const c = cluster.data;
  if (!c) return html`<section><h1>Cluster</h1>${cluster.error ? html`<p class="error" role="alert">${cluster.error.message}</p>` : html`<p>Loading…</p>`}</section>`;
  if (!c.enabled) return html`<section aria-labelledby="cluster-h"><h1 id="cluster-h">Cluster</h1><p id="cluster-off">This node runs alone (no <code>redis</code> / <code>cluster</code> in its configuration).</p></section>`;
  // Which node holds which stream, as this node sees it: its own leases and the routing it mirrors.
  const streamsOf = new Map();
  const add = (node, s) => streamsOf.set(node, [...(streamsOf.get(node) ?? []), s]);
  for (const s of Object.keys(c.owned)) add(c.node, s);
  for (const [s, node] of Object.entries(c.remote)) add(node, s);
  const list = nodes.data?.nodes ?? [];
  return html`<section aria-labelledby="cluster-h">
    <h1 id="cluster-h">Cluster <span class="count">${list.length} nodes</span></h1>
    <dl class="totals">
      <div><dt>This node</dt><dd class="mono">${c.node}</dd></div>
      <div><dt>Redis</dt><dd class=${c.redis ? 'ok-text' : 'bad-text'} id="cluster-redis">${c.redis ? 'reachable' : 'unreachable'}</dd></div>
      <div><dt>Lease claims · conflicts · lost</dt><dd>${c.claims} · ${c.conflicts} · ${c.lost}</dd></div>
    </dl>
    <h2>Nodes</h2>
    <div class="table-wrap"><table class="cards" id="cluster-nodes">
      <thead><tr><th scope="col">Node</th><th scope="col">SRT</th><th scope="col">API</th><th scope="col">Sessions</th><th scope="col">Streams</th><th scope="col">CPU</th><th scope="col">Bandwidth</th><th scope="col">Heartbeat</th><th scope="col">Holds</th></tr></thead>
      <tbody>${list.map((n) => html`<tr data-node=${n.id}>
        <th scope="row" data-label="Node" class="mono">${n.id}${n.id === c.node ? html` <span class="dim">(this node)</span>` : null}</th>
        <td data-label="SRT" class="mono">${n.srtAddress}</td>
        <td data-label="API" class="mono">${n.apiAddress}</td>
        <td data-label="Sessions" class="num">${n.load.sessions}</td>
        <td data-label="Streams" class="num">${n.load.streams}</td>
        <td data-label="CPU" class="num">${Math.round(n.load.cpu * 100)} %</td>
        <td data-label="Bandwidth">${fmtKbps(n.load.bandwidthMbps * 1000)}</td>
        <td data-label="Heartbeat">${fmtAge(new Date(n.heartbeatAt).toISOString())} ago</td>
        <td data-label="Holds">${(streamsOf.get(n.id) ?? []).map((s) => html`<a href=${streamHref(s)}>${s}</a> `)}</td>
      </tr>`)}</tbody>
    </table></div>
  </section>`;
}
