//! `plugwire new LANG NAME`: a new plugin directory, anywhere on disk, with
//! a manifest, one tool and one command, a README and what the language
//! needs to build it; it passes `plugwire check` as generated.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::output::{Failure, said};

/// One generated file: its path in the new directory, its text, and
/// whether it is executable.
type Template = (&'static str, &'static str, bool);

const RUST: &[Template] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/rust/Cargo.toml"),
        false,
    ),
    (
        "src/main.rs",
        include_str!("../../templates/rust/src/main.rs"),
        false,
    ),
    (
        "plugin.toml",
        include_str!("../../templates/rust/plugin.toml"),
        false,
    ),
    (
        "README.md",
        include_str!("../../templates/rust/README.md"),
        false,
    ),
    (
        ".gitignore",
        include_str!("../../templates/rust/gitignore"),
        false,
    ),
];

const PYTHON: &[Template] = &[
    (
        "plugin.py",
        include_str!("../../templates/python/plugin.py"),
        false,
    ),
    (
        "plugin",
        include_str!("../../templates/python/plugin"),
        true,
    ),
    (
        "setup.sh",
        include_str!("../../templates/python/setup.sh"),
        true,
    ),
    (
        "requirements.txt",
        include_str!("../../templates/python/requirements.txt"),
        false,
    ),
    (
        "plugin.toml",
        include_str!("../../templates/python/plugin.toml"),
        false,
    ),
    (
        "README.md",
        include_str!("../../templates/python/README.md"),
        false,
    ),
    (
        ".gitignore",
        include_str!("../../templates/python/gitignore"),
        false,
    ),
];

const NODE: &[Template] = &[
    (
        "src/plugin.ts",
        include_str!("../../templates/node/src/plugin.ts"),
        false,
    ),
    ("plugin", include_str!("../../templates/node/plugin"), true),
    (
        "package.json",
        include_str!("../../templates/node/package.json"),
        false,
    ),
    (
        "tsconfig.json",
        include_str!("../../templates/node/tsconfig.json"),
        false,
    ),
    (".npmrc", include_str!("../../templates/node/npmrc"), false),
    (
        "setup.sh",
        include_str!("../../templates/node/setup.sh"),
        true,
    ),
    (
        "plugin.toml",
        include_str!("../../templates/node/plugin.toml"),
        false,
    ),
    (
        "README.md",
        include_str!("../../templates/node/README.md"),
        false,
    ),
    (
        ".gitignore",
        include_str!("../../templates/node/gitignore"),
        false,
    ),
];

const GO: &[Template] = &[
    ("main.go", include_str!("../../templates/go/main.go"), false),
    ("go.mod", include_str!("../../templates/go/go.mod"), false),
    (
        "plugin.toml",
        include_str!("../../templates/go/plugin.toml"),
        false,
    ),
    (
        "README.md",
        include_str!("../../templates/go/README.md"),
        false,
    ),
    (
        ".gitignore",
        include_str!("../../templates/go/gitignore"),
        false,
    ),
];

/// The languages `new` knows, with their templates and the next steps.
const LANGUAGES: &[(&str, &[Template], &str)] = &[
    ("rust", RUST, "cargo build --release"),
    ("python", PYTHON, "./setup.sh"),
    ("node", NODE, "./setup.sh"),
    ("go", GO, "go mod tidy && go build -o NAME ."),
];

/// The plugwire checkout this binary was built from, whose SDKs a new
/// plugin uses when `--sdk` is not given.
fn built_from() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn run(
    language: &str,
    name: &str,
    dir: Option<&Path>,
    sdk: Option<&Path>,
) -> Result<ExitCode, Failure> {
    let known: Vec<&str> = LANGUAGES.iter().map(|(l, _, _)| *l).collect();
    let Some((_, templates, build)) = LANGUAGES.iter().find(|(l, _, _)| *l == language) else {
        let hint = match language {
            "typescript" | "javascript" | "ts" | "js" => {
                "TypeScript and JavaScript plugins are `node`"
            }
            _ => "give one of the known languages",
        };
        return Err(Failure::usage(format!(
            "no template for {language:?}; known: {}",
            known.join(", ")
        ))
        .hint(hint));
    };
    plugwire_proto::names::validate_plugin_name(name)
        .map_err(|why| Failure::usage(why).hint("for example `plugwire new python word-count`"))?;
    let sdk = sdk_checkout(sdk)?;
    let dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(
            Failure::new(format!("{} already exists and is not empty", dir.display()))
                .hint("choose another name, or --dir for another place"),
        );
    }
    let sdk_text = sdk
        .to_str()
        .ok_or_else(|| Failure::new(format!("{}: the SDK's path is not UTF-8", sdk.display())))?;
    for (path, text, executable) in *templates {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Failure::new(format!("cannot create {}: {e}", parent.display())))?;
        }
        let text = text.replace("{{name}}", name).replace("{{sdk}}", sdk_text);
        std::fs::write(&target, text)
            .map_err(|e| Failure::new(format!("cannot write {}: {e}", target.display())))?;
        if *executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).map_err(
                |e| Failure::new(format!("cannot make {} executable: {e}", target.display())),
            )?;
        }
    }
    if language == "rust" {
        // The versions the SDK was built and tested with; cargo drops the rest.
        let lock = sdk.join("Cargo.lock");
        if lock.is_file() {
            let _ = std::fs::copy(&lock, dir.join("Cargo.lock"));
        }
    }
    let build = build.replace("NAME", name);
    let shown = dir.display();
    said(
        format!(
            "made {language} plugin {name} in {shown}\nnext:\n  cd {shown} && {build}\n  plugwire check . --exercise"
        ),
        serde_json::json!({"language": language, "name": name, "dir": dir, "sdk": sdk, "build": build}),
    );
    Ok(ExitCode::SUCCESS)
}

/// The checkout holding the SDKs: `--sdk`, or the one this binary was
/// built from, made absolute (the generated files name it).
fn sdk_checkout(given: Option<&Path>) -> Result<PathBuf, Failure> {
    let candidate = given.map(Path::to_path_buf).unwrap_or_else(built_from);
    match std::fs::canonicalize(&candidate) {
        Ok(path)
            if path.join("sdk-rust/Cargo.toml").is_file()
                && path.join("sdk-python/pyproject.toml").is_file() =>
        {
            Ok(path)
        }
        _ => Err(Failure::new(format!(
            "{} is not a plugwire checkout (it should hold sdk-rust/, sdk-python/, sdk-node/ and sdk-go/)",
            candidate.display()
        ))
        .hint("give --sdk PATH, the plugwire repository whose SDKs the plugin should use")),
    }
}
