// dos.js - DoS attacks inferred from backscatter (RS-DoS): victim, protocol, when, how much,
// peak rate, the victim's ports, darknet addresses hit and the rate estimated for the whole
// IPv4 space. Filters: victim address or prefix, period. An organisation sees its own only.
import { h, clear, fmt } from '../dom.js';

function row(a) {
  const ports = (a.top_victim_ports || []).map((p) => `${p.port} (${fmt(p.packets)})`).join(', ');
  return h('tr', { class: 'dos-row', 'data-id': a.id },
    h('td', {}, h('a', { href: `#/host/${encodeURIComponent(a.victim)}` }, a.victim)),
    h('td', {}, a.protocol),
    h('td', {}, a.start),
    h('td', { class: 'num' }, fmt(Math.round(a.duration_s))),
    h('td', { class: 'num' }, fmt(a.packets)),
    h('td', { class: 'num' }, fmt(a.peak_ppm)),
    h('td', { class: 'num' }, a.estimated_rate_pps ? fmt(Math.round(a.estimated_rate_pps)) : '–'),
    h('td', {}, ports || '–'),
    h('td', { class: 'num' }, fmt(a.darknet_addresses)),
    h('td', {}, `${a.country || '??'} / AS${a.asn || '?'}`));
}

export function mount(el, ctx) {
  const victim = h('input', { name: 'victim', placeholder: 'victim address or prefix', size: 24 });
  const from = h('input', { name: 'from', placeholder: 'from (2024-01-01)', size: 14 });
  const to = h('input', { name: 'to', placeholder: 'to', size: 14 });
  const count = h('span', { class: 'muted', 'data-testid': 'dos-count' });
  const err = h('p', { class: 'error' });
  const body = h('tbody', { 'data-testid': 'dos-rows' });
  el.append(h('div', { class: 'page' },
    h('h3', {}, 'DoS attacks seen in backscatter'),
    h('p', { class: 'muted' }, 'Vectors per victim and protocol with at least 25 packets, 60 s and a peak of 30 ' +
      'packets per minute (RS-DoS); the rate is scaled by the darknet\u2019s share of IPv4.'),
    h('div', { class: 'filters' }, victim, from, to, count), err,
    h('table', { 'data-testid': 'dos-table' },
      h('thead', {}, h('tr', {}, ['victim', 'protocol', 'start', 'seconds', 'packets', 'peak / min',
        'est. packets/s', 'victim ports', 'darknet addrs', 'country / AS']
        .map((x, i) => h('th', { class: [3, 4, 5, 6, 8].includes(i) ? 'num' : '' }, x)))),
      body)));
  let alive = true;
  async function load() {
    err.textContent = '';
    const q = new URLSearchParams({ limit: '1000' });
    if (victim.value.trim()) q.set('victim', victim.value.trim());
    if (from.value.trim()) q.set('from', from.value.trim());
    if (to.value.trim()) q.set('to', to.value.trim());
    try {
      const r = await ctx.api.get('/api/v1/dos?' + q);
      if (!alive) return;
      clear(body);
      for (const a of r.attacks) body.append(row(a));
      count.textContent = `${r.attacks.length} attacks`;
      count.dataset.n = String(r.attacks.length);
      window.darkscope.frames++;
    } catch (e) { err.textContent = e.message; }
  }
  for (const c of [victim, from, to]) c.addEventListener('change', load);
  load();
  return () => { alive = false; };
}
