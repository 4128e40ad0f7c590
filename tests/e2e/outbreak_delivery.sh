#!/usr/bin/env bash
# outbreak_delivery.sh - issue 6's delivery half with real receivers on 127.0.0.1: outbreak
# candidates of a generated two-day capture (a sudden growth of Mirai bots on the second day)
# reach the analysts' organisation as "outbreak" alerts by webhook (signature verified) and
# e-mail (a real SMTP server), with the values the store's candidates have; no other
# organisation user sees them over the API; two recipients subscribed to daily feed digests
# get exactly one message per UTC day each, holding exactly the rows `darkscope feed --org`
# prints for that recipient and day. The first run is killed with SIGKILL while every
# receiver refuses (500, SMTP down); the restart delivers each message exactly once, and a
# third run sends nothing.
#
# Usage: outbreak_delivery.sh DARKSCOPE_BIN SHARED_DIR SCRATCH_DIR
set -euo pipefail
bin=$1 tmp=$3
py=${DS_PYTHON:-/usr/bin/python3}
here=$(cd "$(dirname "$0")/.." && pwd)
recv=$here/receivers
fail() { echo "FAIL: outbreak_delivery: $*" >&2; exit 1; }
for tool in jq curl; do
  command -v "$tool" >/dev/null || fail "'$tool' is not installed"
done
"$py" -c 'import aiosmtpd' 2>/dev/null || fail "$py lacks aiosmtpd (Debian: python3-aiosmtpd)"
rm -rf "$tmp" && mkdir -p "$tmp"
cd "$tmp"
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
start_receiver() { # NAME CMD...: NAME.port holds "proto PORT" once it listens
  local name=$1; shift
  rm -f "$name.port"
  "$py" "$@" --port-file "$name.port" >"$name.out" 2>&1 &
  local pid=$!
  pids+=("$pid")
  eval "pid_$name=$pid"
  for _ in $(seq 100); do
    [ -s "$name.port" ] && return 0
    kill -0 "$pid" 2>/dev/null || fail "receiver $name did not start: $(cat "$name.out")"
    sleep 0.1
  done
  fail "receiver $name did not start within 10 s"
}
stop_receiver() { local p; eval "p=\$pid_$1"; kill -TERM "$p"; wait "$p" 2>/dev/null || true; }
port_of() { awk -v k="$2" '$1 == k {print $2}' "$1.port"; }
sql() { "$py" -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1], timeout=30)
for r in c.execute(sys.argv[2]): print("|".join(str(x) for x in r))' "$1" "$2"; }
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ------------------------------------------------------------------ traffic -----------------
only="--zmap 0 --masscan 0 --nmap 0 --unicorn 0 --research 0 --kernel 0 --campaigns 0 --udp 0
  --pingers 0 --v6-scanners 0 --leakers 0 --oddities 0 --darknet6 none --truth-hosts all -q"
"$bin" gen --profile tiny --start 2024-01-01T00:00:00Z --duration 2d --seed 21 --darknet6 none \
  --variants 0 --bots 200000 -w bg.pcap --truth bg.json -q
# shellcheck disable=SC2086
"$bin" gen --profile tiny --start 2024-01-02T06:00:00Z --duration 2h --seed 32 $only --variants 0 \
  --attacks 0 --bots 600000 -w ev.pcap --truth ev.json

# ------------------------------------------------------------------ receivers (refusing) ----
soc_secret=soc-s3cret isp_secret=isp-s3cret
start_receiver socw "$recv/http_receiver.py" --log socw.down.log --secret "$soc_secret" --mode 500
start_receiver ispw "$recv/http_receiver.py" --log ispw.down.log --secret "$isp_secret" --mode 500
socport=$(port_of socw http) ispport=$(port_of ispw http)
smtp_port=$(free_port) # nothing listens there during the first run

db=s.db
"$bin" org add --db "$db" --name SOC --analysts --webhook "http://127.0.0.1:$socport/soc" \
  --webhook-secret "$soc_secret" --email soc@cert.example >org.out 2>&1 || fail "org add SOC: $(cat org.out)"
