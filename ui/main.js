// srt-relay dashboard: Preact + htm, pages in pages.js, all data from the public HTTP API.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, getToken, onUnauthorized, setToken } from './api.js';
import { ClusterPage, NodePage, Overview, RecordingsPage, Sessions, StreamPage } from './pages.js';
import { html, useHashRoute } from './util.js';
import './style.css';

function Login({ error, onDone }) {
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState(error);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setToken(value.trim());
    try {
      await api('/api/v1/token');
      onDone();
    } catch (err) {
      setToken('');
      setMsg(err instanceof ApiError && err.status === 401 ? 'The node refused that token: check api.token in its configuration.' : err.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<main id="main" class="login">
    <h1>srt-relay</h1>
    <form id="login-form" onSubmit=${submit} aria-describedby="login-help">
      <label for="login-token">API token</label>
      <input id="login-token" type="password" autocomplete="current-password" required value=${value} onInput=${(e) => setValue(e.currentTarget.value)} />
      <button type="submit" disabled=${busy}>Sign in</button>
      <p id="login-help" class="dim">The same bearer token as the HTTP API (<code>api.token</code>). It is kept in this tab only (session storage).</p>
      ${msg ? html`<p class="error" role="alert" id="login-error">${msg}</p>` : null}
    </form>
  </main>`;
}

const PAGES = [
  ['overview', '#/', 'Streams'],
  ['sessions', '#/sessions', 'Sessions'],
  ['recordings', '#/recordings', 'Recordings'],
  ['node', '#/node', 'Node'],
  ['cluster', '#/cluster', 'Cluster'],
];

function App() {
  const [auth, setAuth] = useState({ state: 'checking', required: false, error: '' });
  const route = useHashRoute();
  useEffect(() => {
    const off = onUnauthorized((e) => setAuth((a) => ({ ...a, state: 'login', error: getToken() === '' ? 'This node needs its API token.' : `The node refused the token: ${e.message}.` })));
    api('/api/v1/token').then(
      (r) => setAuth({ state: 'ok', required: r.tokenRequired, error: '' }),
      (err) => setAuth((a) => (a.state === 'login' ? a : { state: 'error', required: false, error: err.message })),
    );
    return off;
  }, []);
  if (auth.state === 'checking') return html`<main id="main"><p>Connecting…</p></main>`;
  if (auth.state === 'login') return html`<${Login} error=${auth.error} onDone=${() => setAuth({ state: 'ok', required: true, error: '' })} />`;
  if (auth.state === 'error') return html`<main id="main"><p class="error" role="alert">${auth.error}</p></main>`;
  const active = route.page === 'stream' ? 'overview' : route.page;
  let page;
  if (route.page === 'stream' && route.arg) page = html`<${StreamPage} key=${route.arg} name=${route.arg} />`;
  else if (route.page === 'sessions') page = html`<${Sessions} />`;
  else if (route.page === 'recordings') page = html`<${RecordingsPage} />`;
  else if (route.page === 'node') page = html`<${NodePage} />`;
  else if (route.page === 'cluster') page = html`<${ClusterPage} />`;
  else page = html`<${Overview} />`;
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
    <header class="top">
      <span class="brand">srt-relay</span>
      <nav aria-label="pages"><ul>
        ${PAGES.map(([key, href, label]) => html`<li><a href=${href} aria-current=${active === key ? 'page' : undefined}>${label}</a></li>`)}
      </ul></nav>
      ${auth.required ? html`<button type="button" class="linkish" onClick=${() => { setToken(''); setAuth({ state: 'login', required: true, error: '' }); }}>Sign out</button>` : null}
    </header>
    <main id="main" tabindex="-1">${page}</main>`;
}

render(html`<${App} />`, document.getElementById('app'));
