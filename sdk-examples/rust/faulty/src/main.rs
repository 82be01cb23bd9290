//! The `faulty` fixture's executable.

use plugwire_example_faulty::{BootstrapFault, MODE_VAR, act_out, plugin};

fn main() {
    if let Ok(mode) = std::env::var(MODE_VAR) {
        if mode == "bad-fixture" {
            plugwire_sdk::serve_blocking(plugwire_example_faulty::bad_fixture::plugin());
            return;
        }
        match BootstrapFault::parse(&mode) {
            Some(fault) => act_out(fault),
            None => {
                let known: Vec<&str> = BootstrapFault::ALL.iter().map(|(n, _)| *n).collect();
                eprintln!(
                    "faulty: unknown {MODE_VAR} {mode:?}; known modes: {}",
                    known.join(", ")
                );
                std::process::exit(2);
            }
        }
    }
    plugwire_sdk::serve_blocking(plugin());
}
