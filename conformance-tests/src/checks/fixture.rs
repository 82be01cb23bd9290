//! Checks that need behaviour beyond the protocol: they run only against a
//! plugin that declares the `conformance` feature and so offers the fixture
//! profile of `docs/conformance.md`. Elsewhere they are not applicable
//! (but `tools/stream`, which any plugin with `tool.progress` gets).

use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use plugwire_proto::constants::MAX_MESSAGE_SIZE;
use plugwire_proto::pb;
use plugwire_proto::receive_limit::ReceiveLimit;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use crate::check::{CheckFuture, CheckResult, na};
use crate::report::Status;
use crate::session::Session;

/// How long a cancelled or timed-out sleep may take to stop (PW-TOOL-8).
pub const CANCEL_BOUND: Duration = Duration::from_secs(1);
/// The deadline the suite gives calls that must stop on it.
const SHORT_DEADLINE: Duration = Duration::from_millis(300);
/// Far longer than any check: a sleep this long only ends by cancellation.
const LONG_SLEEP_MS: u64 = 30_000;
/// Size of the large-argument text: messages of up to 16 MiB must work
/// (PW-BOOT-13), so the text is that less room for the JSON and protobuf
/// around it.
const LARGE_TEXT: usize = 16 * 1024 * 1024 - 64;

fn tools_client(channel: &Channel) -> pb::tool_service_client::ToolServiceClient<Channel> {
    pb::tool_service_client::ToolServiceClient::new(channel.clone())
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE)
}

fn call_request(
    name: &str,
    arguments: Value,
    deadline: Option<Duration>,
) -> tonic::Request<pb::CallToolRequest> {
    let mut request = tonic::Request::new(pb::CallToolRequest {
        name: name.into(),
        arguments_json: arguments.to_string(),
    });
    if let Some(deadline) = deadline {
        request.set_timeout(deadline);
    }
    request
}

/// Calls a fixture tool and returns its content, failing on a status or an
/// `is_error` result.
async fn call(channel: &Channel, name: &str, arguments: Value) -> Result<Value, String> {
    let response = tools_client(channel)
        .call_tool(call_request(name, arguments, Some(Duration::from_secs(10))))
        .await
        .map_err(|s| match ReceiveLimit::in_message(s.message()) {
            Some(limit) if limit.below_protocol() => {
                limit.explain(&format!("fixture tool {name}: the plugin"))
            }
            _ => format!("fixture tool {name}: {:?}: {}", s.code(), s.message()),
        })?
        .into_inner();
    let result = response
        .result
        .ok_or_else(|| format!("fixture tool {name}: no result"))?;
    if result.is_error {
        return Err(format!(
            "fixture tool {name} failed: {}",
            result.content_json
        ));
    }
    serde_json::from_str(&result.content_json).map_err(|e| {
        format!(
            "fixture tool {name}: content is not JSON ({e}): {:?}",
            result.content_json
        )
    })
}

#[derive(Debug, Clone, Copy)]
struct Stats {
    sleeping: u64,
    cancelled: u64,
}

async fn stats(channel: &Channel) -> Result<Stats, String> {
    let value = call(channel, "stats", json!({})).await?;
    let field = |name: &str| {
        value.get(name).and_then(Value::as_u64).ok_or_else(|| {
            format!("stats: expected {{\"sleeping\": n, \"cancelled\": n}}, got {value}")
        })
    };
    Ok(Stats {
        sleeping: field("sleeping")?,
        cancelled: field("cancelled")?,
    })
}

