//! The bootstrap line a plugin prints on stdout once it is serving
//! (PW-BOOT-5..PW-BOOT-9).
//!
//! The format is HashiCorp go-plugin's, so plugins built with go-plugin's
//! `plugin.Serve` in gRPC mode load in a plugwire host and the other way round:
//!
//! ```text
//! CORE|APP|NETWORK|ADDRESS|PROTOCOL|CERT|MUX
//! 1   |1  |unix   |/run/…  |grpc    |    |      (without the spaces)
//! ```
//!
//! plugwire requires `CORE` = 1, `NETWORK` = `unix` with an absolute path and
//! `PROTOCOL` = `grpc`. The optional sixth field (a base64 DER certificate,
//! usually empty) and seventh field (`true`/`false`, go-plugin's multiplexing)
//! are parsed and kept so the host can decide what to do with them.
//!
//! ```
//! use plugwire_proto::bootstrap::BootstrapLine;
//!
//! let line = BootstrapLine::new(1, "/tmp/pw-1a2b/plugin.sock");
//! assert_eq!(line.to_line(), "1|1|unix|/tmp/pw-1a2b/plugin.sock|grpc|\n");
//! assert_eq!(BootstrapLine::parse_line(line.to_line().as_bytes())?, line);
//! # Ok::<(), plugwire_proto::bootstrap::BootstrapLineError>(())
//! ```

use std::fmt;
use std::path::{Component, Path};

use base64::Engine as _;

use crate::constants::{CORE_PROTOCOL_VERSION, MAX_BOOTSTRAP_LINE_LEN, MAX_SOCKET_PATH_LEN};
use crate::version::parse_positive;

/// What a correct line looks like, quoted in every error.
const EXAMPLE: &str = "1|1|unix|/path/to/plugin.sock|grpc|";

/// A parsed bootstrap line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapLine {
    /// go-plugin core protocol version; always [`CORE_PROTOCOL_VERSION`].
    pub core_version: u32,
    /// The app protocol version the plugin chose.
    pub app_version: u32,
    /// Absolute path of the plugin's Unix socket.
    pub socket_path: String,
    /// go-plugin's AutoMTLS server certificate (base64 DER, unpadded), when
    /// the sixth field is present and not empty.
    pub server_cert: Option<String>,
    /// go-plugin's multiplexing flag, when the seventh field is present.
    pub multiplex: Option<bool>,
}

/// Why a bootstrap line was rejected. Every message says what was expected,
/// what was seen, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapLineError {
    /// The line was empty.
    #[error(
        "the bootstrap line is empty: expected `{EXAMPLE}` and a newline; a plugin must print nothing on stdout before its bootstrap line"
    )]
    Empty,
    /// The line exceeded [`MAX_BOOTSTRAP_LINE_LEN`].
    #[error(
        "the bootstrap line is longer than {max} bytes (saw at least {len}): expected `{EXAMPLE}`; is the plugin writing something else to stdout?"
    )]
    TooLong {
        /// Bytes seen.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The output ended before a newline.
    #[error(
        "the bootstrap line is incomplete (no newline after {seen:?}): expected `{EXAMPLE}` followed by a newline, flushed"
    )]
    MissingNewline {
        /// What was printed, lossily decoded.
        seen: String,
    },
    /// The line was not valid UTF-8.
    #[error(
        "the bootstrap line is not UTF-8 (invalid byte at offset {offset}): expected `{EXAMPLE}`"
    )]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The line did not have 5 to 7 `|`-separated fields.
    #[error(
        "the bootstrap line has {count} `|`-separated field(s), expected 5 to 7: saw {seen:?}, expected `{EXAMPLE}`"
    )]
    FieldCount {
        /// Number of fields seen.
        count: usize,
        /// The line.
        seen: String,
    },
    /// One field had a bad value.
    #[error("bootstrap line field {index} ({name}): expected {expected}, saw {seen:?}; {fix}")]
    BadField {
        /// 1-based field index.
        index: usize,
        /// Field name.
        name: &'static str,
        /// What the field must hold.
        expected: &'static str,
        /// What it held.
        seen: String,
        /// How to fix it.
        fix: &'static str,
    },
    /// The socket path is not inside the directory the host gave.
    #[error(
        "the bootstrap line's socket {socket:?} is not inside the socket directory {dir:?}: bind the socket in the directory named by PLUGIN_UNIX_SOCKET_DIR"
    )]
    SocketOutsideDir {
        /// The socket path printed.
        socket: String,
        /// The directory the host gave.
        dir: String,
    },
}

