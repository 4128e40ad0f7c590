// atlas.js - Atlas (after NICTER's Atlas): a world map where live darknet packets fly as arcs
// from their source country to the sensor. Arc height grows with the destination port; colour
// is by protocol or, toggled, by class. Packets of the same source country, protocol, class
// and destination-port range that start within MERGE seconds of each other fly as one arc
// with a count (wider line, bigger head, a label from LABEL_MIN packets), so the number of
// arcs in flight stays bounded (MAX_ARCS) however fast packets come. The map is drawn once
// per resize; geometry is projected when an arc starts, not per frame. Drawing is WebGL2
// (atlas_gl.js: the shaders move the arcs) or, without it, a 2D canvas (the map copied under
// one short tail per arc, stroked as one path per colour, width and fade per frame).
import { geoNaturalEarth1, geoPath, geoArea, geoCentroid, geoGraticule10 } from 'd3-geo';
import { feature } from 'topojson-client';
import world from 'world-atlas/countries-110m.json';
import codes from 'i18n-iso-countries/codes.json';
import { h, fmt, protoName, protoColor, animate } from '../dom.js';
import { makeGLRenderer } from './atlas_gl.js';

const MAX_ARCS = 600;    // arcs in flight at most (a ring of slots)
const FLIGHT = 1.5;      // seconds an arc takes from source to sensor
const TAIL = 0.3;        // tail length, as a share of the flight
const STEPS = 4;         // curve points per half of a tail
const MERGE = 0.3;       // seconds: packets of one key starting this close share an arc
const LABEL_MIN = 10;    // arcs of this many packets are labelled with the count
const LABELS_MAX = 24;   // labels per frame at most
const SPREAD_MAX = 1000; // ms over which a batch is spread out

const PROTOS = ['tcp', 'udp', 'icmp', 'other'];
const CLASS_KEYS = ['amp_probe', 'backscatter', 'tcp_syn', 'icmp_request', 'udp'];
const CLASS_COLORS = { tcp_syn: '#4fc3f7', backscatter: '#ef5350', udp: '#ffb74d',
  icmp_request: '#ba68c8', amp_probe: '#66bb6a', other: '#90a4ae' };
const CLASS_LIST = [...CLASS_KEYS, 'other'];

// Countries too small for the 110m map: [lon, lat].
const SMALL = { SG: [103.8, 1.35], HK: [114.17, 22.32], MO: [113.55, 22.19], MT: [14.44, 35.9],
  BH: [50.56, 26.07], MU: [57.55, -20.3], BB: [-59.55, 13.19], MV: [73.5, 3.2],
  SC: [55.45, -4.68], AD: [1.52, 42.5], MC: [7.42, 43.74], LI: [9.55, 47.16],
  SM: [12.46, 43.94], XK: [20.9, 42.6], BM: [-64.75, 32.3], KY: [-81.25, 19.3],
  GI: [-5.35, 36.14], JE: [-2.13, 49.21], GG: [-2.58, 49.45], IM: [-4.55, 54.23],
  VA: [12.45, 41.9], AG: [-61.8, 17.1], GD: [-61.68, 12.1], LC: [-60.98, 13.9],
  KN: [-62.75, 17.3], VC: [-61.2, 13.25], DM: [-61.35, 15.4], TO: [-175.2, -21.2],
  WS: [-172.1, -13.8], KI: [-157.4, 1.9], FM: [158.2, 6.9], MH: [171.2, 7.1],
  PW: [134.5, 7.5], NR: [166.9, -0.5], TV: [179.2, -8.5], ST: [6.6, 0.2],
  CV: [-23.6, 15.1], KM: [43.3, -11.7], GU: [144.8, 13.45], AW: [-69.97, 12.5],
  CW: [-68.99, 12.17], RE: [55.5, -21.1], PF: [-149.4, -17.6], AX: [19.9, 60.2] };

