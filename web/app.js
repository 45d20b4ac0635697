// OmenDB Cloud console. Plain ES2022, no dependencies, no build step. Everything the console does goes
// through the REST API under /v1 on this origin (see docs/control-plane.md).
'use strict';

// ---------------------------------------------------------------------------------------------------------
// DOM helpers

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false || k === '') continue;
    el.append(k instanceof Node ? k : String(k));
  }
  return el;
}

function setAttrs(el, props) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  return el;
}

/** An HTML element: h('button', {class: 'btn', onclick: f}, 'Save'). */
function h(tag, props, ...kids) {
  return append(setAttrs(document.createElement(tag), props), kids);
}

/** Replaces el's children; null/false children are skipped (native replaceChildren would print "null"). */
function put(el, ...kids) {
  el.replaceChildren();
  return append(el, kids);
}

/** An SVG element. */
function s(tag, props, ...kids) {
  return append(setAttrs(document.createElementNS(SVG_NS, tag), props), kids);
}

let uid = 0;
const nextId = (p) => `${p}-${++uid}`;

const $ = (sel, root = document) => root.querySelector(sel);

function announce(msg) {
  const el = $('#announcer');
  el.textContent = '';
  // A fresh text node after a tick makes screen readers read repeated messages too.
  setTimeout(() => { el.textContent = msg; }, 30);
}

// ---------------------------------------------------------------------------------------------------------
// Formatting

const nf = (max) => new Intl.NumberFormat(undefined, { maximumFractionDigits: max });
function fmtNum(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e9) return nf(1).format(v / 1e9) + 'G';
  if (a >= 1e6) return nf(1).format(v / 1e6) + 'M';
  if (a >= 1e4) return nf(1).format(v / 1e3) + 'k';
  if (a >= 100) return nf(0).format(v);
  if (a >= 1) return nf(1).format(v);
  return nf(a === 0 ? 0 : 2).format(v);
}
function fmtBytes(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return nf(i === 0 || Math.abs(v) >= 100 ? 0 : 1).format(v) + ' ' + units[i];
}
function fmtMs(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v >= 100 ? nf(0).format(v) + ' ms' : nf(v >= 1 ? 1 : 3).format(v) + ' ms';
}
const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const rel = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
function relTime(iso) {
  const d = (new Date(iso).getTime() - Date.now()) / 1000;
  const a = Math.abs(d);
  if (a < 45) return 'just now';
  if (a < 3600) return rel.format(Math.round(d / 60), 'minute');
  if (a < 86400) return rel.format(Math.round(d / 3600), 'hour');
  if (a < 30 * 86400) return rel.format(Math.round(d / 86400), 'day');
  return dateFmt.format(new Date(iso));
}
const secFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
/** A <time>: relative ("5 minutes ago"), 'date' (minutes) or 'seconds'. */
function timeEl(iso, how = 'relative') {
  if (!iso) return h('span', { class: 'muted' }, 'never');
  const d = new Date(iso);
  const text = how === 'relative' ? relTime(iso) : (how === 'seconds' ? secFmt : dateFmt).format(d);
  return h('time', { datetime: iso, title: secFmt.format(d) }, text);
}

/** `psql "<url>"`, quoted for POSIX shells. */
function psqlCommand(url) {
  return `psql "${url.replace(/["\\$`]/g, (c) => '\\' + c)}"`;
}

// ---------------------------------------------------------------------------------------------------------
// API client and session

// The refresh token is in an HttpOnly cookie this script cannot read; the CSRF token that refresh and
// logout need is in a readable cookie (shared by every tab, rotated with each refresh).
const CSRF_COOKIE = 'omendb_csrf';
// Logging out in one tab logs out the others.
const sessionChannel = 'BroadcastChannel' in window ? new BroadcastChannel('omendb-session') : null;

class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const e = (body && body.error) || {};
    super(e.message || (status ? `The server answered ${status}.` : 'Cannot reach OmenDB Cloud.'));
    this.status = status;
    this.code = e.code || (status ? 'http_' + status : 'network');
    this.fields = Array.isArray(e.fields) ? e.fields : [];
    this.retryAfter = retryAfter ? parseInt(retryAfter, 10) || null : null;
  }
}

/** Thrown when the session cannot go on; the app is already on its way to the login page. */
class SessionEnded extends Error {}

const session = {
  access: null,
  expiresAt: 0,
  timer: 0,
  refreshing: null,
  me: null,
  next: null,
};

async function rawFetch(method, path, body, token, extraHeaders) {
  const headers = { Accept: 'application/json', ...(extraHeaders || {}) };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = 'Bearer ' + token;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, { error: { code: 'network', message: 'Cannot reach OmenDB Cloud. Check your connection and try again.' } });
  }
  const text = res.status === 204 ? '' : await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) throw new ApiError(res.status, data, res.headers.get('Retry-After'));
  return data;
}

function setTokens(t) {
  ended = false;
  session.access = t.access_token;
  const life = Math.max(1, Number(t.expires_in) || 60);
  session.expiresAt = Date.now() + life * 1000;
  clearTimeout(session.timer);
  // Quietly refresh a little before expiry (a minute, or a fifth of a short lifetime).
  const ahead = Math.min(60, life / 5);
  session.timer = setTimeout(() => {
    refreshOnce().catch(onSessionError);
  }, Math.max(1000, (life - ahead) * 1000));
}

function clearSession() {
  clearTimeout(session.timer);
  session.access = null;
  session.expiresAt = 0;
  session.me = null;
  document.cookie = `${CSRF_COOKIE}=; Path=/; Max-Age=0; Secure; SameSite=Strict`;
}

/** This session's CSRF token, from its cookie (another tab may have rotated it); '' = no session. */
function csrfToken() {
  const c = document.cookie.split(';').map((s) => s.trim()).find((s) => s.startsWith(CSRF_COOKIE + '='));
  return c ? c.slice(CSRF_COOKIE.length + 1) : '';
}

/** One refresh at a time in this tab (single flight) and, with Web Locks, across tabs too. */
function refreshOnce() {
  if (!session.refreshing) {
    session.refreshing = doRefresh().finally(() => { session.refreshing = null; });
  }
  return session.refreshing;
}

async function doRefresh() {
  const run = async () => {
    // Read it now: another tab may have rotated it while this one waited for the lock.
    const csrf = csrfToken();
    if (!csrf) {
      clearSession();
      throw new SessionEnded('Your session has ended. Please log in again.');
    }
    try {
      setTokens(await rawFetch('POST', '/v1/auth/refresh', undefined, undefined, { 'X-CSRF-Token': csrf }));
    } catch (e) {
      if (e.status === 401 || e.status === 403) {
        clearSession();
        throw new SessionEnded('Your session has expired. Please log in again.');
      }
      throw e;
    }
  };
  return navigator.locks ? navigator.locks.request('omendb-refresh', run) : run();
}

function endSession(message) {
  const msg = message || 'Your session has ended. Please log in again.';
  clearSession();
  if (location.pathname === '/login' && ended) return; // several calls failed at once: go once
  ended = true;
  stopPage();
  if (location.pathname !== '/login' && location.pathname !== '/signup') session.next = location.pathname;
  navigate('/login', { replace: true, flash: msg });
  announce(msg);
}
let ended = false;

function onSessionError(e) {
  if (e instanceof SessionEnded) endSession(e.message);
}

/** An authenticated API call: refreshes before expiry, and once on a 401, then gives up cleanly. */
async function api(method, path, body) {
  try {
    if (!session.access || Date.now() > session.expiresAt - 5000) await refreshOnce();
    const token = session.access;
    try {
      return await rawFetch(method, path, body, token);
    } catch (e) {
      if (e.status !== 401) throw e;
      // Refresh unless another call already did (single flight: concurrent 401s share one refresh).
      if (session.refreshing) await session.refreshing;
      else if (session.access === token) await refreshOnce();
      try {
        return await rawFetch(method, path, body, session.access);
      } catch (e2) {
        if (e2.status === 401) {
          clearSession();
          throw new SessionEnded('Your session has expired. Please log in again.');
        }
        throw e2;
      }
    }
  } catch (e) {
    if (e instanceof SessionEnded) endSession(e.message);
    throw e;
  }
}

async function logout() {
  const csrf = csrfToken();
  clearSession();
  if (csrf) {
    try { await rawFetch('POST', '/v1/auth/logout', undefined, undefined, { 'X-CSRF-Token': csrf }); } catch { /* ends anyway */ }
  }
  if (sessionChannel) sessionChannel.postMessage('logout');
  session.next = null;
  navigate('/login', { replace: true, flash: 'You have logged out.' });
  announce('You have logged out.');
}

// Another tab logged out: follow it.
if (sessionChannel) {
  sessionChannel.onmessage = (e) => {
    if (e.data === 'logout' && session.access) endSession('You logged out in another tab.');
  };
}

// ---------------------------------------------------------------------------------------------------------
// Router

const ROUTES = [
  { re: /^\/login$/, page: pageLogin, title: 'Log in', public: true },
  { re: /^\/signup$/, page: pageSignup, title: 'Sign up', public: true },
  { re: /^\/databases$/, page: pageDatabases, title: 'Databases', nav: '/databases' },
  { re: /^\/databases\/new$/, page: pageCreate, title: 'Create a database', nav: '/databases' },
  { re: /^\/databases\/([A-Za-z0-9_-]{1,100})$/, page: pageDatabase, title: 'Database', nav: '/databases' },
  { re: /^\/api-keys$/, page: pageApiKeys, title: 'API keys', nav: '/api-keys' },
  { re: /^\/billing$/, page: pageBilling, title: 'Billing', nav: '/billing' },
  { re: /^\/audit-log$/, page: pageAudit, title: 'Audit log', nav: '/audit-log' },
];

let current = null; // { ctl: AbortController, timers: Set }
let flash = null;
let firstRender = true;

function stopPage() {
  if (!current) return;
  current.ctl.abort();
  for (const t of current.timers) clearTimeout(t);
  current = null;
}