/// Waits until no sleep is in progress and at least `cancelled` sleeps were
/// cancelled, within [`CANCEL_BOUND`].
async fn sleeps_stop(channel: &Channel, cancelled: u64, what: &str) -> CheckResult {
    let started = Instant::now();
    loop {
        let now = stats(channel).await?;
        if now.sleeping == 0 && now.cancelled >= cancelled {
            return Ok(Status::Passed);
        }
        if started.elapsed() > CANCEL_BOUND {
            return Err(format!(
                "{what}: the plugin was still working {CANCEL_BOUND:?} later (stats: {} sleeping, {} cancelled, expected 0 sleeping and at least {cancelled} cancelled)",
                now.sleeping, now.cancelled
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `tools/stream`.
pub(crate) fn stream(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let progress = s
            .has_feature(plugwire_proto::constants::features::TOOL_PROGRESS)
            .await?;
        let has_tools = !s.capabilities().await?.tools.is_empty();
        if !progress || !has_tools {
            return na("the plugin declares no tools, or not the `tool.progress` feature");
        }
        let fixture = s
            .has_feature(plugwire_proto::constants::features::CONFORMANCE)
            .await?;
        let channel = s.ready().await?;
        stream_checks(&channel, fixture).await
    })
}

/// `tools/deadline`.
pub(crate) fn deadline(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let channel = s.fixture().await?;
        let c = &channel;
        let before = stats(c).await?;
        let started = Instant::now();
        let answer = tokio::time::timeout(
            SHORT_DEADLINE + CANCEL_BOUND,
            tools_client(c).call_tool(call_request(
                "sleep",
                json!({"ms": LONG_SLEEP_MS}),
                Some(SHORT_DEADLINE),
            )),
        )
        .await;
        match answer {
            Err(_) => {
                return Err(format!(
                    "a call with a {SHORT_DEADLINE:?} deadline was still running after {:?}",
                    started.elapsed()
                ));
            }
            Ok(Ok(_)) => return Err("a 30 s sleep with a 300 ms deadline succeeded".into()),
            Ok(Err(status))
                if matches!(
                    status.code(),
                    tonic::Code::DeadlineExceeded | tonic::Code::Cancelled
                ) => {}
            Ok(Err(status)) => {
                return Err(format!(
                    "expected DEADLINE_EXCEEDED or CANCELLED, got {:?}: {}",
                    status.code(),
                    status.message()
                ));
            }
        }
        sleeps_stop(c, before.cancelled + 1, "after its deadline passed").await
    })
}

/// `tools/cancellation`.
pub(crate) fn cancellation(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let channel = s.fixture().await?;
        let c = &channel;
        let before = stats(c).await?;
        let mut client = tools_client(c);
        let call = client.call_tool(call_request("sleep", json!({"ms": LONG_SLEEP_MS}), None));
        // Dropping the call resets its stream: the client's cancellation.
        if tokio::time::timeout(Duration::from_millis(200), call)
            .await
            .is_ok()
        {
            return Err("a 30 s sleep answered within 200 ms".into());
        }
        sleeps_stop(
            c,
            before.cancelled + 1,
            "after the client cancelled the call",
        )
        .await
    })
}

/// `tools/concurrent-calls`.
pub(crate) fn concurrent_calls(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let channel = s.fixture().await?;
        let c = &channel;
        // 16 sleeps of 400 ms at once finish in about 400 ms if they run
        // concurrently, 6.4 s if not.
        let sleeps = (0..16).map(|_| call(c, "sleep", json!({"ms": 400})));
        let echoes = (0..16).map(|i| async move {
            let text = format!("concurrent call {i}");
            let got = call(c, "echo", json!({ "text": text })).await?;
            if got == json!(text) {
                Ok(json!(null))
            } else {
                Err(format!(
                    "echo of {text:?} answered {got}: answers were mixed up"
                ))
            }
        });
        let limit = Duration::from_millis(2000);
        let all = async {
            tokio::join!(
                futures_util::future::join_all(sleeps),
                futures_util::future::join_all(echoes)
            )
        };
        let Ok((slept, echoed)) = tokio::time::timeout(limit, all).await else {
            return Err(format!(
                "16 concurrent 400 ms sleeps were not done after {limit:?}: calls are not served concurrently"
            ));
        };
        for r in slept.into_iter().chain(echoed) {
            r?;
        }
        Ok(Status::Passed)
    })
}

/// `tools/large-argument`.
pub(crate) fn large_argument(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let channel = s.fixture().await?;
        let c = &channel;
        let text: String = "0123456789abcdef"
            .chars()
            .cycle()
            .take(LARGE_TEXT)
            .collect();
        let got = call(c, "echo", json!({ "text": text })).await?;
        match got.as_str() {
            Some(back) if back == text => Ok(Status::Passed),
            Some(back) => Err(format!(
                "echo of a {} byte text answered {} bytes that differ",
                text.len(),
                back.len()
            )),
            None => Err(format!(
                "echo answered a non-string: {:.80}",
                got.to_string()
            )),
        }
    })
}