impl BootstrapLineError {
    /// The 1-based index of the offending field, for field errors.
    ///
    /// ```
    /// use plugwire_proto::bootstrap::BootstrapLine;
    /// let err = BootstrapLine::parse("1|1|tcp|127.0.0.1:1234|grpc|").unwrap_err();
    /// assert_eq!(err.field_index(), Some(3));
    /// ```
    pub fn field_index(&self) -> Option<usize> {
        match self {
            Self::BadField { index, .. } => Some(*index),
            _ => None,
        }
    }
}

impl BootstrapLine {
    /// A line for a plugwire plugin: core version 1, `unix`, `grpc`, no
    /// certificate, no multiplexing field.
    ///
    /// ```
    /// use plugwire_proto::bootstrap::BootstrapLine;
    /// let line = BootstrapLine::new(1, "/tmp/x/p.sock");
    /// assert_eq!(line.to_string(), "1|1|unix|/tmp/x/p.sock|grpc|");
    /// ```
    pub fn new(app_version: u32, socket_path: impl Into<String>) -> Self {
        Self {
            core_version: CORE_PROTOCOL_VERSION,
            app_version,
            socket_path: socket_path.into(),
            server_cert: None,
            multiplex: None,
        }
    }

    /// Parses raw stdout bytes holding exactly one line, newline included
    /// (`\r\n` is tolerated). This is what a host calls on what it read.
    ///
    /// ```
    /// use plugwire_proto::bootstrap::{BootstrapLine, BootstrapLineError};
    /// assert!(BootstrapLine::parse_line(b"1|1|unix|/s|grpc|\n").is_ok());
    /// assert!(matches!(
    ///     BootstrapLine::parse_line(b"1|1|unix|/s|grpc|"),
    ///     Err(BootstrapLineError::MissingNewline { .. })
    /// ));
    /// ```
    pub fn parse_line(bytes: &[u8]) -> Result<Self, BootstrapLineError> {
        if bytes.len() > MAX_BOOTSTRAP_LINE_LEN {
            return Err(BootstrapLineError::TooLong {
                len: bytes.len(),
                max: MAX_BOOTSTRAP_LINE_LEN,
            });
        }
        let Some(body) = bytes.strip_suffix(b"\n") else {
            return Err(BootstrapLineError::MissingNewline {
                seen: String::from_utf8_lossy(bytes).into_owned(),
            });
        };
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        let text = std::str::from_utf8(body).map_err(|e| BootstrapLineError::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        Self::parse(text)
    }

    /// Parses one line without its newline.
    ///
    /// ```
    /// use plugwire_proto::bootstrap::BootstrapLine;
    /// let line: BootstrapLine = "1|2|unix|/s|grpc||false".parse()?;
    /// assert_eq!((line.app_version, line.multiplex), (2, Some(false)));
    /// # Ok::<(), plugwire_proto::bootstrap::BootstrapLineError>(())
    /// ```
    pub fn parse(line: &str) -> Result<Self, BootstrapLineError> {
        if line.len() > MAX_BOOTSTRAP_LINE_LEN {
            return Err(BootstrapLineError::TooLong {
                len: line.len(),
                max: MAX_BOOTSTRAP_LINE_LEN,
            });
        }
        if line.is_empty() {
            return Err(BootstrapLineError::Empty);
        }
        if line.contains('\n') {
            return Err(bad(
                4,
                "address",
                "a single line",
                line,
                "print the bootstrap line on one line",
            ));
        }
        let fields: Vec<&str> = line.split('|').collect();
        if !(5..=7).contains(&fields.len()) {
            return Err(BootstrapLineError::FieldCount {
                count: fields.len(),
                seen: line.to_owned(),
            });
        }

        if fields[0] != CORE_PROTOCOL_VERSION.to_string() {
            return Err(bad(
                1,
                "core protocol version",
                "`1`",
                fields[0],
                "the first field is go-plugin's core protocol version and is always 1",
            ));
        }
        let app_version = parse_positive(fields[1]).ok_or_else(|| {
            bad(
                2,
                "app protocol version",
                "a positive decimal integer such as `1`",
                fields[1],
                "print the version chosen from PLUGIN_PROTOCOL_VERSIONS",
            )
        })?;
        match fields[2] {
            "unix" => {}
            "tcp" => {
                return Err(bad(
                    3,
                    "network",
                    "`unix`",
                    fields[2],
                    "plugwire plugins listen on a Unix socket in PLUGIN_UNIX_SOCKET_DIR, never on TCP",
                ));
            }
            other => {
                return Err(bad(
                    3,
                    "network",
                    "`unix`",
                    other,
                    "the third field names the socket type and must be `unix`",
                ));
            }
        }
        let socket_path = fields[3];
        check_socket_path(socket_path)?;
        match fields[4] {
            "grpc" => {}
            "netrpc" | "" => {
                return Err(bad(
                    5,
                    "protocol",
                    "`grpc`",
                    fields[4],
                    "plugwire speaks gRPC only; go-plugin users must serve with GRPCServer",
                ));
            }
            other => {
                return Err(bad(
                    5,
                    "protocol",
                    "`grpc`",
                    other,
                    "the fifth field names the RPC protocol and must be `grpc`",
                ));
            }
        }
        let server_cert = match fields.get(5).copied() {
            None | Some("") => None,
            Some(cert) => {
                if base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(cert)
                    .is_err()
                {
                    return Err(bad(
                        6,
                        "server certificate",
                        "empty, or base64 (standard alphabet, no padding) DER",
                        cert,
                        "leave the sixth field empty unless the host asked for TLS",
                    ));
                }
                Some(cert.to_owned())
            }
        };
        let multiplex = match fields.get(6).copied() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => {
                return Err(bad(
                    7,
                    "multiplex",
                    "`true` or `false`",
                    other,
                    "omit the seventh field; plugwire does not multiplex",
                ));
            }
        };
        Ok(Self {
            core_version: CORE_PROTOCOL_VERSION,
            app_version,
            socket_path: socket_path.to_owned(),
            server_cert,
            multiplex,
        })
    }

