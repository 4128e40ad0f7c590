// asn-csv-to-mmdb.mjs - converts @ip-location-db/asn CSV files into a MaxMind DB with the
// GeoLite2-ASN field layout (autonomous_system_number, autonomous_system_organization).
// Usage: node asn-csv-to-mmdb.mjs OUT.mmdb asn-ipv4.csv [asn-ipv6.csv]
// CSV rows: first_address,last_address,asn,organisation (organisation may be "quoted").
// The format is maxmind.github.io/MaxMind-DB (2.0): an IPv6 search tree of 32-bit records
// with IPv4 under ::/96, a data section of maps, and a metadata map. Plain Node.js, no deps.
import { readFileSync, writeFileSync, renameSync } from 'node:fs';

const [out, ...inputs] = process.argv.slice(2);
if (!out || inputs.length === 0) {
  console.error('usage: node asn-csv-to-mmdb.mjs OUT.mmdb asn-ipv4.csv [asn-ipv6.csv]');
  process.exit(2);
}

// ---- search tree: node i has records left[i], right[i]; kind 0 empty, 1 node, 2 data ----
let cap = 1 << 20, count = 0;
let kindL = new Uint8Array(cap), kindR = new Uint8Array(cap);
let valL = new Uint32Array(cap), valR = new Uint32Array(cap);
function newNode(kind, val) {
  if (count === cap) {
    cap *= 2;
    const grow = (a, T) => { const b = new T(cap); b.set(a); return b; };
    kindL = grow(kindL, Uint8Array); kindR = grow(kindR, Uint8Array);
    valL = grow(valL, Uint32Array); valR = grow(valR, Uint32Array);
  }
  kindL[count] = kindR[count] = kind;
  valL[count] = valR[count] = val;
  return count++;
}
// Descends one bit from `node`, creating (or pushing data down into) a child as needed.
function child(node, bit) {
  const kinds = bit ? kindR : kindL, vals = bit ? valR : valL;
  if (kinds[node] === 1) return vals[node];
  const c = newNode(kinds[node], vals[node]);
  (bit ? kindR : kindL)[node] = 1;
  (bit ? valR : valL)[node] = c;
  return c;
}
function setData(node, bit, off) {
  (bit ? kindR : kindL)[node] = 2;
  (bit ? valR : valL)[node] = off;
}
const root = newNode(0, 0);
let v4root = -1;
function insertV4(addr, len, off) { // addr: number (32 bits), len 1..32
  if (v4root < 0) { let n = root; for (let i = 0; i < 96; i++) n = child(n, 0); v4root = n; }
  let n = v4root;
  for (let i = 0; i < len - 1; i++) n = child(n, (addr >>> (31 - i)) & 1);
  setData(n, (addr >>> (32 - len)) & 1, off);
}
function insertV6(addr, len, off) { // addr: BigInt (128 bits), len 1..128
  let n = root;
  for (let i = 0; i < len - 1; i++) n = child(n, Number((addr >> BigInt(127 - i)) & 1n));
  setData(n, Number((addr >> BigInt(128 - len)) & 1n), off);
}

// ---- data section ----
const chunks = [];
let dataLen = 0;
function ctrl(type, size) {
  const b = [];
  let sz, ext = [];
  if (size < 29) sz = size;
  else if (size < 285) { sz = 29; ext = [size - 29]; }
  else if (size < 65821) { sz = 30; const s = size - 285; ext = [s >> 8, s & 255]; }
  else { sz = 31; const s = size - 65821; ext = [(s >> 16) & 255, (s >> 8) & 255, s & 255]; }
  b.push(((type <= 7 ? type : 0) << 5) | sz);
  if (type > 7) b.push(type - 7);
  return Buffer.from([...b, ...ext]);
}
function str(s) { const u = Buffer.from(s, 'utf8'); return Buffer.concat([ctrl(2, u.length), u]); }
function uint(type, v) {
  const bytes = [];
  for (let x = BigInt(v); x > 0n; x >>= 8n) bytes.unshift(Number(x & 255n));
  return Buffer.concat([ctrl(type, bytes.length), Buffer.from(bytes)]);
}
const KEY_NUM = str('autonomous_system_number');
const KEY_ORG = str('autonomous_system_organization');
const seen = new Map();
function record(asn, org) {
  const k = asn + '\u0000' + org;
  let off = seen.get(k);
  if (off !== undefined) return off;
  const parts = [ctrl(7, org ? 2 : 1), KEY_NUM, uint(6, asn)];
  if (org) parts.push(KEY_ORG, str(org));
  const b = Buffer.concat(parts);
  off = dataLen;
  chunks.push(b);
  dataLen += b.length;
  seen.set(k, off);
  return off;
}