// Country geometry, alpha-2 -> {lonlat, name}, computed once per page.
let countries = null;

function loadCountries() {
  if (countries) return countries;
  const byNumeric = new Map(codes.map((r) => [r[2], r[0]]));
  const land = feature(world, world.objects.countries);
  const where = new Map();
  for (const f of land.features) {
    const cc = byNumeric.get(f.id) || (f.properties.name === 'Kosovo' ? 'XK' : null);
    if (cc) where.set(cc, { lonlat: mainCentroid(f), name: f.properties.name });
  }
  for (const [cc, lonlat] of Object.entries(SMALL))
    if (!where.has(cc)) where.set(cc, { lonlat, name: cc });
  countries = { land, where };
  return countries;
}

// Centroid of the largest polygon, so France is not pulled to Guiana nor the US to Alaska.
function mainCentroid(f) {
  const g = f.geometry;
  if (g.type !== 'MultiPolygon') return geoCentroid(f);
  let best = null;
  let area = -1;
  for (const coords of g.coordinates) {
    const p = { type: 'Polygon', coordinates: coords };
    const a = geoArea(p);
    if (a > area) { area = a; best = p; }
  }
  return geoCentroid(best);
}

// The arcs: one slot per arc in parallel typed arrays, used in start order (a ring), so the
// slot after the newest is the oldest and is free once that arc has landed.
function makeArcs() {
  return {
    head: 0, started: 0, packets: 0, merged: 0, dropped: 0,
    version: 0, // changes whenever a slot does (the WebGL renderer uploads then)
    key: new Array(MAX_ARCS).fill(''), // the merge key of the arc in the slot
    current: new Map(), // merge key -> the slot of its newest arc
    lon: new Float32Array(MAX_ARCS), lat: new Float32Array(MAX_ARCS), // source, NaN = off the map
    x0: new Float32Array(MAX_ARCS), y0: new Float32Array(MAX_ARCS), // projected source
    cx: new Float32Array(MAX_ARCS), cy: new Float32Array(MAX_ARCS), // control point of the curve
    lift: new Float32Array(MAX_ARCS), // 0..1, from the destination port
    t0: new Float64Array(MAX_ARCS).fill(-1e9), // start, performance.now() ms
    count: new Uint32Array(MAX_ARCS), // packets the arc stands for
    proto: new Uint8Array(MAX_ARCS), cls: new Uint8Array(MAX_ARCS),
  };
}

function classIndex(mask, bits) {
  for (let i = 0; i < CLASS_KEYS.length; i++) {
    const b = bits[CLASS_KEYS[i]];
    if (b >= 0 && mask & (1 << b)) return i;
  }
  return CLASS_KEYS.length;
}

// Destination-port range of a packet: 0 for ICMP, else 1 + floor(log2(port + 1)) (1..17).
function portBucket(p) {
  if (p.p === 1 || p.p === 58) return 0;
  return 1 + Math.floor(Math.log2((p.dp || 0) + 1));
}

// Arc height of a port range, 0..1 (log of the port, as before the merging).
function bucketLift(b) {
  return b === 0 ? 0.15 : Math.min(1, (b - 0.5) / 16);
}

// A small deterministic jitter from a string, so arcs of one country differ.
function hashStr(s) {
  let x = 2166136261;
  for (let i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 16777619);
  return (x >>> 0) / 4294967296;
}

// Width class of an arc from its packet count: 1, 2-9, 10 and more.
function widthClass(n) {
  return n >= 10 ? 2 : n >= 2 ? 1 : 0;
}
const WIDTHS = [1, 1.8, 2.8];
const HEADS = [2.5, 4, 6];

