//! Check results and the reports CI systems read: JSON, JUnit XML, TAP 13.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::json;

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The plugin meets the requirement.
    Passed,
    /// It does not (or the check could not run: untestable counts as failed).
    Failed,
    /// The plugin does not offer what the check needs (no tools, no
    /// `conformance` feature); never counted as passed.
    NotApplicable,
}

impl Status {
    /// The lower-case name used in reports.
    ///
    /// ```
    /// assert_eq!(plugwire_conformance::report::Status::NotApplicable.as_str(), "not_applicable");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::NotApplicable => "not_applicable",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Stable hierarchical id, e.g. `tools/unknown-tool`.
    pub id: &'static str,
    /// The `docs/protocol.md` requirement it tests, e.g. `PW-TOOL-4`.
    pub requirement: &'static str,
    /// How it ended.
    pub status: Status,
    /// What was seen (for failures and not-applicable: why).
    pub message: String,
    /// How long it took.
    pub duration: Duration,
}

/// The results of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Every outcome, in run order.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// Counts by status: (passed, failed, not applicable).
    ///
    /// ```
    /// assert_eq!(plugwire_conformance::report::Report::default().counts(), (0, 0, 0));
    /// ```
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |s| self.outcomes.iter().filter(|o| o.status == s).count();
        (
            count(Status::Passed),
            count(Status::Failed),
            count(Status::NotApplicable),
        )
    }

    /// Whether the run passed: no failure.
    ///
    /// ```
    /// assert!(plugwire_conformance::report::Report::default().passed());
    /// ```
    pub fn passed(&self) -> bool {
        self.counts().1 == 0
    }

    /// Applies a known-failing list: a listed check that fails is reported as
    /// passing-with-note; a listed check that passes fails the run, so the
    /// list cannot go stale.
    ///
    /// ```
    /// use plugwire_conformance::report::Report;
    /// let mut r = Report::default();
    /// r.apply_known_failing(&["tools/unknown-tool".to_owned()]);
    /// assert!(!r.passed(), "a listed id that never ran is an error too");
    /// ```
    pub fn apply_known_failing(&mut self, known: &[String]) {
        for id in known {
            match self.outcomes.iter_mut().find(|o| o.id == id) {
                Some(o) if o.status == Status::Failed => {
                    o.status = Status::Passed;
                    o.message = format!("known failing: {}", o.message);
                }
                Some(o) if o.status == Status::Passed => {
                    o.status = Status::Failed;
                    o.message =
                        "listed as known failing but passed: remove it from the list".into();
                }
                Some(_) => {}
                None => self.outcomes.push(Outcome {
                    id: "known-failing/unknown-id",
                    requirement: "-",
                    status: Status::Failed,
                    message: format!(
                        "the known-failing list names {id:?}, which is not a check of this suite"
                    ),
                    duration: Duration::ZERO,
                }),
            }
        }
    }

    /// The summary printed for people.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for o in &self.outcomes {
            let mark = match o.status {
                Status::Passed => "PASS",
                Status::Failed => "FAIL",
                Status::NotApplicable => "N/A ",
            };
            let _ = writeln!(
                out,
                "{mark} {} ({}) {:.0} ms{}",
                o.id,
                o.requirement,
                o.duration.as_secs_f64() * 1000.0,
                if o.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", o.message)
                }
            );
        }
        let (p, f, n) = self.counts();
        let _ = writeln!(out, "{p} passed, {f} failed, {n} not applicable");
        out
    }

    /// The JSON report: `passed`, `failed`, `not_applicable` counts and a
    /// `checks` list of `id`, `requirement`, `status`, `message`,
    /// `duration_ms`.
    pub fn json(&self) -> serde_json::Value {
        let (p, f, n) = self.counts();
        json!({
            "passed": p,
            "failed": f,
            "not_applicable": n,
            "checks": self.outcomes.iter().map(|o| json!({
                "id": o.id,
                "requirement": o.requirement,
                "status": o.status.as_str(),
                "message": o.message,
                "duration_ms": o.duration.as_secs_f64() * 1000.0,
            })).collect::<Vec<_>>(),
        })
    }

    /// JUnit XML (one test case per check; not-applicable as skipped).
    pub fn junit(&self) -> String {
        let (_, f, n) = self.counts();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let total: f64 = self.outcomes.iter().map(|o| o.duration.as_secs_f64()).sum();
        let _ = writeln!(
            out,
            "<testsuite name=\"plugwire-conformance\" tests=\"{}\" failures=\"{f}\" skipped=\"{n}\" time=\"{total:.3}\">",
            self.outcomes.len()
        );
        for o in &self.outcomes {
            let _ = write!(
                out,
                "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
                xml(o.requirement),
                xml(o.id),
                o.duration.as_secs_f64()
            );
            match o.status {
                Status::Passed => {}
                Status::Failed => {
                    let _ = write!(out, "<failure message=\"{}\"/>", xml(&o.message));
                }
                Status::NotApplicable => {
                    let _ = write!(out, "<skipped message=\"{}\"/>", xml(&o.message));
                }
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("</testsuite>\n");
        out
    }

    /// TAP version 13.
    pub fn tap(&self) -> String {
        let mut out = format!("TAP version 13\n1..{}\n", self.outcomes.len());
        for (i, o) in self.outcomes.iter().enumerate() {
            let n = i + 1;
            let line = match o.status {
                Status::Passed => format!("ok {n} - {} ({})", o.id, o.requirement),
                Status::Failed => format!("not ok {n} - {} ({})", o.id, o.requirement),
                Status::NotApplicable => format!(
                    "ok {n} - {} ({}) # SKIP {}",
                    o.id,
                    o.requirement,
                    o.message.replace('\n', " ")
                ),
            };
            out.push_str(&line);
            out.push('\n');
            if o.status == Status::Failed {
                let _ = writeln!(out, "  ---\n  message: {:?}\n  ...", o.message);
            }
        }
        out
    }
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(id: &'static str, status: Status) -> Outcome {
        Outcome {
            id,
            requirement: "PW-X-1",
            status,
            message: if status == Status::Passed {
                String::new()
            } else {
                "why <&>".into()
            },
            duration: Duration::from_millis(3),
        }
    }

    fn report() -> Report {
        Report {
            outcomes: vec![
                outcome("a/pass", Status::Passed),
                outcome("a/fail", Status::Failed),
                outcome("a/na", Status::NotApplicable),
            ],
        }
    }

    #[test]
    fn formats() {
        let r = report();
        assert_eq!(r.counts(), (1, 1, 1));
        assert!(!r.passed());
        let json = r.json();
        assert_eq!(
            (
                json["passed"].as_u64(),
                json["failed"].as_u64(),
                json["not_applicable"].as_u64()
            ),
            (Some(1), Some(1), Some(1))
        );
        assert_eq!(json["checks"][1]["status"], "failed");
        let junit = r.junit();
        assert!(junit.contains("failures=\"1\" skipped=\"1\""));
        assert!(junit.contains("<failure message=\"why &lt;&amp;&gt;\"/>"));
        let tap = r.tap();
        assert!(tap.starts_with("TAP version 13\n1..3\n"));
        assert!(tap.contains("not ok 2 - a/fail"));
        assert!(tap.contains("# SKIP"));
    }

    #[test]
    fn known_failing_lists_cannot_go_stale() {
        let mut r = report();
        r.apply_known_failing(&["a/fail".into()]);
        assert!(r.passed());
        let mut r = report();
        r.apply_known_failing(&["a/fail".into(), "a/pass".into()]);
        assert!(!r.passed(), "an unexpected pass fails the run");
        let mut r = report();
        r.apply_known_failing(&["a/fail".into(), "nope".into()]);
        assert!(!r.passed(), "an unknown id fails the run");
    }
}
