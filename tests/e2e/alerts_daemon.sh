#!/usr/bin/env bash
# alerts_daemon.sh - `darkscope run` end to end with real receivers on 127.0.0.1: organisations
# registered for addresses the generator's ground truth names, a replay, and the alerts that
# arrive by webhook (signature verified), e-mail (a real SMTP server), syslog and JSON-lines
# file, compared exactly with what the capture holds (tcpdump counts the split between an
# organisation's own darknet and the rest). Then the hard cases: a receiver that is down, the
# daemon killed with SIGKILL while a delivery is in flight and while the receiver is down,
# SIGKILL in the middle of a paced replay, SIGTERM, SIGHUP, metrics, and bad input.
#
# Usage: alerts_daemon.sh DARKSCOPE_BIN SHARED_DIR SCRATCH_DIR
set -euo pipefail
bin=$1 tmp=$3
py=${DS_PYTHON:-/usr/bin/python3}
here=$(cd "$(dirname "$0")/.." && pwd)
recv=$here/receivers
fail() { echo "FAIL: alerts_daemon: $*" >&2; exit 1; }
for tool in jq tcpdump curl; do
  command -v "$tool" >/dev/null || fail "'$tool' is not installed (scripts/install-deps.sh installs it)"
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

# start_receiver NAME CMD...: starts a receiver writing its port file to NAME.port
start_receiver() {
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
port_of() { awk -v k="$2" '$1 == k {print $2}' "$1.port"; }
no_sanitizer() {
  if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1"; then
    cat "$1" >&2
    fail "sanitizer report in $1"
  fi
}
# sql DB QUERY: one query through Python's sqlite3 (the CLI may be absent)
sql() { "$py" -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1], timeout=30)
for r in c.execute(sys.argv[2]): print("|".join(str(x) for x in r))' "$1" "$2"; }

# ------------------------------------------------------------------ traffic and truth -------
darknet=198.51.100.0/24,203.0.113.0/24,2001:db8:1::/48
"$bin" gen --profile tiny --duration 5m --seed 7 -w t.pcap --truth t.json -q
pick() { jq -r --arg p "$1" --argjson n "$2" \
  '[.hosts[] | select(.population == $p)] | sort_by(-.packets) | .[:$n][] | .address' t.json; }
mapfile -t bots < <(pick mirai 4)
dos=$(pick dos 1)
zmap=$(pick zmap 1)
v6=$(pick ipv6 1)
mapfile -t gamma_hosts < <(pick masscan 2)
[ "${#bots[@]}" = 4 ] && [ -n "$dos" ] && [ -n "$zmap" ] && [ -n "$v6" ] && [ "${#gamma_hosts[@]}" = 2 ] ||
  fail "the truth lacks the hosts this test needs"
case $v6 in *:*) ;; *) fail "ipv6 population host '$v6' is not IPv6" ;; esac
truth_packets() { jq -r --arg a "$1" '.hosts[] | select(.address == $a) | .packets' t.json; }
# packets from SRC to the darknet, optionally within NET (tcpdump: an independent count)
count_to() {
  local src=$1 net=${2:-} filter
  filter="src host $src and (dst net 198.51.100.0/24 or dst net 203.0.113.0/24 or dst net 2001:db8:1::/48)"
  if [ -n "$net" ]; then
    case $src in *:*) echo 0; return ;; esac # Beta's own darknet is IPv4
    filter="src host $src and dst net $net"
  fi
  tcpdump -r t.pcap -nn "$filter" 2>/dev/null | wc -l
}
v6net=$(echo "$v6" | awk -F: '{printf "%s:%s:%s:%s::/64", $1, $2, $3, $4}')
dosnet=$(echo "$dos" | awk -F. '{printf "%s.%s.%s.0/24", $1, $2, $3}')
beta_dark=198.51.100.0/25

# expected alerts: "org|address|case packets"
{
  for b in "${bots[@]}"; do echo "Alpha ISP|$b|external $(truth_packets "$b")"; done
  echo "Alpha ISP|$dos|backscatter $(truth_packets "$dos")"
  for h in "$zmap" "$v6"; do
    in=$(count_to "$h" "$beta_dark")
    all=$(count_to "$h")
    [ "$all" = "$(truth_packets "$h")" ] || fail "tcpdump counts $all packets from $h, the truth $(truth_packets "$h")"
    if [ "$in" -gt 0 ]; then echo "Beta University|$h|internal $in"; fi
    if [ "$((all - in))" -gt 0 ]; then echo "Beta University|$h|external $((all - in))"; fi
  done
} | sort >expected.txt
grep -q '|internal ' expected.txt || fail "no internal case in the expectation (zmap host sent nothing to $beta_dark)"
echo "alerts_daemon: expecting $(wc -l <expected.txt) alerts:"; sed 's/^/  /' expected.txt