"$bin" org add --db "$db" --name ISPA --livenet 209.0.0.0/8 --livenet 210.0.0.0/8 \
  --webhook "http://127.0.0.1:$ispport/ispa" --webhook-secret "$isp_secret" --channels webhook \
  --feed infected:csv >>org.out 2>&1 || fail "org add ISPA: $(cat org.out)"
"$bin" org add --db "$db" --name ISPB --livenet 199.0.0.0/8 --file "$tmp/ispb.jsonl" \
  --feed infected:json --feed dos:json >>org.out 2>&1 || fail "org add ISPB: $(cat org.out)"
if "$bin" org add --db "$db" --name Bad --livenet 10.0.0.0/8 --feed stats:csv >bad.out 2>&1; then
  fail "a stats feed subscription was accepted"
fi
grep -q "stats:csv" bad.out || fail "the bad --feed error does not name it: $(cat bad.out)"
[ "$(sql "$db" "SELECT name, analysts FROM org ORDER BY id" | tr '\n' ' ')" = "SOC|1 ISPA|0 ISPB|0 " ] ||
  fail "registry: $(sql "$db" "SELECT name, analysts FROM org")"
[ "$(sql "$db" "SELECT o.name || ':' || kind || ':' || format FROM feed_sub JOIN org o ON o.id = org ORDER BY 1" | tr '\n' ' ')" = \
  "ISPA:infected:csv ISPB:dos:json ISPB:infected:json " ] || fail "subscriptions: $(sql "$db" "SELECT * FROM feed_sub")"

# ------------------------------------------------------------------ run 1: SIGKILL ----------
common=(--db "$db" --replay bg.pcap --replay ev.pcap --speed max --http off --log-level info
        --retry-min 200 --retry-max 1000 --smtp-from darkscope@sensor.test)
"$bin" run "${common[@]}" --smtp-url "smtp://127.0.0.1:$smtp_port" --settle-timeout 120 \
  >run1.out 2>run1.err &
rpid=$!
pids+=("$rpid")
ready=
for _ in $(seq 1200); do # the replay stored, every digest queued, the receivers refusing
  if [ "$(sql "$db" "SELECT count(*) FROM feed_digest" 2>/dev/null)" = 6 ] &&
    [ "$(sql "$db" "SELECT count(*) FROM outbox WHERE message_id LIKE 'obdigest-%'" 2>/dev/null)" -ge 1 ] &&
    [ -s socw.down.log ] && [ -s ispw.down.log ]; then
    ready=1
    break
  fi
  kill -0 "$rpid" 2>/dev/null || fail "run 1 ended before it was killed: $(tail -5 run1.err)"
  sleep 0.1
done
[ -n "$ready" ] || fail "run 1 did not queue the digests within 120 s: $(tail -5 run1.err)"
kill -KILL "$rpid"
wait "$rpid" 2>/dev/null || true
pending=$(sql "$db" "SELECT count(*) FROM outbox WHERE state <> 'done' AND channel <> 'file'")
[ "$pending" -gt 0 ] || fail "nothing was left pending by the kill"
jq -e -s 'all(.[]; .status == 500 and .verified == true)' socw.down.log ispw.down.log >/dev/null ||
  fail "the refusing receivers saw other requests"
echo "outbreak_delivery: run 1 killed with $pending deliveries pending"

# ------------------------------------------------------------------ run 2: delivered once ---
stop_receiver socw
stop_receiver ispw
start_receiver socw "$recv/http_receiver.py" --log socw.log --secret "$soc_secret" --port "$socport"
start_receiver ispw "$recv/http_receiver.py" --log ispw.log --secret "$isp_secret" --port "$ispport"
mkdir mail
start_receiver smtp "$recv/smtp_server.py" --out-dir mail --port "$smtp_port"
"$bin" run "${common[@]}" --smtp-url "smtp://127.0.0.1:$smtp_port" --settle-timeout 60 \
  >run2.out 2>run2.err || fail "run 2 exited $?: $(tail -5 run2.err)"
[ "$(sql "$db" "SELECT count(*) FROM outbox WHERE state <> 'done'")" = 0 ] || fail "outbox rows left pending"
jq -e -s 'length > 0 and all(.[]; .status == 200 and .verified == true)' socw.log ispw.log >/dev/null ||
  fail "webhook requests not all verified"
