#!/usr/bin/env bash
# alerting.sh - what alerting costs the packet path: a registry of 10,000 organisations with
# 100,000 ranges (bench_registry build), the bench capture through the host shard with the
# matcher against the plain shard and the libpcap floor (in-process, bench_registry time),
# then the whole daemon (`darkscope run --replay --speed max`) with that registry against
# the same run with no organisations. Every figure is best of BENCH_RUNS, the modes
# interleaved, and printed as a ratio against a baseline of the same run.
# Usage: bench/alerting.sh BUILD_DIR   (run.sh calls it; the capture is run.sh's)
#   BENCH_RUNS (3), BENCH_DAEMON_RUNS (BENCH_RUNS), BENCH_SETTLE (60: the daemon's
#   --settle-timeout), BENCH_ENGINE=1 also times the in-process alert engine (slow today).
set -euo pipefail
build=${1:-build}
bin=$build/darkscope
floor=$build/bench/bench_pcap_floor
breg=$build/bench/bench_registry
data=bench/data
pcap=$data/darknet-10M.pcap
truth=$data/darknet-10M.truth.json
darknet=198.18.0.0/16
runs=${BENCH_RUNS:-3}
druns=${BENCH_DAEMON_RUNS:-$runs}
settle=${BENCH_SETTLE:-60}
mkdir -p "$data"
if [ ! -s "$pcap" ]; then
  echo "bench: generating $pcap (once; cached in $data/)" >&2
  "$bin" gen --profile bench --seed 1 -w "$pcap.tmp" --truth "$truth" >&2
  mv "$pcap.tmp" "$pcap"
fi

# The registry: sources of the capture (every 14th host of the truth's list, research
# scanners left out: their published /24s hold dozens of scanners each) are covered by one
# range of their own organisation; the other ranges lie at random.
reg=$data/registry-10k.db
empty=$data/registry-0.db
jq -r '.hosts[] | select(.population != "research") | .address' "$truth" |
  awk 'NR % 14 == 1' >"$data/registry-10k.addrs"
alerts_file=/dev/shm/darkscope-bench-alerts.jsonl
[ -d /dev/shm ] || alerts_file=$PWD/$data/bench-alerts.jsonl
"$breg" build "$reg" "$data/registry-10k.addrs" --file "$alerts_file" 2>"$data/registry-10k.txt"
"$breg" build "$empty" /dev/null --orgs 0 2>/dev/null
sed 's/^bench_registry: /registry: /' "$data/registry-10k.txt"

cat "$pcap" >/dev/null # page cache
packets=""
declare -A best
keep_best() { # name seconds
  if [ -z "${best[$1]:-}" ] || [ "$(echo "$2 < ${best[$1]}" | bc -l)" = 1 ]; then best[$1]=$2; fi
}
timed() { # command... -> seconds on stdout (the command's stdout discarded); its status
  local t0 t1 rc=0
  t0=$(date +%s.%N)
  "$@" >/dev/null || rc=$?
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
  return $rc
}
modes="shard lookup match"
[ "${BENCH_ENGINE:-0}" = 1 ] && modes="$modes engine"
for _ in $(seq "$runs"); do
  keep_best floor "$(timed "$floor" "$pcap")"
  for m in $modes; do
    read -r _ t n matched events ucpu _ < <("$breg" time "$pcap" "$reg" "$m" 2>"$data/registry-$m.txt")
    keep_best "$m" "$t"
    keep_best "u$m" "$ucpu"
    packets=$n
    eval "matched_$m=$matched events_$m=$events"
  done
done

row() { # name seconds
  printf '%-44s %8.3f s %8.2f Mpkt/s  %5.2fx floor\n' "$1" "$2" \
    "$(echo "$packets / $2 / 1000000" | bc -l)" "$(echo "$2 / ${best[floor]}" | bc -l)"
}
sed -n 's/^bench_registry: registry/registry/p' "$data/registry-match.txt" | head -1
echo "the packet path with alerting (bench_registry, in-process, best of $runs, no darknet filter):"
row "floor: libpcap pcap_next_ex loop" "${best[floor]}"
row "  host shard (as bench_stages 3)" "${best[shard]}"
row "  + registry lookup per packet (alone)" "${best[lookup]}"
row "  shard + matcher (counting sink)" "${best[match]}"
[ -n "${best[engine]:-}" ] && row "  shard + matcher + alert engine" "${best[engine]}"
printf '  %s packets (%.2f %%) concern an organisation; %s events to the sink\n' \
  "$matched_match" "$(echo "100 * $matched_match / $packets" | bc -l)" "$events_match"
sed -n 's/^bench_registry: sink: /  sink: /p' "$data/registry-match.txt"
[ -n "${best[engine]:-}" ] && sed -n 's/^bench_registry: engine: /  engine: /p' "$data/registry-engine.txt"
printf 'RATIO shard + registry matching (10k orgs) / shard: %.3f (target 1.10); / floor: %.2f\n' \
  "$(echo "${best[match]} / ${best[shard]}" | bc -l)" "$(echo "${best[match]} / ${best[floor]}" | bc -l)"