export function mount(el, ctx) {
  const { where, land } = loadCountries();
  const sensor = (ctx.meta && ctx.meta.sensor) || { lat: 35.71, lon: 139.49, name: 'sensor' };
  const bits = {};
  (ctx.meta && ctx.meta.classes || []).forEach((c, i) => { bits[c.name] = i; });
  for (const [i, k] of ['tcp_syn', 'backscatter', 'icmp_request', 'udp', 'amp_probe'].entries())
    if (bits[k] === undefined) bits[k] = i;

  // One opaque canvas on the page, WebGL2 where there is one. The map is drawn once per
  // resize into an offscreen canvas: a texture for WebGL, else copied under the arcs every
  // frame (on a software compositor such as SwiftShader every full-screen layer is blended
  // again for each frame, so a map layer beneath transparent arcs cost more than the copy).
  // The 2D context asks for CPU rasterisation (willReadFrequently): a few hundred short
  // strokes are cheap for Skia on the CPU, while an accelerated canvas on a software GL costs
  // far more per path.
  const base = document.createElement('canvas');
  const arcs = makeArcs();
  const glOpts = { maxArcs: MAX_ARCS, flight: FLIGHT, tail: TAIL, steps: STEPS, widths: WIDTHS,
    heads: HEADS };
  let canvas = h('canvas', { class: 'full', 'data-testid': 'atlas-canvas' });
  let gl = null;
  try {
    gl = makeGLRenderer(canvas, arcs, glOpts);
  } catch (e) {
    console.warn(`Atlas: WebGL2 failed (${e.message}); drawing in 2D`);
  }
  if (!gl) canvas = h('canvas', { class: 'full', 'data-testid': 'atlas-canvas' });
  const g = gl ? null : canvas.getContext('2d', { alpha: false, willReadFrequently: true });
  canvas.dataset.renderer = gl ? 'webgl2' : '2d';
  const ui = makeOverlay(ctx);
  el.append(canvas, ui.root);

  const stats = makeStats();
  const state = { w: 0, h: 0, dpr: 1, proj: null, sx: 0, sy: 0, byClass: false, lastBatch: 0,
    tick: 250 };
  ui.onMode((byClass) => { state.byClass = byClass; ui.legend(byClass); });
  ui.legend(false);
  window.darkscope.atlas = { arcs: 0, drawn: 0, started: 0, merged: 0, dropped: 0,
    capacity: MAX_ARCS };

  function resize() {
    state.dpr = Math.min(window.devicePixelRatio || 1, 2) * (gl ? gl.scale : 1);
    state.w = Math.max(1, el.clientWidth);
    state.h = Math.max(1, el.clientHeight);
    canvas.width = base.width = Math.round(state.w * state.dpr);
    canvas.height = base.height = Math.round(state.h * state.dpr);
    state.proj = geoNaturalEarth1().fitExtent([[10, 10], [state.w - 10, state.h - 10]],
      { type: 'Sphere' });
    [state.sx, state.sy] = state.proj([sensor.lon, sensor.lat]) || [state.w / 2, state.h / 2];
    drawBase(base, state, land);
    for (let i = 0; i < MAX_ARCS; i++) place(i);
    arcs.version++;
    if (gl) gl.resize(base, state.w, state.h, state.dpr, state.sx, state.sy);
  }

  // Projects slot i's source; unknown countries start just off the left edge.
  function place(i) {
    const p = Number.isNaN(arcs.lon[i]) ? null : state.proj([arcs.lon[i], arcs.lat[i]]);
    if (p) {
      arcs.x0[i] = p[0];
      arcs.y0[i] = p[1];
    } else {
      arcs.x0[i] = -20;
      arcs.y0[i] = state.h * (0.15 + 0.7 * ((arcs.lat[i] + 90) / 180 || 0.5));
    }
    control(arcs, i, state);
  }

  // One packet at time t (ms): joins the newest arc of its key when that started less than
  // MERGE s before, else starts an arc in the oldest slot if that one has landed; with every
  // slot in flight it joins its key's arc anyway, or is only counted (dropped).
  function addPacket(p, t) {
    stats.packet(p.cc || '');
    arcs.packets++;
    const proto = PROTOS.indexOf(protoName(p.p));
    const cls = classIndex(p.c || 0, bits);
    const pb = portBucket(p);
    const c = p.cc && where.get(p.cc);
    // unknown countries: eight bands off the left edge, by source address
    const loc = c ? p.cc : `?${Math.floor(hashStr(p.s || '') * 8)}`;
    const key = `${loc} ${proto} ${cls} ${pb}`;
    const cur = arcs.current.get(key);
    if (cur !== undefined && arcs.key[cur] === key && t - arcs.t0[cur] < MERGE * 1000) {
      grow(cur);
      return;
    }
    const i = arcs.head;
    if (t - arcs.t0[i] < (1 + TAIL) * FLIGHT * 1000) { // the oldest is still in flight
      if (cur !== undefined && arcs.key[cur] === key) {
        grow(cur);
      } else {
        arcs.dropped++;
      }
      return;
    }
    arcs.head = (i + 1) % MAX_ARCS;
    arcs.started++;
    if (arcs.current.get(arcs.key[i]) === i) arcs.current.delete(arcs.key[i]);
    arcs.key[i] = key;
    arcs.current.set(key, i);
    const j = hashStr(key);
    if (c) {
      arcs.lon[i] = c.lonlat[0] + (j - 0.5) * 4;
      arcs.lat[i] = c.lonlat[1] + (((j * 7919) % 1) - 0.5) * 3;
    } else {
      arcs.lon[i] = NaN;
      arcs.lat[i] = (Number(loc.slice(1)) + j) * 22.5 - 90; // the band off the edge
    }
    arcs.lift[i] = bucketLift(pb);
    place(i);
    arcs.t0[i] = t;
    arcs.count[i] = 1;
    arcs.proto[i] = proto;
    arcs.cls[i] = cls;
    arcs.version++;
  }

  // One more packet on slot i's arc (the renderer hears of it when its width changes).
  function grow(i) {
    const before = widthClass(arcs.count[i]);
    arcs.count[i]++;
    arcs.merged++;
    if (widthClass(arcs.count[i]) !== before) arcs.version++;
  }

  // A batch (one per server tick) is spread over the tick, so it does not pulse.
  function onPackets(list) {
    if (!Array.isArray(list) || !list.length) return;
    const now = performance.now();
    const gap = state.lastBatch ? now - state.lastBatch : state.tick;
    const spread = Math.min(SPREAD_MAX, gap, state.tick * 2);
    state.lastBatch = now;
    for (let k = 0; k < list.length; k++) addPacket(list[k], now + (spread * k) / list.length);
    const a = window.darkscope.atlas;
    a.drawn = arcs.packets;
    a.started = arcs.started;
    a.merged = arcs.merged;
    a.dropped = arcs.dropped;
  }

  const paths = { lines: [], heads: [] };
  const labels = [];
  function frame() {
    const now = performance.now();
    if (gl) {
      const live = liveArcs(arcs, state, now, labels);
      gl.frame(now, state.byClass ? CLASS_LIST.map((k) => CLASS_COLORS[k])
        : PROTOS.map((k) => protoColor[k]), state.byClass, labels);
      window.darkscope.atlas.arcs = live;
      stats.tick(now, ui, live, arcs);
      return;
    }
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.drawImage(base, 0, 0);
    g.setTransform(state.dpr, 0, 0, state.dpr, 0, 0);
    const live = drawArcs(g, arcs, state, now, paths);
    drawSensor(g, state, now);
    window.darkscope.atlas.arcs = live;
    stats.tick(now, ui, live, arcs);
  }

  resize();
  const on = (type, fn) => (ctx.stream ? ctx.stream.on(type, fn) : () => {});
  const offs = [on('packets', onPackets), on('summary', (s) => stats.summary(s)),
    on('hello', (d) => { if (d && d.tick_ms > 0) state.tick = d.tick_ms; })];
  if (ctx.stream && ctx.stream.tickMs) state.tick = ctx.stream.tickMs;
  window.addEventListener('resize', resize);
  const stop = animate(frame);
  return () => {
    stop();
    window.removeEventListener('resize', resize);
    for (const off of offs) off();
    if (gl) gl.dispose();
    canvas.width = canvas.height = base.width = base.height = 0;
  };
}

