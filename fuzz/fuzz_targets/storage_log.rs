//! A plugin's storage log as found on disk (torn, truncated or tampered).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = plugwire_host::fuzzing::storage_log(data);
});