/// `commands/exit-codes`.
pub(crate) fn exit_codes(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let channel = s.fixture().await?;
        let c = &channel;
        for code in [0, 3, 125] {
            let run = run_command(c, "exit", json!({ "code": code }), &[], true).await?;
            if run.code != code || run.stdout != b"out\n" || run.stderr != b"err\n" {
                return Err(format!(
                    "exit --code {code}: expected code {code}, stdout \"out\\n\", stderr \"err\\n\"; got code {}, stdout {:?}, stderr {:?}",
                    run.code,
                    String::from_utf8_lossy(&run.stdout),
                    String::from_utf8_lossy(&run.stderr)
                ));
            }
        }
        Ok(Status::Passed)
    })
}

/// `commands/stdio-streaming`.
pub(crate) fn stdio_streaming(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let channel = s.fixture().await?;
        let c = &channel;
        cat_streams(c).await
    })
}

/// `commands/stdin-eof`.
pub(crate) fn stdin_eof(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let channel = s.fixture().await?;
        let c = &channel;
        let input: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let run = run_command(c, "cat", json!({}), &input, true).await?;
        if run.code != 0 || run.stdout != input {
            return Err(format!(
                "cat of {} bytes then end of input: expected exit 0 and the same bytes, got exit {} and {} bytes",
                input.len(),
                run.code,
                run.stdout.len()
            ));
        }
        Ok(Status::Passed)
    })
}

/// `hooks/decisions-valid`.
pub(crate) fn decisions_valid(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let channel = s.fixture().await?;
        let c = &channel;
        let r = deliver(c, json!({"decision": "continue"}), None).await?;
        if r.decision != pb::Decision::Continue as i32 {
            return Err(format!(
                "\"continue\": expected DECISION_CONTINUE, got {r:?}"
            ));
        }
        let r = deliver(c, json!({"decision": "modify", "n": 1}), None).await?;
        let payload: Value = serde_json::from_str(&r.payload_json).map_err(|e| {
            format!(
                "\"modify\": payload_json is not JSON ({e}): {:?}",
                r.payload_json
            )
        })?;
        if r.decision != pb::Decision::Modify as i32
            || payload != json!({"decision": "modify", "n": 1, "modified": true})
        {
            return Err(format!(
                "\"modify\": expected DECISION_MODIFY with the payload plus \"modified\": true, got {r:?}"
            ));
        }
        let r = deliver(c, json!({"decision": "deny", "reason": "not today"}), None).await?;
        if r.decision != pb::Decision::Deny as i32 || r.reason != "not today" {
            return Err(format!(
                "\"deny\": expected DECISION_DENY with reason \"not today\", got {r:?}"
            ));
        }
        Ok(Status::Passed)
    })
}

/// `hooks/deadline`.
pub(crate) fn hook_deadline(s: &mut Session) -> CheckFuture<'_> {
    Box::pin(async move {
        let channel = s.fixture().await?;
        let c = &channel;
        let before = stats(c).await?;
        let started = Instant::now();
        let answer = tokio::time::timeout(
            SHORT_DEADLINE + CANCEL_BOUND,
            deliver(c, json!({"sleep_ms": LONG_SLEEP_MS}), Some(SHORT_DEADLINE)),
        )
        .await;
        if answer.is_err() {
            return Err(format!(
                "a delivery with a {SHORT_DEADLINE:?} deadline was still running after {:?}",
                started.elapsed()
            ));
        }
        sleeps_stop(
            c,
            before.cancelled + 1,
            "after the delivery's deadline passed",
        )
        .await
    })
}

