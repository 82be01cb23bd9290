#!/bin/sh
# Makes .venv with the plugwire SDK in it, pinned as the SDK was tested.
# Run again after changing requirements.txt.
set -eu
cd "$(dirname "$0")"
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
echo "ready: plugwire check $(pwd)"
