#!/usr/bin/env bash
# store_reports.sh - `analyze --db` and `report` against the generator's ground truth: the
# yearly table, ports (with and without research scanners), per-host profiles, one port by
# month; re-reading a stored file; 1 and 2 workers giving the same store; an ingest killed
# with SIGKILL and run again giving the same numbers as an uninterrupted one; bad input
# (damaged and foreign databases, unreadable geo databases, malformed research lists, a full
# disk).
# Usage: store_reports.sh DARKSCOPE_BIN SHARED_DIR SCRATCH_DIR
set -euo pipefail
bin=$1 tmp=$3
rm -rf "$tmp" && mkdir -p "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v sqlite3 >/dev/null || fail "sqlite3 is not installed (scripts/install-deps.sh)"
command -v jq >/dev/null || fail "jq is not installed"
# eq WHAT GOT WANT
eq() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; }
# expect STATUS 'stderr substring' -- command...
expect() {
  local want=$1 msg=$2; shift 2
  set +e; "$@" >"$tmp/out" 2>"$tmp/err"; local got=$?; set -e
  [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want; stderr: $(cat "$tmp/err")"
  grep -qF -- "$msg" "$tmp/err" || fail "'$*': stderr lacks '$msg': $(cat "$tmp/err")"
}

# ---------------------------------------------------------------- one hour, all hosts known
"$bin" gen -q --seed 21 -w "$tmp/a.pcap" --truth "$tmp/a.json"
dn=$(jq -r '.darknet | join(",")' "$tmp/a.json")
"$bin" analyze -r "$tmp/a.pcap" --darknet "$dn" --db "$tmp/a.db" --format json -o "$tmp/a.an.json"
t=$tmp/a.json

"$bin" report year --db "$tmp/a.db" --format json > "$tmp/year.json"
eq "year packets" "$(jq .packets "$tmp/year.json")" "$(jq .darknet_packets "$t")"
eq "year sources" "$(jq .sources "$tmp/year.json")" "$(jq .sources "$t")"
eq "year sources exact" "$(jq .sources_exact "$tmp/year.json")" true
eq "monitored addresses" "$(jq .monitored_addresses "$tmp/year.json")" "$(jq '.monitored_addresses | . * 1.0' "$t")"
eq "packets per address" "$(jq '.packets_per_address * 1000 | round' "$tmp/year.json")" \
  "$(jq '.darknet_packets / .monitored_addresses * 1000 | round' "$t")"
research=$(jq '[.hosts[] | select(.research) | .packets] | add' "$t")
eq "research packets" "$(jq .research_packets "$tmp/year.json")" "$research"
eq "one year row" "$(jq '.years | length' "$tmp/year.json")" 1
"$bin" report year --db "$tmp/a.db" --format json --exclude-research > "$tmp/yearx.json"
eq "year without research" "$(jq .packets "$tmp/yearx.json")" "$(( $(jq .darknet_packets "$t") - research ))"
eq "sources without research" "$(jq .sources "$tmp/yearx.json")" \
  "$(jq '[.hosts[] | select(.research | not)] | length' "$t")"
echo "ok year: $(jq -c '{packets,sources,monitored_addresses,research_packets}' "$tmp/year.json")"

# ports: the truth's top 100 (tcp/udp, packets, sources), in the same order
"$bin" report ports --db "$tmp/a.db" --top 100 --format json > "$tmp/ports.json"
diff <(jq -c '.ports[] | [.proto, .port, .packets, .sources]' "$t") \
     <(jq -c '.[] | [.proto, .port, .packets, .sources]' "$tmp/ports.json") > "$tmp/ports.diff" \
  || { head "$tmp/ports.diff" >&2; fail "report ports disagrees with the truth"; }
eq "port shares add up" "$(jq '[.[].share] | add | . <= 100.0001' "$tmp/ports.json")" true
first=$(jq -c '.[0] | {proto,port,packets,sources,share}' "$tmp/ports.json")
eq "share of the top port" "$(jq '.[0].share * 1e6 | round' "$tmp/ports.json")" \
  "$(jq '.ports[0].packets / .darknet_packets * 1e8 | round' "$t")"
# by unique hosts: the truth's ports sorted by sources
diff <(jq -c '[.ports[]] | sort_by(-.sources, .proto, .port) | .[:10][] | [.proto, .port, .sources]' "$t") \
     <("$bin" report ports --db "$tmp/a.db" --by sources --format json | jq -c '.[] | [.proto, .port, .sources]') \
  || fail "report ports --by sources disagrees with the truth"
# without research scanners: the truth's port totals minus what its research hosts sent
# (research hosts list all their ports: they scan at most 60)
[ "$(jq '[.hosts[] | select(.research) | select(.nports != (.ports | length))] | length' "$t")" = 0 ] \
  || fail "the truth lists only some ports of a research host"
jq -c '(.hosts | map(select(.research)) | [.[].ports[]] | group_by(.proto, .port)
        | map({key: "\(.[0].proto)/\(.[0].port)", value: {p: (map(.packets) | add), s: length}})
        | from_entries) as $r
       | [.ports[] | . as $x | ($r["\(.proto)/\(.port)"] // {p: 0, s: 0}) as $d
          | {proto, port, packets: (.packets - $d.p), sources: (.sources - $d.s)}]
       | sort_by(-.packets, .proto, .port) | .[:10][] | [.proto, .port, .packets, .sources]' "$t" > "$tmp/px.want"
# a port outside the truth's top 100 cannot reach this ranking
[ "$(tail -1 "$tmp/px.want" | jq '.[2]')" -gt "$(jq '.ports[99].packets' "$t")" ] \
  || fail "the truth's top 100 ports do not decide the top 10 without research"
"$bin" report ports --db "$tmp/a.db" --exclude-research --format json \
  | jq -c '.[] | [.proto, .port, .packets, .sources]' > "$tmp/px.got"
diff "$tmp/px.want" "$tmp/px.got" || fail "report ports --exclude-research disagrees with the truth"
echo "ok ports: top $first"

# per-host profiles: every host of the truth, field by field
"$bin" report hosts --db "$tmp/a.db" --top 100000 --format json > "$tmp/hosts.json"
eq "profiles" "$(jq length "$tmp/hosts.json")" "$(jq .sources "$t")"
norm_truth='[.hosts[] | {a: .address, p: .packets, f: .first, l: .last, n: .nports,
  r: .research, fp: (.fingerprints | sort), c: (.classes | sort)}] | sort_by(.a)'
