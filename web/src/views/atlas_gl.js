// atlas_gl.js - the Atlas's WebGL2 renderer: the map as one texture, every arc's tail as an
// instanced strip and its head as a point, both placed by the vertex shader from the arc's
// curve and start time, the ×N counts as glyph points from a small atlas, the sensor as a
// point with a pulsing ring. JavaScript only writes an arc when it starts or grows, so a frame
// is a handful of draw calls whatever the number of arcs. On a software GL (SwiftShader) a
// WebGL canvas is also the cheapest layer for the compositor, far cheaper than a 2D canvas
// redrawn every frame. Returns null where WebGL2 is missing (atlas.js then draws in 2D).
import { renderScale } from '../gl.js';

const PER_ARC = 8; // x0, y0, cx, cy (CSS px), t0 (s from the base), proto, class, width class
const GLYPHS = '×0123456789';
const GLYPH_PX = 12; // CSS px of one glyph cell
const GLYPH_ADVANCE = 6.5;
const MAX_GLYPHS = 24 * 8;

const TAIL_VS = `#version 300 es
layout(location = 0) in vec3 a_tpl;   // along the tail (0..1), side (-1, 1), alpha
layout(location = 1) in vec4 a_curve; // source x, y and control point x, y (CSS px)
layout(location = 2) in vec4 a_arc;   // start (s), protocol, class, width class
uniform vec2 u_view, u_sensor;
uniform float u_time, u_flight, u_tail, u_by_class;
uniform vec3 u_colors[6];
uniform vec3 u_widths;
out vec4 v_color;
vec2 at(float t) {
  float v = 1.0 - t;
  return v * v * a_curve.xy + 2.0 * v * t * a_curve.zw + t * t * u_sensor;
}
void main() {
  float u = (u_time - a_arc.x) / u_flight;
  if (u < 0.0 || u > 1.0 + u_tail) { gl_Position = vec4(2.0, 2.0, 2.0, 1.0); v_color = vec4(0.0); return; }
  float t = mix(max(0.0, u - u_tail), min(1.0, u), a_tpl.x);
  vec2 d = 2.0 * (1.0 - t) * (a_curve.zw - a_curve.xy) + 2.0 * t * (u_sensor - a_curve.zw);
  float len = length(d);
  vec2 n = len > 1e-4 ? vec2(-d.y, d.x) / len : vec2(0.0, 1.0);
  int wc = int(a_arc.w + 0.5);
  float w = wc == 0 ? u_widths.x : wc == 1 ? u_widths.y : u_widths.z;
  vec2 p = at(t) + n * a_tpl.y * 0.5 * w;
  gl_Position = vec4(p.x / u_view.x * 2.0 - 1.0, 1.0 - p.y / u_view.y * 2.0, 0.0, 1.0);
  v_color = vec4(u_colors[int((u_by_class > 0.5 ? a_arc.z : a_arc.y) + 0.5)], a_tpl.z);
}`;

const HEAD_VS = `#version 300 es
layout(location = 1) in vec4 a_curve;
layout(location = 2) in vec4 a_arc;
uniform vec2 u_view, u_sensor;
uniform float u_time, u_flight, u_by_class, u_dpr;
uniform vec3 u_colors[6];
uniform vec3 u_heads;
out vec4 v_color;
void main() {
  float u = (u_time - a_arc.x) / u_flight;
  if (u < 0.0 || u > 1.0) { gl_Position = vec4(2.0, 2.0, 2.0, 1.0); gl_PointSize = 0.0; v_color = vec4(0.0); return; }
  float v = 1.0 - u;
  vec2 p = v * v * a_curve.xy + 2.0 * v * u * a_curve.zw + u * u * u_sensor;
  int wc = int(a_arc.w + 0.5);
  gl_PointSize = (wc == 0 ? u_heads.x : wc == 1 ? u_heads.y : u_heads.z) * u_dpr;
  gl_Position = vec4(p.x / u_view.x * 2.0 - 1.0, 1.0 - p.y / u_view.y * 2.0, 0.0, 1.0);
  v_color = vec4(u_colors[int((u_by_class > 0.5 ? a_arc.z : a_arc.y) + 0.5)], 1.0);
}`;

