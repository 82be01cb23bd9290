//! Reading the bootstrap line from a starting plugin (PW-BOOT-2..9).

use std::time::Duration;

use plugwire_proto::bootstrap::{BootstrapLine, BootstrapLineError};
use plugwire_proto::constants::MAX_BOOTSTRAP_LINE_LEN;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::sync::watch;

/// How long to keep reading stdout after the process exited, so the error
/// can quote what it printed.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);

/// Why no usable line was read.
#[derive(Debug)]
pub(crate) enum LineFailure {
    /// Nothing usable within the deadline.
    Timeout { seen: Vec<u8> },
    /// The process ended first.
    Exited { seen: Vec<u8>, status: String },
    /// Stdout closed without a full line while the process lives on.
    Closed { seen: Vec<u8> },
    /// A line was read but is not valid.
    Invalid {
        seen: Vec<u8>,
        error: BootstrapLineError,
    },
}

impl LineFailure {
    /// What the plugin printed on stdout.
    pub(crate) fn into_seen(self) -> Vec<u8> {
        match self {
            Self::Timeout { seen }
            | Self::Exited { seen, .. }
            | Self::Closed { seen }
            | Self::Invalid { seen, .. } => seen,
        }
    }

    /// The failure in words, quoting stdout.
    pub(crate) fn describe(&self, deadline: Duration) -> String {
        let quote = |seen: &Vec<u8>| {
            if seen.is_empty() {
                "nothing".to_owned()
            } else {
                // Debug quoting escapes control characters.
                format!("{:?}", String::from_utf8_lossy(seen))
            }
        };
        match self {
            Self::Timeout { seen } => format!(
                "no bootstrap line within {deadline:?} (stdout so far: {}); the plugin must print `1|1|unix|<socket>|grpc|` once it serves",
                quote(seen)
            ),
            Self::Exited { seen, status } => format!(
                "the plugin exited ({status}) before printing a bootstrap line (stdout: {})",
                quote(seen)
            ),
            Self::Closed { seen } => format!(
                "the plugin closed stdout without a complete bootstrap line (stdout: {})",
                quote(seen)
            ),
            Self::Invalid { seen, error } => {
                format!("invalid bootstrap line {}: {error}", quote(seen))
            }
        }
    }
}

/// Reads one line of at most [`MAX_BOOTSTRAP_LINE_LEN`] bytes, racing the
/// deadline and the process's exit (`exit` becomes `Some` when it ends).
pub(crate) async fn read_line<R: AsyncRead + Unpin>(
    stdout: &mut BufReader<R>,
    deadline: Duration,
    exit: &mut watch::Receiver<Option<String>>,
) -> Result<BootstrapLine, LineFailure> {
    let mut seen = Vec::new();
    let exited = async {
        loop {
            if let Some(status) = exit.borrow_and_update().clone() {
                return status;
            }
            if exit.changed().await.is_err() {
                return "ended".to_owned();
            }
        }
    };
    enum Outcome {
        Read(std::io::Result<usize>),
        TimedOut,
        Exited(String),
    }
    let outcome = {
        let mut limited = (&mut *stdout).take(MAX_BOOTSTRAP_LINE_LEN as u64 + 1);
        let read = limited.read_until(b'\n', &mut seen);
        tokio::select! {
            r = tokio::time::timeout(deadline, read) => match r {
                Ok(r) => Outcome::Read(r),
                Err(_) => Outcome::TimedOut,
            },
            status = exited => Outcome::Exited(status),
        }
    };
    match outcome {
        Outcome::TimedOut => Err(LineFailure::Timeout { seen }),
        Outcome::Exited(status) => {
            let mut limited = (&mut *stdout).take(MAX_BOOTSTRAP_LINE_LEN as u64);
            let more = limited.read_until(b'\n', &mut seen);
            let _ = tokio::time::timeout(DRAIN_AFTER_EXIT, more).await;
            Err(LineFailure::Exited { seen, status })
        }
        Outcome::Read(Err(_)) | Outcome::Read(Ok(0)) => {
            // EOF usually means the process is exiting: report that, with
            // its status, rather than a bare "closed".
            match tokio::time::timeout(DRAIN_AFTER_EXIT * 2, wait_exit(exit)).await {
                Ok(status) => Err(LineFailure::Exited { seen, status }),
                Err(_) => Err(LineFailure::Closed { seen }),
            }
        }
        Outcome::Read(Ok(_)) => {
            if seen.len() <= MAX_BOOTSTRAP_LINE_LEN && !seen.ends_with(b"\n") {
                return Err(LineFailure::Closed { seen });
            }
            BootstrapLine::parse_line(&seen).map_err(|error| LineFailure::Invalid { seen, error })
        }
    }
}

async fn wait_exit(exit: &mut watch::Receiver<Option<String>>) -> String {
    loop {
        if let Some(status) = exit.borrow_and_update().clone() {
            return status;
        }
        if exit.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(input: &'static [u8], deadline_ms: u64) -> Result<BootstrapLine, LineFailure> {
        let (_tx, mut rx) = watch::channel(None);
        read_line(
            &mut BufReader::new(input),
            Duration::from_millis(deadline_ms),
            &mut rx,
        )
        .await
    }

    #[tokio::test]
    async fn reads_a_good_line() {
        let line = read(b"1|1|unix|/s|grpc|\nlogs after\n", 1000)
            .await
            .unwrap();
        assert_eq!(line.socket_path, "/s");
    }

    #[tokio::test]
    async fn partial_and_garbage_lines_fail_with_a_quote() {
        let e = read(b"1|1|unix|", 1000).await.unwrap_err();
        assert!(matches!(e, LineFailure::Closed { .. }));
        assert!(e.describe(Duration::from_secs(1)).contains("\"1|1|unix|\""));
        let e = read(b"hello\n", 1000).await.unwrap_err();
        assert!(e.describe(Duration::from_secs(1)).contains("\"hello\\n\""));
    }

    #[tokio::test]
    async fn over_long_output_is_cut_off() {
        let long: &'static [u8] =
            Box::leak(vec![b'x'; MAX_BOOTSTRAP_LINE_LEN * 2].into_boxed_slice());
        let e = read(long, 1000).await.unwrap_err();
        assert!(
            matches!(
                e,
                LineFailure::Invalid {
                    error: BootstrapLineError::TooLong { .. },
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn silence_times_out() {
        let (mut tx, rx) = tokio::io::duplex(64);
        let (_exit_tx, mut exit) = watch::channel(None);
        let e = read_line(
            &mut BufReader::new(rx),
            Duration::from_millis(50),
            &mut exit,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, LineFailure::Timeout { .. }));
        let _ = &mut tx;
    }

    #[tokio::test]
    async fn exit_is_noticed_and_quoted() {
        let (mut tx, rx) = tokio::io::duplex(64);
        let (exit_tx, mut exit) = watch::channel(None);
        tokio::io::AsyncWriteExt::write_all(&mut tx, b"dying")
            .await
            .unwrap();
        exit_tx.send(Some("exit status 3".into())).unwrap();
        let e = read_line(&mut BufReader::new(rx), Duration::from_secs(5), &mut exit)
            .await
            .unwrap_err();
        let text = e.describe(Duration::from_secs(5));
        assert!(
            text.contains("exit status 3") && text.contains("\"dying\""),
            "{text}"
        );
    }
}
