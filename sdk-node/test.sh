#!/usr/bin/env bash
# The Node SDK's own checks, run by scripts/test.sh: the locked packages
# into node_modules, the stubs in src/gen against ../proto, tsc (strict,
# which is the type check) and node's test runner.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

stamp=node_modules/.plugwire-installed
if ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    cp package-lock.json "$stamp"
fi
echo "-- stubs match ../proto"
if [ ! -x ../tools/buf/node_modules/.bin/buf ]; then
    (cd ../tools/buf && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
../tools/buf/node_modules/.bin/buf generate ../proto --template buf.gen.yaml -o "$fresh"
if ! diff -r "$fresh/src/gen" src/gen >/dev/null; then
    echo "sdk-node/src/gen is stale: run \`npm run generate\` in sdk-node and commit it" >&2
    exit 1
fi
echo "-- tsc"
rm -rf dist
npx tsc -p tsconfig.json
echo "-- node --test"
node --test dist/test/
