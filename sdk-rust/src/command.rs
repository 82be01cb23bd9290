//! CLI commands: declared flags and arguments, streamed stdio, exit codes.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use plugwire_proto::constants::MAX_STDIO_CHUNK;
use plugwire_proto::pb;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::io::StreamReader;
use tokio_util::sync::{CancellationToken, PollSender};

use crate::error::BoxError;
use crate::handle::PluginHandle;

type Handler = Arc<
    dyn Fn(CommandContext, CommandIo) -> BoxFuture<'static, Result<i32, BoxError>> + Send + Sync,
>;

/// A command under construction: name, help, flags and arguments. Finish it
/// with [`CommandSpec::run`].
///
/// ```
/// use plugwire_sdk::{Arg, Command, CommandContext, CommandIo, Flag};
/// let greet = Command::new("greet")
///     .short("Greets someone")
///     .usage("greet [--shout] NAME")
///     .flag(Flag::bool("shout").short('s').help("Use capitals"))
///     .arg(Arg::new("name").required())
///     .run(|cx: CommandContext, mut io: CommandIo| async move {
///         let mut text = format!("hello, {}\n", cx.args[0]);
///         if cx.flag_bool("shout") { text = text.to_uppercase(); }
///         io.stdout.print(&text).await?;
///         Ok(0)
///     });
/// assert_eq!(greet.name(), "greet");
/// ```
#[derive(Debug, Clone)]
pub struct CommandSpec {
    decl: pb::Command,
}

/// A command ready to be added to a [`Plugin`](crate::Plugin).
#[derive(Clone)]
pub struct Command {
    pub(crate) decl: pb::Command,
    pub(crate) handler: Handler,
}

impl Command {
    /// Starts declaring a command named `name`.
    ///
    /// ```
    /// let spec = plugwire_sdk::Command::new("wc");
    /// # let _ = spec;
    /// ```
    #[allow(clippy::new_ret_no_self)]
    pub fn new(name: impl Into<String>) -> CommandSpec {
        CommandSpec {
            decl: pb::Command {
                name: name.into(),
                ..Default::default()
            },
        }
    }

    /// The command's name.
    ///
    /// ```
    /// # use plugwire_sdk::{Command, CommandContext, CommandIo};
    /// let c = Command::new("x").run(|_cx: CommandContext, _io: CommandIo| async { Ok(0) });
    /// assert_eq!(c.name(), "x");
    /// ```
    pub fn name(&self) -> &str {
        &self.decl.name
    }

    /// The declaration as sent in `ListCommands`.
    ///
    /// ```
    /// # use plugwire_sdk::{Command, CommandContext, CommandIo};
    /// let c = Command::new("x").short("does x").run(|_cx: CommandContext, _io: CommandIo| async { Ok(0) });
    /// assert_eq!(c.declaration().short, "does x");
    /// ```
    pub fn declaration(&self) -> pb::Command {
        self.decl.clone()
    }
}

impl CommandSpec {
    /// Space-separated parent path, for a subcommand such as `remote add`.
    ///
    /// ```
    /// let spec = plugwire_sdk::Command::new("add").parent("remote");
    /// # let _ = spec;
    /// ```
    pub fn parent(mut self, parent: impl Into<String>) -> Self {
        self.decl.parent = parent.into();
        self
    }

    /// One-line usage synopsis.
    ///
    /// ```
    /// let spec = plugwire_sdk::Command::new("wc").usage("wc [FILE...]");
    /// # let _ = spec;
    /// ```
    pub fn usage(mut self, usage: impl Into<String>) -> Self {
        self.decl.usage = usage.into();
        self
    }

    /// One-line description.
    ///
    /// ```
    /// let spec = plugwire_sdk::Command::new("wc").short("Counts words");
    /// # let _ = spec;
    /// ```
    pub fn short(mut self, text: impl Into<String>) -> Self {
        self.decl.short = text.into();
        self
    }

    /// Longer help text.
    ///
    /// ```
    /// let spec = plugwire_sdk::Command::new("wc").long("Counts lines, words and bytes.");
    /// # let _ = spec;
    /// ```
    pub fn long(mut self, text: impl Into<String>) -> Self {
        self.decl.long = text.into();
        self
    }

    /// An alternative name.
    ///
    /// ```
    /// let spec = plugwire_sdk::Command::new("remove").alias("rm");
    /// # let _ = spec;
    /// ```
    pub fn alias(mut self, alias: impl Into<String>) -> Self {
        self.decl.aliases.push(alias.into());
        self
    }