function drawBase(base, state, land) {
  const b = base.getContext('2d', { alpha: false, willReadFrequently: true }); // CPU, as the copy's target
  b.setTransform(state.dpr, 0, 0, state.dpr, 0, 0);
  b.fillStyle = '#0b0f14';
  b.fillRect(0, 0, state.w, state.h);
  const path = geoPath(state.proj, b);
  b.beginPath(); path({ type: 'Sphere' }); b.fillStyle = '#0e1620'; b.fill();
  b.beginPath(); path(geoGraticule10()); b.strokeStyle = '#16202c'; b.lineWidth = 0.5; b.stroke();
  b.beginPath(); path(land); b.fillStyle = '#1d2a38'; b.fill();
  b.strokeStyle = '#2c3d50'; b.lineWidth = 0.5; b.stroke();
  b.beginPath(); path({ type: 'Sphere' }); b.strokeStyle = '#243040'; b.lineWidth = 1; b.stroke();
}

// The control point of slot i's curve: above the midpoint, higher for higher ports.
function control(arcs, i, state) {
  const x0 = arcs.x0[i], y0 = arcs.y0[i], x1 = state.sx, y1 = state.sy;
  const d = Math.hypot(x1 - x0, y1 - y0);
  arcs.cx[i] = (x0 + x1) / 2;
  arcs.cy[i] = Math.max(-state.h * 0.2,
    (y0 + y1) / 2 - (0.15 + 0.85 * arcs.lift[i]) * Math.min(d * 0.6, state.h * 0.6));
}