    /// The line with its trailing newline, ready to print.
    ///
    /// ```
    /// use plugwire_proto::bootstrap::BootstrapLine;
    /// assert!(BootstrapLine::new(1, "/s").to_line().ends_with("|grpc|\n"));
    /// ```
    pub fn to_line(&self) -> String {
        format!("{self}\n")
    }

    /// Checks, lexically and without touching the file system, that the
    /// socket lies inside `dir` (PW-BOOT-7).
    ///
    /// ```
    /// use std::path::Path;
    /// use plugwire_proto::bootstrap::BootstrapLine;
    /// let line = BootstrapLine::new(1, "/run/pw/a/plugin.sock");
    /// assert!(line.check_socket_in_dir(Path::new("/run/pw/a")).is_ok());
    /// assert!(line.check_socket_in_dir(Path::new("/run/pw/b")).is_err());
    /// ```
    pub fn check_socket_in_dir(&self, dir: &Path) -> Result<(), BootstrapLineError> {
        let outside = || BootstrapLineError::SocketOutsideDir {
            socket: self.socket_path.clone(),
            dir: dir.display().to_string(),
        };
        let rest = Path::new(&self.socket_path)
            .strip_prefix(dir)
            .map_err(|_| outside())?;
        let mut normal = 0;
        for component in rest.components() {
            match component {
                Component::Normal(_) => normal += 1,
                Component::CurDir => {}
                _ => return Err(outside()),
            }
        }
        if normal == 0 {
            return Err(outside());
        }
        Ok(())
    }
}

