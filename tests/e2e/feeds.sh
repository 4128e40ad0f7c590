#!/usr/bin/env bash
# feeds.sh - the sharing feeds against the generator's ground truth and the capture itself:
# the infected-host feed lists exactly the non-research sources with the Mirai fingerprint or
# IoT-port SYN scanning (first two ports read from the pcap by tests/feeds/first_ports.py),
# with their exact packets, whole and per prefix / ASN; the DoS feed matches `report dos`;
# the stats feed matches `report year` / `report ports`; every format parses (CSV header,
# IntelMQ JSON lines, STIX 2.1 validated with ajv against tests/feeds/stix21.schema.json plus
# reference and id checks, MISP structure); the API gives staff the same feed and an
# organisation user only its own livenet rows whatever it asks for.
#
# Usage: feeds.sh DARKSCOPE_BIN SHARED_DIR SCRATCH_DIR
set -euo pipefail
bin=$1 tmp=$3
here=$(cd "$(dirname "$0")/../feeds" && pwd)
geo=$(cd "$(dirname "$0")/../../data/geo" && pwd)
fail() { echo "FAIL: feeds: $*" >&2; exit 1; }
# keep the installed validator between runs (npm install is then a no-op)
nodedir=$(dirname "$tmp")/feeds-node
rm -rf "$tmp" && mkdir -p "$tmp"
cd "$tmp"
spid=
cleanup() {
  local rc=$?
  [ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null && wait "$spid" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT

# the STIX validator: ajv from the npm registry, installed here; no validator is a failure
mkdir -p "$nodedir"
cp "$here/package.json" "$here/stix21.schema.json" "$here/validate_stix.mjs" "$nodedir/"
command -v node >/dev/null || fail "node is needed to validate STIX (apt-get install nodejs npm)"
(cd "$nodedir" && npm install --no-audit --no-fund --silent >npm.log 2>&1) ||
  fail "npm install of the STIX validator failed: $(tail -5 "$nodedir/npm.log")"
validate() { node "$nodedir/validate_stix.mjs" "$@" || fail "STIX validation of $*"; }
command -v mmdblookup >/dev/null || fail "mmdblookup is needed (apt-get install mmdb-bin)"

darknet=198.18.0.0/16
"$bin" gen --profile tiny --seed 11 --duration 1h --darknet "$darknet" --darknet6 none --attacks 40 \
  -w t.pcap --truth t.json --truth-hosts all -q
"$bin" analyze -r t.pcap --db s.db --darknet "$darknet" -o /dev/null

# ---- the expected infected hosts: the rules of docs/feeds.md applied to the truth ----------
jq -r '.hosts[] | [.address, .packets, (.research | tostring), (.fingerprints | join(",")),
  (.classes | join(","))] | @tsv' t.json | sort >truth.tsv
python3 "$here/first_ports.py" t.pcap | sort >first2.tsv
join -t $'\t' -a1 truth.tsv first2.tsv | awk -F'\t' '
  { fp = "," $4 ","; cl = "," $5 ","; ports = " " $6 " "
    if ($3 != "false") next
    mirai = index(fp, ",mirai,") > 0
    tool = index(fp, ",zmap,") || index(fp, ",masscan,") || index(fp, ",nmap,") || index(fp, ",unicornscan,")
    iot = 0; n = split("23 2323 5555 7547 37215 52869", P, " ")
    for (i = 1; i <= n; i++) if (index(ports, " tcp/" P[i] " ")) iot = 1
    scan = !tool && index(cl, ",tcp_syn,") && !index(cl, ",backscatter,") && iot
    if (mirai || scan) print $1 "\t" $2 "\t" (mirai ? "mirai" : "") (mirai && scan ? "," : "") (scan ? "iot" : "") }' |
  sort >want.tsv
n_want=$(wc -l <want.tsv)
n_mirai=$(jq '[.hosts[] | select(.population == "mirai" or .population == "mirai-variant")] | length' t.json)
n_m=$(grep -c mirai want.tsv || true)
[ "$n_m" = "$n_mirai" ] || fail "the truth's Mirai bots ($n_mirai) are not the Mirai-fingerprint hosts ($n_m)"
[ "$n_want" -gt "$n_m" ] || fail "no IoT-port scanner without the Mirai fingerprint to find"
[ "$(jq '[.hosts[] | select(.research)] | length' t.json)" -gt 0 ] || fail "no research scanner to leave out"

# the whole feed, as IntelMQ JSON lines
"$bin" feed infected --db s.db --format json -o all.jsonl
jq -e . all.jsonl >/dev/null || fail "the JSON lines do not parse"
jq -r '[.["source.ip"], .["extra.packets"], ([(.["extra.rules"][] |
  if . == "mirai-fingerprint" then "mirai" else "iot" end)] | join(","))] | @tsv' all.jsonl | sort >got.tsv
