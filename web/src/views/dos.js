// dos.js - incidents: DoS attacks inferred from backscatter (RS-DoS: victim, protocol, when,
// how much, peak rate, the victim's ports, darknet addresses hit, the rate estimated for the
// whole IPv4 space) and reflector-hunting campaigns (amplification probes per protocol and
// source block). Filters: address or prefix, period. An organisation sees its own only.
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

function obRow(o) {
  return h('tr', { class: 'outbreak-row', 'data-id': o.id },
    h('td', {}, o.start), h('td', {}, o.dim), h('td', {}, o.name),
    h('td', { class: 'num' }, `${fmt(o.value)} ${o.measure}`),
    h('td', { class: 'num' }, o.baseline.toFixed(1)),
    h('td', { class: 'num' }, `x${fmt(Math.round(o.ratio))}`),
    h('td', { class: 'num' }, o.score.toFixed(1)),
    h('td', {}, (o.top_hosts || []).slice(0, 5).map((x, i) => [i ? ', ' : '',
      h('a', { href: `#/host/${encodeURIComponent(x.address)}` }, x.address)])));
}

function campRow(c) {
  const srcs = (c.top_sources || []).map((x) => x.address).join(', ');
  return h('tr', { class: 'campaign-row', 'data-id': c.id },
    h('td', {}, c.protocol), h('td', {}, c.request), h('td', {}, c.source_block),
    h('td', {}, c.first_seen), h('td', { class: 'num' }, fmt(Math.round(c.duration_s))),
    h('td', { class: 'num' }, fmt(c.packets)), h('td', { class: 'num' }, fmt(c.sources)),
    h('td', { class: 'num' }, `${(100 * c.darknet_coverage).toFixed(1)} %`),
    h('td', {}, c.research_packets === c.packets ? 'research' : ''), h('td', {}, srcs));
}

export function mount(el, ctx) {
  const victim = h('input', { name: 'victim', placeholder: 'address or prefix', size: 24 });
  const from = h('input', { name: 'from', placeholder: 'from (2024-01-01)', size: 14 });
  const to = h('input', { name: 'to', placeholder: 'to', size: 14 });
  const count = h('span', { class: 'muted', 'data-testid': 'dos-count' });
  const err = h('p', { class: 'error' });
  const body = h('tbody', { 'data-testid': 'dos-rows' });
  const cbody = h('tbody', { 'data-testid': 'campaign-rows' });
  const ccount = h('span', { class: 'muted', 'data-testid': 'campaign-count' });
  const staff = !ctx.isStaff || ctx.isStaff();
  const obody = h('tbody', { 'data-testid': 'outbreak-rows' });
  const ocount = h('span', { class: 'muted', 'data-testid': 'outbreak-count' });
  el.append(h('div', { class: 'page' },
    staff ? [h('h3', {}, 'Outbreak candidates'),
      h('p', { class: 'muted' }, 'Change points of the 5-minute series of unique sources per port, ' +
        'fingerprint and class (backscatter: packets): what rose, when, by how much, and the hosts driving it.'),
      h('div', { class: 'filters' }, ocount),
      h('table', { 'data-testid': 'outbreak-table' },
        h('thead', {}, h('tr', {}, ['interval', 'series', 'what', 'value', 'baseline', 'rise', 'score',
          'driving hosts'].map((x, i) => h('th', { class: [3, 4, 5, 6].includes(i) ? 'num' : '' }, x)))),
        obody)] : null,
    h('h3', {}, 'DoS attacks seen in backscatter'),
    h('p', { class: 'muted' }, 'Vectors per victim and protocol with at least 25 packets, 60 s and a peak of 30 ' +
      'packets per minute (RS-DoS); the rate is scaled by the darknet\u2019s share of IPv4.'),
    h('div', { class: 'filters' }, victim, from, to, count), err,
    h('table', { 'data-testid': 'dos-table' },
      h('thead', {}, h('tr', {}, ['victim', 'protocol', 'start', 'seconds', 'packets', 'peak / min',
        'est. packets/s', 'victim ports', 'darknet addrs', 'country / AS']
        .map((x, i) => h('th', { class: [3, 4, 5, 6, 8].includes(i) ? 'num' : '' }, x)))),
      body),
    h('h3', {}, 'Reflector hunting (DRDoS preparation)'),
    h('p', { class: 'muted' }, 'Probes carrying an amplifier\u2019s amplifying request (DNS ANY, NTP ' +
      'monlist, SSDP M-SEARCH, ...), per protocol and source /24; coverage is the share of the darknet probed.'),
    h('div', { class: 'filters' }, ccount),
    h('table', { 'data-testid': 'campaign-table' },
      h('thead', {}, h('tr', {}, ['protocol', 'request', 'source block', 'first seen', 'seconds',
        'packets', 'sources', 'coverage', '', 'sources seen'].map((x, i) => h('th', { class: [4, 5, 6, 7].includes(i) ? 'num' : '' }, x)))),
      cbody)));
  let alive = true;
  async function load() {
    err.textContent = '';
    const q = new URLSearchParams({ limit: '1000' });
    if (victim.value.trim()) q.set('victim', victim.value.trim());
    if (from.value.trim()) q.set('from', from.value.trim());
    if (to.value.trim()) q.set('to', to.value.trim());
    const cq = new URLSearchParams({ limit: '1000' });
    if (victim.value.trim()) cq.set('source', victim.value.trim());
    for (const k of ['from', 'to']) if (q.has(k)) cq.set(k, q.get(k));
    try {
      const oq = new URLSearchParams({ limit: '500' });
      for (const k of ['from', 'to']) if (q.has(k)) oq.set(k, q.get(k));
      const [r, c, o] = await Promise.all([ctx.api.get('/api/v1/dos?' + q),
        ctx.api.get('/api/v1/campaigns?' + cq),
        staff ? ctx.api.get('/api/v1/outbreaks?' + oq) : { outbreaks: [] }]);
      if (!alive) return;
      clear(body);
      for (const a of r.attacks) body.append(row(a));
      count.textContent = `${r.attacks.length} attacks`;
      count.dataset.n = String(r.attacks.length);
      clear(cbody);
      for (const x of c.campaigns) cbody.append(campRow(x));
      ccount.textContent = `${c.campaigns.length} campaigns`;
      ccount.dataset.n = String(c.campaigns.length);
      clear(obody);
      for (const x of o.outbreaks) obody.append(obRow(x));
      ocount.textContent = `${o.outbreaks.length} candidates`;
      ocount.dataset.n = String(o.outbreaks.length);
      window.darkscope.frames++;
    } catch (e) { err.textContent = e.message; }
  }
  for (const c of [victim, from, to]) c.addEventListener('change', load);
  load();
  return () => { alive = false; };
}