impl fmt::Display for BootstrapLine {
    /// Formats the line without its newline. A certificate or multiplex
    /// field is written only when present; otherwise the line ends in `|`,
    /// the empty certificate field, exactly as go-plugin prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}|{}|unix|{}|grpc|{}",
            self.core_version,
            self.app_version,
            self.socket_path,
            self.server_cert.as_deref().unwrap_or("")
        )?;
        if let Some(mux) = self.multiplex {
            write!(f, "|{mux}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for BootstrapLine {
    type Err = BootstrapLineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn check_socket_path(path: &str) -> Result<(), BootstrapLineError> {
    const NAME: &str = "address";
    const EXPECTED: &str = "an absolute Unix socket path of at most 107 bytes";
    if path.is_empty() {
        return Err(bad(
            4,
            NAME,
            EXPECTED,
            path,
            "print the path the plugin bound its socket to",
        ));
    }
    if !path.starts_with('/') {
        return Err(bad(
            4,
            NAME,
            EXPECTED,
            path,
            "print the absolute path (inside PLUGIN_UNIX_SOCKET_DIR)",
        ));
    }
    if path.len() > MAX_SOCKET_PATH_LEN {
        return Err(bad(
            4,
            NAME,
            EXPECTED,
            path,
            "Unix socket paths are limited to 107 bytes; bind inside PLUGIN_UNIX_SOCKET_DIR, which the host keeps short",
        ));
    }
    if path.chars().any(char::is_control) {
        return Err(bad(
            4,
            NAME,
            EXPECTED,
            path,
            "the path must not contain control characters",
        ));
    }
    Ok(())
}

fn bad(
    index: usize,
    name: &'static str,
    expected: &'static str,
    seen: &str,
    fix: &'static str,
) -> BootstrapLineError {
    BootstrapLineError::BadField {
        index,
        name,
        expected,
        seen: seen.to_owned(),
        fix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_err(line: &str) -> usize {
        BootstrapLine::parse(line)
            .expect_err(line)
            .field_index()
            .unwrap_or_else(|| panic!("{line}: not a field error"))
    }

    #[test]
    fn round_trips() {
        let cases = [
            BootstrapLine::new(1, "/tmp/a.sock"),
            BootstrapLine::new(7, "/run/user/1000/pw-x/plugin.sock"),
            BootstrapLine {
                server_cert: Some("AAEC".into()),
                ..BootstrapLine::new(1, "/s")
            },
            BootstrapLine {
                multiplex: Some(true),
                ..BootstrapLine::new(1, "/s")
            },
            BootstrapLine {
                server_cert: Some("AAEC".into()),
                multiplex: Some(false),
                ..BootstrapLine::new(2, "/s")
            },
        ];
        for line in cases {
            let text = line.to_line();
            assert_eq!(BootstrapLine::parse_line(text.as_bytes()).unwrap(), line);
            assert_eq!(text.trim_end().parse::<BootstrapLine>().unwrap(), line);
        }
    }

    #[test]
    fn formats_like_go_plugin() {
        assert_eq!(
            BootstrapLine::new(1, "/tmp/plugin2464377327").to_line(),
            "1|1|unix|/tmp/plugin2464377327|grpc|\n"
        );
    }

    #[test]
    fn accepts_go_plugin_variants() {
        // Five fields (no certificate field at all), six, and seven.
        assert!(BootstrapLine::parse("1|1|unix|/s|grpc").is_ok());
        assert!(BootstrapLine::parse("1|1|unix|/s|grpc|").is_ok());
        assert!(BootstrapLine::parse("1|1|unix|/s|grpc||true").is_ok());
        assert!(BootstrapLine::parse_line(b"1|1|unix|/s|grpc|\r\n").is_ok());
    }

    #[test]
    fn rejects_bad_core_version() {
        for line in [
            "2|1|unix|/s|grpc|",
            "|1|unix|/s|grpc|",
            "01|1|unix|/s|grpc|",
            " 1|1|unix|/s|grpc|",
        ] {
            assert_eq!(field_err(line), 1, "{line}");
        }
    }

    #[test]
    fn rejects_bad_app_version() {
        for line in [
            "1|0|unix|/s|grpc|",
            "1||unix|/s|grpc|",
            "1|x|unix|/s|grpc|",
            "1|-1|unix|/s|grpc|",
            "1|1.0|unix|/s|grpc|",
            "1|4294967296|unix|/s|grpc|",
        ] {
            assert_eq!(field_err(line), 2, "{line}");
        }
    }

    #[test]
    fn rejects_bad_network() {
        for line in [
            "1|1|tcp|127.0.0.1:1|grpc|",
            "1|1||/s|grpc|",
            "1|1|UNIX|/s|grpc|",
        ] {
            assert_eq!(field_err(line), 3, "{line}");
        }
        let msg = BootstrapLine::parse("1|1|tcp|127.0.0.1:1|grpc|")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("Unix socket"), "{msg}");
    }

    #[test]
    fn rejects_bad_address() {
        let long = format!("/{}", "a".repeat(107));
        for line in [
            "1|1|unix||grpc|".to_owned(),
            "1|1|unix|relative.sock|grpc|".to_owned(),
            format!("1|1|unix|{long}|grpc|"),
            "1|1|unix|/a\tb|grpc|".to_owned(),
        ] {
            assert_eq!(field_err(&line), 4, "{line}");
        }
        // 107 bytes is the longest path that fits in sun_path.
        let max = format!("/{}", "a".repeat(106));
        assert!(BootstrapLine::parse(&format!("1|1|unix|{max}|grpc|")).is_ok());
    }

    #[test]
    fn rejects_bad_protocol() {
        for line in [
            "1|1|unix|/s|netrpc|",
            "1|1|unix|/s||",
            "1|1|unix|/s|GRPC|",
            "1|1|unix|/s|http|",
        ] {
            assert_eq!(field_err(line), 5, "{line}");
        }
    }

    #[test]
    fn rejects_bad_certificate_and_multiplex() {
        assert_eq!(field_err("1|1|unix|/s|grpc|not base64!|"), 6);
        assert_eq!(
            field_err("1|1|unix|/s|grpc|AAE=|"),
            6,
            "padding is not go-plugin's"
        );
        assert_eq!(field_err("1|1|unix|/s|grpc||yes"), 7);
        assert_eq!(field_err("1|1|unix|/s|grpc||"), 7);
    }

    #[test]
    fn rejects_wrong_field_counts() {
        for line in [
            "1|1|unix|/s",
            "1",
            "hello world",
            "1|1|unix|/s|grpc||true|x",
        ] {
            assert!(
                matches!(
                    BootstrapLine::parse(line),
                    Err(BootstrapLineError::FieldCount { .. })
                ),
                "{line}"
            );
        }
    }

    #[test]
    fn rejects_empty_and_missing_newline() {
        assert_eq!(BootstrapLine::parse(""), Err(BootstrapLineError::Empty));
        assert_eq!(
            BootstrapLine::parse_line(b"\n"),
            Err(BootstrapLineError::Empty)
        );
        assert_eq!(
            BootstrapLine::parse_line(b"1|1|unix|/s|gr"),
            Err(BootstrapLineError::MissingNewline {
                seen: "1|1|unix|/s|gr".into()
            })
        );
        assert!(matches!(
            BootstrapLine::parse_line(b""),
            Err(BootstrapLineError::MissingNewline { .. })
        ));
    }

    #[test]
    fn rejects_overlong_lines() {
        let long = format!("1|1|unix|/s|grpc|{}\n", "A".repeat(MAX_BOOTSTRAP_LINE_LEN));
        assert!(matches!(
            BootstrapLine::parse_line(long.as_bytes()),
            Err(BootstrapLineError::TooLong { .. })
        ));
        assert!(matches!(
            BootstrapLine::parse(long.trim_end()),
            Err(BootstrapLineError::TooLong { .. })
        ));
    }

    #[test]
    fn rejects_non_utf8() {
        assert_eq!(
            BootstrapLine::parse_line(b"1|1|unix|/s\xff|grpc|\n"),
            Err(BootstrapLineError::NotUtf8 { offset: 11 })
        );
    }

    #[test]
    fn rejects_embedded_newline() {
        assert!(BootstrapLine::parse_line(b"1|1|unix|/s\n|grpc|\n").is_err());
    }

    #[test]
    fn socket_must_be_inside_dir() {
        let dir = Path::new("/run/pw/abc");
        let ok = BootstrapLine::new(1, "/run/pw/abc/plugin.sock");
        assert!(ok.check_socket_in_dir(dir).is_ok());
        for outside in [
            "/run/pw/abc",
            "/run/pw/abcd/plugin.sock",
            "/run/pw/abc/../x.sock",
            "/tmp/plugin.sock",
        ] {
            let line = BootstrapLine::new(1, outside);
            assert!(
                matches!(
                    line.check_socket_in_dir(dir),
                    Err(BootstrapLineError::SocketOutsideDir { .. })
                ),
                "{outside}"
            );
        }
    }

    #[test]
    fn errors_quote_what_was_seen_and_how_to_fix() {
        let msg = BootstrapLine::parse("1|1|unix|/s|netrpc|")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("field 5"), "{msg}");
        assert!(msg.contains("\"netrpc\""), "{msg}");
        assert!(msg.contains("GRPCServer"), "{msg}");
        let msg = BootstrapLine::parse("hello").unwrap_err().to_string();
        assert!(
            msg.contains("\"hello\"") && msg.contains("1|1|unix|"),
            "{msg}"
        );
    }
}
