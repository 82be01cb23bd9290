//! The `hostile` fixture's executable.

fn main() {
    if let Ok(mode) = std::env::var(plugwire_example_hostile::MODE_VAR) {
        plugwire_example_hostile::bootstrap_attack(&mode);
    }
    plugwire_sdk::serve_blocking(plugwire_example_hostile::plugin());
}
