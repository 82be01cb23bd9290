//! `plugwire doctor`: what this machine supports.

use std::process::ExitCode;

use serde_json::{Value, json};

use crate::cli_output::{Failure, print_json, table};

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const TMPFS_MAGIC: i64 = 0x0102_1994;

struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
}

pub(crate) fn run(as_json: bool, best_effort: bool) -> Result<ExitCode, Failure> {
    let mut checks = checks();
    checks.extend(levels(best_effort));
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
fn levels(best_effort: bool) -> Vec<Check> {
    use plugwire_host::sandbox::{SandboxLevel, Support};
    let support = Support::detect();
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

fn checks() -> Vec<Check> {
    let mut checks = Vec::new();
    let uname = nix::sys::utsname::uname().ok();
    checks.push(Check {
        name: "kernel",
        ok: true,
        detail: uname.map_or("unknown".into(), |u| {
            format!(
                "{} {}",
                u.release().to_string_lossy(),
                u.machine().to_string_lossy()
            )
        }),
    });
    checks.push(Check {
        name: "running as",
        ok: true,
        detail: format!("uid {}", nix::unistd::geteuid()),
    });
    for ns in ["user", "pid", "mnt", "ipc", "uts", "net", "cgroup"] {
        let present = std::path::Path::new(&format!("/proc/self/ns/{ns}")).exists();
        let detail = if ns == "user" {
            match read("/proc/sys/user/max_user_namespaces") {
                Some(n) => format!("max_user_namespaces = {n}"),
                None => "no /proc/sys/user/max_user_namespaces".into(),
            }
        } else {
            String::new()
        };
        let ok = present && !(ns == "user" && detail.ends_with("= 0"));
        checks.push(Check {
            name: match ns {
                "user" => "namespace: user",
                "pid" => "namespace: pid",
                "mnt" => "namespace: mount",
                "ipc" => "namespace: ipc",
                "uts" => "namespace: uts",
                "net" => "namespace: net",
                _ => "namespace: cgroup",
            },
            ok,
            detail,
        });
    }
    checks.push(cgroup_check());
    let seccomp = read("/proc/self/status").and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("Seccomp:"))
            .map(|l| l.to_owned())
    });
    checks.push(Check {
        name: "seccomp",
        ok: seccomp.is_some(),
        detail: seccomp.unwrap_or_else(|| "not reported in /proc/self/status".into()),
    });
    let abi = plugwire_host::sandbox::landlock_abi();
    checks.push(Check {
        name: "landlock",
        ok: abi.is_ok(),
        detail: match abi {
            Ok(v) => format!("ABI version {v}"),
            Err(e) => format!("unavailable: {e}"),
        },
    });
    let launcher = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(plugwire_host::LAUNCHER_NAME)))
        .filter(|p| p.is_file());
    checks.push(Check {
        name: "launcher",
        ok: launcher.is_some(),
        detail: launcher.map_or(
            "plugwire-launcher not next to plugwire: plugins would not die with the host".into(),
            |p| p.display().to_string(),
        ),
    });
    checks
}

fn cgroup_check() -> Check {
    let detail;
    let ok;
    match nix::sys::statfs::statfs("/sys/fs/cgroup") {
        Ok(fs) => {
            let magic = fs.filesystem_type().0;
            if magic == CGROUP2_SUPER_MAGIC {
                let controllers = read("/sys/fs/cgroup/cgroup.controllers").unwrap_or_default();
                ok = true;
                detail = format!("v2 (unified); controllers: {controllers}");
            } else if magic == TMPFS_MAGIC {
                let v1: Vec<&str> = ["memory", "pids", "cpu"]
                    .into_iter()
                    .filter(|c| std::path::Path::new(&format!("/sys/fs/cgroup/{c}")).is_dir())
                    .collect();
                let hybrid = std::path::Path::new("/sys/fs/cgroup/unified").is_dir();
                ok = !v1.is_empty();
                detail = format!(
                    "v1{}; controllers: {}",
                    if hybrid {
                        " (hybrid, cgroup2 at /sys/fs/cgroup/unified)"
                    } else {
                        ""
                    },
                    v1.join(" ")
                );
            } else {
                ok = false;
                detail = format!("unknown filesystem {magic:#x} at /sys/fs/cgroup");
            }
        }
        Err(e) => {
            ok = false;
            detail = format!("cannot statfs /sys/fs/cgroup: {e}");
        }
    }
    Check {
        name: "cgroups",
        ok,
        detail,
    }
}
