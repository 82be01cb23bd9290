//! The bootstrap line a plugin prints (PW-BOOT-5..7).
#![no_main]
use plugwire_proto::bootstrap::BootstrapLine;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(line) = BootstrapLine::parse_line(data) {
        // What parses formats back to a line that parses the same.
        let again = BootstrapLine::parse_line(line.to_line().as_bytes()).expect("round trip");
        assert_eq!(again, line);
    }
});
