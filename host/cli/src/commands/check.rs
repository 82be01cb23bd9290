//! `plugwire check DIR`: the conformance suite (the library behind
//! `plugwire-conformance`) on one plugin, and with `--exercise` its own
//! tools and commands; reports for people, `--json`, JUnit and TAP.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use plugwire_conformance::exercise::Exercise;
use plugwire_conformance::{Options, check_plugin};

use crate::output::{Failure, print_json};

/// What `plugwire check` was asked.
pub(crate) struct CheckOptions<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) exercise: bool,
    pub(crate) destructive: bool,
    pub(crate) sandbox: bool,
    pub(crate) config: Option<&'a str>,
    pub(crate) junit: Option<&'a PathBuf>,
    pub(crate) tap: Option<&'a PathBuf>,
}

pub(crate) async fn run(options: CheckOptions<'_>, as_json: bool) -> Result<ExitCode, Failure> {
    let config = match options.config {
        None => serde_json::json!({}),
        Some(text) => serde_json::from_str(text).map_err(|e| {
            Failure::usage(format!(
                "--config: expected a JSON object, the text is not JSON: {e}"
            ))
            .hint(r#"for example --config '{"retries": 3}'"#)
        })?,
    };
    let suite = Options {
        config,
        sandbox: options.sandbox,
        launcher: None,
        bootstrap_timeout: Duration::from_secs(10),
        exercise: options.exercise.then_some(Exercise {
            destructive: options.destructive,
        }),
    };
    let report = check_plugin(options.dir, &[], &suite).await.map_err(|e| {
        Failure::new(format!("cannot check {}: {e}", options.dir.display())).hint(
            "give the plugin's directory (holding plugin.toml), built; `plugwire new` makes one",
        )
    })?;
    for (path, text) in [(options.junit, report.junit()), (options.tap, report.tap())] {
        if let Some(path) = path {
            std::fs::write(path, text)
                .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
        }
    }
    if as_json {
        print_json(&report.json());
    } else {
        print!("{}", report.summary());
        if !options.exercise && report.passed() {
            eprintln!(
                "the protocol holds; `plugwire check {} --exercise` also calls your own tools and commands",
                options.dir.display()
            );
        }
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