/// PW-TOOL-4 and PW-TOOL-10/11 on `CallToolStream`: an undeclared tool is
/// `NOT_FOUND`; with the fixture, `sleep` streams zero or more progress
/// messages (strictly increasing, never above their total), then exactly
/// one result, then the end with status OK.
async fn stream_checks(channel: &Channel, fixture: bool) -> CheckResult {
    let mut client = tools_client(channel);
    let unknown = client
        .call_tool_stream(pb::CallToolStreamRequest {
            name: "plugwire-conformance-no-such-tool".into(),
            arguments_json: "{}".into(),
        })
        .await;
    let code = match unknown {
        Err(status) => status.code(),
        Ok(response) => match response.into_inner().next().await {
            Some(Err(status)) => status.code(),
            other => {
                return Err(format!(
                    "CallToolStream of an undeclared tool: expected NOT_FOUND, got {other:?}"
                ));
            }
        },
    };
    if code != tonic::Code::NotFound {
        return Err(format!(
            "CallToolStream of an undeclared tool: expected NOT_FOUND, got {code:?}"
        ));
    }
    if !fixture {
        return Ok(Status::Passed);
    }
    let mut request = tonic::Request::new(pb::CallToolStreamRequest {
        name: "sleep".into(),
        arguments_json: json!({"ms": 50}).to_string(),
    });
    request.set_timeout(Duration::from_secs(10));
    let mut stream = client
        .call_tool_stream(request)
        .await
        .map_err(|s| format!("CallToolStream(sleep): {:?}: {}", s.code(), s.message()))?
        .into_inner();
    let mut last = f64::NEG_INFINITY;
    let mut results = 0;
    while let Some(message) = stream.next().await {
        let message = message.map_err(|s| {
            format!(
                "CallToolStream(sleep) ended with {:?}: {}",
                s.code(),
                s.message()
            )
        })?;
        match message.event {
            Some(pb::call_tool_stream_response::Event::Progress(p)) => {
                if results > 0 {
                    return Err("CallToolStream(sleep): progress after the result".into());
                }
                if p.progress <= last || p.total.is_some_and(|t| t < p.progress) {
                    return Err(format!(
                        "CallToolStream(sleep): progress {} after {last} (total {:?}): it must strictly increase and not exceed its total (PW-TOOL-11)",
                        p.progress, p.total
                    ));
                }
                last = p.progress;
            }
            Some(pb::call_tool_stream_response::Event::Result(r)) => {
                results += 1;
                if r.is_error {
                    return Err(format!("CallToolStream(sleep) failed: {}", r.content_json));
                }
            }
            None => return Err("CallToolStream(sleep): an empty message".into()),
        }
    }
    if results == 1 {
        Ok(Status::Passed)
    } else {
        Err(format!(
            "CallToolStream(sleep) sent {results} results; exactly one must precede the end"
        ))
    }
}

async fn deliver(
    channel: &Channel,
    payload: Value,
    deadline: Option<Duration>,
) -> Result<pb::HandleEventResponse, String> {
    let mut request = tonic::Request::new(pb::HandleEventRequest {
        event: Some(pb::Event {
            id: "00000000-0000-4000-8000-00000000e001".into(),
            name: "conformance.intercept".into(),
            payload_json: payload.to_string(),
            time: Some(prost_types::Timestamp::from(SystemTime::now())),
            source: "plugwire-conformance".into(),
        }),
        mode: pb::HookMode::Intercept as i32,
        pattern: "conformance.intercept".into(),
    });
    request.set_timeout(deadline.unwrap_or(Duration::from_secs(10)));
    pb::hook_service_client::HookServiceClient::new(channel.clone())
        .handle_event(request)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| format!("HandleEvent({payload}): {:?}: {}", s.code(), s.message()))
}

struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn start_message(command: &str, flags: &Value) -> pb::RunCommandRequest {
    pb::RunCommandRequest {
        message: Some(pb::run_command_request::Message::Start(pb::CommandStart {
            command: command.into(),
            argv: vec![command.into()],
            flags_json: flags.to_string(),
            ..Default::default()
        })),
    }
}

fn stdin_message(bytes: &[u8]) -> pb::RunCommandRequest {
    pb::RunCommandRequest {
        message: Some(pb::run_command_request::Message::Stdin(bytes.to_vec())),
    }
}

fn close_message() -> pb::RunCommandRequest {
    pb::RunCommandRequest {
        message: Some(pb::run_command_request::Message::StdinClose(
            pb::StdinClose {},
        )),
    }
}

