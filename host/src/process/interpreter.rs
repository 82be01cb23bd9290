//! What an interpreted plugin needs to start: the interpreter its
//! executable's `#!` line names (through `/usr/bin/env` too), and the one a
//! Python virtual environment in the plugin directory points at. The
//! sandbox shows only the system directories and the plugin's own, so an
//! interpreter elsewhere (pyenv, Homebrew, nvm, `/opt`) is made visible,
//! read-only, by its installation prefix; and one the plugin's `PATH`
//! lacks gets its directory on that `PATH`. What cannot be made visible
//! safely (an interpreter whose prefix is a home directory or `/`) is
//! refused before the plugin starts, naming the path and the way out.

use std::path::{Path, PathBuf};

use crate::manifest::Manifest;

/// The `PATH` every plugin starts with.
pub const PLUGIN_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Directories the standard sandbox always shows (read-only).
pub(crate) const SYSTEM_DIRS: [&str; 5] = ["/usr", "/bin", "/lib", "/lib64", "/sbin"];

/// How many `#!` lines are followed (a script run by a script ...).
const MAX_CHAIN: usize = 4;

/// What a plugin's interpreters need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Installation prefixes to show read-only under a sandbox.
    pub expose: Vec<PathBuf>,
    /// Directories to put before [`PLUGIN_PATH`].
    pub path: Vec<PathBuf>,
}

impl Needs {
    /// The plugin's `PATH`.
    ///
    /// ```
    /// # use plugwire_host::interpreter::Needs;
    /// let needs = Needs { expose: vec![], path: vec!["/opt/node/bin".into()] };
    /// assert_eq!(needs.plugin_path(), "/opt/node/bin:/usr/local/bin:/usr/bin:/bin");
    /// ```
    pub fn plugin_path(&self) -> String {
        let mut parts: Vec<String> = self.path.iter().map(|p| p.display().to_string()).collect();
        parts.push(PLUGIN_PATH.to_owned());
        parts.join(":")
    }
}

/// What `manifest`'s executable and virtual environments need, with
/// `host_path` (this process's `PATH`) as the place of last resort for
/// `#!/usr/bin/env NAME`, and `homes` the directories never shown whole.
///
/// ```
/// # use plugwire_host::interpreter::needs;
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("plugin.toml"),
///     "name = \"p\"\nversion = \"0.1.0\"\n[run]\nexecutable = \"p.sh\"\n[protocol]\nversions = [1]\n").unwrap();
/// std::fs::write(dir.path().join("p.sh"), "#!/usr/bin/env no-such-interpreter\n").unwrap();
/// let manifest = plugwire_host::manifest::Manifest::load(dir.path()).unwrap();
/// let err = needs(&manifest, "/usr/bin", &[]).unwrap_err();
/// assert!(err.contains("no-such-interpreter is on neither"), "{err}");
/// ```
pub fn needs(manifest: &Manifest, host_path: &str, homes: &[PathBuf]) -> Result<Needs, String> {
    let mut found = Needs::default();
    let mut interpreters = Vec::new();
    let mut program = manifest.executable.clone();
    for _ in 0..MAX_CHAIN {
        let Some(line) = shebang(&program) else { break };
        let (interpreter, on_path) = resolve_shebang(&program, &line, host_path)?;
        if let Some(dir) = on_path
            && !found.path.contains(&dir)
        {
            found.path.push(dir);
        }
        interpreters.push((
            interpreter.clone(),
            format!("{}'s `{line}`", program.display()),
        ));
        program = interpreter;
    }
    for cfg in venv_configs(&manifest.dir) {
        if let Some(home) = venv_home(&cfg) {
            interpreters.push((
                home.join("python3"),
                format!("the virtual environment {}", cfg.display()),
            ));
        }
    }
    for (interpreter, why) in interpreters {
        let real = std::fs::canonicalize(&interpreter).unwrap_or(interpreter.clone());
        let Some(prefix) = prefix_of(&real) else {
            continue;
        };
        if visible(&prefix, &manifest.dir) || found.expose.contains(&prefix) {
            continue;
        }
        if prefix == Path::new("/") || homes.iter().any(|h| h.starts_with(&prefix)) {
            return Err(format!(
                "{why} runs {}, installed under {}: showing that to the sandbox would show a whole home directory; \
                 install the interpreter elsewhere (a system package, /opt, /usr/local) or make the virtual environment from one",
                real.display(),
                prefix.display()
            ));
        }
        found.expose.push(prefix);
    }
    Ok(found)
}

/// The `#!` line of `program`, without `#!`, when it is a script.
fn shebang(program: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(program).ok()?.read(&mut head).ok()?;
    let head = head.get(..n)?;
    let rest = head.strip_prefix(b"#!")?;
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    Some(String::from_utf8_lossy(&rest[..end]).trim().to_owned())
}

