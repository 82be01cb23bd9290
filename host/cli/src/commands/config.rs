//! `plugwire config PLUGIN [JSON]`: show a plugin's effective
//! configuration (secret fields as `[secret]`), or set its run-time part
//! (checked against its schema); `plugwire config set PLUGIN KEY` stores a
//! secret field, read from stdin.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use plugwire_host::HostConfig;
use plugwire_host::secrets;
use serde_json::Value;

use crate::backend::Backend;
use crate::input::read_json;
use crate::output::{Failure, print_json};

/// Longest secret value read.
const MAX_SECRET: u64 = 64 << 10;

pub(crate) async fn run(
    backend: &Backend,
    plugin: &str,
    set: Option<&str>,
) -> Result<ExitCode, Failure> {
    let set = set
        .map(|text| read_json(Some(text), "configuration"))
        .transpose()?;
    let config = backend.config(plugin, set).await?;
    print_json(&config);
    Ok(ExitCode::SUCCESS)
}

/// `plugwire config set PLUGIN KEY`: the value comes from stdin (a hidden
/// prompt on a terminal), so that it is never in the shell's history or
/// another user's `ps`.
pub(crate) fn set_secret(
    config: &HostConfig,
    plugin: &str,
    key: &str,
) -> Result<ExitCode, Failure> {
    let manifest = super::grant::manifests(config)
        .into_iter()
        .find(|m| m.name == plugin)
        .ok_or_else(|| {
            Failure::usage(format!("no plugin named {plugin:?}"))
                .hint("`plugwire list` shows the plugins; add --plugin-dir DIR for others")
        })?;
    let schema = manifest.config_schema.clone().unwrap_or(Value::Null);
    let secret = secrets::pointers(&schema);
    let pointer = if key.starts_with('/') {
        key.to_owned()
    } else {
        format!("/{}", key.replace('~', "~0").replace('/', "~1"))
    };
    if !secret.contains(&pointer) {
        return Err(Failure::usage(format!(
            "{key:?} is not a secret field of {plugin:?}; its secret fields are {}",
            if secret.is_empty() {
                "none".to_owned()
            } else {
                secret.join(", ")
            }
        ))
        .hint("a schema marks a field secret with `writeOnly = true` or `x-secret = true`; set other fields with `plugwire config PLUGIN JSON` or in the configuration file"));
    }
    let dir = config.config_dir.clone().ok_or_else(|| {
        Failure::new("no configuration directory is known (XDG_CONFIG_HOME or HOME)")
    })?;
    let text = read_value(plugin, key)?;
    let value = secrets::accept(&schema, &pointer, text).map_err(Failure::usage)?;
    secrets::store(&dir, plugin, &pointer, value).map_err(Failure::new)?;
    let path = secrets::file(&dir, plugin);
    crate::output::said(
        format!(
            "stored {plugin}'s secret {key} in {} (mode 600); it shows as {} everywhere and reaches the plugin when it starts",
            path.display(),
            secrets::PLACEHOLDER
        ),
        serde_json::json!({"plugin": plugin, "key": key, "file": path}),
    );
    Ok(ExitCode::SUCCESS)
}

/// The value from stdin, less one line ending: hidden on a terminal.
fn read_value(plugin: &str, key: &str) -> Result<String, Failure> {
    let stdin = std::io::stdin();
    let mut text = String::new();
    if stdin.is_terminal() {
        eprint!("{plugin} {key} (not shown): ");
        let _ = std::io::stderr().flush();
        let hidden = Echo::off();
        std::io::BufRead::read_line(&mut stdin.lock().take(MAX_SECRET + 1), &mut text)
            .map_err(|e| Failure::new(format!("cannot read the value: {e}")))?;
        drop(hidden);
        eprintln!();
    } else {
        stdin
            .lock()
            .take(MAX_SECRET + 1)
            .read_to_string(&mut text)
            .map_err(|e| Failure::new(format!("cannot read the value from stdin: {e}")))?;
    }
    if text.len() as u64 > MAX_SECRET {
        return Err(Failure::usage(format!(
            "{key}: more than {MAX_SECRET} bytes on stdin"
        )));
    }
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text)
        .to_owned();
    if text.is_empty() {
        return Err(Failure::usage(format!("{key}: no value on stdin"))
            .hint("pipe it in: printf %s \"$VALUE\" | plugwire config set PLUGIN KEY"));
    }
    Ok(text)
}

/// Terminal echo off until dropped.
struct Echo(Option<nix::sys::termios::Termios>);

impl Echo {
    fn off() -> Self {
        use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let Ok(before) = tcgetattr(&stdin) else {
            return Self(None);
        };
        let mut quiet = before.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        if tcsetattr(&stdin, SetArg::TCSANOW, &quiet).is_err() {
            return Self(None);
        }
        Self(Some(before))
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        if let Some(before) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                before,
            );
        }
    }
}