// Point at u on the quadratic curve of slot i, written to out[0..1].
function curveAt(arcs, i, state, u, out) {
  const v = 1 - u, a = v * v, b = 2 * v * u, c = u * u;
  out[0] = a * arcs.x0[i] + b * arcs.cx[i] + c * state.sx;
  out[1] = a * arcs.y0[i] + b * arcs.cy[i] + c * state.sy;
}

// For the WebGL renderer (the shaders place the arcs): the arcs in flight, and the labels of
// big arcs (x, y, count triples) in labels, which is emptied first.
function liveArcs(arcs, state, now, labels) {
  labels.length = 0;
  const pt = [0, 0];
  let live = 0;
  for (let i = 0; i < MAX_ARCS; i++) {
    const u = (now - arcs.t0[i]) / (FLIGHT * 1000);
    if (u < 0 || u > 1 + TAIL) continue;
    live++;
    const n = arcs.count[i];
    if (u <= 1 && n >= LABEL_MIN && labels.length < LABELS_MAX * 3) {
      curveAt(arcs, i, state, u, pt);
      labels.push(pt[0] + HEADS[widthClass(n)] / 2 + 2, pt[1], n);
    }
  }
  return live;
}

// Strokes every live arc's tail (a faint and a bright half) into one path per colour, width
// class and half; heads are rectangles, one path per colour; counts are written next to the
// heads of big arcs. Returns the arcs in flight.
function drawArcs(g, arcs, state, now, paths) {
  const colors = state.byClass ? CLASS_LIST.map((k) => CLASS_COLORS[k])
    : PROTOS.map((k) => protoColor[k]);
  const nc = colors.length;
  const nl = nc * WIDTHS.length * 2;
  for (let k = 0; k < nl; k++) paths.lines[k] = null;
  for (let k = 0; k < nc; k++) paths.heads[k] = null;
  const pt = [0, 0];
  const labels = [];
  let live = 0;
  for (let i = 0; i < MAX_ARCS; i++) {
    const u = (now - arcs.t0[i]) / (FLIGHT * 1000);
    if (u < 0 || u > 1 + TAIL) continue;
    live++;
    const c = state.byClass ? arcs.cls[i] : arcs.proto[i];
    const n = arcs.count[i];
    const wc = widthClass(n);
    const tail = Math.max(0, u - TAIL);
    const head = Math.min(1, u);
    for (let half = 0; half < 2; half++) {
      const a = tail + ((head - tail) * half) / 2;
      const b = tail + ((head - tail) * (half + 1)) / 2;
      const k = (c * WIDTHS.length + wc) * 2 + half;
      const p = paths.lines[k] || (paths.lines[k] = new Path2D());
      curveAt(arcs, i, state, a, pt);
      p.moveTo(pt[0], pt[1]);
      for (let s = 1; s <= STEPS; s++) {
        curveAt(arcs, i, state, a + ((b - a) * s) / STEPS, pt);
        p.lineTo(pt[0], pt[1]);
      }
    }
    if (u <= 1) {
      curveAt(arcs, i, state, u, pt);
      const r = HEADS[wc] / 2;
      const p = paths.heads[c] || (paths.heads[c] = new Path2D());
      p.rect(pt[0] - r, pt[1] - r, 2 * r, 2 * r);
      if (n >= LABEL_MIN && labels.length < LABELS_MAX * 3) labels.push(pt[0] + r + 2, pt[1], n);
    }
  }
  for (let c = 0; c < nc; c++) {
    g.strokeStyle = colors[c];
    for (let wc = 0; wc < WIDTHS.length; wc++) {
      g.lineWidth = WIDTHS[wc];
      for (let half = 0; half < 2; half++) {
        const p = paths.lines[(c * WIDTHS.length + wc) * 2 + half];
        if (!p) continue;
        g.globalAlpha = half ? 0.9 : 0.35;
        g.stroke(p);
      }
    }
    g.globalAlpha = 1;
    if (paths.heads[c]) {
      g.fillStyle = colors[c];
      g.fill(paths.heads[c]);
    }
  }
  if (labels.length) {
    g.font = '11px system-ui, sans-serif';
    g.textBaseline = 'middle';
    g.fillStyle = '#e8eef5';
    for (let k = 0; k < labels.length; k += 3) g.fillText(`×${labels[k + 2]}`, labels[k], labels[k + 1]);
  }
  return live;
}

