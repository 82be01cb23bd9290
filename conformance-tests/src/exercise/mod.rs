//! `--exercise`: the plugin's own tools and commands, not the fixture's.
//! Each tool is called with arguments made from its schema (valid ones must
//! not fail with a protocol error; invalid ones must be refused with
//! `INVALID_ARGUMENT` naming the field, before the tool's code runs), and
//! each command is run with `--help` (the host's help, PW-CMD-10, rendered
//! from its declaration) and with empty stdin (it must exit, PW-CMD-5). The
//! report says what the plugin did.

pub mod generate;
pub(crate) mod settings;

pub use settings::Exercise;

use std::time::{Duration, Instant};

use plugwire_proto::pb;
use serde_json::Value;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use crate::report::{Outcome, Report, Status};
use crate::session::{Session, tool_client};

/// Deadline of each call the exercise makes.
pub const CALL_DEADLINE: Duration = Duration::from_secs(10);

/// Runs the exercise on a session of its own and appends to `report`.
pub(crate) async fn run(mut session: Session, exercise: &Exercise, report: &mut Report) {
    let channel = match session.ready().await {
        Ok(channel) => channel,
        Err(e) => {
            report.outcomes.push(outcome(
                "exercise/start",
                "PW-CFG-1",
                Err(vec![format!("the plugin could not be made ready: {e}")]),
                Instant::now(),
            ));
            return;
        }
    };
    let tools = session
        .listed_tools()
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let caps = session.capabilities().await.unwrap_or_default();
    // Both tool outcomes come from one pass over the tools: both get its time.
    let started = Instant::now();
    let (valid, invalid) = tools_cases(&channel, &tools, exercise).await;
    report.outcomes.push(outcome(
        "exercise/tools-valid-arguments",
        "PW-TOOL-6",
        valid,
        started,
    ));
    report.outcomes.push(outcome(
        "exercise/tools-invalid-arguments",
        "PW-TOOL-5",
        invalid,
        started,
    ));
    let started = Instant::now();
    let commands = if caps.commands.is_empty() {
        Ok(vec!["n/a: the plugin declares no commands".to_owned()])
    } else {
        commands(&channel).await
    };
    report
        .outcomes
        .push(outcome("exercise/commands", "PW-CMD-5", commands, started));
}

/// `Ok(notes)` passes (a single `n/a: ` note is not applicable);
/// `Err(problems)` fails.
type Findings = Result<Vec<String>, Vec<String>>;

fn outcome(
    id: &'static str,
    requirement: &'static str,
    findings: Findings,
    started: Instant,
) -> Outcome {
    let (status, notes) = match findings {
        Ok(notes) if notes.len() == 1 && notes[0].starts_with("n/a: ") => {
            (Status::NotApplicable, vec![notes[0][5..].to_owned()])
        }
        Ok(notes) => (Status::Passed, notes),
        Err(problems) => (Status::Failed, problems),
    };
    Outcome {
        id,
        requirement,
        status,
        message: notes.join("; "),
        duration: started.elapsed(),
    }
}

async fn tools_cases(
    channel: &Channel,
    tools: &[pb::Tool],
    exercise: &Exercise,
) -> (Findings, Findings) {
    if tools.is_empty() {
        let na = || Ok(vec!["n/a: the plugin declares no tools".to_owned()]);
        return (na(), na());
    }
    let (mut valid_notes, mut valid_problems) = (Vec::new(), Vec::new());
    let (mut invalid_notes, mut invalid_problems) = (Vec::new(), Vec::new());
    for tool in tools {
        let name = &tool.name;
        let annotations = tool.annotations.unwrap_or_default();
        if annotations.destructive && !exercise.destructive {
            valid_notes.push(format!(
                "{name}: skipped, destructive (--exercise-destructive calls it)"
            ));
            continue;
        }
        let Ok(schema) = serde_json::from_str::<Value>(&tool.input_schema_json) else {
            valid_problems.push(format!("{name}: its input schema is not JSON"));
            continue;
        };
        let cases = generate::valid(&schema);
        if cases.is_empty() {
            valid_notes.push(format!(
                "{name}: no valid arguments could be made from its schema (give properties `default` or `examples`)"
            ));
        }
        for case in cases {
            match call(channel, name, &case.arguments).await {
                Ok(result) if result.is_error => valid_notes.push(format!(
                    "{name} {}: reported its own failure {}",
                    case.arguments,
                    short(&result.content_json)
                )),
                Ok(result) => valid_notes.push(format!(
                    "{name} {} → {}",
                    case.arguments,
                    short(&result.content_json)
                )),
                Err(status) => valid_problems.push(format!(
                    "{name} {} ({}): failed with {:?} instead of a result: {}",
                    case.arguments,
                    case.label,
                    status.code(),
                    status.message()
                )),
            }
        }
        for case in generate::invalid(&schema) {
            match call(channel, name, &case.arguments).await {
                Err(status) if status.code() == tonic::Code::InvalidArgument => {
                    if plugwire_proto::problem::is_located("arguments", status.message()) {
                        invalid_notes.push(format!("{name} ({}): refused", case.label));
                    } else {
                        invalid_problems.push(format!(
                            "{name} ({}): refused, but the message is not of the form `arguments <pointer>: <problem>` (or `arguments: <problem>` for the whole document): {}",
                            case.label,
                            status.message()
                        ));
                    }
                }
                Err(status) => invalid_problems.push(format!(
                    "{name} ({}): expected INVALID_ARGUMENT, got {:?}: {}",
                    case.label,
                    status.code(),
                    status.message()
                )),
                Ok(result) => invalid_problems.push(format!(
                    "{name} ({}, {}): accepted, and the tool ran ({}); check arguments against the schema before running",
                    case.label,
                    case.arguments,
                    short(&result.content_json)
                )),
            }
        }
    }
    (
        verdict(valid_notes, valid_problems),
        verdict(invalid_notes, invalid_problems),
    )
}

