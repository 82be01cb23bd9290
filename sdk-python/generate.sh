#!/usr/bin/env bash
# Regenerates the protocol's stubs inside the package (src/plugwire/v1)
# from ../proto with the pinned grpcio-tools, so that users of the package
# need neither protoc nor this repository. `--check` regenerates into a
# temporary directory and fails when the committed stubs differ.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
python="${PYTHON:-.venv/bin/python}"
out="src"
if [ "${1:-}" = "--check" ]; then
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out/plugwire/v1"
"$python" -m grpc_tools.protoc -I ../proto \
    --python_out="$out" --grpc_python_out="$out" --pyi_out="$out" \
    ../proto/plugwire/v1/*.proto
printf '"""Generated from proto/plugwire/v1 by generate.sh; do not edit."""\n' >"$out/plugwire/v1/__init__.py"
# go-plugin's services (docs/protocol.md 2.6) under a path of the package's
# own, so the stubs import as plugwire.goplugin; the proto package stays
# go-plugin's `plugin`.
staging="$(mktemp -d)"
mkdir -p "$staging/plugwire/goplugin" "$out/plugwire/goplugin"
cp ../proto/go-plugin/plugin.proto "$staging/plugwire/goplugin/plugin.proto"
"$python" -m grpc_tools.protoc -I "$staging" \
    --python_out="$out" --grpc_python_out="$out" --pyi_out="$out" \
    "$staging/plugwire/goplugin/plugin.proto"
rm -rf "$staging"
printf '"""Generated from proto/go-plugin by generate.sh; do not edit."""\n' >"$out/plugwire/goplugin/__init__.py"
if [ "${1:-}" = "--check" ]; then
    for generated in v1 goplugin; do
        if ! diff -r -x __pycache__ "$out/plugwire/$generated" "src/plugwire/$generated" >/dev/null; then
            echo "sdk-python/src/plugwire/$generated is stale: run sdk-python/generate.sh and commit it" >&2
            exit 1
        fi
    done
fi
