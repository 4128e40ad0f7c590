// orgs.js - the organisation view (after DAEDALUS-VIZ), in three.js: a wire sphere is the
// whole IPv4 space (longitude: the /16, one per meridian; latitude: the lower 16 bits, north
// to south); each registered organisation is a self-rotating ring floating over the centre
// of its livenet (light blue; its darknet a second, dark blue ring), labelled with its name.
// Packets from an organisation's livenet drift like comets from the sphere onto its ring;
// other packets flicker on the sphere. Alerts are marks on the ring at the offending
// address (red: new, yellow: continuing/reopened); a new alert flashes across the screen.
// Beside the sphere, a table of the organisations with their ranges and open alerts.
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { h, clear, fmt, protoName, protoColor, animate } from '../dom.js';
import { webglContext } from '../gl.js';

const CAP = 4096;     // comets and flickers in the ring buffer
const FLIGHT = 2.0;   // seconds a comet takes from the sphere to its ring
const FLICKER = 1.2;  // seconds a packet from elsewhere shows on the sphere
const ORBIT = 1.38;   // ring centres, in sphere radii
const SPIN = 0.25;    // ring self-rotation, radians per second
const MARKS_MAX = 1024;
const FLASH_MS = 2600;
const PROTOS = ['tcp', 'udp', 'icmp', 'other'];
const LIVENET = 0x81d4fa, DARKNET = 0x1e63d6;
const MARK = { new: new THREE.Color(0xef5350), continuing: new THREE.Color(0xffd54f) };

// ------------------------------------------------------------------ addresses --------

function parseIPv4(s) {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(String(s));
  if (!m) return null;
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) return null;
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

// "a.b.c.d/n" -> {start, size} (v4) or {v6: true}; null if unreadable.
export function parseCIDR(text) {
  const [a, l] = String(text).split('/');
  if (a.indexOf(':') >= 0) return { v6: true, text };
  const ip = parseIPv4(a);
  const len = l === undefined ? 32 : Number(l);
  if (ip === null || !Number.isInteger(len) || len < 0 || len > 32) return null;
  const size = 2 ** (32 - len);
  const start = len === 0 ? 0 : (ip - (ip % size)) >>> 0;
  return { v6: false, text, start, size };
}

// Address (number) -> unit vector: longitude = top 16 bits, latitude = low 16 (N to S).
function sphereDir(ip, out) {
  const lon = ((ip >>> 16) / 65536) * Math.PI * 2;
  const lat = ((80 - ((ip & 0xffff) / 65535) * 160) * Math.PI) / 180;
  return out.set(Math.cos(lat) * Math.cos(lon), Math.sin(lat), -Math.cos(lat) * Math.sin(lon));
}

// Ranges of one kind of one organisation, with their running offsets for ring angles.
function rangeSet(list) {
  const v4 = [];
  let total = 0;
  for (const t of list || []) {
    const r = parseCIDR(t);
    if (r && !r.v6) { v4.push({ ...r, offset: total }); total += r.size; }
  }
  return { v4, total };
}

// Share (0..1) of an address around the ring of a range set, or -1 if outside it.
function share(set, ip) {
  for (const r of set.v4)
    if (ip >= r.start && ip - r.start < r.size) return (r.offset + ip - r.start) / set.total;
  return -1;
}

function centreDir(set) {
  const sum = new THREE.Vector3();
  const v = new THREE.Vector3();
  for (const r of set.v4) sum.add(sphereDir((r.start + Math.floor(r.size / 2)) >>> 0, v));
  if (sum.lengthSq() < 1e-6) sphereDir(set.v4[0].start, sum);
  return sum.normalize();
}

// ------------------------------------------------------------------ scene parts ------

