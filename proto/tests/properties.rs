//! Property tests of every decoder of plugin output: whatever bytes a
//! plugin sends, the decoders return an answer (never panic), stay within
//! their caps, and what the formatters write reads back the same.

use plugwire_proto::bootstrap::BootstrapLine;
use plugwire_proto::cli::parse_invocation;
use plugwire_proto::constants::MAX_BOOTSTRAP_LINE_LEN;
use plugwire_proto::log::{Level, LogLine};
use plugwire_proto::pb;
use plugwire_proto::text::{escape_controls, escape_line};
use plugwire_proto::version::{negotiate, parse_protocol_versions};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn bootstrap_lines_round_trip(
        app in 1u32..1000,
        path in "/[a-zA-Z0-9_./-]{1,90}",
        multiplex in proptest::option::of(any::<bool>()),
    ) {
        let mut line = BootstrapLine::new(app, path);
        line.multiplex = multiplex;
        let text = line.to_line();
        prop_assert!(text.ends_with('\n'));
        prop_assert_eq!(BootstrapLine::parse_line(text.as_bytes()).unwrap(), line);
    }

    #[test]
    fn any_bytes_are_a_bootstrap_line_or_a_clear_error(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        match BootstrapLine::parse_line(&bytes) {
            Ok(line) => prop_assert!(line.socket_path.starts_with('/')),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn near_bootstrap_lines_never_panic(fields in proptest::collection::vec("[0-9a-z|/ ]{0,12}", 0..9)) {
        let text = fields.join("|");
        let _ = BootstrapLine::parse(&text);
        let _ = BootstrapLine::parse_line(format!("{text}\n").as_bytes());
    }

    #[test]
    fn oversized_bootstrap_lines_are_refused(extra in 1usize..64) {
        let text = format!("1|1|unix|/{}|grpc|\n", "a".repeat(MAX_BOOTSTRAP_LINE_LEN + extra));
        prop_assert!(BootstrapLine::parse_line(text.as_bytes()).is_err());
    }

    #[test]
    fn log_lines_always_parse(line in ".{0,300}") {
        let parsed = LogLine::parse(&line);
        // Every line becomes a record; a structured one round-trips.
        if parsed.structured {
            let again = LogLine::parse(&parsed.to_json());
            prop_assert_eq!(again.message, parsed.message);
            prop_assert_eq!(again.level, parsed.level);
        }
    }

    #[test]
    fn hclog_records_round_trip(message in "[^\\x00]{0,80}", level in 0usize..5) {
        let level = [Level::Trace, Level::Debug, Level::Info, Level::Warn, Level::Error][level];
        let json = serde_json::json!({"@level": level.as_str(), "@message": message}).to_string();
        let parsed = LogLine::parse(&json);
        prop_assert!(parsed.structured);
        prop_assert_eq!(parsed.level, level);
        prop_assert_eq!(parsed.message, message);
    }

    #[test]
    fn version_lists_parse_or_explain(text in "[0-9, ]{0,20}") {
        match parse_protocol_versions(&text) {
            Ok(versions) => {
                prop_assert!(!versions.is_empty());
                prop_assert!(versions.iter().all(|v| *v > 0));
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn negotiation_picks_the_highest_common(
        host in proptest::collection::btree_set(1u32..10, 0..5),
        plugin in proptest::collection::btree_set(1u32..10, 0..5),
    ) {
        let host: Vec<u32> = host.into_iter().collect();
        let plugin: Vec<u32> = plugin.into_iter().collect();
        let expected = host.iter().filter(|v| plugin.contains(v)).max().copied();
        prop_assert_eq!(negotiate(&host, &plugin), expected);
    }

    #[test]
    fn any_argv_is_an_invocation_or_a_usage_error(argv in proptest::collection::vec("-{0,2}[a-z0-9=]{0,6}", 0..8)) {
        let command = pb::Command {
            name: "x".into(),
            usage: "x [--words] [--count N] [--name S]".into(),
            flags: vec![
                pb::Flag { name: "words".into(), short: "w".into(), r#type: pb::FlagType::Bool as i32, ..Default::default() },
                pb::Flag { name: "count".into(), r#type: pb::FlagType::Int as i32, ..Default::default() },
                pb::Flag { name: "name".into(), r#type: pb::FlagType::String as i32, ..Default::default() },
            ],
            ..Default::default()
        };
        match parse_invocation(&command, &argv) {
            Ok(invocation) => { let _ = invocation.flags_json(); }
            // Every usage error says what was wrong, then how to call it.
            Err(e) => prop_assert!(e.to_string().ends_with("\nusage: x [--words] [--count N] [--name S]"), "{}", e),
        }
    }

    #[test]
    fn escaped_text_holds_no_control_character(text in any::<String>()) {
        prop_assert!(!escape_line(&text).chars().any(char::is_control));
        prop_assert!(!escape_controls(&text).chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
    }
}
