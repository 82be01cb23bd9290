#!/usr/bin/env bash
# Makes this directory a runnable plugin: builds the pinned code generators
# into bin/, generates the stubs from ../../proto into gen/ with the
# repository's pinned buf, then builds ./echo-go. Modules come from the Go
# module proxy into the Go module cache. Safe to run again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"

buf="$repo/tools/buf/node_modules/.bin/buf"
if [ ! -x "$buf" ]; then
    (cd "$repo/tools/buf" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi

export GOFLAGS="${GOFLAGS:-} -mod=readonly"
go build -o bin/ google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc
rm -rf gen
"$buf" generate "$repo/proto" --template buf.gen.yaml
go vet ./...
go build -o echo-go .
echo "go plugin ready: $here/echo-go"
