//! Tool calls: resolve `<plugin>.<tool>` or a bare name, validate the
//! arguments against the tool's schema, call under the deadline, the
//! call-depth limit and cancellation, with progress when asked.

use std::sync::Arc;

use plugwire_proto::constants::{
    ARGUMENTS_VALIDATED, ARGUMENTS_VALIDATED_METADATA, CALL_CHAIN_METADATA, CALL_DEPTH_METADATA,
};
use plugwire_proto::pb;
use serde_json::Value;
use tokio_stream::StreamExt;
use tonic::Status;
use tonic::transport::Channel;

use super::{by_our_clock, depth_metadata, explain, resolve};
use crate::calls::{CallOptions, Progress, ToolOutput};
use crate::core::Core;
use crate::in_flight::CallGuard;
use crate::instance::{Connection, Instance};
use crate::plugin_config::schema_error_pointer;
use plugwire_proto::problem::located;

/// The plugin a call goes to, held in flight.
struct Resolved {
    instance: Arc<Instance>,
    _guard: CallGuard,
    conn: Arc<Connection>,
    name: String,
}

impl Core {
    /// Finds the plugin serving `tool` (qualified or bare).
    async fn resolve_tool(&self, tool: &str) -> Result<Resolved, Status> {
        if let Some((plugin, name)) = tool.split_once('.') {
            let (instance, guard) = self.checkout(plugin)?;
            let conn = instance.ensure_ready().await?;
            if !conn.tools_by_name.contains_key(name) {
                let known: Vec<&str> = conn.tools.iter().map(|t| t.decl.name.as_str()).collect();
                let suggestion = plugwire_proto::text::did_you_mean(name, known.iter().copied());
                return Err(Status::not_found(format!(
                    "plugin {plugin:?} has no tool {name:?}{suggestion}; it has {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            }
            return Ok(Resolved {
                instance,
                _guard: guard,
                conn,
                name: name.to_owned(),
            });
        }
        // A bare name resolves against every plugin's tools, running or
        // not: matching only the running ones would hand the call to
        // whichever plugin happened to start first (an impostor's `echo`
        // while the real one is stopped). Plugins never started yet are
        // started once to learn what they offer.
        let all = self.registry.all();
        if all.iter().any(|i| i.enabled() && i.known_tools().is_none()) {
            self.start_all().await;
        }
        let known: Vec<(&str, Arc<[String]>)> = all
            .iter()
            .filter(|i| i.enabled())
            .filter_map(|i| Some((i.name(), i.known_tools()?)))
            .collect();
        let owners = known.iter().map(|(p, tools)| (*p, &tools[..]));
        match resolve::bare_tool(tool, owners) {
            Ok(owner) => {
                let (instance, guard) = self.checkout(owner)?;
                let conn = instance.ensure_ready().await?;
                if !conn.tools_by_name.contains_key(tool) {
                    return Err(Status::not_found(format!(
                        "plugin {:?} no longer offers tool {tool:?} since it restarted",
                        instance.name()
                    )));
                }
                instance.touch();
                Ok(Resolved {
                    instance,
                    _guard: guard,
                    conn,
                    name: tool.to_owned(),
                })
            }
            Err(owners) if owners.is_empty() => {
                let qualified: Vec<String> = known
                    .iter()
                    .flat_map(|(p, tools)| tools.iter().map(move |t| format!("{p}.{t}")))
                    .collect();
                let bare = known
                    .iter()
                    .flat_map(|(_, tools)| tools.iter().map(String::as_str));
                let suggestion = plugwire_proto::text::did_you_mean(
                    tool,
                    bare.chain(qualified.iter().map(String::as_str)),
                );
                Err(Status::not_found(format!(
                    "no tool named {tool:?}{suggestion}; `plugwire tools` lists them, addressed as <plugin>.<tool>"
                )))
            }
            Err(owners) => Err(Status::failed_precondition(format!(
                "tool name {tool:?} is ambiguous: use {}",
                owners
                    .iter()
                    .map(|p| format!("{p}.{tool}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ))),
        }
    }

    pub(crate) async fn call_tool(
        &self,
        tool: &str,
        arguments: Value,
        options: CallOptions,
    ) -> Result<ToolOutput, Status> {
        let audit = &self.ctx.audit;
        if !audit.enabled() {
            return self
                .call_resolved(self.resolve_tool(tool).await?, arguments, options)
                .await;
        }
        let started = std::time::Instant::now();
        let actor = options
            .actor
            .clone()
            .unwrap_or_else(crate::audit::current_actor);
        let recorded = audit.arguments().then(|| arguments.clone());
        let resolved = self.resolve_tool(tool).await;
        let (plugin, target) = match &resolved {
            Ok(r) => (
                Some(r.instance.name().to_owned()),
                format!("{}.{}", r.instance.name(), r.name),
            ),
            Err(_) => (None, tool.to_owned()),
        };
        let result = match resolved {
            Ok(resolved) => self.call_resolved(resolved, arguments, options).await,
            Err(status) => Err(status),
        };
        let mut record = crate::audit::AuditRecord::new(&actor, "tool.call", plugin.as_deref())
            .target(target)
            .outcome(&result)
            .took(started.elapsed());
        if let Ok(out) = &result
            && out.is_error
        {
            record.outcome = "tool_error".into();
        }
        record.arguments = recorded;
        audit.record(record);
        result
    }

    async fn call_resolved(
        &self,
        resolved: Resolved,
        arguments: Value,
        options: CallOptions,
    ) -> Result<ToolOutput, Status> {
        let Resolved {
            instance,
            _guard,
            conn,
            name,
        } = resolved;
        let entry = &conn.tools[conn.tools_by_name[&name]];
        if !arguments.is_object() {
            return Err(Status::invalid_argument(located(
                "arguments",
                "",
                format!("expected a JSON object, saw {arguments}"),
            )));
        }
        // `is_valid` is the fast check; errors are collected only to explain.
        let validator = entry.validator();
        let validated = validator.is_some();
        let problems: Vec<String> = match validator {
            Some(v) if !v.is_valid(&arguments) => v
                .iter_errors(&arguments)
                .take(3)
                .map(|e| located("arguments", &schema_error_pointer(&e), &e))
                .collect(),
            _ => Vec::new(),
        };
        if !problems.is_empty() {
            return Err(Status::invalid_argument(format!(
                "{} (tool {}.{name}; `plugwire tools --json` shows its schema)",
                problems.join("; "),
                instance.name()
            )));
        }
        let limit = instance.call_timeout();
        let timeout = options.timeout.map_or(limit, |t| t.min(limit));
        let arguments_json = arguments.to_string();
        let depth = depth_metadata(options.depth + 1);
        let chain = options
            .chain
            .unwrap_or_else(|| self.ctx.call_chains.new_chain());
        let _in_flight = self
            .ctx
            .call_chains
            .enter(instance.name(), chain, options.depth + 1);
        let mut chain = tonic::metadata::MetadataValue::from(chain);
        // A new value on every call: as an ordinary header HPACK would
        // insert it into both sides' tables and evict an older entry each
        // time (a third of the host's extra instructions per call); a
        // sensitive one is sent as a literal and never indexed.
        chain.set_sensitive(true);
        let use_stream = options.progress.is_some() && conn.progress;
        let call = async {
            if use_stream {
                let request = call_request(
                    pb::CallToolStreamRequest {
                        name: name.clone(),
                        arguments_json,
                    },
                    timeout,
                    &depth,
                    &chain,
                    validated,
                );
                let mut stream = tools_client(&conn)
                    .call_tool_stream(request)
                    .await?
                    .into_inner();
                let progress = options.progress.as_ref().expect("checked above");
                while let Some(message) = stream.next().await {
                    match message?.event {
                        Some(pb::call_tool_stream_response::Event::Progress(p)) => {
                            let _ = progress
                                .send(Progress {
                                    progress: p.progress,
                                    total: p.total,
                                    message: p.message,
                                })
                                .await;
                        }
                        Some(pb::call_tool_stream_response::Event::Result(r)) => return Ok(r),
                        None => {}
                    }
                }
                Err(Status::internal(format!(
                    "plugin {:?} ended the stream without a result (PW-TOOL-10)",
                    instance.name()
                )))
            } else {
                let request = call_request(
                    pb::CallToolRequest {
                        name: name.clone(),
                        arguments_json,
                    },
                    timeout,
                    &depth,
                    &chain,
                    validated,
                );
                tools_client(&conn)
                    .call_tool(request)
                    .await?
                    .into_inner()
                    .result
                    .ok_or_else(|| {
                        Status::internal(format!("plugin {:?} sent no result", instance.name()))
                    })
            }
        };
        let cancelled = async {
            match &options.cancel {
                Some(token) => token.cancelled().await,
                None => std::future::pending().await,
            }
        };
        // `resolve_tool` touched the plugin as the call began; touching it
        // again at the end keeps a long call from counting as idle time.
        let result = tokio::select! {
            biased;
            status = conn.exited() => Err(Status::unavailable(format!(
                "plugin {:?} crashed during the call ({status})", instance.name()
            ))),
            _ = cancelled => Err(Status::cancelled("the call was cancelled")),
            r = by_our_clock(timeout, call) => r.map_err(|s| if s.code() == tonic::Code::DeadlineExceeded {
                Status::deadline_exceeded(format!("tool {}.{name} did not answer within {timeout:?}", instance.name()))
            } else {
                s
            }),
        };
        instance.touch();
        instance.count_call(!matches!(&result, Ok(r) if !r.is_error));
        let result = match result {
            Ok(r) => r,
            Err(s) => return Err(explain(&instance, &conn, s).await),
        };
        let content = serde_json::from_str(&result.content_json).map_err(|e| {
            Status::internal(format!(
                "plugin {:?} sent a result that is not JSON (PW-TOOL-7): {e}",
                instance.name()
            ))
        })?;
        Ok(ToolOutput {
            is_error: result.is_error,
            content,
        })
    }
}

/// A call's request with its deadline, the host-counted depth and chain
/// (PW-HOST-6), and the mark that its arguments passed the tool's schema
/// here (PW-TOOL-16), so the plugin need not check them again.
fn call_request<T>(
    message: T,
    timeout: std::time::Duration,
    depth: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    chain: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    validated: bool,
) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    let metadata = request.metadata_mut();
    metadata.insert(CALL_DEPTH_METADATA, depth.clone());
    metadata.insert(CALL_CHAIN_METADATA, chain.clone());
    if validated {
        metadata.insert(
            ARGUMENTS_VALIDATED_METADATA,
            tonic::metadata::MetadataValue::from_static(ARGUMENTS_VALIDATED),
        );
    }
    request
}

fn tools_client(conn: &Connection) -> pb::tool_service_client::ToolServiceClient<Channel> {
    pb::tool_service_client::ToolServiceClient::new(conn.channel.clone())
        .max_decoding_message_size(plugwire_proto::constants::MAX_MESSAGE_SIZE)
        .max_encoding_message_size(plugwire_proto::constants::MAX_MESSAGE_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(validated: bool) -> tonic::Request<()> {
        call_request(
            (),
            std::time::Duration::from_secs(3),
            &depth_metadata(1),
            &tonic::metadata::MetadataValue::from_static("c1"),
            validated,
        )
    }

    #[test]
    fn only_arguments_checked_here_go_out_marked_validated() {
        let marked = request(true);
        let metadata = marked.metadata();
        assert_eq!(
            metadata.get(ARGUMENTS_VALIDATED_METADATA).unwrap(),
            ARGUMENTS_VALIDATED
        );
        assert_eq!(metadata.get(CALL_DEPTH_METADATA).unwrap(), "1");
        assert_eq!(metadata.get(CALL_CHAIN_METADATA).unwrap(), "c1");
        assert_eq!(metadata.get("grpc-timeout").unwrap(), "3000000u");
        assert!(
            request(false)
                .metadata()
                .get(ARGUMENTS_VALIDATED_METADATA)
                .is_none()
        );
    }
}
