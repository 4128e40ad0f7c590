#!/usr/bin/env bash
# dos.sh - DoS attacks inferred from backscatter, against the generator's ground truth: every
# attack vector that meets the RS-DoS thresholds (and no other) with its victim, protocol,
# first and last packet, packets and peak rate, with one worker and with two; the report's
# JSON/CSV/table forms and --victim; no double count on a re-read; the API lists the same
# attacks and an organisation user sees only those on its own addresses; a real capture's
# backscatter checked with tcpdump.
#
# Usage: dos.sh DARKSCOPE_BIN SHARED_DIR SCRATCH_DIR
set -euo pipefail
bin=$1 shared=$2 tmp=$3
fail() { echo "FAIL: dos: $*" >&2; exit 1; }
rm -rf "$tmp" && mkdir -p "$tmp"
cd "$tmp"
spid=
cleanup() {
  local rc=$?
  [ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null && wait "$spid" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT

# a /16 darknet sees enough of each attack's backscatter for the thresholds to matter
darknet=198.18.0.0/16
"$bin" gen --profile tiny --seed 11 --duration 1h --darknet "$darknet" --darknet6 none --attacks 40 \
  -w t.pcap --truth t.json --truth-hosts none -q
jq -r '.attacks[] | . as $a | .vectors[] | select(.rsdos) |
  [$a.victim, $a.protocol, .first, .last, .packets, .peak_ppm] | @tsv' t.json | sort >want.tsv
n_want=$(wc -l <want.tsv)
n_vec=$(jq '[.attacks[].vectors[]] | length' t.json)
[ "$n_want" -ge 10 ] || fail "the generated capture has only $n_want attacks meeting the thresholds"
[ "$n_vec" -gt "$n_want" ] || fail "no vector below the thresholds to leave out ($n_vec vectors)"

got() { # DB -> attacks as TSV, sorted
  "$bin" report dos --db "$1" --format json |
    jq -r '.[] | [.victim, .protocol, .start, .end, .packets, .peak_ppm] | @tsv' | sort
}
for t in 1 2; do
  "$bin" analyze -r t.pcap --db "s$t.db" --darknet "$darknet" -T "$t" -o /dev/null
  got "s$t.db" >got$t.tsv
  diff want.tsv got$t.tsv >diff$t.txt || fail "with $t worker(s) the attacks differ from the truth: $(head -20 diff$t.txt)"
done
echo "dos: $n_want attacks of $n_vec vectors exact against the truth (1 and 2 workers)"

# every field is there and sane; the estimated rate scales by the darknet's share of IPv4
"$bin" report dos --db s1.db --format json >dos.json
jq -e 'all(.[]; (.duration_s >= 60) and (.packets >= 25) and (.peak_ppm >= 30)
  and (.darknet_addresses >= 1 and .darknet_addresses <= .packets)
  and (.attacker_ports <= .packets)
  and ((.estimated_rate_pps - (.packets / .duration_s * 65536)) | fabs < 0.01)
  and (if .protocol == "tcp" then .victim_ports >= 1 and (.top_victim_ports | length >= 1)
       else true end))' dos.json >/dev/null || fail "implausible attack fields: $(jq -c '.[0]' dos.json)"
# each attack's victim ports against the truth's service port (TCP attacks answer on it)
jq -r '.attacks[] | select(.protocol == "tcp" and .rsdos) | "\(.victim) \(.port)"' t.json | sort -u >ports.want
jq -r '.[] | select(.protocol == "tcp") | "\(.victim) \(.top_victim_ports[0].port)"' dos.json | sort -u >ports.got
diff ports.want ports.got >/dev/null || fail "victim ports differ: $(diff ports.want ports.got | head -5)"
# the table and CSV forms; --victim
"$bin" report dos --db s1.db --format csv >dos.csv
[ "$(head -1 dos.csv | cut -d, -f1-7)" = "id,victim,protocol,start,end,duration_s,packets" ] || fail "CSV header: $(head -1 dos.csv)"
[ "$(($(wc -l <dos.csv) - 1))" = "$n_want" ] || fail "CSV rows: $(wc -l <dos.csv)"
"$bin" report dos --db s1.db >dos.txt && grep -q "peak_ppm" dos.txt || fail "table form"
v1=$(head -1 want.tsv | cut -f1)
n_v1=$(awk -v v="$v1" '$1 == v' want.tsv | wc -l)
[ "$("$bin" report dos --db s1.db --victim "$v1" --format json | jq length)" = "$n_v1" ] || fail "--victim $v1"
[ "$("$bin" report dos --db s1.db --victim 192.0.2.0/24 --format json | jq length)" = 0 ] || fail "--victim elsewhere"
rc=0; "$bin" report dos --db s1.db --victim 300.1.2.3 >/dev/null 2>bad.err || rc=$?
[ "$rc" != 0 ] && grep -q "300.1.2.3" bad.err || fail "a bad --victim was accepted: $(cat bad.err)"

# a re-read adds nothing
"$bin" analyze -r t.pcap --db s1.db --darknet "$darknet" -o /dev/null 2>reread.err || true
[ "$(got s1.db | wc -l)" = "$n_want" ] || fail "a re-read changed the attacks"
echo "dos: report forms, --victim and re-read checked"

# the API: the same attacks for staff, only its own for an organisation
v2=$(sed -n 2p want.tsv | cut -f1)
"$bin" org add --db s1.db --name Victim --livenet "$v2/32" --file "$tmp/o.jsonl" >/dev/null
tok_admin=$("$bin" user add --db s1.db --name root --role admin 2>/dev/null)
tok_org=$("$bin" user add --db s1.db --name vic --role org --org Victim 2>/dev/null)
"$bin" serve --db s1.db --http 127.0.0.1:0 >serve.out 2>serve.err &
spid=$!
for _ in $(seq 100); do grep -q "workbench at" serve.err 2>/dev/null && break; sleep 0.1; done
base=$(grep -o 'http://127.0.0.1:[0-9]*' serve.err | head -1)/api/v1
[ -n "$base" ] || fail "serve did not start: $(cat serve.err)"
# the registry is read at start; wait until the organisation is known
curl -sf -H "Authorization: Bearer $tok_admin" "$base/dos?limit=10000" >api.json || fail "GET /dos"
jq -r '.attacks[] | [.victim, .protocol, .start, .end, .packets, .peak_ppm] | @tsv' api.json | sort >api.tsv
diff want.tsv api.tsv >/dev/null || fail "the API's attacks differ from the report"
curl -sf -H "Authorization: Bearer $tok_org" "$base/dos" >org.json || fail "GET /dos as the organisation"
n_v2=$(awk -v v="$v2" '$1 == v' want.tsv | wc -l)
jq -e --arg v "$v2" --argjson n "$n_v2" '(.attacks | length) == $n and all(.attacks[]; .victim == $v)' org.json >/dev/null ||
  fail "the organisation user sees other victims: $(jq -c '[.attacks[].victim]' org.json)"
for q in "victim=$v1" "victim=0.0.0.0/0" "from=2000-01-01&to=2100-01-01&limit=10000"; do
  curl -sf -H "Authorization: Bearer $tok_org" "$base/dos?$q" >org2.json || fail "GET /dos?$q"
  jq -e --arg v "$v2" 'all(.attacks[]; .victim == $v)' org2.json >/dev/null || fail "GET /dos?$q leaks other victims"
done
code=$(curl -s -o bad.json -w '%{http_code}' -H "Authorization: Bearer $tok_admin" "$base/dos?victim=x/99")
[ "$code" = 400 ] || fail "a bad victim parameter gave HTTP $code"
code=$(curl -s -o bad.json -w '%{http_code}' "$base/dos")
[ "$code" = 401 ] || fail "GET /dos without credentials gave HTTP $code"
kill -TERM "$spid" && wait "$spid" || true
spid=
echo "dos: the API lists the same attacks; an organisation sees only its own"

# a real capture: SNMP reflection answered by ICMP errors (tcpdump counts them); they span
# a fraction of a second, so RS-DoS finds no attack in them
real=$shared/data/pcaps/real/snmp-reflection-src161.pcapng
if [ ! -f "$real" ]; then fail "missing $real"; fi
want_bs=$(tcpdump -nr "$real" 'icmp[icmptype] == 0 or icmp[icmptype] == 3 or icmp[icmptype] == 4 or icmp[icmptype] == 5 or icmp[icmptype] == 11 or icmp[icmptype] == 12 or icmp[icmptype] == 14 or icmp[icmptype] == 16 or icmp[icmptype] == 18 or tcp[tcpflags] & tcp-rst != 0 or tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)' 2>/dev/null | wc -l)
span=$(tcpdump -tt -nr "$real" icmp 2>/dev/null | awk 'NR == 1 {a = $1} {b = $1} END {printf "%d", b - a}')
"$bin" analyze -r "$real" --db r.db --format json -o r.json
got_bs=$(jq '.classes.backscatter' r.json)
[ "$got_bs" = "$want_bs" ] || fail "$real: backscatter $got_bs, tcpdump counts $want_bs"
[ "$span" -lt 60 ] || fail "$real: the ICMP errors span $span s"
[ "$("$bin" report dos --db r.db --format json | jq length)" = 0 ] || fail "$real: an attack shorter than 60 s"
echo "dos: $real: $got_bs backscatter packets as tcpdump counts, over $span s: no attack"
echo "dos: all checks passed"
