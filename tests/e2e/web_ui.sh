#!/usr/bin/env bash
# web_ui.sh - the workbench in headless Chromium (tests/web/ui.test.mjs) against a daemon that
# replays generated traffic with three registered organisations: every view loads and draws,
# live updates arrive, the alert workflow works, an organisation user sees only its own data.
# Screenshots of each view are saved in SCRATCH_DIR/screens.
#
# Usage: web_ui.sh DARKSCOPE_BIN SHARED_DIR SCRATCH_DIR
set -euo pipefail
bin=$1 tmp=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: web_ui: $*" >&2; exit 1; }
command -v node >/dev/null || fail "node is not installed (scripts/install-deps.sh)"
[ -x /usr/bin/chromium ] || fail "chromium is not installed (scripts/install-deps.sh)"
[ -d "$root/web/node_modules/playwright-core" ] || fail "web/node_modules is missing (scripts/install-web.sh)"
[ -s "$root/web/app/app.js" ] || fail "the app is not built (scripts/install-web.sh)"
rm -rf "$tmp" && mkdir -p "$tmp/screens"
cd "$tmp"
dpid=
cleanup() {
  local rc=$?
  [ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT

darknet=198.51.100.0/24,203.0.113.0/24,2001:db8:1::/48
"$bin" gen --profile tiny --duration 10m --scale 20 --seed 5 -w t.pcap --truth t.json --truth-hosts all -q
# the hour before, already in the store (a paced replay's statistics land when it ends)
"$bin" gen --profile tiny --duration 1h --scale 5 --seed 4 --attacks 60 --start 2023-12-31T23:00:00Z \
  -w h.pcap --truth h.json --truth-hosts none -q
n_dos=$(jq '[.attacks[].vectors[] | select(.rsdos)] | length' h.json)
"$bin" analyze -r h.pcap --db s.db --darknet "$darknet" >/dev/null
pick() { jq -r --arg p "$1" --argjson n "$2" '[.hosts[] | select(.population == $p)] | sort_by(-.packets) | .[:$n][] | .address' t.json; }
mapfile -t bots < <(pick mirai 6)
mapfile -t dos < <(pick dos 1)
mapfile -t zm < <(pick zmap 2)
ln() { for a in "$@"; do printf -- '--livenet %s/32 ' "$a"; done; }
# shellcheck disable=SC2046
"$bin" org add --db s.db --name Alpha $(ln "${bots[@]:0:3}") --file "$tmp/a.jsonl" >/dev/null
# shellcheck disable=SC2046
"$bin" org add --db s.db --name Beta $(ln "${bots[@]:3:3}" "${dos[@]}") --file "$tmp/b.jsonl" >/dev/null
# shellcheck disable=SC2046
"$bin" org add --db s.db --name Gamma $(ln "${zm[@]}") --darknet 198.51.100.0/25 --file "$tmp/c.jsonl" >/dev/null
echo 'admin-pass-123' >pw1
echo 'alpha-pass-123' >pw2
"$bin" user add --db s.db --name admin --role admin --password-file pw1 >/dev/null 2>&1
"$bin" user add --db s.db --name alpha --role org --org Alpha --password-file pw2 >/dev/null 2>&1
"$bin" run --db s.db --replay t.pcap --speed 3x --darknet "$darknet" --http 127.0.0.1:0 \
  --group-wait 2 --group-interval 5 --alert-update 2 --linger --log-level warn >run.out 2>run.err &
dpid=$!
for _ in $(seq 100); do grep -q "workbench at" run.err && break; sleep 0.1; done
url=$(grep -o 'http://127.0.0.1:[0-9]*' run.err | head -1)
[ -n "$url" ] || fail "the daemon did not start its web server: $(cat run.err)"
N_DOS="$n_dos" ADMIN_PW=admin-pass-123 ORG_USER=alpha ORG_PW=alpha-pass-123 ORG_NAME=Alpha HOST_ADDR="${bots[0]}" \
  node "$root/tests/web/ui.test.mjs" "$url/" "$tmp/screens" | tee ui.out
grep -q '^ui: all checks passed' ui.out || fail "browser checks failed (see above; screenshots in $tmp/screens)"
kill -0 "$dpid" || fail "the daemon died during the browser test: $(tail -5 run.err)"
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' run.err; then cat run.err >&2; fail "sanitizer report"; fi
echo "web_ui: all checks passed; screenshots in $tmp/screens"
