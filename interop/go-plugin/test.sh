#!/usr/bin/env bash
# A go-plugin host (hashicorp/go-plugin, host.go) drives plugwire plugins:
# start, call a tool, Kill, with and without AutoMTLS. Needs the example
# plugins built (PLUGWIRE_PROFILE=debug scripts/build-examples.sh and each
# sdk-examples/<language>/setup.sh). Also builds served/go-plugin-served, a
# plugin served by go-plugin's plugin.Serve, which the plugwire host's and
# the conformance suite's tests run (host/tests/go_plugin.rs), and the host
# itself as go-plugin-host, which the host suite's test checks
# (conformance-tests/tests/host_suite.rs).
set -euo pipefail
cd "$(dirname "$0")"
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
go vet ./...
go build -o served/go-plugin-served ./served
go build -o go-plugin-host .
go test -count=1 -v ./...