function navigate(path, opts = {}) {
  if (opts.flash) flash = opts.flash;
  if (opts.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

window.addEventListener('popstate', () => render());
// Back from Stripe through the back/forward cache: the page left mid-action, so draw it afresh.
window.addEventListener('pageshow', (e) => { if (e.persisted) render(); });

document.addEventListener('click', (e) => {
  const a = e.target.closest && e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.target || a.hasAttribute('download') || a.origin !== location.origin) return;
  const path = a.pathname;
  if (path.startsWith('/v1/') || path.includes('.') || a.getAttribute('href').startsWith('#')) return;
  e.preventDefault();
  if (path !== location.pathname) navigate(path);
});

/** A page's context: stops timers and requests when the user leaves. */
function makeCtx() {
  const ctx = { ctl: new AbortController(), timers: new Set() };
  ctx.signal = ctx.ctl.signal;
  ctx.alive = () => current === ctx;
  const later = (ms, fn) => {
    const t = setTimeout(() => { ctx.timers.delete(t); if (ctx.alive()) fn(); }, ms);
    ctx.timers.add(t);
    return t;
  };
  /**
   * Runs fn now and again after the delay it returns (`ms` if none; 0 stops), while the page is shown.
   * `kick()` runs it again soon, restarting a stopped loop; runs never overlap.
   */
  ctx.loop = (fn, ms) => {
    let timer = 0;
    let running = false;
    let again = false;
    const schedule = (d) => {
      clearTimeout(timer);
      ctx.timers.delete(timer);
      timer = later(d, tick);
    };
    const tick = async () => {
      if (!ctx.alive()) return;
      if (running) { again = true; return; }
      running = true;
      let next = ms;
      try {
        const r = await fn();
        if (typeof r === 'number') next = r;
      } catch (e) {
        if (e instanceof SessionEnded) next = 0;
      } finally {
        running = false;
      }
      if (!ctx.alive()) return;
      if (again) { again = false; next = 300; }
      if (next > 0) schedule(next);
    };
    tick();
    return { kick: (d = 500) => { if (running) again = true; else schedule(d); } };
  };
  return ctx;
}

async function render() {
  stopPage();
  let path = location.pathname.replace(/\/+$/, '') || '/';
  if (path === '/') {
    history.replaceState(null, '', '/databases');
    path = '/databases';
  }
  const route = ROUTES.find((r) => r.re.test(path));
  const ctx = makeCtx();
  current = ctx;
  const main = $('#main');

  if (route && !route.public && !session.access) {
    if (csrfToken()) {
      put(main, h('p', { class: 'loading', role: 'status' }, 'Loading…'));
      try {
        await refreshOnce();
      } catch (e) {
        if (!ctx.alive()) return;
        if (e instanceof SessionEnded) { endSession(e.message); return; }
        put(main, pageError(e, () => render()));
        return;
      }
      if (!ctx.alive()) return;
    } else {
      session.next = path;
      navigate('/login', { replace: true });
      return;
    }
  }
  if (route && route.public && session.access) {
    navigate('/databases', { replace: true });
    return;
  }

  renderHeader(route);
  const title = route ? route.title : 'Not found';
  document.title = `${title} · OmenDB Cloud`;
  const msg = flash;
  flash = null;
  let content;
  if (!route) {
    content = h('section', { class: 'page' }, h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', {}, 'There is nothing at this address. ', h('a', { href: '/databases' }, 'Go to your databases'), '.'));
  } else {
    content = route.page(ctx, path.match(route.re).slice(1), msg);
  }
  put(main, content);
  if (!firstRender) {
    const h1 = $('h1', main);
    if (h1) h1.focus({ preventScroll: false });
    window.scrollTo(0, 0);
  }
  firstRender = false;
}

function renderHeader(route) {
  const top = $('#top');
  if (!session.access) {
    top.hidden = true;
    put(top);
    return;
  }
  const link = (href, label) => h('a', { href, 'aria-current': route && route.nav === href ? 'page' : false }, label);
  const who = h('span', { class: 'who' }, session.me ? session.me.email : '');
  if (!session.me) {
    api('GET', '/v1/me').then((me) => { session.me = me; who.textContent = me.email; }).catch(() => {});
  }
  top.hidden = false;
  put(top, 
    h('a', { class: 'brand', href: '/databases' },
      h('img', { src: '/favicon.svg', alt: '', width: '24', height: '24' }), h('span', { class: 'brand-name' }, 'OmenDB Cloud')),
    h('nav', { 'aria-label': 'Main' },
      h('ul', {}, h('li', {}, link('/databases', 'Databases')), h('li', {}, link('/api-keys', 'API keys')),
        h('li', {}, link('/billing', 'Billing')), h('li', {}, link('/audit-log', 'Audit log')))),
    h('div', { class: 'account' }, who, h('button', { type: 'button', class: 'btn btn-small', onclick: logout }, 'Log out')),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Shared UI pieces

function pageError(e, retry) {
  return h('section', { class: 'page' },
    h('h1', { tabindex: '-1' }, 'Something went wrong'),
    h('p', { class: 'error-box', role: 'alert' }, e.message),
    h('button', { type: 'button', class: 'btn', onclick: retry }, 'Try again'));
}

function flashBox(msg) {
  return msg ? h('p', { class: 'flash', role: 'status' }, msg) : null;
}

/** A labelled form field with a hint and an error slot wired to aria-describedby. */
function field({ label, name, type = 'text', hint, autocomplete, value, attrs = {} }) {
  const id = nextId(name);
  const hintId = hint ? id + '-hint' : null;
  const errId = id + '-error';
  const input = h('input', {
    id, name, type, autocomplete, value,
    'aria-describedby': [hintId, errId].filter(Boolean).join(' '),
    ...attrs,
  });
  const err = h('p', { id: errId, class: 'field-error', 'aria-live': 'polite' });
  const wrap = h('div', { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('p', { id: hintId, class: 'hint' }, hint) : null,
    input, err);
  const setError = (msg) => {
    put(err);
    if (msg) append(err, [msg]);
    if (msg) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  };
  return { wrap, input, err, setError };
}

function errorText(e) {
  if (e.code === 'rate_limited') {
    const s = e.retryAfter;
    const wait = !s ? 'a minute' : s < 90 ? `${s} seconds` : `${Math.ceil(s / 60)} minutes`;
    return `Too many attempts. Try again in ${wait}.`;
  }
  return e.message;
}

/** errorText as page content: a 402 (the organisation has not paid for the plan) links to Billing. */
function errorContent(e) {
  if (e.code !== 'payment_required') return errorText(e);
  return [e.message, /[.!?]$/.test(e.message) ? ' ' : '. ', h('a', { href: '/billing' }, 'Go to Billing'), '.'];
}

/** A block of copyable text with a Copy button that says "Copied". */
function copyBlock(label, text, { secret = false } = {}) {
  const id = nextId('copy');
  const status = h('span', { class: 'copy-status', role: 'status' });
  const btn = h('button', { type: 'button', class: 'btn btn-small copy', 'aria-describedby': id + '-label' }, 'Copy');
  let t = 0;
  btn.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      btn.textContent = 'Copied';
      status.textContent = `${label} copied to the clipboard`;
    } catch {
      // Select it so Ctrl+C works.
      const sel = window.getSelection();
      const r = document.createRange();
      r.selectNodeContents(code);
      sel.removeAllRanges();
      sel.addRange(r);
      status.textContent = 'Copying is blocked here: the text is selected, press Ctrl+C.';
    }
    clearTimeout(t);
    t = setTimeout(() => { btn.textContent = 'Copy'; status.textContent = ''; }, 2500);
  });
  const code = h('code', { id: id + '-value', class: secret ? 'secret' : null }, text);
  return h('div', { class: 'copy-block' },
    h('span', { class: 'copy-label', id: id + '-label' }, label),
    h('div', { class: 'copy-row' }, h('pre', { tabindex: '0', 'aria-labelledby': id + '-label' }, code), btn),
    status);
}

const TRANSITIONAL = new Set(['provisioning', 'updating', 'pausing', 'resuming', 'deleting']);
const STATE_TEXT = {
  provisioning: 'Provisioning', ready: 'Ready', updating: 'Updating', pausing: 'Pausing', paused: 'Paused',
  resuming: 'Resuming', deleting: 'Deleting', failed: 'Failed',
};

function badge(state) {
  return h('span', { class: `badge state-${state}${TRANSITIONAL.has(state) ? ' busy' : ''}`, 'data-state': state },
    h('span', { class: 'dot', 'aria-hidden': 'true' }), STATE_TEXT[state] || state);
}

/** A modal dialog (native <dialog>): Escape closes, Tab stays inside, focus goes back where it was. */
function openDialog({ title, body, actions, onClose, label }) {
  const prev = document.activeElement;
  const titleId = nextId('dlg-title');
  const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId, 'aria-modal': 'true' },
    h('h2', { id: titleId }, title), body,
    h('div', { class: 'dialog-actions' }, actions));
  if (label) dlg.setAttribute('aria-describedby', label);
  const close = () => {
    if (!dlg.isConnected) return;
    dlg.close();
    dlg.remove();
    if (prev && prev.isConnected && typeof prev.focus === 'function') prev.focus();
    if (onClose) onClose();
  };
  dlg.addEventListener('cancel', (e) => { e.preventDefault(); close(); });
  dlg.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab') return;
    const f = [...dlg.querySelectorAll('button, input, select, textarea, a[href], [tabindex]:not([tabindex="-1"])')]
      .filter((x) => !x.disabled && x.offsetParent !== null);
    if (!f.length) return;
    const first = f[0];
    const last = f[f.length - 1];
    if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
  });
  dlg.addEventListener('click', (e) => { if (e.target === dlg) close(); });
  document.body.append(dlg);
  dlg.showModal();
  const auto = dlg.querySelector('[autofocus]') || dlg.querySelector('input, button');
  if (auto) auto.focus();
  return { dlg, close };
}

/** Asks to confirm; resolves to true/false. */
function confirmDialog({ title, text, confirm, danger }) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (v) => { if (!done) { done = true; resolve(v); } };
    const cancelBtn = h('button', { type: 'button', class: 'btn', autofocus: true }, 'Cancel');
    const okBtn = h('button', { type: 'button', class: 'btn ' + (danger ? 'btn-danger' : 'btn-primary') }, confirm);
    const d = openDialog({ title, body: h('p', {}, text), actions: [cancelBtn, okBtn], onClose: () => finish(false) });
    cancelBtn.addEventListener('click', () => d.close());
    okBtn.addEventListener('click', () => { finish(true); d.close(); });
  });
}

/** The "shown once" panel for a new password or key. */
function secretPanel({ title, warning, items, doneLabel, onDone }) {
  const headingId = nextId('secret');
  const heading = h('h2', { id: headingId, tabindex: '-1' }, title);
  const panel = h('section', { class: 'secret-panel', 'aria-labelledby': headingId },
    heading,
    h('p', { class: 'warning' }, h('strong', {}, 'Shown only once. '), warning),
    items,
    onDone ? h('button', { type: 'button', class: 'btn btn-primary', onclick: onDone }, doneLabel) : null);
  return { panel, heading };
}

/** Marks a button unavailable without taking focus away from it (aria-disabled, not disabled). */
function setOff(btn, off) {
  if (off) btn.setAttribute('aria-disabled', 'true');
  else btn.removeAttribute('aria-disabled');
}
const isOff = (btn) => btn.getAttribute('aria-disabled') === 'true';

