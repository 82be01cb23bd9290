#!/usr/bin/env bash
# Installs the real MCP software the MCP tests (host/mcp/tests) use, each
# into a folder of its own, from the pinned lists beside it:
#   client/.venv                      the Python MCP SDK (its client drives the bridge)
#   client/node_modules               the MCP inspector (its command-line client)
#   plugins/everything/node_modules   the reference server, run as a plugin
#   plugins/time/.venv                mcp-server-time (Python), run as a plugin
# Safe to run again; it only redoes what changed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# python3 may be a version-manager shim; the sandbox needs the real one.
python="${PYTHON:-$(command -v python3)}"
python="$("$python" -c 'import sys; print(sys.executable)')"

venv() {
    local dir="$here/$1"
    [ -x "$dir/.venv/bin/python" ] || "$python" -m venv "$dir/.venv"
    local stamp="$dir/.venv/.plugwire-requirements"
    local state
    state="$(sha256sum "$dir/requirements.txt")"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$state" ]; then
        "$dir/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$dir/requirements.txt"
        printf '%s' "$state" >"$stamp"
    fi
}

node_modules() {
    # `npm ci` rejects lockfiles whose optional per-platform packages the
    # registry did not resolve; `npm install` honours the lockfile all the same.
    (cd "$here/$1" && npm install --no-audit --no-fund --loglevel=error)
}

venv client
node_modules client
node_modules plugins/everything
venv plugins/time
echo "MCP software ready in $here" >&2
