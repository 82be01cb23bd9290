#!/usr/bin/env bash
# A go-plugin host (hashicorp/go-plugin, host.go) drives plugwire plugins:
# start, call a tool, Kill, with and without AutoMTLS. Needs the example
# plugins built (PLUGWIRE_PROFILE=debug scripts/build-examples.sh and
# sdk-examples/go/setup.sh).
set -euo pipefail
cd "$(dirname "$0")"
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
go vet ./...
go test -count=1 -v ./...