printf 'RATIO shard + lookups alone / shard: %.3f\n' "$(echo "${best[lookup]} / ${best[shard]}" | bc -l)"
printf 'RATIO the same in user CPU seconds of the packet thread (best of %s): matcher %.3f, lookups %.3f (shard %.3f s, matcher %.3f s)\n' \
  "$runs" "$(echo "${best[umatch]} / ${best[ushard]}" | bc -l)" "$(echo "${best[ulookup]} / ${best[ushard]}" | bc -l)" \
  "${best[ushard]}" "${best[umatch]}"

# The daemon: a fresh copy of the store for every run, the file contact on tmpfs. A run that
# exits non-zero but says its replay finished is timed (its error is reported); one whose
# replay did not finish is not.
http=(--http-listen off)
"$bin" run --help 2>&1 | grep -q -- '--http-listen' || http=(--http off)
daemon() { # template tag -> "STATUS SECONDS" on stdout; the log in $data/daemon-TAG.log
  local db=$data/daemon-$2.db t rc=0
  rm -f "$db" "$db-wal" "$db-shm" "$alerts_file"
  cp "$1" "$db"
  t=$(timed "$bin" run --db "$db" --replay "$pcap" --speed max "${http[@]}" \
    --darknet "$darknet" --log-level warn --settle-timeout "$settle" 2>"$data/daemon-$2.log") || rc=$?
  if grep -q 'did not finish' "$data/daemon-$2.log"; then
    echo "failed $t"
  elif [ "$rc" != 0 ]; then
    echo "error $t"
  else
    echo "ok $t"
  fi
}
declare -A failed errors last
failed[0]=0 failed[10k]=0 errors[0]=0 errors[10k]=0
for _ in $(seq "$druns"); do
  keep_best floor "$(timed "$floor" "$pcap")"
  for tag in 0 10k; do
    tmpl=$reg
    [ "$tag" = 0 ] && tmpl=$empty
    read -r status t < <(daemon "$tmpl" "$tag")
    last[$tag]=$t
    case $status in
      failed) failed[$tag]=$((${failed[$tag]} + 1)) ;;
      error) errors[$tag]=$((${errors[$tag]} + 1)); keep_best "d$tag" "$t" ;;
      *) keep_best "d$tag" "$t" ;;
    esac
    if [ "$tag" = 10k ]; then
      n_alerts=$([ -f "$alerts_file" ] && wc -l <"$alerts_file" || echo 0)
      # a finished run's store (its alerts) is what bench/api.sh serves for the alert endpoints
      if [ "$status" = ok ]; then
        rm -f "$data/alerts-10k.db" "$data/alerts-10k.db-wal" "$data/alerts-10k.db-shm"
        mv "$data/daemon-10k.db" "$data/alerts-10k.db"
        rm -f "$data/daemon-10k.db-wal" "$data/daemon-10k.db-shm"
      fi
    fi
  done
done
if [ "$druns" -eq 0 ]; then
  echo "the daemon: not run (BENCH_DAEMON_RUNS=0)"
  exit 0
fi
echo "the daemon (darkscope run --replay --speed max --darknet $darknet, 1 thread, best of $druns):"
row "floor: libpcap pcap_next_ex loop" "${best[floor]}"
for tag in 0 10k; do
  name="  run, no organisations"
  [ "$tag" = 10k ] && name="  run, 10,000 organisations"
  if [ -n "${best[d$tag]:-}" ]; then
    row "$name" "${best[d$tag]}"
  else
    printf '%-44s FAILED (the last run after %.1f s)\n' "$name" "${last[$tag]}"
  fi
done
echo "  file-contact messages written by the last 10k run: $n_alerts"
for tag in 0 10k; do
  if [ "${failed[$tag]}" -gt 0 ] || [ "${errors[$tag]}" -gt 0 ]; then
    echo "  run with $tag organisations: replay not finished in ${failed[$tag]} of $druns runs," \
      "finished but exit status non-zero in ${errors[$tag]}; the last log says:"
    grep -v 'outbox: delivered' "$data/daemon-$tag.log" | sed 's/daemon-[0-9a-z]*\.db/DB/' |
      sort | uniq -c | sort -rn | head -5 | sed 's/^ */    /'
  fi
done
d0=${best[d0]:-} d1=${best[d10k]:-}
if [ -n "$d0" ] && [ -n "$d1" ]; then
  printf 'RATIO run with 10k orgs / run without: %.3f (target 1.10); / floor: %.2f (without: %.2f)\n' \
    "$(echo "$d1 / $d0" | bc -l)" "$(echo "$d1 / ${best[floor]}" | bc -l)" \
    "$(echo "$d0 / ${best[floor]}" | bc -l)"
else
  echo "RATIO run with 10k orgs / run without: n/a (a configuration failed every run)"
fi
rm -f "$data"/daemon-*.db "$data"/daemon-*.db-wal "$data"/daemon-*.db-shm "$alerts_file"
