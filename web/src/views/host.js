// host.js - one host: profile, timeline, ports, fingerprints, organisation, suspected family.
import { h, clear, fmt } from '../dom.js';

export function mount(el, ctx, addr) {
  const box = h('div', { class: 'page', 'data-testid': 'host' }, h('p', {}, 'Loading…'));
  el.append(box);
  let alive = true;
  ctx.api.get('/api/v1/hosts/' + encodeURIComponent(addr || '')).then((x) => {
    if (!alive) return;
    clear(box);
    const fps = Object.entries(x.fingerprints || {}).filter(([, n]) => n > 0);
    const cls = Object.entries(x.classes || {}).filter(([, n]) => n && n !== false);
    box.append(
      h('h2', {}, x.address),
      x.seen === false ? h('p', { class: 'muted' }, 'No stored profile (yet) for this address.') : null,
      h('table', {}, [
        ['organisation', x.organisation ? x.organisation.name : '–'],
        ['country / AS', `${x.country || '?'} / AS${x.asn || '?'}`],
        ['first / last seen', `${x.first_seen || ''} – ${x.last_seen || ''}`],
        ['packets', fmt(x.packets)], ['destinations', fmt(x.destinations)],
        ['ports', `${fmt(x.ports_distinct)} distinct; first: ${x.first_ports || ''}`],
        ['scan type', x.scan_type], ['behaviour', x.behaviour_key],
        ['fingerprints', fps.map(([k, n]) => `${k} (${fmt(n)})`).join(', ') || 'none'],
        ['classes', cls.map(([k, n]) => (n === true ? k : `${k} (${fmt(n)})`)).join(', ')],
        ['research scanner', x.research || 'no'],
        ['suspected family', x.family || 'unknown (no correlation yet)'],
      ].map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v ?? '')))),
      h('h3', {}, 'Timeline'),
      h('table', { 'data-testid': 'host-timeline' },
        h('tr', {}, ['first seen', 'last seen', 'packets', 'ports', 'destinations', 'scan']
          .map((t) => h('th', {}, t))),
        (x.timeline || []).map((t) => h('tr', {}, [t.first_seen, t.last_seen, fmt(t.packets),
          t.first_ports, fmt(t.destinations), t.scan_type].map((v) => h('td', {}, v ?? ''))))),
      h('h3', {}, 'Alerts'),
      h('table', {}, (x.alerts || []).map((a) => h('tr', {},
        h('td', {}, h('a', { href: `#/alerts/${a.id}` }, `#${a.id}`)), h('td', {}, a.organisation),
        h('td', {}, a.case), h('td', {}, a.state), h('td', { class: 'num' }, fmt(a.packets))))));
    window.darkscope.frames++;
  }).catch((e) => { clear(box); box.append(h('p', { class: 'error' }, e.message)); });
  return () => { alive = false; };
}
