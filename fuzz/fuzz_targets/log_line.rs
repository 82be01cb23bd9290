//! A line a plugin writes to stderr or stdout (hclog JSON or text).
#![no_main]
use plugwire_proto::log::LogLine;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let line = LogLine::parse(&text);
    let _ = plugwire_proto::text::escape_line(&line.message);
});
