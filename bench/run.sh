#!/usr/bin/env bash
# run.sh - the packet-path benchmark: darkscope analyze against a minimal libpcap read loop
# (bench_pcap_floor) over the same page-cached 10,000,000-packet darknet capture.
# Prints each timing and the ratio analyze/floor (lower is better; 1.0 = as fast as merely
# reading the file with libpcap). Usage: bench/run.sh BUILD_DIR
# Then, each in its own script and each skipped with its variable set to 1:
#   BENCH_SKIP_PACKET  the packet path above (analyze, stages, --db against the floor)
#   BENCH_SKIP_HOSTS   memory per tracked host (bench_hosts)
#   BENCH_SKIP_STORE   a simulated year of statistics (bench_store)
#   BENCH_SKIP_ALERTING  what a 10,000-organisation registry costs (bench/alerting.sh)
#   BENCH_SKIP_LATENCY   alert latency at 1x replay to a webhook (bench/alert_latency.sh)
#   BENCH_SKIP_UI        Atlas and Cube fps in headless Chromium (bench/ui.sh)
#   BENCH_SKIP_API       API p99 over the simulated year (bench/api.sh)
set -euo pipefail
build=${1:-build}
bin=$build/darkscope
floor=$build/bench/bench_pcap_floor
data=bench/data
mkdir -p "$data"
pcap=$data/darknet-10M.pcap
darknet=198.18.0.0/16  # the generator's bench profile darknet
runs=${BENCH_RUNS:-3}

if [ ! -s "$pcap" ]; then
  echo "bench: generating $pcap (once; cached in $data/)" >&2
  "$bin" gen --profile bench --seed 1 -w "$pcap.tmp" --truth "$data/darknet-10M.truth.json" >&2
  mv "$pcap.tmp" "$pcap"
fi
bytes=$(stat -c %s "$pcap")

# best of N wall-clock seconds for a command (stdout discarded)
best() {
  local best_t="" t0 t1 t
  for _ in $(seq "$runs"); do
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    t=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best_t" ] || [ "$(echo "$t < $best_t" | bc -l)" = 1 ]; then best_t=$t; fi
  done
  echo "$best_t"
}

skip() { [ "${!1:-0}" = 1 ]; }
if ! skip BENCH_SKIP_PACKET; then
cat "$pcap" >/dev/null   # page cache
packets=$("$floor" "$pcap" | awk '{print $1}')
echo "file: $pcap ($packets packets, $bytes bytes, $(jq .sources "$data/darknet-10M.truth.json" 2>/dev/null || echo '?') sources)"
t_floor=$(best "$floor" "$pcap")
t_an1=$(best "$bin" analyze -r "$pcap" --darknet "$darknet" --format json --threads 1)
t_an2=$(best "$bin" analyze -r "$pcap" --darknet "$darknet" --format json --threads 2)
stage() { # best of N in-process timings of bench_stages STAGE
  local b="" t
  for _ in $(seq "$runs"); do
    t=$("$build/bench/bench_stages" "$pcap" "$1" | awk '{print $2}')
    if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
  done
  echo "$b"
}
t_s0=$(stage 0); t_s1=$(stage 1); t_s2=$(stage 2); t_s3=$(stage 3)
# the full pipeline: host profiles, interval statistics and the store (a fresh store each run)
stored() { rm -f "$data/bench.db" "$data/bench.db-wal" "$data/bench.db-shm"
           "$bin" analyze -r "$pcap" --darknet "$darknet" --db "$data/bench.db" -o /dev/null "$@"; }
t_db1=$(best stored --threads 1)
t_db2=$(best stored --threads 2)
db_bytes=$(stat -c %s "$data/bench.db")
t_tcpdump=""
if command -v tcpdump >/dev/null; then t_tcpdump=$(best tcpdump -r "$pcap" -w /dev/null 2>/dev/null); fi

row() { # name seconds
  printf '%-40s %8.3f s %8.2f Mpkt/s  %5.2fx floor\n' "$1" "$2" \
    "$(echo "$packets / $2 / 1000000" | bc -l)" "$(echo "$2 / $t_floor" | bc -l)"
}
echo "best of $runs runs, same page-cached file:"
row "floor: libpcap pcap_next_ex loop" "$t_floor"
[ -n "$t_tcpdump" ] && row "tcpdump -r f -w /dev/null" "$t_tcpdump"
row "darkscope analyze (1 thread)" "$t_an1"
row "darkscope analyze (reader + 2 shards)" "$t_an2"
echo "the packet path stage by stage (bench_stages, in-process, no darknet filter):"
row "  reader only (mmap, batches)" "$t_s0"
row "  + decode" "$t_s1"
row "  + classify" "$t_s2"
row "  + host shard (= the full path)" "$t_s3"
echo "the full pipeline (profiles + statistics + SQLite store, --db):"
row "  analyze --db (1 worker)" "$t_db1"
row "  analyze --db (reader + 2 workers)" "$t_db2"
echo "  store after one run: $db_bytes bytes"
printf 'RATIO analyze/floor (1 thread): %.2f\n' "$(echo "$t_an1 / $t_floor" | bc -l)"
printf 'RATIO analyze --db/floor (1 worker): %.2f (target 1.5); 2 workers: %.2fx the throughput of 1 (target 1.7)\n' \
  "$(echo "$t_db1 / $t_floor" | bc -l)" "$(echo "$t_db1 / $t_db2" | bc -l)"
printf 'RATIO analyze/floor (reader + 2 shards): %.2f; speed-up over 1 thread: %.2fx\n' \
  "$(echo "$t_an2 / $t_floor" | bc -l)" "$(echo "$t_an1 / $t_an2" | bc -l)"
fi

if ! skip BENCH_SKIP_HOSTS; then
echo
echo "memory per tracked host (bench_hosts, 10 million distinct sources):"
"$build/bench/bench_hosts" "${BENCH_HOSTS:-10000000}"
fi
if ! skip BENCH_SKIP_STORE; then
echo
echo "a simulated year of statistics (bench_store; the store is built once and cached):"
"$build/bench/bench_store" "$data/year.db" "${BENCH_DAYS:-365}"
fi

here=$(dirname "$0")
section() { # VAR title script
  skip "$1" && return 0
  echo
  echo "$2"
  bash "$here/$3" "$build" || echo "bench: $3 failed (status $?)"
}
section BENCH_SKIP_ALERTING "what alerting costs (bench/alerting.sh):" alerting.sh
section BENCH_SKIP_LATENCY "alert latency (bench/alert_latency.sh):" alert_latency.sh
section BENCH_SKIP_UI "the workbench's live views (bench/ui.sh):" ui.sh
section BENCH_SKIP_API "the API over a simulated year (bench/api.sh):" api.sh
