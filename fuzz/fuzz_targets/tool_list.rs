//! A `ListTools` answer: names and JSON Schemas a plugin declares.
#![no_main]
use plugwire_proto::pb;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(2, '\n');
    let input = parts.next().unwrap_or_default().to_owned();
    let output = parts.next().unwrap_or_default().to_owned();
    let tool = pb::Tool {
        name: "t".into(),
        input_schema_json: input,
        output_schema_json: output,
        ..Default::default()
    };
    let _ = plugwire_host::fuzzing::tool_list(&["t".to_owned()], vec![tool]);
});