const COLOR_FS = `#version 300 es
precision mediump float;
in vec4 v_color;
out vec4 o;
void main() { o = v_color; }`;

// The map: one texture (drawn by atlas.js's drawBase), device pixel for device pixel. (As
// geometry, thousands of small triangles and border segments, it cost SwiftShader more.)
const MAP_VS = `#version 300 es
layout(location = 0) in vec2 a_xy;
out vec2 v_uv;
void main() { v_uv = vec2(a_xy.x * 0.5 + 0.5, 0.5 - a_xy.y * 0.5); gl_Position = vec4(a_xy, 0.0, 1.0); }`;

const MAP_FS = `#version 300 es
precision mediump float;
uniform sampler2D u_tex;
in vec2 v_uv;
out vec4 o;
void main() { o = texture(u_tex, v_uv); }`;

const GLYPH_VS = `#version 300 es
layout(location = 0) in vec3 a_glyph; // centre x, y (CSS px), glyph index
uniform vec2 u_view;
uniform float u_size;
out float v_glyph;
void main() {
  v_glyph = a_glyph.z;
  gl_PointSize = u_size;
  gl_Position = vec4(a_glyph.x / u_view.x * 2.0 - 1.0, 1.0 - a_glyph.y / u_view.y * 2.0, 0.0, 1.0);
}`;

const GLYPH_FS = `#version 300 es
precision mediump float;
uniform sampler2D u_tex;
uniform float u_count;
in float v_glyph;
out vec4 o;
void main() {
  vec4 t = texture(u_tex, vec2((v_glyph + gl_PointCoord.x) / u_count, gl_PointCoord.y));
  if (t.a < 0.02) discard;
  o = t;
}`;

const SENSOR_VS = `#version 300 es
uniform vec2 u_view, u_sensor;
uniform float u_size;
void main() {
  gl_PointSize = u_size;
  gl_Position = vec4(u_sensor.x / u_view.x * 2.0 - 1.0, 1.0 - u_sensor.y / u_view.y * 2.0, 0.0, 1.0);
}`;

// The ring of radius u_r (CSS px) at alpha u_ring, and the dot of radius 3, in a point of
// u_half CSS px from its centre to its edge.
const SENSOR_FS = `#version 300 es
precision mediump float;
uniform float u_r, u_ring, u_half;
out vec4 o;
void main() {
  float d = length(gl_PointCoord - 0.5) * 2.0 * u_half;
  float dot = clamp(3.5 - d, 0.0, 1.0);
  float ring = clamp(1.0 - abs(d - u_r) / 0.9, 0.0, 1.0) * u_ring;
  float a = max(dot, ring);
  if (a < 0.01) discard;
  o = vec4(1.0, 1.0, 1.0, a);
}`;

function compile(gl, vs, fs) {
  const p = gl.createProgram();
  for (const [type, src] of [[gl.VERTEX_SHADER, vs], [gl.FRAGMENT_SHADER, fs]]) {
    const s = gl.createShader(type);
    gl.shaderSource(s, src);
    gl.compileShader(s);
    if (!gl.getShaderParameter(s, gl.COMPILE_STATUS))
      throw new Error(`Atlas shader: ${gl.getShaderInfoLog(s)}`);
    gl.attachShader(p, s);
    gl.deleteShader(s);
  }
  gl.linkProgram(p);
  if (!gl.getProgramParameter(p, gl.LINK_STATUS))
    throw new Error(`Atlas shader program: ${gl.getProgramInfoLog(p)}`);
  const names = {};
  const n = gl.getProgramParameter(p, gl.ACTIVE_UNIFORMS);
  for (let i = 0; i < n; i++) {
    const name = gl.getActiveUniform(p, i).name.replace(/\[0\]$/, '');
    names[name] = gl.getUniformLocation(p, name);
  }
  return { p, u: names };
}

