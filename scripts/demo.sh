#!/usr/bin/env bash
# Builds plugwire and runs its demo.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin plugwire
exec target/release/plugwire demo
