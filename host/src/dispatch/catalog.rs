//! What the running plugins offer: tools, commands, and the names two
//! plugins both claim.

use std::collections::BTreeMap;

use plugwire_proto::names::command_full_name;

use crate::calls::{CommandInfo, ToolInfo};
use crate::core::Core;
use crate::discovery::Problem;

impl Core {
    pub(crate) fn tools(&self) -> Vec<ToolInfo> {
        let running = self.running();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for (_, conn) in &running {
            for tool in &conn.tools {
                *counts.entry(tool.decl.name.clone()).or_default() += 1;
            }
        }
        running
            .iter()
            .flat_map(|(instance, conn)| {
                conn.tools.iter().map(|tool| ToolInfo {
                    plugin: instance.name().to_owned(),
                    name: tool.decl.name.clone(),
                    qualified: format!("{}.{}", instance.name(), tool.decl.name),
                    bare_ok: counts.get(&tool.decl.name) == Some(&1),
                    description: tool.decl.description.clone(),
                    input_schema: tool.input_schema.clone(),
                    output_schema: tool.output_schema.clone(),
                    annotations: tool.decl.annotations.unwrap_or_default(),
                })
            })
            .collect()
    }

    pub(crate) fn commands(&self) -> Vec<CommandInfo> {
        self.running()
            .iter()
            .flat_map(|(instance, conn)| {
                conn.commands.iter().map(|c| CommandInfo {
                    plugin: instance.name().to_owned(),
                    full_name: command_full_name(c),
                    declaration: c.clone(),
                })
            })
            .collect()
    }

    pub(crate) fn conflicts(&self) -> Vec<Problem> {
        let mut tools: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut commands: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (instance, conn) in self.running() {
            for tool in &conn.tools {
                tools
                    .entry(tool.decl.name.clone())
                    .or_default()
                    .push(instance.name().to_owned());
            }
            for command in &conn.commands {
                commands
                    .entry(command_full_name(command))
                    .or_default()
                    .push(instance.name().to_owned());
            }
        }
        let mut problems = claimed_twice("tool", "call", tools);
        problems.extend(claimed_twice("command", "run", commands));
        problems
    }
}

/// A conflict for each name (of a tool or a command) that more than one
/// plugin claims, saying how to reach each.
fn claimed_twice(kind: &str, verb: &str, by_name: BTreeMap<String, Vec<String>>) -> Vec<Problem> {
    by_name
        .into_iter()
        .filter(|(_, plugins)| plugins.len() > 1)
        .map(|(name, plugins)| {
            let qualified: Vec<String> = plugins.iter().map(|p| format!("{p}.{name}")).collect();
            Problem::Conflict(format!(
                "{kind} {name:?} is offered by {}; {verb} it as {}",
                plugins.join(" and "),
                qualified.join(" or ")
            ))
        })
        .collect()
}
