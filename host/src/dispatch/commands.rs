//! Command runs: resolve the longest matching command path, parse flags
//! against the declaration, stream stdin in and stdout/stderr out, forward
//! signals, return the exit code.

use std::sync::Arc;

use plugwire_proto::cli::parse_invocation;
use plugwire_proto::constants::{MAX_STDIO_CHUNK, USAGE_METADATA};
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
        stdin: I,
        stdout: O,
        stderr: E,
        options: RunOptions,
    ) -> Result<i32, Status>
    where
        I: AsyncRead + Unpin + Send + 'static,
        O: AsyncWrite + Unpin,
        E: AsyncWrite + Unpin,
    {
        if !self.ctx.audit.enabled() {
            return self
                .run_unaudited(line, stdin, stdout, stderr, options)
                .await;
        }
        let started = std::time::Instant::now();
        let result = self
            .run_unaudited(line, stdin, stdout, stderr, options)
            .await;
        // The longest declared command the line starts with names it.
        let words = line.join(" ");
        let owner = self
            .commands()
            .into_iter()
            .filter(|c| {
                let qualified = format!("{}.{}", c.plugin, c.full_name);
                [c.full_name.as_str(), qualified.as_str()]
                    .iter()
                    .any(|name| words == *name || words.starts_with(&format!("{name} ")))
            })
            .max_by_key(|c| c.full_name.len());
        let mut record = crate::audit::AuditRecord::new(
            &crate::audit::current_actor(),
            "command.run",
            owner.as_ref().map(|c| c.plugin.as_str()),
        )
        .target(owner.map_or_else(
            || line.first().cloned().unwrap_or_default(),
            |c| c.full_name,
        ))
        .outcome(&result)
        .took(started.elapsed());
        if let Ok(code) = &result
            && *code != 0
        {
            record.detail = Some(format!("exit code {code}"));
        }
        self.ctx.audit.record(record);
        result
    }

    async fn run_unaudited<I, O, E>(
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
        // `--help` is the host's (PW-CMD-10): answered from the declaration,
        // the command never starts.
        if plugwire_proto::help::wants_help(&words) {
            let full = command_full_name(&command);
            let subcommands: Vec<&pb::Command> =
                conn.commands.iter().filter(|c| c.parent == full).collect();
            let text = plugwire_proto::help::render(&command, &subcommands);
            stdout
                .write_all(text.as_bytes())
                .await
                .map_err(|e| Status::internal(format!("cannot write the help: {e}")))?;
            let _ = stdout.flush().await;
            return Ok(0);
        }
        let invocation = parse_invocation(&command, &words).map_err(|e| {
            let mut status = Status::invalid_argument(e.to_string());
            // Told apart from a tool's arguments, so that the hint fits.
            status.metadata_mut().insert(
                USAGE_METADATA,
                tonic::metadata::MetadataValue::from_static("usage"),
            );
            status
        })?;
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
            CommandMatch::None => {
                let names: Vec<String> = held
                    .iter()
                    .flat_map(|h| h.conn.commands.iter().map(command_full_name))
                    .collect();
                let first = line.first().map_or("", String::as_str);
                let suggestion =
                    plugwire_proto::text::did_you_mean(first, names.iter().map(String::as_str));
                // A plugin that could not start may be the one offering it:
                // say so, and why, rather than only "no command".
                let stopped: Vec<String> = self
                    .registry
                    .all()
                    .iter()
                    .filter(|i| only.is_none_or(|p| p == i.name()))
                    .filter_map(|i| {
                        let status = i.status();
                        let why = status.last_error?;
                        Some(format!(
                            "{} ({})",
                            status.name,
                            first_reason(&status.name, &why)
                        ))
                    })
                    .collect();
                let unstarted = if stopped.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; plugins that could not start may offer it: {}",
                        stopped.join("; ")
                    )
                };
                let message = format!(
                    "no command {first:?}{suggestion}{unstarted}; `plugwire info <plugin>` lists a plugin's commands"
                );
                // When a plugin that may offer it could not start, that is
                // the failure to report (and exit with).
                Err(if stopped.is_empty() {
                    Status::not_found(message)
                } else {
                    Status::unavailable(message)
                })
            }
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

/// The gist of why a plugin did not start, on one line: its first line
/// without the plugin's name, and the line it introduces ("...not granted:"
/// then what).
fn first_reason(name: &str, why: &str) -> String {
    let mut lines = why.lines().map(str::trim);
    let first = lines.next().unwrap_or_default();
    let first = first
        .strip_prefix(&format!("plugin {name:?} "))
        .unwrap_or(first);
    let gist = match (first.strip_suffix(':'), lines.next()) {
        (Some(head), Some(next)) => format!("{head}: {next}"),
        _ => first.to_owned(),
    };
    // The way out, when the message gives one.
    match lines.find(|l| l.starts_with("grant them with")) {
        Some(fix) => format!("{gist}; {}", fix.split(", or remove").next().unwrap_or(fix)),
        None => gist,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_fits_one_line() {
        let why = "plugin \"wc\" requests permissions that were not granted:\n  read:~: can read these files\ngrant them with `plugwire grant wc` (or --yes for this run), or remove them from its plugin.toml";
        assert_eq!(
            first_reason("wc", why),
            "requests permissions that were not granted: read:~: can read these files; grant them with `plugwire grant wc` (or --yes for this run)"
        );
        assert_eq!(first_reason("x", "crashed"), "crashed");
    }
}
