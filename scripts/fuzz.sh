#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for a while each, starting from
# the committed seeds in fuzz/corpus/<target>. Not part of CI.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Installs cargo-fuzz into tools/cargo-fuzz on first use. Needs a nightly
# toolchain (rustup's `nightly`); without one it runs on stable with
# RUSTC_BOOTSTRAP=1. New inputs are kept in fuzz/corpus/<target>; crashes
# land in fuzz/artifacts/<target> with the command that replays them.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(bootstrap_line log_line manifest grants cli_invocation tool_list storage_log sandbox_spec)
fi

if [ ! -x tools/cargo-fuzz/bin/cargo-fuzz ]; then
    cargo install cargo-fuzz --locked --root tools/cargo-fuzz
fi
export PATH="$PWD/tools/cargo-fuzz/bin:$PATH"
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi

failed=()
for target in "${targets[@]}"; do
    printf '\n== fuzz %s for %ss\n' "$target" "$seconds"
    mkdir -p "fuzz/corpus/$target"
    if ! cargo "${toolchain[@]}" fuzz run --fuzz-dir fuzz "$target" \
        "fuzz/corpus/$target" -- -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048; then
        failed+=("$target")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found failures in: ${failed[*]} (see fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzzed ${#targets[@]} targets for ${seconds}s each: no failures"
