#!/usr/bin/env bash
# outbreaks.sh - outbreak detection against generated scenarios: a simulated week of steady
# background gives no candidate; three events merged into it (a new campaign of Mirai
# variants on ports that were quiet, a sudden growth of Mirai bots, a burst of DoS
# backscatter) are each detected within 2 intervals (10 minutes) of their start, nothing else
# is, and the hosts named as driving a candidate are the event's own; the API serves the
# candidates to staff only.
#
# Usage: outbreaks.sh DARKSCOPE_BIN SHARED_DIR SCRATCH_DIR
set -euo pipefail
bin=$1 tmp=$3
fail() { echo "FAIL: outbreaks: $*" >&2; exit 1; }
rm -rf "$tmp" && mkdir -p "$tmp"
cd "$tmp"
spid=
cleanup() {
  local rc=$?
  [ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null && wait "$spid" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT

# the background: a week of the tiny profile with more Mirai bots and no variants
"$bin" gen --profile tiny --duration 7d --seed 21 --darknet6 none --variants 0 --bots 200000 \
  -w bg.pcap --truth-hosts none -q
only="--zmap 0 --masscan 0 --nmap 0 --unicorn 0 --research 0 --kernel 0 --campaigns 0 --udp 0
  --pingers 0 --v6-scanners 0 --leakers 0 --oddities 0 --darknet6 none --truth-hosts all -q"
t1=2024-01-05T12:00:00Z t2=2024-01-06T06:00:00Z t3=2024-01-03T18:00:00Z
# shellcheck disable=SC2086
"$bin" gen --profile tiny --start $t1 --duration 2h --seed 31 $only --bots 0 --attacks 0 --variants 50000 -w ev1.pcap --truth ev1.json
# shellcheck disable=SC2086
"$bin" gen --profile tiny --start $t2 --duration 2h --seed 32 $only --variants 0 --attacks 0 --bots 600000 -w ev2.pcap --truth ev2.json
# shellcheck disable=SC2086
"$bin" gen --profile tiny --start $t3 --duration 1h --seed 33 $only --variants 0 --bots 0 --attacks 300 -w ev3.pcap --truth ev3.json

"$bin" analyze -r bg.pcap --db bg.db -o /dev/null
n_bg=$("$bin" report outbreaks --db bg.db --format json | jq length)
[ "$n_bg" = 0 ] || fail "$n_bg candidates on the steady week: $("$bin" report outbreaks --db bg.db --format json | jq -c '[.[] | {name, start}]')"
echo "outbreaks: no candidate over a simulated week of steady background ($(stat -c %s bg.pcap) bytes)"

"$bin" analyze -r bg.pcap -r ev1.pcap -r ev2.pcap -r ev3.pcap --db all.db -o /dev/null
"$bin" report outbreaks --db all.db --format json >ob.json
epoch() { date -u -d "$1" +%s; }
e1=$(epoch $t1) e2=$(epoch $t2) e3=$(epoch $t3)
# every candidate starts within 2 intervals of an event
jq -e --argjson e "[$e1, $e2, $e3]" 'all(.[]; (.start | fromdateiso8601) as $s |
  any($e[]; $s >= . and $s < . + 600))' ob.json >/dev/null ||
  fail "a candidate outside the events: $(jq -c '[.[] | {name, start}]' ob.json)"
has() { # NAME EVENT_EPOCH: a candidate for NAME within 10 minutes of the event
  jq -e --arg n "$1" --argjson e "$2" 'any(.[]; .name == $n and ((.start | fromdateiso8601) - $e) < 600
    and ((.start | fromdateiso8601) - $e) >= 0)' ob.json >/dev/null || fail "no candidate for $1 after $3"
}
has 37215/tcp "$e1" "the variants' campaign"
has 52869/tcp "$e1" "the variants' campaign"
has mirai "$e2" "the growth of Mirai bots"
has 23/tcp "$e2" "the growth of Mirai bots"
has backscatter "$e3" "the backscatter burst"
# the hosts driving a candidate are the event's
jq -r '.hosts[].address' ev1.json | sort -u >ev1.hosts
jq -r '.[] | select(.name == "37215/tcp") | .top_hosts[].address' ob.json | sort -u >drv1
[ -s drv1 ] && [ -z "$(comm -23 drv1 ev1.hosts)" ] || fail "37215/tcp is driven by hosts outside the campaign: $(comm -23 drv1 ev1.hosts | head -3)"
jq -r '.hosts[].address' ev3.json | sort -u >ev3.hosts
jq -r '.[] | select(.name == "backscatter") | .top_hosts[].address' ob.json | sort -u >drv3
[ -s drv3 ] && [ -z "$(comm -23 drv3 ev3.hosts)" ] || fail "the backscatter burst is driven by hosts outside it"
echo "outbreaks: $(jq length ob.json) candidates, each within 2 intervals of its event: $(jq -r '[.[].name] | unique | join(" ")' ob.json)"

