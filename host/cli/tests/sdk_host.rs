//! The host client of each SDK (Python, Node, Go) against the real host:
//! a tool stores a value through `HostService` and reads it back when the
//! manifest requests `host.storage` and the user grants it, and is refused
//! with `PERMISSION_DENIED` naming the permission when the manifest does not
//! request it. Uses the examples' environments, which `scripts/test.sh`
//! sets up (the venv, node_modules and the Go module cache).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn manifest(name: &str, executable: &str, storage: bool) -> String {
    let permissions = if storage {
        "[permissions]\nhost = [\"host.storage\"]\n"
    } else {
        ""
    };
    format!(
        "name = \"{name}\"\nversion = \"0.1.0\"\n[run]\nexecutable = \"{executable}\"\n[protocol]\nversions = [1]\n{permissions}"
    )
}

fn executable(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A plugin directory `name` under `root`, in `language`, whose tool
/// `remember` puts and gets one key through the host.
fn plugin(root: &Path, language: &str, name: &str, storage: bool) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let repo = std::fs::canonicalize(repo()).unwrap();
    match language {
        "python" => {
            std::fs::write(
                dir.join("plugin.py"),
                format!(
                    r#"from plugwire import Plugin, ToolContext
plugin = Plugin("{name}", "0.1.0")

@plugin.tool
async def remember(key: str, value: str, cx: ToolContext) -> str:
    """Stores and reads back."""
    try:
        await cx.host.put(key, value)
        got = await cx.host.get(key)
        return got.decode() if got is not None else "<missing>"
    except Exception as e:
        return f"refused: {{e}}"

plugin.serve()
"#
                ),
            )
            .unwrap();
            let python = repo.join("sdk-examples/python/.venv/bin/python");
            executable(
                &dir.join("plugin"),
                &format!(
                    "#!/bin/sh\nexec {} \"$(dirname \"$0\")/plugin.py\"\n",
                    python.display()
                ),
            );
        }
        "node" => {
            let sdk = repo.join("sdk-examples/node/node_modules/@plugwire/sdk");
            executable(
                &dir.join("plugin"),
                &format!(
                    r#"#!/usr/bin/env node
const {{ Plugin, z }} = require({sdk:?});
new Plugin({{ name: "{name}", version: "0.1.0" }})
  .tool("remember", {{ description: "Stores and reads back", input: z.strictObject({{ key: z.string(), value: z.string() }}) }}, async ({{ key, value }}, cx) => {{
    try {{
      await cx.host.put(key, value);
      const got = await cx.host.get(key);
      return got ? got.toString() : "<missing>";
    }} catch (e) {{
      return `refused: ${{e.message}}`;
    }}
  }})
  .serve();
"#
                ),
            );
        }
        "go" => {
            std::fs::write(
                dir.join("go.mod"),
                format!(
                    "module example.com/{name}\n\ngo 1.26.0\n\nrequire plugwire.dev/sdk-go v0.1.0\n\nreplace plugwire.dev/sdk-go => {}\n",
                    repo.join("sdk-go").display()
                ),
            )
            .unwrap();
            std::fs::write(
                dir.join("main.go"),
                format!(
                    r#"package main

import (
	"context"

	"plugwire.dev/sdk-go"
)

type args struct {{
	Key   string `json:"key"`
	Value string `json:"value"`
}}

func main() {{
	p := plugwire.New("{name}", "0.1.0", "")
	plugwire.AddTool(p, plugwire.ToolSpec{{Name: "remember", Description: "Stores and reads back"}}, func(ctx context.Context, cx *plugwire.ToolContext, a args) (string, error) {{
		if err := cx.Host.Put(ctx, a.Key, []byte(a.Value)); err != nil {{
			return "refused: " + err.Error(), nil
		}}
		got, found, err := cx.Host.Get(ctx, a.Key)
		if err != nil || !found {{
			return "<missing>", nil
		}}
		return string(got), nil
	}})
	p.Serve()
}}
"#
                ),
            )
            .unwrap();
            let sdk_sum = std::fs::read_to_string(repo.join("sdk-go/go.sum")).unwrap();
            std::fs::write(dir.join("go.sum"), sdk_sum).unwrap();
            for args in [&["mod", "tidy"][..], &["build", "-o", "plugin", "."]] {
                let out = Command::new("go")
                    .args(args)
                    .current_dir(&dir)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "go {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        other => panic!("no such language {other}"),
    }
    std::fs::write(dir.join("plugin.toml"), manifest(name, "plugin", storage)).unwrap();
    dir
}

fn call(plugin_dir: &Path, home: &Path, tool: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_plugwire"))
        .args(["--no-daemon", "--sandbox", "none", "--plugin-dir"])
        .arg(plugin_dir)
        .args(["-y", "call", tool, r#"{"key":"colour","value":"teal"}"#])
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn stores_through_the_host_and_is_refused_without_the_permission(language: &str) {
    let home = tempfile::tempdir().unwrap();
    let plugins = home.path().join("plugins");
    plugin(&plugins, language, &format!("mem-{language}"), true);
    plugin(&plugins, language, &format!("nomem-{language}"), false);
    assert_eq!(
        call(&plugins, home.path(), &format!("mem-{language}.remember")),
        "teal"
    );
    let refused = call(&plugins, home.path(), &format!("nomem-{language}.remember"));
    assert!(
        refused.contains("refused") && refused.contains("host.storage"),
        "{language}: {refused}"
    );
}

#[test]
fn the_python_sdk_reaches_the_host() {
    stores_through_the_host_and_is_refused_without_the_permission("python");
}

#[test]
fn the_node_sdk_reaches_the_host() {
    stores_through_the_host_and_is_refused_without_the_permission("node");
}

#[test]
fn the_go_sdk_reaches_the_host() {
    stores_through_the_host_and_is_refused_without_the_permission("go");
}
