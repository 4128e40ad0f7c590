// validate_stix.mjs - checks darkscope's STIX 2.1 bundles: the JSON schema in
// stix21.schema.json (the spec's required properties per object type; ajv, draft 2020-12),
// then what a schema cannot say: each id's prefix is its type and ids are unique, every
// reference resolves inside the bundle to an object of an allowed type, times are ordered,
// SCO ids are the spec's deterministic UUIDv5 of their ID-contributing properties, and
// indicator patterns are well-formed address comparisons.
// Usage: node validate_stix.mjs BUNDLE.json...   Exit 0 when all are valid.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const here = dirname(fileURLToPath(import.meta.url));
const schema = JSON.parse(readFileSync(join(here, 'stix21.schema.json'), 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, strictTypes: false });
addFormats(ajv);
const validate = ajv.compile(schema);

const SCO_NS = '00abedb4-aa42-466c-9c01-fed23315a9b7';
const SCO_TYPES = new Set(['ipv4-addr', 'ipv6-addr', 'network-traffic', 'mac-addr', 'domain-name']);
const CONTRIB = {
  'ipv4-addr': ['value'],
  'ipv6-addr': ['value'],
  'network-traffic': ['start', 'end', 'src_ref', 'dst_ref', 'src_port', 'dst_port', 'protocols', 'extensions'],
};

function canonical(v) {
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  if (v && typeof v === 'object')
    return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + canonical(v[k])).join(',') + '}';
  return JSON.stringify(v);
}

function uuid5(ns, name) {
  const nsb = Buffer.from(ns.replace(/-/g, ''), 'hex');
  const h = createHash('sha1').update(nsb).update(Buffer.from(name, 'utf8')).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

const REFS = { // property -> allowed target types (null: any SDO)
  created_by_ref: ['identity'],
  sighting_of_ref: null,
  observed_data_refs: ['observed-data'],
  where_sighted_refs: ['identity', 'location'],
  object_refs: [...SCO_TYPES],
  src_ref: ['ipv4-addr', 'ipv6-addr', 'mac-addr', 'domain-name'],
  dst_ref: ['ipv4-addr', 'ipv6-addr', 'mac-addr', 'domain-name'],
};

function check(path) {
  const errors = [];
  let bundle;
  try {
    bundle = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    return [`${path}: not JSON: ${e.message}`];
  }
  if (!validate(bundle)) {
    for (const e of validate.errors.slice(0, 20))
      errors.push(`${path}: schema: ${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
    return errors;
  }
  const byId = new Map();
  for (const o of bundle.objects) {
    if (!o.id.startsWith(o.type + '--')) errors.push(`${o.id}: id does not start with its type ${o.type}`);
    if (byId.has(o.id)) errors.push(`${o.id}: id used twice`);
    byId.set(o.id, o);
  }
  const ts = (s) => Date.parse(s);
  for (const o of bundle.objects) {
    for (const [prop, types] of Object.entries(REFS)) {
      if (!(prop in o)) continue;
      for (const ref of [].concat(o[prop])) {
        const t = byId.get(ref);
        if (!t) errors.push(`${o.id}: ${prop} ${ref} is not in the bundle`);
        else if (types ? !types.includes(t.type) : SCO_TYPES.has(t.type))
          errors.push(`${o.id}: ${prop} ${ref} is a ${t.type}`);
      }
    }
    if (o.created && ts(o.modified) < ts(o.created)) errors.push(`${o.id}: modified before created`);
    if (o.first_observed && ts(o.last_observed) < ts(o.first_observed)) errors.push(`${o.id}: last_observed before first_observed`);
    if (o.first_seen && o.last_seen && ts(o.last_seen) < ts(o.first_seen)) errors.push(`${o.id}: last_seen before first_seen`);
    if (o.start && o.end && ts(o.end) < ts(o.start)) errors.push(`${o.id}: end before start`);
    if (CONTRIB[o.type]) {
      const c = {};
      for (const k of CONTRIB[o.type]) if (k in o) c[k] = o[k];
      const want = `${o.type}--${uuid5(SCO_NS, canonical(c))}`;
      if (o.id !== want) errors.push(`${o.id}: not the deterministic SCO id ${want}`);
    }
    if (o.type === 'indicator') {
      const m = /^\[(ipv4-addr|ipv6-addr):value = '([^'\\]+)'\]$/.exec(o.pattern);
      if (!m) errors.push(`${o.id}: pattern ${o.pattern} is not an address comparison`);
      else if (!ajv.validate({ type: 'string', format: m[1] === 'ipv4-addr' ? 'ipv4' : 'ipv6' }, m[2]))
        errors.push(`${o.id}: pattern value ${m[2]} is not an ${m[1]}`);
      if (o.pattern_type !== 'stix') errors.push(`${o.id}: pattern_type ${o.pattern_type}`);
    }
  }
  return errors;
}

let bad = 0;
for (const path of process.argv.slice(2)) {
  const errors = check(path);
  if (errors.length) {
    bad++;
    console.error(errors.slice(0, 20).join('\n'));
  } else {
    const b = JSON.parse(readFileSync(path, 'utf8'));
    const count = {};
    for (const o of b.objects) count[o.type] = (count[o.type] || 0) + 1;
    console.log(`${path}: valid STIX 2.1 bundle, ${b.objects.length} objects ${JSON.stringify(count)}`);
  }
}
if (process.argv.length < 3) {
  console.error('usage: node validate_stix.mjs BUNDLE.json...');
  process.exit(2);
}
process.exit(bad ? 1 : 0);
