//! `plugwire doctor`: what this machine supports.

use std::process::ExitCode;

use std::os::unix::fs::MetadataExt;

use plugwire_host::sandbox::{SandboxLevel, Support};
use serde_json::{Value, json};

use crate::output::{Failure, print_json, table};

struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
}

pub(crate) fn run(as_json: bool, best_effort: bool) -> Result<ExitCode, Failure> {
    let support = Support::detect();
    let mut checks = checks(&support);
    checks.extend(levels(&support, best_effort));
    if as_json {
        print_json(&Value::Array(
            checks
                .iter()
                .map(|c| json!({"check": c.name, "ok": c.ok, "detail": c.detail}))
                .collect(),
        ));
    } else {
        let rows = checks
            .iter()
            .map(|c| {
                vec![
                    c.name.to_owned(),
                    if c.ok { "yes" } else { "no" }.to_owned(),
                    c.detail.clone(),
                ]
            })
            .collect();
        print!("{}", table(&["CHECK", "OK", "DETAIL"], rows));
    }
    Ok(ExitCode::SUCCESS)
}

/// What each sandbox level would use here, or what it lacks.
fn levels(support: &Support, best_effort: bool) -> Vec<Check> {
    [SandboxLevel::Standard, SandboxLevel::Strict]
        .into_iter()
        .map(|level| {
            let missing = support.missing(level);
            let uses = format!(
                "pid, mount, ipc, uts, net{}, cgroup namespaces; cgroup {}; rlimits; no capabilities; no_new_privs; {}seccomp",
                if support.root { "" } else { ", user" },
                support.cgroups.as_ref().map(|l| l.describe()).unwrap_or_else(|e| e.clone()),
                match &support.landlock {
                    Ok(v) => format!("Landlock ABI {v}; "),
                    Err(_) => String::new(),
                }
            );
            Check {
                name: if level == SandboxLevel::Standard { "level: standard" } else { "level: strict" },
                ok: missing.is_empty(),
                detail: if missing.is_empty() {
                    uses
                } else if best_effort {
                    format!("best effort, without: {}", missing.join(", "))
                } else {
                    format!("missing: {}", missing.join(", "))
                },
            }
        })
        .collect()
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// The machine as the sandbox itself sees it: the same detection the host
/// runs before it starts a sandboxed plugin, so the two never disagree.
fn checks(support: &Support) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.push(Check {
        name: "kernel",
        ok: true,
        detail: format!(
            "{} {}",
            read("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".into()),
            std::env::consts::ARCH
        ),
    });
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid());
    checks.push(Check {
        name: "running as",
        ok: true,
        detail: uid.map_or_else(|e| format!("unknown ({e})"), |u| format!("uid {u}")),
    });
    for (ns, name) in [
        ("user", "namespace: user"),
        ("pid", "namespace: pid"),
        ("mnt", "namespace: mount"),
        ("ipc", "namespace: ipc"),
        ("uts", "namespace: uts"),
        ("net", "namespace: net"),
        ("cgroup", "namespace: cgroup"),
    ] {
        let present = support.namespaces.iter().any(|n| n == ns);
        let (ok, detail) = if ns == "user" {
            let allowed = if support.user_namespaces {
                "unprivileged user namespaces allowed"
            } else {
                "unprivileged user namespaces not allowed (max_user_namespaces = 0 or missing)"
            };
            (present && support.user_namespaces, allowed.to_owned())
        } else {
            (present, String::new())
        };
        checks.push(Check { name, ok, detail });
    }
    checks.push(Check {
        name: "cgroups",
        ok: support
            .cgroups
            .as_ref()
            .is_ok_and(|l| !l.controllers().is_empty()),
        detail: match &support.cgroups {
            Ok(layout) => layout.describe(),
            Err(why) => why.clone(),
        },
    });
    checks.push(Check {
        name: "seccomp",
        ok: support.seccomp,
        detail: if support.seccomp {
            "filters available".into()
        } else {
            "not available".into()
        },
    });
    checks.push(Check {
        name: "landlock",
        ok: support.landlock.is_ok(),
        detail: match &support.landlock {
            Ok(v) => format!("ABI version {v}"),
            Err(e) => format!("unavailable: {e}"),
        },
    });
    let launcher = plugwire_host::launch::find_launcher(None);
    checks.push(Check {
        name: "launcher",
        ok: launcher.is_some(),
        detail: launcher.map_or(
            "plugwire-launcher not next to plugwire nor on PATH: plugins would not die with the host".into(),
            |p| p.display().to_string(),
        ),
    });
    checks
}
