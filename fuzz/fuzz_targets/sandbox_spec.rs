//! A sandbox spec as the launcher decodes it.
#![no_main]
use plugwire_host::sandbox::spec::SandboxSpec;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = serde_json::from_slice::<SandboxSpec>(data) {
        let _ = plugwire_host::sandbox::launch::plan(&spec);
    }
});
