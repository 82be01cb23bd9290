//! The `whoami` example plugin's executable.

fn main() {
    plugwire_sdk::serve_blocking(plugwire_example_whoami::plugin());
}
