#!/usr/bin/env bash
# gen_truth.sh - `darkscope gen` writes captures whose ground truth `darkscope analyze` must
# reproduce key for key; several seeds, pcap and pcapng, both timestamp resolutions, raw and
# Ethernet links, zstd; determinism; command-line errors.
# Usage: gen_truth.sh DARKSCOPE_BIN SHARED_DIR SCRATCH_DIR
set -euo pipefail
bin=$1 tmp=$3
rm -rf "$tmp" && mkdir -p "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
contract='{version,packets,darknet_packets,monitored_addresses,skipped,classes,fingerprints,sources,ipv6_packets,ports}'

# compare NAME GEN-ARGS...: generate, analyse, require every contract key to be equal
compare() {
  local name=$1; shift
  local out=$tmp/$name truth=$tmp/$name.truth.json
  "$bin" gen -q "$@" --truth "$truth" -w "$out" || fail "gen $* exited $?"
  local dn; dn=$(jq -r '.darknet | join(",")' "$truth")
  "$bin" analyze -r "$out" --darknet "$dn" --format json > "$tmp/$name.analyze.json" \
    || fail "analyze of $name exited $?"
  jq -S "$contract" "$truth" > "$tmp/$name.want"
  jq -S "$contract" "$tmp/$name.analyze.json" > "$tmp/$name.got"
  if ! diff -u "$tmp/$name.want" "$tmp/$name.got" > "$tmp/$name.diff"; then
    head -40 "$tmp/$name.diff" >&2
    fail "$name: analyze disagrees with the ground truth (gen $*)"
  fi
  [ "$(jq .packets "$truth")" -gt 1000 ] || fail "$name: suspiciously few packets"
  echo "ok $name: $(jq -c '{packets,darknet_packets,sources}' "$truth")"
}

for seed in 1 2 3; do
  compare "s$seed.pcap" --seed "$seed"
  compare "s$seed.pcapng" --seed "$seed" --nanosecond
done
compare raw.pcap --seed 4 --link raw --nanosecond
compare zstd.pcapng.zst --seed 5 --profile tiny
compare v4only.pcap --seed 6 --darknet 100.70.0.0/16 --darknet6 none --minutes 5 --truth-hosts none
compare v6many.pcapng --seed 7 --darknet 192.0.2.0/24 --darknet6 2001:db8:a::/48,2001:db8:b::/64 \
  --v6-scanners 200 --bots 0
compare packets.pcap --seed 8 --darknet 198.18.0.0/20 --packets 150k --duration 30m

# the truth carries what later analyses test against
t=$tmp/s1.pcap.truth.json
[ "$(jq '[.attacks[] | select(.rsdos)] | length' "$t")" -ge 1 ] || fail "no attack above RS-DoS"
[ "$(jq '[.attacks[] | select(.rsdos | not)] | length' "$t")" -ge 1 ] || fail "no attack below"
[ "$(jq '[.campaigns[] | select(.packets > 0)] | length' "$t")" -ge 1 ] || fail "no campaign"
[ "$(jq '[.hosts[] | select(.research)] | length' "$t")" -ge 1 ] || fail "no research host"
[ "$(jq '.hosts | length' "$t")" = "$(jq .sources "$t")" ] || fail "hosts list incomplete"
[ "$(jq '[.populations[].darknet_packets] | add' "$t")" = "$(jq .darknet_packets "$t")" ] \
  || fail "populations do not add up"
[ "$(jq '.hosts_mode' "$tmp/v4only.pcap.truth.json")" = '"none"' ] || fail "--truth-hosts none"

# same options, same bytes
"$bin" gen -q --seed 11 -w "$tmp/d1.pcapng" --truth "$tmp/d1.json"
"$bin" gen -q --seed 11 -w "$tmp/d2.pcapng" --truth "$tmp/d2.json"
cmp -s "$tmp/d1.pcapng" "$tmp/d2.pcapng" || fail "same seed, different capture"
cmp -s "$tmp/d1.json" "$tmp/d2.json" || fail "same seed, different truth"

# the generator's own cross-check with the analyzer's decoder and classifier
"$bin" gen -q --seed 12 --self-check -w "$tmp/sc.pcap" || fail "--self-check failed"

# command-line errors: exit 2, the message names the option and the value
expect() {
  local want=$1 msg=$2; shift 2
  set +e; "$@" >"$tmp/out" 2>"$tmp/err"; local got=$?; set -e
  [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want; stderr: $(cat "$tmp/err")"
  grep -qF -- "$msg" "$tmp/err" || fail "'$*': stderr lacks '$msg': $(cat "$tmp/err")"
}
"$bin" gen --help > "$tmp/help" || fail "gen --help exited $?"
grep -q -- "--bots" "$tmp/help" || fail "--help does not list --bots"
expect 2 "unknown option '--bogus'" "$bin" gen --bogus -w "$tmp/x.pcap"
expect 2 "-w FILE is required" "$bin" gen
expect 2 "--darknet: '10.0.0.1/8': host bits set below /8" "$bin" gen -w "$tmp/x.pcap" --darknet 10.0.0.1/8
expect 2 "--darknet6: 'fe80::/999': prefix length 999 exceeds 128" \
  "$bin" gen -w "$tmp/x.pcap" --darknet6 fe80::/999
expect 2 "--bots: bots expects a whole number, not 'many'" "$bin" gen -w "$tmp/x.pcap" --bots many
expect 2 "--seed: seed must be between 0 and" "$bin" gen -w "$tmp/x.pcap" --seed -4
expect 2 "--duration: '5x' is not a duration" "$bin" gen -w "$tmp/x.pcap" --duration 5x
expect 2 "--start: '2024-13-01T00:00:00Z' is not a UTC time" \
  "$bin" gen -w "$tmp/x.pcap" --start 2024-13-01T00:00:00Z
expect 2 "--packets: 'lots' is not a positive number" "$bin" gen -w "$tmp/x.pcap" --packets lots
expect 2 "--format: format must be one of auto|pcap|pcapng, not 'erf'" "$bin" gen -w "$tmp/x.pcap" --format erf
expect 3 "cannot create '$tmp/no/such/dir.pcap'" "$bin" gen -w "$tmp/no/such/dir.pcap"
echo "gen_truth: all ok"