# a restart keeps the detector's learning: the background cut two hours before the growth of
# Mirai bots (at a 5-minute boundary), the parts ingested one after the other into one store,
# give the candidates (series and interval) of one ingest of the whole, with the baselines it
# had learned (within 25 %: the second ingest's host profiles start anew, so a few sources'
# research labels and classes differ); the second part alone, in a fresh store, is still
# warming up (its baselines under half of them)
cut=$(( $(epoch $t2) - 7200 ))
py=${DS_PYTHON:-/usr/bin/python3}
"$py" - bg.pcap "$cut" part1.pcap part2.pcap <<'PY'
import struct, sys
src, cut, a, b = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(src, 'rb') as f, open(a, 'wb') as fa, open(b, 'wb') as fb:
    head = f.read(24)
    magic = head[:4]
    le = magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1')
    if not (le or magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d')):
        sys.exit('not a pcap file')
    e = '<' if le else '>'
    fa.write(head); fb.write(head)
    while True:
        rec = f.read(16)
        if len(rec) < 16:
            break
        sec, _, incl, _ = struct.unpack(e + 'IIII', rec)
        (fa if sec < cut else fb).write(rec + f.read(incl))
PY
"$bin" analyze -r bg.pcap -r ev2.pcap --db whole.db -o /dev/null
"$bin" analyze -r part1.pcap --db split.db -o /dev/null
"$bin" analyze -r part2.pcap -r ev2.pcap --db split.db -o /dev/null
"$bin" analyze -r part2.pcap -r ev2.pcap --db fresh.db -o /dev/null
for d in whole split fresh; do "$bin" report outbreaks --db $d.db --format json >$d.ob.json; done
names() { jq -c '[.[] | {name, start}] | sort_by(.name)' "$1"; }
base() { jq --arg n "$2" '.[] | select(.name == $n) | .baseline' "$1"; }
[ "$(jq length whole.ob.json)" -ge 2 ] || fail "no candidates for the growth of Mirai bots"
[ "$(names split.ob.json)" = "$(names whole.ob.json)" ] ||
  fail "after a restart the candidates differ: $(names split.ob.json) against $(names whole.ob.json)"
for n in mirai 23/tcp; do
  w=$(base whole.ob.json $n) sp=$(base split.ob.json $n) fr=$(base fresh.ob.json $n)
  jq -en --argjson w "$w" --argjson s "$sp" '($s - $w | fabs) <= 0.25 * $w' >/dev/null ||
    fail "$n: baseline $sp after a restart, $w in one ingest"
  jq -en --argjson w "$w" --argjson f "${fr:-0}" '$f < 0.5 * $w' >/dev/null ||
    fail "$n: baseline ${fr:-none} without the saved state, $w with it: the test would not see a lost state"
done
echo "outbreaks: ingested in two parts, the detector goes on from its saved state: mirai baseline $(base split.ob.json mirai) (one ingest: $(base whole.ob.json mirai), without the state: $(base fresh.ob.json mirai))"

# the API: staff only
"$bin" org add --db all.db --name Someone --livenet 192.0.2.0/24 --file "$tmp/o.jsonl" >/dev/null
tok_admin=$("$bin" user add --db all.db --name root --role admin 2>/dev/null)
tok_org=$("$bin" user add --db all.db --name some --role org --org Someone 2>/dev/null)
"$bin" serve --db all.db --http 127.0.0.1:0 >serve.out 2>serve.err &
spid=$!
for _ in $(seq 100); do grep -q "workbench at" serve.err 2>/dev/null && break; sleep 0.1; done
base=$(grep -o 'http://127.0.0.1:[0-9]*' serve.err | head -1)/api/v1
curl -sf -H "Authorization: Bearer $tok_admin" "$base/outbreaks?limit=1000" >api.json || fail "GET /outbreaks"
[ "$(jq '.outbreaks | length' api.json)" = "$(jq length ob.json)" ] || fail "the API and the report differ"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok_org" "$base/outbreaks")" = 403 ] ||
  fail "an organisation user may read outbreak candidates"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok_admin" "$base/outbreaks?dim=nope")" = 400 ] ||
  fail "a bad dim was accepted"
echo "outbreaks: the API serves them to staff only"
echo "outbreaks: all checks passed"
