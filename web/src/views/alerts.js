// alerts.js - Alerts: the list with filters and CSV export, and one alert's detail (timeline,
// sample packets, what to do) with the workflow: acknowledge, assign, resolve or reject with
// notes (new -> open -> resolved | rejected). Live: new and changed alerts appear as they come.
import { h, clear, fmt } from '../dom.js';

const STATES = ['', 'new', 'continuing', 'closed', 'reopened'];
const CASES = ['', 'internal', 'external', 'backscatter'];
const FLOWS = ['', 'new', 'open', 'resolved', 'rejected'];

function sel(name, values, label) {
  return h('select', { name, 'aria-label': label },
    values.map((v) => h('option', { value: v }, v || `any ${label}`)));
}

function row(a) {
  return h('tr', { 'data-id': a.id, class: 'alert-row' },
    h('td', {}, h('a', { href: `#/alerts/${a.id}` }, `#${a.id}`)),
    h('td', {}, h('span', { class: `badge ${a.state}` }, a.state)),
    h('td', {}, a.workflow || 'new'),
    h('td', {}, a.organisation),
    h('td', {}, h('a', { href: `#/host/${encodeURIComponent(a.address)}` }, a.address)),
    h('td', {}, a.case),
    h('td', { class: 'num' }, fmt(a.packets)),
    h('td', {}, a.severity),
    h('td', {}, a.last_seen));
}

function list(el, ctx) {
  const f = { state: sel('state', STATES, 'state'), case: sel('case', CASES, 'case'),
    workflow: sel('workflow', FLOWS, 'workflow') };
  const body = h('tbody', { 'data-testid': 'alert-rows' });
  const count = h('span', { class: 'muted', 'data-testid': 'alert-count' });
  const err = h('p', { class: 'error' });
  const exp = h('a', { href: '/api/v1/alerts?format=csv&limit=10000', download: 'alerts.csv',
    'data-testid': 'alert-export' }, 'Export CSV');
  el.append(h('div', { class: 'page' },
    h('div', { class: 'filters' }, f.state, f.case, f.workflow, count, exp), err,
    h('table', {}, h('thead', {}, h('tr', {}, ['id', 'state', 'workflow', 'organisation', 'address',
      'case', 'packets', 'severity', 'last seen'].map((x) => h('th', { class: x === 'packets' ? 'num' : '' }, x)))),
    body)));
  let alive = true;
  const query = () => {
    const q = new URLSearchParams({ limit: '500' });
    for (const [k, s] of Object.entries(f)) if (s.value) q.set(k, s.value);
    return q;
  };
  async function load() {
    try {
      const r = await ctx.api.get('/api/v1/alerts?' + query());
      if (!alive) return;
      clear(body);
      for (const a of r.alerts) body.append(row(a));
      count.textContent = `${r.total} alerts`;
      exp.href = '/api/v1/alerts?format=csv&limit=10000&' + query();
      window.darkscope.frames++;
    } catch (e) { err.textContent = e.message; }
  }
  for (const s of Object.values(f)) s.addEventListener('change', load);
  // live: a changed alert replaces its row (or is added on top when it matches the filters)
  const off = ctx.stream.on('alert', (a) => {
    const old = body.querySelector(`tr[data-id="${a.id}"]`);
    if (old) old.replaceWith(row(a));
    else if ((!f.state.value || f.state.value === a.state) && (!f.case.value || f.case.value === a.case))
      body.prepend(row(a));
  });
  load();
  return () => { alive = false; off(); };
}

function detail(el, ctx, id) {
  const box = h('div', { class: 'page', 'data-testid': 'alert-detail' }, h('p', {}, 'Loading…'));
  el.append(box);
  let alive = true;
  async function act(action, extra) {
    try {
      await ctx.api.post(`/api/v1/alerts/${id}/workflow`, { action, ...extra });
      load();
    } catch (e) { alert(e.message); }
  }
  async function load() {
    let a;
    try { a = await ctx.api.get(`/api/v1/alerts/${id}`); } catch (e) {
      clear(box); box.append(h('p', { class: 'error' }, e.message)); return;
    }
    if (!alive) return;
    clear(box);
    const note = h('textarea', { rows: 2, cols: 60, placeholder: 'note', name: 'note' });
    const who = h('input', { placeholder: 'assignee', name: 'assignee' });
    const btn = (label, action, extra) => h('button', { 'data-action': action,
      onclick: () => act(action, { note: note.value || undefined, ...(extra ? extra() : {}) }) }, label);
    box.append(
      h('h2', {}, `Alert #${a.id}: ${a.address} (${a.case})`),
      h('p', {}, h('span', { class: `badge ${a.state}` }, a.state), ' workflow: ',
        h('b', { 'data-testid': 'alert-workflow' }, a.workflow), a.assignee ? ` · assigned to ${a.assignee}` : ''),
      h('table', {}, [
        ['organisation', a.organisation], ['first seen', a.first_seen], ['last seen', a.last_seen],
        ['packets', fmt(a.packets)], ['distinct darknet targets', fmt(a.targets)],
        ['protocols', (a.protocols || []).join(', ')],
        ['top ports', (a.ports || []).map((p) => `${p.port}/${p.proto} (${p.packets})`).join(', ')],
        ['classes', (a.classes || []).join(', ')],
        ['fingerprints', (a.fingerprints || []).map((x) => x.description || x.name).join('; ')],
        ['scan type', a.scan_type], ['severity', a.severity],
        ['suspected family', a.family || 'unknown (no correlation yet)'],
      ].map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v ?? '')))),
      h('h3', {}, 'Actions'),
      h('div', { class: 'filters' }, btn('Acknowledge', 'ack'), who,
        btn('Assign', 'assign', () => ({ assignee: who.value })), btn('Resolve', 'resolve'),
        btn('Reject', 'reject'), btn('Reopen', 'reopen'), btn('Add note', 'note')), note,
      a.note ? h('pre', {}, a.note) : null,
      h('h3', {}, 'What to do'), h('pre', {}, a.response || ''),
      h('h3', {}, 'Sample packets'),
      h('table', {}, h('tr', {}, ['time', 'src', 'dst', 'proto', 'ttl', 'sport', 'dport', 'flags']
        .map((x) => h('th', {}, x))),
      (a.samples || []).map((s) => h('tr', {}, [s.time, s.src, s.dst, s.proto, s.ttl, s.sport, s.dport,
        s.tcp_flags].map((x) => h('td', {}, x ?? ''))))),
      h('h3', {}, 'Timeline'),
      h('table', { 'data-testid': 'alert-timeline' }, (a.timeline || []).map((t) => h('tr', {},
        h('td', {}, t.at), h('td', {}, t.kind),
        h('td', {}, t.kind === 'notification' ? `${t.message} by ${t.channel}: ${t.delivery}`
          : `${t.who}: ${t.detail ? t.detail.action : t.what}`)))));
    window.darkscope.frames++;
  }
  load();
  return () => { alive = false; };
}

export function mount(el, ctx, arg) {
  return arg ? detail(el, ctx, arg) : list(el, ctx);
}