    /// Adds a flag.
    ///
    /// ```
    /// use plugwire_sdk::{Command, Flag};
    /// let spec = Command::new("wc").flag(Flag::bool("lines").short('l'));
    /// # let _ = spec;
    /// ```
    pub fn flag(mut self, flag: Flag) -> Self {
        self.decl.flags.push(flag.decl);
        self
    }

    /// Adds a positional argument.
    ///
    /// ```
    /// use plugwire_sdk::{Arg, Command};
    /// let spec = Command::new("wc").arg(Arg::new("file").variadic());
    /// # let _ = spec;
    /// ```
    pub fn arg(mut self, arg: Arg) -> Self {
        self.decl.args.push(arg.decl);
        self
    }

    /// Finishes the command with its handler. The handler returns the exit
    /// code; an `Err` is printed on stderr and exits 1.
    ///
    /// ```
    /// use plugwire_sdk::{Command, CommandContext, CommandIo};
    /// let cmd = Command::new("true").run(|_cx: CommandContext, _io: CommandIo| async { Ok(0) });
    /// # let _ = cmd;
    /// ```
    pub fn run<F, Fut>(self, handler: F) -> Command
    where
        F: Fn(CommandContext, CommandIo) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<i32, BoxError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        Command {
            decl: self.decl,
            handler: Arc::new(move |cx, io| Box::pin(handler(cx, io))),
        }
    }
}

/// A flag declaration (PW-CMD-2).
///
/// ```
/// use plugwire_sdk::Flag;
/// let depth = Flag::int("depth").short('d').default(3).help("How deep to look");
/// # let _ = depth;
/// ```
#[derive(Debug, Clone)]
pub struct Flag {
    decl: pb::Flag,
}

impl Flag {
    fn typed(name: impl Into<String>, ty: pb::FlagType) -> Self {
        Self {
            decl: pb::Flag {
                name: name.into(),
                r#type: ty as i32,
                ..Default::default()
            },
        }
    }

    /// A switch: present means true. Defaults to `false`.
    ///
    /// ```
    /// let f = plugwire_sdk::Flag::bool("verbose");
    /// # let _ = f;
    /// ```
    pub fn bool(name: impl Into<String>) -> Self {
        Self::typed(name, pb::FlagType::Bool).default(false)
    }

    /// A string value.
    ///
    /// ```
    /// let f = plugwire_sdk::Flag::string("output");
    /// # let _ = f;
    /// ```
    pub fn string(name: impl Into<String>) -> Self {
        Self::typed(name, pb::FlagType::String)
    }

    /// A 64-bit integer value.
    ///
    /// ```
    /// let f = plugwire_sdk::Flag::int("jobs");
    /// # let _ = f;
    /// ```
    pub fn int(name: impl Into<String>) -> Self {
        Self::typed(name, pb::FlagType::Int)
    }

    /// A floating-point value.
    ///
    /// ```
    /// let f = plugwire_sdk::Flag::float("ratio");
    /// # let _ = f;
    /// ```
    pub fn float(name: impl Into<String>) -> Self {
        Self::typed(name, pb::FlagType::Float)
    }

    /// A repeatable string; the value is a list. Defaults to `[]`.
    ///
    /// ```
    /// let f = plugwire_sdk::Flag::string_list("tag");
    /// # let _ = f;
    /// ```
    pub fn string_list(name: impl Into<String>) -> Self {
        Self::typed(name, pb::FlagType::StringList).default(Vec::<String>::new())
    }

    /// One-letter short form.
    ///
    /// ```
    /// let f = plugwire_sdk::Flag::bool("lines").short('l');
    /// # let _ = f;
    /// ```
    pub fn short(mut self, letter: char) -> Self {
        self.decl.short = letter.to_string();
        self
    }

    /// Help text.
    ///
    /// ```
    /// let f = plugwire_sdk::Flag::bool("lines").help("Print the line count");
    /// # let _ = f;
    /// ```
    pub fn help(mut self, text: impl Into<String>) -> Self {
        self.decl.description = text.into();
        self
    }

    /// Default value.
    ///
    /// ```
    /// let f = plugwire_sdk::Flag::string("format").default("table");
    /// # let _ = f;
    /// ```
    pub fn default(mut self, value: impl Serialize) -> Self {
        self.decl.default_json = serde_json::to_string(&value).unwrap_or_default();
        self
    }

    /// The command cannot run without this flag (clears any default).
    ///
    /// ```
    /// let f = plugwire_sdk::Flag::string("target").required();
    /// # let _ = f;
    /// ```
    pub fn required(mut self) -> Self {
        self.decl.required = true;
        self.decl.default_json.clear();
        self
    }
}

