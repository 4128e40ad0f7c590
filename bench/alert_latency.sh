#!/usr/bin/env bash
# alert_latency.sh - alert latency: a capture replayed at real time through `darkscope run`,
# a few hundred of its sources registered across organisations with webhook contacts; for
# every alert, the time from its first packet being replayed to the webhook receiver having
# the notice. Prints count, p50, p99, max and the RATIO p99 / 1 s (the target: under 1).
# Usage: bench/alert_latency.sh BUILD_DIR
#   LAT_DURATION  capture length (default 3m)      LAT_SCALE  population scale (default 20)
#   LAT_ADDRS     addresses registered (300)       LAT_ORGS   organisations (30)
#   LAT_KEEP=1    keep the work directory (its path is printed)
# The pacing anchor is the daemon's log line "replay at 1x: packet time S is wall time W":
# the packet with time T was replayed at wall time W + (T - S); the receiver
# (bench/latency_receiver.py) stamps each POST with time.time() on arrival.
set -euo pipefail
build=${1:-build}
bin=$build/darkscope
here=$(cd "$(dirname "$0")" && pwd)
duration=${LAT_DURATION:-3m}
scale=${LAT_SCALE:-20}
n_addrs=${LAT_ADDRS:-300}
n_orgs=${LAT_ORGS:-30}
work=$(mktemp -d "${TMPDIR:-/tmp}/ds-latency.XXXXXX")
rpid=""
cleanup() {
  if [ -n "$rpid" ]; then kill "$rpid" 2>/dev/null || true; wait "$rpid" 2>/dev/null || true; fi
  if [ "${LAT_KEEP:-0}" = 1 ]; then echo "latency: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

"$bin" gen --profile tiny --duration "$duration" --scale "$scale" --seed 1 -q \
  -w "$work/lat.pcap" --truth "$work/lat.truth.json"
darknet=$(jq -r '[.darknet[]?] | join(",")' "$work/lat.truth.json" 2>/dev/null || true)

# the receiver
python3 "$here/latency_receiver.py" --port-file "$work/port" --log "$work/posts.jsonl" &
rpid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")

# n_addrs sources spread over the capture by first packet, across n_orgs organisations
jq -r '.hosts | sort_by(.first) | .[].address' "$work/lat.truth.json" >"$work/all.txt"
total=$(wc -l <"$work/all.txt")
awk -v n="$n_addrs" -v t="$total" 'BEGIN { s = t / n; if (s < 1) s = 1 }
  { if (NR - 1 >= k * s && k < n) { print; k++ } }' "$work/all.txt" >"$work/addrs.txt"
db=$work/lat.db
org=0
while [ "$org" -lt "$n_orgs" ]; do
  args=()
  while read -r a; do
    case $a in *:*) args+=(--livenet "$a/128") ;; *) args+=(--livenet "$a/32") ;; esac
  done < <(awk -v o="$org" -v n="$n_orgs" '(NR - 1) % n == o' "$work/addrs.txt")
  if [ "${#args[@]}" -gt 0 ]; then
    "$bin" org add --db "$db" --name "latency-org-$org" "${args[@]}" \
      --webhook "http://127.0.0.1:$port/hook/$org" --who bench >/dev/null
  fi
  org=$((org + 1))
done
registered=$(wc -l <"$work/addrs.txt")

dn=()
[ -n "$darknet" ] && dn=(--darknet "$darknet")
http=(--http-listen off)
"$bin" run --help 2>&1 | grep -q -- '--http-listen' || http=(--http off)
"$bin" run --db "$db" --replay "$work/lat.pcap" --speed 1x "${http[@]}" --log-level info \
  "${dn[@]}" --settle-timeout 60 2>"$work/run.log" || {
  echo "latency: darkscope run failed:" >&2
  grep -v 'outbox: delivered' "$work/run.log" | tail -20 >&2
  exit 1
}
timers=$("$bin" run --db "$db" --replay "$work/lat.pcap" --dump-config 2>/dev/null |
  awk '/^(group-wait|group-interval|repeat-interval|alert-update|delivery-workers|retry-min) / { printf "%s%s %s", n++ ? ", " : "", $1, $2 }')
anchor=$(grep -o 'replay at [0-9.]*x: packet time [0-9.]* is wall time [0-9.]*' "$work/run.log" | head -1)
if [ -z "$anchor" ]; then
  echo "latency: no pacing anchor in the daemon's log" >&2
  exit 1
fi
sleep 0.5 # the last POSTs are logged

echo "latency: the daemon's alert settings (defaults): $timers; a new alert is reported by the"
echo "latency: packet path at the end of its batch and delivered at once (only digests wait)"
python3 - "$anchor" "$work/posts.jsonl" "$registered" "$n_orgs" "$duration" <<'EOF'
import json, sys
from datetime import datetime, timezone
from decimal import Decimal

anchor, posts, registered, n_orgs, duration = sys.argv[1:6]
w = anchor.split()
S, W = Decimal(w[5]), Decimal(w[9])

def epoch(iso):  # "2024-01-01T00:00:11.872004Z" -> exact seconds
    base, frac = iso.rstrip("Z").split(".")
    d = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return Decimal(int(d.timestamp())) + Decimal("0." + frac)

first = {}  # alert id -> latency of its first "new" notice
bodies = digests = 0
for line in open(posts):
    rec = json.loads(line)
    bodies += 1
    try:
        b = json.loads(rec["body"])
    except ValueError:
        continue
    if not isinstance(b, dict) or b.get("state") != "new" or "first_seen" not in b:
        digests += 1
        continue
    replayed = W + (epoch(b["first_seen"]) - S)
    lat = float(Decimal(repr(rec["t"])) - replayed)
    if b["id"] not in first or lat < first[b["id"]]:
        first[b["id"]] = lat
v = sorted(first.values())
if not v:
    print("latency: no new-alert notices arrived (%d POSTs)" % bodies)
    sys.exit(1)
def pct(p):  # nearest rank
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]
print("alert latency (replay at 1x, %s capture, %s addresses registered in %s organisations, "
      "webhook to 127.0.0.1):" % (duration, registered, n_orgs))
print("  %d new alerts (%d POSTs, %d digests or other)" % (len(v), bodies, digests))
print("  p50 %.3f s   p99 %.3f s   max %.3f s   min %.3f s   mean %.3f s"
      % (pct(50), pct(99), v[-1], v[0], sum(v) / len(v)))
print("RATIO alert latency p99 / 1 s target: %.3f (p50 %.3f)" % (pct(99) / 1.0, pct(50) / 1.0))
EOF
