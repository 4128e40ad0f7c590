// search.js - search results by address, prefix, port, fingerprint or country.
import { h, clear, fmt } from '../dom.js';

export function mount(el, ctx, q) {
  const box = h('div', { class: 'page', 'data-testid': 'search' }, h('p', {}, `Searching ${q}…`));
  el.append(box);
  ctx.api.get('/api/v1/search?q=' + encodeURIComponent(q || '')).then((r) => {
    clear(box);
    box.append(h('h2', {}, `${r.kind}: ${q}`));
    if (r.host) box.append(h('p', {}, h('a', { href: `#/host/${encodeURIComponent(r.address)}` },
      `profile of ${r.address}: ${fmt(r.host.packets)} packets`)));
    if (r.description) box.append(h('p', {}, r.description));
    if (r.hosts && r.hosts.length) box.append(h('h3', {}, 'Hosts'), h('table', {}, r.hosts.map((x) =>
      h('tr', {}, h('td', {}, h('a', { href: `#/host/${encodeURIComponent(x.address)}` }, x.address)),
        h('td', { class: 'num' }, fmt(x.packets))))));
    if (r.alerts) box.append(h('h3', {}, `Alerts (${r.alerts.length})`), h('table', {}, r.alerts.map((a) =>
      h('tr', {}, h('td', {}, h('a', { href: `#/alerts/${a.id}` }, `#${a.id}`)), h('td', {}, a.address),
        h('td', {}, a.organisation), h('td', {}, a.case), h('td', { class: 'num' }, fmt(a.packets))))));
  }).catch((e) => { clear(box); box.append(h('p', { class: 'error' }, e.message)); });
  return () => {};
}