diff want.tsv got.tsv >diff.txt || fail "the infected feed differs from the truth: $(head -10 diff.txt)"
jq -e -s 'all(.[]; .["classification.taxonomy"] == "malicious-code" and
  .["classification.type"] == "infected-system" and .["feed.name"] == "darkscope-infected-hosts"
  and (.["time.source"] | test("^2024-01-01T..:..:..\\.[0-9]{6}\\+00:00$"))
  and ((.["source.asn"] // 1) | type == "number") and ((.["source.geolocation.cc"] // "ZZ") | length == 2)
  and (.["malware.name"] == null))' all.jsonl >/dev/null || fail "IntelMQ fields: $(head -1 all.jsonl)"
echo "feeds: infected: $n_want hosts ($n_m Mirai-fingerprint) exact against the truth with packets"

# per prefix: the /8 with the most infected hosts
p8=$(cut -f1 want.tsv | cut -d. -f1 | sort | uniq -c | sort -rn | awk 'NR == 1 {print $2}')
prefix=$p8.0.0.0/8
awk -F'\t' -v p="$p8" 'index($1, p ".") == 1 {print $1 "\t" $2}' want.tsv | sort >want_p.tsv
"$bin" feed infected --db s.db --prefix "$prefix" --format csv -o p.csv
want_header="timestamp,ip,asn,geo,protocol,type,count,tag,family,first_seen,last_seen,dst_ports,ports_distinct,destinations,fingerprints,classes,behaviour,infected_rules"
[ "$(head -1 p.csv | tr -d '\r')" = "$want_header" ] || fail "CSV header: $(head -1 p.csv)"
python3 -c 'import csv,sys; [print(r["ip"] + "\t" + r["count"]) for r in csv.DictReader(open(sys.argv[1], newline=""))]' p.csv |
  sort >got_p.tsv
diff want_p.tsv got_p.tsv >/dev/null || fail "--prefix $prefix: $(diff want_p.tsv got_p.tsv | head -5)"
echo "feeds: --prefix $prefix: $(wc -l <want_p.tsv) hosts exact (CSV)"

# per ASN: the rows are those of the whole feed in that AS, and mmdblookup agrees on each
asn=$(jq -r '.["source.asn"]' all.jsonl | sort | uniq -c | sort -rn | awk 'NR == 5 {print $2}')
asn2=$(jq -r '.["source.asn"]' all.jsonl | sort | uniq -c | sort -rn | awk 'NR == 6 {print $2}')
jq -r --argjson a "$asn" 'select(.["source.asn"] == $a) | .["source.ip"]' all.jsonl | sort >want_a.txt
"$bin" feed infected --db s.db --asn "AS$asn" --format json | jq -r '.["source.ip"]' | sort >got_a.txt
diff want_a.txt got_a.txt >/dev/null || fail "--asn $asn: $(diff want_a.txt got_a.txt | head -5)"
while read -r ip; do
  a=$(mmdblookup --file "$geo/asn.mmdb" --ip "$ip" autonomous_system_number | awk 'NF {print $1; exit}')
  [ "$a" = "$asn" ] || fail "--asn $asn lists $ip, which is in AS$a"
done <got_a.txt
n_a2=$("$bin" feed infected --db s.db --asn "$asn" --asn "$asn2" --format json | wc -l)
n_want_a2=$(jq -r --argjson a "$asn" --argjson b "$asn2" 'select(.["source.asn"] == $a or .["source.asn"] == $b)' all.jsonl | jq -s length)
[ "$n_a2" = "$n_want_a2" ] || fail "--asn $asn --asn $asn2: $n_a2 rows, want $n_want_a2"
n_or=$("$bin" feed infected --db s.db --asn "$asn" --prefix "$prefix" --format json | wc -l)
n_want_or=$(jq -r --argjson a "$asn" --arg p "$p8." 'select(.["source.asn"] == $a or (.["source.ip"] | startswith($p)))' all.jsonl | jq -s length)
[ "$n_or" = "$n_want_or" ] || fail "--asn with --prefix: $n_or rows, want $n_want_or (ORed)"
echo "feeds: --asn $asn: $(wc -l <got_a.txt) hosts, each in AS$asn by mmdblookup; two ASNs and ASN-or-prefix ORed"

# STIX and MISP of the same selection
"$bin" feed infected --db s.db --asn "$asn" --format stix -o a.stix.json
validate a.stix.json
n_a=$(wc -l <got_a.txt)
jq -e --argjson n "$n_a" '([.objects[] | select(.type == "indicator")] | length) == $n and
  ([.objects[] | select(.type == "sighting")] | length) == $n and
  ([.objects[] | select(.type == "identity")] | length) == 1' a.stix.json >/dev/null ||
  fail "STIX: not one indicator and sighting per host"
jq -r '.objects[] | select(.type == "indicator") | .pattern' a.stix.json |
  sed "s/^\[ipv4-addr:value = '\(.*\)'\]$/\1/" | sort >stix_ips.txt
diff got_a.txt stix_ips.txt >/dev/null || fail "STIX indicators name other addresses"
"$bin" feed infected --db s.db --asn "$asn" --format stix -o b.stix.json
[ "$(jq -c '[.objects[] | select(.type != "identity") | .id]' a.stix.json)" = \
  "$(jq -c '[.objects[] | select(.type != "identity") | .id]' b.stix.json)" ] || fail "STIX ids are not deterministic"
"$bin" feed infected --db s.db --asn "$asn" --format misp -o a.misp.json
jq -e --argjson n "$n_a" '.Event | (.info | length > 0) and (.uuid | test("^[0-9a-f-]{36}$"))
  and (.Attribute | length) == $n and any(.Tag[]; .name == "tlp:amber")
  and all(.Attribute[]; .type == "ip-src" and .category == "Network activity" and .to_ids
    and (.first_seen | test("\\+00:00$")) and (.last_seen >= .first_seen) and (.comment | length > 0))' \
  a.misp.json >/dev/null || fail "MISP event structure: $(jq -c '.Event.Attribute[0]' a.misp.json)"
jq -r '.Event.Attribute[].value' a.misp.json | sort | diff got_a.txt - >/dev/null || fail "MISP attributes name other addresses"
echo "feeds: STIX bundle of AS$asn valid ($n_a indicators, deterministic ids), MISP event checked"

# ---- DoS victims: the same attacks as `report dos` ------------------------------------------
"$bin" report dos --db s.db --format json >dos.json
jq -r '.[] | [.id, .victim, .protocol, .start, .packets, .peak_ppm] | @tsv' dos.json | sort >dos_want.tsv
n_dos=$(wc -l <dos_want.tsv)
[ "$n_dos" -ge 10 ] || fail "only $n_dos attacks"
"$bin" feed dos --db s.db --format json | jq -r '[.["extra.attack_id"], .["destination.ip"],
  .["protocol.transport"], (.["time.source"] | sub("\\+00:00$"; "Z")), .["extra.packets"],
  .["extra.peak_ppm"]] | @tsv' | sort >dos_got.tsv
