//! The `kv` example plugin's executable.

fn main() {
    plugwire_sdk::serve_blocking(plugwire_example_kv::plugin());
}
