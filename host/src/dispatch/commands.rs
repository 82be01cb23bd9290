//! Command runs: resolve the longest matching command path, parse flags
//! against the declaration, stream stdin in and stdout/stderr out, forward
//! signals, return the exit code.

use std::sync::Arc;

use plugwire_proto::cli::parse_invocation;
use plugwire_proto::constants::MAX_STDIO_CHUNK;
use plugwire_proto::names::command_full_name;
use plugwire_proto::pb;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tonic::Status;

use super::explain;
use super::resolve::{self, CommandMatch};
use crate::calls::RunOptions;
use crate::core::{Core, Held};
use crate::in_flight::CallGuard;
use crate::instance::{Connection, Instance};

impl Core {
    pub(crate) async fn run_command<I, O, E>(
        &self,
        line: &[String],
        mut stdin: I,
        mut stdout: O,
        mut stderr: E,
        mut options: RunOptions,
    ) -> Result<i32, Status>
    where
        I: AsyncRead + Unpin + Send + 'static,
        O: AsyncWrite + Unpin,
        E: AsyncWrite + Unpin,
    {
        let (instance, _guard, conn, command, words) = self.resolve_command(line).await?;
        let invocation = parse_invocation(&command, &words)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let (tx, rx) = mpsc::channel::<pb::RunCommandRequest>(8);
        tx.send(pb::RunCommandRequest {
            message: Some(pb::run_command_request::Message::Start(pb::CommandStart {
                command: command_full_name(&command),
                argv: words,
                flags_json: invocation.flags_json(),
                args: invocation.args,
                env: options.env.clone().into_iter().collect(),
                terminal: options
                    .terminal
                    .map(|(columns, rows)| pb::TerminalSize { columns, rows }),
                stdin_is_terminal: false,
            })),
        })
        .await
        .map_err(|_| Status::internal("the request stream closed"))?;
        let input = tx.clone();
        let feeder = tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_STDIO_CHUNK];
            loop {
                match stdin.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let message = pb::run_command_request::Message::Stdin(buf[..n].to_vec());
                        if input
                            .send(pb::RunCommandRequest {
                                message: Some(message),
                            })
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
            let close = pb::run_command_request::Message::StdinClose(pb::StdinClose {});
            let _ = input
                .send(pb::RunCommandRequest {
                    message: Some(close),
                })
                .await;
        });
        if let Some(mut signals) = options.signals.take() {
            let input = tx.clone();
            tokio::spawn(async move {
                while let Some(signal) = signals.recv().await {
                    let message = pb::run_command_request::Message::Signal(signal as i32);
                    if input
                        .send(pb::RunCommandRequest {
                            message: Some(message),
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut client =
            pb::command_service_client::CommandServiceClient::new(conn.channel.clone());
        instance.touch();
        let run =
            async {
                let mut responses = client
                    .run_command(tokio_stream::wrappers::ReceiverStream::new(rx))
                    .await?
                    .into_inner();
                while let Some(message) = responses.next().await {
                    match message?.message {
                        Some(pb::run_command_response::Message::Stdout(b)) => {
                            stdout.write_all(&b).await.map_err(|e| {
                                Status::aborted(format!("cannot write stdout: {e}"))
                            })?;
                            stdout.flush().await.ok();
                        }
                        Some(pb::run_command_response::Message::Stderr(b)) => {
                            stderr.write_all(&b).await.map_err(|e| {
                                Status::aborted(format!("cannot write stderr: {e}"))
                            })?;
                            stderr.flush().await.ok();
                        }
                        Some(pb::run_command_response::Message::Exit(exit)) => return Ok(exit.code),
                        None => {}
                    }
                }
                Err(Status::internal(format!(
                    "plugin {:?} ended the command without an exit code (PW-CMD-7)",
                    instance.name()
                )))
            };
        let result = tokio::select! {
            biased;
            status = conn.exited() => Err(Status::unavailable(format!(
                "plugin {:?} crashed while running {:?} ({status})", instance.name(), command.name
            ))),
            r = run => r,
        };
        feeder.abort();
        instance.touch();
        match result {
            Ok(code) => Ok(code),
            Err(s) => Err(explain(&instance, &conn, s).await),
        }
    }

    async fn resolve_command(
        &self,
        line: &[String],
    ) -> Result<
        (
            Arc<Instance>,
            CallGuard,
            Arc<Connection>,
            pb::Command,
            Vec<String>,
        ),
        Status,
    > {
        let first = line
            .first()
            .ok_or_else(|| Status::invalid_argument("no command given"))?;
        let (only, line): (Option<&str>, Vec<String>) = match first.split_once('.') {
            Some((plugin, rest)) => {
                let mut words = vec![rest.to_owned()];
                words.extend(line[1..].iter().cloned());
                (Some(plugin), words)
            }
            None => (None, line.to_vec()),
        };
        match only {
            Some(plugin) => {
                self.instance(plugin)?.ensure_ready().await?;
            }
            None => self.start_all().await,
        }
        let held: Vec<Held> = self
            .held()
            .into_iter()
            .filter(|h| only.is_none_or(|p| p == h.instance.name()))
            .collect();
        let declared = held
            .iter()
            .enumerate()
            .flat_map(|(i, h)| h.conn.commands.iter().map(move |c| (i, c)));
        match resolve::command(&line, declared) {
            CommandMatch::None => Err(Status::not_found(format!(
                "no command {:?}; `plugwire list` shows the plugins and `plugwire info <plugin>` their commands",
                line.join(" ")
            ))),
            CommandMatch::One(i, command, words) => {
                // Only the command that runs is copied.
                let command = command.clone();
                let Held {
                    instance,
                    guard,
                    conn,
                } = held.into_iter().nth(i).expect("an index into held");
                Ok((instance, guard, conn, command, line[words..].to_vec()))
            }
            CommandMatch::Ambiguous(found) => Err(Status::failed_precondition(format!(
                "command {:?} is ambiguous: use {}",
                line.join(" "),
                found
                    .iter()
                    .map(|(i, name)| format!("{}.{name}", held[*i].instance.name()))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ))),
        }
    }
}
