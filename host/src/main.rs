//! The `plugwire` command-line interface.

fn main() {
    let command = std::env::args().nth(1).unwrap_or_default();
    eprintln!(
        "plugwire {}: the host runtime is not built yet, so `{command}` cannot run plugins; \
         the protocol (docs/protocol.md) and the Rust SDK are available. See README.md.",
        env!("CARGO_PKG_VERSION")
    );
    if command != "demo" {
        std::process::exit(2);
    }
}
