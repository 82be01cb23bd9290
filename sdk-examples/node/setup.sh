#!/usr/bin/env bash
# Makes this directory a runnable plugin: builds the plugwire SDK in
# ../../sdk-node (its locked packages, then tsc), installs this directory's
# locked packages (the SDK linked from there) and compiles to dist/. Safe
# to run again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
sdk="$here/../../sdk-node"

stamp="$sdk/node_modules/.plugwire-installed"
if ! cmp -s "$sdk/package-lock.json" "$stamp" 2>/dev/null; then
    (cd "$sdk" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$sdk/package-lock.json" "$stamp"
fi
(cd "$sdk" && npx tsc -p tsconfig.json)
# The SDK is copied in (install-links), so a changed SDK means a new copy:
# the stamp is a digest of the lockfile and the SDK's build.
stamp=node_modules/.plugwire-installed
state="$(find package-lock.json "$sdk/package.json" "$sdk/dist/src" -type f | sort | xargs cat | sha256sum)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$state" ]; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    printf '%s' "$state" >"$stamp"
fi
npm run --silent build
echo "node plugin ready: $here/dist/echo.js"
