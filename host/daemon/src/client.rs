//! A client of the daemon over its Unix socket (through `hyperlocal`),
//! for the CLI and any Rust program. It talks only to a daemon run by its
//! own user: the socket's peer is checked before the first request.

use std::path::{Path, PathBuf};

use base64::Engine;
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response};
use hyper_util::client::legacy::Client as HyperClient;
use hyperlocal::{UnixConnector, Uri};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::api::{ApiError, RunFrame};

/// Largest JSON answer read.
const MAX_ANSWER: usize = 64 << 20;
/// Longest line of a stream (a server-sent event or a run frame).
const MAX_LINE: usize = 8 << 20;

type Body = BoxBody<Bytes, std::io::Error>;

/// A connection to a running daemon.
#[derive(Clone)]
pub struct Client {
    socket: PathBuf,
    http: HyperClient<UnixConnector, Body>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("socket", &self.socket)
            .finish()
    }
}

/// One server-sent event: its name and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEvent {
    /// `event:` (`message` when absent).
    pub event: String,
    /// `data:` lines, joined.
    pub data: String,
}

impl Client {
    /// Connects to the daemon at `socket`, after checking that it runs as
    /// this user. Fails with `unavailable` when none answers there.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let dir = tempfile::tempdir().unwrap();
    /// let e = plugwire_daemon::Client::connect(&dir.path().join("daemon.sock")).await.unwrap_err();
    /// assert_eq!(e.code, "unavailable");
    /// # }
    /// ```
    pub async fn connect(socket: &Path) -> Result<Self, ApiError> {
        let unreachable = |why: String| {
            ApiError::new(
                "unavailable",
                format!("no daemon answers at {}: {why}", socket.display()),
            )
            .with_hint("`plugwire serve` starts one")
        };
        let probe = tokio::net::UnixStream::connect(socket)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let ours = nix::unistd::geteuid().as_raw();
        let peer = probe.peer_cred().map_err(|e| unreachable(e.to_string()))?;
        if peer.uid() != ours {
            return Err(ApiError::new(
                "permission_denied",
                format!(
                    "the daemon at {} runs as uid {}, not as this user ({ours})",
                    socket.display(),
                    peer.uid()
                ),
            )
            .with_hint("remove the socket, or pass --no-daemon"));
        }
        drop(probe);
        let http = HyperClient::builder(hyper_util::rt::TokioExecutor::new()).build(UnixConnector);
        Ok(Self {
            socket: socket.to_owned(),
            http,
        })
    }

