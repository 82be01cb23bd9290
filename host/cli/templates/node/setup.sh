#!/bin/sh
# Builds the plugwire SDK where it lives, installs this plugin's packages
# (the SDK copied in) and compiles src/ to dist/. Run again after changes.
set -eu
cd "$(dirname "$0")"
sdk="{{sdk}}/sdk-node"
[ -d "$sdk/node_modules" ] || (cd "$sdk" && npm ci --no-audit --no-fund --loglevel=error)
(cd "$sdk" && npx tsc -p tsconfig.json)
npm install --no-audit --no-fund --loglevel=error
npm run build
echo "ready: plugwire check $(pwd)"
