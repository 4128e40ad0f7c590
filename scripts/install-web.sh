#!/usr/bin/env bash
# install-web.sh - installs the web app's npm packages (web/node_modules, from the lock file)
# and bundles the app (web/app/app.js) when its sources changed. Idempotent and silent when
# everything is up to date.
set -euo pipefail
cd "$(dirname "$0")/../web"
command -v npm >/dev/null || { echo "install-web: npm is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
stamp=node_modules/.darkscope-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "install-web: installing npm packages (web/node_modules)" >&2
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  cp package-lock.json "$stamp"
fi
# rebuild when any source is newer than the bundle
if [ ! -f app/app.js ] || [ -n "$(find src package-lock.json -newer app/app.js -print -quit)" ]; then
  npm run --silent build >/dev/null 2>build.log || { cat build.log >&2; exit 1; }
  rm -f build.log
fi