    /// The daemon's socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends a request and returns the response once its headers arrive;
    /// an error status is read as the API's error body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Body,
        accept: &str,
    ) -> Result<Response<Incoming>, ApiError> {
        let uri: hyper::Uri = Uri::new(&self.socket, path).into();
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(hyper::header::ACCEPT, accept)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(body)
            .map_err(|e| ApiError::new("invalid_argument", e.to_string()))?;
        let response = self.http.request(request).await.map_err(|e| {
            ApiError::new(
                "unavailable",
                format!(
                    "the daemon at {} did not answer: {e}",
                    self.socket.display()
                ),
            )
            .with_hint("`plugwire status` checks it; --no-daemon runs without it")
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let bytes = read_capped(response.into_body(), MAX_ANSWER).await?;
        Err(
            serde_json::from_slice::<ApiError>(&bytes).unwrap_or_else(|_| {
                ApiError::new(
                    "internal",
                    format!(
                        "the daemon answered {status}: {}",
                        String::from_utf8_lossy(&bytes)
                    ),
                )
            }),
        )
    }

    /// `GET path`, read as JSON.
    ///
    /// ```no_run
    /// # async fn f(client: plugwire_daemon::Client) -> Result<(), plugwire_daemon::api::ApiError> {
    /// let list: plugwire_daemon::api::PluginList = client.get("/v1/plugins").await?;
    /// assert!(list.plugins.iter().all(|p| !p.name.is_empty()));
    /// # Ok(()) }
    /// ```
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.send(Method::GET, path, None).await
    }

    /// A request with an optional JSON body, its answer read as JSON (an
    /// empty answer reads as `null`).
    pub async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, ApiError> {
        let body = body.map(|v| v.to_string()).unwrap_or_default();
        let response = self
            .request(method, path, full(body), "application/json")
            .await?;
        let bytes = read_capped(response.into_body(), MAX_ANSWER).await?;
        let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        serde_json::from_slice(bytes).map_err(|e| {
            ApiError::new(
                "internal",
                format!("the daemon's answer to {path} is not what this client reads: {e}"),
            )
            .with_hint("the daemon and this plugwire may be different versions")
        })
    }

    /// A request whose answer is server-sent events.
    ///
    /// ```no_run
    /// # async fn f(client: plugwire_daemon::Client) -> Result<(), plugwire_daemon::api::ApiError> {
    /// use futures_util::StreamExt;
    /// let body = serde_json::json!({"arguments": {}});
    /// let events = client.events(hyper::Method::POST, "/v1/tools/echo.slow/call", Some(&body)).await?;
    /// let last = events.map(|e| e.unwrap()).collect::<Vec<_>>().await.pop().unwrap();
    /// assert_eq!(last.event, "result");
    /// # Ok(()) }
    /// ```
    pub async fn events(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<impl Stream<Item = Result<ServerEvent, ApiError>> + use<>, ApiError> {
        let body = body.map(|v| v.to_string()).unwrap_or_default();
        let response = self
            .request(method, path, full(body), "text/event-stream")
            .await?;
        Ok(server_events(lines(response.into_body())))
    }

    /// Runs a command in the daemon: `stdin` is sent as it is read, stdout
    /// and stderr are written as they arrive; returns the exit code.
    ///
    /// ```no_run
    /// # async fn f(client: plugwire_daemon::Client) -> Result<(), plugwire_daemon::api::ApiError> {
    /// let mut out = Vec::new();
    /// let stdin = std::io::Cursor::new(b"one two\n".to_vec());
    /// let line = ["wc".to_owned(), "--words".to_owned()];
    /// let code = client.run(&line, &[], stdin, &mut out, tokio::io::sink()).await?;
    /// assert_eq!((code, out), (0, b"2\n".to_vec()));
    /// # Ok(()) }
    /// ```
    pub async fn run<I, O, E>(
        &self,
        line: &[String],
        env: &[(String, String)],
        stdin: I,
        mut stdout: O,
        mut stderr: E,
    ) -> Result<i32, ApiError>
    where
        I: AsyncRead + Send + Sync + 'static,
        O: AsyncWrite + Unpin,
        E: AsyncWrite + Unpin,
    {
        let Some((name, args)) = line.split_first() else {
            return Err(ApiError::new("invalid_argument", "no command given"));
        };
        let mut query = form_urlencoded::Serializer::new(String::new());
        for arg in args {
            query.append_pair("arg", arg);
        }
        for (k, v) in env {
            query.append_pair("env", &format!("{k}={v}"));
        }
        let path = format!(
            "/v1/commands/{}/run?{}",
            encode_segment(name),
            query.finish()
        );
        let input = tokio_util::io::ReaderStream::new(stdin).map_ok(Frame::data);
        let body = BodyExt::boxed(StreamBody::new(input));
        let response = self
            .request(Method::POST, &path, body, "application/x-ndjson")
            .await?;
        let mut frames = Box::pin(lines(response.into_body()));
        let b64 = base64::engine::general_purpose::STANDARD;
        let bad = |why: String| ApiError::new("internal", format!("a bad run frame: {why}"));
        while let Some(line) = frames.next().await {
            let line = line?;
            if line.is_empty() {
                continue;
            }
            match serde_json::from_str::<RunFrame>(&line).map_err(|e| bad(e.to_string()))? {
                RunFrame::Stdout(data) => {
                    let bytes = b64.decode(data).map_err(|e| bad(e.to_string()))?;
                    let _ = stdout.write_all(&bytes).await;
                    let _ = stdout.flush().await;
                }
                RunFrame::Stderr(data) => {
                    let bytes = b64.decode(data).map_err(|e| bad(e.to_string()))?;
                    let _ = stderr.write_all(&bytes).await;
                    let _ = stderr.flush().await;
                }
                RunFrame::Exit(code) => return Ok(code),
                RunFrame::Error(e) => return Err(e),
            }
        }
        Err(ApiError::new(
            "unavailable",
            "the daemon ended the run without an exit code",
        ))
    }
}

/// A body of bytes.
fn full(body: String) -> Body {
    Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed()
}

/// A path segment with everything but unreserved characters escaped.
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn read_capped(body: Incoming, cap: usize) -> Result<Bytes, ApiError> {
    let collected = http_body_util::Limited::new(body, cap)
        .collect()
        .await
        .map_err(|e| {
            ApiError::new(
                "unavailable",
                format!("cannot read the daemon's answer: {e}"),
            )
        })?;
    Ok(collected.to_bytes())
}

/// The lines of a streamed body (without their `\n`), each under
/// [`MAX_LINE`].
fn lines(body: Incoming) -> impl Stream<Item = Result<String, ApiError>> {
    let chunks = body.into_data_stream();
    futures_util::stream::unfold(
        (Box::pin(chunks), Vec::<u8>::new(), false),
        |(mut chunks, mut pending, mut done)| async move {
            loop {
                if let Some(end) = pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    let text = String::from_utf8_lossy(&line[..line.len() - 1])
                        .trim_end_matches('\r')
                        .to_owned();
                    return Some((Ok(text), (chunks, pending, done)));
                }
                if done {
                    if pending.is_empty() {
                        return None;
                    }
                    let text = String::from_utf8_lossy(&std::mem::take(&mut pending)).into_owned();
                    return Some((Ok(text), (chunks, pending, done)));
                }
                if pending.len() > MAX_LINE {
                    done = true;
                    pending.clear();
                    let e = ApiError::new("internal", "the daemon sent a line over 8 MiB");
                    return Some((Err(e), (chunks, pending, done)));
                }
                match chunks.next().await {
                    Some(Ok(chunk)) => pending.extend_from_slice(&chunk),
                    Some(Err(e)) => {
                        done = true;
                        pending.clear();
                        let e = ApiError::new("unavailable", format!("the stream broke: {e}"));
                        return Some((Err(e), (chunks, pending, done)));
                    }
                    None => done = true,
                }
            }
        },
    )
}

