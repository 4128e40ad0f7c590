// ui_fps.mjs - frames per second of the workbench's Atlas and Cube views in headless Chromium
// (Debian's /usr/bin/chromium through playwright-core, software WebGL: SwiftShader) while the
// daemon streams sampled packets, and the same views once the stream has stopped (the
// in-run baseline: what the renderer manages with nothing arriving).
//
// Usage: node bench/ui_fps.mjs URL ADMIN_PASSWORD
//   env: UI_SECONDS (10, per measurement), UI_ROUNDS (2: atlas and cube interleaved, best
//        kept), UI_IDLE=0 skips the idle measurement, UI_IDLE_WAIT (240: seconds to wait for
//        the replay to end), CHROMIUM (/usr/bin/chromium), UI_GPU (swiftshader: WebGL and
//        compositing on ANGLE over SwiftShader, software Vulkan; software: --disable-gpu,
//        i.e. Skia's CPU raster and the software compositor, WebGL still on SwiftShader)
// Prints one line per measurement and, per view, "RESULT VIEW live|idle FPS PACKETS_PER_S
// BATCHES_PER_S CPU_MS_PER_FRAME JS_MS_PER_FRAME STREAM_MS_PER_S" lines for bench/ui.sh.
//
// Frames are the app's own count (window.darkscope.frames: one per requestAnimationFrame
// callback of the view). Packets are counted as they arrive: an init script wraps EventSource
// and adds up the length of every "packets" event's batch (and "summary" events' counts of
// what was over the stream rate). The profile of a frame: CPU time of the whole browser
// (every process under this one, from /proc: renderer, GPU process, compositor threads) per
// frame, which unlike frames per second hardly depends on what else the machine runs; the
// view's own JavaScript per frame (window.darkscope.workMs, timed by dom.js's animate) and the
// stream's parsing and dispatch per second (window.darkscope.streamMs, timed by stream.js).
import { createRequire } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../web/package.json'));
const { chromium } = require('playwright-core');

const [url, password] = process.argv.slice(2);
if (!url || !password) {
  console.error('usage: node bench/ui_fps.mjs URL ADMIN_PASSWORD');
  process.exit(2);
}
const env = process.env;
const seconds = Number(env.UI_SECONDS || 10);
const rounds = Number(env.UI_ROUNDS || 2);
const idle = env.UI_IDLE !== '0';
const idleWait = Number(env.UI_IDLE_WAIT || 240);
const gpu = env.UI_GPU || 'swiftshader';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// CPU milliseconds (user + system) used so far by every process below this one.
function treeCpuMs() {
  const kids = new Map();
  const ticks = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    let st;
    try { st = readFileSync(`/proc/${d}/stat`, 'utf8'); } catch (e) { continue; }
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(f[1]);
    if (!kids.has(ppid)) kids.set(ppid, []);
    kids.get(ppid).push(Number(d));
    ticks.set(Number(d), Number(f[11]) + Number(f[12]));
  }
  let sum = 0;
  const todo = [...(kids.get(process.pid) || [])];
  while (todo.length) {
    const p = todo.pop();
    sum += ticks.get(p) || 0;
    todo.push(...(kids.get(p) || []));
  }
  return sum * 10; // USER_HZ is 100 on Linux
}