/// A positional argument declaration.
///
/// ```
/// let files = plugwire_sdk::Arg::new("file").help("Files to read").variadic();
/// # let _ = files;
/// ```
#[derive(Debug, Clone)]
pub struct Arg {
    decl: pb::Arg,
}

impl Arg {
    /// An optional argument named `name`.
    ///
    /// ```
    /// let a = plugwire_sdk::Arg::new("path");
    /// # let _ = a;
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            decl: pb::Arg {
                name: name.into(),
                ..Default::default()
            },
        }
    }

    /// Help text.
    ///
    /// ```
    /// let a = plugwire_sdk::Arg::new("path").help("Where to write");
    /// # let _ = a;
    /// ```
    pub fn help(mut self, text: impl Into<String>) -> Self {
        self.decl.description = text.into();
        self
    }

    /// The argument must be given.
    ///
    /// ```
    /// let a = plugwire_sdk::Arg::new("path").required();
    /// # let _ = a;
    /// ```
    pub fn required(mut self) -> Self {
        self.decl.required = true;
        self
    }

    /// The argument takes all remaining values (last argument only).
    ///
    /// ```
    /// let a = plugwire_sdk::Arg::new("files").variadic();
    /// # let _ = a;
    /// ```
    pub fn variadic(mut self) -> Self {
        self.decl.variadic = true;
        self
    }
}

/// A signal the user sent to a running command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Ctrl-C.
    Interrupt,
    /// A polite termination request.
    Terminate,
    /// The terminal went away.
    Hangup,
}

/// What a running command was invoked with (PW-CMD-9). Dereferences to
/// [`PluginHandle`] for configuration and host access.
///
/// ```
/// use plugwire_sdk::CommandContext;
/// fn describe(cx: &CommandContext) -> String {
///     format!("{} {:?} lines={}", cx.command, cx.args, cx.flag_bool("lines"))
/// }
/// ```
#[derive(Clone)]
pub struct CommandContext {
    /// Full command name (parent path and name).
    pub command: String,
    /// Raw arguments after the command name.
    pub argv: Vec<String>,
    /// Parsed flags by long name, defaults applied.
    pub flags: Map<String, Value>,
    /// Positional arguments.
    pub args: Vec<String>,
    /// Environment variables the host passed on.
    pub env: HashMap<String, String>,
    /// Terminal size (columns, rows) when stdout is a terminal.
    pub terminal: Option<(u32, u32)>,
    pub(crate) plugin: PluginHandle,
    pub(crate) cancel: CancellationToken,
    pub(crate) signals: watch::Receiver<Option<Signal>>,
}