/// The interpreter a `#!` line names, and the directory to add to the
/// plugin's `PATH` when `env` found it only on the host's.
fn resolve_shebang(
    program: &Path,
    line: &str,
    host_path: &str,
) -> Result<(PathBuf, Option<PathBuf>), String> {
    let mut words = line.split_whitespace();
    let first = words
        .next()
        .ok_or_else(|| format!("{}: an empty `#!` line", program.display()))?;
    if Path::new(first).file_name().and_then(|n| n.to_str()) != Some("env") {
        let path = PathBuf::from(first);
        return if path.is_file() {
            Ok((path, None))
        } else {
            Err(format!(
                "{}'s `#!{line}` names {first}, which does not exist; install it or change the `#!` line",
                program.display()
            ))
        };
    }
    let name = words
        .find(|w| !w.starts_with('-') && !w.contains('='))
        .ok_or_else(|| {
            format!(
                "{}'s `#!{line}` names no program for env to run",
                program.display()
            )
        })?;
    if let Some(found) = search(name, PLUGIN_PATH) {
        return Ok((found, None));
    }
    match search(name, host_path) {
        Some(found) => {
            let dir = found.parent().map(Path::to_path_buf);
            Ok((found, dir))
        }
        None => Err(format!(
            "{}'s `#!{line}`: {name} is on neither the plugin's PATH ({PLUGIN_PATH}) nor this host's; \
             install {name}, or name it by its absolute path in the `#!` line",
            program.display()
        )),
    }
}

fn search(name: &str, path: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    path.split(':')
        .filter(|d| Path::new(d).is_absolute())
        .map(|d| Path::new(d).join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// `pyvenv.cfg` files one or two levels down (`.venv/pyvenv.cfg`).
fn venv_configs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path().join("pyvenv.cfg"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found
}

/// A virtual environment's `home`: the directory of the interpreter it
/// was made from.
fn venv_home(cfg: &Path) -> Option<PathBuf> {
    // A few hundred bytes; anything much larger is not a pyvenv.cfg.
    let text = std::fs::read_to_string(cfg)
        .ok()
        .filter(|t| t.len() < 64 * 1024)?;
    text.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "home").then(|| PathBuf::from(value.trim()))
    })
}

/// `/opt/python/3.12/bin/python3` → `/opt/python/3.12`: the installation
/// holding the interpreter and its libraries.
fn prefix_of(interpreter: &Path) -> Option<PathBuf> {
    let dir = interpreter.parent()?;
    let prefix = if dir.file_name().is_some_and(|n| n == "bin") {
        dir.parent()?
    } else {
        dir
    };
    Some(prefix.to_path_buf())
}

fn visible(prefix: &Path, plugin_dir: &Path) -> bool {
    prefix.starts_with(plugin_dir) || SYSTEM_DIRS.iter().any(|d| prefix.starts_with(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn plugin(executable_text: &str) -> (tempfile::TempDir, Manifest) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("plugin.toml"),
            "name = \"p\"\nversion = \"0.1.0\"\n[run]\nexecutable = \"run\"\n[protocol]\nversions = [1]\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("run"), executable_text).unwrap();
        std::fs::set_permissions(
            dir.path().join("run"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let manifest = Manifest::load(dir.path()).unwrap();
        (dir, manifest)
    }

    fn fake_interpreter(root: &Path, rel: &str) -> PathBuf {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_system_interpreter_needs_nothing() {
        let (_dir, manifest) = plugin("#!/bin/sh\necho\n");
        assert_eq!(needs(&manifest, "", &[]).unwrap(), Needs::default());
    }

    #[test]
    fn an_interpreter_elsewhere_is_shown_by_its_prefix_and_put_on_path() {
        let opt = tempfile::tempdir().unwrap();
        let node = fake_interpreter(opt.path(), "node-v20/bin/mynode");
        let (_dir, manifest) = plugin("#!/usr/bin/env mynode\n");
        let host_path = format!("/nonexistent:{}", node.parent().unwrap().display());
        let found = needs(&manifest, &host_path, &[]).unwrap();
        let real = std::fs::canonicalize(opt.path()).unwrap();
        assert_eq!(found.expose, [real.join("node-v20")]);
        assert_eq!(found.path, [node.parent().unwrap()]);
    }

    #[test]
    fn a_virtual_environment_shows_the_interpreter_it_was_made_from() {
        let opt = tempfile::tempdir().unwrap();
        let python = fake_interpreter(opt.path(), "pyenv/versions/3.12.1/bin/python3");
        let (dir, manifest) = plugin("#!/bin/sh\nexec .venv/bin/python plugin.py\n");
        std::fs::create_dir(dir.path().join(".venv")).unwrap();
        std::fs::write(
            dir.path().join(".venv/pyvenv.cfg"),
            format!(
                "home = {}\ninclude-system-site-packages = false\n",
                python.parent().unwrap().display()
            ),
        )
        .unwrap();
        let found = needs(&manifest, "", &[]).unwrap();
        let real = std::fs::canonicalize(opt.path()).unwrap();
        assert_eq!(found.expose, [real.join("pyenv/versions/3.12.1")]);
        assert!(found.path.is_empty());
    }

    #[test]
    fn an_interpreter_whose_prefix_is_a_home_is_refused_naming_it() {
        let home = tempfile::tempdir().unwrap();
        let python = fake_interpreter(home.path(), "bin/python3");
        let (_dir, manifest) = plugin(&format!("#!{}\n", python.display()));
        let real_home = std::fs::canonicalize(home.path()).unwrap();
        let err = needs(&manifest, "", std::slice::from_ref(&real_home)).unwrap_err();
        assert!(
            err.contains(&format!("installed under {}", real_home.display())),
            "{err}"
        );
        assert!(err.contains("install the interpreter elsewhere"), "{err}");
    }

    #[test]
    fn a_missing_absolute_interpreter_is_refused() {
        let (_dir, manifest) = plugin("#!/nonexistent/python3 -u\n");
        let err = needs(&manifest, "", &[]).unwrap_err();
        assert!(
            err.contains("names /nonexistent/python3, which does not exist"),
            "{err}"
        );
    }
}
