//! Reading plugin stdout/stderr as logs (PW-BOOT-6, PW-LOG-1..4): bounded
//! lines, a bounded rate, hclog JSON turned into structured `tracing`
//! events, a tail kept for error reports, and recent records kept for
//! `plugwire logs`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use plugwire_proto::constants::MAX_LOG_LINE_LEN;
use plugwire_proto::log::{Level, LogLine};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Bytes of stderr kept for error reports.
const TAIL_BYTES: usize = 4096;
/// Records kept per plugin for `plugwire logs`.
const RECENT: usize = 1000;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output (after the bootstrap line).
    Stdout,
    /// Standard error.
    Stderr,
}

/// One log record of a plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// Its place among every record this process has read, across plugins:
    /// a follower asks for what came after the last one it saw.
    pub seq: u64,
    /// When the host read it.
    pub time: SystemTime,
    /// The plugin.
    pub plugin: String,
    /// The stream.
    pub stream: Stream,
    /// The level.
    pub level: Level,
    /// The message.
    pub message: String,
    /// Structured fields, for hclog lines.
    pub fields: Vec<(String, Value)>,
}

/// Per-plugin log state, shared by its pumps and the host.
pub(crate) struct LogSink {
    plugin: String,
    tail: Mutex<VecDeque<u8>>,
    recent: Mutex<VecDeque<LogRecord>>,
    pub(crate) dropped: AtomicU64,
    /// Removes the running configuration's secret values from each line.
    scrubber: Mutex<Arc<crate::secrets::Scrubber>>,
    limiter: Mutex<Bucket>,
}

