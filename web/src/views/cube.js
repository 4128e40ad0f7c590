// cube.js - Cube (after NICTER's Cube), in three.js: the left face is the source (address up
// the vertical axis, source port along the horizontal), the right face the darknet
// (position in the darknet up, destination port along); each packet is a short bar that
// travels from its left-face point to its right-face point, coloured by protocol, and leaves
// a fading mark on both faces. A horizontal scan of one port draws a vertical line on the
// right face, a port sweep of one host a horizontal line, backscatter a fixed source port
// with random destination ports. All packets live in one fixed-size ring buffer geometry;
// the shaders move them, so a frame only uploads the slots written since the last one.
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { h, fmt, protoName, protoColor, animate } from '../dom.js';
import { webglContext, renderScale } from '../gl.js';

// The ring bounds the work of a frame: every slot's two vertices go through the vertex shader
// twice (lines, points), live or not, and on a software GL that is most of a frame's cost
// beyond the fixed one. At 2,000 packets/s, 4,096 slots hold the last 2 s: every bar in
// flight and the freshest half of the fading marks (the oldest marks go first).
const CAP = 4096;     // packets in the ring (in flight or fading)
const FLIGHT = 1.5;   // seconds from the left face to the right face
const HOLD = 1.5;     // seconds a mark stays on the faces after arrival
const MAX_BLOCKS = 256; // darknet blocks shown as bands on the right face
const PROTOS = ['tcp', 'udp', 'icmp', 'other'];

// Address parsing (v4 as a 32-bit number; v6 as eight 16-bit groups).
export function parseIPv4(s) {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) return null;
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

export function parseIPv6(s) {
  if (typeof s !== 'string' || s.indexOf(':') < 0) return null;
  const parts = s.split('::');
  if (parts.length > 2) return null;
  const side = (x) => (x ? x.split(':').map((g) => parseInt(g, 16)) : []);
  const a = side(parts[0]), b = side(parts[1]);
  const fill = parts.length === 2 ? 8 - a.length - b.length : 0;
  const g = [...a, ...new Array(Math.max(0, fill)).fill(0), ...b];
  return g.length === 8 && g.every((x) => x >= 0 && x <= 0xffff) ? g : null;
}

// Source address -> 0..1 up the left face (v6: the 32 bits after the /32 allocation).
function sourcePos(s) {
  const v4 = parseIPv4(s);
  if (v4 !== null) return v4 / 4294967296;
  const g = parseIPv6(s);
  return g ? ((g[2] * 65536 + g[3]) >>> 0) / 4294967296 : 0;
}

// Darknet addresses as bands: every /24 (v6: /48) seen gets an equal share of the right
// face, in address order; the position within the band is the host part.
function makeDarknet() {
  const blocks = new Map(); // key -> {key, label, v6, order}
  let list = [];
  let changed = false;
  function block(d) {
    const v4 = parseIPv4(d);
    let key, label, off, v6 = false;
    if (v4 !== null) {
      key = v4 >>> 8;
      label = `${v4 >>> 24}.${(v4 >>> 16) & 255}.${(v4 >>> 8) & 255}.0/24`;
      off = (v4 & 255) / 256;
    } else {
      const g = parseIPv6(d);
      if (!g) return null;
      key = g.slice(0, 3).map((x) => x.toString(16)).join(':');
      label = `${key}::/48`;
      off = g[7] / 65536;
      v6 = true;
    }
    let b = blocks.get(key);
    if (!b && blocks.size < MAX_BLOCKS) {
      b = { key, label, v6, order: 0 };
      blocks.set(key, b);
      list = [...blocks.values()].sort((x, y) =>
        x.v6 !== y.v6 ? (x.v6 ? 1 : -1) : x.key < y.key ? -1 : x.key > y.key ? 1 : 0);
      list.forEach((x, i) => { x.order = i; });
      changed = true;
    }
    return { b, off };
  }
  return {
    pos(d) {
      const r = block(d);
      if (!r) return 0;
      if (!r.b) return r.off; // over the cap: the host part only
      return (r.b.order + r.off) / list.length;
    },
    bands() { return list; },
    takeChanged() { const c = changed; changed = false; return c; },
  };
}

