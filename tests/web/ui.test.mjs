// ui.test.mjs - the workbench in a real browser (Debian's chromium, headless, through
// playwright-core): login and logout, every view loads without console errors and draws
// (canvas pixels or the expected elements), live updates arrive while traffic is replayed,
// the alert workflow works from the page, and an organisation user sees only its own alerts
// and its own ring. Screenshots of every view go to OUT_DIR.
//
// Usage: node ui.test.mjs URL OUT_DIR   (env: ADMIN_PW, ORG_USER, ORG_PW, ORG_NAME, HOST_ADDR)
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../web/package.json'));
const { chromium } = require('playwright-core');

const [url, outDir] = process.argv.slice(2);
const env = process.env;
let failures = 0;
function check(ok, what) {
  if (ok) {
    console.log(`ok: ${what}`);
  } else {
    failures++;
    console.log(`FAIL: ${what}`);
  }
}

// Decodes a PNG (8-bit RGB/RGBA, not interlaced: what Chromium writes) and returns the number
// of distinct colours and the share of pixels that differ from the most common one.
function pngStats(buf) {
  let off = 8;
  let w = 0;
  let hgt = 0;
  let type = 0;
  const idat = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const kind = buf.toString('ascii', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (kind === 'IHDR') {
      w = data.readUInt32BE(0);
      hgt = data.readUInt32BE(4);
      type = data[9];
    } else if (kind === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const bpp = type === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = w * bpp;
  const px = Buffer.alloc(stride * hgt);
  for (let y = 0; y < hgt; y++) {
    const f = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? px[y * stride + x - bpp] : 0;
      const b = y > 0 ? px[(y - 1) * stride + x] : 0;
      const c = x >= bpp && y > 0 ? px[(y - 1) * stride + x - bpp] : 0;
      let v = src[x];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      px[y * stride + x] = v & 255;
    }
  }
  const counts = new Map();
  for (let i = 0; i < px.length; i += bpp) {
    const k = (px[i] << 16) | (px[i + 1] << 8) | px[i + 2];
    counts.set(k, (counts.get(k) || 0) + 1);
  }
  const total = w * hgt;
  const top = Math.max(...counts.values());
  return { colours: counts.size, other: 1 - top / total };
}

async function canvasDraws(page, testid, what) {
  const el = page.getByTestId(testid);
  await el.waitFor({ timeout: 15000 });
  const st = pngStats(await el.screenshot());
  check(st.colours > 20 && st.other > 0.02, `${what} draws (${st.colours} colours, ${(st.other * 100).toFixed(1)} % non-background)`);
}

const browser = await chromium.launch({
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
    '--ignore-gpu-blocklist'],
});
const errors = [];
async function newPage() {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${page.url()}: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  return page;
}

async function login(page, name, pw) {
  await page.goto(url);
  await page.locator('#login').waitFor({ timeout: 15000 });
  await page.fill('#login input[name=name]', name);
  await page.fill('#login input[name=password]', pw);
  await page.click('#login button');
}

async function view(page, hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForFunction((h) => window.darkscope && window.darkscope.view === h.slice(2).split('/')[0], hash);
}

async function shot(page, name) {
  writeFileSync(path.join(outDir, `${name}.png`), await page.screenshot());
}

