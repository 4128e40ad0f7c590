#!/usr/bin/env bash
# web_stream.sh - the live stream's batched format (GET /api/v1/stream): a client connected
# before the first darknet packet of a 1x replay receives every darknet packet of the capture,
# in capture order, with exactly the capture's fields (compared with the pcap read by
# tests/web/stream_check.py), in one "packets" event (a JSON array) per server tick of
# tick_ms = 200 ms at most, not one per packet. Then, with --stream-rate under the capture's
# rate: at most the rate is listed per second, the rest comes as "summary" events whose
# per-protocol counts add up.
#
# Usage: web_stream.sh DARKSCOPE_BIN SHARED_DIR SCRATCH_DIR
set -euo pipefail
bin=$1 tmp=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
py=${DS_PYTHON:-/usr/bin/python3}
helper=$root/tests/web/stream_check.py
fail() { echo "FAIL: web_stream: $*" >&2; exit 1; }
for tool in jq curl "$py"; do command -v "$tool" >/dev/null || fail "'$tool' is not installed"; done
rm -rf "$tmp" && mkdir -p "$tmp"
cd "$tmp"
dpid=
cleanup() {
  local rc=$?
  [ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT

darknet=198.51.100.0/24,203.0.113.0/24,2001:db8:1::/48
"$bin" gen --profile tiny --duration 6s --packets 3000 --seed 3 -q -w g.pcap --truth g.json --truth-hosts all
# 4 s of nothing first (one packet outside the darknets), so the client is there in time
"$py" "$helper" delay g.pcap d.pcap 4
# TCP, UDP, ICMP and ICMPv6 only: the generator's two odd packets (GRE, an IPv6 fragment
# header) are compared by count below, not field by field
"$py" "$helper" expect d.pcap "$darknet" >all.jsonl
jq -c 'select(.p == 6 or .p == 17 or .p == 1 or .p == 58)' all.jsonl >expect.jsonl
n=$(wc -l <expect.jsonl)
[ "$n" -gt 2000 ] || fail "the capture has only $n darknet packets"
echo 'stream-pass-123' >pw
"$bin" user add --db base.db --name admin --role admin --password-file pw >/dev/null 2>&1

# start DAEMON_ARGS...: darkscope run over d.pcap at 1x on a fresh copy of the store (a
# store does not ingest the same capture twice); sets url, logs in (cookie jar cj)
start() {
  rm -f run.err s.db s.db-wal s.db-shm
  cp base.db s.db
  "$bin" run --db s.db --replay d.pcap --speed 1x --darknet "$darknet" --http 127.0.0.1:0 \
    --linger --log-level warn "$@" >run.out 2>run.err &
  dpid=$!
  url=
  for _ in $(seq 100); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*' run.err 2>/dev/null | head -1 || true)
    [ -n "$url" ] && break
    sleep 0.05
  done
  [ -n "$url" ] || fail "the daemon did not start its web server: $(cat run.err)"
  curl -sf -c cj -H 'Content-Type: application/json' -d '{"name":"admin","password":"stream-pass-123"}' \
    "$url/api/v1/login" >/dev/null || fail "login failed"
}
stop() { kill -TERM "$dpid"; wait "$dpid" 2>/dev/null || true; dpid=; }

# ------------------------------------------------------------ every packet, batched
start --stream-rate 100000
curl -sN --max-time 12 -b cj "$url/api/v1/stream?types=packets" >rec.sse || true
"$py" "$helper" parse rec.sse >rec.jsonl
stop
[ "$(head -1 rec.jsonl | jq -c '[.event, .data.live, .data.tick_ms]')" = '["hello",true,200]' ] ||
  fail "the stream does not start with hello {live: true, tick_ms: 200}: $(head -1 rec.jsonl)"
jq -es '[.[] | select(.event == "packets") | .data | type == "array" and length > 0] | length > 0 and all' rec.jsonl >/dev/null ||
  fail "a packets event is not a non-empty JSON array"
jq -c 'select(.event == "packets") | .data[] | {t, s, d, sp, dp, p, ttl, len}' rec.jsonl >gotall.jsonl
jq -c 'select(.p == 6 or .p == 17 or .p == 1 or .p == 58)' gotall.jsonl >got.jsonl
[ "$(wc -l <gotall.jsonl)" -le "$(wc -l <all.jsonl)" ] || fail "more packets streamed than the capture has"
got=$(wc -l <gotall.jsonl)
[ "$got" = "$(jq .darknet_packets g.json)" ] ||
  fail "the stream carried $got packets, the capture's truth has $(jq .darknet_packets g.json) darknet packets"
# field by field: identical but for the generator's four odd packets of seed 3 (the ones its
# truth does not count as plain darknet packets either): a non-first fragment of a UDP
# datagram (ports 0 in the stream), two TCP packets the decoder rejects, and an ICMPv6 packet
# behind an IPv6 fragment header (listed as ICMPv6): 5 diff lines, exactly
ndiff=$(diff expect.jsonl got.jsonl | grep -c '^[<>]' || true)
[ "$ndiff" = 5 ] ||
  fail "$ndiff packet lines differ from the capture's (first: $(diff expect.jsonl got.jsonl | head -3 | tr '\n' ' '))"
[ "$(jq -s '[.[] | select(.event == "summary" or .event == "missed")] | length' rec.jsonl)" = 0 ] ||
  fail "summary or missed events under the stream rate"
# one message per tick: the packets' span (packet time, which a 1x replay keeps) in at most
# (span / 0.2 s) + 3 messages (the old stream sent one per wake-up of the tap, a few packets
# each: hundreds here)
read -r events span <<<"$(jq -rs '[.[] | select(.event == "packets")] | "\(length) \((.[-1].data[-1].t - .[0].data[0].t) / 1000)"' rec.jsonl)"
max=$(jq -n --argjson s "$span" '($s / 0.2 | floor) + 3')
[ "$events" -ge 10 ] && [ "$events" -le "$max" ] ||
  fail "$n packets came in $events packets events over $span s (expected 10..$max: one per 200 ms tick)"
echo "web_stream: $n packets, exactly the capture's, in $events messages over $(printf %.1f "$span") s"

# ------------------------------------------------------------ over the rate: summaries
start --stream-rate 100
curl -sN --max-time 12 -b cj "$url/api/v1/stream?types=packets" >rate.sse || true
"$py" "$helper" parse rate.sse >rate.jsonl
stop
listed=$(jq -s '[.[] | select(.event == "packets") | .data | length] | add // 0' rate.jsonl)
skipped=$(jq -s '[.[] | select(.event == "summary") | .data.skipped] | add // 0' rate.jsonl)
jq -es '[.[] | select(.event == "summary") | .data | .skipped == .tcp + .udp + .icmp and .skipped > 0] | length > 0 and all' rate.jsonl >/dev/null ||
  fail "a summary's per-protocol counts do not add up: $(jq -c 'select(.event == "summary") | .data' rate.jsonl | head -3)"
# each one-second window lists at most 100: 6 s of packets touch at most 8 windows
[ "$listed" -ge 100 ] && [ "$listed" -le 800 ] || fail "$listed packets listed at --stream-rate 100 over 6 s"
[ $((listed + skipped)) -le "$(wc -l <all.jsonl)" ] && [ "$skipped" -gt 0 ] ||
  fail "listed $listed + skipped $skipped > the capture's $n darknet packets (or nothing skipped)"
jq -c 'select(.event == "packets") | .data[] | {t, s, d, sp, dp, p, ttl, len} | select(.p == 6 or .p == 17 or .p == 1 or .p == 58)' rate.jsonl >got-rate.jsonl
# what is listed is a subsequence of the capture (in order; the odd packets above aside)
"$py" - expect.jsonl got-rate.jsonl <<'EOF' || fail "the listed packets are not the capture's, in its order"
import sys
lines = open(sys.argv[1]).read().splitlines()
known = set(lines)
got = [g for g in open(sys.argv[2]).read().splitlines() if g in known]
odd = len(open(sys.argv[2]).read().splitlines()) - len(got)
exp = iter(lines)
sys.exit(0 if odd <= 2 and all(any(g == e for e in exp) for g in got) else 1)
EOF
echo "web_stream: at --stream-rate 100: $listed listed, $skipped in summaries (of $n)"
echo "web_stream: all checks passed"
