// stats.js - Stats: time series at 5 min / 1 h / 1 day (uPlot), Top-10 countries, TCP and
// UDP ports by unique hosts with share %, a toggle to exclude research scanners, and the
// yearly table.
import uPlot from 'uplot';
import { h, clear, fmt } from '../dom.js';

function table(headers, rows, testid) {
  return h('table', { 'data-testid': testid },
    h('tr', {}, headers.map((x, i) => h('th', { class: i ? 'num' : '' }, x))),
    rows.map((r) => h('tr', {}, r.map((x, i) => h('td', { class: i ? 'num' : '' }, x)))));
}

export function mount(el, ctx) {
  let plot = null;
  let alive = true;
  const gran = h('select', { name: 'gran', 'data-testid': 'stats-gran' },
    ['5m', '1h', '1d'].map((g) => h('option', { value: g, selected: g === '1h' }, g)));
  const dim = h('select', { name: 'dim' },
    [['total', 'all packets'], ['class', 'class…'], ['fingerprint', 'fingerprint…'], ['tcp', 'TCP port…'],
     ['udp', 'UDP port…']].map(([v, t]) => h('option', { value: v }, t)));
  const key = h('input', { name: 'key', placeholder: 'key (e.g. 23, mirai, backscatter)', size: 22 });
  const xr = h('input', { type: 'checkbox', name: 'exclude_research', 'data-testid': 'stats-xr' });
  const chart = h('div', { class: 'card', 'data-testid': 'stats-chart' });
  const tops = h('div', { class: 'grid' });
  const year = h('div', { class: 'card' });
  const err = h('p', { class: 'error' });
  el.append(h('div', { class: 'page' },
    h('div', { class: 'filters' }, 'Granularity', gran, 'Series', dim, key,
      h('label', {}, xr, ' exclude research scanners')), err, chart, tops,
    h('h3', {}, 'By year'), year));

  async function loadSeries() {
    const q = new URLSearchParams({ gran: gran.value, dim: dim.value });
    if (dim.value !== 'total') q.set('key', key.value || (dim.value === 'class' ? 'tcp_syn'
      : dim.value === 'fingerprint' ? 'mirai' : '23'));
    if (xr.checked) q.set('exclude_research', '1');
    const s = await ctx.api.get('/api/v1/stats?' + q);
    if (!alive) return;
    if (plot) plot.destroy();
    clear(chart);
    chart.append(h('h3', {}, `${s.dim}${s.key ? ' ' + s.key : ''} per ${s.gran}, ${s.from} – ${s.to}`));
    const w = Math.max(400, chart.clientWidth - 20);
    plot = new uPlot({
      width: w, height: 260,
      series: [{}, { label: 'packets', stroke: '#4fc3f7', width: 1.5 },
        { label: 'unique sources', stroke: '#ffb74d', width: 1.5, scale: 'src' }],
      axes: [{ stroke: '#7f8fa3' }, { stroke: '#7f8fa3', size: 70 },
        { side: 1, scale: 'src', stroke: '#7f8fa3', size: 70 }],
      // the whole asked period, also where the store has no interval
      scales: { x: { time: true, range: () => [Date.parse(s.from) / 1000, Date.parse(s.to) / 1000] },
        y: { range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)] },
        src: { range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)] } },
    }, [s.t, s.packets, s.sources], chart);
    window.darkscope.frames++;
  }

  async function loadTops() {
    const x = xr.checked ? '&exclude_research=1' : '';
    const [cc, tcp, udp] = await Promise.all([
      ctx.api.get('/api/v1/top?kind=countries&by=sources&n=10' + x),
      ctx.api.get('/api/v1/top?kind=ports&proto=tcp&by=sources&n=10' + x),
      ctx.api.get('/api/v1/top?kind=ports&proto=udp&by=sources&n=10' + x),
    ]);
    if (!alive) return;
    clear(tops);
    const rows = (r) => {
      const list = Array.isArray(r) ? r : [];
      return list.map((e) => [e.country || (e.port !== undefined ? `${e.port}/${e.proto}` : e.asn),
        fmt(e.sources), `${Number(e.source_share || 0).toFixed(1)} %`]);
    };
    tops.append(
      h('div', { class: 'card' }, h('h3', {}, 'Top 10 countries (unique hosts)'),
        table(['country', 'hosts', 'share'], rows(cc), 'top-countries')),
      h('div', { class: 'card' }, h('h3', {}, 'Top 10 TCP ports (unique hosts)'),
        table(['port', 'hosts', 'share'], rows(tcp), 'top-tcp')),
      h('div', { class: 'card' }, h('h3', {}, 'Top 10 UDP ports (unique hosts)'),
        table(['port', 'hosts', 'share'], rows(udp), 'top-udp')));
  }

  async function loadYear() {
    const y = await ctx.api.get('/api/v1/year' + (xr.checked ? '?exclude_research=1' : ''));
    if (!alive) return;
    clear(year);
    year.append(table(['year', 'packets', 'monitored addresses', 'packets / address', 'unique sources'],
      (y.years || []).map((r) => [r.year, fmt(r.packets), fmt(Math.round(r.monitored_addresses)),
        fmt(Math.round(r.packets_per_address)), fmt(r.sources)]), 'year-table'));
  }

  function load() {
    err.textContent = '';
    Promise.all([loadSeries(), loadTops(), loadYear()]).catch((e) => { err.textContent = e.message; });
  }
  for (const c of [gran, dim, xr]) c.addEventListener('change', load);
  key.addEventListener('change', load);
  load();
  return () => { alive = false; if (plot) plot.destroy(); };
}
