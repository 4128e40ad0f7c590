#!/usr/bin/env bash
# campaigns.sh - reflector-hunting campaigns against the generator's ground truth (every
# campaign's packets, first and last probe and sources, per source block; with one worker and
# with two), the report's forms and filters, and the API with organisation scoping.
#
# Usage: campaigns.sh DARKSCOPE_BIN SHARED_DIR SCRATCH_DIR
set -euo pipefail
bin=$1 tmp=$3
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: campaigns: $*" >&2; exit 1; }
rm -rf "$tmp" && mkdir -p "$tmp"
cd "$tmp"
spid=
cleanup() {
  local rc=$?
  [ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null && wait "$spid" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT

darknet=198.18.0.0/16
"$bin" gen --profile tiny --seed 11 --duration 1h --darknet "$darknet" --darknet6 none -w t.pcap \
  --truth t.json --truth-hosts none -q
n_truth=$(jq '[.campaigns[] | select(.packets > 0)] | length' t.json)
[ "$n_truth" -ge 10 ] || fail "only $n_truth campaigns generated"
for t in 1 2; do
  "$bin" analyze -r t.pcap --db "s$t.db" --darknet "$darknet" -T "$t" -o /dev/null
  python3 "$here/../lib/campaign_truth.py" t.json "s$t.db" >check$t.txt || fail "with $t worker(s): $(cat check$t.txt)"
done
echo "campaigns: $(tail -1 check1.txt) (1 and 2 workers)"

"$bin" report campaigns --db s1.db --format json >c.json
n=$(jq length c.json)
jq -e 'all(.[]; .packets >= 1 and .sources >= 1 and .sources <= .packets
  and (.darknet_coverage - .darknet_addresses / 65536 | fabs) < 1e-9
  and (.top_sources | map(.packets) | add) <= .packets)' c.json >/dev/null || fail "implausible fields: $(jq -c '.[0]' c.json)"
# research scanners' campaigns (the truth marks them) are left out on request
n_research=$(jq '[.campaigns[] | select(.packets > 0 and .research)] | length' t.json)
[ "$(("$n" - $("$bin" report campaigns --db s1.db --exclude-research --format json | jq length)))" = "$n_research" ] ||
  fail "--exclude-research did not leave out the $n_research research campaigns"
"$bin" report campaigns --db s1.db --format csv >c.csv
[ "$(head -1 c.csv | cut -d, -f1-5)" = "id,protocol,request,port,source_block" ] || fail "CSV header: $(head -1 c.csv)"
[ "$(($(wc -l <c.csv) - 1))" = "$n" ] || fail "CSV rows"
src=$(jq -r '.[0].top_sources[0].address' c.json)
[ "$("$bin" report campaigns --db s1.db --source "$src" --format json | jq '[.[] | select(.top_sources | map(.address) | index("'"$src"'"))] | length')" -ge 1 ] ||
  fail "--source $src"
echo "campaigns: $n campaigns; report forms and filters checked"

# the API
src2=$(jq -r '.[1].top_sources[0].address' c.json)
"$bin" org add --db s1.db --name Hunter --livenet "$src2/32" --file "$tmp/o.jsonl" >/dev/null
tok_admin=$("$bin" user add --db s1.db --name root --role admin 2>/dev/null)
tok_org=$("$bin" user add --db s1.db --name hun --role org --org Hunter 2>/dev/null)
"$bin" serve --db s1.db --http 127.0.0.1:0 >serve.out 2>serve.err &
spid=$!
for _ in $(seq 100); do grep -q "workbench at" serve.err 2>/dev/null && break; sleep 0.1; done
base=$(grep -o 'http://127.0.0.1:[0-9]*' serve.err | head -1)/api/v1
curl -sf -H "Authorization: Bearer $tok_admin" "$base/campaigns?limit=10000" >api.json || fail "GET /campaigns"
[ "$(jq '.campaigns | length' api.json)" = "$n" ] || fail "the API lists $(jq '.campaigns | length' api.json) campaigns, the report $n"
for q in "" "source=0.0.0.0/0" "protocol=dns" "limit=10000&from=2000-01-01"; do
  curl -sf -H "Authorization: Bearer $tok_org" "$base/campaigns?$q" >org.json || fail "GET /campaigns?$q as the organisation"
  jq -e --arg s "$src2" '(.campaigns | length) <= 1 and all(.campaigns[]; .top_sources | map(.address) | index($s))' org.json >/dev/null ||
    fail "GET /campaigns?$q shows the organisation others' campaigns: $(jq -c '[.campaigns[].source_block]' org.json)"
done
curl -sf -H "Authorization: Bearer $tok_org" "$base/campaigns" | jq -e '.campaigns | length == 1' >/dev/null ||
  fail "the organisation does not see its own campaign"
code=$(curl -s -o bad.json -w '%{http_code}' -H "Authorization: Bearer $tok_admin" "$base/campaigns?source=nope")
[ "$code" = 400 ] || fail "a bad source parameter gave HTTP $code"
echo "campaigns: the API lists the same campaigns; an organisation sees only its own"
echo "campaigns: all checks passed"