/// Runs a command to its exit, feeding `stdin` in 64 KiB chunks.
async fn run_command(
    channel: &Channel,
    command: &str,
    flags: Value,
    stdin: &[u8],
    close: bool,
) -> Result<Run, String> {
    let (tx, rx) = mpsc::channel(4);
    let mut client = pb::command_service_client::CommandServiceClient::new(channel.clone())
        .max_decoding_message_size(MAX_MESSAGE_SIZE);
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    request.set_timeout(Duration::from_secs(10));
    tx.send(start_message(command, &flags))
        .await
        .map_err(|e| e.to_string())?;
    let feed = {
        let input = stdin.to_vec();
        async move {
            for chunk in input.chunks(64 * 1024) {
                if tx.send(stdin_message(chunk)).await.is_err() {
                    return;
                }
            }
            if close {
                let _ = tx.send(close_message()).await;
            }
            // Keep the request stream open until the command ends.
            std::future::pending::<()>().await;
        }
    };
    let collect = async {
        let mut responses = client
            .run_command(request)
            .await
            .map_err(|s| format!("RunCommand({command}): {:?}: {}", s.code(), s.message()))?
            .into_inner();
        let mut run = Run {
            code: -1,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        while let Some(message) = responses.next().await {
            let message = message.map_err(|s| {
                format!(
                    "RunCommand({command}) stream: {:?}: {}",
                    s.code(),
                    s.message()
                )
            })?;
            match message.message {
                Some(pb::run_command_response::Message::Stdout(b)) => run.stdout.extend(b),
                Some(pb::run_command_response::Message::Stderr(b)) => run.stderr.extend(b),
                Some(pb::run_command_response::Message::Exit(exit)) => {
                    run.code = exit.code;
                    return Ok(run);
                }
                None => return Err(format!("RunCommand({command}): an empty response message")),
            }
        }
        Err(format!(
            "RunCommand({command}): the stream ended without an exit message (PW-CMD-7)"
        ))
    };
    tokio::pin!(collect);
    tokio::select! {
        r = &mut collect => r,
        // The feeder stops only when the call is gone (the plugin ended
        // it, or died): its outcome says how.
        () = feed => collect.await,
    }
}

/// `cat` must copy each chunk to stdout while stdin stays open: output is
/// streamed, not gathered until the end.
async fn cat_streams(channel: &Channel) -> CheckResult {
    let (tx, rx) = mpsc::channel(4);
    let mut client = pb::command_service_client::CommandServiceClient::new(channel.clone());
    tx.send(start_message("cat", &json!({})))
        .await
        .map_err(|e| e.to_string())?;
    let chunk = |round: usize| format!("chunk {round}\n");
    // A server may send its response headers only with its first message,
    // so the first chunk goes out before waiting for them.
    tx.send(stdin_message(chunk(1).as_bytes()))
        .await
        .map_err(|e| e.to_string())?;
    let mut responses = tokio::time::timeout(
        Duration::from_secs(2),
        client.run_command(ReceiverStream::new(rx)),
    )
    .await
    .map_err(|_| {
        "cat: no response within 2 s of its first chunk of input: output must be streamed"
            .to_owned()
    })?
    .map_err(|s| format!("RunCommand(cat): {:?}: {}", s.code(), s.message()))?
    .into_inner();
    for round in 1..=3 {
        let chunk = chunk(round);
        if round > 1 {
            tx.send(stdin_message(chunk.as_bytes()))
                .await
                .map_err(|e| e.to_string())?;
        }
        let mut got = Vec::new();
        while got.len() < chunk.len() {
            let next = tokio::time::timeout(Duration::from_secs(2), responses.next())
                .await
                .map_err(|_| {
                    format!("cat: {chunk:?} was written to stdin while it stayed open, and nothing came back on stdout within 2 s: output must be streamed")
                })?;
            match next {
                Some(Ok(pb::RunCommandResponse {
                    message: Some(pb::run_command_response::Message::Stdout(b)),
                })) => got.extend(b),
                Some(Ok(other)) => {
                    return Err(format!("cat: expected stdout {chunk:?}, got {other:?}"));
                }
                Some(Err(s)) => return Err(format!("cat: {:?}: {}", s.code(), s.message())),
                None => return Err("cat: the stream ended while stdin was open".into()),
            }
        }
        if got != chunk.as_bytes() {
            return Err(format!(
                "cat: expected {chunk:?}, got {:?}",
                String::from_utf8_lossy(&got)
            ));
        }
    }
    tx.send(close_message()).await.map_err(|e| e.to_string())?;
    loop {
        match tokio::time::timeout(Duration::from_secs(2), responses.next()).await {
            Err(_) => return Err("cat: no exit within 2 s of the end of input".into()),
            Ok(Some(Ok(pb::RunCommandResponse {
                message: Some(pb::run_command_response::Message::Exit(exit)),
            }))) => {
                return if exit.code == 0 {
                    Ok(Status::Passed)
                } else {
                    Err(format!("cat exited {} instead of 0", exit.code))
                };
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(s))) => return Err(format!("cat: {:?}: {}", s.code(), s.message())),
            Ok(None) => return Err("cat: the stream ended without an exit message".into()),
        }
    }
}
