//! `plugwire info PLUGIN`: a plugin's manifest, tools, commands, hooks and
//! providers.

use std::process::ExitCode;

use plugwire_proto::text::{escape_controls, escape_line};

use crate::backend::Backend;
use crate::output::{Failure, print_json, to_json};

pub(crate) async fn run(
    backend: &Backend,
    plugin: &str,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let detail = backend.detail(plugin).await?;
    if as_json {
        print_json(&to_json(&detail));
    } else {
        let status = &detail.status;
        let mut text = format!("{} {} ({})\n", status.name, status.version, status.state);
        if !status.description.is_empty() {
            text.push_str(&format!("  {}\n", escape_line(&status.description)));
        }
        text.push_str(&format!("  directory: {}\n", status.dir.display()));
        let about = &detail.about;
        let mut facts = Vec::new();
        if !about.authors.is_empty() {
            facts.push(format!("by {}", about.authors.join(", ")));
        }
        if let Some(license) = &about.license {
            facts.push(format!("license {license}"));
        }
        if let Some(homepage) = &about.homepage {
            facts.push(homepage.clone());
        }
        if !facts.is_empty() {
            text.push_str(&format!("  {}\n", escape_line(&facts.join("; "))));
        }
        if let Some(sdk) = &status.sdk {
            text.push_str(&format!("  sdk: {}\n", escape_line(sdk)));
        }
        if let Some(pid) = status.pid {
            let mut running = vec![format!("pid {pid}")];
            if let Some(up) = status.uptime_ms {
                running.push(format!("up {:.1} s", up as f64 / 1000.0));
            }
            if let Some(bytes) = status.memory_bytes {
                running.push(format!("memory {:.1} MiB", bytes as f64 / (1 << 20) as f64));
            }
            if let Some(cpu) = status.cpu_ms {
                running.push(format!("CPU {:.2} s", cpu / 1000.0));
            }
            running.push(format!(
                "{} calls, {} errors, {} restarts",
                status.calls, status.errors, status.restarts
            ));
            text.push_str(&format!("  running: {}\n", running.join(", ")));
        }
        for p in &detail.permissions {
            let state = if p.granted {
                "granted".to_owned()
            } else {
                format!("not granted: `plugwire grant {}`", status.name)
            };
            text.push_str(&format!(
                "  permission {} ({} risk: {}): {state}\n",
                escape_line(&p.permission),
                p.level,
                p.risk
            ));
        }
        let l = &detail.limits;
        let mut limits = Vec::new();
        if let Some(bytes) = l.memory_bytes {
            limits.push(format!("memory {} MiB", bytes >> 20));
        }
        if let Some(pids) = l.pids {
            limits.push(format!("{pids} processes"));
        }
        if let Some(cpu) = l.cpu {
            limits.push(format!("{cpu} CPUs"));
        }
        if let Some(files) = l.open_files {
            limits.push(format!("{files} open files"));
        }
        if let Some(ms) = l.call_timeout_ms {
            limits.push(format!("calls up to {:.0} s", ms as f64 / 1000.0));
        }
        if !limits.is_empty() {
            text.push_str(&format!("  limits: {}\n", limits.join(", ")));
        }
        // When it could not start now, the error below says why, once.
        if let Some(error) = status
            .last_error
            .as_ref()
            .filter(|_| detail.start_error.is_none())
        {
            text.push_str(&format!("  last error: {}\n", escape_controls(error)));
        }
        for t in &detail.tools {
            text.push_str(&format!(
                "  tool {}: {}\n",
                t.qualified,
                escape_line(&t.description)
            ));
        }
        for c in &detail.commands {
            text.push_str(&format!(
                "  command {}: {}\n",
                c.name,
                escape_line(&c.short)
            ));
            if !c.usage.is_empty() {
                text.push_str(&format!("    usage: {}\n", escape_line(&c.usage)));
            }
        }
        for h in &detail.hooks {
            let how = if h.mode == "intercept" {
                format!("intercept, priority {}, fail-{}", h.priority, h.on_failure)
            } else {
                "observe".to_owned()
            };
            text.push_str(&format!("  hook {} ({how})\n", escape_line(&h.pattern)));
        }
        for p in &detail.providers {
            text.push_str(&format!("  provider {} as {:?}\n", p.service, p.name));
        }
        print!("{text}");
    }
    match detail.start_error {
        None => Ok(ExitCode::SUCCESS),
        Some(e) => Err(e.into()),
    }
}
