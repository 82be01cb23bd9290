//! `plugwire install SOURCE`: install a plugin from its directory or a
//! package file, atomically, into the user's plugin directory, and show
//! (and, with `--yes` or at a prompt, grant) what it requests.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use plugwire_host::discovery::{Origin, standard_roots};
use plugwire_host::grants::{Grants, requested};
use plugwire_host::manifest::Manifest;
use plugwire_host::packages::{Limits, Record, Registry, install, pack};

use crate::output::{Failure, print_json};

/// Largest package file read.
const MAX_PACKAGE: u64 = 1 << 30;

pub(crate) fn run(
    source: &Path,
    into: Option<&Path>,
    yes: bool,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let bytes = if source.is_dir() {
        pack(source)
            .map_err(|e| Failure::new(format!("cannot install {}: {e}", source.display())))?
            .bytes
    } else {
        read_package(source)?
    };
    let root = match into {
        Some(root) => root.to_path_buf(),
        None => user_root()?,
    };
    let installed = install(&bytes, &root, &Limits::default()).map_err(|e| {
        Failure::new(format!("cannot install {}: {e}", source.display()))
            .hint("nothing was changed; `plugwire pack DIR` builds a package")
    })?;
    let source_name = std::path::absolute(source)
        .unwrap_or_else(|_| source.to_path_buf())
        .display()
        .to_string();
    Registry::update(&registry_path(), |registry| {
        let mut record = Record::capture(
            &installed.dir,
            &installed.version,
            &source_name,
            &installed.digest,
        )?;
        // An update keeps what the user chose about the plugin.
        if let Some(old) = registry.plugins.get(&installed.name) {
            record.enabled = old.enabled;
            record.pinned = old.pinned.clone();
        }
        registry.plugins.insert(installed.name.clone(), record);
        Ok(())
    })
    .map_err(|why| {
        Failure::new(format!("installed, but not recorded: {why}"))
            .hint("run the install again to record it")
    })?;
    let manifest = Manifest::load(&installed.dir).map_err(|e| Failure::new(e.to_string()))?;
    let wanted = requested(&manifest);
    if as_json {
        print_json(&serde_json::json!({
            "name": installed.name,
            "version": installed.version,
            "dir": installed.dir,
            "digest": installed.digest,
            "replaced": installed.replaced,
            "requests": wanted.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        }));
    } else {
        match &installed.replaced {
            Some(old) => println!(
                "updated {} {old} -> {} in {}",
                installed.name,
                installed.version,
                installed.dir.display()
            ),
            None => println!(
                "installed {} {} in {}",
                installed.name,
                installed.version,
                installed.dir.display()
            ),
        }
        println!("  package {}", installed.digest);
    }
    if wanted.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("{} requests:", installed.name);
    for p in &wanted {
        eprintln!("  {p}: {}", p.risk());
    }
    let grant = yes || crate::commands::grant::confirm("grant and remember?");
    if grant {
        let path = Grants::default_path();
        let mut grants = Grants::load(&path).map_err(Failure::new)?;
        grants
            .grant_to(&manifest, wanted.iter().map(ToString::to_string))
            .map_err(Failure::new)?;
        grants.save(&path).map_err(Failure::new)?;
        eprintln!("granted, for {}", installed.dir.display());
    } else {
        eprintln!(
            "not granted: it will not start until you run `plugwire grant {}`",
            installed.name
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn read_package(path: &Path) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_PACKAGE + 1).read_to_end(&mut bytes))
        .map_err(|e| {
            Failure::new(format!("cannot read {}: {e}", path.display()))
                .hint("give a plugin directory or a package built by `plugwire pack`")
        })?;
    if bytes.len() as u64 > MAX_PACKAGE {
        return Err(Failure::new(format!(
            "{}: over the {MAX_PACKAGE}-byte limit of a package",
            path.display()
        )));
    }
    Ok(bytes)
}

/// The user's plugin directory, where installs go.
fn user_root() -> Result<PathBuf, Failure> {
    standard_roots()
        .into_iter()
        .find(|(_, origin)| *origin == Origin::User)
        .map(|(dir, _)| dir)
        .ok_or_else(|| {
            Failure::new("no user plugin directory: neither XDG_CONFIG_HOME nor HOME is set")
                .hint("pass --into DIR")
        })
}

/// The registry of installed plugins, under the data directory a host
/// uses by default.
pub(crate) fn registry_path() -> PathBuf {
    Registry::path(&plugwire_host::HostConfig::new("plugwire", env!("CARGO_PKG_VERSION")).data_dir)
}
