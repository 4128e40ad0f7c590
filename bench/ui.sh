#!/usr/bin/env bash
# ui.sh - frames per second of the Atlas and Cube views in headless Chromium (SwiftShader:
# software WebGL) while `darkscope run` replays a capture at real time and streams up to
# --stream-rate sampled packets per second to the page; then the same views after the replay
# has ended (the daemon lingers, nothing arrives): the in-run baseline. Prints the fps per view
# and phase, the packets per second that actually arrived, the browser's CPU time per frame
# (all its processes) and RATIO fps / 30 (target >= 1).
# Usage: bench/ui.sh BUILD_DIR
#   UI_RATE (2000: --stream-rate), UI_PPS (4700: packets per second of the capture; above the
#   rate, so the stream is full), UI_DURATION (90 s of capture), UI_SECONDS (10 per
#   measurement), UI_ROUNDS (2), UI_WEB_DIR (web/: the app served, e.g. an older build's copy
#   to compare against), UI_GPU (swiftshader: ANGLE on SwiftShader, the default; software:
#   --disable-gpu; see ui_fps.mjs), UI_KEEP=1 keeps the work directory
set -euo pipefail
build=${1:-build}
bin=$(cd "$(dirname "$build/darkscope")" && pwd)/darkscope
root=$(cd "$(dirname "$0")/.." && pwd)
rate=${UI_RATE:-2000}
duration=${UI_DURATION:-90}
pps=${UI_PPS:-4700}
fail() { echo "ui: $*" >&2; exit 1; }
command -v node >/dev/null || fail "node is not installed"
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || fail "chromium is not installed"
[ -d "$root/web/node_modules/playwright-core" ] || fail "web/node_modules is missing (scripts/install-web.sh)"
webdir=${UI_WEB_DIR:-$root/web}
[ -s "$webdir/app/app.js" ] || fail "the app is not built in $webdir (scripts/install-web.sh)"
work=$(mktemp -d "${TMPDIR:-/tmp}/ds-ui.XXXXXX")
dpid=""
cleanup() {
  if [ -n "$dpid" ]; then kill -TERM "$dpid" 2>/dev/null || true; wait "$dpid" 2>/dev/null || true; fi
  if [ "${UI_KEEP:-0}" = 1 ]; then echo "ui: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
cd "$work"

# the tiny profile's darknets (198.51.100.0/24, 203.0.113.0/24, 2001:db8:1::/48), about
# UI_PPS packets per second of packet time
"$bin" gen --profile tiny --duration "${duration}s" --packets $((pps * duration)) --seed 7 -q \
  -w ui.pcap --truth ui.json --truth-hosts summary
darknet=198.51.100.0/24,203.0.113.0/24,2001:db8:1::/48
echo 'bench-admin-pass-1' >pw
"$bin" user add --db ui.db --name admin --role admin --password-file pw >/dev/null 2>&1
"$bin" run --db ui.db --replay ui.pcap --speed 1x --darknet "$darknet" --http 127.0.0.1:0 \
  --web-dir "$webdir" --stream-rate "$rate" --linger --log-level warn >run.out 2>run.err &
dpid=$!
url=""
for _ in $(seq 200); do
  url=$(grep -o 'http://127.0.0.1:[0-9]*' run.err | head -1 || true)
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || fail "the daemon did not start its web server: $(cat run.err)"
packets=$(jq .packets ui.json 2>/dev/null || echo '?')
echo "ui: darkscope run --replay (${duration} s, $packets packets, 1x) --stream-rate $rate --linger; $url"
# the daemon's CPU (user + system, all threads) while the browser measures: what the views
# competed with on the same cores
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$dpid/stat"; }
c0=$(cpu_ticks); t0=$(date +%s.%N)
node "$root/bench/ui_fps.mjs" "$url/" "$(cat pw)" | tee ui.out
kill -0 "$dpid" 2>/dev/null || fail "the daemon died during the measurement: $(tail -5 run.err)"
c1=$(cpu_ticks); t1=$(date +%s.%N)
awk -v c="$((c1 - c0))" -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" \
  'BEGIN { printf "ui: the daemon used %.0f %% of one core over the %.0f s of measurement (replay and idle)\n", 100 * c / hz / (b - a), b - a }'
echo "ui: best of ${UI_ROUNDS:-2} rounds of ${UI_SECONDS:-10} s per view, 1280x800, GPU mode ${UI_GPU:-swiftshader}, $(nproc) cores shared with the daemon:"
awk -v rate="$rate" '/^RESULT/ {
    printf "  %-6s %-4s %6.1f fps  %6.0f packets/s arrived in %5.1f messages/s (stream rate %d); browser CPU %5.1f ms/frame, view JS %5.2f ms/frame, stream JS %5.1f ms/s\n", $2, $3, $4, $5, $6, rate, $7, $8, $9
    if ($3 == "live") live[$2] = $4; else idle[$2] = $4
  }
  END {
    for (v in live) {
      line = sprintf("RATIO %s fps / 30 while streaming: %.2f (target >= 1)", v, live[v] / 30)
      if (v in idle) line = line sprintf("; idle: %.2f; streaming / idle: %.2f", idle[v] / 30, idle[v] ? live[v] / idle[v] : 0)
      print line
    }
  }' ui.out