impl CommandContext {
    /// A boolean flag's value (`false` when absent).
    ///
    /// ```
    /// # use plugwire_sdk::CommandContext;
    /// fn lines_only(cx: &CommandContext) -> bool { cx.flag_bool("lines") }
    /// ```
    pub fn flag_bool(&self, name: &str) -> bool {
        self.flags
            .get(name)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// A string flag's value.
    ///
    /// ```
    /// # use plugwire_sdk::CommandContext;
    /// fn output(cx: &CommandContext) -> &str { cx.flag_str("output").unwrap_or("-") }
    /// ```
    pub fn flag_str(&self, name: &str) -> Option<&str> {
        self.flags.get(name).and_then(Value::as_str)
    }

    /// Any flag deserialized as `T`; `Ok(None)` when absent.
    ///
    /// ```
    /// # use plugwire_sdk::CommandContext;
    /// fn tags(cx: &CommandContext) -> Vec<String> {
    ///     cx.flag::<Vec<String>>("tag").ok().flatten().unwrap_or_default()
    /// }
    /// ```
    pub fn flag<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, serde_json::Error> {
        self.flags
            .get(name)
            .map(|v| serde_json::from_value(v.clone()))
            .transpose()
    }

    /// Resolves when the run is cancelled (the host gave up or the plugin is
    /// shutting down).
    ///
    /// ```
    /// # use plugwire_sdk::CommandContext;
    /// async fn wait(cx: &CommandContext) { cx.cancelled().await }
    /// ```
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    /// Resolves with the next signal the user sends, or never if none comes
    /// before the run ends.
    ///
    /// ```
    /// # use plugwire_sdk::{CommandContext, Signal};
    /// async fn until_ctrl_c(cx: &CommandContext) -> i32 {
    ///     match cx.signal().await { Signal::Interrupt => 130, _ => 143 }
    /// }
    /// ```
    pub async fn signal(&self) -> Signal {
        let mut signals = self.signals.clone();
        loop {
            if let Some(signal) = *signals.borrow_and_update() {
                return signal;
            }
            if signals.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

impl Deref for CommandContext {
    type Target = PluginHandle;

    fn deref(&self) -> &PluginHandle {
        &self.plugin
    }
}

/// A command's standard streams.
///
/// ```
/// use plugwire_sdk::CommandIo;
/// async fn upper(mut io: CommandIo) -> std::io::Result<()> {
///     let input = io.stdin.read_all(1 << 20).await?;
///     io.stdout.write(&input.to_ascii_uppercase()).await
/// }
/// ```
pub struct CommandIo {
    /// Standard input, ending when the host closes it (PW-CMD-5).
    pub stdin: Stdin,
    /// Standard output.
    pub stdout: Output,
    /// Standard error.
    pub stderr: Output,
}

type StdinStream = ReceiverStream<io::Result<Bytes>>;

/// A command's standard input: an [`AsyncRead`] fed by `stdin` messages.
///
/// ```
/// use tokio::io::AsyncBufReadExt;
/// async fn count_lines(stdin: plugwire_sdk::Stdin) -> std::io::Result<usize> {
///     let mut lines = tokio::io::BufReader::new(stdin).lines();
///     let mut n = 0;
///     while lines.next_line().await?.is_some() { n += 1; }
///     Ok(n)
/// }
/// ```
pub struct Stdin {
    reader: StreamReader<StdinStream, Bytes>,
}

impl Stdin {
    pub(crate) fn new(receiver: mpsc::Receiver<io::Result<Bytes>>) -> Self {
        Self {
            reader: StreamReader::new(ReceiverStream::new(receiver)),
        }
    }

    /// Reads all of stdin, failing if it exceeds `limit` bytes.
    ///
    /// ```
    /// async fn slurp(mut stdin: plugwire_sdk::Stdin) -> std::io::Result<Vec<u8>> {
    ///     stdin.read_all(16 << 20).await
    /// }
    /// ```
    pub async fn read_all(&mut self, limit: usize) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        let read = (&mut self.reader)
            .take(limit as u64 + 1)
            .read_to_end(&mut buf)
            .await?;
        if read > limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("stdin is larger than the {limit}-byte limit"),
            ));
        }
        Ok(buf)
    }
}

impl AsyncRead for Stdin {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().reader).poll_read(cx, buf)
    }
}

#[derive(Clone, Copy)]
pub(crate) enum StreamKind {
    Stdout,
    Stderr,
}

pub(crate) type ResponseSender = mpsc::Sender<Result<pb::RunCommandResponse, tonic::Status>>;

/// A command's stdout or stderr: an [`AsyncWrite`] that sends chunks of at
/// most 64 KiB, in order (PW-CMD-6). Each write is one message, so wrap it
/// in a `tokio::io::BufWriter` when writing many small pieces.
///
/// ```
/// async fn hello(mut out: plugwire_sdk::Output) -> std::io::Result<()> {
///     out.print("hello\n").await
/// }
/// ```
pub struct Output {
    sender: PollSender<Result<pb::RunCommandResponse, tonic::Status>>,
    kind: StreamKind,
}

impl Output {
    pub(crate) fn new(sender: ResponseSender, kind: StreamKind) -> Self {
        Self {
            sender: PollSender::new(sender),
            kind,
        }
    }

    /// Writes all of `bytes`.
    ///
    /// ```
    /// async fn raw(mut out: plugwire_sdk::Output) -> std::io::Result<()> {
    ///     out.write(b"\x00\x01").await
    /// }
    /// ```
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes).await
    }

    /// Writes a string.
    ///
    /// ```
    /// async fn greet(mut out: plugwire_sdk::Output) -> std::io::Result<()> {
    ///     out.print("hi\n").await
    /// }
    /// ```
    pub async fn print(&mut self, text: &str) -> io::Result<()> {
        self.write_all(text.as_bytes()).await
    }
}

fn closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the host stopped reading this command's output",
    )
}

impl AsyncWrite for Output {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(this.sender.poll_reserve(cx)).map_err(|_| closed())?;
        let n = buf.len().min(MAX_STDIO_CHUNK);
        let chunk = buf[..n].to_vec();
        let message = match this.kind {
            StreamKind::Stdout => pb::run_command_response::Message::Stdout(chunk),
            StreamKind::Stderr => pb::run_command_response::Message::Stderr(chunk),
        };
        this.sender
            .send_item(Ok(pb::RunCommandResponse {
                message: Some(message),
            }))
            .map_err(|_| closed())?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