diff dos_want.tsv dos_got.tsv >/dev/null || fail "the DoS feed differs from report dos: $(diff dos_want.tsv dos_got.tsv | head -5)"
"$bin" feed dos --db s.db --format csv -o dos.csv
[ "$(head -1 dos.csv | cut -d, -f1-8)" = "timestamp,end_time,ip,asn,geo,protocol,port,count" ] || fail "DoS CSV header: $(head -1 dos.csv)"
[ "$(($(wc -l <dos.csv) - 1))" = "$n_dos" ] || fail "DoS CSV rows"
v1=$(jq -r '.[0].victim' dos.json)
v1asn=$(jq -r '.[0].asn' dos.json)
[ "$("$bin" feed dos --db s.db --prefix "$v1/32" --format json | wc -l)" = \
  "$(jq --arg v "$v1" '[.[] | select(.victim == $v)] | length' dos.json)" ] || fail "dos --prefix $v1/32"
[ "$("$bin" feed dos --db s.db --asn "$v1asn" --format json | wc -l)" = \
  "$(jq --argjson a "$v1asn" '[.[] | select(.asn == $a)] | length' dos.json)" ] || fail "dos --asn $v1asn"
"$bin" feed dos --db s.db --format stix -o dos.stix.json
validate dos.stix.json
jq -e --argjson n "$n_dos" '([.objects[] | select(.type == "sighting")] | length) == $n
  and ([.objects[] | select(.type == "indicator")] | length) == 0' dos.stix.json >/dev/null || fail "DoS STIX sightings"