# every message exactly once
for log in socw.log ispw.log; do
  jq -r '.headers["Idempotency-Key"]' "$log" | sort | uniq -d >dups
  [ ! -s dups ] || fail "$log: delivered twice: $(head -3 dups)"
done
find mail -name '*.json' -exec jq -r '[.headers[] | select(.[0] == "Message-ID" or .[0] == "Message-Id") | .[1]][0]' {} + | sort | uniq -d >mdups
[ ! -s mdups ] || fail "an e-mail was delivered twice: $(head -3 mdups)"

# ------------------------------------------------------------------ outbreak alerts ---------
"$bin" report outbreaks --db "$db" --format json >ob.json
[ "$(jq length ob.json)" -gt 0 ] || fail "no outbreak candidate in the capture"
# expected: the first candidate of each series, keyed as the alerts are (the report prints 10
# significant digits: both sides rounded to 6 decimals)
jq -c 'def r6: . * 1000000 | round; group_by(.dim + "/" + .name) | map(.[0])
  | map({address: (if .dim == "tcp" or .dim == "udp" then "\(.dim)/\(.key)" else "\(.dim)/\(.name)" end),
    name, start, value, baseline: (.baseline | r6), score: (.score | r6)}) | sort_by(.address)' ob.json >expected_ob.json
jq -c '.body | fromjson' socw.log >soc.json
jq -c -s '[.[] | select((has("alerts") | not) and .state == "new")] | map({address, name: .outbreak.name,
  start: .outbreak.interval_start, value: .outbreak.value, baseline: (.outbreak.baseline * 1000000 | round),
  score: (.outbreak.score * 1000000 | round)}) | sort_by(.address)' soc.json >got_ob.json
diff <(jq . expected_ob.json) <(jq . got_ob.json) >ob.diff || fail "outbreak alerts differ (expected < > got): $(cat ob.diff)"
jq -e -s 'all(.[]; (if has("alerts") then .alerts[] else . end) | .case == "outbreak" and .organisation == "SOC"
  and (.version == 2))' soc.json >/dev/null || fail "the analysts got something other than outbreak alerts"
jq -e -s '[.[] | select(has("alerts") | not)] | all(.[]; .state == "new" and .packets > 0
  and (.response | test("WHAT TO DO")) and ((.first_seen | sub("\\.0+Z$"; "Z")) == .outbreak.interval_start))' soc.json >/dev/null ||
  fail "an outbreak notice lacks its fields or its response text"
n_soc=$(wc -l <soc.json)
# the closing digest: every alert, closed
jq -e -s --argjson n "$(jq length expected_ob.json)" '[.[] | select(has("alerts"))] | length == 1
  and (.[0].count == $n) and all(.[0].alerts[]; .state == "closed")' soc.json >/dev/null ||
  fail "the analysts' digest: $(jq -c -s '[.[] | select(has("alerts")) | {digest, count}]' soc.json)"
