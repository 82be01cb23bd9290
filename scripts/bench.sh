#!/usr/bin/env bash
# Builds the example plugins (release) and runs the benchmark; prints a
# markdown table and writes target/plugwire-bench.json. Pass --quick for a
# short run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-examples.sh
cargo build --release --locked -p plugwire-host --example bare_tonic_server
sdk-examples/python/setup.sh
# The go-plugin baseline (interop/go-plugin/bench), from the Go module proxy.
(
  cd interop/go-plugin
  export GOFLAGS="${GOFLAGS:-} -mod=readonly"
  go build -o ../../target/go-plugin-bench/go-plugin-bench ./bench
  go build -o ../../target/go-plugin-bench/go-plugin-echo ./bench/echoplugin
)
cargo bench --locked -p plugwire-host --bench plugwire -- "$@"
echo
echo "The management API (plugwire serve):"
cargo bench --locked -p plugwire-daemon --bench daemon -- "$@"
echo
echo "MCP, both ways (docs/mcp.md):"
interop/mcp/setup.sh
exec cargo bench --locked -p plugwire-mcp --bench mcp -- "$@"
