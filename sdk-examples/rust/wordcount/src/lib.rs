//! The `wordcount` example plugin: a `wc` command.
//!
//! `wc [--lines] [--words] [FILE...]` counts lines, words and bytes of its
//! files, or of stdin when none (or `-`) is given, like the Unix tool. A file
//! that cannot be read is reported on stderr, the others are still counted,
//! and the exit code is 2.

use std::path::{Path, PathBuf};

use plugwire_sdk::{Arg, Command, CommandContext, CommandIo, Flag, Plugin};
use tokio::io::AsyncReadExt;

/// Counts of one input.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Newline characters.
    pub lines: u64,
    /// Maximal runs of non-whitespace.
    pub words: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Streaming counter, so inputs of any size use constant memory.
#[derive(Debug, Default)]
struct Counter {
    counts: Counts,
    in_word: bool,
}

impl Counter {
    fn feed(&mut self, chunk: &[u8]) {
        self.counts.bytes += chunk.len() as u64;
        for &b in chunk {
            if b == b'\n' {
                self.counts.lines += 1;
            }
            let space = b.is_ascii_whitespace();
            if !space && !self.in_word {
                self.counts.words += 1;
            }
            self.in_word = !space;
        }
    }
}

/// Counts a byte slice.
///
/// ```
/// let c = plugwire_example_wordcount::count(b"one two\nthree\n");
/// assert_eq!((c.lines, c.words, c.bytes), (2, 3, 14));
/// ```
pub fn count(bytes: &[u8]) -> Counts {
    let mut counter = Counter::default();
    counter.feed(bytes);
    counter.counts
}

async fn count_reader(mut reader: impl tokio::io::AsyncRead + Unpin) -> std::io::Result<Counts> {
    let mut counter = Counter::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok(counter.counts);
        }
        counter.feed(&buf[..n]);
    }
}

fn format_line(
    counts: Counts,
    lines: bool,
    words: bool,
    bytes: bool,
    name: Option<&str>,
) -> String {
    let mut fields = Vec::new();
    if lines {
        fields.push(format!("{:>7}", counts.lines));
    }
    if words {
        fields.push(format!("{:>7}", counts.words));
    }
    if bytes {
        fields.push(format!("{:>7}", counts.bytes));
    }
    let mut line = fields.join(" ");
    if let Some(name) = name {
        line.push(' ');
        line.push_str(name);
    }
    line.push('\n');
    line
}

/// Relative paths are the user's: resolve them against the `PWD` the host
/// passed, not the plugin's own working directory.
fn resolve(cx: &CommandContext, file: &str) -> PathBuf {
    let path = Path::new(file);
    match cx.env.get("PWD") {
        Some(pwd) if path.is_relative() => Path::new(pwd).join(path),
        _ => path.to_path_buf(),
    }
}

async fn wc(cx: CommandContext, mut io: CommandIo) -> Result<i32, plugwire_sdk::BoxError> {
    let (mut lines, mut words) = (cx.flag_bool("lines"), cx.flag_bool("words"));
    let bytes = !lines && !words;
    if bytes {
        (lines, words) = (true, true);
    }
    let files: Vec<String> = if cx.args.is_empty() {
        vec!["-".to_owned()]
    } else {
        cx.args.clone()
    };
    let mut total = Counts::default();
    let mut code = 0;
    for file in &files {
        let result = if file == "-" {
            count_reader(&mut io.stdin).await
        } else {
            match tokio::fs::File::open(resolve(&cx, file)).await {
                Ok(f) => count_reader(f).await,
                Err(e) => Err(e),
            }
        };
        match result {
            Ok(counts) => {
                total.lines += counts.lines;
                total.words += counts.words;
                total.bytes += counts.bytes;
                let name = (!cx.args.is_empty()).then_some(file.as_str());
                io.stdout
                    .print(&format_line(counts, lines, words, bytes, name))
                    .await?;
            }
            Err(e) => {
                let reason = match e.kind() {
                    std::io::ErrorKind::NotFound => "No such file or directory".to_owned(),
                    _ => e.to_string(),
                };
                io.stderr.print(&format!("wc: {file}: {reason}\n")).await?;
                code = 2;
            }
        }
    }
    if files.len() > 1 {
        io.stdout
            .print(&format_line(total, lines, words, bytes, Some("total")))
            .await?;
    }
    Ok(code)
}

