#!/usr/bin/env bash
# api.sh - p99 latency of the API endpoints the workbench calls, served by `darkscope serve`
# over a store holding a simulated year of statistics (bench_store; built once and cached in
# bench/data/year.db), and, for the alert endpoints, over the store of a daemon run of the
# bench capture with the 10,000-organisation registry (bench/data/alerts-10k.db; alerting.sh
# leaves it there, else it is made here). One keep-alive connection, one request at a time,
# endpoints round-robin (bench/api_latency.py). Prints p50/p99 per endpoint and RATIO p99 /
# 50 ms (target < 1).
# Usage: bench/api.sh BUILD_DIR
#   BENCH_DAYS (365: days in the year store), API_REQUESTS (100 per endpoint), API_BUDGET
#   (30: seconds per endpoint at most), API_TARGET_MS (50)
set -euo pipefail
build=${1:-build}
bin=$build/darkscope
here=$(cd "$(dirname "$0")" && pwd)
data=bench/data
days=${BENCH_DAYS:-365}
year=$data/year.db
alertsdb=$data/alerts-10k.db
mkdir -p "$data"
work=$(mktemp -d "${TMPDIR:-/tmp}/ds-api.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# the year (bench_store reuses the store when it already holds DAYS days)
"$build/bench/bench_store" "$year" "$days" >"$work/store.txt"
head -1 "$work/store.txt" | sed 's/^/api: year store: /'

if [ ! -s "$alertsdb" ]; then
  echo "api: making $alertsdb (a daemon run of the bench capture with 10,000 organisations)" >&2
  pcap=$data/darknet-10M.pcap truth=$data/darknet-10M.truth.json
  if [ ! -s "$pcap" ]; then
    "$bin" gen --profile bench --seed 1 -w "$pcap.tmp" --truth "$truth" >&2
    mv "$pcap.tmp" "$pcap"
  fi
  jq -r '.hosts[] | select(.population != "research") | .address' "$truth" |
    awk 'NR % 14 == 1' >"$work/addrs"
  "$build/bench/bench_registry" build "$alertsdb.tmp" "$work/addrs" --file /dev/null 2>/dev/null
  "$bin" run --db "$alertsdb.tmp" --replay "$pcap" --speed max --http off \
    --darknet 198.18.0.0/16 --log-level error --settle-timeout 60 ||
    echo "api: the daemon run exited with status $? (its alerts are used as they are)" >&2
  sqlite3 "$alertsdb.tmp" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null 2>&1 || true
  mv "$alertsdb.tmp" "$alertsdb"
  rm -f "$alertsdb.tmp-wal" "$alertsdb.tmp-shm"
fi

serve() { # DB -> "URL TOKEN" (the server's pid appended to pids)
  local db=$1 tag=$2 token url
  "$bin" user remove --db "$db" bench-api >/dev/null 2>&1 || true
  token=$("$bin" user add --db "$db" --name bench-api --role admin --who bench 2>/dev/null |
    grep -o '[A-Za-z0-9_.-]\{20,\}' | tail -1)
  "$bin" serve --db "$db" --http 127.0.0.1:0 --log-level warn 2>"$work/serve-$tag.log" &
  pids+=($!)
  for _ in $(seq 200); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve-$tag.log" | head -1 || true)
    [ -n "$url" ] && break
    sleep 0.05
  done
  [ -n "$url" ] || { echo "api: darkscope serve did not start: $(cat "$work/serve-$tag.log")" >&2; exit 1; }
  echo "$url $token"
}
read -r yurl ytoken < <(serve "$year" year)
read -r aurl atoken < <(serve "$alertsdb" alerts)

# a busy host of the year and an alert to open, as the workbench would find them
host=$(curl -sf -H "Authorization: Bearer $ytoken" "$yurl/api/v1/hosts?n=1" | jq -r '.hosts[0].address')
alert=$(curl -sf -H "Authorization: Bearer $atoken" "$aurl/api/v1/alerts?limit=1" | jq -r '.alerts[0].id')
n_alerts=$(curl -sf -H "Authorization: Bearer $atoken" "$aurl/api/v1/alerts?limit=1" | jq -r '.total')
ahost=$(curl -sf -H "Authorization: Bearer $atoken" "$aurl/api/v1/alerts?limit=1" | jq -r '.alerts[0].address')

y=$yurl/api/v1 a=$aurl/api/v1
echo "api: $year ($(du -h "$year" | cut -f1), $days days) and $alertsdb ($n_alerts alerts); darkscope serve, 1 client, keep-alive"
drv=(python3 "$here/api_latency.py" --requests "${API_REQUESTS:-100}" --budget "${API_BUDGET:-30}"
  --target-ms "${API_TARGET_MS:-50}")
"${drv[@]}" --token "$ytoken" \
  "stats 5m (last day)=$y/stats?gran=5m" \
  "stats 1h (last week)=$y/stats?gran=1h" \
  "stats 1d (last year)=$y/stats?gran=1d" \
  "stats 1h tcp 23=$y/stats?gran=1h&dim=tcp&key=23" \
  "top countries by sources=$y/top?kind=countries&by=sources&n=10" \
  "top tcp ports by sources=$y/top?kind=ports&proto=tcp&by=sources&n=10" \
  "top udp ports by sources=$y/top?kind=ports&proto=udp&by=sources&n=10" \
  "top ports (packets)=$y/top?kind=ports&n=10" \
  "top asns=$y/top?kind=asns&n=10" \
  "top ports, last day=$y/top?kind=ports&n=10&from=$(date -u -d @$(( (19723 + days - 1) * 86400 )) +%Y-%m-%dT%H:%M:%SZ)" \
  "year=$y/year" \
  "hosts=$y/hosts" \
  "host detail=$y/hosts/$host" \
  "meta=$y/meta"
"${drv[@]}" --token "$atoken" \
  "alerts (list of 500)=$a/alerts?limit=500" \
  "alerts (new, 100)=$a/alerts?state=new" \
  "alert detail=$a/alerts/$alert" \
  "host detail with alerts=$a/hosts/$ahost"