try {
  // --------------------------------------------------------------- login, every view
  const page = await newPage();
  const before = errors.length;
  await login(page, 'admin', 'wrong-password');
  await page.waitForFunction(() => document.getElementById('login-error')?.textContent.length > 0);
  // the refused login is the one resource error Chromium logs on purpose (POST login: 401)
  const refused = errors.splice(before).filter((e) => !e.includes('status of 401'));
  errors.push(...refused);
  check((await page.textContent('#login-error')).includes('wrong name or password'), 'a wrong password is refused with a message');
  await page.fill('#login input[name=password]', env.ADMIN_PW);
  await page.click('#login button');
  await page.waitForFunction(() => window.darkscope.view === 'atlas', null, { timeout: 15000 });
  check((await page.textContent('#who')).includes('admin'), 'logged in as admin');
  await shot(page, 'login-done');

  // live updates arrive while the replay runs
  const e0 = await page.evaluate(() => window.darkscope.events);
  await page.waitForTimeout(3000);
  const e1 = await page.evaluate(() => window.darkscope.events);
  check(e1 > e0, `live events arrive (${e1 - e0} in 3 s)`);

  check(await page.getAttribute('[data-testid=atlas-canvas]', 'data-renderer') === 'webgl2', 'Atlas draws with WebGL2 (SwiftShader)');
  await canvasDraws(page, 'atlas-canvas', 'Atlas');
  const a0 = await page.evaluate(() => (window.darkscope.atlas || {}).drawn || 0);
  await page.waitForTimeout(1500);
  const a1 = await page.evaluate(() => (window.darkscope.atlas || {}).drawn || 0);
  check(a1 > a0, `Atlas starts arcs for live packets (${a1 - a0} in 1.5 s)`);
  await shot(page, 'atlas');

  await view(page, '#/cube');
  await page.waitForTimeout(1500);
  await canvasDraws(page, 'cube-canvas', 'Cube');
  check(await page.evaluate(() => (window.darkscope.cube || {}).bars > 0), 'Cube shows moving bars');
  await shot(page, 'cube');

  await view(page, '#/tiles');
  await page.waitForFunction(() => (window.darkscope.tiles || {}).hosts > 0, null, { timeout: 15000 });
  const tiles = await page.evaluate(() => window.darkscope.tiles);
  check(tiles.hosts > 0 && tiles.groups > 0 && tiles.groups <= tiles.hosts && tiles.server,
    `Tiles: ${tiles.hosts} hosts in ${tiles.groups} behaviour groups (the daemon's host groups: ${tiles.server})`);
  const tile = page.locator('.tile').first();
  await tile.hover();
  const key = await tile.getAttribute('data-key');
  const hl = await page.locator('.tile.hl').count();
  const same = await page.locator(`.tile[data-key="${key.replace(/"/g, '\\"')}"]`).count();
  check(hl === same && hl >= 1, `hovering a tile highlights the ${same} hosts with its behaviour`);
  await shot(page, 'tiles');

  await view(page, '#/stats');
  await page.locator('[data-testid=stats-chart] canvas').first().waitFor({ timeout: 15000 });
  await page.getByTestId('top-countries').waitFor();
  const ntop = await page.locator('[data-testid=top-tcp] tr').count();
  check(ntop >= 2, `Stats: the top TCP ports table has ${ntop - 1} rows`);
  // the yearly table is its own request: wait for its first data row
  const yearRow = await page.locator('[data-testid=year-table] tr').nth(1)
    .waitFor({ timeout: 15000 }).then(() => true, () => false);
  check(yearRow, 'Stats: the yearly table has a row');
  await page.check('[data-testid=stats-xr]');
  await page.waitForTimeout(500);
  await shot(page, 'stats');

  // DoS attacks: the list shows exactly the attacks of the generated history (its truth)
  await view(page, '#/dos');
  await page.waitForFunction(() => document.querySelector('[data-testid=dos-count]')?.dataset.n !== undefined);
  const nDos = Number(await page.getAttribute('[data-testid=dos-count]', 'data-n'));
  const dosRows = await page.locator('[data-testid=dos-rows] tr').count();
  check(nDos === Number(env.N_DOS) && dosRows === nDos, `DoS: ${dosRows} attacks listed (the truth has ${env.N_DOS})`);
  const nCamp = Number(await page.getAttribute('[data-testid=campaign-count]', 'data-n'));
  const campApi = await page.evaluate(async () => (await (await fetch('/api/v1/campaigns?limit=1000')).json()).campaigns.length);
  const campRows = await page.locator('[data-testid=campaign-rows] tr').count();
  check(nCamp > 0 && nCamp === campApi && campRows === nCamp, `reflector hunting: ${campRows} campaigns listed (the API has ${campApi})`);
  const nOb = Number(await page.getAttribute('[data-testid=outbreak-count]', 'data-n'));
  const obApi = await page.evaluate(async () => (await (await fetch('/api/v1/outbreaks?limit=500')).json()).outbreaks.length);
  check(nOb === obApi && await page.locator('[data-testid=outbreak-rows] tr').count() === nOb,
    `outbreak candidates: ${nOb} listed (the API has ${obApi})`);
  await shot(page, 'dos');

  await view(page, '#/alerts');
  await page.locator('tr.alert-row').first().waitFor({ timeout: 20000 });
  const nalerts = await page.locator('tr.alert-row').count();
  check(nalerts >= 2, `Alerts: ${nalerts} rows`);
  const orgsSeen = new Set(await page.locator('tr.alert-row td:nth-child(4)').allTextContents());
  check(orgsSeen.size >= 2, `the admin sees alerts of ${orgsSeen.size} organisations`);
  await shot(page, 'alerts');
  const id = await page.locator('tr.alert-row').first().getAttribute('data-id');
  await view(page, `#/alerts/${id}`);
  await page.getByTestId('alert-workflow').waitFor();
  const wf0 = await page.textContent('[data-testid=alert-workflow]');
  if (wf0 === 'new') {
    await page.click('button[data-action=ack]');
    await page.waitForFunction(() => document.querySelector('[data-testid=alert-workflow]')?.textContent === 'open');
  }
  check(await page.textContent('[data-testid=alert-workflow]') === 'open' || wf0 !== 'new', 'Acknowledge opens the alert');
  await page.fill('textarea[name=note]', 'checked from the UI test');
  await page.click('button[data-action=resolve]');
  await page.waitForFunction(() => document.querySelector('[data-testid=alert-workflow]')?.textContent === 'resolved');
  check(true, 'Resolve with a note resolves the alert');
  await shot(page, 'alert-detail');

  await view(page, '#/orgs');
  await canvasDraws(page, 'orgs-canvas', 'Organisation sphere');
  const rings = await page.evaluate(() => (window.darkscope.orgs || {}).rings || 0);
  check(rings >= 3, `the sphere has a ring per organisation (${rings})`);
  await shot(page, 'orgs');

  await view(page, `#/host/${env.HOST_ADDR}`);
  await page.getByTestId('host-timeline').waitFor({ timeout: 15000 });
  check((await page.textContent('[data-testid=host]')).includes(env.HOST_ADDR), 'the host page shows the host');
  await shot(page, 'host');

  await page.click('#logout');
  await page.locator('#login').waitFor();
  check(true, 'logout returns to the login form');
  await page.close();

  // --------------------------------------------------------------- an organisation user
  const op = await newPage();
  await login(op, env.ORG_USER, env.ORG_PW);
  await op.waitForFunction(() => window.darkscope.view === 'atlas', null, { timeout: 15000 });
  await view(op, '#/alerts');
  await op.locator('tr.alert-row').first().waitFor({ timeout: 20000 });
  const own = new Set(await op.locator('tr.alert-row td:nth-child(4)').allTextContents());
  check(own.size === 1 && own.has(env.ORG_NAME), `the organisation user sees only ${env.ORG_NAME}'s alerts (${[...own].join(', ')})`);
  check(await op.locator('#nav a[data-view=stats]').isHidden(), 'the Stats view is not offered to an organisation user');
  await view(op, '#/orgs');
  await op.getByTestId('org-table').waitFor({ timeout: 15000 });
  const orgRings = await op.evaluate(() => (window.darkscope.orgs || {}).rings || 0);
  const tableText = await op.textContent('[data-testid=org-table]');
  check(orgRings === 1 && tableText.includes(env.ORG_NAME), `the organisation user sees only its own ring (${orgRings})`);
  await shot(op, 'org-user-orgs');
  // no attack of the history hit Alpha's addresses: its DoS list is empty
  await view(op, '#/dos');
  await op.waitForFunction(() => document.querySelector('[data-testid=dos-count]')?.dataset.n !== undefined);
  check(await op.getAttribute('[data-testid=dos-count]', 'data-n') === '0', 'the organisation user sees no other victim\'s DoS attack');
  check(await op.locator('[data-testid=outbreak-table]').count() === 0, 'the organisation user is not shown outbreak candidates');
  await op.close();

  // --------------------------------------------------------------- without WebGL
  // the Atlas falls back to a 2D canvas and still draws live arcs; the Cube says it needs WebGL
  const plain = await chromium.launch({ executablePath: env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-3d-apis'] });
  try {
    const np = await plain.newPage({ viewport: { width: 1280, height: 800 } });
    np.on('console', (m) => { if (m.type() === 'error') errors.push(`no WebGL: ${m.text()}`); });
    np.on('pageerror', (e) => errors.push(`no WebGL: ${e.message}`));
    await login(np, 'admin', env.ADMIN_PW);
    await np.waitForFunction(() => window.darkscope.view === 'atlas', null, { timeout: 15000 });
    check(await np.getAttribute('[data-testid=atlas-canvas]', 'data-renderer') === '2d', 'without WebGL the Atlas draws in 2D');
    await canvasDraws(np, 'atlas-canvas', 'Atlas in 2D');
    const b0 = await np.evaluate(() => (window.darkscope.atlas || {}).drawn || 0);
    await np.waitForTimeout(1500);
    const b1 = await np.evaluate(() => (window.darkscope.atlas || {}).drawn || 0);
    check(b1 > b0, `the 2D Atlas starts arcs for live packets (${b1 - b0} in 1.5 s)`);
    await shot(np, 'atlas-2d');
    await view(np, '#/cube');
    await np.locator('text=WebGL is not available').waitFor({ timeout: 15000 });
    check(true, 'without WebGL the Cube says it needs WebGL');
  } finally {
    await plain.close();
  }

  check(errors.length === 0, `no console errors (${errors.length}${errors.length ? ': ' + errors.slice(0, 5).join(' | ') : ''})`);
} catch (e) {
  failures++;
  console.log(`FAIL: ${e.stack || e}`);
} finally {
  await browser.close();
}
console.log(failures ? `ui: ${failures} failures` : 'ui: all checks passed');
process.exit(failures ? 1 : 0);
