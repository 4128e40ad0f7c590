#!/usr/bin/env bash
# install-deps.sh - installs the Debian packages darkscope needs to build, test and run.
# Idempotent and silent when everything is present. As root it uses apt-get; otherwise it
# prints the command to run and fails.
set -euo pipefail

# package            why
PKGS=(
  build-essential     # gcc, make
  cmake               # build system
  pkg-config          # finds the libraries below
  clang               # sanitizer + libFuzzer build used by `make check`
  clang-format        # the format test (tests/e2e/format.sh) and `make format`
  libclang-rt-14-dev  # clang's ASan/UBSan/libFuzzer runtimes
  libpcap-dev         # live capture, BPF filters, the benchmark floor
  libzstd-dev         # zstd-compressed captures
  zlib1g-dev          # gzip-compressed captures
  libjansson-dev      # JSON output
  libmaxminddb-dev    # country/ASN enrichment from MMDB files
  libsqlite3-dev      # the store (statistics, profiles, registry)
  sqlite3             # inspecting a store by hand; tests corrupt and check databases
  libssl-dev          # libcrypto: SHA-256 file identities, HMAC signatures, password hashes
  libcurl4-openssl-dev # alert delivery: SMTP (STARTTLS, AUTH) and webhooks
  libmicrohttpd-dev   # the daemon's HTTP server (metrics, API, web UI)
  python3             # test receivers (SMTP, HTTP, syslog) started by the tests
  python3-aiosmtpd    # the real SMTP server the delivery tests send to
  openssl             # tests make a self-signed certificate for STARTTLS
  mmdb-bin            # mmdblookup, to check geo databases by hand
  libcmocka-dev       # unit tests
  jq                  # end-to-end tests compare JSON
  tcpreplay           # live-capture test replays a capture into a veth pair
  iproute2            # network namespaces and veth pairs for the live test
  tcpdump             # benchmark comparison, cross-checks
  bc                  # benchmark arithmetic
  zstd                # tests compress captures with the zstd tool
  chromium            # the web UI tests drive it headless (playwright-core)
  curl                # the API tests
  fonts-dejavu-core   # text in headless screenshots
)

# npm installs the geo databases (scripts/install-geodb.sh); a Node.js that ships its own npm
# (e.g. NodeSource's) is fine, Debian's npm is the fallback.
command -v npm >/dev/null 2>&1 || PKGS+=(npm)
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "darkscope needs these Debian packages: ${missing[*]}" >&2
  echo "install them with:  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