const VERTEX = `
attribute vec4 a_pk;   // source pos, source port, darknet pos, destination port (0..1)
attribute float a_t0;  // start, seconds
attribute float a_kind;
attribute float a_end; // 0: tail / source mark, 1: head / destination mark
uniform float u_time, u_flight, u_hold, u_log, u_marks, u_size;
uniform vec3 u_colors[4];
varying vec3 v_color;
varying float v_alpha;
float port(float p) { return u_log > 0.5 ? log(1.0 + p * 65535.0) / log(65536.0) : p; }
void main() {
  float p = (u_time - a_t0) / u_flight;
  float hold = u_hold / u_flight;
  vec3 L = vec3(-1.0, a_pk.x * 2.0 - 1.0, 1.0 - 2.0 * port(a_pk.y));
  vec3 R = vec3(1.0, a_pk.z * 2.0 - 1.0, 1.0 - 2.0 * port(a_pk.w));
  int k = int(a_kind + 0.5);
  v_color = k == 0 ? u_colors[0] : k == 1 ? u_colors[1] : k == 2 ? u_colors[2] : u_colors[3];
  vec3 pos;
  if (u_marks < 0.5) {              // the travelling bar: tail to head
    if (p < 0.0 || p > 1.0) { gl_Position = vec4(2.0, 2.0, 2.0, 1.0); return; }
    pos = mix(L, R, a_end > 0.5 ? p : max(p - 0.06, 0.0));
    v_alpha = a_end > 0.5 ? 1.0 : 0.1;
  } else {                          // head, then marks on the faces
    if (p < 0.0 || p > 1.0 + hold) { gl_Position = vec4(2.0, 2.0, 2.0, 1.0); return; }
    float fade = p <= 1.0 ? 1.0 : 1.0 - (p - 1.0) / hold;
    pos = a_end > 0.5 ? mix(L, R, min(p, 1.0)) : L;
    v_alpha = a_end > 0.5 ? fade : 0.6 * fade;
  }
  vec4 mv = modelViewMatrix * vec4(pos, 1.0);
  gl_Position = projectionMatrix * mv;
  gl_PointSize = u_size * (a_end > 0.5 && p <= 1.0 ? 1.6 : 1.0);
}`;

const FRAGMENT = `
varying vec3 v_color;
varying float v_alpha;
void main() {
  if (v_alpha <= 0.01) discard;
  gl_FragColor = vec4(v_color, v_alpha);
}`;

// The packet ring: one BufferGeometry, two vertices per packet, drawn as lines and points.
function makePackets(uniforms) {
  const g = new THREE.BufferGeometry();
  const pk = new THREE.BufferAttribute(new Float32Array(CAP * 2 * 4), 4);
  const t0 = new THREE.BufferAttribute(new Float32Array(CAP * 2).fill(-1e6), 1);
  const kind = new THREE.BufferAttribute(new Float32Array(CAP * 2), 1);
  const end = new THREE.BufferAttribute(new Float32Array(CAP * 2), 1);
  for (let i = 0; i < CAP; i++) end.array[2 * i + 1] = 1;
  for (const a of [pk, t0, kind]) a.setUsage(THREE.DynamicDrawUsage);
  g.setAttribute('position', new THREE.BufferAttribute(new Float32Array(CAP * 2 * 3), 3));
  g.setAttribute('a_pk', pk);
  g.setAttribute('a_t0', t0);
  g.setAttribute('a_kind', kind);
  g.setAttribute('a_end', end);
  g.boundingSphere = new THREE.Sphere(new THREE.Vector3(), 3);
  const mat = (marks) => new THREE.ShaderMaterial({
    vertexShader: VERTEX, fragmentShader: FRAGMENT, transparent: true, depthWrite: false,
    blending: THREE.AdditiveBlending,
    uniforms: { ...uniforms, u_marks: { value: marks ? 1 : 0 } },
  });
  const lines = new THREE.LineSegments(g, mat(false));
  const points = new THREE.Points(g, mat(true));
  lines.frustumCulled = points.frustumCulled = false;
  const ring = { head: 0, dirty: 0, dirtyFrom: 0, total: 0 };
  return {
    objects: [lines, points],
    add(a, b, c, d, t, k) {
      const i = ring.head;
      ring.head = (i + 1) % CAP;
      if (ring.dirty === 0) ring.dirtyFrom = i;
      ring.dirty++;
      ring.total++;
      for (let e = 0; e < 2; e++) {
        const v = 2 * i + e;
        pk.array[4 * v] = a; pk.array[4 * v + 1] = b;
        pk.array[4 * v + 2] = c; pk.array[4 * v + 3] = d;
        t0.array[v] = t;
        kind.array[v] = k;
      }
    },
    // Uploads the slots written since the last frame (one or two ranges, or all).
    flush() {
      if (!ring.dirty) return;
      const ranges = ring.dirty >= CAP ? [[0, CAP]]
        : ring.dirtyFrom + ring.dirty <= CAP ? [[ring.dirtyFrom, ring.dirty]]
          : [[ring.dirtyFrom, CAP - ring.dirtyFrom], [0, ring.dirty - (CAP - ring.dirtyFrom)]];
      for (const a of [pk, t0, kind]) {
        a.clearUpdateRanges();
        for (const [s, n] of ranges) a.addUpdateRange(s * 2 * a.itemSize, n * 2 * a.itemSize);
        a.needsUpdate = true;
      }
      ring.dirty = 0;
    },
    // In flight at time t (seconds).
    live(t) {
      let n = 0;
      const a = t0.array;
      for (let i = 0; i < CAP * 2; i += 2) {
        const p = t - a[i];
        if (p >= 0 && p <= FLIGHT) n++;
      }
      return n;
    },
    total: () => ring.total,
    dispose() { g.dispose(); lines.material.dispose(); points.material.dispose(); },
  };
}

