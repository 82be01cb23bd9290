//! The words a user types after a plugin command's name, against a
//! declaration with every flag type.
#![no_main]
use plugwire_proto::{cli::parse_invocation, pb};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let argv: Vec<String> = text.split('\0').map(str::to_owned).collect();
    let flag = |name: &str, short: &str, t: pb::FlagType| pb::Flag {
        name: name.into(),
        short: short.into(),
        r#type: t as i32,
        ..Default::default()
    };
    let command = pb::Command {
        name: "fuzz".into(),
        usage: "fuzz [flags] [args]".into(),
        flags: vec![
            flag("verbose", "v", pb::FlagType::Bool),
            flag("name", "n", pb::FlagType::String),
            flag("count", "c", pb::FlagType::Int),
            flag("ratio", "", pb::FlagType::Float),
            flag("tag", "t", pb::FlagType::StringList),
        ],
        ..Default::default()
    };
    if let Ok(invocation) = parse_invocation(&command, &argv) {
        let _: serde_json::Value =
            serde_json::from_str(&invocation.flags_json()).expect("flags are JSON");
    }
});