// ---- CSV ----
function parseCsvLine(line) {
  const f = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let s = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new Error('unterminated quote');
        s += line.slice(i, q);
        if (line[q + 1] === '"') { s += '"'; i = q + 2; continue; }
        i = q + 1;
        break;
      }
      f.push(s);
      i++; // the comma
    } else {
      const c = line.indexOf(',', i);
      const e = c < 0 ? line.length : c;
      f.push(line.slice(i, e));
      i = e + 1;
    }
  }
  return f;
}
function v4num(s) {
  const p = s.split('.');
  if (p.length !== 4) throw new Error(`bad IPv4 address '${s}'`);
  return p.reduce((a, x) => a * 256 + Number(x), 0);
}
function v6big(s) {
  let [head, tail] = s.includes('::') ? s.split('::') : [s, null];
  const h = head ? head.split(':') : [];
  const t = tail === null ? [] : (tail ? tail.split(':') : []);
  const groups = tail === null ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new Error(`bad IPv6 address '${s}'`);
  return groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}
let ranges = 0, prefixes = 0;
for (const file of inputs) {
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, idx) => {
    if (!line.trim()) return;
    let f;
    try {
      f = parseCsvLine(line.replace(/\r$/, ''));
      if (f.length < 3) throw new Error('fewer than 3 fields');
    } catch (e) {
      throw new Error(`${file}:${idx + 1}: ${e.message}`);
    }
    const asn = Number(f[2]);
    if (!Number.isInteger(asn) || asn <= 0 || asn > 0xffffffff) return; // unallocated / 0
    const off = record(asn, f[3] || '');
    ranges++;
    if (f[0].includes(':')) {
      let a = v6big(f[0]);
      const end = v6big(f[1]);
      while (a <= end) {
        let len = 128;
        while (len > 1) { // widen while aligned and inside the range
          const size = 1n << BigInt(129 - len);
          if ((a & (size - 1n)) !== 0n || a + size - 1n > end) break;
          len--;
        }
        insertV6(a, len, off);
        prefixes++;
        a += 1n << BigInt(128 - len);
      }
    } else {
      let a = v4num(f[0]);
      const end = v4num(f[1]);
      while (a <= end) {
        let len = 32;
        while (len > 1) {
          const size = 2 ** (33 - len);
          if (a % size !== 0 || a + size - 1 > end) break;
          len--;
        }
        insertV4(a, len, off);
        prefixes++;
        a += 2 ** (32 - len);
      }
    }
  });
}

// ---- file ----
const tree = Buffer.alloc(count * 8);
for (let i = 0; i < count; i++) {
  const enc = (k, v) => (k === 1 ? v : k === 2 ? count + 16 + v : count);
  tree.writeUInt32BE(enc(kindL[i], valL[i]), i * 8);
  tree.writeUInt32BE(enc(kindR[i], valR[i]), i * 8 + 4);
}
if (count + 16 + dataLen > 0xffffffff) throw new Error('database too large');
const meta = Buffer.concat([
  Buffer.from([0xab, 0xcd, 0xef]), Buffer.from('MaxMind.com'),
  ctrl(7, 9),
  str('binary_format_major_version'), uint(5, 2),
  str('binary_format_minor_version'), uint(5, 0),
  str('build_epoch'), uint(9, Math.floor(Date.now() / 1000)),
  str('database_type'), str('darkscope-ASN'),
  str('description'), ctrl(7, 1), str('en'),
  str('ASN from @ip-location-db/asn (RouteViews, RIRs via NRO, DB-IP; CC BY 4.0)'),
  str('ip_version'), uint(5, 6),
  str('languages'), ctrl(11, 1), str('en'),
  str('node_count'), uint(6, count),
  str('record_size'), uint(5, 32),
]);
writeFileSync(out + '.tmp', Buffer.concat([tree, Buffer.alloc(16), ...chunks, meta]));
renameSync(out + '.tmp', out);
console.error(`asn-csv-to-mmdb: ${ranges} ranges, ${prefixes} prefixes, ${count} nodes, ` +
              `${seen.size} distinct AS records -> ${out}`);
