//! Human tables, JSON output and error reports of the CLI.

use plugwire_proto::text::{escape_controls, escape_line};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use plugwire_daemon::api::{ApiError, EmitView, LogView, PluginView};
use serde_json::{Value, json};

/// An error for the user: what went wrong, and what to try.
pub(crate) struct Failure {
    message: String,
    hint: Option<String>,
    /// Stable, for scripts: the API's error codes, `usage`, or `failed`.
    kind: String,
    code: u8,
}

/// The exit code of an error, by its kind (README "Exit codes"): 2 for
/// usage, 3 when a plugin could not start, 130 when interrupted, else 1.
pub(crate) fn exit_code(kind: &str) -> u8 {
    match kind {
        "usage" | "invalid_argument" | "malformed_request" => 2,
        "unavailable" => 3,
        "cancelled" => 130,
        _ => 1,
    }
}

impl Failure {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            kind: "failed".into(),
            code: 1,
        }
    }

    /// A command line that does not fit: exit 2.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        let mut failure = Self::new(message);
        failure.kind = "usage".into();
        failure.code = exit_code("usage");
        failure
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// What to try, if there is a hint.
    pub(crate) fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// What went wrong, without the hint.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// Says it on stderr (as one JSON object with `--json`) and gives the
    /// exit code.
    pub(crate) fn report(self, as_json: bool) -> ExitCode {
        if as_json {
            let error = json!({"error": {
                "code": self.kind,
                "message": self.message,
                "hint": self.hint,
                "exit": self.code,
            }});
            eprintln!("{error}");
        } else {
            // Errors quote plugins (their stderr, their messages).
            eprintln!("error: {}", escape_controls(&self.message));
            if let Some(hint) = self.hint {
                eprintln!("hint: {}", escape_controls(&hint));
            }
        }
        ExitCode::from(self.code)
    }
}

/// The API's errors, from the daemon or from a host of this process,
/// are reported the same way, their code kept.
impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        let mut failure = Self::new(e.message);
        failure.code = exit_code(&e.code);
        failure.kind = e.code;
        failure.hint = e.hint;
        failure
    }
}

/// Whether this run prints JSON (`--json`), set once by `main`: commands
/// that only say what they did use [`said`] rather than taking a flag each.
static JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(crate) fn set_json(on: bool) {
    JSON.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// What a command did: `text` for people, or `value` as JSON with `--json`.
pub(crate) fn said(text: impl std::fmt::Display, value: Value) {
    if JSON.load(std::sync::atomic::Ordering::Relaxed) {
        println!("{value}");
    } else {
        println!("{text}");
    }
}

pub(crate) fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// A plain aligned table.
/// A table; every cell is escaped (names and descriptions come from
/// plugins).
pub(crate) fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| row.iter().map(|c| escape_line(c).into_owned()).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

pub(crate) fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub(crate) fn clock(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let day = secs % 86_400.0;
    format!(
        "{:02}:{:02}:{:06.3}",
        (day / 3600.0) as u64,
        ((day % 3600.0) / 60.0) as u64,
        day % 60.0
    )
}

pub(crate) fn status_row(s: &PluginView) -> Vec<String> {
    vec![
        s.name.clone(),
        s.version.clone(),
        s.language.clone().unwrap_or_else(|| "-".into()),
        s.state.clone(),
        s.pid.map_or("-".into(), |p| p.to_string()),
        s.startup_ms.map_or("-".into(), |ms| format!("{ms:.1} ms")),
        s.last_error
            .clone()
            .map(|e| e.lines().next().unwrap_or("").to_owned())
            .unwrap_or_default(),
    ]
}

/// Any view as JSON.
pub(crate) fn to_json(view: &impl serde::Serialize) -> Value {
    serde_json::to_value(view).unwrap_or(Value::Null)
}

pub(crate) fn emit_text(outcome: &EmitView) -> String {
    escape_controls(&emit_text_raw(outcome)).into_owned()
}

fn emit_text_raw(outcome: &EmitView) -> String {
    let mut out = String::new();
    for d in &outcome.decisions {
        out.push_str(&format!(
            "{} ({}, priority {}): {}\n",
            d.plugin, d.pattern, d.priority, d.outcome
        ));
    }
    match &outcome.denied {
        Some(denial) => out.push_str(&format!("denied by {}: {}\n", denial.plugin, denial.reason)),
        None => out.push_str(&format!("payload: {}\n", outcome.payload)),
    }
    if !outcome.observers.is_empty() {
        out.push_str(&format!("observed by: {}\n", outcome.observers.join(", ")));
    }
    out
}

fn log_time(r: &LogView) -> String {
    clock(UNIX_EPOCH + Duration::from_millis(r.time_ms))
}

/// One log record for `logs --json`: a line of JSON Lines, its time in
/// RFC 3339.
pub(crate) fn log_json(r: &LogView) -> Value {
    let time = UNIX_EPOCH + Duration::from_millis(r.time_ms);
    json!({
        "time": humantime::format_rfc3339_millis(time).to_string(),
        "seq": r.seq,
        "plugin": r.plugin,
        "stream": r.stream,
        "level": r.level,
        "message": r.message,
        "fields": r.fields,
    })
}

pub(crate) fn log_text(r: &LogView) -> String {
    let fields: Vec<String> = r.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let line = format!(
        "{} {:<5} [{}] {} {}",
        log_time(r),
        r.level.to_uppercase(),
        r.plugin,
        r.message,
        fields.join(" ")
    );
    escape_line(line.trim_end()).into_owned()
}

/// A progress bar for a download, drawn on stderr when it is a terminal
/// (and nothing otherwise): `name  42% (5.6 of 13.4 MiB)`.
pub(crate) fn progress(name: &str) -> impl FnMut(u64, Option<u64>) + use<> {
    let shown = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let name = escape_line(name).into_owned();
    let mut last = std::time::Instant::now() - Duration::from_secs(1);
    move |done: u64, total: Option<u64>| {
        let finished = total.is_some_and(|t| done >= t);
        if !shown || (last.elapsed() < Duration::from_millis(100) && !finished) {
            return;
        }
        last = std::time::Instant::now();
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        let line = match total {
            Some(t) if t > 0 => format!(
                "{name}  {:>3}% ({:.1} of {:.1} MiB)",
                done * 100 / t,
                mib(done),
                mib(t)
            ),
            _ => format!("{name}  {:.1} MiB", mib(done)),
        };
        eprint!("\r{line}\x1b[K");
        if finished {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(
            &["A", "LONG"],
            vec![
                vec!["xyz".into(), "1".into()],
                vec!["q".into(), "22".into()],
            ],
        );
        assert_eq!(t, "A    LONG\nxyz  1\nq    22\n");
    }
}