// A text sprite; its canvas texture is freed with the scene (see disposeTree).
function label(text, size, color) {
  const c = document.createElement('canvas');
  const g = c.getContext('2d');
  const px = 28;
  g.font = `${px}px system-ui, sans-serif`;
  c.width = Math.ceil(g.measureText(text).width) + 8;
  c.height = px + 10;
  g.font = `${px}px system-ui, sans-serif`;
  g.fillStyle = color || '#a9b8c8';
  g.textBaseline = 'middle';
  g.fillText(text, 4, c.height / 2);
  const tex = new THREE.CanvasTexture(c);
  tex.minFilter = THREE.LinearFilter;
  const s = new THREE.Sprite(new THREE.SpriteMaterial({ map: tex, transparent: true,
    depthWrite: false }));
  s.scale.set((size * c.width) / c.height, size, 1);
  return s;
}

function disposeTree(obj) {
  obj.traverse((o) => {
    if (o.geometry) o.geometry.dispose();
    if (o.material) {
      if (o.material.map) o.material.map.dispose();
      o.material.dispose();
    }
  });
}

const PORT_TICKS = { lin: [0, 16384, 32768, 49152, 65535], log: [1, 16, 256, 4096, 65535] };
const ADDR_TICKS = ['0.0.0.0', '64.0.0.0', '128.0.0.0', '192.0.0.0', '255.255.255.255'];

function portZ(port, log) {
  const p = log ? Math.log1p(port) / Math.log(65536) : port / 65535;
  return 1 - 2 * p;
}

// The cube's edges (static).
function makeEdges() {
  const g = new THREE.EdgesGeometry(new THREE.BoxGeometry(2, 2, 2));
  return new THREE.LineSegments(g, new THREE.LineBasicMaterial({ color: 0x3a4d63 }));
}

// Face grids and labels: rebuilt when the port scale or the darknet bands change.
function makeFaces(log, bands) {
  const group = new THREE.Group();
  const v = [];
  const seg = (a, b) => v.push(...a, ...b);
  for (const x of [-1, 1]) {
    for (const port of PORT_TICKS[log ? 'log' : 'lin']) {
      const z = portZ(port, log);
      seg([x, -1, z], [x, 1, z]);
    }
  }
  for (let i = 1; i < 4; i++) seg([-1, -1 + i * 0.5, -1], [-1, -1 + i * 0.5, 1]);
  for (let i = 1; i < bands.length; i++) {
    const y = -1 + (2 * i) / bands.length;
    seg([1, y, -1], [1, y, 1]);
  }
  const gg = new THREE.BufferGeometry();
  gg.setAttribute('position', new THREE.Float32BufferAttribute(v, 3));
  group.add(new THREE.LineSegments(gg, new THREE.LineBasicMaterial({ color: 0x1d2836 })));
  for (const x of [-1, 1]) {
    for (const port of PORT_TICKS[log ? 'log' : 'lin']) {
      const s = label(String(port), 0.055);
      s.position.set(x, -1.07, portZ(port, log));
      group.add(s);
    }
  }
  ADDR_TICKS.forEach((t, i) => {
    const s = label(t, 0.055);
    s.position.set(-1.18, -1 + i * 0.5, 1);
    group.add(s);
  });
  const every = Math.max(1, Math.ceil(bands.length / 16));
  bands.forEach((b, i) => {
    if (i % every) return;
    const s = label(b.label, 0.055);
    s.position.set(1.2, -1 + (2 * (i + 0.5)) / bands.length, 1);
    group.add(s);
  });
  const titles = [['source address × source port', -1], ['darknet address × destination port', 1]];
  for (const [t, x] of titles) {
    const s = label(t, 0.08, '#d8e1ea');
    s.position.set(x, 1.14, 0);
    group.add(s);
  }
  return group;
}

