//! The `probe` example plugin's executable.

fn main() {
    plugwire_sdk::serve_blocking(plugwire_example_probe::plugin());
}
