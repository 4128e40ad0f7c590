#!/usr/bin/env python3
# campaign_truth.py - compares the reflector-hunting campaigns of a store with a generated
# capture's ground truth. The analyzer groups probes per (amplifier port, source /24 or /48);
# a truth campaign may have sources in several blocks, and two may share one, so both sides are
# compared per connected group of blocks: packets, first and last probe, and the source set must
# be identical, and no campaign may be reported outside the truth's blocks.
# Usage: campaign_truth.py TRUTH.json STORE.db
import json, sqlite3, sys, ipaddress
truth = json.load(open(sys.argv[1])); db = sqlite3.connect(sys.argv[2])
def block(a):
    ip = ipaddress.ip_address(a)
    return str(ipaddress.ip_network(f"{a}/24" if ip.version == 4 else f"{a}/48", strict=False))
got = {}
for proto, port, blk, first, last, packets, sources, top in db.execute(
        "SELECT protocol, port, block, first_ns, last_ns, packets, sources, top_sources FROM amp_campaign"):
    got[(port, blk)] = dict(first=first, last=last, packets=packets, sources=set(t['address'] for t in json.loads(top)))
def ns(t):  # "2024-01-01T00:00:00.018360Z"
    import datetime
    d = datetime.datetime.strptime(t[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(d.timestamp()) * 10**9 + int(t[20:26]) * 1000
# truth campaigns -> their keys; components of campaigns sharing a key
camps = [c for c in truth['campaigns'] if c['packets'] > 0]
keys = [set((c['port'], block(s)) for s in c['sources']) for c in camps]
parent = list(range(len(camps)))
def find(i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]; i = parent[i]
    return i
owner = {}
for i, ks in enumerate(keys):
    for k in ks:
        if k in owner: parent[find(i)] = find(owner[k])
        else: owner[k] = i
comps = {}
for i in range(len(camps)): comps.setdefault(find(i), []).append(i)
bad = 0; used = set()
for members in comps.values():
    ks = set().union(*(keys[i] for i in members))
    want = dict(packets=sum(camps[i]['packets'] for i in members), first=min(ns(camps[i]['first']) for i in members),
                last=max(ns(camps[i]['last']) for i in members), sources=set().union(*(set(camps[i]['sources']) for i in members)))
    g = [got[k] for k in ks if k in got]; used |= ks
    have = dict(packets=sum(x['packets'] for x in g), first=min((x['first'] for x in g), default=None),
                last=max((x['last'] for x in g), default=None), sources=set().union(*(x['sources'] for x in g)) if g else set())
    if want != have:
        bad += 1; print("MISMATCH", [camps[i]['probe'] for i in members], want, have)
extra = [k for k in got if k not in used]
for k in extra: print("EXTRA", k, got[k]); bad += 1
print(f"campaigns: {len(camps)} truth campaigns in {len(comps)} groups, {len(got)} reported, {bad} mismatches")
sys.exit(1 if bad else 0)