"$bin" feed dos --db s.db --format misp | jq -e --argjson n "$n_dos" \
  '(.Event.Attribute | length) == $n and all(.Event.Attribute[]; .type == "ip-dst" and (.to_ids | not))' >/dev/null ||
  fail "DoS MISP event"
echo "feeds: dos: $n_dos attacks as report dos lists them; filters, CSV, STIX (valid), MISP"

# ---- statistics ----------------------------------------------------------------------------
"$bin" feed stats --db s.db --format csv -o stats.csv
[ "$(head -1 stats.csv | cut -d, -f1-2)" = "timestamp,total_packets" ] || fail "stats CSV header: $(head -1 stats.csv)"
[ "$(($(wc -l <stats.csv) - 1))" = 10 ] || fail "stats: not 10 ranked ports for the one day"
want_total=$("$bin" report year --db s.db --format json | jq .packets)
[ "$(sed -n 2p stats.csv | cut -d, -f2)" = "$want_total" ] || fail "stats: day total is not report year's $want_total"
"$bin" report ports --db s.db --from 2024-01-01 --to 2024-01-02 --exclude-research -n 10 --format json |
  jq -r '.[] | "\(.proto),\(.port),\(.packets)"' >ports_want.txt
tail -n +2 stats.csv | tr -d '\r' | cut -d, -f10-12 >ports_got.txt
diff ports_want.txt ports_got.txt >/dev/null || fail "stats: top ports differ from report ports: $(diff ports_want.txt ports_got.txt | head -3)"
"$bin" feed stats --db s.db --format json | jq -e '.date == "2024-01-01" and (.top_ports | length) == 10' >/dev/null ||
  fail "stats JSON"
echo "feeds: stats: the day's totals and top ports as report year/ports give them"

# ---- bad values are refused, naming them ----------------------------------------------------
expect_bad() { # WANT_TEXT ARGS...
  local want=$1 rc=0
  shift
  "$bin" feed "$@" >/dev/null 2>bad.err || rc=$?
  [ "$rc" = 2 ] && grep -qF -- "$want" bad.err || fail "feed $* was not refused with '$want' (rc $rc): $(cat bad.err)"
}
expect_bad "'nosuch'" nosuch --db s.db
expect_bad "'AS-1'" infected --db s.db --asn AS-1
expect_bad "10.1.0.0/8" infected --db s.db --prefix 10.1.0.0/8
expect_bad "'xml'" infected --db s.db --format xml
expect_bad "--asn and --prefix" stats --db s.db --asn 1
expect_bad "stix" stats --db s.db --format stix
expect_bad "--to" infected --db s.db --from 2024-01-02 --to 2024-01-01
echo "feeds: bad values refused"

# ---- the API: staff see all, an organisation only its own livenet ---------------------------
v2=$(jq -r '.[1].victim' dos.json)
"$bin" org add --db s.db --name ISP --livenet "$prefix" --livenet "$v2/32" --file "$tmp/o.jsonl" >/dev/null
tok_admin=$("$bin" user add --db s.db --name root --role admin 2>/dev/null)
tok_org=$("$bin" user add --db s.db --name isp --role org --org ISP 2>/dev/null)
"$bin" serve --db s.db --http 127.0.0.1:0 >serve.out 2>serve.err &
spid=$!
for _ in $(seq 100); do grep -q "workbench at" serve.err && break; sleep 0.1; done
base=$(grep -o 'http://127.0.0.1:[0-9]*' serve.err | head -1)/api/v1
[ -n "$base" ] || fail "serve did not start: $(cat serve.err)"
get() { # TOKEN PATH OUT -> HTTP status
  curl -s -o "$3" -w '%{http_code}' -H "Authorization: Bearer $1" "$base/$2"
}
[ "$(get "$tok_admin" "feeds/infected?format=csv&asn=$asn" api.csv)" = 200 ] || fail "GET feeds/infected as staff: $(cat api.csv)"
"$bin" feed infected --db s.db --asn "$asn" --format csv -o cli.csv
cmp -s api.csv cli.csv || fail "the API's CSV differs from the CLI's"
ctype=$(curl -s -o /dev/null -w '%{content_type}' -H "Authorization: Bearer $tok_admin" "$base/feeds/infected?format=csv&asn=$asn")
case $ctype in text/csv*) ;; *) fail "CSV content type $ctype" ;; esac
[ "$(get "$tok_admin" "feeds/infected?format=stix&prefix=$prefix" api.stix.json)" = 200 ] || fail "GET STIX"
validate api.stix.json
[ "$(get "$tok_admin" "feeds/infected?format=json" api_all.jsonl)" = 200 ] || fail "GET all as staff"
[ "$(wc -l <api_all.jsonl)" = "$n_want" ] || fail "staff get $(wc -l <api_all.jsonl) rows, want $n_want"
# the organisation: exactly its own rows, whatever it sends
for q in "" "asn=$asn" "prefix=0.0.0.0/0" "prefix=$prefix" "asn=$asn&prefix=1.0.0.0/8,$prefix" "from=2000-01-01&to=2100-01-01"; do
  [ "$(get "$tok_org" "feeds/infected?format=json&$q" org.jsonl)" = 200 ] || fail "GET feeds/infected?$q as the organisation: $(cat org.jsonl)"
  jq -r '.["source.ip"]' org.jsonl | sort >org.txt
  case $q in
    asn=$asn) jq -r --argjson a "$asn" --arg p "$p8." 'select(.["source.asn"] == $a and (.["source.ip"] | startswith($p))) | .["source.ip"]' all.jsonl | sort >org_want.txt ;;
    asn=*) jq -r --argjson a "$asn" --arg p "$p8." 'select(.["source.ip"] | startswith($p)) | .["source.ip"]' all.jsonl | sort >org_want.txt ;;
    *) cut -f1 want_p.tsv | sort >org_want.txt ;;
  esac
  diff org_want.txt org.txt >/dev/null || fail "the organisation's feed ?$q: $(diff org_want.txt org.txt | head -3)"
