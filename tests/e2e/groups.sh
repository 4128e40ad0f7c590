#!/usr/bin/env bash
# groups.sh - host groups from a live daemon (a paced replay) against the generator's ground
# truth: groups never mix fingerprinted families (Mirai bots and variants, ZMap, Masscan),
# every active Mirai host that only sent to 23 and 2323/TCP is in one group, every
# grouped host is one the capture had active; the API scopes groups to an organisation's
# hosts and says so when there is no live daemon.
#
# Usage: groups.sh DARKSCOPE_BIN SHARED_DIR SCRATCH_DIR
set -euo pipefail
bin=$1 tmp=$3
fail() { echo "FAIL: groups: $*" >&2; exit 1; }
rm -rf "$tmp" && mkdir -p "$tmp"
cd "$tmp"
dpid=
cleanup() {
  local rc=$?
  [ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT

"$bin" gen --profile tiny --duration 10m --seed 5 --scale 5 -w t.pcap --truth t.json --truth-hosts all -q
jq -r '[.hosts[] | select(.population == "mirai") | .address][:3][]' t.json >org.addrs
args=(); while read -r a; do args+=(--livenet "$a/32"); done <org.addrs
"$bin" org add --db s.db --name Bots "${args[@]}" --file "$tmp/o.jsonl" >/dev/null
tok_admin=$("$bin" user add --db s.db --name root --role admin 2>/dev/null)
tok_org=$("$bin" user add --db s.db --name bots --role org --org Bots 2>/dev/null)
"$bin" run --db s.db --replay t.pcap --speed 10x --darknet "$(jq -r '.darknet | join(",")' t.json)" \
  --http 127.0.0.1:0 --linger --log-level warn >run.out 2>run.err &
dpid=$!
for _ in $(seq 100); do grep -q "workbench at" run.err 2>/dev/null && break; sleep 0.1; done
base=$(grep -o 'http://127.0.0.1:[0-9]*' run.err | head -1)/api/v1
[ "$base" != /api/v1 ] || fail "the daemon did not start: $(cat run.err)"
# the groups are published every 30 s of packet time (3 s at 10x); wait for 5 minutes of it
for _ in $(seq 600); do
  curl -s -H "Authorization: Bearer $tok_admin" "$base/groups?max_hosts=5000" >g.json || true
  at=$(jq -r '.at // empty' g.json 2>/dev/null || true)
  [[ "$at" > "2024-01-01T00:05" ]] && break
  sleep 0.1
done
[[ "$at" > "2024-01-01T00:05" ]] || fail "no groups after 5 minutes of packet time: $(head -c 300 g.json)"

# the populations of every grouped host, from the truth
export LC_ALL=C
jq -r '.hosts[] | "\(.address) \(.population) \(.ports | map(.port) | sort | join(",") | if . == "" then "-" else . end)"' t.json |
  sort -k1,1 >truth.txt
jq -r '.groups[] | .id as $g | .hosts[] | "\(.address) \($g)"' g.json | sort -k1,1 >grouped.txt
n_grouped=$(wc -l <grouped.txt)
[ "$n_grouped" -ge 200 ] || fail "only $n_grouped hosts grouped"
join truth.txt grouped.txt >both.txt
[ "$(wc -l <both.txt)" = "$n_grouped" ] || fail "grouped hosts that the capture does not have"
# fingerprinted families never share a group (Mirai bots and variants are one family: a
# variant that scans 23/TCP behaves as a bot does)
awk '$2 == "mirai" || $2 == "mirai-variant" || $2 == "zmap" || $2 == "masscan" {sub(/-variant/, "", $2); print $4, $2}' both.txt |
  sort -u | awk '{n[$1]++} END {for (g in n) if (n[g] > 1) print g}' >mixed.txt
[ ! -s mixed.txt ] || fail "groups mixing fingerprinted populations: $(head -3 mixed.txt)"
# the Mirai bots and variants that sent only to 23 and 2323/TCP are one group
awk '($2 == "mirai" || $2 == "mirai-variant") && ($3 == "23" || $3 == "2323" || $3 == "23,2323") {print $4}' both.txt |
  sort -u >mirai.groups
[ "$(wc -l <mirai.groups)" = 1 ] || fail "the telnet Mirai bots are in $(wc -l <mirai.groups) groups"
n_mirai=$(awk '$2 == "mirai"' both.txt | wc -l)
echo "groups: $n_grouped hosts in $(jq '.groups_total' g.json) groups; the $n_mirai Mirai bots in one, no fingerprinted population mixed"

# an organisation sees its own hosts only
curl -sf -H "Authorization: Bearer $tok_org" "$base/groups?max_hosts=5000" >og.json || fail "GET /groups as the organisation"
jq -r '.groups[].hosts[].address' og.json | sort >og.addrs
[ -s og.addrs ] && [ -z "$(comm -23 og.addrs <(sort org.addrs))" ] || fail "the organisation sees other hosts: $(head -3 og.addrs)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok_admin" "$base/groups?max_hosts=0")
[ "$code" = 400 ] || fail "max_hosts=0 gave HTTP $code"
kill -TERM "$dpid" && wait "$dpid" || true
dpid=
"$bin" serve --db s.db --http 127.0.0.1:0 >serve.out 2>serve.err &
dpid=$!
for _ in $(seq 100); do grep -q "workbench at" serve.err 2>/dev/null && break; sleep 0.1; done
base=$(grep -o 'http://127.0.0.1:[0-9]*' serve.err | head -1)/api/v1
code=$(curl -s -o nf.json -w '%{http_code}' -H "Authorization: Bearer $tok_admin" "$base/groups")
[ "$code" = 404 ] && grep -q "live daemon" nf.json || fail "serve answered /groups with HTTP $code: $(cat nf.json)"
echo "groups: organisation scoping and serve checked"
echo "groups: all checks passed"
