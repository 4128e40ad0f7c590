#!/usr/bin/env bash
# demo.sh - `make demo` until the daemon exists: generate an hour of synthetic darknet traffic
# with known ground truth, analyse it, and show that the analysis equals the truth.
set -euo pipefail
bin=${1:-build/darkscope}
out=demo-out
mkdir -p "$out"
darknet=198.51.100.0/24,203.0.113.0/24
darknet6=2001:db8:1::/48

echo "== darkscope gen: one hour of darknet traffic on $darknet and $darknet6 (seed 42)"
"$bin" gen --seed 42 --minutes 60 --darknet "$darknet" --darknet6 "$darknet6" \
  -w "$out/demo.pcapng" --format pcapng --truth "$out/demo.truth.json"
echo
echo "== darkscope analyze -r $out/demo.pcapng --darknet $darknet,$darknet6"
"$bin" analyze -r "$out/demo.pcapng" --darknet "$darknet,$darknet6" --top 15
"$bin" analyze -r "$out/demo.pcapng" --darknet "$darknet,$darknet6" --format json \
  -o "$out/demo.analyze.json"
keys='{version,packets,darknet_packets,monitored_addresses,skipped,classes,fingerprints,sources,ipv6_packets,ports}'
if diff <(jq -S "$keys" "$out/demo.truth.json") <(jq -S "$keys" "$out/demo.analyze.json") >/dev/null; then
  echo
  echo "== the analysis equals the generator's ground truth ($out/demo.truth.json)"
else
  echo "== MISMATCH between analysis and ground truth:" >&2
  diff <(jq -S "$keys" "$out/demo.truth.json") <(jq -S "$keys" "$out/demo.analyze.json") >&2 || true
  exit 1
fi
echo "files: $out/demo.pcapng (capture), $out/demo.truth.json (truth), $out/demo.analyze.json"
echo "(the live daemon, alerts and the web UI at http://127.0.0.1:8080 arrive with the next issues)"
