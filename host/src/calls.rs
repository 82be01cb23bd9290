//! What a tool call or a command run is given and gives back: the
//! application's side of tools and commands, without I/O.

use std::collections::BTreeMap;
use std::time::Duration;

use plugwire_proto::pb;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Options of one tool call.
///
/// ```
/// use std::time::Duration;
/// let options = plugwire_host::CallOptions::default().timeout(Duration::from_secs(5));
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) cancel: Option<CancellationToken>,
    pub(crate) progress: Option<mpsc::Sender<Progress>>,
    /// How deep in a chain of tool calls this one is (PW-HOST-6), and in
    /// which chain; `None` starts a new chain.
    pub(crate) depth: u32,
    pub(crate) chain: Option<crate::call_chains::ChainId>,
    /// Who asks, for the audit log (`app` when unsaid).
    pub(crate) actor: Option<std::sync::Arc<str>>,
}

impl CallOptions {
    /// The call's deadline (capped by the host's and the manifest's).
    ///
    /// ```
    /// let o = plugwire_host::CallOptions::default().timeout(std::time::Duration::from_millis(500));
    /// # let _ = o;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Who asks for the call, as the audit log records it (`token:ci`,
    /// `cli:ada`, `mcp`); `app` when unsaid.
    ///
    /// ```
    /// let o = plugwire_host::CallOptions::default().actor("token:ci");
    /// # let _ = o;
    /// ```
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into().into());
        self
    }

    /// Cancels the call when `token` is cancelled.
    ///
    /// ```
    /// let token = tokio_util::sync::CancellationToken::new();
    /// let o = plugwire_host::CallOptions::default().cancel(token.clone());
    /// # let _ = o;
    /// ```
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Receives progress reports, when the plugin sends them.
    ///
    /// ```
    /// let (tx, _rx) = tokio::sync::mpsc::channel(16);
    /// let o = plugwire_host::CallOptions::default().progress(tx);
    /// # let _ = o;
    /// ```
    pub fn progress(mut self, sender: mpsc::Sender<Progress>) -> Self {
        self.progress = Some(sender);
        self
    }
}

/// A progress report of a running tool.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Work done.
    pub progress: f64,
    /// Total work, when known.
    pub total: Option<f64>,
    /// Status text.
    pub message: String,
}

/// A tool's result.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// The tool reported a failure of its own (PW-TOOL-6).
    pub is_error: bool,
    /// The result content.
    pub content: Value,
}

/// A tool offered by a loaded plugin.
#[derive(Debug, Clone)]
pub struct ToolInfo {
    /// The plugin offering it.
    pub plugin: String,
    /// The tool's own name.
    pub name: String,
    /// `<plugin>.<name>`.
    pub qualified: String,
    /// Whether the bare name is unambiguous.
    pub bare_ok: bool,
    /// Description.
    pub description: String,
    /// Input JSON Schema.
    pub input_schema: Value,
    /// Output JSON Schema, if declared.
    pub output_schema: Option<Value>,
    /// Behaviour hints.
    pub annotations: pb::ToolAnnotations,
}

/// A command offered by a loaded plugin.
#[derive(Debug, Clone)]
pub struct CommandInfo {
    /// The plugin offering it.
    pub plugin: String,
    /// Full name (parent path and name).
    pub full_name: String,
    /// The declaration.
    pub declaration: pb::Command,
}

/// A signal to forward to a running command.
pub use plugwire_proto::pb::Signal as CommandSignal;

/// Options of a command run.
#[derive(Debug, Default)]
pub struct RunOptions {
    /// Environment passed to the command (an allow-list chosen by the caller).
    pub env: BTreeMap<String, String>,
    /// Terminal size (columns, rows) when stdout is a terminal.
    pub terminal: Option<(u32, u32)>,
    /// Signals to forward while it runs.
    pub signals: Option<mpsc::Receiver<CommandSignal>>,
}