# e-mail: one per webhook message, the text says what rose, when and by how much
n_mail=$(grep -l '"soc@cert.example"' mail/*.json | wc -l)
[ "$n_mail" = "$n_soc" ] || fail "$n_mail e-mails to the analysts for $n_soc webhook messages"
while read -r a; do
  addr=$(jq -r .address <<<"$a") value=$(jq -r .value <<<"$a") start=$(jq -r .start <<<"$a")
  m=$(grep -l "Outbreak candidate #[0-9]* (new): .*" mail/*.json | xargs grep -l "($addr)" | head -1)
  [ -n "$m" ] || fail "no e-mail for $addr"
  jq -e --arg v "By how much: $value " --arg w "When: $start" --arg h "Hosts driving it:" '[.parts[] |
    select(.content_type == "text/plain") | .payload][0] | contains($v) and contains($w) and contains($h)' "$m" >/dev/null ||
    fail "the e-mail for $addr does not say when and by how much: $(jq -r '.parts[0].payload' "$m" | head -12)"
done < <(jq -c '.[]' expected_ob.json)
# the workbench alerts carry the hosts driving each candidate: those `report outbreaks` names
sql "$db" "SELECT alert.addr, alert_outbreak.hosts FROM alert_outbreak JOIN alert ON alert.id = alert_outbreak.alert
  ORDER BY alert.addr" | while IFS='|' read -r addr hosts; do
  jq -c '[.[].address]' <<<"$hosts"
done >got_hosts.txt
jq -c 'group_by(.dim + "/" + .name) | map(.[0]) | map({a: (if .dim == "tcp" or .dim == "udp"
  then "\(.dim)/\(.key)" else "\(.dim)/\(.name)" end), h: [.top_hosts[].address]}) | sort_by(.a)[] | .h' ob.json >exp_hosts.txt
[ "$(grep -c . exp_hosts.txt)" = "$(jq length expected_ob.json)" ] && grep -qv '^\[\]$' exp_hosts.txt &&
  diff exp_hosts.txt got_hosts.txt >/dev/null || fail "the alerts' driving hosts differ from the report's: $(diff exp_hosts.txt got_hosts.txt | head -4)"
echo "outbreak_delivery: $(jq length expected_ob.json) outbreak alerts exact ($(jq -r '[.[].address] | join(" ")' expected_ob.json)), $n_soc webhook and $n_mail e-mail messages to the analysts"

# ------------------------------------------------------------------ feed digests -------------
check_digest() { # ORG KIND FORMAT DAY BODIES_FILE
  local org=$1 kind=$2 fmt=$3 day=$4 file=$5 next
  next=$(date -u -d "$day + 1 day" +%F)
  "$bin" feed "$kind" --db "$db" --org "$org" --from "$day" --to "$next" --format "$fmt" >cli.out
  jq -c --arg d "$day" --arg k "$kind" 'select(.feed == $k and .day == $d)' "$file" >dig.json
  [ "$(wc -l <dig.json)" = 1 ] || fail "$org: $(wc -l <dig.json) $kind digests for $day"
  jq -r '.content' dig.json | head -c -1 >dig.out # jq -r adds a newline
  if [ "$fmt" = json ]; then # time.observation is when each was made
    diff <(jq -S -c 'del(."time.observation")' cli.out) <(jq -S -c 'del(."time.observation")' dig.out) >d.diff ||
      fail "$org $kind $day: the digest differs from darkscope feed: $(head -5 d.diff)"
  else
    cmp -s cli.out dig.out || fail "$org $kind $day: the digest differs from darkscope feed: $(diff cli.out dig.out | head -5)"
  fi
  local rows
  rows=$(if [ "$fmt" = csv ]; then echo $(($(wc -l <cli.out) - 1)); else wc -l <cli.out; fi)
  [ "$rows" -gt 0 ] && [ "$(jq .count dig.json)" = "$rows" ] || fail "$org $kind $day: count $(jq .count dig.json), rows $rows"
  echo "$rows"
}
jq -c '.body | fromjson | select(has("feed"))' ispw.log >ispa.digests
jq -c 'select(has("feed"))' ispb.jsonl >ispb.digests
[ "$(wc -l <ispa.digests)" = 2 ] || fail "ISPA got $(wc -l <ispa.digests) digests for two days"
[ "$(wc -l <ispb.digests)" = 2 ] || fail "ISPB got $(wc -l <ispb.digests) digests for two days (dos has no rows)"
a1=$(check_digest ISPA infected csv 2024-01-01 ispa.digests)
a2=$(check_digest ISPA infected csv 2024-01-02 ispa.digests)
b1=$(check_digest ISPB infected json 2024-01-01 ispb.digests)
b2=$(check_digest ISPB infected json 2024-01-02 ispb.digests)
# scoped: every row inside the recipient's own ranges
jq -r '.content' ispa.digests | awk -F, 'NR > 1 && $2 != "ip" {print $2}' | grep -v '^$' | sort -u >ispa.ips
jq -r '.content' ispb.digests | jq -r '."source.ip"' | sort -u >ispb.ips
"$py" - ispa.ips ispb.ips <<'EOF' || fail "a digest row outside its recipient's ranges"
import ipaddress, sys
nets = {0: ["209.0.0.0/8", "210.0.0.0/8"], 1: ["199.0.0.0/8"]}
for i, path in enumerate(sys.argv[1:]):
    for line in open(path):
        a = ipaddress.ip_address(line.strip())
        if not any(a in ipaddress.ip_network(n) for n in nets[i]):
            sys.exit(f"{a} in {path}")
EOF
[ "$(sql "$db" "SELECT count(*) FROM feed_digest WHERE kind = 'dos' AND rows = 0")" = 2 ] ||
  fail "the empty dos days are not recorded"
echo "outbreak_delivery: feed digests: ISPA $a1 + $a2 CSV rows, ISPB $b1 + $b2 IntelMQ lines, one per day each, equal to darkscope feed --org"

# ------------------------------------------------------------------ the API -----------------
tok_admin=$("$bin" user add --db "$db" --name root --role admin 2>/dev/null)
tok_soc=$("$bin" user add --db "$db" --name soc --role org --org SOC 2>/dev/null)
tok_isp=$("$bin" user add --db "$db" --name ispa --role org --org ISPA 2>/dev/null)
"$bin" serve --db "$db" --http 127.0.0.1:0 >serve.out 2>serve.err &
spid=$!
pids+=("$spid")
for _ in $(seq 100); do grep -q "workbench at" serve.err 2>/dev/null && break; sleep 0.1; done
base=$(grep -o 'http://127.0.0.1:[0-9]*' serve.err | head -1)/api/v1
n_ob=$(jq length expected_ob.json)
get() { curl -sf -H "Authorization: Bearer $1" "$base/$2"; }
[ "$(get "$tok_admin" 'alerts?case=outbreak&limit=1000' | jq .total)" = "$n_ob" ] || fail "staff do not see the $n_ob outbreak alerts"
[ "$(get "$tok_soc" 'alerts?case=outbreak&limit=1000' | jq .total)" = "$n_ob" ] || fail "the analysts' organisation does not see them"
[ "$(get "$tok_isp" 'alerts?case=outbreak&limit=1000' | jq .total)" = 0 ] || fail "an organisation user sees outbreak alerts"
get "$tok_isp" 'alerts?limit=10000' | jq -e '.total > 0 and all(.alerts[]; .case != "outbreak" and .organisation == "ISPA")' >/dev/null ||
  fail "ISPA's own alert list is wrong"
[ "$(get "$tok_isp" "alerts?org=$(sql "$db" "SELECT id FROM org WHERE name = 'SOC'")" | jq .total)" = 0 ] ||
  fail "ISPA can list the analysts' alerts by org id"
oid=$(sql "$db" "SELECT id FROM alert WHERE kase = 3 ORDER BY id LIMIT 1")
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok_isp" "$base/alerts/$oid")" = 404 ] ||
  fail "ISPA can read outbreak alert $oid"
get "$tok_admin" "alerts/$oid" | jq -e '.case == "outbreak" and (.top_hosts | length) > 0 and
  ([.timeline[] | select(.kind == "notification")] | length) > 0' >/dev/null || fail "alert $oid as staff: $(get "$tok_admin" "alerts/$oid" | head -c 300)"
code=$(curl -s -o wf.json -w '%{http_code}' -H "Authorization: Bearer $tok_soc" -H 'Content-Type: application/json' \
  -d '{"action":"assign","assignee":"soc-oncall"}' "$base/alerts/$oid/workflow")
[ "$code" = 200 ] && jq -e '.workflow == "open" and .assignee == "soc-oncall"' wf.json >/dev/null ||
  fail "the analysts cannot assign their outbreak alert ($code: $(cat wf.json))"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok_isp" -H 'Content-Type: application/json' \
  -d '{"action":"resolve"}' "$base/alerts/$oid/workflow")
[ "$code" = 404 ] || fail "ISPA could act on outbreak alert $oid ($code)"
kill -TERM "$spid"; wait "$spid" 2>/dev/null || true
echo "outbreak_delivery: the API shows outbreak alerts to staff and the analysts only"

# ------------------------------------------------------------------ run 3: nothing again ----
before=$(cat socw.log ispw.log ispb.jsonl | wc -l)
"$bin" run "${common[@]}" --smtp-url "smtp://127.0.0.1:$smtp_port" --settle-timeout 30 \
  >run3.out 2>run3.err || fail "run 3 exited $?: $(tail -5 run3.err)"
after=$(cat socw.log ispw.log ispb.jsonl | wc -l)
[ "$before" = "$after" ] || fail "a rerun sent $((after - before)) messages again"
echo "outbreak_delivery: a rerun sends nothing"