function makeOverlay(onLog) {
  const bars = h('b', {}, '0');
  const total = h('b', {}, '0');
  const legend = h('div', { class: 'legend' },
    PROTOS.map((k) => [h('span', { style: `background:${protoColor[k]}` }), k]));
  const btn = h('button', { type: 'button', style: 'pointer-events:auto;margin-top:6px',
    'data-testid': 'cube-port-scale' }, 'Port axis: linear');
  let log = false;
  btn.addEventListener('click', () => {
    log = !log;
    btn.textContent = `Port axis: ${log ? 'log' : 'linear'}`;
    onLog(log);
  });
  const root = h('div', {},
    h('div', { class: 'overlay' },
      h('div', { class: 'counter', 'data-testid': 'cube-counter' }, bars, ' bars in flight · ',
        total, ' packets'),
      h('div', { class: 'muted' }, 'left: source · right: darknet · drag to rotate')),
    h('div', { class: 'overlay right' }, legend, btn));
  return { root, show(b, t) { bars.textContent = fmt(b); total.textContent = fmt(t); } };
}

export function mount(el, ctx) {
  const canvas = h('canvas', { class: 'full', 'data-testid': 'cube-canvas' });
  el.append(canvas);
  window.darkscope.cube = { bars: 0, total: 0, capacity: CAP };
  const attrs = { antialias: false, powerPreference: 'high-performance' };
  const context = webglContext(canvas, attrs);
  let renderer;
  try {
    if (!context) throw new Error('no WebGL context');
    renderer = new THREE.WebGLRenderer({ canvas, context, ...attrs });
  } catch (e) {
    el.append(h('p', { class: 'page error' }, 'WebGL is not available: the Cube needs it.'));
    return () => {};
  }
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2) * renderScale(context));
  renderer.setClearColor(0x0b0f14, 1);
  const scene = new THREE.Scene();
  const camera = new THREE.PerspectiveCamera(50, 1, 0.05, 50);
  camera.position.set(0.35, 0.55, 3.6);
  const controls = new OrbitControls(camera, canvas);
  controls.enableDamping = true;
  controls.target.set(0, 0, 0);
  controls.update();

  const colors = PROTOS.map((k) => new THREE.Color(protoColor[k]));
  const uniforms = { u_time: { value: 0 }, u_flight: { value: FLIGHT }, u_hold: { value: HOLD },
    u_log: { value: 0 }, u_size: { value: 3 * renderer.getPixelRatio() },
    u_colors: { value: colors } };
  const packets = makePackets(uniforms);
  const darknet = makeDarknet();
  const edges = makeEdges();
  scene.add(edges, ...packets.objects);
  let faces = null;
  const state = { log: false };
  const rebuildFaces = () => {
    if (faces) { scene.remove(faces); disposeTree(faces); }
    faces = makeFaces(state.log, darknet.bands());
    scene.add(faces);
  };
  rebuildFaces();
  const ui = makeOverlay((log) => { state.log = log; uniforms.u_log.value = log ? 1 : 0; rebuildFaces(); });
  el.append(ui.root);

  const t0 = performance.now();
  const clock = () => (performance.now() - t0) / 1000;
  let lastBatch = 0;
  const onPackets = (list) => {
    if (!Array.isArray(list) || !list.length) return;
    const now = clock();
    // one batch per server tick: spread over the gap since the last one (two ticks at most)
    const tick = (ctx.stream && ctx.stream.tickMs ? ctx.stream.tickMs : 250) / 1000;
    const spread = Math.min(1, 2 * tick, lastBatch ? now - lastBatch : tick);
    lastBatch = now;
    for (let k = 0; k < list.length; k++) {
      const p = list[k];
      packets.add(sourcePos(p.s), (p.sp || 0) / 65535, darknet.pos(p.d), (p.dp || 0) / 65535,
        now + (spread * k) / list.length, PROTOS.indexOf(protoName(p.p)));
    }
  };
  const off = ctx.stream ? ctx.stream.on('packets', onPackets) : () => {};

  const resize = () => {
    const w = Math.max(1, el.clientWidth), hh = Math.max(1, el.clientHeight);
    renderer.setSize(w, hh, false);
    camera.aspect = w / hh;
    camera.updateProjectionMatrix();
  };
  resize();
  window.addEventListener('resize', resize);

  let shown = 0;
  const stop = animate(() => {
    const t = clock();
    if (darknet.takeChanged()) rebuildFaces();
    packets.flush();
    uniforms.u_time.value = t;
    controls.update();
    renderer.render(scene, camera);
    if (t - shown > 0.25) { // counted 4 times a second, not per frame
      shown = t;
      const bars = packets.live(t);
      window.darkscope.cube.bars = bars;
      window.darkscope.cube.total = packets.total();
      ui.show(bars, packets.total());
    }
  });

  return () => {
    stop();
    off();
    window.removeEventListener('resize', resize);
    controls.dispose();
    packets.dispose();
    disposeTree(edges);
    if (faces) disposeTree(faces);
    renderer.dispose();
    renderer.forceContextLoss();
  };
}