function planLimitsText(limits) {
  if (!limits) return '';
  const mon = { none: 'no monitoring', metrics: 'metrics charts', full: 'metrics and learned-index health' }[limits.monitoring] || limits.monitoring;
  const parts = [
    `${limits.max_connections} connections`,
    mon,
    limits.pause_when_idle_s ? `pauses after ${Math.round(limits.pause_when_idle_s / 60)} min idle` : 'never pauses',
    `up to ${limits.max_databases} databases`,
  ];
  return parts.join(' · ');
}

let plansCache = null;
async function loadPlans() {
  if (!plansCache) {
    plansCache = rawFetch('GET', '/v1/plans').then((r) => r.plans).catch((e) => { plansCache = null; throw e; });
  }
  return plansCache;
}

// ---------------------------------------------------------------------------------------------------------
// Log in and sign up

function authPage(ctx, msg, mode) {
  const signup = mode === 'signup';
  const email = field({ label: 'Email', name: 'email', type: 'email', autocomplete: 'email', attrs: { required: true, spellcheck: 'false', autocapitalize: 'none' } });
  const pass = field({
    label: 'Password', name: 'password', type: 'password',
    autocomplete: signup ? 'new-password' : 'current-password',
    hint: signup ? 'At least 10 characters; not your email, not only digits.' : null,
    attrs: { required: true },
  });
  const show = h('input', { type: 'checkbox', id: nextId('show') });
  show.addEventListener('change', () => { pass.input.type = show.checked ? 'text' : 'password'; });
  const formErr = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-wide' }, signup ? 'Create account' : 'Log in');
  const form = h('form', { novalidate: true, class: 'card auth-card' },
    flashBox(msg),
    email.wrap, pass.wrap,
    h('div', { class: 'check' }, show, h('label', { for: show.id }, 'Show password')),
    formErr, submit);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    email.setError(null); pass.setError(null); formErr.textContent = '';
    const body = { email: email.input.value.trim(), password: pass.input.value };
    let bad = false;
    if (!body.email) { email.setError('Enter your email address.'); bad = true; }
    if (!body.password) { pass.setError('Enter your password.'); bad = true; }
    if (bad) { (body.email ? pass.input : email.input).focus(); return; }
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const r = await rawFetch('POST', signup ? '/v1/auth/signup' : '/v1/auth/login', body);
      setTokens(r.tokens);
      session.me = r.account || null;
      const next = session.next && session.next !== '/login' && session.next !== '/signup' ? session.next : '/databases';
      session.next = null;
      navigate(next, { replace: true });
      announce(signup ? 'Account created. Welcome to OmenDB Cloud.' : 'Logged in.');
    } catch (err) {
      if (!ctx.alive()) return;
      let focus = null;
      if (err.fields.length) {
        for (const f of err.fields) {
          const msg = f.field === 'email' && /exists/.test(f.message)
            ? ['An account with this email already exists. ', h('a', { href: '/login' }, 'Log in instead'), '.']
            : sentence(f.field, f.message);
          if (f.field === 'email') { email.setError(msg); focus = focus || email.input; }
          else if (f.field === 'password') { pass.setError(msg); focus = focus || pass.input; }
          else formErr.textContent = sentence(f.field, f.message);
        }
      } else if (err.status === 401) {
        pass.setError('The email or password is wrong.');
        focus = pass.input;
      } else {
        formErr.textContent = errorText(err);
      }
      if (focus) focus.focus();
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });

  return h('section', { class: 'page auth' },
    h('div', { class: 'auth-brand' }, h('img', { src: '/favicon.svg', alt: '', width: '40', height: '40' }), h('span', {}, 'OmenDB Cloud')),
    h('h1', { tabindex: '-1' }, signup ? 'Create your account' : 'Log in'),
    form,
    h('p', { class: 'switch' }, signup
      ? ['Already have an account? ', h('a', { href: '/login' }, 'Log in')]
      : ['New to OmenDB Cloud? ', h('a', { href: '/signup' }, 'Create an account')]));
}

/** "password" + "must be at least 10 characters" -> "Password must be at least 10 characters." */
function sentence(fieldName, msg) {
  const f = fieldName.replace(/_/g, ' ');
  return `${f[0].toUpperCase()}${f.slice(1)} ${msg}${/[.!?]$/.test(msg) ? '' : '.'}`;
}

function pageLogin(ctx, _args, msg) { return authPage(ctx, msg, 'login'); }
function pageSignup(ctx, _args, msg) { return authPage(ctx, msg, 'signup'); }

// ---------------------------------------------------------------------------------------------------------
// Databases

