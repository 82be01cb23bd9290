#!/usr/bin/env bash
# Runs every check CI runs: format, lints, proto hygiene, and all tests.
# Installs what it needs into local folders first (tools/buf/node_modules,
# and each language example's own: a venv, node_modules, the Go module cache).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "install: buf (npm, into tools/buf/node_modules)"
# `npm ci` rejects lockfiles whose optional per-platform packages the registry
# did not resolve; `npm install` honours the committed lockfile all the same.
(cd tools/buf && npm install --no-audit --no-fund --loglevel=error)
BUF=tools/buf/node_modules/.bin/buf

step "install: chromium (Debian's package, for the dashboard test), if missing"
if ! command -v chromium >/dev/null 2>&1 && [ -z "${PLUGWIRE_CHROMIUM:-}" ]; then
    if [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq chromium >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
    else
        echo "chromium is missing and this is not root: install Debian's chromium, or set PLUGWIRE_CHROMIUM" >&2
    fi
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "buf lint"
"$BUF" lint proto

step "buf breaking (against the published v1 image)"
"$BUF" breaking proto --against proto/published/plugwire-v1.json

step "build the example plugins (debug) for the integration tests"
PLUGWIRE_PROFILE=debug ./scripts/build-examples.sh

step "the Python SDK: its stubs, pytest and mypy --strict (sdk-python/test.sh)"
sdk-python/test.sh

step "the Node SDK: its stubs, tsc and node --test (sdk-node/test.sh)"
sdk-node/test.sh

step "the Go SDK: its stubs, go vet and go test (sdk-go/test.sh)"
sdk-go/test.sh

step "set up the Python, Node and Go example plugins (deps, stubs from proto/, build)"
for language in python node go; do
    "sdk-examples/$language/setup.sh"
done

step "MCP interop: the real MCP clients and servers the MCP tests use (interop/mcp/setup.sh)"
interop/mcp/setup.sh

step "go-plugin interop: a hashicorp/go-plugin host drives plugwire plugins (interop/go-plugin/test.sh)"
interop/go-plugin/test.sh

step "cargo test (the conformance suite runs every example plugin, in every language)"
cargo test --workspace --locked