const gpuArgs = {
  swiftshader: ['--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
    '--ignore-gpu-blocklist'],
  software: ['--disable-gpu', '--enable-unsafe-swiftshader'],
};
if (!gpuArgs[gpu]) {
  console.error(`ui: UI_GPU must be swiftshader or software, not ${gpu}`);
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', ...gpuArgs[gpu]],
});
let rc = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.addInitScript(() => {
    const b = { packets: 0, batches: 0, over: 0, missed: 0 };
    window.__bench = b;
    const ES = window.EventSource;
    window.EventSource = class extends ES {
      constructor(u, o) {
        super(u, o);
        this.addEventListener('packets', (e) => {
          b.batches++;
          try {
            const d = JSON.parse(e.data);
            if (Array.isArray(d)) b.packets += d.length;
          } catch (x) { /* counted as a batch only */ }
        });
        this.addEventListener('missed', (e) => {
          try { b.missed += Number(JSON.parse(e.data).records || 0); } catch (x) { /* ignored */ }
        });
        this.addEventListener('summary', (e) => {
          try {
            const d = JSON.parse(e.data);
            b.over += Number(d.skipped || 0);
          } catch (x) { /* ignored */ }
        });
      }
    };
  });
  await page.goto(url);
  await page.locator('#login').waitFor({ timeout: 20000 });
  await page.fill('#login input[name=name]', 'admin');
  await page.fill('#login input[name=password]', password);
  await page.click('#login button');
  await page.waitForFunction(() => window.darkscope.view === 'atlas', null, { timeout: 20000 });
  const gl = await page.evaluate(() => {
    const c = document.createElement('canvas').getContext('webgl2') ||
      document.createElement('canvas').getContext('webgl');
    if (!c) return 'none';
    const ext = c.getExtension('WEBGL_debug_renderer_info');
    return ext ? c.getParameter(ext.UNMASKED_RENDERER_WEBGL) : c.getParameter(c.RENDERER);
  });
  console.log(`ui: UI_GPU=${gpu}, WebGL renderer ${gl}; ${seconds} s per measurement`);

  const sample = async () => {
    const r = await page.evaluate(() => ({ f: window.darkscope.frames, t: performance.now(),
      p: window.__bench.packets, b: window.__bench.batches, o: window.__bench.over,
      m: window.__bench.missed, w: window.darkscope.workMs || 0,
      s: window.darkscope.streamMs || 0 }));
    r.cpu = treeCpuMs();
    return r;
  };
  async function measure(view, phase) {
    await page.evaluate((v) => { location.hash = '#/' + v; }, view);
    await page.waitForFunction((v) => window.darkscope.view === v, view, { timeout: 20000 });
    await sleep(2000); // warm-up: shaders compiled, first batches placed
    const a = await sample();
    await sleep(seconds * 1000);
    const z = await sample();
    const dt = (z.t - a.t) / 1000;
    // frames counts rAF callbacks while the view is mounted (dom.js's animate); the counter
    // is reset by a view change, so both samples are taken inside the same view
    const nf = Math.max(1, z.f - a.f);
    const r = { view, phase, fps: (z.f - a.f) / dt, pps: (z.p - a.p) / dt, bps: (z.b - a.b) / dt,
      ops: (z.o - a.o) / dt, mps: (z.m - a.m) / dt, cpu: (z.cpu - a.cpu) / nf,
      js: (z.w - a.w) / nf, stream: (z.s - a.s) / dt };
    console.log(`ui: ${phase.padEnd(4)} ${view.padEnd(5)} ${r.fps.toFixed(1).padStart(6)} fps  ` +
      `${r.pps.toFixed(0).padStart(6)} packets/s arrived in ${r.bps.toFixed(1)} batches/s ` +
      `(over the stream rate, only counted: ${r.ops.toFixed(0)}/s; missed: ${r.mps.toFixed(0)}/s); ` +
      `browser CPU ${r.cpu.toFixed(1)} ms/frame, view JS ${r.js.toFixed(2)} ms/frame, ` +
      `stream JS ${r.stream.toFixed(1)} ms/s`);
    return r;
  }
  const best = new Map();
  const keep = (r) => {
    const k = `${r.view} ${r.phase}`;
    if (!best.has(k) || r.fps > best.get(k).fps) best.set(k, r);
  };
  const views = ['atlas', 'cube'];
  for (let i = 0; i < rounds; i++)
    for (const v of i % 2 ? [...views].reverse() : views) keep(await measure(v, 'live'));

  if (idle) {
    // the replay ends, the daemon lingers: wait until no packet arrives for 3 s
    const t0 = Date.now();
    let last = (await sample()).p;
    let quiet = 0;
    while (Date.now() - t0 < idleWait * 1000 && quiet < 3) {
      await sleep(1000);
      const p = (await sample()).p;
      quiet = p === last ? quiet + 1 : 0;
      last = p;
    }
    if (quiet < 3) console.log(`ui: the stream did not stop within ${idleWait} s; no idle figures`);
    else for (let i = 0; i < rounds; i++)
      for (const v of i % 2 ? [...views].reverse() : views) keep(await measure(v, 'idle'));
  }
  for (const r of best.values())
    console.log(`RESULT ${r.view} ${r.phase} ${r.fps.toFixed(2)} ${r.pps.toFixed(1)} ${r.bps.toFixed(2)} ` +
      `${r.cpu.toFixed(1)} ${r.js.toFixed(2)} ${r.stream.toFixed(1)}`);
  if (errors.length) {
    console.log(`ui: ${errors.length} page errors, first: ${errors[0]}`);
  }
} catch (e) {
  console.error(`ui: ${e.stack || e}`);
  rc = 1;
} finally {
  await browser.close();
}
process.exit(rc);
