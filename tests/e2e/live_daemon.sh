#!/usr/bin/env bash
# live_daemon.sh - `darkscope run` on two live interfaces at once: two generated captures are
# sent with tcpreplay through two veth pairs into a network namespace made for this run, where
# the daemon, a webhook receiver and the metrics endpoint live (on that namespace's own
# 127.0.0.1). The alerts for one registered address per capture must arrive with the exact
# packet counts of the ground truth, /metrics must show every frame and no drops, SIGTERM must
# store the live ingest, and the store must then hold exactly both captures' darknet packets.
#
# Usage: live_daemon.sh DARKSCOPE_BIN SHARED_DIR SCRATCH_DIR   (as root)
set -euo pipefail
bin=$1 tmp=$3
py=${DS_PYTHON:-/usr/bin/python3}
recv=$(cd "$(dirname "$0")/.." && pwd)/receivers
fail() { echo "FAIL: live_daemon: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "must run as root (network namespaces, veth pairs, packet capture)"
for tool in ip tcpreplay jq curl; do
  command -v "$tool" >/dev/null || fail "'$tool' is not installed (scripts/install-deps.sh installs it)"
done
ip netns list >/dev/null 2>&1 || fail "'ip netns' does not work here"
rm -rf "$tmp" && mkdir -p "$tmp"
cd "$tmp"

tx=ds-ld-$$-tx rx=ds-ld-$$-rx
dpid= rpid=
cleanup() {
  local rc=$?
  for p in $dpid $rpid; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$tx" 2>/dev/null || true
  ip netns del "$rx" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$tx" && ip netns add "$rx" || fail "cannot create namespaces"
for ns in "$tx" "$rx"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$rx" link set lo up
for i in 1 2; do
  ip link add "dlt$i$$" netns "$tx" type veth peer name "dlr$i$$" netns "$rx" || fail "cannot create veth pair $i"
  ip -n "$tx" link set "dlt$i$$" up
  ip -n "$rx" link set "dlr$i$$" up
done
rxns() { ip netns exec "$rx" "$@"; }

# ------------------------------------------------------------------ traffic ----------------
darknet=198.51.100.0/24,203.0.113.0/24,2001:db8:1::/48
"$bin" gen --profile tiny --duration 1m --seed 11 -w a.pcap --truth a.json -q
"$bin" gen --profile tiny --duration 1m --seed 12 -w b.pcap --truth b.json -q
top() { jq -r '[.hosts[] | select(.population == "zmap" or .population == "masscan")] | sort_by(-.packets) | .[0] | "\(.address) \(.packets)"' "$1"; }
read -r ha pa < <(top a.json)
read -r hb pb < <(top b.json)
[ "$ha" != "$hb" ] || fail "both captures chose the same host"

# ------------------------------------------------------------------ receiver, registry -----
rm -f web.port
rxns "$py" "$recv/http_receiver.py" --port-file web.port --log web.log --secret k >web.out 2>&1 &
rpid=$!
for _ in $(seq 100); do [ -s web.port ] && break; sleep 0.1; done
[ -s web.port ] || fail "the receiver did not start: $(cat web.out)"
wport=$(awk '$1 == "http" {print $2}' web.port)
"$bin" org add --db s.db --name "Live Org" --livenet "$ha/32" --livenet "$hb/32" \
  --webhook "http://127.0.0.1:$wport/live" --webhook-secret k >/dev/null

# ------------------------------------------------------------------ the daemon -------------
# through sh, so the daemon's own pid is known (ip netns exec may stay as its parent)
rm -f run.pid
rxns sh -c 'echo $$ >run.pid; exec "$@"' sh "$bin" run --db s.db -i "dlr1$$" -i "dlr2$$" \
  --darknet "$darknet" --http 127.0.0.1:0 --log-level info --group-wait 1 \
  --group-interval 1 --alert-update 1 >run.out 2>run.err &
wrapper=$!
for _ in $(seq 50); do [ -s run.pid ] && break; sleep 0.1; done
dpid=$(cat run.pid)
for _ in $(seq 200); do
  [ "$(grep -c 'live capture on dlr' run.err 2>/dev/null)" = 2 ] && grep -q "workbench at" run.err && break
  kill -0 "$dpid" 2>/dev/null || fail "the daemon exited: $(cat run.err)"
  sleep 0.1
done
[ "$(grep -c 'live capture on dlr' run.err)" = 2 ] || fail "the daemon did not open both interfaces: $(cat run.err)"
hport=$(grep -o 'workbench at http://127.0.0.1:[0-9]*' run.err | head -1 | sed 's/.*://')
sleep 0.5
n_a=$(jq .packets a.json) n_b=$(jq .packets b.json)
ip netns exec "$tx" tcpreplay -q -i "dlt1$$" --pps 3000 a.pcap >tr1.out 2>&1 &
t1=$!
ip netns exec "$tx" tcpreplay -q -i "dlt2$$" --pps 3000 b.pcap >tr2.out 2>&1 ||
  fail "tcpreplay b: $(cat tr2.out)"
wait "$t1" || fail "tcpreplay a: $(cat tr1.out)"

# every frame read (both interfaces), then the alerts' final counts within a few seconds
want=$((n_a + n_b))
for _ in $(seq 100); do
  f=$(rxns curl -sf "http://127.0.0.1:$hport/metrics" | awk '$1 == "darkscope_frames_total" {print $2}')
  [ "${f:-0}" -ge "$want" ] && break
  sleep 0.1
done
rxns curl -sf "http://127.0.0.1:$hport/metrics" >m.txt
metric() { awk -v k="$1" '$1 == k {print $2}' m.txt; }
[ "$(metric darkscope_frames_total)" = "$want" ] || fail "/metrics: $(metric darkscope_frames_total) frames, sent $want"
[ "$(metric darkscope_capture_kernel_dropped_total)" = 0 ] || fail "the kernel dropped packets"
final() { # ADDR: the largest packet count the receiver saw for it
  jq -r --arg a "$1" '.body | fromjson | if has("alerts") then .alerts[] else . end
    | select(.address == $a) | .packets' web.log 2>/dev/null | sort -n | tail -1
}
for _ in $(seq 150); do
  [ "$(final "$ha")" = "$pa" ] && [ "$(final "$hb")" = "$pb" ] && break
  sleep 0.1
done
[ "$(final "$ha")" = "$pa" ] || fail "alert for $ha (interface 1): $(final "$ha") packets, truth $pa"
[ "$(final "$hb")" = "$pb" ] || fail "alert for $hb (interface 2): $(final "$hb") packets, truth $pb"
jq -e -s 'all(.[]; .verified == true)' web.log >/dev/null || fail "unverified webhook requests"

# SIGTERM: the live ingest is stored; the store holds both captures exactly
kill -TERM "$dpid"
rc=0; wait "$wrapper" || rc=$?
dpid=
[ "$rc" = 0 ] || fail "SIGTERM: exit $rc: $(tail -5 run.err)"
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' run.err; then cat run.err >&2; fail "sanitizer report"; fi
"$bin" report year --db s.db --format json >rep.json
dn=$(( $(jq .darknet_packets a.json) + $(jq .darknet_packets b.json) ))
[ "$(jq .packets rep.json)" = "$dn" ] || fail "the store holds $(jq .packets rep.json) darknet packets, the captures $dn"
echo "live_daemon: two interfaces, $want frames, no drops; alerts for $ha ($pa packets) and $hb ($pb) exact; the live ingest stored $dn darknet packets"