norm_got='[.[] | {a: .address, p: .packets, f: .first_seen, l: .last_seen, n: .ports_distinct,
  r: (.research != null),
  fp: ([.fingerprints | to_entries[] | select(.value > 0) | .key] | sort),
  c: ([.classes | to_entries[] | select(.value == true or (.value | type == "number" and . > 0)) | .key] | sort)}]
  | sort_by(.a)'
jq -c "$norm_truth | .[]" "$t" > "$tmp/h.want"
jq -c "$norm_got | .[]" "$tmp/hosts.json" > "$tmp/h.got"
diff "$tmp/h.want" "$tmp/h.got" > "$tmp/h.diff" || { head -6 "$tmp/h.diff" >&2; fail "host profiles disagree with the truth"; }
addr=$(jq -r '[.hosts[] | select(.population == "mirai")][0].address' "$t")
"$bin" report host "$addr" --db "$tmp/a.db" --format json > "$tmp/host.json"
eq "host packets" "$(jq .packets "$tmp/host.json")" "$(jq --arg a "$addr" '.hosts[] | select(.address == $a) | .packets' "$t")"
eq "mirai fingerprint" "$(jq '.fingerprints.mirai == .packets' "$tmp/host.json")" true
eq "host timeline" "$(jq '.timeline | length' "$tmp/host.json")" 1
case "$(jq -r .behaviour_key "$tmp/host.json")" in tcp\|23*mirai\|ttl64*) ;; *) fail "behaviour key $(jq .behaviour_key "$tmp/host.json")";; esac
echo "ok hosts: $(jq length "$tmp/hosts.json") profiles equal the truth"

