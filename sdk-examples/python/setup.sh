#!/usr/bin/env bash
# Makes this directory a runnable plugin: a local virtualenv (.venv) with
# the pinned dependencies, then stubs generated from ../../proto into gen/.
# Safe to run again; it only redoes what changed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

# python3 may be a version-manager shim; any real CPython >= 3.9 will do.
python="${PYTHON:-$(command -v python3)}"
python="$("$python" -c 'import sys; print(sys.executable)')"

if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
stamp=.venv/.requirements
if ! cmp -s requirements.txt "$stamp" 2>/dev/null; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
    cp requirements.txt "$stamp"
fi

rm -rf gen && mkdir -p gen
.venv/bin/python -m grpc_tools.protoc -I ../../proto \
    --python_out=gen --grpc_python_out=gen --pyi_out=gen \
    ../../proto/plugwire/v1/*.proto
echo "python plugin ready: $here (stubs in gen/)"