// The template of a tail: 2 * STEPS segments, a faint back half and a bright front half (the
// middle point twice, once with each alpha), two vertices (sides) per point, one strip.
function tailTemplate(steps) {
  const v = [];
  for (let half = 0; half < 2; half++) {
    for (let s = 0; s <= steps; s++) {
      const t = (half + s / steps) / 2;
      const alpha = half ? 0.9 : 0.35;
      v.push(t, -1, alpha, t, 1, alpha);
    }
  }
  return new Float32Array(v);
}

function glyphAtlas(dpr) {
  const cell = Math.ceil(GLYPH_PX * dpr);
  const c = document.createElement('canvas');
  c.width = cell * GLYPHS.length;
  c.height = cell;
  const g = c.getContext('2d');
  g.font = `${Math.round(11 * dpr)}px system-ui, sans-serif`;
  g.textAlign = 'center';
  g.textBaseline = 'middle';
  g.fillStyle = '#e8eef5';
  for (let i = 0; i < GLYPHS.length; i++) g.fillText(GLYPHS[i], i * cell + cell / 2, cell / 2 + 0.5);
  return c;
}

function texture(gl, source) {
  const t = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, t);
  gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
  gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, source);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
  return t;
}

function hexRgb(s) {
  const x = parseInt(s.slice(1), 16);
  return [((x >> 16) & 255) / 255, ((x >> 8) & 255) / 255, (x & 255) / 255];
}

