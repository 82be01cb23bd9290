#!/usr/bin/env bash
# Makes this directory a runnable plugin: installs the locked packages into
# node_modules, generates the stubs from ../../proto into src/gen (ts-proto
# through the repository's pinned buf), and compiles to dist/. Safe to run
# again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"

if [ ! -x "$repo/tools/buf/node_modules/.bin/buf" ]; then
    (cd "$repo/tools/buf" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
stamp=node_modules/.plugwire-installed
if ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    cp package-lock.json "$stamp"
fi
npm run --silent generate
npm run --silent build
echo "node plugin ready: $here/dist/echo.js"