done
other=$(awk -F'\t' -v p="$p8" 'index($1, p ".") != 1 {print $1; exit}' want.tsv)
[ "$(get "$tok_org" "feeds/infected?format=csv&prefix=$other/32" org.csv)" = 200 ] || fail "GET ?prefix=$other/32"
[ "$(wc -l <org.csv)" = 1 ] || fail "the organisation sees $other outside its ranges"
[ "$(get "$tok_org" "feeds/infected?format=misp&asn=$(jq -r --arg o "$other" 'select(.["source.ip"] == $o) | .["source.asn"]' all.jsonl)" org.misp)" = 200 ] ||
  fail "GET MISP as the organisation"
jq -e --arg p "$p8." 'all(.Event.Attribute[]; .value | startswith($p))' org.misp >/dev/null || fail "the organisation's MISP leaks"
[ "$(get "$tok_org" "feeds/dos?format=json&prefix=0.0.0.0/0" org_dos.jsonl)" = 200 ] || fail "GET feeds/dos as the organisation"
n_v2=$(jq --arg v "$v2" --arg p "$p8." '[.[] | select(.victim == $v or (.victim | startswith($p)))] | length' dos.json)
[ "$(wc -l <org_dos.jsonl)" = "$n_v2" ] && jq -e -s --arg v "$v2" --arg p "$p8." \
  'all(.[]; .["destination.ip"] == $v or (.["destination.ip"] | startswith($p)))' org_dos.jsonl >/dev/null ||
  fail "the organisation's DoS feed: $(jq -r '.["destination.ip"]' org_dos.jsonl | head -3)"
[ "$(get "$tok_org" "feeds/stats?format=csv" org_stats.csv)" = 403 ] || fail "GET feeds/stats as the organisation (statistics are staff's)"
[ "$(get "$tok_admin" "feeds/stats?format=csv" api_stats.csv)" = 200 ] && cmp -s api_stats.csv stats.csv || fail "GET feeds/stats as staff"
# errors
[ "$(get "$tok_admin" "feeds/nosuch" e.json)" = 404 ] || fail "unknown feed"
[ "$(get "$tok_admin" "feeds/infected?format=xml" e.json)" = 400 ] && grep -q xml e.json || fail "format=xml"
[ "$(get "$tok_admin" "feeds/infected?asn=x" e.json)" = 400 ] && grep -q "'x'" e.json || fail "asn=x"
[ "$(get "$tok_admin" "feeds/infected?prefix=1.2.3.4/8" e.json)" = 400 ] || fail "prefix with host bits"
[ "$(get "$tok_admin" "feeds/stats?format=stix" e.json)" = 400 ] || fail "stats as STIX"
[ "$(get "$tok_admin" "feeds/stats?asn=1" e.json)" = 400 ] || fail "stats with asn"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/feeds/infected")" = 401 ] || fail "no credentials"
kill -TERM "$spid" && wait "$spid" || true
spid=
echo "feeds: API: staff feed = CLI feed; the organisation gets only its $prefix and $v2 rows; errors"
echo "feeds: all checks passed"
