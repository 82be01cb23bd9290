#!/usr/bin/env bash
# Builds plugwire and the example plugins, then runs the demo over them.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-examples.sh
exec target/release/plugwire --plugin-dir target/plugwire-examples demo