function drawSensor(g, state, now) {
  const r = 4 + ((now / 1000) % 1.5) * 8;
  g.beginPath();
  g.arc(state.sx, state.sy, r, 0, Math.PI * 2);
  g.strokeStyle = '#ffffff';
  g.globalAlpha = Math.max(0, 1 - r / 16);
  g.lineWidth = 1.5;
  g.stroke();
  g.globalAlpha = 1;
  g.beginPath();
  g.arc(state.sx, state.sy, 3, 0, Math.PI * 2);
  g.fillStyle = '#ffffff';
  g.fill();
}

// Counters: packets per second, total, skipped (summaries), top source countries of the
// last minute in per-second buckets.
function makeStats() {
  const buckets = Array.from({ length: 60 }, () => new Map());
  let cur = 0, total = 0, skipped = 0, second = 0, lastShown = 0, inSecond = 0, rate = 0;
  let topAt = 0;
  return {
    packet(cc) {
      total++;
      inSecond++;
      const m = buckets[cur];
      const k = cc || '??';
      m.set(k, (m.get(k) || 0) + 1);
    },
    summary(s) { skipped += (s && s.skipped) || 0; },
    tick(now, ui, live, arcs) {
      if (!second) second = now;
      if (now - second >= 1000) {
        rate = (inSecond * 1000) / (now - second);
        inSecond = 0;
        second = now;
        cur = (cur + 1) % 60;
        buckets[cur].clear();
      }
      if (now - topAt >= 1000) {
        topAt = now;
        ui.top(topCountries(buckets));
      }
      if (now - lastShown >= 250) {
        lastShown = now;
        ui.counters({ rate, total, skipped, live, merged: arcs.merged, dropped: arcs.dropped });
      }
    },
  };
}

