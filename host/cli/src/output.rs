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

/// A table of plain aligned columns (comfy-table, without borders; widths
/// by display width, so wide characters line up); every cell is escaped
/// (names and descriptions come from plugins).
pub(crate) fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.iter().map(|h| h.to_string()));
    for row in rows {
        table.add_row(row.iter().map(|c| escape_line(c).into_owned()));
    }
    let last = headers.len().saturating_sub(1);
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if i == last { 0 } else { 2 }));
        column.set_cell_alignment(CellAlignment::Left);
    }
    let mut out = String::new();
    for line in table.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
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

/// A progress bar for a download (indicatif), drawn on stderr when it is
/// a terminal and nothing otherwise: `name  [=====>   ] 5.6 MiB/13.4 MiB`.
pub(crate) fn progress(name: &str) -> impl FnMut(u64, Option<u64>) + use<> {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_prefix(escape_line(name).into_owned());
    let sized = indicatif::ProgressStyle::with_template(
        "{prefix}  [{bar:30}] {bytes}/{total_bytes} ({eta})",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    let unsized_ = indicatif::ProgressStyle::with_template("{prefix}  {spinner} {bytes}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
    move |done: u64, total: Option<u64>| {
        match total {
            Some(t) if t > 0 => {
                if bar.length() != Some(t) {
                    bar.set_style(sized.clone());
                    bar.set_length(t);
                }
            }
            _ => bar.set_style(unsized_.clone()),
        }
        bar.set_position(done);
        if total.is_some_and(|t| done >= t) {
            bar.finish();
        }
    }
}

/// A spinner while plugins start (indicatif, on a terminal only); it
/// clears itself when dropped.
pub(crate) fn starting(count: usize) -> Option<indicatif::ProgressBar> {
    if count < 2 {
        return None;
    }
    let spinner =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    spinner.set_style(
        indicatif::ProgressStyle::with_template("{spinner} starting {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    spinner.set_message(format!("{count} plugins"));
    spinner.enable_steady_tick(Duration::from_millis(100));
    Some(spinner)
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

    #[test]
    fn wide_characters_line_up_and_controls_are_escaped() {
        let t = table(
            &["NAME", "X"],
            vec![
                vec!["日本".into(), "1".into()],
                vec!["abcd".into(), "2".into()],
            ],
        );
        assert_eq!(
            t, "NAME  X\n日本  1\nabcd  2\n",
            "two columns each: display width 4"
        );
        let t = table(&["NAME"], vec![vec!["a\x1b[31m".into()]]);
        assert!(!t.contains('\x1b'), "{t:?}");
    }
}
