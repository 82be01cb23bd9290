//! Human tables, JSON output and error reports of the CLI.

use plugwire_proto::text::{escape_controls, escape_line};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use plugwire_host::logs::{LogRecord, Stream};
use plugwire_host::{EmitOutcome, HookOutcome, PluginStatus, ToolInfo};
use serde_json::{Value, json};

/// An error for the user: what went wrong, and what to try.
pub(crate) struct Failure {
    message: String,
    hint: Option<String>,
    code: u8,
}

impl Failure {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            code: 1,
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn from_status(status: tonic::Status) -> Self {
        use tonic::Code;
        let hint = match status.code() {
            Code::NotFound => Some("`plugwire tools` lists tools and `plugwire list` plugins"),
            Code::InvalidArgument => Some("`plugwire tools --json` shows each tool's input schema"),
            Code::Unavailable => {
                Some("`plugwire list` shows plugin states; `plugwire -v ...` shows plugin logs")
            }
            Code::DeadlineExceeded => Some(
                "raise the deadline with --timeout, or check the plugin with `plugwire -v ...`",
            ),
            Code::FailedPrecondition => Some("qualify the name as <plugin>.<name>"),
            _ => None,
        };
        let mut failure = Self::new(status.message().to_owned());
        failure.code = if status.code() == Code::InvalidArgument {
            2
        } else {
            1
        };
        if let Some(h) = hint {
            failure = failure.hint(h);
        }
        failure
    }

    pub(crate) fn report(self) -> ExitCode {
        // Errors quote plugins (their stderr, their messages).
        eprintln!("error: {}", escape_controls(&self.message));
        if let Some(hint) = self.hint {
            eprintln!("hint: {}", escape_controls(&hint));
        }
        ExitCode::from(self.code)
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

pub(crate) fn status_row(s: &PluginStatus) -> Vec<String> {
    vec![
        s.name.clone(),
        s.version.clone(),
        s.language.clone().unwrap_or_else(|| "-".into()),
        s.state.to_string(),
        s.pid.map_or("-".into(), |p| p.to_string()),
        s.startup.map_or("-".into(), millis),
        s.last_error
            .clone()
            .map(|e| e.lines().next().unwrap_or("").to_owned())
            .unwrap_or_default(),
    ]
}

pub(crate) fn status_json(s: &PluginStatus) -> Value {
    json!({
        "name": s.name,
        "version": s.version,
        "language": s.language,
        "description": s.description,
        "dir": s.dir,
        "origin": format!("{:?}", s.origin).to_lowercase(),
        "state": s.state.to_string(),
        "pid": s.pid,
        "uptime_ms": s.uptime.map(|d| d.as_millis() as u64),
        "startup_ms": s.startup.map(|d| d.as_secs_f64() * 1000.0),
        "restarts": s.restarts,
        "last_error": s.last_error,
        "dropped_events": s.dropped_events,
        "dropped_logs": s.dropped_logs,
        "sdk": s.sdk,
    })
}

pub(crate) fn tool_json(t: &ToolInfo) -> Value {
    json!({
        "plugin": t.plugin,
        "name": t.name,
        "qualified": t.qualified,
        "bare_name_ok": t.bare_ok,
        "description": t.description,
        "input_schema": t.input_schema,
        "output_schema": t.output_schema,
        "annotations": {
            "read_only": t.annotations.read_only,
            "destructive": t.annotations.destructive,
            "idempotent": t.annotations.idempotent,
            "open_world": t.annotations.open_world,
        },
    })
}

pub(crate) fn emit_json(outcome: &EmitOutcome) -> Value {
    json!({
        "id": outcome.id,
        "payload": outcome.payload,
        "denied": outcome.denied.as_ref().map(|d| json!({"plugin": d.plugin, "reason": d.reason})),
        "decisions": outcome.decisions.iter().map(|d| json!({
            "plugin": d.plugin,
            "pattern": d.pattern,
            "priority": d.priority,
            "outcome": outcome_text(&d.outcome),
        })).collect::<Vec<_>>(),
        "observers": outcome.observers,
    })
}

fn outcome_text(outcome: &HookOutcome) -> String {
    match outcome {
        HookOutcome::Continued => "continue".into(),
        HookOutcome::Modified => "modify".into(),
        HookOutcome::Denied(reason) => format!("deny: {reason}"),
        HookOutcome::Failed { error, denied } => {
            format!(
                "failed ({}): {error}",
                if *denied {
                    "fail-closed, denied"
                } else {
                    "fail-open"
                }
            )
        }
    }
}

pub(crate) fn emit_text(outcome: &EmitOutcome) -> String {
    escape_controls(&emit_text_raw(outcome)).into_owned()
}

fn emit_text_raw(outcome: &EmitOutcome) -> String {
    let mut out = String::new();
    for d in &outcome.decisions {
        out.push_str(&format!(
            "{} ({}, priority {}): {}\n",
            d.plugin,
            d.pattern,
            d.priority,
            outcome_text(&d.outcome)
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

pub(crate) fn log_json(r: &LogRecord) -> Value {
    json!({
        "time": clock(r.time),
        "plugin": r.plugin,
        "stream": match r.stream { Stream::Stdout => "stdout", Stream::Stderr => "stderr" },
        "level": r.level.as_str(),
        "message": r.message,
        "fields": Value::Object(r.fields.iter().cloned().collect()),
    })
}

pub(crate) fn log_text(r: &LogRecord) -> String {
    let fields: Vec<String> = r.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let line = format!(
        "{} {:<5} [{}] {} {}",
        clock(r.time),
        r.level.as_str().to_uppercase(),
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
