//! Commands: list them, run one. A run streams both ways: the request
//! body is the command's stdin, the response is newline-delimited JSON
//! frames of its stdout and stderr and, last, its exit code.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use plugwire_host::RunOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::wrappers::ReceiverStream;

use super::Routes;
use crate::api::{ApiError, CommandView, PASSED_ENV, RunFrame};
use crate::need::Need;
use crate::state::State;
use crate::tokens::Scope::{Call, Read};

/// Bytes buffered between the command and the client, per stream.
const PIPE: usize = 64 * 1024;

pub(super) fn add(routes: Routes) -> Routes {
    routes
        .add(Method::GET, "/v1/commands", Need::Scope(Read), list)
        .add(
            Method::POST,
            "/v1/commands/{name}/run",
            Need::Scope(Call),
            run,
        )
}

async fn list(AxumState(state): AxumState<Arc<State>>) -> Json<Vec<CommandView>> {
    Json(
        state
            .host
            .commands()
            .await
            .iter()
            .map(CommandView::from)
            .collect(),
    )
}

/// `?arg=A&arg=B&env=TERM=xterm`: the command's arguments, and the
/// caller's environment from the allowed names.
fn line_and_env(name: String, query: Option<&str>) -> Result<(Vec<String>, RunOptions), ApiError> {
    let mut line = vec![name];
    let mut options = RunOptions::default();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*key {
            "arg" => line.push(value.into_owned()),
            "env" => {
                let (k, v) = value.split_once('=').ok_or_else(|| {
                    ApiError::new(
                        "invalid_argument",
                        format!("env {value:?}: expected NAME=VALUE"),
                    )
                })?;
                if !PASSED_ENV.contains(&k) {
                    return Err(ApiError::new(
                        "invalid_argument",
                        format!("env {k:?} is not passed to commands"),
                    )
                    .with_hint(format!("only {} are", PASSED_ENV.join(", "))));
                }
                options.env.insert(k.to_owned(), v.to_owned());
            }
            other => {
                return Err(ApiError::new(
                    "invalid_argument",
                    format!("unknown query parameter {other:?}: expected arg or env"),
                ));
            }
        }
    }
    Ok((line, options))
}

async fn run(
    AxumState(state): AxumState<Arc<State>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let (line, options) = line_and_env(name, query.as_deref())?;
    // The request body feeds stdin through a pipe, and is read to its end
    // even after the command is done with stdin (or failed before reading
    // it): a request dropped half-read would close the connection under a
    // client still sending, which loses the answer it is about to read.
    let (mut stdin_writer, stdin) = tokio::io::duplex(PIPE);
    let mut request_body = body.into_data_stream();
    tokio::spawn(async move {
        let mut open = true;
        while let Some(Ok(chunk)) = futures_util::StreamExt::next(&mut request_body).await {
            if open && stdin_writer.write_all(&chunk).await.is_err() {
                open = false;
            }
        }
    });
    let (stdout_writer, stdout_reader) = tokio::io::duplex(PIPE);
    let (stderr_writer, stderr_reader) = tokio::io::duplex(PIPE);
    let (frames, rx) = tokio::sync::mpsc::channel::<RunFrame>(16);
    let run = async move {
        state
            .host
            .run_command(&line, stdin, stdout_writer, stderr_writer, options)
            .await
    };
    tokio::spawn(async move {
        let pump_out = pump(stdout_reader, frames.clone(), RunFrame::Stdout);
        let pump_err = pump(stderr_reader, frames.clone(), RunFrame::Stderr);
        tokio::select! {
            // Output is all sent before the exit code.
            (code, (), ()) = async { tokio::join!(run, pump_out, pump_err) } => {
                let last = match code {
                    Ok(code) => RunFrame::Exit(code),
                    Err(status) => RunFrame::Error(ApiError::from_status(&status)),
                };
                let _ = frames.send(last).await;
            }
            // The client left: dropping the run stops the command.
            () = frames.closed() => {}
        }
    });
    let lines = ReceiverStream::new(rx).map(|frame| {
        let mut line = serde_json::to_vec(&frame).unwrap_or_default();
        line.push(b'\n');
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(line))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(lines),
    )
        .into_response())
}

use tokio_stream::StreamExt as _;

/// Forwards what a command writes to one stream as frames, until it ends.
async fn pump(
    mut reader: tokio::io::DuplexStream,
    frames: tokio::sync::mpsc::Sender<RunFrame>,
    frame: fn(String) -> RunFrame,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let data = base64::engine::general_purpose::STANDARD.encode(&buf[..n]);
                if frames.send(frame(data)).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_gives_arguments_and_allowed_environment() {
        let (line, options) =
            line_and_env("wc".into(), Some("arg=--words&arg=a%20b&env=TERM=dumb")).unwrap();
        assert_eq!(line, ["wc", "--words", "a b"]);
        assert_eq!(options.env["TERM"], "dumb");
        let refused = line_and_env("wc".into(), Some("env=AWS_SECRET=x")).unwrap_err();
        assert!(
            refused.message.contains("not passed"),
            "{}",
            refused.message
        );
        assert!(line_and_env("wc".into(), Some("x=1")).is_err());
    }
}