# port 23 by month
"$bin" report port 23 --db "$tmp/a.db" --format json > "$tmp/p23.json"
eq "23/tcp packets" "$(jq '.months[0].packets' "$tmp/p23.json")" "$(jq '.ports[] | select(.proto == "tcp" and .port == 23) | .packets' "$t")"
eq "23/tcp sources per day" "$(jq '.months[0].sources_per_day' "$tmp/p23.json")" "$(jq '.ports[] | select(.proto == "tcp" and .port == 23) | .sources' "$t")"
# countries and ASNs cover every packet and every source once
for k in countries asns; do
  "$bin" report "$k" --db "$tmp/a.db" --top 100000 --format json > "$tmp/$k.json"
  eq "$k packets" "$(jq '[.[].packets] | add' "$tmp/$k.json")" "$(jq .darknet_packets "$t")"
  eq "$k sources" "$(jq '[.[].sources] | add' "$tmp/$k.json")" "$(jq .sources "$t")"
done
# formats: the table and CSV carry the same rows
"$bin" report ports --db "$tmp/a.db" --format csv > "$tmp/ports.csv"
eq "csv header" "$(head -1 "$tmp/ports.csv")" "proto,port,packets,sources,share,source_share,sources_exact"
eq "csv rows" "$(($(wc -l < "$tmp/ports.csv") - 1))" 10
"$bin" report year --db "$tmp/a.db" | grep -q "packets_per_address" || fail "table lacks packets_per_address"

# ---------------------------------------------------------------- no double counts
cp "$tmp/year.json" "$tmp/year.before"
expect 0 "was stored before" "$bin" analyze -r "$tmp/a.pcap" --darknet "$dn" --db "$tmp/a.db"
"$bin" report year --db "$tmp/a.db" --format json > "$tmp/year.again"
cmp -s "$tmp/year.before" "$tmp/year.again" || fail "re-reading a stored file changed the store"
eq "ingests" "$(sqlite3 "$tmp/a.db" "select count(*) from ingest")" 1

# ---------------------------------------------------------------- 2 workers, same store
"$bin" analyze -r "$tmp/a.pcap" --darknet "$dn" --db "$tmp/b.db" -T 2 -o /dev/null
for r in year ports hosts countries "port 23"; do
  cmp -s <("$bin" report $r --db "$tmp/a.db" --top 1000 --format json) \
         <("$bin" report $r --db "$tmp/b.db" --top 1000 --format json) \
    || fail "report $r differs between 1 and 2 workers"
done
echo "ok 1 and 2 workers store the same numbers"

# ---------------------------------------------------------------- SIGKILL, then again
"$bin" gen -q --seed 22 --packets 1500k --duration 2h -w "$tmp/k.pcap" --truth "$tmp/k.json" --truth-hosts none
kdn=$(jq -r '.darknet | join(",")' "$tmp/k.json")
"$bin" analyze -r "$tmp/k.pcap" --darknet "$kdn" --db "$tmp/ref.db" -o /dev/null
"$bin" analyze -r "$tmp/k.pcap" --darknet "$kdn" --db "$tmp/k.db" -o /dev/null &
pid=$!
killed=0
for _ in $(seq 600); do
  n=$(sqlite3 "$tmp/k.db" "select count(*) from stat_stage" 2>/dev/null || echo 0)
  if [ "${n:-0}" -gt 0 ]; then kill -9 "$pid" 2>/dev/null && killed=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.02
done
wait "$pid" 2>/dev/null || true
[ "$killed" = 1 ] || fail "the ingest finished before it could be killed (make the capture longer)"
eq "killed ingest left running" "$(sqlite3 "$tmp/k.db" "select status from ingest")" running
eq "nothing of it in the shared tables" "$(sqlite3 "$tmp/k.db" "select count(*) from stat")" 0
[ "$("$bin" report year --db "$tmp/k.db" --format json | jq .packets)" = 0 ] || fail "a killed ingest shows in reports"
expect 0 "replacing unfinished ingest" "$bin" analyze -r "$tmp/k.pcap" --darknet "$kdn" --db "$tmp/k.db" -o /dev/null
for r in year ports hosts asns; do
  cmp -s <("$bin" report $r --db "$tmp/ref.db" --top 1000 --format json) \
         <("$bin" report $r --db "$tmp/k.db" --top 1000 --format json) \
    || fail "report $r after kill and rerun differs from an uninterrupted run"
done
eq "after the rerun" "$(sqlite3 "$tmp/k.db" "select group_concat(status) from ingest")" done
eq "killed run's packets" "$("$bin" report year --db "$tmp/k.db" --format json | jq .packets)" "$(jq .darknet_packets "$tmp/k.json")"
echo "ok killed at $n rows, rerun equals an uninterrupted run"