// opts: {maxArcs, flight, tail, steps, widths[3], heads[3], labelMin, labelsMax}. The arcs
// are atlas.js's slots (typed arrays); arcs.version changes whenever a slot does.
export function makeGLRenderer(canvas, arcs, opts) {
  const gl = canvas.getContext('webgl2', { alpha: false, antialias: false, depth: false,
    stencil: false, premultipliedAlpha: false, powerPreference: 'high-performance' });
  if (!gl) return null;
  const tails = compile(gl, TAIL_VS, COLOR_FS);
  const heads = compile(gl, HEAD_VS, COLOR_FS);
  const map = compile(gl, MAP_VS, MAP_FS);
  const glyphs = compile(gl, GLYPH_VS, GLYPH_FS);
  const sensor = compile(gl, SENSOR_VS, SENSOR_FS);

  const data = new Float32Array(opts.maxArcs * PER_ARC);
  const arcBuf = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, arcBuf);
  gl.bufferData(gl.ARRAY_BUFFER, data.byteLength, gl.DYNAMIC_DRAW);
  const tpl = tailTemplate(opts.steps);
  const tplBuf = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, tplBuf);
  gl.bufferData(gl.ARRAY_BUFFER, tpl, gl.STATIC_DRAW);
  const quadBuf = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, quadBuf);
  gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
  const glyphData = new Float32Array(MAX_GLYPHS * 3);
  const glyphBuf = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, glyphBuf);
  gl.bufferData(gl.ARRAY_BUFFER, glyphData.byteLength, gl.DYNAMIC_DRAW);

  // the arcs' attributes: per instance for the tails, per vertex for the heads
  const arcAttribs = (divisor) => {
    gl.bindBuffer(gl.ARRAY_BUFFER, arcBuf);
    gl.enableVertexAttribArray(1);
    gl.vertexAttribPointer(1, 4, gl.FLOAT, false, PER_ARC * 4, 0);
    gl.vertexAttribDivisor(1, divisor);
    gl.enableVertexAttribArray(2);
    gl.vertexAttribPointer(2, 4, gl.FLOAT, false, PER_ARC * 4, 16);
    gl.vertexAttribDivisor(2, divisor);
  };
  const tailVao = gl.createVertexArray();
  gl.bindVertexArray(tailVao);
  gl.bindBuffer(gl.ARRAY_BUFFER, tplBuf);
  gl.enableVertexAttribArray(0);
  gl.vertexAttribPointer(0, 3, gl.FLOAT, false, 12, 0);
  arcAttribs(1);
  const headVao = gl.createVertexArray();
  gl.bindVertexArray(headVao);
  arcAttribs(0);
  const mapVao = gl.createVertexArray();
  gl.bindVertexArray(mapVao);
  gl.bindBuffer(gl.ARRAY_BUFFER, quadBuf);
  gl.enableVertexAttribArray(0);
  gl.vertexAttribPointer(0, 2, gl.FLOAT, false, 8, 0);
  const glyphVao = gl.createVertexArray();
  gl.bindVertexArray(glyphVao);
  gl.bindBuffer(gl.ARRAY_BUFFER, glyphBuf);
  gl.enableVertexAttribArray(0);
  gl.vertexAttribPointer(0, 3, gl.FLOAT, false, 12, 0);
  const emptyVao = gl.createVertexArray();
  gl.bindVertexArray(null);

  let mapTex = null, glyphTex = null, glyphDpr = 0;
  let base = performance.now(); // t0 is written as seconds from here (float32 precision)
  let version = -1;
  const colors = new Float32Array(18); // the mode's six colours (padded with the last)
  let colorKey = '';
  const state = { w: 1, h: 1, dpr: 1, sx: 0, sy: 0 };

  function upload(now) {
    if (now - base > 3600e3) { base = now; version = -1; } // rebase hourly
    if (arcs.version === version) return;
    version = arcs.version;
    for (let i = 0; i < opts.maxArcs; i++) {
      const o = i * PER_ARC;
      data[o] = arcs.x0[i]; data[o + 1] = arcs.y0[i];
      data[o + 2] = arcs.cx[i]; data[o + 3] = arcs.cy[i];
      data[o + 4] = (arcs.t0[i] - base) / 1000;
      data[o + 5] = arcs.proto[i]; data[o + 6] = arcs.cls[i];
      data[o + 7] = arcs.count[i] >= 10 ? 2 : arcs.count[i] >= 2 ? 1 : 0;
    }
    gl.bindBuffer(gl.ARRAY_BUFFER, arcBuf);
    gl.bufferSubData(gl.ARRAY_BUFFER, 0, data);
  }

  // Writes the labels' glyphs (x, y of the label's left edge, then the count) and returns
  // how many glyphs.
  function layoutLabels(labels) {
    let n = 0;
    for (let k = 0; k < labels.length && n < MAX_GLYPHS; k += 3) {
      const text = `×${labels[k + 2]}`;
      let x = labels[k] + GLYPH_ADVANCE / 2;
      for (let c = 0; c < text.length && n < MAX_GLYPHS; c++, n++) {
        glyphData[3 * n] = x;
        glyphData[3 * n + 1] = labels[k + 1];
        glyphData[3 * n + 2] = GLYPHS.indexOf(text[c]);
        x += GLYPH_ADVANCE;
      }
    }
    return n;
  }

  const common = (prog, colors, byClass, now) => {
    gl.useProgram(prog.p);
    gl.uniform2f(prog.u.u_view, state.w, state.h);
    if (prog.u.u_sensor) gl.uniform2f(prog.u.u_sensor, state.sx, state.sy);
    if (prog.u.u_time) gl.uniform1f(prog.u.u_time, (now - base) / 1000);
    if (prog.u.u_flight) gl.uniform1f(prog.u.u_flight, opts.flight);
    if (prog.u.u_by_class) gl.uniform1f(prog.u.u_by_class, byClass ? 1 : 0);
    if (prog.u.u_colors) gl.uniform3fv(prog.u.u_colors, colors);
  };

  return {
    scale: renderScale(gl), // of the device pixel ratio (gl.js)
    // The map (a canvas of device pixels) and the geometry of the view, after a resize.
    resize(mapCanvas, w, h, dpr, sx, sy) {
      Object.assign(state, { w, h, dpr, sx, sy });
      gl.viewport(0, 0, canvas.width, canvas.height);
      if (mapTex) gl.deleteTexture(mapTex);
      mapTex = texture(gl, mapCanvas);
      if (glyphDpr !== dpr) {
        if (glyphTex) gl.deleteTexture(glyphTex);
        glyphTex = texture(gl, glyphAtlas(dpr));
        glyphDpr = dpr;
      }
      version = -1;
    },
    // One frame at now (ms). colors: 6 hex strings (the mode's, padded); labels as from
    // atlas.js (x, y, count triples).
    frame(now, colorList, byClass, labels) {
      upload(now);
      const key = colorList.join();
      if (key !== colorKey) {
        colorKey = key;
        for (let i = 0; i < 6; i++)
          colors.set(hexRgb(colorList[Math.min(i, colorList.length - 1)]), 3 * i);
      }
      gl.disable(gl.BLEND); // the map covers every pixel: no clear
      gl.useProgram(map.p);
      gl.activeTexture(gl.TEXTURE0);
      gl.bindTexture(gl.TEXTURE_2D, mapTex);
      gl.uniform1i(map.u.u_tex, 0);
      gl.bindVertexArray(mapVao);
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);

      gl.enable(gl.BLEND);
      gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
      common(tails, colors, byClass, now);
      gl.uniform1f(tails.u.u_tail, opts.tail);
      gl.uniform3f(tails.u.u_widths, ...opts.widths);
      gl.bindVertexArray(tailVao);
      gl.drawArraysInstanced(gl.TRIANGLE_STRIP, 0, tpl.length / 3, opts.maxArcs);

      common(heads, colors, byClass, now);
      gl.uniform1f(heads.u.u_dpr, state.dpr);
      gl.uniform3f(heads.u.u_heads, ...opts.heads);
      gl.bindVertexArray(headVao);
      gl.drawArrays(gl.POINTS, 0, opts.maxArcs);

      const ng = layoutLabels(labels);
      if (ng) {
        gl.bindBuffer(gl.ARRAY_BUFFER, glyphBuf);
        gl.bufferSubData(gl.ARRAY_BUFFER, 0, glyphData, 0, ng * 3);
        gl.useProgram(glyphs.p);
        gl.uniform2f(glyphs.u.u_view, state.w, state.h);
        gl.uniform1f(glyphs.u.u_size, GLYPH_PX * state.dpr);
        gl.uniform1f(glyphs.u.u_count, GLYPHS.length);
        gl.bindTexture(gl.TEXTURE_2D, glyphTex);
        gl.uniform1i(glyphs.u.u_tex, 0);
        gl.bindVertexArray(glyphVao);
        gl.drawArrays(gl.POINTS, 0, ng);
      }

      const r = 4 + ((now / 1000) % 1.5) * 8; // the pulse, as the 2D renderer draws it
      const half = 18;
      gl.useProgram(sensor.p);
      gl.uniform2f(sensor.u.u_view, state.w, state.h);
      gl.uniform2f(sensor.u.u_sensor, state.sx, state.sy);
      gl.uniform1f(sensor.u.u_size, 2 * half * state.dpr);
      gl.uniform1f(sensor.u.u_half, half);
      gl.uniform1f(sensor.u.u_r, r);
      gl.uniform1f(sensor.u.u_ring, Math.max(0, 1 - r / 16));
      gl.bindVertexArray(emptyVao);
      gl.drawArrays(gl.POINTS, 0, 1);
      gl.bindVertexArray(null);
    },
    dispose() {
      for (const b of [arcBuf, tplBuf, quadBuf, glyphBuf]) gl.deleteBuffer(b);
      for (const v of [tailVao, headVao, mapVao, glyphVao, emptyVao]) gl.deleteVertexArray(v);
      for (const p of [tails, heads, map, glyphs, sensor]) gl.deleteProgram(p.p);
      if (mapTex) gl.deleteTexture(mapTex);
      if (glyphTex) gl.deleteTexture(glyphTex);
      const lose = gl.getExtension('WEBGL_lose_context');
      if (lose) lose.loseContext();
    },
  };
}
