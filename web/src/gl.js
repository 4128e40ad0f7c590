// gl.js - a WebGL context for the three.js views, or null where there is none (so a view can
// say so instead of three.js logging an error).
export function webglContext(canvas, attrs) {
  try {
    return canvas.getContext('webgl2', attrs) || canvas.getContext('webgl', attrs) || null;
  } catch (e) {
    return null;
  }
}

// How finely a WebGL view draws, as a factor of the device pixel ratio: software rasterisers
// (SwiftShader, llvmpipe) pay for every pixel on the CPU, so there the views draw at 3/4 of the
// resolution and the browser scales the canvas up (bench/ui.sh: about 44 % fewer pixels).
export function renderScale(context) {
  try {
    const ext = context.getExtension('WEBGL_debug_renderer_info');
    const name = String(context.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : context.RENDERER));
    return /swiftshader|llvmpipe|softpipe|software/i.test(name) ? 0.75 : 1;
  } catch (e) {
    return 1;
  }
}