/// The plugin.
pub fn plugin() -> Plugin {
    Plugin::new("wordcount", env!("CARGO_PKG_VERSION"))
        .description("Counts lines, words and bytes")
        .command(
            Command::new("wc")
                .short("Count lines, words and bytes")
                .long("Counts newlines, words and bytes of each FILE, or of standard input when no FILE (or -) is given. With --lines or --words, prints only those counts.")
                .usage("wc [--lines] [--words] [FILE...]")
                .flag(Flag::bool("lines").short('l').help("Print the newline count"))
                .flag(Flag::bool("words").short('w').help("Print the word count"))
                .arg(Arg::new("file").help("Files to read; - for standard input").variadic())
                .run(wc),
        )
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use plugwire_sdk::testing::TestHost;

    use super::*;

    #[test]
    fn counting_matches_wc() {
        assert_eq!(count(b""), Counts::default());
        assert_eq!(
            count(b"a"),
            Counts {
                lines: 0,
                words: 1,
                bytes: 1
            }
        );
        assert_eq!(
            count(b"  a  b\t\nc\n\n"),
            Counts {
                lines: 3,
                words: 3,
                bytes: 11
            }
        );
        // Words that straddle chunk boundaries are counted once.
        let mut counter = Counter::default();
        counter.feed(b"hel");
        counter.feed(b"lo wor");
        counter.feed(b"ld\n");
        assert_eq!(counter.counts, count(b"hello world\n"));
    }

    #[tokio::test]
    async fn counts_stdin() {
        let host = TestHost::start(plugin()).await.unwrap();
        let out = host
            .run_command(&["wc"], b"one two\nthree\n")
            .await
            .unwrap();
        assert_eq!(out.code, 0);
        assert_eq!(out.stdout_text(), "      2       3      14\n");
        let out = host
            .run_command(&["wc", "--lines"], b"a\nb\nc\n")
            .await
            .unwrap();
        assert_eq!(out.stdout_text(), "      3\n");
        let out = host.run_command(&["wc", "-w"], b"a b c d").await.unwrap();
        assert_eq!(out.stdout_text(), "      4\n");
        let out = host.run_command(&["wc", "-lw"], b"a b\n").await.unwrap();
        assert_eq!(out.stdout_text(), "      1       2\n");
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn empty_stdin_reaches_eof() {
        let host = TestHost::start(plugin()).await.unwrap();
        let out = host.run_command(&["wc"], b"").await.unwrap();
        assert_eq!(
            (out.code, out.stdout_text()),
            (0, "      0       0       0\n".to_owned())
        );
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn counts_files_with_a_total_and_reports_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        std::fs::File::create(&a)
            .unwrap()
            .write_all(b"x y\n")
            .unwrap();
        let a = a.display().to_string();
        let host = TestHost::start(plugin()).await.unwrap();
        let out = host
            .run_command(&["wc", &a, "/nonexistent/b.txt"], b"")
            .await
            .unwrap();
        assert_eq!(out.code, 2);
        assert_eq!(
            out.stdout_text(),
            format!("      1       2       4 {a}\n      1       2       4 total\n")
        );
        assert_eq!(
            out.stderr_text(),
            "wc: /nonexistent/b.txt: No such file or directory\n"
        );
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn large_input_streams_through() {
        let host = TestHost::start(plugin()).await.unwrap();
        let input = "word\n".repeat(400_000); // 2 MB, many chunks
        let out = host.run_command(&["wc"], input.as_bytes()).await.unwrap();
        assert_eq!(out.stdout_text(), " 400000  400000 2000000\n");
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn unknown_flags_are_usage_errors() {
        let host = TestHost::start(plugin()).await.unwrap();
        let err = host.run_command(&["wc", "--bogus"], b"").await.unwrap_err();
        assert!(
            err.message().contains("unknown flag --bogus"),
            "{}",
            err.message()
        );
        assert!(err.message().contains("usage: wc"), "{}", err.message());
        host.shutdown().await.unwrap();
    }
}
