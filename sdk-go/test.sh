#!/usr/bin/env bash
# The Go SDK's own checks, run by scripts/test.sh: the stubs in pb/ against
# ../proto, go vet and go test (modules from the Go module proxy into the
# module cache).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
echo "-- stubs match ../proto"
./generate.sh --check
echo "-- go vet"
go vet ./...
echo "-- go test"
go test ./...
