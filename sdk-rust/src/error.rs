//! Error types of the SDK.

use std::fmt;

use serde_json::Value;

/// A boxed error, what hook and command handlers may return with `?`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a tool call did not produce a normal result.
///
/// Most tool failures are the tool's own (a file is missing, a remote system
/// said no): they become a result with `is_error = true` that the caller can
/// read (PW-TOOL-6). Any `std::error::Error` converts into such a failure, so
/// `?` works in tool handlers. Protocol-level problems become a gRPC status.
///
/// ```
/// use plugwire_sdk::ToolError;
///
/// fn open(path: &str) -> Result<String, ToolError> {
///     Ok(std::fs::read_to_string(path)?) // io::Error -> is_error result
/// }
/// let failure = ToolError::new("no such user: bob");
/// assert_eq!(failure.to_string(), "no such user: bob");
/// # let _ = open;
/// ```
#[derive(Debug)]
pub struct ToolError {
    pub(crate) kind: ToolErrorKind,
}

#[derive(Debug)]
pub(crate) enum ToolErrorKind {
    /// The tool failed; the content is returned with `is_error = true`.
    Failure(Value),
    /// A protocol error, returned as a gRPC status.
    Status(tonic::Status),
}

impl ToolError {
    /// A tool failure whose content is `message` (a JSON string).
    ///
    /// ```
    /// # use plugwire_sdk::ToolError;
    /// let e = ToolError::new("quota exceeded");
    /// # let _ = e;
    /// ```
    pub fn new(message: impl fmt::Display) -> Self {
        Self {
            kind: ToolErrorKind::Failure(Value::String(message.to_string())),
        }
    }

    /// A tool failure with structured JSON content.
    ///
    /// ```
    /// # use plugwire_sdk::ToolError;
    /// let e = ToolError::with_content(serde_json::json!({"code": 404, "message": "not found"}));
    /// # let _ = e;
    /// ```
    pub fn with_content(content: Value) -> Self {
        Self {
            kind: ToolErrorKind::Failure(content),
        }
    }

    /// Rejects the arguments with `INVALID_ARGUMENT`, naming the field by its
    /// JSON pointer (PW-TOOL-5), for checks a schema cannot express.
    ///
    /// ```
    /// # use plugwire_sdk::ToolError;
    /// let e = ToolError::invalid_argument("/end", "must not be before /start");
    /// assert!(e.to_string().contains("arguments /end"));
    /// ```
    pub fn invalid_argument(pointer: &str, problem: impl fmt::Display) -> Self {
        Self::status(tonic::Status::invalid_argument(
            plugwire_proto::problem::located("arguments", pointer, problem),
        ))
    }

    /// Ends the call with an arbitrary gRPC status.
    ///
    /// ```
    /// # use plugwire_sdk::ToolError;
    /// let e = ToolError::status(tonic::Status::unavailable("backend down"));
    /// # let _ = e;
    /// ```
    pub fn status(status: tonic::Status) -> Self {
        Self {
            kind: ToolErrorKind::Status(status),
        }
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ToolErrorKind::Failure(Value::String(s)) => f.write_str(s),
            ToolErrorKind::Failure(v) => write!(f, "{v}"),
            ToolErrorKind::Status(s) => write!(f, "{}", s.message()),
        }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for ToolError {
    fn from(error: E) -> Self {
        Self::new(error)
    }
}

/// A configuration the plugin rejects (PW-CFG-2).
///
/// ```
/// use plugwire_sdk::ConfigError;
/// let e = ConfigError::new("/retries", "expected an integer");
/// assert_eq!(e.to_string(), "config /retries: expected an integer");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config {pointer}: {problem}")]
pub struct ConfigError {
    /// JSON pointer of the offending value (`""` for the whole document).
    pub pointer: String,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    /// A problem at `pointer`.
    ///
    /// ```
    /// # use plugwire_sdk::ConfigError;
    /// let e = ConfigError::new("", "expected an object");
    /// # let _ = e;
    /// ```
    pub fn new(pointer: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            problem: problem.into(),
        }
    }
}

/// Why [`serve`](crate::serve) could not run the plugin.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The plugin was started without the magic cookie (PW-BOOT-1).
    #[error(
        "this is a plugwire plugin; run it through a plugwire host (for example `plugwire --plugin-dir <dir> list`), not directly"
    )]
    NoCookie,
    /// The host and the plugin share no protocol version (PW-BOOT-3).
    #[error("{0}")]
    Version(String),
    /// The environment lacks something the protocol requires.
    #[error("{0}")]
    Environment(String),
    /// The plugin's declarations break the protocol's rules.
    #[error("invalid plugin declaration:\n  {}", .0.join("\n  "))]
    Declaration(Vec<String>),
    /// Binding or serving failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// `HostService` is not available to this plugin: the host did not offer it,
/// or the handshake has not happened yet.
///
/// ```
/// # use plugwire_sdk::HostUnavailable;
/// assert!(HostUnavailable.to_string().contains("host"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the host service is not available: the host did not list feature `host.service` in the handshake, or the handshake has not happened yet"
)]
pub struct HostUnavailable;
