//! Logs as hclog-style JSON lines on stderr (PW-LOG-2), so hosts show them
//! as structured events.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::SystemTime;

use plugwire_proto::log::{Level, LogLine};
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// A `tracing` layer writing one hclog JSON object per event to stderr.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// let subscriber = tracing_subscriber::registry().with(plugwire_sdk::logging::HclogLayer::stderr());
/// tracing::subscriber::with_default(subscriber, || tracing::info!(port = 1, "ready"));
/// ```
pub struct HclogLayer {
    write: Box<dyn Fn(&str) + Send + Sync>,
}

impl HclogLayer {
    /// Writes to the process's stderr.
    ///
    /// ```
    /// let layer = plugwire_sdk::logging::HclogLayer::stderr();
    /// # let _ = layer;
    /// ```
    pub fn stderr() -> Self {
        Self::with_writer(|line| {
            // One write per line so lines from threads never interleave.
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        })
    }

    /// Writes each line (newline included) with `write`; for tests.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let lines = Arc::new(Mutex::new(Vec::new()));
    /// let sink = lines.clone();
    /// let layer = plugwire_sdk::logging::HclogLayer::with_writer(move |l| sink.lock().unwrap().push(l.to_owned()));
    /// # let _ = layer;
    /// ```
    pub fn with_writer(write: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Self {
            write: Box::new(write),
        }
    }
}

impl<S> Layer<S> for HclogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, cx: Context<'_, S>) {
        let mut visitor = FieldVisitor::default();
        event.record(&mut visitor);
        let level = match *event.metadata().level() {
            tracing::Level::TRACE => Level::Trace,
            tracing::Level::DEBUG => Level::Debug,
            tracing::Level::INFO => Level::Info,
            tracing::Level::WARN => Level::Warn,
            tracing::Level::ERROR => Level::Error,
        };
        let mut module = None;
        if let Some(scope) = cx.event_scope(event) {
            let names: Vec<&str> = scope.from_root().map(|span| span.name()).collect();
            if !names.is_empty() {
                module = Some(names.join("."));
            }
        }
        let line = LogLine {
            level,
            message: visitor.message,
            timestamp: Some(humantime::format_rfc3339_micros(SystemTime::now()).to_string()),
            module,
            fields: visitor.fields,
            structured: true,
        };
        let mut text = line.to_json();
        text.push('\n');
        (self.write)(&text);
    }
}

#[derive(Default)]
struct FieldVisitor {
    message: String,
    fields: Vec<(String, Value)>,
}

impl FieldVisitor {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            match value {
                Value::String(s) => self.message = s,
                other => self.message = other.to_string(),
            }
        } else {
            self.fields.push((field.name().to_owned(), value));
        }
    }
}

impl Visit for FieldVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.put(field, Value::String(text));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
}

/// Installs the hclog layer as the global subscriber, filtered by
/// `PLUGWIRE_LOG` (`RUST_LOG` syntax, default `info`). Returns false when a
/// global subscriber was already set. [`serve`](crate::serve) calls this,
/// so plugins only call it to log before serving.
///
/// ```
/// plugwire_sdk::logging::init();
/// tracing::info!("starting");
/// ```
pub fn init() -> bool {
    init_with_default("info")
}

/// [`init`] with another filter for when `PLUGWIRE_LOG` is unset, for a
/// plugin whose libraries say too much at `info`.
///
/// ```
/// plugwire_sdk::logging::init_with_default("info,chatty_library=warn");
/// tracing::info!("starting");
/// ```
pub fn init_with_default(default: &str) -> bool {
    let filter =
        EnvFilter::try_from_env("PLUGWIRE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::registry()
        .with(filter)
        .with(HclogLayer::stderr())
        .try_init()
        .is_ok()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn writes_parseable_hclog_lines() {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = lines.clone();
        let subscriber = tracing_subscriber::registry().with(HclogLayer::with_writer(move |l| {
            sink.lock().unwrap().push(l.to_owned())
        }));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("call");
            let _enter = span.enter();
            tracing::warn!(tool = "echo", ms = 3u64, ok = true, "slow call");
        });
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].ends_with('\n') && !lines[0].trim_end().contains('\n'));
        let parsed = LogLine::parse(lines[0].trim_end());
        assert!(parsed.structured);
        assert_eq!(parsed.level, Level::Warn);
        assert_eq!(parsed.message, "slow call");
        assert_eq!(parsed.module.as_deref(), Some("call"));
        assert!(parsed.timestamp.unwrap().ends_with('Z'));
        assert_eq!(
            parsed.fields,
            vec![
                ("tool".to_owned(), Value::from("echo")),
                ("ms".to_owned(), Value::from(3)),
                ("ok".to_owned(), Value::from(true)),
            ]
        );
    }
}
