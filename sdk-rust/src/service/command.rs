//! `CommandService`: list, and run as a bidirectional stream.

use std::sync::Arc;

use bytes::Bytes;
use plugwire_proto::pb;
use plugwire_proto::pb::run_command_request::Message as In;
use plugwire_proto::pb::run_command_response::Message as Out;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, watch};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::Runtime;
use crate::command::{CommandContext, CommandIo, Output, Signal, Stdin, StreamKind};

pub(crate) struct CommandSvc(pub(crate) Arc<Runtime>);

type OutItem = Result<pb::RunCommandResponse, Status>;

#[tonic::async_trait]
impl pb::command_service_server::CommandService for CommandSvc {
    async fn list_commands(
        &self,
        _request: Request<pb::ListCommandsRequest>,
    ) -> Result<Response<pb::ListCommandsResponse>, Status> {
        let mut commands: Vec<pb::Command> =
            self.0.commands.values().map(|c| c.decl.clone()).collect();
        commands.sort_by(|a, b| (&a.parent, &a.name).cmp(&(&b.parent, &b.name)));
        Ok(Response::new(pb::ListCommandsResponse { commands }))
    }

    type RunCommandStream = ReceiverStream<OutItem>;

    async fn run_command(
        &self,
        request: Request<Streaming<pb::RunCommandRequest>>,
    ) -> Result<Response<Self::RunCommandStream>, Status> {
        let rt = self.0.clone();
        let guard = rt.begin_call()?;
        let mut incoming = request.into_inner();
        let start = match incoming.next().await {
            Some(Ok(pb::RunCommandRequest {
                message: Some(In::Start(start)),
            })) => start,
            Some(Ok(_)) => {
                return Err(Status::invalid_argument(
                    "the first RunCommand message must be `start` (PW-CMD-3)",
                ));
            }
            Some(Err(status)) => return Err(status),
            None => {
                return Err(Status::invalid_argument(
                    "the RunCommand stream ended before `start`",
                ));
            }
        };
        let command = rt
            .commands
            .get(&start.command)
            .or_else(|| {
                rt.commands.values().find(|c| {
                    let full = plugwire_proto::names::command_full_name(&c.decl);
                    c.decl.aliases.iter().any(|a| {
                        let aliased = if c.decl.parent.is_empty() {
                            a.clone()
                        } else {
                            format!("{} {a}", c.decl.parent)
                        };
                        aliased == start.command && full != aliased
                    })
                })
            })
            .cloned()
            .ok_or_else(|| Status::not_found(format!("unknown command {:?}", start.command)))?;
        let flags = parse_flags(&start.flags_json)?;

        let (stdin_tx, stdin_rx) = mpsc::channel::<std::io::Result<Bytes>>(16);
        let (signal_tx, signal_rx) = watch::channel(None);
        let (out_tx, out_rx) = mpsc::channel::<OutItem>(32);
        let token = guard.token.clone();

        // Reader: stdin chunks, end of stdin, signals. Dropping `stdin_tx`
        // is what the command's reader sees as end-of-file (PW-CMD-5).
        let reader_token = token.clone();
        tokio::spawn(async move {
            let mut stdin_tx = Some(stdin_tx);
            loop {
                let message = tokio::select! {
                    _ = reader_token.cancelled() => return,
                    m = incoming.next() => m,
                };
                match message {
                    Some(Ok(pb::RunCommandRequest { message: Some(m) })) => match m {
                        In::Stdin(chunk) => {
                            if let Some(tx) = &stdin_tx {
                                // The command may stop reading; that is fine.
                                let _ = tx.send(Ok(Bytes::from(chunk))).await;
                            }
                        }
                        In::StdinClose(_) => stdin_tx = None,
                        In::Signal(s) => {
                            let signal = match pb::Signal::try_from(s) {
                                Ok(pb::Signal::Interrupt) => Some(Signal::Interrupt),
                                Ok(pb::Signal::Terminate) => Some(Signal::Terminate),
                                Ok(pb::Signal::Hangup) => Some(Signal::Hangup),
                                _ => None,
                            };
                            if signal.is_some() {
                                let _ = signal_tx.send(signal);
                            }
                        }
                        In::Start(_) | In::Resize(_) => {}
                    },
                    Some(Ok(pb::RunCommandRequest { message: None })) => {}
                    Some(Err(_)) | None => return,
                }
            }
        });

        let cx = CommandContext {
            command: start.command.clone(),
            argv: start.argv,
            flags,
            args: start.args,
            env: start.env.into_iter().collect(),
            terminal: start.terminal.map(|t| (t.columns, t.rows)),
            plugin: rt.handle.clone(),
            cancel: token.clone(),
            signals: signal_rx,
        };
        let io = CommandIo {
            stdin: Stdin::new(stdin_rx),
            stdout: Output::new(out_tx.clone(), StreamKind::Stdout),
            stderr: Output::new(out_tx.clone(), StreamKind::Stderr),
        };
        tokio::spawn(async move {
            let _guard = guard;
            let run = (command.handler)(cx, io);
            let code = tokio::select! {
                _ = out_tx.closed() => {
                    token.cancel();
                    return;
                }
                result = run => match result {
                    Ok(code) => code,
                    Err(e) => {
                        let text = format!("{}: {e}\n", start.command);
                        let _ = out_tx.send(Ok(pb::RunCommandResponse { message: Some(Out::Stderr(text.into_bytes())) })).await;
                        1
                    }
                },
            };
            let _ = out_tx
                .send(Ok(pb::RunCommandResponse {
                    message: Some(Out::Exit(pb::CommandExit { code })),
                }))
                .await;
            token.cancel();
        });
        Ok(Response::new(ReceiverStream::new(out_rx)))
    }
}

fn parse_flags(flags_json: &str) -> Result<Map<String, Value>, Status> {
    if flags_json.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(flags_json) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Status::invalid_argument(format!(
            "start.flags_json: expected a JSON object, saw {other}"
        ))),
        Err(e) => Err(Status::invalid_argument(format!(
            "start.flags_json: not JSON: {e}"
        ))),
    }
}
