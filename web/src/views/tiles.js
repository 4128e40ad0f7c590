// tiles.js - Tiles: one tile per active host (seen in the live stream in the last minutes),
// re-grouped every 30 s by the daemon's host groups (GET /api/v1/groups: behaviour keys, then
// similar keys joined), or by the stream's own key when the daemon has none; hosts of a
// group share a colour and are highlighted together on hover; the country is on the tile; a
// click opens the host.
import { h, clear, protoName, bitNames } from '../dom.js';

const ACTIVE_MS = 5 * 60 * 1000; // a host is active when seen within this (packet time)
const MAX_TILES = 400;
const REGROUP_MS = 30000;

// The behaviour key: protocol, up to three destination ports, fingerprints and classes.
function keyOf(hst, meta) {
  const ports = [...hst.ports.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3)
    .map((p) => p[0]).sort((a, b) => a - b);
  const fps = bitNames(hst.fp, meta.fingerprints).join('+') || '-';
  const cls = bitNames(hst.c, meta.classes).filter((n) => n !== 'spoofed_hint').join('+');
  return `${[...hst.protos].sort().join('/')}|${ports.join(',')}|${fps}|${cls}`;
}

function colourOf(key) {
  let x = 0;
  for (let i = 0; i < key.length; i++) x = (x * 31 + key.charCodeAt(i)) >>> 0;
  return `hsl(${x % 360}, 65%, 55%)`;
}

export function mount(el, ctx) {
  const hosts = new Map(); // address -> {packets, last, ports Map, protos Set, fp, c, cc}
  const grid = h('div', { class: 'tiles', 'data-testid': 'tiles' });
  const info = h('div', { class: 'page muted', 'data-testid': 'tiles-info' },
    'Waiting for live packets…');
  el.append(info, grid);
  let newest = 0;

  const off = ctx.stream.on('packets', (batch) => {
    for (const p of batch) {
      let x = hosts.get(p.s);
      if (!x) {
        x = { addr: p.s, packets: 0, last: 0, ports: new Map(), protos: new Set(), fp: 0, c: 0, cc: p.cc };
        hosts.set(p.s, x);
      }
      x.packets++;
      x.last = Math.max(x.last, p.t);
      x.protos.add(protoName(p.p));
      if (p.p === 6 || p.p === 17) x.ports.set(p.dp, (x.ports.get(p.dp) || 0) + 1);
      x.fp |= p.fp;
      x.c |= p.c;
      newest = Math.max(newest, p.t);
    }
  });

  let server = null; // address -> {id, key} from the daemon's groups
  async function fetchGroups() {
    try {
      const r = await ctx.api.get('/api/v1/groups?max_hosts=5000');
      server = new Map();
      for (const g of r.groups) for (const m of g.hosts) server.set(m.address, { id: g.id, key: g.key });
    } catch (e) {
      server = null; // serve over a store, or an older daemon: group by the stream's key
    }
  }

  let alive = true;
  async function regroup() {
    await fetchGroups();
    if (!alive) return;
    for (const [a, x] of hosts) if (newest - x.last > ACTIVE_MS) hosts.delete(a);
    const list = [...hosts.values()].sort((a, b) => b.packets - a.packets).slice(0, MAX_TILES);
    const groups = new Map();
    for (const x of list) {
      const sg = server && server.get(x.addr);
      x.key = sg ? sg.key : keyOf(x, ctx.meta);
      x.group = sg ? sg.id : x.key;
      groups.set(x.group, (groups.get(x.group) || 0) + 1);
    }
    // same behaviour next to each other: by group size, then key, then packets
    list.sort((a, b) => groups.get(b.group) - groups.get(a.group) || a.group.localeCompare(b.group) ||
      b.packets - a.packets);
    clear(grid);
    for (const x of list) {
      const t = h('div', { class: 'tile', 'data-key': x.group, 'data-addr': x.addr,
        style: `border-color: ${colourOf(x.group)}`, title: x.key },
        h('div', { class: 'addr' }, x.addr),
        h('div', {}, `${x.cc || '??'} · ${x.packets} pkts`),
        h('div', { class: 'muted' }, x.key.split('|').slice(0, 3).join(' ')));
      t.addEventListener('click', () => { location.hash = '#/host/' + encodeURIComponent(x.addr); });
      t.addEventListener('mouseenter', () => {
        for (const o of grid.children) o.classList.toggle('hl', o.dataset.key === x.group);
      });
      grid.append(t);
    }
    info.textContent = list.length
      ? `${list.length} active hosts in ${groups.size} behaviour groups (regrouped every 30 s; ` +
        'hover a tile to highlight hosts that behave the same)'
      : 'Waiting for live packets…';
    window.darkscope.tiles = { hosts: list.length, groups: groups.size, server: !!server };
    window.darkscope.frames++;
  }
  const first = setTimeout(regroup, 2000);
  const timer = setInterval(regroup, REGROUP_MS);
  return () => { alive = false; off(); clearTimeout(first); clearInterval(timer); };
}