// Writes text only when it changed (an unchanged counter costs no layout or paint).
function set(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function topCountries(buckets) {
  const sum = new Map();
  for (const m of buckets) for (const [k, v] of m) sum.set(k, (sum.get(k) || 0) + v);
  return [...sum].sort((a, b) => b[1] - a[1]).slice(0, 5);
}

// The overlay: counters and top countries on the left, legend and colour toggle on the right.
function makeOverlay(ctx) {
  const rate = h('b', {}, '0');
  const total = h('b', {}, '0');
  const counter = h('div', { class: 'counter', 'data-testid': 'atlas-counter' },
    rate, ' packets/s · ', total, ' total');
  const live = h('b', {}, '0');
  const merged = h('b', {}, '0');
  const skipped = h('b', {}, '0');
  const topList = h('ol', { style: 'margin:4px 0 0;padding-left:20px' });
  const staff = !ctx.isStaff || ctx.isStaff();
  const left = h('div', { class: 'overlay' },
    counter,
    h('div', { class: 'counter', 'data-testid': 'atlas-arcs' }, live, ' arcs in flight · ', merged,
      ' packets merged into arcs'),
    staff ? h('div', { class: 'counter' }, skipped, ' skipped (over the rate)') : null,
    h('div', { class: 'muted', style: 'margin-top:6px' }, 'Top source countries, last minute'),
    topList);
  const legend = h('div', { class: 'legend' });
  const toggle = h('button', { type: 'button', style: 'pointer-events:auto;margin-top:6px',
    'data-testid': 'atlas-color-toggle' }, 'Colour by class');
  const right = h('div', { class: 'overlay right' }, legend,
    h('div', { class: 'muted', style: 'margin-top:4px' }, 'arc height: destination port (log)'),
    h('div', { class: 'muted' }, 'one arc: a source country, class and port range;'),
    h('div', { class: 'muted' }, `width and ×N: its packets (from ${LABEL_MIN})`),
    toggle);
  const { where } = loadCountries();
  let byClass = false;
  let modeFn = () => {};
  toggle.addEventListener('click', () => {
    byClass = !byClass;
    toggle.textContent = byClass ? 'Colour by protocol' : 'Colour by class';
    modeFn(byClass);
  });
  return {
    root: h('div', {}, left, right),
    onMode(fn) { modeFn = fn; },
    legend(cls) {
      while (legend.firstChild) legend.removeChild(legend.firstChild);
      const keys = cls ? CLASS_LIST : PROTOS;
      for (const k of keys) {
        const c = cls ? CLASS_COLORS[k] : protoColor[k];
        legend.append(h('span', { style: `background:${c}` }), k);
      }
    },
    counters(s) {
      set(rate, fmt(Math.round(s.rate)));
      set(total, fmt(s.total));
      set(live, fmt(s.live));
      set(merged, fmt(s.merged));
      set(skipped, fmt(s.skipped));
      counter.dataset.rate = String(Math.round(s.rate));
      counter.dataset.total = String(s.total);
    },
    top(list) {
      const key = list.map(([cc, n]) => `${cc}:${n}`).join(' ');
      if (topList.dataset.key === key) return;
      topList.dataset.key = key;
      while (topList.firstChild) topList.removeChild(topList.firstChild);
      for (const [cc, n] of list) {
        const c = where.get(cc);
        const name = cc === '??' ? 'unknown' : c && c.name !== cc ? `${cc} ${c.name}` : cc;
        topList.append(h('li', {}, `${name}: ${fmt(n)}`));
      }
    },
  };
}
