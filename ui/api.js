// The dashboard's only way to the node: the public HTTP API, with the bearer token the operator
// typed in (kept in sessionStorage: gone when the tab closes). A 401 anywhere sends the page back
// to the login form.

const TOKEN_KEY = 'srt-relay.token';

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

export function setToken(token) {
  try {
    if (token === '') sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    /* storage disabled: the token lives only in this page */
  }
}

export function authHeaders() {
  const t = getToken();
  return t === '' ? {} : { authorization: `Bearer ${t}` };
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const unauthorizedListeners = new Set();
/** Called with the error whenever the API answers 401. */
export function onUnauthorized(fn) {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

/**
 * @param {string} path
 * @param {{ method?: string, body?: unknown }} [options]
 */
export async function api(path, { method = 'GET', body = undefined } = {}) {
  const headers = { accept: 'application/json', ...authHeaders() };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', `the node did not answer (${err instanceof Error ? err.message : String(err)})`);
  }
  if (res.status === 204) return null;
  const json = await res.json().catch(() => null);
  if (!res.ok) {
    const e = new ApiError(res.status, json?.error?.code ?? `HTTP_${res.status}`, json?.error?.message ?? `HTTP ${res.status}`);
    if (res.status === 401) for (const fn of unauthorizedListeners) fn(e);
    throw e;
  }
  return json;
}
