#!/usr/bin/env bash
# Regenerates the protocol's stubs in pb/ from ../proto with the pinned
# generators (built into bin/) and the repository's pinned buf, so users of
# the module need neither protoc nor this repository. `--check` generates
# into a temporary directory and fails when the committed stubs differ.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
buf="../tools/buf/node_modules/.bin/buf"
if [ ! -x "$buf" ]; then
    (cd ../tools/buf && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
GOFLAGS=-mod=readonly go build -o bin/ google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc
if [ "${1:-}" = "--check" ]; then
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
    "$buf" generate ../proto --template buf.gen.yaml -o "$out"
    if ! diff -r "$out/pb" pb >/dev/null; then
        echo "sdk-go/pb is stale: run sdk-go/generate.sh and commit it" >&2
        exit 1
    fi
else
    rm -rf pb
    "$buf" generate ../proto --template buf.gen.yaml
fi