async fn call(
    channel: &Channel,
    tool: &str,
    arguments: &Value,
) -> Result<pb::ToolResult, tonic::Status> {
    let mut request = tonic::Request::new(pb::CallToolRequest {
        name: tool.to_owned(),
        arguments_json: arguments.to_string(),
    });
    request.set_timeout(CALL_DEADLINE);
    let response = tool_client(channel).call_tool(request).await?.into_inner();
    response
        .result
        .ok_or_else(|| tonic::Status::internal("CallToolResponse without a result"))
}

async fn commands(channel: &Channel) -> Findings {
    let mut client = pb::command_service_client::CommandServiceClient::new(channel.clone());
    let declared = match client.list_commands(pb::ListCommandsRequest {}).await {
        Ok(r) => r.into_inner().commands,
        Err(status) => return Err(vec![format!("ListCommands failed: {status}")]),
    };
    let (mut notes, mut problems) = (Vec::new(), Vec::new());
    for command in &declared {
        let full = plugwire_proto::names::command_full_name(command);
        let children: Vec<&pb::Command> = declared.iter().filter(|c| c.parent == full).collect();
        let help = plugwire_proto::help::render(command, &children);
        notes.push(format!("{full} --help: {} lines", help.lines().count()));
        let invocation = match plugwire_proto::cli::parse_invocation(command, &[]) {
            Ok(invocation) => invocation,
            Err(usage) => {
                notes.push(format!("{full}: not run without arguments ({usage})"));
                continue;
            }
        };
        match run_empty(channel, &full, &invocation).await {
            Ok((code, out, err)) => notes.push(format!(
                "{full} < /dev/null: exit {code}, {out} bytes of stdout, {err} of stderr"
            )),
            Err(problem) => problems.push(format!("{full} < /dev/null: {problem}")),
        }
    }
    verdict(notes, problems)
}

/// Passed with the notes, or failed with the problems first and then the
/// notes (what the plugin did is worth reading either way).
fn verdict(notes: Vec<String>, problems: Vec<String>) -> Findings {
    if problems.is_empty() {
        Ok(notes)
    } else {
        Err([problems, notes].concat())
    }
}

/// Runs `command` with no arguments and stdin closed at once.
async fn run_empty(
    channel: &Channel,
    command: &str,
    invocation: &plugwire_proto::cli::Invocation,
) -> Result<(i32, usize, usize), String> {
    let requests = vec![
        pb::RunCommandRequest {
            message: Some(pb::run_command_request::Message::Start(pb::CommandStart {
                command: command.to_owned(),
                flags_json: invocation.flags_json(),
                args: invocation.args.clone(),
                ..Default::default()
            })),
        },
        pb::RunCommandRequest {
            message: Some(pb::run_command_request::Message::StdinClose(
                pb::StdinClose {},
            )),
        },
    ];
    // Holding the request stream open (not half-closing) is the strict case:
    // only `stdin_close` tells the command that input ended.
    let requests = tokio_stream::iter(requests).chain(tokio_stream::pending());
    let mut request = tonic::Request::new(requests);
    request.set_timeout(CALL_DEADLINE);
    let mut client = pb::command_service_client::CommandServiceClient::new(channel.clone());
    let mut stream = client
        .run_command(request)
        .await
        .map_err(|s| failure(&s))?
        .into_inner();
    let (mut out, mut err) = (0, 0);
    loop {
        match stream.next().await {
            Some(Ok(pb::RunCommandResponse { message: Some(m) })) => match m {
                pb::run_command_response::Message::Stdout(b) => out += b.len(),
                pb::run_command_response::Message::Stderr(b) => err += b.len(),
                pb::run_command_response::Message::Exit(e) => return Ok((e.code, out, err)),
            },
            Some(Ok(_)) => return Err("sent an empty RunCommandResponse".into()),
            Some(Err(s)) => return Err(failure(&s)),
            None => return Err("the stream ended without an exit message (PW-CMD-7)".into()),
        }
    }
}

fn failure(status: &tonic::Status) -> String {
    // tonic reports the deadline it set itself as CANCELLED.
    let timed_out = status.code() == tonic::Code::DeadlineExceeded
        || (status.code() == tonic::Code::Cancelled && status.message().contains("Timeout"));
    if timed_out {
        format!(
            "no exit within {CALL_DEADLINE:?}: a command must see end-of-file after stdin_close and finish"
        )
    } else {
        format!("failed with {:?}: {}", status.code(), status.message())
    }
}

fn short(json: &str) -> String {
    if json.chars().count() <= 60 {
        json.to_owned()
    } else {
        format!("{}…", json.chars().take(59).collect::<String>())
    }
}
