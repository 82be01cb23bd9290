#!/usr/bin/env bash
# The Python SDK's own checks, run by scripts/test.sh: a local virtualenv
# (.venv) with the pinned dev requirements and the SDK (editable), then the
# stubs' freshness against ../proto, pytest (doctests included) and mypy
# --strict.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

python="${PYTHON:-$(command -v python3)}"
python="$("$python" -c 'import sys; print(sys.executable)')"
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
stamp=.venv/.requirements
state="$(cat requirements-dev.txt requirements.txt pyproject.toml | sha256sum)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$state" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . 2>/dev/null \
        || .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
    printf '%s' "$state" >"$stamp"
fi

echo "-- stubs match ../proto"
PYTHON=.venv/bin/python ./generate.sh --check
echo "-- pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider --doctest-modules src/plugwire tests
echo "-- mypy --strict (the SDK and the example plugin)"
.venv/bin/python -m mypy
.venv/bin/python -m mypy --strict ../sdk-examples/python/echo_plugin.py
