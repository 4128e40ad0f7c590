#!/usr/bin/env bash
# analyze_cli.sh - `darkscope analyze` command line: help, bad input with clear errors and
# exit codes, config file round trip, output formats agreeing, threads agreeing.
# Usage: analyze_cli.sh DARKSCOPE_BIN SHARED_DIR SCRATCH_DIR
set -euo pipefail
bin=$1 shared=$2 tmp=$3
rm -rf "$tmp" && mkdir -p "$tmp"
real=$shared/data/pcaps/real
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect STATUS 'stderr substring' -- command...
expect() {
  local want=$1 msg=$2; shift 2
  set +e; "$@" >"$tmp/out" 2>"$tmp/err"; local got=$?; set -e
  [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want; stderr: $(cat "$tmp/err")"
  grep -qF -- "$msg" "$tmp/err" || fail "'$*': stderr lacks '$msg': $(cat "$tmp/err")"
}

"$bin" analyze --help | grep -q -- "--darknet" || fail "--help does not list --darknet"
expect 2 "unknown option '--bogus'" "$bin" analyze --bogus
expect 2 "give either -r FILE... or -i IFACE" "$bin" analyze
expect 2 "give either -r FILE... or -i IFACE" "$bin" analyze -r x -i lo
expect 2 "--darknet: '10.0.0.1/8': host bits set below /8 (did you mean 10.0.0.0/8?)" \
  "$bin" analyze -r "$real/msblaster.pcap" --darknet 10.0.0.1/8
expect 2 "--format: format must be one of table|csv|json, not 'xml'" \
  "$bin" analyze -r "$real/msblaster.pcap" --format xml
expect 2 "--threads: threads must be between 1 and 256, not 0" \
  "$bin" analyze -r "$real/msblaster.pcap" --threads 0
expect 2 "option --top needs a value" "$bin" analyze -r "$real/msblaster.pcap" --top
expect 3 "$tmp/nonexistent.pcap" "$bin" analyze -r "$tmp/nonexistent.pcap"
echo "this is not a capture" > "$tmp/text.pcap"
expect 3 "$tmp/text.pcap" "$bin" analyze -r "$tmp/text.pcap"
expect 3 "syntax error" "$bin" analyze -r "$real/msblaster.pcap" -f 'tcp and and'

# config file: errors name file:line; --dump-config reads back to the same settings
printf 'darknet 198.51.100.0/24\nformat jsn\n' > "$tmp/bad.conf"
expect 2 "$tmp/bad.conf:2: format must be one of table|csv|json, not 'jsn'" \
  "$bin" analyze --config "$tmp/bad.conf" -r "$real/msblaster.pcap"
"$bin" analyze --darknet 198.51.100.0/24 --format csv --top 7 --dump-config > "$tmp/dump.conf"
"$bin" analyze --config "$tmp/dump.conf" --dump-config > "$tmp/dump2.conf"
cmp -s "$tmp/dump.conf" "$tmp/dump2.conf" || fail "--dump-config does not round-trip"
grep -q '^top 7$' "$tmp/dump.conf" || fail "dump lacks 'top 7'"

# formats agree; one thread and sharded workers agree exactly
f=$real/nmap-synscan.pcapng
"$bin" analyze -r "$f" --format json > "$tmp/a.json"
"$bin" analyze -r "$f" --format csv > "$tmp/a.csv"
"$bin" analyze -r "$f" --format table > "$tmp/a.txt"
[ "$(jq .packets "$tmp/a.json")" = "$(awk -F, '$1=="total" && $2=="packets" {print $3}' "$tmp/a.csv")" ] \
  || fail "csv packets differ from json"
[ "$(jq .classes.tcp_syn "$tmp/a.json")" = "$(awk -F, '$2=="tcp_syn" {print $3}' "$tmp/a.csv")" ] \
  || fail "csv tcp_syn differs from json"
[ "$(jq -r '.ports[0] | "\(.proto)/\(.port),\(.packets),\(.sources)"' "$tmp/a.json")" = \
  "$(awk -F, '$1=="port" {print $2","$3","$4; exit}' "$tmp/a.csv")" ] || fail "csv top port differs"
grep -q "packets read *$(jq .packets "$tmp/a.json")\$" "$tmp/a.txt" || fail "table packets differ"
for t in 2 3; do
  "$bin" analyze -r "$f" --format json --threads $t > "$tmp/t$t.json"
  cmp -s "$tmp/a.json" "$tmp/t$t.json" || fail "--threads $t differs from one thread"
done
# -o writes the report to a file
"$bin" analyze -r "$f" --format json -o "$tmp/o.json"
cmp -s "$tmp/a.json" "$tmp/o.json" || fail "-o output differs"
echo "analyze_cli: all checks passed"