# ------------------------------------------------------------------ receivers ---------------
secret_a='alpha-s3cret' secret_b='beta-s3cret'
start_receiver web "$recv/http_receiver.py" --log web.log --secret "$secret_a"
start_receiver webb "$recv/http_receiver.py" --log webb.log --secret "$secret_b"
mkdir mail
start_receiver smtp "$recv/smtp_server.py" --out-dir mail
start_receiver sys "$recv/syslog_server.py" --log sys.log
wport=$(port_of web http) wbport=$(port_of webb http)
sport=$(port_of smtp smtp) uport=$(port_of sys udp)

# ------------------------------------------------------------------ the registry ------------
db=s.db
livenet_a=()
for b in "${bots[@]}"; do livenet_a+=(--livenet "$b/32"); done
"$bin" org add --db "$db" --name "Alpha ISP" "${livenet_a[@]}" --livenet "$dosnet" \
  --webhook "http://127.0.0.1:$wport/alpha" --webhook-secret "$secret_a" \
  --email soc@alpha.example --syslog "udp://127.0.0.1:$uport" >org.out 2>&1 ||
  fail "org add Alpha: $(cat org.out)"
"$bin" org add --db "$db" --name "Beta University" --livenet "$zmap/32" --livenet "$v6net" \
  --darknet "$beta_dark" --webhook "http://127.0.0.1:$wbport/beta" --webhook-secret "$secret_b" \
  --file "$tmp/beta.jsonl" --lang ja >>org.out 2>&1 || fail "org add Beta: $(cat org.out)"
"$bin" org list --db "$db" --format json >orgs.json
[ "$(jq length orgs.json)" = 2 ] || fail "org list: $(cat orgs.json)"
[ "$(sql "$db" "SELECT count(*) FROM audit")" -ge 2 ] || fail "no audit rows for the registrations"

# ------------------------------------------------------------------ 1: replay, every channel -
common=(--darknet "$darknet" --http off --log-level info --retry-min 200 --retry-max 2000 --settle-timeout 60
        --smtp-url "smtp://127.0.0.1:$sport" --smtp-from "darkscope@sensor.test")
"$bin" run --db "$db" --replay t.pcap --speed max "${common[@]}" >run1.out 2>run1.err ||
  fail "run 1 exited $?: $(tail -20 run1.err)"
no_sanitizer run1.err

# every webhook request verified, and an organisation's alerts only at its own URL
jq -e -s 'length > 0 and all(.[]; .verified == true and .status == 200)' web.log webb.log >/dev/null ||
  fail "webhook requests not all verified: $(jq -c -s 'map({path, status, verified})' web.log webb.log)"
bodies() { jq -c '.body | fromjson' "$1"; }
bodies web.log >alpha.json
bodies webb.log >beta.json
jq -e -s 'all(.[]; .organisation == "Alpha ISP")' alpha.json >/dev/null || fail "another organisation's alert reached Alpha's webhook"
jq -e -s 'all(.[]; .organisation == "Beta University")' beta.json >/dev/null || fail "another organisation's alert reached Beta's webhook"
# the alert JSON carries the documented keys
jq -e -s '[.[] | select(has("alerts") | not)] | length > 0 and all(.[];
  has("id") and has("organisation") and has("address") and has("case") and has("state")
  and has("first_seen") and has("last_seen") and has("packets"))' alpha.json beta.json >/dev/null ||
  fail "an alert body lacks a required key"
# every (organisation, address, case) once as "new", with its final packet count somewhere
summarise() { # alerts (single and in digests) -> "org|addr|case maxpackets", sorted
  jq -r -s '[.[] | if has("alerts") then .alerts[] else . end]
    | group_by([.organisation, .address, .case])[]
    | "\(.[0].organisation)|\(.[0].address)|\(.[0].case) \(map(.packets) | max)"' "$@" | sort
}
summarise alpha.json beta.json >got.txt
diff expected.txt got.txt >diff.txt || fail "alerts differ from the capture (expected < > got): $(cat diff.txt)"
news=$(jq -r -s '[.[] | select((has("alerts") | not) and .state == "new")] | length' alpha.json beta.json)
[ "$news" = "$(wc -l <expected.txt)" ] || fail "$news 'new' notices for $(wc -l <expected.txt) alerts"
jq -e -s '[.[] | select(has("alerts") | not) | .id] | length == (unique | length)' alpha.json beta.json >/dev/null ||
  fail "an alert was notified as new twice"
