#!/usr/bin/env bash
# demo.sh - `make demo`: an hour of synthetic darknet traffic with known ground truth (Mirai
# bots, scanners, DoS backscatter, reflector hunting, IPv6), a store with three registered
# organisations whose addresses appear in it, two accounts, and the daemon replaying the
# traffic at 5x real time: analysed live, alerts flowing (to JSON-lines files in demo-out/),
# the workbench at http://127.0.0.1:8080. Ctrl-C stops it.
set -euo pipefail
bin=${1:-build/darkscope}
out=demo-out
listen=${DEMO_HTTP:-127.0.0.1:8080}
speed=${DEMO_SPEED:-5x}
mkdir -p "$out"
darknet=198.51.100.0/24,203.0.113.0/24
darknet6=2001:db8:1::/48

if [ ! -s "$out/demo.pcapng" ] || [ ! -s "$out/demo.truth.json" ]; then
  echo "== generating an hour of darknet traffic on $darknet and $darknet6 (seed 42)"
  "$bin" gen --seed 42 --minutes 60 --scale 40 --darknet "$darknet" --darknet6 "$darknet6" \
    -w "$out/demo.pcapng" --format pcapng --truth "$out/demo.truth.json" --truth-hosts all -q
fi

if [ ! -s "$out/history.pcap" ]; then
  echo "== generating the day before (history for the Stats view, seed 41)"
  "$bin" gen --seed 41 --start 2023-12-31T00:00:00Z --duration 24h --scale 10 --darknet "$darknet" \
    --darknet6 "$darknet6" -w "$out/history.pcap" --truth-hosts none -q
fi

# a fresh store each time: history, registry, accounts, statistics, alerts
db=$out/demo.db
rm -f "$db" "$db-wal" "$db-shm" "$out"/alerts-*.jsonl
echo "== analysing the day before into $db"
"$bin" analyze -r "$out/history.pcap" --db "$db" --darknet "$darknet,$darknet6" -o /dev/null
pick() { jq -r --arg p "$1" --argjson n "$2" \
  '[.hosts[] | select(.population == $p)] | sort_by(-.packets) | .[:$n][] | .address' "$out/demo.truth.json"; }
net24() { awk -F. '{printf "%s.%s.%s.0/24\n", $1, $2, $3}'; }
livenet() { for a in "$@"; do printf -- '--livenet %s ' "$(echo "$a" | net24)"; done; }
mapfile -t bots < <(pick mirai 6)
mapfile -t victims < <(pick dos 2)
mapfile -t scanners < <(pick zmap 2)
# shellcheck disable=SC2046
"$bin" org add --db "$db" --name "Example ISP" $(livenet "${bots[@]:0:4}") \
  --file "$PWD/$out/alerts-example-isp.jsonl" --who demo >/dev/null
# shellcheck disable=SC2046
"$bin" org add --db "$db" --name "Hosting Co" $(livenet "${victims[@]}") \
  --file "$PWD/$out/alerts-hosting-co.jsonl" --who demo >/dev/null
# shellcheck disable=SC2046
"$bin" org add --db "$db" --name "University" $(livenet "${scanners[@]}" "${bots[@]:4:2}") \
  --darknet 198.51.100.0/25 --lang ja --file "$PWD/$out/alerts-university.jsonl" --who demo >/dev/null
printf 'darkscope-demo\n' >"$out/.pw-admin"
printf 'example-isp-demo\n' >"$out/.pw-org"
"$bin" user add --db "$db" --name demo --role admin --password-file "$out/.pw-admin" --who demo >/dev/null 2>&1
"$bin" user add --db "$db" --name isp --role org --org "Example ISP" --password-file "$out/.pw-org" \
  --who demo >/dev/null 2>&1
rm -f "$out/.pw-admin" "$out/.pw-org"

host=${listen%:*}
port=${listen##*:}
cat <<EOF

== darkscope demo
   workbench:  http://$host:$port/
   log in as:  demo / darkscope-demo        (admin: every view, every organisation)
          or:  isp / example-isp-demo       (the "Example ISP" organisation: its own alerts only)
   replaying:  $out/demo.pcapng at $speed real time (about 12 minutes), analysed live
   alerts:     $out/alerts-*.jsonl (and in the workbench), store: $db
   Ctrl-C stops the daemon.

EOF
exec "$bin" run --db "$db" --replay "$out/demo.pcapng" --speed "$speed" \
  --darknet "$darknet,$darknet6" --http "$listen" --sensor-name "demo sensor" \
  --group-wait 5 --group-interval 30 --alert-update 5 --log-level warn --linger
