#!/usr/bin/env bash
# Makes this directory a runnable plugin: builds ./echo-go on the plugwire
# SDK from ../../sdk-go (a `replace` in go.mod; its stubs are inside it).
# Modules come from the Go module proxy into the Go module cache. Safe to
# run again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
go vet ./...
go build -o echo-go .
echo "go plugin ready: $here/echo-go"
