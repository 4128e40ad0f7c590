// main.js - the workbench shell: session, API client, the shared live stream, and the
// hash router that mounts one view at a time (each view: mount(el, ctx, arg) -> unmount).
import 'uplot/dist/uPlot.min.css';
import * as atlas from './views/atlas.js';
import * as cube from './views/cube.js';
import * as tiles from './views/tiles.js';
import * as stats from './views/stats.js';
import * as alerts from './views/alerts.js';
import * as dos from './views/dos.js';
import * as orgs from './views/orgs.js';
import * as host from './views/host.js';
import * as search from './views/search.js';
import { api, ApiError } from './api.js';
import { Stream } from './stream.js';
import { h, clear } from './dom.js';

const views = { atlas, cube, tiles, stats, alerts, dos, orgs, host, search };

// What tests and benchmarks read: frames drawn by the current view, events received, the
// milliseconds spent drawing frames (workMs) and handling stream messages (streamMs).
window.darkscope = { view: null, frames: 0, events: 0, messages: 0, ready: false, errors: [],
  workMs: 0, streamMs: 0 };

const ctx = { api, meta: null, me: null, stream: null };
let current = null;

function isStaff() {
  return ctx.me && (ctx.me.role === 'admin' || ctx.me.role === 'analyst');
}
ctx.isStaff = isStaff;

function route() {
  const m = location.hash.match(/^#\/([a-z]+)(?:\/(.*))?$/);
  let name = m ? m[1] : 'atlas';
  const arg = m && m[2] ? decodeURIComponent(m[2]) : null;
  if (!views[name]) name = 'atlas';
  if (name === 'stats' && !isStaff()) name = 'alerts';
  return { name, arg };
}

function mount() {
  if (current) {
    try { current.unmount(); } catch (e) { console.error(e); }
    current = null;
  }
  const el = document.getElementById('view');
  clear(el);
  const { name, arg } = route();
  for (const a of document.querySelectorAll('#nav a'))
    a.classList.toggle('active', a.dataset.view === name);
  window.darkscope.view = name;
  window.darkscope.frames = 0;
  const unmount = views[name].mount(el, ctx, arg) || (() => {});
  current = { name, unmount };
}

function showLogin(message) {
  const el = document.getElementById('view');
  clear(el);
  document.getElementById('who').textContent = '';
  document.getElementById('logout').hidden = true;
  const err = h('p', { class: 'error', id: 'login-error' }, message || '');
  const name = h('input', { name: 'name', placeholder: 'name', autocomplete: 'username' });
  const pw = h('input', { name: 'password', type: 'password', placeholder: 'password',
    autocomplete: 'current-password' });
  const form = h('form', { class: 'login', id: 'login' },
    h('h2', {}, 'darkscope workbench'), name, pw, h('button', { type: 'submit' }, 'Log in'), err);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      ctx.me = await api.post('/api/v1/login', { name: name.value, password: pw.value });
      start();
    } catch (e) {
      err.textContent = e instanceof ApiError ? e.message : String(e);
    }
  });
  el.append(form);
  window.darkscope.view = 'login';
  window.darkscope.ready = true;
}

async function start() {
  api.csrf = ctx.me.csrf || null;
  document.getElementById('who').textContent =
    `${ctx.me.name} (${ctx.me.role}${ctx.me.org ? ': ' + ctx.me.org.name : ''})`;
  document.getElementById('logout').hidden = false;
  for (const a of document.querySelectorAll('#nav a[data-staff]')) a.hidden = !isStaff();
  if (ctx.stream) ctx.stream.close();
  ctx.stream = new Stream('/api/v1/stream');
  ctx.stream.on('any', () => { window.darkscope.events++; });
  window.removeEventListener('hashchange', mount);
  window.addEventListener('hashchange', mount);
  mount();
  window.darkscope.ready = true;
}

document.getElementById('logout').addEventListener('click', async () => {
  try { await api.post('/api/v1/logout', {}); } catch (e) { /* the session may be gone */ }
  if (ctx.stream) ctx.stream.close();
  ctx.stream = null;
  ctx.me = null;
  if (current) current.unmount();
  current = null;
  showLogin('Logged out.');
});

document.getElementById('search').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const q = ev.target.q.value.trim();
  if (q) location.hash = '#/search/' + encodeURIComponent(q);
});

window.addEventListener('error', (e) => window.darkscope.errors.push(String(e.message)));

(async () => {
  try {
    ctx.meta = await api.get('/api/v1/meta');
  } catch (e) {
    ctx.meta = { classes: [], fingerprints: [], sensor: { lat: 35.71, lon: 139.49, name: '?' } };
  }
  // meta names the caller when the browser holds a session (no 401 probe at start)
  if (ctx.meta.me) {
    ctx.me = ctx.meta.me;
    start();
  } else {
    showLogin('');
  }
})();
