#!/usr/bin/env bash
# Builds the example plugins and lays each out as a ready-to-run plugin
# directory: target/plugwire-examples/<plugin>/{plugin.toml, executable}
# (release), or target/plugwire-examples-debug/<plugin>/ with
# PLUGWIRE_PROFILE=debug, which the integration tests use.
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${PLUGWIRE_PROFILE:-release}"
flag=(--release)
[ "$profile" = "debug" ] && flag=()

examples=(echo wordcount audit kv faulty probe hostile whoami)
packages=()
for name in "${examples[@]}"; do packages+=(-p "plugwire-example-$name"); done
cargo build "${flag[@]}" --locked -p plugwire-host -p plugwire-cli -p plugwire-mcp --bins "${packages[@]}"

out=target/plugwire-examples
[ "$profile" = "debug" ] && out=target/plugwire-examples-debug
mkdir -p "$out"
for name in "${examples[@]}"; do
    dir="$out/$name"
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "sdk-examples/rust/$name/plugin.toml" "$dir/"
    cp "target/$profile/plugwire-example-$name" "$dir/"
    # A dashboard panel's static files, where the example has one.
    if [ -d "sdk-examples/rust/$name/panel" ]; then
        cp -r "sdk-examples/rust/$name/panel" "$dir/"
    fi
done
echo "plugin directories ready in $out: ${examples[*]}" >&2
