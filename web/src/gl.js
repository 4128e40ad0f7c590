// gl.js - a WebGL context for the three.js views, or null where there is none (so a view can
// say so instead of three.js logging an error).
export function webglContext(canvas, attrs) {
  try {
    return canvas.getContext('webgl2', attrs) || canvas.getContext('webgl', attrs) || null;
  } catch (e) {
    return null;
  }
}
