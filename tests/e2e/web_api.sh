#!/usr/bin/env bash
# web_api.sh - the workbench API (/api/v1) end to end over a real server (`darkscope serve`)
# on 127.0.0.1: every endpoint, roles, and the proof that an organisation user cannot read
# another organisation's data by any path or parameter; sessions (HttpOnly/SameSite cookies,
# CSRF, rate-limited logins, logout); the alert workflow and its audit; bad input (malformed
# JSON, huge bodies, bad parameters, path traversal) answered with clear 4xx while the server
# keeps running; HTTPS with a certificate made for the test.
#
# Usage: web_api.sh DARKSCOPE_BIN SHARED_DIR SCRATCH_DIR
set -euo pipefail
bin=$1 tmp=$3
py=${DS_PYTHON:-/usr/bin/python3}
fail() { echo "FAIL: web_api: $*" >&2; exit 1; }
for tool in jq curl openssl; do command -v "$tool" >/dev/null || fail "'$tool' is not installed"; done
rm -rf "$tmp" && mkdir -p "$tmp"
cd "$tmp"
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
sql() { "$py" -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1], timeout=30)
for r in c.execute(sys.argv[2]): print("|".join(str(x) for x in r))' s.db "$1"; }

# ------------------------------------------------------------------ a store with alerts -----
darknet=198.51.100.0/24,203.0.113.0/24,2001:db8:1::/48
"$bin" gen --profile tiny --duration 5m --seed 21 -w t.pcap --truth t.json -q
pick() { jq -r --arg p "$1" --argjson n "$2" '[.hosts[] | select(.population == $p)] | sort_by(-.packets) | .[:$n][] | .address' t.json; }
mapfile -t abots < <(pick mirai 3)
mapfile -t bhosts < <(pick masscan 2)
args_a=(); for x in "${abots[@]}"; do args_a+=(--livenet "$x/32"); done
args_b=(); for x in "${bhosts[@]}"; do args_b+=(--livenet "$x/32"); done
"$bin" org add --db s.db --name Alpha "${args_a[@]}" --file "$tmp/a.jsonl" >/dev/null
"$bin" org add --db s.db --name Beta "${args_b[@]}" --file "$tmp/b.jsonl" >/dev/null
"$bin" run --db s.db --replay t.pcap --speed max --darknet "$darknet" --http off >run.out 2>run.err ||
  fail "run: $(tail -5 run.err)"
alpha_id=$(sql "SELECT id FROM org WHERE name = 'Alpha'")
beta_id=$(sql "SELECT id FROM org WHERE name = 'Beta'")
n_alpha=$(sql "SELECT count(*) FROM alert WHERE org = $alpha_id")
n_beta=$(sql "SELECT count(*) FROM alert WHERE org = $beta_id")
[ "$n_alpha" -ge 3 ] && [ "$n_beta" -ge 2 ] || fail "expected alerts for both organisations ($n_alpha, $n_beta)"
beta_alert=$(sql "SELECT id FROM alert WHERE org = $beta_id LIMIT 1")
alpha_alert=$(sql "SELECT id FROM alert WHERE org = $alpha_id LIMIT 1")
beta_addr=${bhosts[0]}

