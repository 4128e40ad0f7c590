#!/usr/bin/env bash
# install-geodb.sh - installs freely licensed country and ASN databases into data/geo/ from
# the npm registry (pinned versions; docs/enrichment.md says why these and what the licences
# ask). Idempotent and silent when the same versions are already installed.
#   country.mmdb  @ip-location-db/geo-whois-asn-country-mmdb (field country_code)
#   asn.mmdb      built from @ip-location-db/asn (CSV) by scripts/asn-csv-to-mmdb.mjs, with
#                 GeoLite2-ASN's fields (autonomous_system_number/_organization)
# Usage: scripts/install-geodb.sh [DEST]   (default: data/geo under the repository)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-$ROOT/data/geo}
COUNTRY_PKG=@ip-location-db/geo-whois-asn-country-mmdb
COUNTRY_VER=2.3.2026061719
ASN_PKG=@ip-location-db/asn
ASN_VER=2.3.2026061719
CONVERTER=$ROOT/scripts/asn-csv-to-mmdb.mjs
WANT="$COUNTRY_PKG@$COUNTRY_VER $ASN_PKG@$ASN_VER converter-1"

if [ -s "$DEST/country.mmdb" ] && [ -s "$DEST/asn.mmdb" ] && [ -f "$DEST/.installed" ] &&
   [ "$(cat "$DEST/.installed")" = "$WANT" ]; then
  exit 0
fi
for tool in npm node tar; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install-geodb.sh: '$tool' is missing; run scripts/install-deps.sh (it installs" \
         "Debian's npm and nodejs when no npm is present), then run this again" >&2
    exit 1
  fi
done

mkdir -p "$DEST"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "install-geodb.sh: fetching $COUNTRY_PKG@$COUNTRY_VER and $ASN_PKG@$ASN_VER into $DEST" >&2
# npm pack checks each tarball against the registry's integrity hash
if ! (cd "$tmp" && npm pack --silent --loglevel=error "$COUNTRY_PKG@$COUNTRY_VER" \
        "$ASN_PKG@$ASN_VER" >/dev/null); then
  echo "install-geodb.sh: npm pack failed (is the npm registry reachable?)" >&2
  exit 1
fi
mkdir -p "$tmp/country" "$tmp/asn"
tar xzf "$tmp"/ip-location-db-geo-whois-asn-country-mmdb-"$COUNTRY_VER".tgz -C "$tmp/country"
tar xzf "$tmp"/ip-location-db-asn-"$ASN_VER".tgz -C "$tmp/asn"

node "$CONVERTER" "$tmp/asn.mmdb" "$tmp/asn/package/asn-ipv4.csv" \
     "$tmp/asn/package/asn-ipv6.csv" 2>"$tmp/convert.log" || {
  cat "$tmp/convert.log" >&2
  echo "install-geodb.sh: converting the ASN CSV failed" >&2
  exit 1
}

# licences and attribution travel with the data
mkdir -p "$DEST/licenses"
cp "$tmp/country/package/README.md" "$DEST/licenses/country-README.md"
cp "$tmp/country/package/NRO_LICENSE" "$DEST/licenses/country-NRO_LICENSE"
for f in DBIP-LICENSE NRO_LICENSE ROUTEVIEWS-LICENSE MODIFICATIONS README.md; do
  cp "$tmp/asn/package/$f" "$DEST/licenses/asn-$f"
done
# move into place last, so an interrupted run never leaves a half-written database
cp "$tmp/country/package/geo-whois-asn-country.mmdb" "$DEST/country.mmdb.tmp"
mv "$DEST/country.mmdb.tmp" "$DEST/country.mmdb"
mv "$tmp/asn.mmdb" "$DEST/asn.mmdb"
echo "$WANT" > "$DEST/.installed"
echo "install-geodb.sh: installed $DEST/country.mmdb and $DEST/asn.mmdb" >&2
