// dom.js - tiny helpers to build DOM without innerHTML (no markup injection from data).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function fmt(n) {
  if (n === null || n === undefined) return '–';
  return Number(n).toLocaleString('en-US');
}

export function protoName(p) {
  return p === 6 ? 'tcp' : p === 17 ? 'udp' : p === 1 || p === 58 ? 'icmp' : 'other';
}

export const protoColor = { tcp: '#4fc3f7', udp: '#ffb74d', icmp: '#ba68c8', other: '#90a4ae' };

// Names of the bits set in mask, from a list of {name} indexed by bit.
export function bitNames(mask, list) {
  const out = [];
  for (let i = 0; i < (list || []).length; i++) if (mask & (1 << i)) out.push(list[i].name);
  return out;
}

// Runs fn every animation frame until the returned stop() is called; counts frames and the
// milliseconds spent in fn (window.darkscope.frames, .workMs) for tests and benchmarks.
export function animate(fn) {
  let id = 0;
  let last = performance.now();
  const step = (t) => {
    const a = performance.now();
    fn(t, (t - last) / 1000);
    last = t;
    window.darkscope.workMs += performance.now() - a;
    window.darkscope.frames++;
    id = requestAnimationFrame(step);
  };
  id = requestAnimationFrame(step);
  return () => cancelAnimationFrame(id);
}
