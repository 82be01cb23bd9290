//! The bench's rows and how they are printed: a markdown table with each
//! row's ratio to its floor and to go-plugin's same row, and the same as
//! JSON in `target/plugwire-bench.json`.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

/// One measure: samples (times, or KiB stored as microseconds for memory
/// rows) or a rate, with the names of the rows it is compared to.
pub struct Row {
    pub name: String,
    pub samples: Vec<Duration>,
    pub per_s: Option<f64>,
    /// The floor: the least any implementation must do, measured in the
    /// same run.
    pub baseline: Option<String>,
    /// go-plugin's row doing the same work, when the go-plugin baseline ran.
    pub versus: Option<String>,
}

impl Row {
    pub fn percentile(&self, p: f64) -> f64 {
        let mut s: Vec<f64> = self.samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        s.sort_by(|a, b| a.total_cmp(b));
        if s.is_empty() {
            return 0.0;
        }
        s[((s.len() - 1) as f64 * p).round() as usize]
    }

    /// Compared to go-plugin's row `name` too.
    pub fn versus(mut self, name: &str) -> Row {
        self.versus = Some(name.to_owned());
        self
    }

    /// This row's measure over `other`'s: rates when both have one (so
    /// above 1 is better), p50s otherwise (so below 1 is better).
    fn ratio_to(&self, other: &Row) -> f64 {
        match (self.per_s, other.per_s) {
            (Some(ours), Some(theirs)) => ours / theirs,
            _ => self.percentile(0.5) / other.percentile(0.5),
        }
    }
}

pub fn row(name: &str, samples: Vec<Duration>, baseline: Option<&str>) -> Row {
    Row {
        name: name.to_owned(),
        samples,
        per_s: None,
        baseline: baseline.map(str::to_owned),
        versus: None,
    }
}

pub fn rate(name: &str, per_s: f64, baseline: Option<&str>) -> Row {
    Row {
        per_s: Some(per_s),
        ..row(name, Vec::new(), baseline)
    }
}

pub fn print_and_save(rows: &[Row]) {
    let uname = nix::sys::utsname::uname().ok();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    println!(
        "machine: {} cores, kernel {}\n",
        cores,
        uname
            .as_ref()
            .map_or("?".into(), |u| u.release().to_string_lossy().into_owned())
    );
    println!("| measure | p50 µs | p99 µs | per s | baseline | ratio | go-plugin | ratio |");
    println!("|---|---:|---:|---:|---|---:|---|---:|");
    let find = |name: &Option<String>| {
        name.as_ref()
            .and_then(|b| rows.iter().find(|x| &x.name == b))
    };
    let mut json_rows = Vec::new();
    for r in rows {
        let p50 = r.percentile(0.5);
        let p99 = r.percentile(0.99);
        let ratio = find(&r.baseline).map(|b| r.ratio_to(b));
        let versus = find(&r.versus);
        let versus_ratio = versus.map(|v| r.ratio_to(v));
        let fmt = |v: f64| {
            if r.samples.is_empty() {
                "-".to_owned()
            } else {
                format!("{v:.1}")
            }
        };
        let times = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}x"));
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            fmt(p50),
            fmt(p99),
            r.per_s.map_or("-".into(), |v| format!("{v:.0}")),
            r.baseline.as_deref().unwrap_or("-"),
            times(ratio),
            versus.map_or("-", |v| v.name.as_str()),
            times(versus_ratio),
        );
        json_rows.push(json!({
            "name": r.name,
            "p50_us": (!r.samples.is_empty()).then_some(p50),
            "p99_us": (!r.samples.is_empty()).then_some(p99),
            "per_s": r.per_s,
            "baseline": r.baseline,
            "ratio": ratio,
            "go_plugin": versus.map(|v| &v.name),
            "go_plugin_ratio": versus_ratio,
        }));
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugwire-bench.json");
    std::fs::write(&out, serde_json::to_string_pretty(&json_rows).unwrap()).unwrap();
    println!("\nwritten to {}", out.display());
}
