//! The go-plugin baseline: HashiCorp go-plugin v1.8.0's host and an echo
//! plugin over raw protobuf (`interop/go-plugin/bench`), built by
//! `scripts/bench.sh` and run in the middle of this bench so both sides
//! see the same machine. Its rows come back as JSON and are named
//! `go-plugin: ...`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::Deserialize;

use crate::table::{Row, rate, row};

#[derive(Deserialize)]
struct Report {
    rows: Vec<ReportRow>,
}

#[derive(Deserialize)]
struct ReportRow {
    name: String,
    #[serde(default)]
    samples_us: Vec<f64>,
    #[serde(default)]
    per_s: Option<f64>,
}

/// Where `scripts/bench.sh` puts the two Go binaries.
fn binaries() -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/go-plugin-bench");
    (dir.join("go-plugin-bench"), dir.join("go-plugin-echo"))
}

/// go-plugin's rows, or none (with a word on stderr) when the baseline was
/// not built: a bench run without Go still measures plugwire.
pub fn rows(starts: usize, calls: usize, window: Duration) -> Vec<Row> {
    let (bench, plugin) = binaries();
    if !bench.is_file() || !plugin.is_file() {
        eprintln!(
            "no go-plugin baseline: {} is missing; scripts/bench.sh builds it",
            bench.display()
        );
        return Vec::new();
    }
    let out = Command::new(&bench)
        .arg("-plugin")
        .arg(&plugin)
        .args(["-starts", &starts.to_string()])
        .args(["-calls", &calls.to_string()])
        .args(["-window", &format!("{}ms", window.as_millis())])
        .output()
        .expect("the go-plugin bench runs");
    assert!(
        out.status.success(),
        "the go-plugin bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Report = serde_json::from_slice(&out.stdout).expect("the go-plugin bench's JSON");
    report
        .rows
        .into_iter()
        .map(|r| {
            let name = format!("go-plugin: {}", r.name);
            match r.per_s {
                Some(per_s) => rate(&name, per_s, None),
                None => row(
                    &name,
                    r.samples_us
                        .iter()
                        .map(|us| Duration::from_nanos((us * 1e3) as u64))
                        .collect(),
                    None,
                ),
            }
        })
        .collect()
}