/// Server-sent events from lines: `event:` and `data:` fields, an empty
/// line ends one; comments (keep-alives) are skipped.
fn server_events(
    lines: impl Stream<Item = Result<String, ApiError>>,
) -> impl Stream<Item = Result<ServerEvent, ApiError>> {
    futures_util::stream::unfold(
        (Box::pin(lines), String::new(), Vec::<String>::new()),
        |(mut lines, mut event, mut data)| async move {
            loop {
                match lines.next().await {
                    None => return None,
                    Some(Err(e)) => return Some((Err(e), (lines, event, data))),
                    Some(Ok(line)) if line.is_empty() => {
                        if data.is_empty() {
                            continue;
                        }
                        let name = if event.is_empty() {
                            "message".to_owned()
                        } else {
                            std::mem::take(&mut event)
                        };
                        let done = ServerEvent {
                            event: name,
                            data: std::mem::take(&mut data).join("\n"),
                        };
                        return Some((Ok(done), (lines, event, data)));
                    }
                    Some(Ok(line)) => {
                        if let Some(v) = line.strip_prefix("event:") {
                            event = v.trim_start().to_owned();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                        }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn server_events_are_parsed() {
        let input = ": keep-alive\n\nevent: progress\ndata: {\"a\":1}\n\ndata: x\ndata: y\n\n";
        let lines = futures_util::stream::iter(
            input
                .split('\n')
                .map(|l| Ok::<_, ApiError>(l.to_owned()))
                .collect::<Vec<_>>(),
        );
        let events: Vec<ServerEvent> = server_events(lines).map(|e| e.unwrap()).collect().await;
        assert_eq!(
            events,
            [
                ServerEvent {
                    event: "progress".into(),
                    data: "{\"a\":1}".into()
                },
                ServerEvent {
                    event: "message".into(),
                    data: "x\ny".into()
                },
            ]
        );
    }

    #[test]
    fn segments_are_escaped() {
        assert_eq!(encode_segment("echo.echo"), "echo.echo");
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }
}
