#!/usr/bin/env bash
# Makes this directory a runnable plugin: a local virtualenv (.venv) with the
# plugwire SDK from ../../sdk-python installed into it (stubs included; no
# protoc needed). Safe to run again; it only redoes what changed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

# python3 may be a version-manager shim; any real CPython >= 3.10 will do.
python="${PYTHON:-$(command -v python3)}"
python="$("$python" -c 'import sys; print(sys.executable)')"

if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
# Reinstall when the SDK or the pins changed: a digest of both.
stamp=.venv/.plugwire-sdk
state="$(find requirements.txt ../../sdk-python/requirements.txt ../../sdk-python/pyproject.toml \
    ../../sdk-python/src -type f -not -path '*/__pycache__/*' | sort | xargs cat | sha256sum)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$state" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ../../sdk-python
    printf '%s' "$state" >"$stamp"
fi
echo "python plugin ready: $here"
