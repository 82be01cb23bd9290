//! A `plugin.toml`, as discovery reads it.
#![no_main]
use plugwire_host::manifest::Manifest;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = Manifest::parse(text, "/plugins/fuzz".as_ref()) {
            assert!(!e.to_string().is_empty());
        }
    }
});