function pageDatabases(ctx, _args, msg) {
  const body = h('div', { 'aria-busy': 'true' }, h('p', { class: 'loading', role: 'status' }, 'Loading databases…'));
  const known = new Map();
  let lastGood = 0;

  const rowFor = (db) => h('tr', { 'data-id': db.id, 'data-name': db.name },
    h('th', { scope: 'row', 'data-label': 'Name' }, h('a', { href: `/databases/${db.id}` }, db.name)),
    h('td', { 'data-label': 'Plan' }, h('span', { class: 'plan' }, db.plan)),
    h('td', { 'data-label': 'State' }, badge(db.state),
      db.state === 'failed' && db.state_reason ? h('span', { class: 'reason' }, db.state_reason) : null),
    h('td', { 'data-label': 'Created' }, timeEl(db.created_at)));

  const draw = (dbs) => {
    if (!dbs.length) {
      put(body, h('div', { class: 'empty' },
        h('h2', {}, 'No databases yet'),
        h('p', {}, 'Create a PostgreSQL-compatible database in seconds, then connect with psql or any Postgres driver.'),
        h('a', { class: 'btn btn-primary', href: '/databases/new' }, 'Create your first database')));
      return;
    }
    put(body, h('table', { class: 'table db-table' },
      h('caption', { class: 'sr-only' }, 'Your databases'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Plan'),
        h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Created'))),
      h('tbody', {}, dbs.map(rowFor))));
  };

  ctx.loop(async () => {
    try {
      const { databases } = await api('GET', '/v1/databases');
      if (!ctx.alive()) return 0;
      body.removeAttribute('aria-busy');
      // Announce state changes of databases already shown.
      for (const db of databases) {
        const old = known.get(db.id);
        if (old && old !== db.state) announce(`${db.name} is now ${STATE_TEXT[db.state] || db.state}.`);
        known.set(db.id, db.state);
      }
      for (const id of known.keys()) if (!databases.some((d) => d.id === id)) known.delete(id);
      draw(databases);
      lastGood = Date.now();
      return databases.some((d) => TRANSITIONAL.has(d.state) || d.state === 'failed') ? 1500 : 10000;
    } catch (e) {
      if (!ctx.alive() || e instanceof SessionEnded) return 0;
      body.removeAttribute('aria-busy');
      if (!lastGood) {
        put(body, h('div', { class: 'error-box', role: 'alert' },
          h('p', {}, `Could not load your databases: ${e.message}`),
          h('button', { type: 'button', class: 'btn', onclick: () => render() }, 'Try again')));
        return 0;
      }
      return 5000;
    }
  }, 10000);

  return h('section', { class: 'page' },
    h('div', { class: 'page-head' },
      h('h1', { tabindex: '-1' }, 'Databases'),
      h('a', { class: 'btn btn-primary', href: '/databases/new' }, 'Create database')),
    flashBox(msg),
    body);
}

const NAME_RE = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The server's DNS-label rule, with its messages. */
function checkName(name) {
  if (!name) return 'Name must not be empty.';
  if (name.length > 63) return 'Name must be at most 63 characters.';
  if (!/^[a-z0-9-]*$/.test(name)) return 'Name may contain only lower-case letters, digits and hyphens.';
  if (!/^[a-z]/.test(name)) return 'Name must start with a lower-case letter.';
  if (name.endsWith('-')) return 'Name must not end with a hyphen.';
  return NAME_RE.test(name) ? null : 'Name is not a valid DNS label.';
}

function planPicker(name, selected) {
  const legendId = nextId('plan-legend');
  const opts = ['free', 'pro', 'enterprise'].map((p) => {
    const id = nextId('plan-' + p);
    const desc = h('span', { class: 'plan-desc', id: id + '-desc' }, {
      free: 'For trying things out.', pro: 'For production, with metrics.', enterprise: 'With learned-index health per table.',
    }[p]);
    const input = h('input', { type: 'radio', name, id, value: p });
    if (p === selected) input.checked = true;
    return { p, desc, el: h('div', { class: 'plan-option' }, input, h('label', { for: id }, h('span', { class: 'plan-name' }, p), desc)) };
  });
  const fs = h('fieldset', { class: 'plans' }, h('legend', { id: legendId }, 'Plan'), h('div', { class: 'plan-grid' }, opts.map((o) => o.el)));
  loadPlans().then((plans) => {
    for (const o of opts) {
      const pl = plans.find((x) => x.name === o.p);
      if (pl) o.desc.textContent = planLimitsText(pl.limits);
    }
  }).catch(() => {});
  return { fs, value: () => (fs.querySelector('input:checked') || {}).value };
}

function pageCreate(ctx) {
  const nameF = field({
    label: 'Name', name: 'name', hint: 'Lower-case letters, digits and hyphens; starts with a letter. It becomes the database name.',
    attrs: { required: true, maxlength: '63', spellcheck: 'false', autocapitalize: 'none', autocomplete: 'off', pattern: NAME_RE.source },
  });
  const plan = planPicker('plan', 'free');
  const formErr = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create database');
  let touched = false;
  const validate = (final) => {
    const v = nameF.input.value;
    const msg = checkName(v);
    if (!v && !final && !touched) { nameF.setError(null); return msg; }
    nameF.setError(msg);
    return msg;
  };
  nameF.input.addEventListener('input', () => { touched = true; validate(false); });
  nameF.input.addEventListener('blur', () => { if (touched) validate(true); });

  const form = h('form', { novalidate: true, class: 'card' }, nameF.wrap, plan.fs, formErr,
    h('div', { class: 'form-actions' }, submit, h('a', { class: 'btn', href: '/databases' }, 'Cancel')));
  const page = h('section', { class: 'page narrow' }, h('h1', { tabindex: '-1' }, 'Create a database'), form);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    formErr.textContent = '';
    if (validate(true)) { nameF.input.focus(); return; }
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const r = await api('POST', '/v1/databases', { name: nameF.input.value, plan: plan.value() });
      if (!ctx.alive()) return;
      showCreated(ctx, page, r);
    } catch (err) {
      if (!ctx.alive() || err instanceof SessionEnded) return;
      if (err.fields.length) {
        for (const f of err.fields) {
          if (f.field === 'name') nameF.setError(sentence('name', f.message));
          else formErr.textContent = sentence(f.field, f.message);
        }
        nameF.input.focus();
      } else if (err.code === 'conflict') {
        nameF.setError(`You already have a database named “${nameF.input.value}”. Choose another name.`);
        nameF.input.focus();
      } else if (err.code === 'quota_exceeded') {
        formErr.textContent = `Quota reached: ${err.message}`;
      } else if (err.code === 'payment_required') {
        put(formErr, errorContent(err));
      } else {
        formErr.textContent = errorText(err);
      }
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  return page;
}

function showCreated(ctx, page, r) {
  const db = r.database;
  const stateSlot = h('span', {}, badge(db.state));
  const { panel, heading } = secretPanel({
    title: `${db.name} is on its way`,
    warning: 'Copy the password now and keep it somewhere safe: OmenDB Cloud stores only a hash of it and cannot show it again. If you lose it, reset it from the database page.',
    items: [
      h('p', { class: 'state-line' }, 'State: ', stateSlot),
      copyBlock('Password', r.password, { secret: true }),
      copyBlock('Connection string', r.connection_string),
      copyBlock('psql command', psqlCommand(r.connection_string)),
    ],
  });
  put(page, h('h1', { tabindex: '-1' }, 'Database created'), panel,
    h('div', { class: 'form-actions' },
      h('a', { class: 'btn btn-primary', href: `/databases/${db.id}` }, `I have saved the password — open ${db.name}`),
      h('a', { class: 'btn', href: '/databases' }, 'Back to databases')));
  heading.focus();
  announce(`Database ${db.name} created. The password is shown once.`);
  let last = db.state;
  ctx.loop(async () => {
    const d = await api('GET', `/v1/databases/${db.id}`);
    if (!ctx.alive()) return 0;
    if (d.state !== last) {
      last = d.state;
      put(stateSlot, badge(d.state));
      announce(`${d.name} is now ${STATE_TEXT[d.state] || d.state}.`);
    }
    return TRANSITIONAL.has(d.state) ? 1000 : 0;
  }, 1000);
}

// ---------------------------------------------------------------------------------------------------------
// One database

const metricsHistory = new Map(); // id -> [{t, series: Map(name -> [{labels, v}])}]
const HISTORY_MS = 3 * 60 * 1000;

function parseSeries(obj) {
  const m = new Map();
  for (const [key, v] of Object.entries(obj || {})) {
    const i = key.indexOf('{');
    const name = i < 0 ? key : key.slice(0, i);
    const labels = {};
    if (i >= 0) {
      for (const x of key.slice(i + 1, -1).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[x[1]] = x[2].replace(/\\(.)/g, '$1');
    }
    if (!m.has(name)) m.set(name, []);
    m.get(name).push({ labels, v });
  }
  return m;
}

function total(sample, name) {
  const xs = sample.series.get(name);
  return xs ? xs.reduce((a, x) => a + x.v, 0) : null;
}
function byLabel(sample, name, label) {
  const out = {};
  for (const x of sample.series.get(name) || []) {
    const k = x.labels[label] || '';
    out[k] = (out[k] || 0) + x.v;
  }
  return out;
}

/** Per-second rate of a counter between two samples; null after a restart (counter went down). */
function rate(a, b, va, vb) {
  const dt = (b.t - a.t) / 1000;
  if (va === null || vb === null || va === undefined || vb === undefined || dt <= 0 || vb < va) return null;
  return (vb - va) / dt;
}

function pageDatabase(ctx, [id], msg) {
  const page = h('section', { class: 'page' }, h('h1', { tabindex: '-1' }, 'Database'),
    h('p', { class: 'loading', role: 'status' }, 'Loading the database…'));
  let db = null;
  let p = null; // the page's parts, once the database is loaded
  let pending = false;
  let shownState = '';
  let shownConn = '';

  const build = () => {
    const headState = h('div', { class: 'head-state' });
    const head = h('div', { class: 'page-head' },
      h('div', {}, h('p', { class: 'crumbs' }, h('a', { href: '/databases' }, 'Databases'), ' /'),
        h('h1', { tabindex: '-1' }, db.name)),
      headState);
    const stateMsg = h('p', { class: 'sr-only', role: 'status' });
    const secretSlot = h('div');
    const actionMsg = h('p', { class: 'action-msg', role: 'status' });
    const actionErr = h('p', { class: 'form-error', role: 'alert' });
    const conn = h('section', { class: 'card', 'aria-labelledby': 'conn-h' });
    const pauseBtn = h('button', { type: 'button', class: 'btn', id: 'pause-btn' }, 'Pause');
    const planSel = h('select', { id: 'plan-select', 'aria-describedby': 'plan-hint' },
      ['free', 'pro', 'enterprise'].map((x) => h('option', { value: x }, x)));
    const planBtn = h('button', { type: 'button', class: 'btn' }, 'Change plan');
    const resetBtn = h('button', { type: 'button', class: 'btn' }, 'Reset password…');
    const deleteBtn = h('button', { type: 'button', class: 'btn btn-danger' }, 'Delete database…');
    const manage = h('section', { class: 'card', 'aria-labelledby': 'manage-h' },
      h('h2', { id: 'manage-h' }, 'Manage'),
      h('div', { class: 'manage-grid' },
        h('div', { class: 'manage-item' }, h('h3', {}, 'Pause or resume'),
          h('p', { class: 'hint' }, 'A paused database keeps its data and accepts no connections.'), pauseBtn),
        h('div', { class: 'manage-item' }, h('h3', {}, h('label', { for: 'plan-select' }, 'Plan')),
          h('p', { class: 'hint', id: 'plan-hint' }, 'A running database restarts with the new limits.'),
          h('div', { class: 'inline' }, planSel, planBtn)),
        h('div', { class: 'manage-item' }, h('h3', {}, 'Password'),
          h('p', { class: 'hint' }, 'Issue a new password; the old one stops working.'), resetBtn),
        h('div', { class: 'manage-item danger-zone' }, h('h3', {}, 'Delete'),
          h('p', { class: 'hint' }, 'Deletes the database and all its data.'), deleteBtn)),
      actionMsg, actionErr);
    const monBody = h('div', { class: 'charts-wrap' });
    const mon = h('section', { class: 'card', 'aria-labelledby': 'mon-h' }, h('h2', { id: 'mon-h' }, 'Monitoring'), monBody);
    put(page, head, stateMsg, flashBox(msg), secretSlot, conn, manage, mon);
    return { headState, stateMsg, secretSlot, conn, pauseBtn, planSel, planBtn, resetBtn, deleteBtn, actionMsg, actionErr, monBody };
  };

  const update = () => {
    if (shownState !== db.state + '/' + db.plan + '/' + (db.state_reason || '')) {
      const announceIt = shownState && !shownState.startsWith(db.state + '/');
      shownState = db.state + '/' + db.plan + '/' + (db.state_reason || '');
      put(p.headState, badge(db.state), h('span', { class: 'plan' }, `Plan: ${db.plan}`),
        db.state === 'failed' && db.state_reason ? h('span', { class: 'reason' }, db.state_reason) : null);
      if (announceIt) p.stateMsg.textContent = `${db.name} is now ${STATE_TEXT[db.state] || db.state}.`;
    }
    if (shownConn !== db.connection_string) {
      shownConn = db.connection_string;
      put(p.conn, h('h2', { id: 'conn-h' }, 'Connect'),
        h('dl', { class: 'facts' },
          h('div', {}, h('dt', {}, 'Host'), h('dd', {}, db.host)),
          h('div', {}, h('dt', {}, 'Port'), h('dd', {}, String(db.port))),
          h('div', {}, h('dt', {}, 'Database'), h('dd', {}, db.database)),
          h('div', {}, h('dt', {}, 'User'), h('dd', {}, db.user)),
          h('div', {}, h('dt', {}, 'Created'), h('dd', {}, timeEl(db.created_at, 'date')))),
        copyBlock('Connection string', db.connection_string),
        copyBlock('psql command', psqlCommand(db.connection_string)),
        h('p', { class: 'hint' }, 'psql asks for the password, shown once when the database was created; lost it? Reset it under Manage. TLS is required, and clients verify the server (sslmode=verify-full). On another machine, ',
          h('a', { href: '/v1/ca-certificate', download: 'omendb-ca.pem', class: 'ca-link' }, 'download the CA certificate'),
          ' and point sslrootcert at it.'));
    }
    const deleting = db.state === 'deleting';
    const paused = db.state === 'paused' || db.state === 'pausing';
    p.pauseBtn.textContent = paused ? 'Resume' : 'Pause';
    setOff(p.pauseBtn, pending || deleting || db.state === 'pausing' || db.state === 'resuming');
    p.planSel.disabled = deleting;
    if (!p.planSel.dataset.dirty) p.planSel.value = db.plan;
    setOff(p.planBtn, pending || deleting || p.planSel.value === db.plan);
    setOff(p.resetBtn, pending || deleting);
    setOff(p.deleteBtn, pending || deleting);
  };

  /** Runs an action; its result or error shows under Manage. */
  const act = async (fn, okMsg) => {
    p.actionErr.textContent = '';
    p.actionMsg.textContent = '';
    pending = true;
    update();
    try {
      const r = await fn();
      if (ctx.alive() && okMsg) p.actionMsg.textContent = okMsg;
      return r;
    } catch (e) {
      if (ctx.alive() && !(e instanceof SessionEnded)) put(p.actionErr, errorContent(e));
      return null;
    } finally {
      pending = false;
      if (ctx.alive()) update();
    }
  };

  const load = async () => {
    try {
      const d = await api('GET', `/v1/databases/${id}`);
      if (!ctx.alive()) return 0;
      const first = !db;
      db = d;
      if (first) {
        document.title = `${db.name} · OmenDB Cloud`;
        p = build();
        wire();
        startMetrics();
        if (!firstRender) page.querySelector('h1').focus();
      }
      update();
      return TRANSITIONAL.has(db.state) || db.state === 'failed' ? 1000 : 5000;
    } catch (e) {
      if (!ctx.alive() || e instanceof SessionEnded) return 0;
      if (e.status === 404) {
        put(page, h('h1', { tabindex: '-1' }, db ? db.name : 'Database not found'),
          h('p', { role: 'status' }, db ? 'This database has been deleted.' : 'There is no such database in your organisation.'),
          h('a', { class: 'btn', href: '/databases' }, 'Back to databases'));
        return 0;
      }
      if (!db) {
        put(page, pageError(e, () => render()));
        return 0;
      }
      return 5000;
    }
  };
  const poller = ctx.loop(load, 5000);

  const wire = () => {
    p.planSel.addEventListener('change', () => {
      p.planSel.dataset.dirty = p.planSel.value === db.plan ? '' : '1';
      update();
    });
    p.pauseBtn.addEventListener('click', async () => {
      if (isOff(p.pauseBtn)) return;
      const resume = db.state === 'paused' || db.state === 'pausing';
      const r = await act(() => api('POST', `/v1/databases/${id}/${resume ? 'resume' : 'pause'}`),
        resume ? `Resuming ${db.name}…` : `Pausing ${db.name}…`);
      if (r) { db = r; update(); poller.kick(); }
    });
    p.planBtn.addEventListener('click', async () => {
      if (isOff(p.planBtn)) return;
      const plan = p.planSel.value;
      const r = await act(() => api('PATCH', `/v1/databases/${id}`, { plan }),
        `Plan changed to ${plan}. A running database restarts with the new limits.`);
      if (r) { p.planSel.dataset.dirty = ''; db = r; update(); poller.kick(); drawMonitoring(); }
    });
    p.resetBtn.addEventListener('click', async () => {
      if (isOff(p.resetBtn)) return;
      const ok = await confirmDialog({
        title: `Reset the password of ${db.name}?`,
        text: 'A new password is issued and shown once. The current password stops working at once, and a running database restarts, closing open connections.',
        confirm: 'Reset password',
      });
      if (!ok || !ctx.alive()) return;
      const r = await act(() => api('POST', `/v1/databases/${id}/reset-password`), 'The password has been reset.');
      if (!r) return;
      db = r.database;
      update();
      poller.kick();
      const { panel, heading } = secretPanel({
        title: 'New password',
        warning: 'Copy it now: it cannot be shown again. The old password no longer works.',
        items: [copyBlock('Password', r.password, { secret: true }),
          copyBlock('Connection string', r.connection_string),
          copyBlock('psql command', psqlCommand(r.connection_string))],
        doneLabel: 'I have saved it — hide the password',
        onDone: () => { put(p.secretSlot); p.resetBtn.focus(); },
      });
      put(p.secretSlot, panel);
      heading.focus();
    });
    p.deleteBtn.addEventListener('click', () => { if (!isOff(p.deleteBtn)) deleteDialog(); });
  };

  const deleteDialog = () => {
    const nameF = field({
      label: `Type ${db.name} to confirm`, name: 'confirm-name',
      attrs: { autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', autofocus: true },
    });
    const err = h('p', { class: 'form-error', role: 'alert' });
    const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
    const del = h('button', { type: 'submit', class: 'btn btn-danger', form: 'delete-form' }, 'Delete database');
    setOff(del, true);
    const textId = nextId('del-text');
    const form = h('form', { id: 'delete-form', novalidate: true },
      h('p', { id: textId }, 'This deletes ', h('strong', {}, db.name), ' and all its data. It cannot be undone.'), nameF.wrap, err);
    const d = openDialog({ title: `Delete ${db.name}?`, body: form, actions: [cancel, del], label: textId });
    cancel.addEventListener('click', () => d.close());
    nameF.input.addEventListener('input', () => { setOff(del, nameF.input.value !== db.name); nameF.setError(null); });
    let busy = false;
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (busy) return;
      if (nameF.input.value !== db.name) {
        nameF.setError(`Type ${db.name} exactly to delete it.`);
        nameF.input.focus();
        return;
      }
      busy = true;
      try {
        await api('DELETE', `/v1/databases/${id}`);
        const name = db.name;
        d.close();
        navigate('/databases', { flash: `${name} is being deleted.` });
      } catch (e2) {
        if (e2 instanceof SessionEnded) { d.close(); return; }
        err.textContent = errorText(e2);
      } finally {
        busy = false;
      }
    });
  };

  // Monitoring: a sample every 2 s while the page is shown and the plan has monitoring.
  let charts = null;
  let monNote = '';
  const drawMonitoring = () => {
    if (!p) return;
    const body = p.monBody;
    const note = (key, text, extra) => {
      if (monNote === key) return;
      monNote = key;
      charts = null;
      put(body, h('p', { class: 'note' }, text), extra);
    };
    if (db.plan === 'free') {
      note('free', 'Monitoring comes with the pro plan: charts of queries per second, latency, rows and storage. Enterprise adds learned-index health for every table. Change the plan under Manage to turn it on.');
      return;
    }
    const hist = metricsHistory.get(id) || [];
    if (db.state !== 'ready' && hist.length < 2) {
      note('wait-' + db.state, db.state === 'paused' || db.state === 'pausing'
        ? 'The database is paused; charts appear while it runs.' : 'Charts appear when the database is ready.');
      return;
    }
    if (!charts) {
      monNote = 'charts';
      charts = h('div', { class: 'charts' });
      put(body, h('p', { class: 'hint' }, 'Sampled every 2 seconds; the last 3 minutes, kept in this tab.'), charts);
    }
    drawCharts(charts, hist);
  };

  const startMetrics = () => {
    drawMonitoring();
    ctx.loop(async () => {
      if (db.plan === 'free' || db.state !== 'ready') { drawMonitoring(); return 2000; }
      try {
        const m = await api('GET', `/v1/databases/${id}/metrics`);
        if (!ctx.alive()) return 0;
        const hist = metricsHistory.get(id) || [];
        hist.push({ t: m.at_ms, monitoring: m.monitoring, series: parseSeries(m.series) });
        while (hist.length && hist[0].t < m.at_ms - HISTORY_MS) hist.shift();
        metricsHistory.set(id, hist);
      } catch (e) {
        if (e instanceof SessionEnded) return 0;
        // 409 while restarting or paused: the state poll catches up.
      }
      if (ctx.alive()) drawMonitoring();
      return 2000;
    }, 2000);
    let width = 0;
    const ro = new ResizeObserver(() => {
      if (page.clientWidth === width) return;
      width = page.clientWidth;
      if (charts && ctx.alive()) drawCharts(charts, metricsHistory.get(id) || []);
    });
    ro.observe(page);
    ctx.signal.addEventListener('abort', () => ro.disconnect());
  };

  return page;
}

// ---------------------------------------------------------------------------------------------------------
// Charts: inline SVG line charts, drawn with DOM APIs

const PALETTE = 8;

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * One chart: {key, title, unit, fmt, series: [{name, points: [[t, v|null]]}]}. Charts are kept by key in
 * `box` and redrawn in place, so the page does not jump.
 */
/** The plot area of a 150 px high chart as wide as its box, with `padL` px for the value axis labels. */
function chartFrame(svgBox, padL) {
  const W = Math.max(200, Math.round(svgBox.clientWidth || 320));
  const H = 150;
  const padR = 8;
  const padT = 8;
  const padB = 20;
  return { W, H, padL, padR, padT, padB, pw: W - padL - padR, ph: H - padT - padB };
}

function drawChart(box, spec, t0, t1) {
  let fig = box.querySelector(`figure[data-key="${spec.key}"]`);
  if (!fig) {
    const capId = nextId('cap');
    fig = h('figure', { class: 'chart', 'data-key': spec.key },
      h('figcaption', { id: capId }, h('span', { class: 'chart-title' }, spec.title), h('span', { class: 'chart-now' })),
      h('div', { class: 'chart-svg' }),
      h('ul', { class: 'legend' }));
    fig.dataset.cap = capId;
    box.append(fig);
  }
  const svgBox = fig.querySelector('.chart-svg');
  const { W, H, padL, padR, padT, padB, pw, ph } = chartFrame(svgBox, 52);
  let max = 0;
  for (const sr of spec.series) for (const [, v] of sr.points) if (v !== null && v > max) max = v;
  const top = Math.max(niceMax(max), spec.minTop || 0);
  const x = (t) => padL + ((t - t0) / Math.max(1, t1 - t0)) * pw;
  const y = (v) => padT + ph - (v / top) * ph;

  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-labelledby': fig.dataset.cap, class: 'chart-plot' });
  const grid = s('g', { class: 'grid' });
  for (const f of [0, 0.5, 1]) {
    const yy = y(top * f);
    grid.append(s('line', { x1: padL, x2: W - padR, y1: yy, y2: yy }),
      s('text', { x: padL - 6, y: yy + 4, 'text-anchor': 'end' }, spec.fmt(top * f)));
  }
  const span = (t1 - t0) / 1000;
  grid.append(s('text', { x: padL, y: H - 4 }, span < 120 ? `${Math.round(span)} s ago` : `${Math.round(span / 60)} min ago`),
    s('text', { x: W - padR, y: H - 4, 'text-anchor': 'end' }, 'now'));
  svg.append(grid);

  const enough = spec.series.some((sr) => sr.points.filter((p) => p[1] !== null).length >= 1);
  if (!enough) {
    svg.append(s('text', { x: padL + pw / 2, y: padT + ph / 2, 'text-anchor': 'middle', class: 'chart-empty' }, 'Collecting data…'));
  }
  spec.series.forEach((sr, i) => {
    let d = '';
    let pen = false;
    let lastPt = null;
    for (const [t, v] of sr.points) {
      if (v === null) { pen = false; continue; }
      d += `${pen ? 'L' : 'M'}${x(t).toFixed(1)} ${y(v).toFixed(1)} `;
      pen = true;
      lastPt = [t, v];
    }
    const c = `c${(sr.color ?? i) % PALETTE}`;
    if (d) svg.append(s('path', { d: d.trim(), class: `line ${c}` }));
    if (lastPt) svg.append(s('circle', { cx: x(lastPt[0]), cy: y(lastPt[1]), r: 3, class: `pt ${c}` }));
  });
  put(svgBox, svg);

  // Legend and the latest values, which double as the text alternative.
  const latest = (sr) => { for (let i = sr.points.length - 1; i >= 0; i--) if (sr.points[i][1] !== null) return sr.points[i][1]; return null; };
  const legend = fig.querySelector('.legend');
  put(legend, ...spec.series.map((sr, i) => h('li', {},
    h('span', { class: `swatch c${(sr.color ?? i) % PALETTE}`, 'aria-hidden': 'true' }),
    h('span', { class: 'legend-name' }, sr.name), ' ', h('span', { class: 'legend-val' }, spec.fmt(latest(sr))))));
  const now = fig.querySelector('.chart-now');
  if (spec.series.length === 1) now.textContent = ` — now ${spec.fmt(latest(spec.series[0]))}`;
  else if (spec.totalNow !== undefined) now.textContent = ` — now ${spec.fmt(spec.totalNow)}`;
  else now.textContent = '';
  return fig;
}

const KIND_ORDER = ['select', 'insert', 'update', 'delete', 'ddl', 'copy', 'transaction', 'other'];

function drawCharts(box, hist) {
  const now = hist.length ? hist[hist.length - 1].t : Date.now();
  const t1 = now;
  // From the first sample (at least a minute back) up to the 3 minutes kept.
  const t0 = Math.max(now - HISTORY_MS, Math.min(hist.length ? hist[0].t : now, now - 60_000));
  const pairs = [];
  for (let i = 1; i < hist.length; i++) pairs.push([hist[i - 1], hist[i]]);
  const keep = new Set();
  const chart = (spec) => { keep.add(spec.key); drawChart(box, spec, t0, t1); };
  const suffix = (fmt, unit) => (v) => (v === null ? '–' : fmt(v) + unit);

  // Queries per second by kind.
  const kinds = new Set();
  for (const smp of hist) for (const k of Object.keys(byLabel(smp, 'omendb_queries_total', 'kind'))) kinds.add(k);
  const kindList = [...kinds].sort((a, b) => (KIND_ORDER.indexOf(a) + 99 * (KIND_ORDER.indexOf(a) < 0)) - (KIND_ORDER.indexOf(b) + 99 * (KIND_ORDER.indexOf(b) < 0)) || a.localeCompare(b));
  const qSeries = kindList.length ? kindList.map((k) => ({
    name: k,
    color: KIND_ORDER.indexOf(k) >= 0 ? KIND_ORDER.indexOf(k) : undefined,
    points: pairs.map(([a, b]) => [b.t, rate(a, b, byLabel(a, 'omendb_queries_total', 'kind')[k] ?? 0, byLabel(b, 'omendb_queries_total', 'kind')[k] ?? 0)]),
  })) : [{ name: 'all', points: pairs.map(([a, b]) => [b.t, rate(a, b, total(a, 'omendb_queries_total') ?? 0, total(b, 'omendb_queries_total') ?? 0)]) }];
  const lastPair = pairs[pairs.length - 1];
  chart({
    key: 'qps', title: 'Queries per second', fmt: suffix(fmtNum, '/s'), series: qSeries,
    totalNow: lastPair ? rate(lastPair[0], lastPair[1], total(lastPair[0], 'omendb_queries_total') ?? 0, total(lastPair[1], 'omendb_queries_total') ?? 0) : null,
  });

  // Mean latency: growth of the duration sum over growth of the count.
  chart({
    key: 'lat', title: 'Mean query latency', fmt: fmtMs,
    series: [{
      name: 'mean', points: pairs.map(([a, b]) => {
        const dc = (total(b, 'omendb_query_duration_seconds_count') ?? 0) - (total(a, 'omendb_query_duration_seconds_count') ?? 0);
        const ds = (total(b, 'omendb_query_duration_seconds_sum') ?? 0) - (total(a, 'omendb_query_duration_seconds_sum') ?? 0);
        return [b.t, dc > 0 && ds >= 0 ? (ds / dc) * 1000 : null];
      }),
    }],
  });

  // Rows written and returned per second.
  chart({
    key: 'rows', title: 'Rows per second', fmt: suffix(fmtNum, '/s'),
    series: [
      { name: 'written', color: 1, points: pairs.map(([a, b]) => [b.t, rate(a, b, total(a, 'omendb_rows_written_total') ?? 0, total(b, 'omendb_rows_written_total') ?? 0)]) },
      { name: 'returned', color: 0, points: pairs.map(([a, b]) => [b.t, rate(a, b, total(a, 'omendb_rows_returned_total') ?? 0, total(b, 'omendb_rows_returned_total') ?? 0)]) },
    ],
  });

  chart({ key: 'storage', title: 'Storage', fmt: fmtBytes, minTop: 1024, series: [{ name: 'storage', color: 4, points: hist.map((x) => [x.t, total(x, 'omendb_storage_bytes')]) }] });
  chart({ key: 'conns', title: 'Open connections', fmt: (v) => fmtNum(v), series: [{ name: 'connections', color: 5, points: hist.map((x) => [x.t, total(x, 'omendb_connections')]) }] });

  // Learned-index health per table (full monitoring).
  const full = hist.length && hist[hist.length - 1].monitoring === 'full';
  let healthBox = box.parentElement.querySelector('.health');
  if (full) {
    if (!healthBox) {
      healthBox = h('div', { class: 'health' }, h('h3', {}, 'Learned-index health per table'),
        h('p', { class: 'hint' }, 'Rows, index size, segments, tombstones (deleted rows not yet compacted) and retrains of each table’s learned index.'),
        h('div', { class: 'charts' }));
      box.after(healthBox);
    }
    const hb = healthBox.querySelector('.charts');
    const last = hist[hist.length - 1];
    const rowsNow = byLabel(last, 'omendb_table_rows', 'table');
    const tables = Object.keys(rowsNow).sort((a, b) => rowsNow[b] - rowsNow[a] || a.localeCompare(b)).slice(0, PALETTE);
    const hkeep = new Set();
    const perTable = (key, title, metric, fmt) => {
      hkeep.add(key);
      drawChart(hb, {
        key, title, fmt,
        series: tables.length ? tables.map((tb, i) => ({ name: tb, color: i, points: hist.map((x) => [x.t, byLabel(x, metric, 'table')[tb] ?? null]) })) : [],
      }, t0, t1);
    };
    if (!tables.length) {
      put(hb, h('p', { class: 'note' }, 'No tables yet. Create one to see its learned index here.'));
    } else {
      const note = hb.querySelector('p.note');
      if (note) note.remove();
      perTable('t-rows', 'Rows', 'omendb_table_rows', fmtNum);
      perTable('t-index', 'Index size', 'omendb_table_index_bytes', fmtBytes);
      perTable('t-seg', 'Segments', 'omendb_table_segments', fmtNum);
      perTable('t-tomb', 'Tombstones', 'omendb_table_tombstones', fmtNum);
      perTable('t-retrain', 'Retrains', 'omendb_table_retrains', fmtNum);
      for (const f of hb.querySelectorAll('figure')) if (!hkeep.has(f.dataset.key)) f.remove();
    }
  } else if (healthBox) {
    healthBox.remove();
  }
  for (const f of box.querySelectorAll(':scope > figure')) if (!keep.has(f.dataset.key)) f.remove();
}

// ---------------------------------------------------------------------------------------------------------
// API keys

const SCOPES = [
  ['read', 'Read', 'see databases, keys, the audit log and billing'],
  ['databases:write', 'Manage databases', 'create, change, pause, resume, reset and delete'],
  ['billing', 'Billing', 'start a checkout, open the billing portal'],
  ['keys', 'API keys', 'create and revoke keys (never stronger than itself)'],
];
const EXPIRIES = [['', 'Never'], ['30', 'In 30 days'], ['90', 'In 90 days'], ['365', 'In a year']];

function pageApiKeys(ctx, _args, msg) {
  const nameF = field({ label: 'Key name', name: 'key-name', hint: 'What uses it, e.g. "CI deploys".', attrs: { required: true, maxlength: '64', autocomplete: 'off' } });
  const scopeErr = h('p', { class: 'field-error', id: nextId('scopes-error'), 'aria-live': 'polite' });
  const boxes = SCOPES.map(([value, label, hint]) => {
    const id = nextId('scope');
    const input = h('input', { type: 'checkbox', id, name: 'scope', value });
    if (value === 'read' || value === 'databases:write') input.checked = true;
    return { input, el: h('div', { class: 'check' }, input, ' ', h('label', { for: id }, h('strong', {}, label), ` — ${hint}`)) };
  });
  const scopes = h('fieldset', { class: 'plans scopes', 'aria-describedby': scopeErr.id }, h('legend', {}, 'What it may do'), boxes.map((b) => b.el), scopeErr);
  const expiryId = nextId('expiry');
  const expiry = h('select', { id: expiryId, name: 'expiry' }, EXPIRIES.map(([v, l]) => h('option', { value: v }, l)));
  const expiryF = h('div', { class: 'field' }, h('label', { for: expiryId }, 'Expires'), expiry);
  const formErr = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create key');
  const form = h('form', { novalidate: true, class: 'card inline-form' }, h('h2', {}, 'Create an API key'), nameF.wrap, scopes, expiryF, formErr, submit);
  const secretSlot = h('div');
  const listStatus = h('p', { class: 'sr-only', role: 'status' });
  const list = h('div', { 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading keys…'));

  const load = async () => {
    try {
      const { api_keys: keys } = await api('GET', '/v1/api-keys');
      if (!ctx.alive()) return;
      list.removeAttribute('aria-busy');
      if (!keys.length) {
        put(list, h('p', { class: 'empty' }, 'No API keys yet.'));
        return;
      }
      put(list, h('table', { class: 'table keys-table' },
        h('caption', { class: 'sr-only' }, 'API keys'),
        h('thead', {}, h('tr', {}, ['Name', 'Key', 'May', 'Created', 'Expires', 'Last used', 'Status'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, keys.map((k) => h('tr', { 'data-id': k.id, 'data-name': k.name },
          h('th', { scope: 'row', 'data-label': 'Name' }, k.name),
          h('td', { 'data-label': 'Key' }, h('code', {}, `${k.prefix}…`)),
          h('td', { 'data-label': 'May', class: 'scopes-cell' }, (k.scopes || []).join(', ')),
          h('td', { 'data-label': 'Created' }, timeEl(k.created_at)),
          h('td', { 'data-label': 'Expires' }, k.expires_at ? timeEl(k.expires_at) : 'never'),
          h('td', { 'data-label': 'Last used' }, timeEl(k.last_used_at)),
          h('td', { 'data-label': 'Status' }, k.revoked_at
            ? h('span', { class: 'badge state-paused' }, 'Revoked ', timeEl(k.revoked_at))
            : h('button', {
              type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Revoke ${k.name}`,
              onclick: (e) => revoke(k, e.currentTarget),
            }, 'Revoke')))))));
    } catch (e) {
      if (!ctx.alive() || e instanceof SessionEnded) return;
      list.removeAttribute('aria-busy');
      put(list, h('div', { class: 'error-box', role: 'alert' }, h('p', {}, `Could not load your keys: ${e.message}`),
        h('button', { type: 'button', class: 'btn', onclick: load }, 'Try again')));
    }
  };

  const revoke = async (k) => {
    const ok = await confirmDialog({
      title: `Revoke ${k.name}?`, text: 'Anything using this key gets 401 Unauthorized from now on. This cannot be undone.',
      confirm: 'Revoke key', danger: true,
    });
    if (!ok) return;
    try {
      await api('DELETE', `/v1/api-keys/${k.id}`);
      listStatus.textContent = `${k.name} revoked.`;
      await load();
      const h2 = $('#keys-h');
      if (h2) h2.focus();
    } catch (e) {
      if (!(e instanceof SessionEnded)) listStatus.textContent = `Could not revoke ${k.name}: ${e.message}`;
    }
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    nameF.setError(null);
    formErr.textContent = '';
    put(scopeErr);
    const name = nameF.input.value.trim();
    if (!name) { nameF.setError('Enter a name for the key.'); nameF.input.focus(); return; }
    const chosen = boxes.filter((b) => b.input.checked).map((b) => b.input.value);
    if (!chosen.length) { append(scopeErr, ['Choose at least one thing the key may do.']); boxes[0].input.focus(); return; }
    const body = { name, scopes: chosen };
    if (expiry.value) body.expires_at = new Date(Date.now() + Number(expiry.value) * 86_400_000).toISOString();
    submit.disabled = true;
    try {
      const r = await api('POST', '/v1/api-keys', body);
      if (!ctx.alive()) return;
      nameF.input.value = '';
      const { panel, heading } = secretPanel({
        title: `API key “${r.api_key.name}”`,
        warning: 'Copy the key now: it cannot be shown again. Send it as “Authorization: Bearer <key>”.',
        items: [copyBlock('API key', r.key, { secret: true }),
          copyBlock('Example', `curl -H "Authorization: Bearer ${r.key}" ${location.origin}/v1/databases`)],
        doneLabel: 'I have saved it — hide the key',
        onDone: () => { put(secretSlot); nameF.input.focus(); },
      });
      put(secretSlot, panel);
      heading.focus();
      load();
    } catch (err) {
      if (!ctx.alive() || err instanceof SessionEnded) return;
      const f = err.fields.find((x) => x.field === 'name');
      const s = err.fields.find((x) => x.field.startsWith('scopes') || x.field === 'expires_at');
      if (f) nameF.setError(sentence('name', f.message));
      else if (s) append(scopeErr, [sentence(s.field, s.message)]);
      else formErr.textContent = errorText(err);
    } finally {
      submit.disabled = false;
    }
  });

  load();
  return h('section', { class: 'page' },
    h('h1', { tabindex: '-1' }, 'API keys'),
    h('p', { class: 'lead' }, 'Keys let scripts use the REST API as you, in your organisation, within what you let each one do.'),
    flashBox(msg), secretSlot, form,
    h('section', { class: 'card', 'aria-labelledby': 'keys-h' }, h('h2', { id: 'keys-h', tabindex: '-1' }, 'Your keys'), listStatus, list));
}

// ---------------------------------------------------------------------------------------------------------
// Audit log

function pageAudit(ctx, _args, msg) {
  const PAGE = 50;
  const tbody = h('tbody');
  const status = h('p', { role: 'status', class: 'muted' });
  const more = h('button', { type: 'button', class: 'btn', hidden: true }, 'Load older entries');
  const table = h('table', { class: 'table audit-table', hidden: true },
    h('caption', { class: 'sr-only' }, 'Audit log, newest first'),
    h('thead', {}, h('tr', {}, ['When', 'Actor', 'Action', 'Target', 'Address', 'Detail'].map((c) => h('th', { scope: 'col' }, c)))),
    tbody);
  let before = null;
  const actor = (a) => {
    if (session.me && a === `account:${session.me.id}`) return 'you';
    return a;
  };
  const load = async () => {
    more.disabled = true;
    status.textContent = 'Loading…';
    try {
      const q = new URLSearchParams({ limit: String(PAGE) });
      if (before !== null) q.set('before', String(before));
      const { entries } = await api('GET', `/v1/audit-log?${q}`);
      if (!ctx.alive()) return;
      for (const en of entries) {
        const detail = en.detail && Object.keys(en.detail).length ? Object.entries(en.detail).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ') : '';
        tbody.append(h('tr', {},
          h('td', { 'data-label': 'When' }, timeEl(en.at, 'seconds')),
          h('td', { 'data-label': 'Actor' }, actor(en.actor)),
          h('th', { scope: 'row', 'data-label': 'Action' }, h('code', {}, en.action)),
          h('td', { 'data-label': 'Target' }, h('code', {}, en.target || '')),
          h('td', { 'data-label': 'Address' }, en.ip || ''),
          h('td', { 'data-label': 'Detail', class: 'detail' }, detail)));
      }
      if (entries.length) before = entries[entries.length - 1].at_ms;
      table.hidden = tbody.children.length === 0;
      more.hidden = entries.length < PAGE;
      status.textContent = tbody.children.length ? `${tbody.children.length} entries shown.` : 'Nothing recorded yet.';
    } catch (e) {
      if (!ctx.alive() || e instanceof SessionEnded) return;
      status.textContent = `Could not load the audit log: ${e.message}`;
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', load);
  load();
  return h('section', { class: 'page' },
    h('h1', { tabindex: '-1' }, 'Audit log'),
    h('p', { class: 'lead' }, 'Every change in your organisation: who, what, from where and when.'),
    flashBox(msg), h('div', { class: 'card table-card' }, table, status, more));
}

// ---------------------------------------------------------------------------------------------------------
// Billing: the plan the organisation pays for, this period's usage and estimate, and Stripe's Checkout
// and customer portal (the console only ever navigates there; Stripe sends the user back to
// /billing?checkout=success|cancel).

const PLAN_ORDER = ['free', 'pro', 'enterprise'];
const planName = (p) => ({ free: 'Free', pro: 'Pro', enterprise: 'Enterprise' }[p] || p);
const BILL_STATE_TEXT = { active: 'Active', past_due: 'Past due', canceled: 'Canceled' };
const CHECKOUT_KEY = 'omendb.checkout'; // sessionStorage: the plan a checkout in this tab was for
const BILLING_OFF = 'Billing is off on this installation: every plan is available without payment.';

// Periods and days are UTC calendar dates; a moment (the grace deadline) is shown in local time.
const utcDate = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
const utcShort = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
const dayDate = (day) => new Date(`${day}T00:00:00Z`);
const fmtDay = (day, f = utcDate) => (Number.isNaN(dayDate(day).getTime()) ? day : f.format(dayDate(day)));
const oneDecimal = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const fmtHours = (sec) => oneDecimal.format((sec || 0) / 3600);
const fmtGibH = (v) => nf(2).format(v || 0);

function money(cents, currency = 'usd') {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency.toUpperCase() }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

function billBadge(state) {
  return h('span', { class: `badge bill-${state}`, 'data-state': state },
    h('span', { class: 'dot', 'aria-hidden': 'true' }), BILL_STATE_TEXT[state] || state);
}

/** Stripe's address for Checkout or the portal: only http(s) is followed. */
function stripeUrl(url) {
  let u = null;
  try { u = new URL(url); } catch { /* checked below */ }
  if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:')) throw new Error('The payment provider answered with an unusable address. Try again.');
  return u.href;
}

function billingErrorText(e) {
  if (e.code === 'billing_disabled') return BILLING_OFF;
  if (e.code === 'payment_provider_unavailable' && !/try again/i.test(e.message)) return `${e.message} Try again in a moment.`;
  return errorText(e);
}

function pageBilling(ctx, _args, msg) {
  // Back from Stripe Checkout: say so, and after a payment wait for the webhook to change the plan.
  const ret = new URLSearchParams(location.search).get('checkout');
  let intent = null;
  try { intent = JSON.parse(sessionStorage.getItem(CHECKOUT_KEY) || 'null'); } catch { /* none */ }
  if (ret) {
    sessionStorage.removeItem(CHECKOUT_KEY);
    history.replaceState(null, '', '/billing'); // a reload does not repeat the banner
  }
  const banner = h('p', { class: 'flash', role: 'status', hidden: true });
  const say = (text) => { banner.hidden = false; banner.textContent = text; announce(text); };
  let waitUntil = 0;
  let firstPlan = null;
  if (ret === 'success') {
    say('Payment received; your plan updates in a few seconds.');
    waitUntil = Date.now() + 30_000;
  } else if (ret === 'cancel') {
    say('Checkout canceled; nothing was charged.');
  }

  const body = h('div', { 'aria-busy': 'true' }, h('p', { class: 'loading', role: 'status' }, 'Loading billing…'));
  const page = h('section', { class: 'page' },
    h('h1', { tabindex: '-1' }, 'Billing'),
    h('p', { class: 'lead' }, 'Your plan, usage and estimated bill for this period; payments go through Stripe.'),
    flashBox(msg), banner, body);

  let b = null; // the last GET /v1/billing
  let p = null; // the page's parts, once loaded
  let busy = false; // on the way to Stripe
  let shownHead = '';
  let shownUsage = '';

  const build = () => {
    const summary = h('section', { class: 'card', 'aria-labelledby': 'bill-plan-h' });
    const usage = h('section', { class: 'card', 'aria-labelledby': 'bill-usage-h' });
    const chart = h('figure', { class: 'chart bill-chart', 'data-key': 'daily' });
    const plans = h('section', { class: 'card', 'aria-labelledby': 'bill-plans-h' });
    const plansErr = h('p', { class: 'form-error', role: 'alert' });
    const portalErr = h('p', { class: 'form-error', role: 'alert' });
    const going = h('p', { class: 'action-msg', role: 'status' });
    body.removeAttribute('aria-busy');
    put(body, summary, usage, plans);
    return { summary, usage, chart, plans, plansErr, portalErr, going };
  };

  /** Asks the API for a Stripe address and goes there; errors show next to the button. */
  const toStripe = async (btn, errSlot, path, reqBody) => {
    if (busy || isOff(btn)) return;
    busy = true;
    setOff(btn, true);
    put(errSlot);
    p.going.textContent = '';
    btn.after(p.going);
    p.going.textContent = 'Taking you to Stripe…';
    try {
      const r = await api('POST', path, reqBody);
      if (!ctx.alive()) return;
      const url = stripeUrl(r && r.url);
      if (reqBody) sessionStorage.setItem(CHECKOUT_KEY, JSON.stringify({ plan: reqBody.plan, from: b.plan }));
      window.location.assign(url); // stays busy: the page is going away
    } catch (e) {
      busy = false;
      setOff(btn, false);
      p.going.textContent = '';
      if (!ctx.alive() || e instanceof SessionEnded) return;
      put(errSlot, billingErrorText(e));
      if (e.code === 'billing_disabled' || e.code === 'conflict') poller.kick(0);
    }
  };

  const drawSummary = () => {
    const kids = [h('h2', { id: 'bill-plan-h' }, 'Your plan')];
    if (!b.enabled) {
      kids.push(h('p', { class: 'note' }, BILLING_OFF));
      put(p.summary, kids);
      return;
    }
    kids.push(h('div', { class: 'plan-now' }, h('span', { class: 'plan-big' }, planName(b.plan)), billBadge(b.state)));
    if (b.state === 'past_due') {
      const grace = b.grace_ends_at;
      const lines = [];
      if (grace && grace > Date.now()) {
        lines.push(h('p', {}, h('strong', {}, 'Payment failed. '), 'Pay by ', timeEl(new Date(grace).toISOString(), 'date'), ' or paid databases will be paused.'));
      } else {
        lines.push(h('p', {}, h('strong', {}, 'Payment is overdue. '),
          grace ? ['The grace period ended ', timeEl(new Date(grace).toISOString(), 'date'), ': '] : '',
          'paid databases are paused until the invoice is paid.'));
      }
      lines.push(h('p', {}, 'Update the card or pay the invoice under “Manage payment methods and invoices”.'));
      kids.push(h('div', { class: 'warning bill-warning' }, lines));
    } else if (b.state === 'canceled') {
      kids.push(h('p', { class: 'note' }, 'The subscription is canceled. Upgrade below to subscribe again.'));
    }
    if (b.paused_for_billing > 0) {
      const n = b.paused_for_billing;
      kids.push(h('p', { class: 'paused-count' }, h('strong', {}, n === 1 ? '1 database is' : `${n} databases are`),
        ' paused because of an unpaid invoice. ', h('a', { href: '/databases' }, 'See your databases'), '.'));
    }
    const portal = h('button', { type: 'button', class: 'btn' }, 'Manage payment methods and invoices');
    portal.addEventListener('click', () => toStripe(portal, p.portalErr, '/v1/billing/portal'));
    kids.push(h('div', { class: 'portal' }, h('p', { class: 'hint' }, 'Cards, invoices and receipts, and canceling, on Stripe.'), portal), p.portalErr);
    put(p.summary, kids);
  };

  const drawUsage = () => {
    const per = b.period || {};
    const u = b.usage || {};
    const kids = [h('h2', { id: 'bill-usage-h' }, 'Usage this period'),
      per.start ? h('p', { class: 'hint' }, `${utcDate.format(new Date(per.start))} – ${utcDate.format(new Date(per.end))} (UTC)`) : null,
      h('dl', { class: 'facts usage' },
        h('div', {}, h('dt', {}, 'Compute'), h('dd', {}, `${fmtHours(u.compute_seconds)} hours`)),
        h('div', {}, h('dt', {}, 'Storage'), h('dd', {}, `${fmtGibH(u.storage_gib_hours)} GiB-hours`)))];
    const est = b.estimate;
    if (b.enabled && est) {
      const row = (label, cents, cls) => h('div', { class: cls }, h('dt', {}, label), h('dd', {}, money(cents, est.currency)));
      kids.push(h('h3', { class: 'sub' }, 'Estimated bill'),
        h('dl', { class: 'bill' },
          row(`${planName(b.plan)} plan`, est.base_cents),
          row('Compute', est.compute_cents),
          row('Storage', est.storage_cents),
          row('Total so far', est.total_cents, 'total')),
        h('p', { class: 'hint' }, 'From usage so far; the invoice from Stripe is what you pay.'));
    }
    kids.push(h('h3', { class: 'sub' }, 'Compute per day'), p.chart);
    put(p.usage, kids);
  };

  const drawPlans = () => {
    if (!b.enabled) {
      p.plans.hidden = true;
      return;
    }
    p.plans.hidden = false;
    const cur = PLAN_ORDER.indexOf(b.plan);
    const rows = (b.plans || []).map((pl) => {
      let action = null;
      if (pl.plan === b.plan) action = h('span', { class: 'badge' }, 'Current plan');
      else if (PLAN_ORDER.indexOf(pl.plan) > cur) {
        const btn = h('button', { type: 'button', class: 'btn btn-primary btn-small', 'aria-label': `Upgrade to ${planName(pl.plan)}` }, 'Upgrade');
        btn.addEventListener('click', () => toStripe(btn, p.plansErr, '/v1/billing/checkout', { plan: pl.plan }));
        action = btn;
      }
      return h('tr', { 'data-plan': pl.plan },
        h('th', { scope: 'row', 'data-label': 'Plan' }, planName(pl.plan)),
        h('td', { 'data-label': 'Per month' }, money(pl.monthly_cents)),
        h('td', { 'data-label': 'Compute' }, `${money(pl.compute_cents_per_hour)} / hour`),
        h('td', { 'data-label': 'Storage' }, `${money(pl.storage_cents_per_gib_month)} / GiB-month`),
        h('td', { 'data-label': '' }, action));
    });
    put(p.plans, h('h2', { id: 'bill-plans-h' }, 'Plans'),
      h('table', { class: 'table plans-table' },
        h('caption', { class: 'sr-only' }, 'Plans and prices'),
        h('thead', {}, h('tr', {}, ['Plan', 'Per month', 'Compute', 'Storage'].map((c) => h('th', { scope: 'col' }, c)),
          h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Action')))),
        h('tbody', {}, rows)),
      h('p', { class: 'hint' }, 'Compute is charged per hour a database runs, storage per GiB kept for a month. To downgrade or cancel, use “Manage payment methods and invoices”.'),
      p.plansErr);
  };

  const update = () => {
    // Redraw the parts with buttons only when they change, so focus stays put.
    const head = JSON.stringify([b.enabled, b.plan, b.state, b.grace_ends_at, b.paused_for_billing, b.plans]);
    if (head !== shownHead && !busy) {
      shownHead = head;
      drawSummary();
      drawPlans();
    }
    const use = JSON.stringify([b.enabled, b.plan, b.period, b.usage, b.estimate]);
    if (use !== shownUsage) {
      shownUsage = use;
      drawUsage();
    }
    drawDaily(p.chart, b.daily || []);
  };

  const settled = () => (intent && intent.plan ? b.plan === intent.plan : b.plan !== firstPlan || b.plan !== 'free');

  const load = async () => {
    try {
      const d = await api('GET', '/v1/billing');
      if (!ctx.alive()) return 0;
      const prev = b;
      b = d;
      if (firstPlan === null) firstPlan = b.plan;
      if (!p) p = build();
      update();
      if (prev && prev.state !== b.state) announce(`Billing is now ${BILL_STATE_TEXT[b.state] || b.state}.`);
      if (waitUntil) {
        if (settled()) {
          waitUntil = 0;
          say(`Payment received; you are on the ${planName(b.plan)} plan.`);
        } else if (Date.now() > waitUntil) {
          waitUntil = 0;
          say('Payment received, but your plan has not changed yet. Stripe may still be processing it: reload this page in a minute.');
        } else {
          return 2000;
        }
      }
      return 30_000;
    } catch (e) {
      if (!ctx.alive() || e instanceof SessionEnded) return 0;
      if (p) return waitUntil ? 2000 : 10_000; // keep what is shown; try again later
      body.removeAttribute('aria-busy');
      put(body, h('div', { class: 'error-box', role: 'alert' },
        h('p', {}, `Could not load billing: ${e.message}`),
        h('button', {
          type: 'button', class: 'btn',
          onclick: () => { put(body, h('p', { class: 'loading', role: 'status' }, 'Loading billing…')); poller.kick(0); },
        }, 'Try again')));
      return 0;
    }
  };
  const poller = ctx.loop(load, 30_000);

  let width = 0;
  const ro = new ResizeObserver(() => {
    if (page.clientWidth === width) return;
    width = page.clientWidth;
    if (p && ctx.alive()) drawDaily(p.chart, b.daily || [], true);
  });
  ro.observe(page);
  ctx.signal.addEventListener('abort', () => ro.disconnect());
  return page;
}

/** Compute hours per day as SVG bars, with a title and summary for screen readers and a hidden table. */
function drawDaily(fig, daily, force = false) {
  const key = JSON.stringify(daily);
  if (!force && fig.dataset.drawn === key) return;
  fig.dataset.drawn = key;
  if (!daily.length) {
    put(fig, h('p', { class: 'note' }, 'No usage recorded yet this period.'));
    return;
  }
  const svgBox = h('div', { class: 'chart-svg' });
  put(fig, svgBox);
  const { W, H, padL, padR, padT, padB, pw, ph } = chartFrame(svgBox, 44);
  const hours = daily.map((d) => (d.compute_seconds || 0) / 3600);
  const top = niceMax(Math.max(0, ...hours));
  const y = (v) => padT + ph - (v / top) * ph;
  const band = pw / daily.length;
  const bw = Math.max(1, Math.min(32, band * 0.7));

  const sum = hours.reduce((a, v) => a + v, 0);
  const peak = hours.indexOf(Math.max(...hours));
  const titleId = nextId('bars-title');
  const descId = nextId('bars-desc');
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-labelledby': titleId, 'aria-describedby': descId, class: 'chart-plot' },
    s('title', { id: titleId }, 'Compute hours per day'),
    s('desc', { id: descId }, `${daily.length} ${daily.length === 1 ? 'day' : 'days'} from ${fmtDay(daily[0].day)} to ${fmtDay(daily[daily.length - 1].day)}: ` +
      `${oneDecimal.format(sum)} compute hours in all, the most on ${fmtDay(daily[peak].day)} (${oneDecimal.format(hours[peak])} hours).`));
  const grid = s('g', { class: 'grid' });
  for (const f of [0, 0.5, 1]) {
    const yy = y(top * f);
    grid.append(s('line', { x1: padL, x2: W - padR, y1: yy, y2: yy }),
      s('text', { x: padL - 6, y: yy + 4, 'text-anchor': 'end' }, `${nf(top < 10 ? 2 : 0).format(top * f)} h`));
  }
  const labels = new Set([0, daily.length - 1]);
  if (daily.length >= 7) labels.add(Math.floor((daily.length - 1) / 2));
  for (const i of labels) {
    const anchor = daily.length === 1 ? 'middle' : i === 0 ? 'start' : i === daily.length - 1 ? 'end' : 'middle';
    const x = daily.length === 1 ? padL + pw / 2 : anchor === 'start' ? padL : anchor === 'end' ? W - padR : padL + band * (i + 0.5);
    grid.append(s('text', { x, y: H - 4, 'text-anchor': anchor }, fmtDay(daily[i].day, utcShort)));
  }
  svg.append(grid);
  daily.forEach((d, i) => {
    const v = hours[i];
    const hh = v > 0 ? Math.max(1, ph - (y(v) - padT)) : 0;
    svg.append(s('rect', { x: (padL + band * i + (band - bw) / 2).toFixed(1), y: (padT + ph - hh).toFixed(1), width: bw.toFixed(1), height: hh.toFixed(1), class: 'bar c0' },
      s('title', {}, `${fmtDay(d.day)}: ${oneDecimal.format(v)} compute hours`)));
  });
  svgBox.append(svg);
  fig.append(h('table', { class: 'sr-only' },
    h('caption', {}, 'Usage per day'),
    h('thead', {}, h('tr', {}, ['Day', 'Compute hours', 'Storage GiB-hours'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, daily.map((d, i) => h('tr', {},
      h('th', { scope: 'row' }, fmtDay(d.day)), h('td', {}, oneDecimal.format(hours[i])), h('td', {}, fmtGibH(d.storage_gib_hours)))))));
}

// ---------------------------------------------------------------------------------------------------------

render();
