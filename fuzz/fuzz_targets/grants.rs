//! A `grants.toml`, as the CLI reads it.
#![no_main]
use plugwire_host::grants::Grants;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Grants::parse(text, "grants.toml".as_ref());
    }
});
