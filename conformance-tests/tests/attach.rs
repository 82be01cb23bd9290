//! The suite attached to a conformant plugin (the echo example, served by
//! the Rust SDK's real bootstrap code in this process).

use std::time::Duration;

use plugwire_conformance::report::Status;

#[tokio::test]
async fn the_echo_plugin_passes_every_applicable_check() {
    let dir = tempfile::Builder::new()
        .prefix("pwc")
        .tempdir_in("/tmp")
        .unwrap();
    // SAFETY: this test binary has this one test, so no other thread reads
    // the environment while it is set.
    unsafe {
        std::env::set_var("PLUGWIRE_PLUGIN", "5d3c1f0e-plugwire");
        std::env::set_var("PLUGIN_PROTOCOL_VERSIONS", "1");
        std::env::set_var("PLUGIN_UNIX_SOCKET_DIR", dir.path());
        std::env::set_var("PLUGWIRE_LOG", "off");
    }
    tokio::spawn(plugwire_sdk::try_serve(plugwire_example_echo::plugin()));
    let socket = dir.path().join("plugin.sock");
    for _ in 0..200 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let report = plugwire_conformance::attach(
        &format!("unix://{}", socket.display()),
        &serde_json::json!({}),
    )
    .await
    .unwrap();
    print!("{}", report.summary());
    assert!(report.passed(), "{}", report.summary());
    let status = |id: &str| {
        report
            .outcomes
            .iter()
            .find(|o| o.id == id)
            .map(|o| o.status)
    };
    assert_eq!(status("tools/unknown-tool"), Some(Status::Passed));
    assert_eq!(
        status("tools/arguments-violating-schema"),
        Some(Status::Passed)
    );
    assert_eq!(
        status("commands/declarations-well-formed"),
        Some(Status::Passed),
        "echo has `cat`"
    );
    assert!(report.outcomes.iter().all(|o| {
        o.requirement
            .starts_with(plugwire_conformance::REQUIREMENT_PREFIX)
    }));
    let json = report.json();
    assert_eq!(json["failed"], 0);
    assert!(
        report
            .junit()
            .contains("<testsuite name=\"plugwire-conformance\"")
    );
    assert!(report.tap().starts_with("TAP version 13"));

    // A second run on the same process: Configure must now be refused,
    // which the suite reports as a failure of configure/valid.
    let again = plugwire_conformance::attach(
        &format!("unix://{}", socket.display()),
        &serde_json::json!({}),
    )
    .await
    .unwrap();
    assert_eq!(
        again
            .outcomes
            .iter()
            .find(|o| o.id == "configure/valid")
            .map(|o| o.status),
        Some(Status::Failed)
    );
}