# backscatter says which basis it used
jq -e -s --arg a "$dos" '[.[] | if has("alerts") then .alerts[] else . end | select(.address == $a)]
  | length > 0 and all(.[]; .case == "backscatter" and (.backscatter_basis | type) == "string")' alpha.json >/dev/null ||
  fail "the backscatter alert lacks its basis"
# internal/external ports and fingerprints: the Mirai bots' alerts name the fingerprint
jq -e -s --arg a "${bots[0]}" '[.[] | select((has("alerts") | not) and .address == $a)][0]
  | (.fingerprints | map(.name) | index("mirai")) != null and (.ports | length) > 0' alpha.json >/dev/null ||
  fail "the Mirai bot's alert does not name the Mirai fingerprint: $(grep -m1 "${bots[0]}" alpha.json)"

# e-mail: one per Alpha notification, readable text, the JSON attached
n_alpha=$(wc -l <alpha.json)
n_mail=$(find mail -name '*.json' | wc -l)
[ "$n_mail" = "$n_alpha" ] || fail "$n_mail e-mails for $n_alpha Alpha notifications"
for m in mail/*.json; do
  jq -e '.rcpt_tos == ["soc@alpha.example"]
    and ([.headers[] | select(.[0] == "Subject") | .[1]] | length == 1 and (.[0] | length) > 0)
    and ([.parts[] | select(.content_type == "text/plain")] | length == 1)
    and ([.parts[] | select(.content_type == "application/json") | .payload | fromjson
          | .organisation] == ["Alpha ISP"])' "$m" >/dev/null ||
    fail "e-mail $m is not a text body with the JSON attached: $(jq -c '{rcpt_tos, parts: [.parts[] | {content_type, filename}]}' "$m")"
done
grep -l "${bots[0]}" mail/*.json >/dev/null || fail "no e-mail names ${bots[0]}"
# syslog: RFC 5424, one per Alpha notification
n_sys=$(wc -l <sys.log)
[ "$n_sys" = "$n_alpha" ] || fail "$n_sys syslog messages for $n_alpha Alpha notifications"
jq -e -s 'all(.[]; .transport == "udp" and (.msg | test("^<1[0-9][0-9]>1 [0-9]{4}-[0-9]{2}-[0-9]{2}T")))' sys.log >/dev/null ||
  fail "a syslog message is not RFC 5424: $(head -1 sys.log)"
# file: one JSON line per Beta notification, the same bodies as the webhook got
[ "$(wc -l <beta.jsonl)" = "$(wc -l <beta.json)" ] || fail "$(wc -l <beta.jsonl) file lines for $(wc -l <beta.json) Beta notifications"
diff <(jq -S -c . beta.jsonl | sort) <(jq -S -c . beta.json | sort) >/dev/null || fail "the file contact got other bodies than the webhook"
# Beta asked for Japanese: its response text is the Japanese template
jq -e -s '[.[] | select(has("alerts") | not)][0].lang == "ja"' beta.json >/dev/null || fail "Beta's alerts are not in Japanese"
# the outbox is empty, the store has the statistics
[ "$(sql "$db" "SELECT count(*) FROM outbox WHERE state <> 'done'")" = 0 ] || fail "outbox rows left pending"
"$bin" report year --db "$db" --format json >rep1.json 2>rep1.err || fail "report: $(cat rep1.err)"
[ "$(jq .packets rep1.json)" = "$(jq .darknet_packets t.json)" ] ||
  fail "the store has $(jq .packets rep1.json) darknet packets, the truth $(jq .darknet_packets t.json)"
echo "alerts_daemon: 1: $(wc -l <expected.txt) alerts exact; $n_alpha+$(wc -l <beta.json) webhook, $n_mail e-mail, $n_sys syslog, $(wc -l <beta.jsonl) file deliveries"

# a rerun of the same file: stored before, nothing new is notified
before=$(cat web.log webb.log | wc -l)
"$bin" run --db "$db" --replay t.pcap --speed max "${common[@]}" >run1b.out 2>run1b.err ||
  fail "rerun exited $?: $(tail -5 run1b.err)"
grep -q "was stored before" run1b.err || fail "the rerun did not skip the stored file: $(cat run1b.err)"
[ "$(cat web.log webb.log | wc -l)" = "$before" ] || fail "the rerun sent notifications again"

# ------------------------------------------------------------------ 2: receiver down + SIGKILL
# Gamma's webhook points at a port nobody listens on yet. The daemon retries; it is killed
# while retrying; the receiver comes up; the restarted daemon delivers everything.
start_receiver probe "$recv/http_receiver.py" --log /dev/null
gport=$(port_of probe http)
kill "$pid_probe"; wait "$pid_probe" 2>/dev/null || true
db2=s2.db
"$bin" org add --db "$db2" --name Gamma --livenet "${gamma_hosts[0]}/32" --livenet "${gamma_hosts[1]}/32" \
  --webhook "http://127.0.0.1:$gport/gamma" --webhook-secret g >/dev/null 2>org2.err || fail "org add Gamma: $(cat org2.err)"
"$bin" run --db "$db2" --replay t.pcap --speed max "${common[@]}" --settle-timeout 120 >run2.out 2>run2.err &
dpid=$!
pids+=("$dpid")
for _ in $(seq 200); do
  [ "$(sql "$db2" "SELECT count(*) FROM outbox WHERE attempts >= 2 AND state = 'pending'" 2>/dev/null || echo 0)" -ge 1 ] && break
  kill -0 "$dpid" 2>/dev/null || fail "run 2 ended while the receiver was down: $(tail -5 run2.err)"
  sleep 0.1
done
[ "$(sql "$db2" "SELECT count(*) FROM outbox WHERE attempts >= 2")" -ge 1 ] || fail "no delivery was retried within 20 s"
grep -q "failed (attempt" run2.err || fail "the failed attempts were not logged"
kill -KILL "$dpid"; wait "$dpid" 2>/dev/null || true
pending=$(sql "$db2" "SELECT count(*) FROM outbox WHERE state <> 'done'")
[ "$pending" -ge 2 ] || fail "only $pending rows pending after the kill"
start_receiver gam "$recv/http_receiver.py" --log gam.log --secret g --port "$gport"
"$bin" run --db "$db2" --replay t.pcap --speed max "${common[@]}" >run2b.out 2>run2b.err ||
  fail "run 2 after the kill exited $?: $(tail -5 run2b.err)"
no_sanitizer run2b.err
for h in "${gamma_hosts[@]}"; do echo "Gamma|$h|external $(truth_packets "$h")"; done | sort >expected2.txt
bodies gam.log >gam.json
summarise gam.json >got2.txt
diff expected2.txt got2.txt >diff2.txt || fail "Gamma's alerts after the kill (expected < > got): $(cat diff2.txt)"
jq -e -s 'all(.[]; .verified == true)' gam.log >/dev/null || fail "Gamma's webhook requests not verified"
[ "$(sql "$db2" "SELECT count(*) FROM outbox WHERE state <> 'done'")" = 0 ] || fail "outbox not empty after the restart"
echo "alerts_daemon: 2: receiver down, SIGKILL while retrying ($pending pending), restart: all $(wc -l <expected2.txt) alerts delivered"

# ------------------------------------------------------------------ 3: SIGKILL mid-delivery --
# The receiver holds each request 5 s before answering; the daemon is killed while one is in
# flight (the receiver has logged it). After the restart that one is sent again with the same
# idempotency key, and nothing is missing.
kill "$pid_gam"; wait "$pid_gam" 2>/dev/null || true
db3=s3.db
start_receiver slow "$recv/http_receiver.py" --log slow.log --secret g --mode slow
slport=$(port_of slow http)
"$bin" org add --db "$db3" --name Gamma --livenet "${gamma_hosts[0]}/32" --livenet "${gamma_hosts[1]}/32" \
  --webhook "http://127.0.0.1:$slport/gamma" --webhook-secret g >/dev/null 2>org3.err || fail "org add: $(cat org3.err)"
"$bin" run --db "$db3" --replay t.pcap --speed max "${common[@]}" >run3.out 2>run3.err &
dpid=$!
pids+=("$dpid")
for _ in $(seq 200); do [ -s slow.log ] && break; sleep 0.1; done
[ -s slow.log ] || fail "no request reached the slow receiver: $(tail -5 run3.err)"
kill -KILL "$dpid"; wait "$dpid" 2>/dev/null || true
[ "$(sql "$db3" "SELECT count(*) FROM outbox WHERE state = 'sending'")" -ge 1 ] ||
  fail "no delivery was in flight when the daemon was killed"
first_key=$(jq -r -s '.[0].headers["Idempotency-Key"]' slow.log)
kill "$pid_slow"; wait "$pid_slow" 2>/dev/null || true
start_receiver fast "$recv/http_receiver.py" --log fast.log --secret g --port "$slport"
"$bin" run --db "$db3" --replay t.pcap --speed max "${common[@]}" >run3b.out 2>run3b.err ||
  fail "run 3 after the kill exited $?: $(tail -5 run3b.err)"
bodies fast.log >fast.json
summarise fast.json >got3.txt
diff expected2.txt got3.txt >diff3.txt || fail "alerts after a kill mid-delivery (expected < > got): $(cat diff3.txt)"
jq -e -s --arg k "$first_key" 'map(.headers["Idempotency-Key"]) | index($k) != null' fast.log >/dev/null ||
  fail "the delivery in flight at the kill ($first_key) was not sent again"
echo "alerts_daemon: 3: SIGKILL with a delivery in flight: resent with the same key ($first_key), nothing lost"

# ------------------------------------------------------------------ 4: paced replay, metrics, SIGHUP, SIGKILL
db4=s4.db
"$bin" org add --db "$db4" --name Gamma --livenet "${gamma_hosts[0]}/32" --livenet "${gamma_hosts[1]}/32" \
  --file "$tmp/g4.jsonl" >/dev/null 2>&1
cat >run4.conf <<EOF
# a config file for the paced run
darknet $darknet
http 127.0.0.1:0
log-level info
group-wait 5
EOF
"$bin" run --db "$db4" --config run4.conf --replay t.pcap --speed 20x >run4.out 2>run4.err &
dpid=$!
pids+=("$dpid")
for _ in $(seq 100); do grep -q "workbench at" run4.err && break; sleep 0.1; done
hport=$(grep -o 'workbench at http://127.0.0.1:[0-9]*' run4.err | head -1 | sed 's/.*://')
[ -n "$hport" ] || fail "run 4 did not log its HTTP port: $(cat run4.err)"
sleep 2
curl -sf "http://127.0.0.1:$hport/metrics" >m1.txt || fail "GET /metrics failed"
curl -sf "http://127.0.0.1:$hport/healthz" | grep -qx ok || fail "GET /healthz is not ok"
for m in darkscope_frames_total darkscope_darknet_packets_total 'darkscope_class_packets_total{class="tcp_syn"}' \
         darkscope_hosts_tracked 'darkscope_alerts{state="new"}' darkscope_outbox_pending \
         darkscope_delivery_failures_total darkscope_capture_kernel_dropped_total darkscope_registry_organisations; do
  grep -q "^$m " m1.txt || fail "metric $m missing from /metrics"
done
f1=$(awk '$1 == "darkscope_frames_total" {print $2}' m1.txt)
[ "$f1" -gt 0 ] || fail "no frames counted after 2 s of replay"
[ "$(awk '$1 == "darkscope_registry_organisations" {print $2}' m1.txt)" = 1 ] || fail "registry gauge wrong"
# a new organisation is picked up without a restart (the registry is polled), and SIGHUP
# with a broken config keeps the running one
"$bin" org add --db "$db4" --name Delta --livenet 192.0.2.0/24 --file "$tmp/d4.jsonl" >/dev/null
for _ in $(seq 50); do grep -q "registry loaded: 2 organisations" run4.err && break; sleep 0.1; done
grep -q "registry loaded: 2 organisations" run4.err || fail "the daemon did not pick up the new organisation"
echo "bogus-setting 1" >>run4.conf
kill -HUP "$dpid"
for _ in $(seq 50); do grep -q "SIGHUP: the configuration was not reloaded" run4.err && break; sleep 0.1; done
grep -q "SIGHUP: the configuration was not reloaded: .*run4.conf:6" run4.err ||
  fail "a broken config on SIGHUP was not reported with file:line: $(grep SIGHUP run4.err)"
kill -0 "$dpid" || fail "the daemon died on SIGHUP"
curl -sf "http://127.0.0.1:$hport/metrics" >m2.txt
f2=$(awk '$1 == "darkscope_frames_total" {print $2}' m2.txt)
[ "$f2" -gt "$f1" ] || fail "frames did not advance ($f1 -> $f2)"
kill -KILL "$dpid"; wait "$dpid" 2>/dev/null || true
no_sanitizer run4.err
sed -i '$d' run4.conf
# after SIGKILL mid-replay the file is read again; the statistics equal one full read
"$bin" run --db "$db4" --config run4.conf --replay t.pcap --speed max >run4b.out 2>run4b.err ||
  fail "run 4 after SIGKILL exited $?: $(tail -5 run4b.err)"
grep -q "replacing unfinished ingest" run4b.err || fail "the killed replay's ingest was not replaced"
"$bin" report year --db "$db4" --format json >rep4.json
keys='{packets, sources, bytes, research_packets, monitored_addresses}'
[ "$(jq -c "$keys" rep4.json)" = "$(jq -c "$keys" rep1.json)" ] ||
  fail "statistics after kill + rerun differ from one clean run: $(jq -c "$keys" rep4.json) vs $(jq -c "$keys" rep1.json)"
for h in "${gamma_hosts[@]}"; do
  jq -e -s --arg a "$h" 'map(select(.address == $a and .state == "new")) | length >= 1' g4.jsonl >/dev/null ||
    fail "no alert for $h after the killed paced replay and the rerun"
done
# the alerts count every packet once: the killed replay's share was taken out before the rerun
summarise g4.jsonl >got4.txt
diff expected2.txt got4.txt >diff4.txt || fail "alert counts after a killed replay and its rerun (expected < > got): $(cat diff4.txt)"
grep -q "shares of replaced ingests taken out" run4b.err || fail "the rerun did not correct the alerts for the killed replay"
echo "alerts_daemon: 4: paced replay with metrics, registry reload, SIGHUP, SIGKILL + rerun: statistics exact"

# ------------------------------------------------------------------ 5: SIGTERM --------------
db5=s5.db
"$bin" org add --db "$db5" --name Gamma --livenet "${gamma_hosts[0]}/32" --file "$tmp/g5.jsonl" >/dev/null
"$bin" run --db "$db5" --replay t.pcap --speed 10x --darknet "$darknet" --http off --log-level info >run5.out 2>run5.err &
dpid=$!
pids+=("$dpid")
sleep 2
t0=$(date +%s)
kill -TERM "$dpid"
rc=0; wait "$dpid" || rc=$?
[ $(( $(date +%s) - t0 )) -le 10 ] || fail "SIGTERM took more than 10 s"
[ "$rc" = 0 ] || fail "SIGTERM: exit $rc: $(tail -5 run5.err)"
grep -q "the replay did not finish" run5.err || fail "SIGTERM mid-replay did not say the replay is incomplete"
[ "$(sql "$db5" "SELECT status FROM ingest")" = failed ] || fail "the interrupted replay's ingest is not 'failed'"
no_sanitizer run5.err
echo "alerts_daemon: 5: SIGTERM drains and exits 0 within 10 s; the incomplete replay is not kept"

# ------------------------------------------------------------------ 6: bad input ------------
expect_fail() { # CODE PATTERN CMD...: exits CODE and says PATTERN on stderr
  local code=$1 pat=$2 rc=0; shift 2
  "$@" >bad.out 2>bad.err || rc=$?
  [ "$rc" = "$code" ] || fail "'$*' exited $rc, expected $code: $(cat bad.err)"
  grep -q -- "$pat" bad.err || fail "'$*': stderr lacks '$pat': $(cat bad.err)"
  no_sanitizer bad.err
}
expect_fail 2 "10.0.0.1/8" "$bin" org add --db "$db" --name X --livenet 10.0.0.1/8
expect_fail 2 "nonsense" "$bin" org add --db "$db" --name X --livenet nonsense
expect_fail 2 "Alpha ISP" "$bin" org add --db "$db" --name X --livenet "${bots[0]}/32"
expect_fail 2 "already" "$bin" org add --db "$db" --name "Alpha ISP" --livenet 192.0.2.0/24
expect_fail 2 "webhook" "$bin" org add --db "$db" --name X --livenet 192.0.2.0/24 --webhook 'not a url'
printf 'darknet 198.51.100.0/24\nthreads many\n' >bad.conf
expect_fail 2 "bad.conf:2" "$bin" run --db "$db" --config bad.conf --replay t.pcap
expect_fail 2 "speed" "$bin" run --db "$db" --replay t.pcap --speed fast
expect_fail 2 "\-\-db" "$bin" run --replay t.pcap
expect_fail 3 "nosuch.pcap" "$bin" run --db "$db" --replay nosuch.pcap --http off
[ "$("$bin" org list --db "$db" --format json | jq length)" = 2 ] || fail "bad input changed the registry"
echo "alerts_daemon: 6: bad ranges, overlaps, duplicates, bad URLs, bad config, bad flags: clear errors, registry intact"
echo "alerts_daemon: all checks passed"