struct Bucket {
    tokens: f64,
    rate: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl LogSink {
    pub(crate) fn new(plugin: &str, lines_per_second: u32) -> Self {
        let rate = f64::from(lines_per_second.max(1));
        Self {
            plugin: plugin.to_owned(),
            tail: Mutex::new(VecDeque::with_capacity(TAIL_BYTES)),
            recent: Mutex::new(VecDeque::new()),
            dropped: AtomicU64::new(0),
            scrubber: Mutex::new(Arc::default()),
            limiter: Mutex::new(Bucket {
                tokens: rate,
                rate,
                last: Instant::now(),
            }),
        }
    }

    /// The last few KiB of stderr, for error messages (PW-BOOT-9).
    pub(crate) fn stderr_tail(&self) -> String {
        let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        let bytes: Vec<u8> = tail.iter().copied().collect();
        String::from_utf8_lossy(&bytes).trim_end().to_owned()
    }

    pub(crate) fn clear_tail(&self) {
        self.tail.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub(crate) fn recent(&self) -> Vec<LogRecord> {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    fn remember_tail(&self, bytes: &[u8]) {
        let mut tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        tail.extend(bytes.iter().copied());
        tail.push_back(b'\n');
        let excess = tail.len().saturating_sub(TAIL_BYTES);
        tail.drain(..excess);
    }

    /// From now on, lines are kept and shown without these secret values.
    pub(crate) fn set_scrubber(&self, scrubber: crate::secrets::Scrubber) {
        *self.scrubber.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(scrubber);
    }

    fn record(&self, stream: Stream, raw: &[u8]) {
        let scrubber = self
            .scrubber
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let raw = &*scrubber.bytes(raw);
        if stream == Stream::Stderr {
            self.remember_tail(raw);
        }
        if !self
            .limiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let text = String::from_utf8_lossy(raw);
        let line = LogLine::parse(&text);
        emit_tracing(&self.plugin, stream, &line);
        static SEQ: AtomicU64 = AtomicU64::new(1);
        let record = LogRecord {
            seq: SEQ.fetch_add(1, Ordering::Relaxed),
            time: SystemTime::now(),
            plugin: self.plugin.clone(),
            stream,
            level: line.level,
            message: line.message,
            fields: line.fields,
        };
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(record);
    }
}

fn emit_tracing(plugin: &str, stream: Stream, line: &LogLine) {
    let stream = match stream {
        Stream::Stdout => "stdout",
        Stream::Stderr => "stderr",
    };
    let fields = if line.fields.is_empty() {
        String::new()
    } else {
        Value::Object(line.fields.iter().cloned().collect()).to_string()
    };
    // Subscribers print these to terminals: nothing a plugin wrote may
    // control one.
    use plugwire_proto::text::escape_line;
    let module = escape_line(line.module.as_deref().unwrap_or(""));
    let fields = escape_line(&fields);
    let message = escape_line(&line.message);
    macro_rules! event {
        ($level:expr) => {
            tracing::event!(target: "plugwire::plugin", $level, plugin, stream, module = %module, fields = %fields, "{}", message)
        };
    }
    match line.level {
        Level::Trace => event!(tracing::Level::TRACE),
        Level::Debug => event!(tracing::Level::DEBUG),
        Level::Info => event!(tracing::Level::INFO),
        Level::Warn => event!(tracing::Level::WARN),
        Level::Error => event!(tracing::Level::ERROR),
    }
}

/// Reads `reader` line by line until EOF, feeding `sink`. Lines longer than
/// the limit are cut; the rest of such a line is skipped and counted. The
/// pipe is always drained, so a chatty plugin never blocks on a full pipe.
pub(crate) async fn pump(
    reader: impl AsyncRead + Unpin,
    stream: Stream,
    sink: std::sync::Arc<LogSink>,
) {
    let mut reader = BufReader::with_capacity(16 * 1024, reader);
    let mut line: Vec<u8> = Vec::new();
    let mut skipping = false;
    loop {
        let buf = match reader.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(buf) => buf,
        };
        let (chunk, consumed, ended) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        if !skipping {
            let room = MAX_LOG_LINE_LEN.saturating_sub(line.len());
            line.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if chunk.len() > room {
                sink.record(stream, &line);
                line.clear();
                sink.dropped.fetch_add(1, Ordering::Relaxed);
                skipping = true;
            }
        }
        reader.consume(consumed);
        if ended {
            if !skipping {
                sink.record(stream, &line);
            }
            line.clear();
            skipping = false;
        }
    }
    if !line.is_empty() && !skipping {
        sink.record(stream, &line);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn structured_and_text_lines_are_recorded() {
        let sink = Arc::new(LogSink::new("p", 1000));
        let input: &[u8] = b"{\"@level\":\"warn\",\"@message\":\"hot\",\"temp\":90}\nplain text\n[ERROR] bad\nno newline";
        pump(input, Stream::Stderr, sink.clone()).await;
        let recent = sink.recent();
        assert_eq!(recent.len(), 4);
        assert_eq!(
            (recent[0].level, recent[0].message.as_str()),
            (Level::Warn, "hot")
        );
        assert_eq!(recent[0].fields, vec![("temp".to_owned(), Value::from(90))]);
        assert_eq!(
            (recent[1].level, recent[1].message.as_str()),
            (Level::Info, "plain text")
        );
        assert_eq!(recent[2].level, Level::Error);
        assert_eq!(recent[3].message, "no newline");
        assert!(sink.stderr_tail().ends_with("no newline"));
    }

    #[tokio::test]
    async fn long_lines_are_cut_and_counted() {
        let sink = Arc::new(LogSink::new("p", 1000));
        let mut input = vec![b'x'; MAX_LOG_LINE_LEN * 3];
        input.extend_from_slice(b"\nnext\n");
        pump(&input[..], Stream::Stdout, sink.clone()).await;
        let recent = sink.recent();
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].message.len(), MAX_LOG_LINE_LEN);
        assert_eq!(recent[1].message, "next");
        assert_eq!(sink.dropped.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn the_rate_is_bounded_and_the_pipe_still_drains() {
        let sink = Arc::new(LogSink::new("p", 10));
        let input = "line\n".repeat(1000);
        pump(input.as_bytes(), Stream::Stderr, sink.clone()).await;
        assert!(sink.recent().len() <= 11);
        assert!(sink.dropped.load(Ordering::Relaxed) >= 989);
    }

    #[test]
    fn the_tail_is_bounded() {
        let sink = LogSink::new("p", 10);
        for i in 0..1000 {
            sink.remember_tail(format!("line {i}").as_bytes());
        }
        let tail = sink.stderr_tail();
        assert!(tail.len() <= TAIL_BYTES);
        assert!(tail.ends_with("line 999"));
    }
}