# ---------------------------------------------------------------- bad input
head -c 8192 /dev/urandom > "$tmp/noise.db"
expect 3 "noise.db: not an SQLite database" "$bin" analyze -r "$tmp/a.pcap" --db "$tmp/noise.db"
expect 3 "noise.db: not an SQLite database" "$bin" report year --db "$tmp/noise.db"
sqlite3 "$tmp/other.db" "create table accounts(name text); insert into accounts values('x')"
expect 3 "other.db: not a darkscope store" "$bin" analyze -r "$tmp/a.pcap" --db "$tmp/other.db"
eq "foreign database untouched" "$(sqlite3 "$tmp/other.db" "select count(*) from sqlite_master")" 1
cp "$tmp/a.db" "$tmp/cut.db"; truncate -s 40000 "$tmp/cut.db"; rm -f "$tmp/cut.db-wal" "$tmp/cut.db-shm"
set +e; "$bin" report hosts --db "$tmp/cut.db" > /dev/null 2> "$tmp/err"; st=$?; set -e
[ "$st" = 3 ] || fail "a truncated store: exit $st, expected 3 ($(cat "$tmp/err"))"
grep -q "cut.db" "$tmp/err" || fail "the error does not name the damaged store: $(cat "$tmp/err")"
expect 3 "missing.db" "$bin" report year --db "$tmp/missing.db"
expect 2 "--from: 'yesterday' is not a UTC time" "$bin" report year --db "$tmp/a.db" --from yesterday
expect 2 "unknown report 'bogus'" "$bin" report bogus --db "$tmp/a.db"
expect 2 "'99999' is not a port number" "$bin" report port 99999 --db "$tmp/a.db"
expect 3 "no profile of 192.0.2.99" "$bin" report host 192.0.2.99 --db "$tmp/a.db"
# an unreadable geo database: analysis goes on, says so once, countries are unknown
echo "not a database" > "$tmp/bad.mmdb"
expect 0 "country database $tmp/bad.mmdb" "$bin" analyze -r "$tmp/a.pcap" --darknet "$dn" \
  --db "$tmp/g.db" --geo-country "$tmp/bad.mmdb" -o /dev/null
eq "warned once" "$(grep -c "country database" "$tmp/err")" 1
eq "countries unknown" "$("$bin" report countries --db "$tmp/g.db" --format json | jq -r '.[0].country')" "--"
# a malformed research list fails before anything is stored, naming file and line
printf '192.0.2.0/24 Example source\nnot-a-prefix Example source\n' > "$tmp/bad.txt"
expect 3 "bad.txt:2" "$bin" analyze -r "$tmp/a.pcap" --db "$tmp/r.db" --research "$tmp/bad.txt"
eq "nothing stored" "$(sqlite3 "$tmp/r.db" "select count(*) from ingest" 2>/dev/null || echo 0)" 0

# a full disk: the failing ingest reports it, what was stored before stays readable
if [ "$(id -u)" = 0 ] && mkdir -p "$tmp/full" && mount -t tmpfs -o size=2m tmpfs "$tmp/full" 2>/dev/null; then
  trap 'umount "$tmp/full" 2>/dev/null || true' EXIT
  "$bin" gen -q --seed 23 --profile tiny --minutes 2 -w "$tmp/small.pcap"
  "$bin" analyze -r "$tmp/small.pcap" --db "$tmp/full/s.db" -o /dev/null
  before=$("$bin" report year --db "$tmp/full/s.db" --format json | jq .packets)
  set +e; "$bin" analyze -r "$tmp/k.pcap" --db "$tmp/full/s.db" -o /dev/null 2> "$tmp/err"; st=$?; set -e
  [ "$st" != 0 ] || fail "an ingest that filled the disk exited 0"
  grep -q "s.db" "$tmp/err" && grep -qiE "full|space" "$tmp/err" || fail "no disk-full message: $(cat "$tmp/err")"
  eq "stored before the full disk" "$("$bin" report year --db "$tmp/full/s.db" --format json --from 2024-01-01 --to 2024-01-01T00:05 | jq .packets)" "$before"
  umount "$tmp/full"; trap - EXIT
  echo "ok full disk: clear error, earlier ingest intact"
else
  fail "the full-disk check needs root to mount a small tmpfs"
fi
echo "ok bad input"