function label(text, size, color) {
  const c = document.createElement('canvas');
  const g = c.getContext('2d');
  const px = 30;
  g.font = `600 ${px}px system-ui, sans-serif`;
  c.width = Math.min(1024, Math.ceil(g.measureText(text).width) + 12);
  c.height = px + 12;
  g.font = `600 ${px}px system-ui, sans-serif`;
  g.textBaseline = 'middle';
  g.fillStyle = 'rgba(11,15,20,0.6)';
  g.fillRect(0, 0, c.width, c.height);
  g.fillStyle = color || '#d8e1ea';
  g.fillText(text, 6, c.height / 2);
  const tex = new THREE.CanvasTexture(c);
  tex.minFilter = THREE.LinearFilter;
  const s = new THREE.Sprite(new THREE.SpriteMaterial({ map: tex, depthWrite: false,
    transparent: true }));
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

// The wire sphere: meridians every 16th /8 (a /4), parallels every 20 degrees.
function makeSphere() {
  const group = new THREE.Group();
  group.add(new THREE.Mesh(new THREE.SphereGeometry(0.99, 48, 24),
    new THREE.MeshBasicMaterial({ color: 0x0d141c })));
  const v = [];
  const p = (lon, lat) => [Math.cos(lat) * Math.cos(lon), Math.sin(lat), -Math.cos(lat) * Math.sin(lon)];
  const rad = Math.PI / 180;
  for (let m = 0; m < 16; m++) {
    const lon = (m / 16) * Math.PI * 2;
    for (let i = 0; i < 32; i++)
      v.push(...p(lon, (-80 + (160 * i) / 32) * rad), ...p(lon, (-80 + (160 * (i + 1)) / 32) * rad));
  }
  for (let lat = -80; lat <= 80; lat += 20) {
    for (let i = 0; i < 64; i++)
      v.push(...p((i / 64) * Math.PI * 2, lat * rad), ...p(((i + 1) / 64) * Math.PI * 2, lat * rad));
  }
  const g = new THREE.BufferGeometry();
  g.setAttribute('position', new THREE.Float32BufferAttribute(v, 3));
  group.add(new THREE.LineSegments(g, new THREE.LineBasicMaterial({ color: 0x2a3a4d })));
  for (const o of [0, 64, 128, 192]) {
    const s = label(`${o}.0.0.0/8`, 0.07, '#7f8fa3');
    s.position.copy(sphereDir((o << 24) >>> 0, new THREE.Vector3())).multiplyScalar(1.06);
    s.position.y = 0.93;
    group.add(s);
  }
  return group;
}

// One ring: an orbit frame facing out from the sphere, a spinning frame inside it holding
// the torus and the alert marks. Points at a share of the ring come out in world space.
function makeRing(set, color, radius) {
  const dir = centreDir(set);
  const orbit = new THREE.Group();
  orbit.position.copy(dir).multiplyScalar(ORBIT);
  orbit.quaternion.setFromUnitVectors(new THREE.Vector3(0, 0, 1), dir);
  const spin = new THREE.Group();
  orbit.add(spin);
  spin.add(new THREE.Mesh(new THREE.TorusGeometry(radius, 0.01, 6, 96),
    new THREE.MeshBasicMaterial({ color })));
  const mg = new THREE.BufferGeometry();
  mg.setAttribute('position', new THREE.BufferAttribute(new Float32Array(MARKS_MAX * 3), 3));
  mg.setAttribute('color', new THREE.BufferAttribute(new Float32Array(MARKS_MAX * 3), 3));
  mg.setDrawRange(0, 0);
  const marks = new THREE.Points(mg, new THREE.PointsMaterial({ size: 9, sizeAttenuation: false,
    vertexColors: true, depthTest: false, transparent: true }));
  marks.frustumCulled = false;
  marks.renderOrder = 2;
  spin.add(marks);
  const u = new THREE.Vector3(1, 0, 0).applyQuaternion(orbit.quaternion);
  const w = new THREE.Vector3(0, 1, 0).applyQuaternion(orbit.quaternion);
  return {
    set, orbit, spin, marks, radius, dir,
    // World position of share s at time t (seconds), into out.
    at(s, t, out) {
      const a = s * Math.PI * 2 + SPIN * t;
      return out.copy(orbit.position).addScaledVector(u, radius * Math.cos(a))
        .addScaledVector(w, radius * Math.sin(a));
    },
    setMarks(list) {
      const pos = mg.attributes.position, col = mg.attributes.color;
      const n = Math.min(list.length, MARKS_MAX);
      for (let i = 0; i < n; i++) {
        const a = list[i].share * Math.PI * 2;
        pos.setXYZ(i, radius * Math.cos(a), radius * Math.sin(a), 0);
        col.setXYZ(i, list[i].color.r, list[i].color.g, list[i].color.b);
      }
      pos.needsUpdate = col.needsUpdate = true;
      mg.setDrawRange(0, n);
      return n;
    },
  };
}

function ringRadius(total) {
  return Math.min(0.34, 0.12 + 0.01 * Math.log2(Math.max(1, total)));
}

// An organisation's rings (livenet, and darknet if it has IPv4 darknet ranges) and label.
function makeOrg(org) {
  const live = rangeSet(org.livenet);
  const dark = rangeSet(org.darknet);
  const o = { org, live, dark, ring: null, darkRing: null, group: new THREE.Group() };
  if (live.v4.length) {
    o.ring = makeRing(live, LIVENET, ringRadius(live.total));
    o.group.add(o.ring.orbit);
    const s = label(org.name, 0.085);
    s.position.set(0, 0, 0.02);
    o.ring.orbit.add(s);
  }
  if (dark.v4.length) {
    o.darkRing = makeRing(dark, DARKNET, ringRadius(dark.total) * 0.7);
    o.darkRing.orbit.position.multiplyScalar(1.04);
    o.group.add(o.darkRing.orbit);
  }
  return o;
}

// ------------------------------------------------------------------ comets -----------

const VERTEX = `
attribute vec3 a_from;
attribute vec3 a_to;
attribute float a_t0;
attribute float a_kind;  // 0..3 protocol comets, 4 a flicker on the sphere
attribute float a_end;   // 0 tail, 1 head
uniform float u_time, u_flight, u_flicker, u_marks, u_size;
uniform vec3 u_colors[5];
varying vec3 v_color;
varying float v_alpha;
void main() {
  int k = int(a_kind + 0.5);
  v_color = k == 0 ? u_colors[0] : k == 1 ? u_colors[1] : k == 2 ? u_colors[2]
          : k == 3 ? u_colors[3] : u_colors[4];
  float life = k == 4 ? u_flicker : u_flight;
  float p = (u_time - a_t0) / life;
  bool hide = p < 0.0 || p > 1.0 || (k == 4 && (u_marks < 0.5 || a_end < 0.5));
  if (hide) { gl_Position = vec4(2.0, 2.0, 2.0, 1.0); return; }
  float q = a_end > 0.5 ? p : max(p - 0.12, 0.0);
  q = 1.0 - (1.0 - q) * (1.0 - q);              // ease out
  vec3 pos = mix(a_from, a_to, q);
  pos *= 1.0 + 0.25 * sin(3.14159 * q) * (k == 4 ? 0.0 : 1.0); // bulge outwards
  v_alpha = k == 4 ? 0.7 * (1.0 - p) : a_end > 0.5 ? 1.0 : 0.05;
  gl_Position = projectionMatrix * modelViewMatrix * vec4(pos, 1.0);
  gl_PointSize = u_size * (k == 4 ? 0.8 : 1.0);
}`;

const FRAGMENT = `
varying vec3 v_color;
varying float v_alpha;
void main() {
  if (v_alpha <= 0.01) discard;
  gl_FragColor = vec4(v_color, v_alpha);
}`;

function makeComets(uniforms) {
  const g = new THREE.BufferGeometry();
  const from = new THREE.BufferAttribute(new Float32Array(CAP * 6), 3);
  const to = new THREE.BufferAttribute(new Float32Array(CAP * 6), 3);
  const t0 = new THREE.BufferAttribute(new Float32Array(CAP * 2).fill(-1e6), 1);
  const kind = new THREE.BufferAttribute(new Float32Array(CAP * 2), 1);
  const end = new THREE.BufferAttribute(new Float32Array(CAP * 2), 1);
  for (let i = 0; i < CAP; i++) end.array[2 * i + 1] = 1;
  const dyn = [from, to, t0, kind];
  for (const a of dyn) a.setUsage(THREE.DynamicDrawUsage);
  g.setAttribute('position', new THREE.BufferAttribute(new Float32Array(CAP * 6), 3));
  g.setAttribute('a_from', from);
  g.setAttribute('a_to', to);
  g.setAttribute('a_t0', t0);
  g.setAttribute('a_kind', kind);
  g.setAttribute('a_end', end);
  const mat = (marks) => new THREE.ShaderMaterial({ vertexShader: VERTEX,
    fragmentShader: FRAGMENT, transparent: true, depthWrite: false,
    blending: THREE.AdditiveBlending, uniforms: { ...uniforms, u_marks: { value: marks ? 1 : 0 } } });
  const lines = new THREE.LineSegments(g, mat(false));
  const points = new THREE.Points(g, mat(true));
  lines.frustumCulled = points.frustumCulled = false;
  let head = 0, dirty = 0, dirtyFrom = 0, comets = 0;
  return {
    objects: [lines, points],
    add(a, b, t, k) {
      const i = head;
      head = (i + 1) % CAP;
      if (!dirty) dirtyFrom = i;
      dirty++;
      if (k < 4) comets++;
      for (let e = 0; e < 2; e++) {
        const v = 2 * i + e;
        from.setXYZ(v, a.x, a.y, a.z);
        to.setXYZ(v, b.x, b.y, b.z);
        t0.array[v] = t;
        kind.array[v] = k;
      }
    },
    flush() {
      if (!dirty) return;
      const ranges = dirty >= CAP ? [[0, CAP]] : dirtyFrom + dirty <= CAP ? [[dirtyFrom, dirty]]
        : [[dirtyFrom, CAP - dirtyFrom], [0, dirty - (CAP - dirtyFrom)]];
      for (const a of dyn) {
        a.clearUpdateRanges();
        for (const [s, n] of ranges) a.addUpdateRange(s * 2 * a.itemSize, n * 2 * a.itemSize);
        a.needsUpdate = true;
      }
      dirty = 0;
    },
    comets: () => comets,
    dispose() { g.dispose(); lines.material.dispose(); points.material.dispose(); },
  };
}

// ------------------------------------------------------------------ page -------------

function openAlerts(alerts, orgId) {
  let n = 0;
  for (const a of alerts.values()) if (a.organisation_id === orgId && a.state !== 'closed') n++;
  return n;
}

function renderTable(tbody, orgs, alerts) {
  clear(tbody);
  if (!orgs.length) {
    tbody.append(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No organisations registered.')));
    return;
  }
  for (const o of orgs) {
    tbody.append(h('tr', { 'data-org-id': o.org.id },
      h('td', {}, h('span', { style: `color:${o.ring ? '#81d4fa' : 'inherit'}` }, o.org.name)),
      h('td', { style: 'font-family:monospace;font-size:12px' }, (o.org.livenet || []).join(', ')),
      h('td', { style: 'font-family:monospace;font-size:12px' }, (o.org.darknet || []).join(', ') || '–'),
      h('td', { class: 'num' }, fmt(openAlerts(alerts, o.org.id)))));
  }
}

function makeLayout(el) {
  const stage = h('div', { style: 'position:relative;flex:1;min-width:0' });
  const canvas = h('canvas', { class: 'full', 'data-testid': 'orgs-canvas' });
  const status = h('div', { class: 'counter' }, '');
  stage.append(canvas, h('div', { class: 'overlay' },
    h('div', { class: 'legend' },
      h('span', { style: 'background:#81d4fa' }), 'livenet', h('span', { style: 'background:#1e63d6' }),
      'darknet', h('span', { style: 'background:#ef5350' }), 'new',
      h('span', { style: 'background:#ffd54f' }), 'continuing'),
    status,
    h('div', { class: 'muted' }, 'sphere: IPv4, one /16 per meridian · drag to rotate')));
  const tbody = h('tbody', {});
  const table = h('table', { 'data-testid': 'org-table' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Organisation'), h('th', {}, 'Livenet'),
      h('th', {}, 'Darknet'), h('th', { class: 'num' }, 'Open alerts'))), tbody);
  const side = h('aside', { style: 'width:380px;max-width:40%;overflow:auto;padding:10px;' +
    'border-left:1px solid var(--line);background:var(--panel)' },
    h('h3', { style: 'margin:0 0 8px;font-size:14px;color:var(--dim);font-weight:500' },
      'Organisations'), table);
  el.append(h('div', { style: 'display:flex;height:100%' }, stage, side));
  return { stage, canvas, tbody, status };
}

export function mount(el, ctx) {
  const lay = makeLayout(el);
  window.darkscope.orgs = { rings: 0, marks: 0, comets: 0 };
  const attrs = { antialias: false, powerPreference: 'high-performance' };
  const context = webglContext(lay.canvas, attrs);
  let renderer;
  try {
    if (!context) throw new Error('no WebGL context');
    renderer = new THREE.WebGLRenderer({ canvas: lay.canvas, context, ...attrs });
  } catch (e) {
    lay.stage.append(h('p', { class: 'page error' }, 'WebGL is not available: the sphere needs it.'));
  }
  const scene = new THREE.Scene();
  const camera = new THREE.PerspectiveCamera(45, 1, 0.05, 50);
  camera.position.set(0, 0.9, 3.9);
  const controls = renderer ? new OrbitControls(camera, lay.canvas) : null;
  if (controls) { controls.enableDamping = true; controls.minDistance = 1.6; controls.maxDistance = 10; }
  const sphere = makeSphere();
  scene.add(sphere);
  const uniforms = { u_time: { value: 0 }, u_flight: { value: FLIGHT }, u_flicker: { value: FLICKER },
    u_size: { value: 3.5 * (renderer ? renderer.getPixelRatio() : 1) },
    u_colors: { value: [...PROTOS.map((k) => new THREE.Color(protoColor[k])), new THREE.Color(0x5c7a99)] } };
  const comets = makeComets(uniforms);
  scene.add(...comets.objects);

  let orgs = [];
  const alerts = new Map(); // id -> alert
  const t0 = performance.now();
  const clock = () => (performance.now() - t0) / 1000;
  let alive = true;
  const timers = new Set();

  function setOrgs(list) {
    for (const o of orgs) { scene.remove(o.group); disposeTree(o.group); }
    orgs = list.map(makeOrg);
    for (const o of orgs) scene.add(o.group);
    window.darkscope.orgs.rings = orgs.filter((o) => o.ring).length;
    window.darkscope.orgs.darknetRings = orgs.filter((o) => o.darkRing).length;
    aimCamera();
    refreshMarks();
  }

  // Looks at the rings (an organisation user sees its own straight away).
  function aimCamera() {
    const sum = new THREE.Vector3();
    for (const o of orgs) if (o.ring) sum.add(o.ring.dir);
    if (sum.lengthSq() < 1e-6) return;
    sum.normalize();
    camera.position.copy(sum).multiplyScalar(3.9).add(new THREE.Vector3(0, 0.5, 0));
    if (controls) controls.update();
  }

  // Where an alert's address sits: its organisation's livenet ring, else its darknet ring.
  function placeAlert(a) {
    const o = orgs.find((x) => x.org.id === a.organisation_id);
    const ip = parseIPv4(a.address);
    if (!o || ip === null) return null;
    for (const r of [o.ring, o.darkRing]) {
      if (!r) continue;
      const s = share(r.set, ip);
      if (s >= 0) return { ring: r, share: s };
    }
    return o.ring ? { ring: o.ring, share: (ip % 997) / 997 } : null;
  }

  function refreshMarks() {
    const per = new Map();
    for (const a of alerts.values()) {
      if (a.state === 'closed') continue;
      const p = placeAlert(a);
      if (!p) continue;
      if (!per.has(p.ring)) per.set(p.ring, []);
      per.get(p.ring).push({ share: p.share, color: a.state === 'new' ? MARK.new : MARK.continuing });
    }
    let n = 0;
    for (const o of orgs)
      for (const r of [o.ring, o.darkRing]) if (r) n += r.setMarks(per.get(r) || []);
    window.darkscope.orgs.marks = n;
    renderTable(lay.tbody, orgs, alerts);
  }

  function flash(a) {
    for (const old of el.querySelectorAll('[data-testid="alert-flash"]')) old.remove();
    const div = h('div', { class: 'flash', 'data-testid': 'alert-flash',
      style: 'position:fixed;z-index:20;flex-direction:column;text-align:center' },
      h('div', {}, a.organisation || 'alert'),
      h('div', { style: 'font-size:28px;font-family:monospace' }, `${a.address || ''}`),
      h('div', { style: 'font-size:18px;font-weight:500' }, `${a.case || ''} · ${a.state}`));
    el.append(div);
    const id = setTimeout(() => { timers.delete(id); div.remove(); }, FLASH_MS);
    timers.add(id);
  }

  function onAlert(a) {
    if (!a || a.id === undefined) return;
    const before = alerts.get(a.id);
    alerts.set(a.id, a);
    if (a.state === 'new' && (!before || before.state !== 'new')) flash(a);
    refreshMarks();
  }

  const from = new THREE.Vector3(), to = new THREE.Vector3();
  function onPackets(list) {
    if (!Array.isArray(list) || !list.length) return;
    const now = clock();
    for (let k = 0; k < list.length; k++) {
      const p = list[k];
      const ip = parseIPv4(p.s);
      if (ip === null) continue;
      const t = now + (0.25 * k) / list.length;
      sphereDir(ip, from).multiplyScalar(1.01);
      let hit = null;
      for (const o of orgs) {
        if (!o.ring) continue;
        const s = share(o.live, ip);
        if (s >= 0) { hit = o.ring.at(s, t + FLIGHT, to); break; }
      }
      comets.add(from, hit ? to : from, t, hit ? PROTOS.indexOf(protoName(p.p)) : 4);
    }
  }

  const offs = ctx.stream
    ? [ctx.stream.on('packets', onPackets), ctx.stream.on('alert', onAlert)] : [];
  ctx.api.get('/api/v1/orgs').then((r) => {
    if (!alive) return;
    setOrgs((r && r.orgs) || []);
    return ctx.api.get('/api/v1/alerts?limit=500');
  }).then((r) => {
    if (!alive || !r) return;
    for (const a of r.alerts || []) if (!alerts.has(a.id)) alerts.set(a.id, a);
    refreshMarks();
  }).catch((e) => {
    if (alive) lay.status.textContent = `could not load: ${e.message || e}`;
  });
  renderTable(lay.tbody, orgs, alerts);

  const resize = () => {
    if (!renderer) return;
    const w = Math.max(1, lay.stage.clientWidth), hh = Math.max(1, lay.stage.clientHeight);
    renderer.setSize(w, hh, false);
    camera.aspect = w / hh;
    camera.updateProjectionMatrix();
  };
  resize();
  window.addEventListener('resize', resize);

  let shown = 0;
  const stop = renderer ? animate(() => {
    const t = clock();
    for (const o of orgs)
      for (const r of [o.ring, o.darkRing]) if (r) r.spin.rotation.z = SPIN * t;
    comets.flush();
    uniforms.u_time.value = t;
    controls.update();
    renderer.render(scene, camera);
    window.darkscope.orgs.comets = comets.comets();
    if (t - shown > 0.5) {
      shown = t;
      lay.status.textContent = `${fmt(comets.comets())} packets from registered livenets`;
    }
  }) : () => {};

  return () => {
    alive = false;
    stop();
    for (const off of offs) off();
    for (const id of timers) clearTimeout(id);
    window.removeEventListener('resize', resize);
    if (controls) controls.dispose();
    comets.dispose();
    disposeTree(scene);
    if (renderer) { renderer.dispose(); renderer.forceContextLoss(); }
  };
}