# ------------------------------------------------------------------ accounts ----------------
echo 'analyst-pass-1' >pw.analyst
echo 'alpha-pass-12' >pw.alpha
tok_admin=$("$bin" user add --db s.db --name root --role admin 2>/dev/null)
tok_analyst=$("$bin" user add --db s.db --name ana --role analyst --password-file pw.analyst 2>/dev/null)
tok_alpha=$("$bin" user add --db s.db --name alice --role org --org Alpha --password-file pw.alpha 2>/dev/null)
tok_beta=$("$bin" user add --db s.db --name bob --role org --org Beta 2>/dev/null)
[ ${#tok_admin} = 64 ] && [ ${#tok_alpha} = 64 ] || fail "user add did not print a 64-character token"
rc=0; "$bin" user add --db s.db --name x --role org 2>bad.err || rc=$?
[ "$rc" = 2 ] && grep -q -- "--org" bad.err || fail "an org user without --org was accepted: $(cat bad.err)"
[ "$(sql "SELECT count(*) FROM user WHERE pw_hash LIKE 'scrypt\$%'")" = 2 ] || fail "passwords not stored as scrypt hashes"
sql "SELECT hash FROM api_token" | grep -q "$tok_admin" && fail "a token is stored in clear"

# ------------------------------------------------------------------ the server --------------
start_serve() { # NAME ARGS...: serve in the background; sets url_NAME
  local name=$1; shift
  "$bin" serve --db s.db --http 127.0.0.1:0 "$@" >"$name.out" 2>"$name.err" &
  pids+=($!)
  eval "pid_$name=$!"
  for _ in $(seq 100); do grep -q "workbench at" "$name.err" && break; sleep 0.1; done
  local u
  u=$(grep -o 'https\?://127.0.0.1:[0-9]*' "$name.err" | head -1)
  [ -n "$u" ] || fail "serve did not start: $(cat "$name.err")"
  eval "url_$name=$u"
}
start_serve plain
base=$url_plain/api/v1
# get TOKEN PATH -> body in out.json, status printed
get() { curl -s -o out.json -w '%{http_code}' -H "Authorization: Bearer $1" "$base/$2"; }
post() { curl -s -o out.json -w '%{http_code}' -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d "$3" "$base/$2"; }
expect() { # STATUS ACTUAL WHAT
  [ "$1" = "$2" ] || fail "$3: HTTP $2, expected $1: $(head -c 300 out.json)"
}

# public and unauthenticated
[ "$(curl -s -o out.json -w '%{http_code}' "$base/meta")" = 200 ] || fail "meta"
jq -e '.api == 1 and (.classes | length) == 8 and (.fingerprints | length) == 5 and .live == false' out.json >/dev/null || fail "meta body: $(cat out.json)"
[ "$(curl -s -o out.json -w '%{http_code}' "$base/alerts")" = 401 ] || fail "alerts without a token was not 401"
expect 401 "$(get 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef alerts)" "a wrong token"
expect 401 "$(curl -s -o out.json -w '%{http_code}' -H 'Authorization: Basic eDp5' "$base/alerts")" "Basic auth"

# staff see everything
expect 200 "$(get "$tok_admin" alerts)" "admin alerts"
[ "$(jq .total out.json)" = $((n_alpha + n_beta)) ] || fail "admin sees $(jq .total out.json) alerts of $((n_alpha + n_beta))"
jq -e 'all(.alerts[]; has("id") and has("organisation") and has("address") and has("case") and has("state") and has("workflow"))' out.json >/dev/null || fail "alert list items lack keys"
expect 200 "$(get "$tok_analyst" "alerts?case=external&state=new&limit=1")" "filtered alerts"
[ "$(jq '.alerts | length' out.json)" -le 1 ] || fail "limit=1 returned more"
for p in "stats" "stats?gran=5m" "stats?gran=1d&dim=country&key=US" "stats?gran=5m&dim=fingerprint&key=mirai" \
         "top?kind=countries&by=sources" "top?kind=ports&proto=udp" "top?kind=asns" "year" "hosts?n=5" \
         "orgs" "orgs/$beta_id" "users" "audit?limit=5" "search?q=mirai" "search?q=23/tcp" \
         "search?q=198.51.100.0/24" "search?q=${abots[0]}" "hosts/${abots[0]}" "alerts/$beta_alert"; do
  expect 200 "$(get "$tok_admin" "$p")" "admin GET $p"
done
get "$tok_admin" "stats?gran=5m" >/dev/null
[ "$(jq '.packets | add' out.json)" = "$(jq .darknet_packets t.json)" ] || fail "5-minute series sums to $(jq '.packets | add' out.json), truth $(jq .darknet_packets t.json)"
get "$tok_admin" "hosts/${abots[0]}" >/dev/null
jq -e --arg a "${abots[0]}" '.address == $a and .organisation.name == "Alpha" and (.alerts | length) >= 1 and has("family")' out.json >/dev/null || fail "host detail: $(head -c 300 out.json)"
[ "$(jq .packets out.json)" = "$(jq -r --arg a "${abots[0]}" '.hosts[] | select(.address == $a) | .packets' t.json)" ] || fail "host packets differ from the truth"
get "$tok_admin" "alerts/$beta_alert" >/dev/null
jq -e '(.timeline | length) >= 1 and .timeline[0].kind == "notification"' out.json >/dev/null || fail "alert detail lacks its timeline: $(head -c 300 out.json)"
expect 403 "$(get "$tok_analyst" users)" "analyst GET users"
expect 403 "$(get "$tok_analyst" audit)" "analyst GET audit"

# ------------------------------------------------------------------ organisation isolation ---
expect 200 "$(get "$tok_alpha" alerts)" "alpha alerts"
[ "$(jq .total out.json)" = "$n_alpha" ] || fail "Alpha sees $(jq .total out.json) alerts, owns $n_alpha"
jq -e 'all(.alerts[]; .organisation == "Alpha")' out.json >/dev/null || fail "Alpha sees another organisation's alert"
for q in "org=$beta_id" "org=$beta_id&limit=10000" "address=$beta_addr" "offset=0&org=0"; do
  get "$tok_alpha" "alerts?$q" >/dev/null
  jq -e 'all(.alerts[]; .organisation == "Alpha")' out.json >/dev/null || fail "alerts?$q leaked: $(head -c 200 out.json)"
done
curl -s -H "Authorization: Bearer $tok_alpha" "$base/alerts?format=csv&org=$beta_id" >alpha-b.csv
[ "$(wc -l <alpha-b.csv)" = 1 ] || fail "Alpha's CSV export of org=$beta_id has rows: $(cat alpha-b.csv)"
curl -s -H "Authorization: Bearer $tok_alpha" "$base/alerts?format=csv&limit=10000" >alpha.csv
grep -q Beta alpha.csv && fail "the CSV export leaked Beta's alerts"
[ "$(($(wc -l <alpha.csv) - 1))" = "$n_alpha" ] || fail "CSV export has $(($(wc -l <alpha.csv) - 1)) rows, Alpha owns $n_alpha"
head -1 alpha.csv | grep -q '^id,organisation,address,case,state' || fail "CSV header: $(head -1 alpha.csv)"
expect 404 "$(get "$tok_alpha" "alerts/$beta_alert")" "Alpha GET Beta's alert"
expect 404 "$(post "$tok_alpha" "alerts/$beta_alert/workflow" '{"action":"ack"}')" "Alpha acting on Beta's alert"
[ "$(sql "SELECT workflow FROM alert WHERE id = $beta_alert")" = new ] || fail "Alpha changed Beta's alert"
expect 404 "$(get "$tok_alpha" "hosts/$beta_addr")" "Alpha GET a Beta host"
expect 404 "$(get "$tok_alpha" "orgs/$beta_id")" "Alpha GET Beta's organisation"
expect 200 "$(get "$tok_alpha" orgs)" "Alpha GET orgs"
jq -e '.orgs | length == 1 and .[0].name == "Alpha"' out.json >/dev/null || fail "Alpha's org list: $(cat out.json)"
for p in stats top year users audit "users/bob"; do
  code=$(get "$tok_alpha" "$p")
  [ "$code" = 403 ] || [ "$code" = 405 ] || fail "Alpha GET $p: HTTP $code"
done
expect 200 "$(get "$tok_alpha" hosts)" "Alpha GET hosts"
jq -e --argjson b "$(printf '%s\n' "${bhosts[@]}" | jq -R . | jq -s .)" 'all(.hosts[]; .address as $a | ($b | index($a)) == null)' out.json >/dev/null ||
  fail "Alpha's host list contains a Beta host"
for q in "$beta_addr" "${beta_addr%.*}.0/24" "0.0.0.0/0" "masscan" "23/tcp" "::/0"; do
  code=$(get "$tok_alpha" "search?q=$(jq -rn --arg q "$q" '$q | @uri')")
  [ "$code" = 200 ] || [ "$code" = 400 ] || fail "Alpha search $q: HTTP $code"
  grep -q '"Beta"' out.json && fail "Alpha's search for $q shows Beta's data: $(head -c 300 out.json)"
  jq -e --arg b "$beta_addr" '(.host == null or .host == {} or (.host.address // "") != $b)
    and all((.hosts // [])[]; .address != $b) and all((.alerts // [])[]; .address != $b)' out.json >/dev/null ||
    fail "Alpha's search for $q shows Beta's host: $(head -c 300 out.json)"
done
# the live stream: Alpha gets only its own alert events (since=0 replays them all)
curl -s -N --max-time 3 -H "Authorization: Bearer $tok_alpha" "$base/stream?types=alerts&since=0" >alpha.sse || true
grep -q '^event: hello' alpha.sse || fail "the stream did not say hello: $(head -c 200 alpha.sse)"
n_ev=$(grep -c '^event: alert' alpha.sse || true)
[ "$n_ev" -ge "$n_alpha" ] || fail "Alpha's stream carried $n_ev alert events for $n_alpha alerts"
grep '^data: ' alpha.sse | sed 's/^data: //' | jq -e -s 'map(select(has("organisation"))) | all(.[]; .organisation == "Alpha")' >/dev/null ||
  fail "Alpha's stream carried another organisation's alert"
curl -s -N --max-time 3 -H "Authorization: Bearer $tok_admin" "$base/stream?types=alerts&since=0" >admin.sse || true
grep -q '"organisation":"Beta"' admin.sse || fail "the admin stream lacks Beta's alerts"
echo "web_api: isolation: an organisation user sees exactly its $n_alpha alerts through every path tried"

# ------------------------------------------------------------------ sessions and workflow ---
code=$(curl -s -o out.json -D hdr.txt -w '%{http_code}' -c jar -H 'Content-Type: application/json' \
  -d '{"name":"ana","password":"analyst-pass-1"}' "$base/login")
expect 200 "$code" "login"
grep -i '^set-cookie: ds_session=' hdr.txt | grep -qi 'HttpOnly' || fail "session cookie not HttpOnly: $(grep -i set-cookie hdr.txt)"
grep -i '^set-cookie: ds_session=' hdr.txt | grep -qi 'SameSite=Strict' || fail "session cookie not SameSite=Strict"
csrf=$(jq -r .csrf out.json)
[ ${#csrf} = 64 ] || fail "login did not return a CSRF token"
cget() { curl -s -o out.json -w '%{http_code}' -b jar "$base/$1"; }
cpost() { curl -s -o out.json -w '%{http_code}' -b jar -H 'Content-Type: application/json' "${@:3}" -d "$2" "$base/$1"; }
expect 200 "$(cget me)" "me with the cookie"
jq -e '.name == "ana" and .role == "analyst"' out.json >/dev/null || fail "me: $(cat out.json)"
expect 403 "$(cpost "alerts/$alpha_alert/workflow" '{"action":"ack"}')" "workflow without CSRF"
expect 403 "$(cpost "alerts/$alpha_alert/workflow" '{"action":"ack"}' -H "X-CSRF-Token: ${csrf%?}x")" "workflow with a wrong CSRF"
expect 200 "$(cpost "alerts/$alpha_alert/workflow" '{"action":"ack","note":"looking"}' -H "X-CSRF-Token: $csrf")" "ack"
[ "$(jq -r .workflow out.json)" = open ] || fail "ack did not open the alert"
expect 409 "$(cpost "alerts/$alpha_alert/workflow" '{"action":"ack"}' -H "X-CSRF-Token: $csrf")" "ack twice"
expect 200 "$(cpost "alerts/$alpha_alert/workflow" '{"action":"assign","assignee":"ana"}' -H "X-CSRF-Token: $csrf")" "assign"
expect 200 "$(cpost "alerts/$alpha_alert/workflow" '{"action":"resolve","note":"cleaned"}' -H "X-CSRF-Token: $csrf")" "resolve"
jq -e '.workflow == "resolved" and .assignee == "ana" and (.note | contains("ana: looking")) and (.note | contains("ana: cleaned"))' out.json >/dev/null ||
  fail "after resolve: $(jq -c '{workflow, assignee, note}' out.json)"
expect 400 "$(cpost "alerts/$alpha_alert/workflow" '{"action":"explode"}' -H "X-CSRF-Token: $csrf")" "unknown action"
expect 200 "$(cpost "alerts/$alpha_alert/workflow" '{"action":"reopen"}' -H "X-CSRF-Token: $csrf")" "reopen"
[ "$(sql "SELECT count(*) FROM audit WHERE what = 'alert.workflow' AND who = 'ana' AND object = 'alert-$alpha_alert'")" = 4 ] ||
  fail "workflow changes not audited"
# the organisation user may act on its own alerts, by token (no CSRF needed: no ambient credentials)
expect 200 "$(post "$tok_alpha" "alerts/$alpha_alert/workflow" '{"action":"note","note":"we see it"}')" "Alpha notes its alert"
expect 200 "$(cpost logout '{}' -H "X-CSRF-Token: $csrf")" "logout"
expect 401 "$(cget me)" "me after logout"
# rate limit: five wrong passwords, then 429 even for the right one
for i in 1 2 3 4 5; do
  expect 401 "$(curl -s -o out.json -w '%{http_code}' -H 'Content-Type: application/json' -d '{"name":"alice","password":"nope"}' "$base/login")" "wrong password $i"
done
code=$(curl -s -o out.json -D hdr.txt -w '%{http_code}' -H 'Content-Type: application/json' -d '{"name":"alice","password":"alpha-pass-12"}' "$base/login")
expect 429 "$code" "login after 5 failures"
grep -qi '^retry-after: [0-9]' hdr.txt || fail "429 without Retry-After"
[ "$(sql "SELECT count(*) FROM audit WHERE what = 'login.failed' AND who = 'alice'")" = 5 ] || fail "failed logins not audited"
echo "web_api: sessions: HttpOnly SameSite cookies, CSRF enforced, workflow new->open->resolved->open audited, logins rate-limited"

# ------------------------------------------------------------------ admin changes ----------
expect 400 "$(post "$tok_admin" orgs '{"name":"Gamma","livenet":["10.0.0.1/8"]}')" "org with host bits"
grep -q '10.0.0.1/8' out.json || fail "the error does not name the bad range: $(cat out.json)"
expect 201 "$(post "$tok_admin" orgs '{"name":"Gamma","livenet":["192.0.2.0/24"],"webhooks":["http://127.0.0.1:9/x"],"webhook_secrets":["s"]}')" "create org"
gid=$(jq .id out.json)
expect 409 "$(post "$tok_admin" orgs '{"name":"Gamma","livenet":["192.0.3.0/24"]}')" "duplicate org"
expect 201 "$(post "$tok_admin" users '{"name":"gary","role":"org","org":"Gamma"}')" "create user"
tok_g=$(jq -r .token out.json)
for _ in $(seq 30); do get "$tok_g" orgs >/dev/null; jq -e '.orgs | length == 1' out.json >/dev/null && break; sleep 0.2; done
jq -e '.orgs[0].name == "Gamma"' out.json >/dev/null || fail "the new org user does not see its new organisation: $(cat out.json)"
expect 403 "$(post "$tok_alpha" orgs '{"name":"Evil","livenet":["192.0.9.0/24"]}')" "org user creating an org"
expect 200 "$(curl -s -o out.json -w '%{http_code}' -X DELETE -H "Authorization: Bearer $tok_admin" "$base/users/gary")" "delete user"
expect 401 "$(get "$tok_g" orgs)" "a deleted user's token"
expect 200 "$(curl -s -o out.json -w '%{http_code}' -X DELETE -H "Authorization: Bearer $tok_admin" "$base/orgs/$gid")" "delete org"

# ------------------------------------------------------------------ bad input ---------------
expect 400 "$(post "$tok_admin" orgs '{"name": ')" "malformed JSON"
grep -q 'not JSON' out.json || fail "malformed JSON error: $(cat out.json)"
expect 400 "$(post "$tok_admin" orgs '[1,2]')" "JSON array body"
head -c 2000000 /dev/zero | tr '\0' 'a' >big.json
expect 413 "$(curl -s -o out.json -w '%{http_code}' -H "Authorization: Bearer $tok_admin" -H 'Content-Type: application/json' --data-binary @big.json "$base/orgs")" "2 MB body"
for p in "stats?gran=7m" "stats?dim=nope" "stats?dim=tcp" "stats?dim=tcp&key=70000" "stats?gran=5m&from=2020-01-01&to=2024-01-01" \
         "alerts?limit=-1" "alerts?limit=abc" "alerts?state=dead" "alerts?from=yesterday" "top?kind=x" "top?n=0" \
         "hosts/not-an-address" "search?q=" "search?q=%25%25%25" "alerts/abc" "audit?limit=0"; do
  expect 400 "$(get "$tok_admin" "$p")" "GET $p"
  jq -e '.error | length > 0' out.json >/dev/null || fail "GET $p: no error message"
done
expect 404 "$(get "$tok_admin" nosuch)" "unknown endpoint"
expect 404 "$(get "$tok_admin" "alerts/999999")" "unknown alert"
expect 405 "$(curl -s -o out.json -w '%{http_code}' -X PUT -H "Authorization: Bearer $tok_admin" "$base/alerts")" "PUT alerts"
for p in "/../../../../etc/passwd" "/%2e%2e/%2e%2e/etc/passwd" "/vendor/../../../etc/passwd" "/vendor/%2e%2e/package.json" \
         "/app.js/../../../etc/passwd" "/..%2f..%2fetc%2fpasswd"; do
  code=$(curl -s --path-as-is -o out.json -w '%{http_code}' "$url_plain$p")
  grep -q 'root:' out.json && fail "path traversal $p read /etc/passwd"
  case $code in 200) grep -q '<title>darkscope' out.json || fail "$p: HTTP 200 with something else than the app" ;;
                400|403|404) ;; *) fail "$p: HTTP $code" ;; esac
done
expect 200 "$(curl -s -o out.json -w '%{http_code}' "$url_plain/healthz")" "healthz after the bad input"
kill -0 "$pid_plain" || fail "the server died"
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' plain.err; then cat plain.err >&2; fail "sanitizer report"; fi
echo "web_api: bad input: malformed JSON, 2 MB body, 16 bad parameters, traversal: clear 4xx; server alive"

# ------------------------------------------------------------------ HTTPS -------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1 -subj '/CN=127.0.0.1' \
  -addext 'subjectAltName=IP:127.0.0.1' >/dev/null 2>&1
start_serve tls --tls-cert cert.pem --tls-key key.pem
case $url_tls in https://*) ;; *) fail "serve with a certificate does not say https: $url_tls" ;; esac
code=$(curl -s --cacert cert.pem -o out.json -D hdr.txt -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"name":"ana","password":"analyst-pass-1"}' "$url_tls/api/v1/login")
expect 200 "$code" "login over HTTPS"
grep -i '^set-cookie: ds_session=' hdr.txt | grep -qi '; Secure' || fail "the HTTPS session cookie is not Secure"
rc=0; "$bin" serve --db s.db --http 127.0.0.1:0 --tls-cert cert.pem --tls-key /nonexistent.pem 2>bad.err || rc=$?
[ "$rc" != 0 ] && grep -q /nonexistent.pem bad.err || fail "a missing key file was not reported: $(cat bad.err)"
echo "web_api: HTTPS with the test's certificate; Secure cookies; a missing key named"
echo "web_api: all checks passed"
