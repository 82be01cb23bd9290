//! `plugwire install SOURCE`: install a plugin from its directory or a
//! package file, atomically, into the user's plugin directory, and show
//! (and, with `--yes` or at a prompt, grant) what it requests.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use plugwire_host::discovery::{Origin, standard_roots};
use plugwire_host::grants::{Grants, Permission, Risk, requested};
use plugwire_host::manifest::Manifest;
use plugwire_host::packages::{Limits, Record, Registry, TrustStore, install, pack};

use crate::output::{Failure, print_json};

/// Largest package file read.
const MAX_PACKAGE: u64 = 1 << 30;
/// Largest signature read (a minisign signature is a few hundred bytes).
const MAX_SIGNATURE: u64 = 64 * 1024;

/// How to install.
pub(crate) struct InstallOptions<'a> {
    pub(crate) into: Option<&'a Path>,
    pub(crate) signature: Option<&'a Path>,
    pub(crate) allow_unsigned: bool,
    pub(crate) grant: Grant,
}

/// Whether to grant what an installed plugin requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grant {
    /// Grant it (`--yes`, or an API request that says so), up to a risk
    /// level when one is given (`--max-risk`).
    Yes(Option<Risk>),
    /// Ask at the terminal, when there is one.
    Ask,
    /// Never ask: the daemon has no one to ask.
    No,
}

/// One plugin installed.
pub(crate) struct Done {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) dir: PathBuf,
    pub(crate) digest: String,
    pub(crate) replaced: Option<String>,
    /// What it requests, each with its risk.
    pub(crate) requests: Vec<(String, String)>,
    /// Whether what it requests was granted (true when it requests nothing).
    pub(crate) granted: bool,
    /// What `--max-risk` kept from an unattended grant.
    pub(crate) held_back: Vec<String>,
    /// The level that held them back.
    pub(crate) max_risk: Option<Risk>,
}

/// `plugwire install`: installs, then says what was installed.
pub(crate) fn command(
    source: &Path,
    options: &InstallOptions<'_>,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let started = std::time::Instant::now();
    for done in run(source, options)? {
        report(&done, options.grant, as_json);
        let what = match &done.replaced {
            Some(old) => format!("{} (from {old})", done.version),
            None => done.version.clone(),
        };
        super::audit::record(
            "install",
            Some(&done.name),
            Some(what),
            started,
            &Ok(ExitCode::SUCCESS),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What `plugwire install` prints of one installed plugin.
pub(crate) fn report(done: &Done, grant: Grant, as_json: bool) {
    if as_json {
        print_json(&serde_json::json!({
            "name": done.name,
            "version": done.version,
            "dir": done.dir,
            "digest": done.digest,
            "replaced": done.replaced,
            "requests": done.requests.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            "granted": done.granted,
            "held_back": done.held_back,
        }));
    } else {
        match &done.replaced {
            Some(old) => println!(
                "updated {} {old} -> {} in {}",
                done.name,
                done.version,
                done.dir.display()
            ),
            None => println!(
                "installed {} {} in {}",
                done.name,
                done.version,
                done.dir.display()
            ),
        }
        println!("  package {}", done.digest);
    }
    if done.requests.is_empty() {
        return;
    }
    if matches!(grant, Grant::Yes(_)) {
        eprintln!("{} requests:", done.name);
        for (p, risk) in &done.requests {
            eprintln!("  {p}: {risk}");
        }
    }
    if done.granted {
        eprintln!("granted, for {}", done.dir.display());
    } else if let (false, Some(most)) = (done.held_back.is_empty(), done.max_risk) {
        eprintln!(
            "not granted, being above --max-risk {most}: {}; it will not start until you run `plugwire grant {}`",
            done.held_back.join(", "),
            done.name
        );
    } else {
        eprintln!(
            "not granted: it will not start until you run `plugwire grant {}`",
            done.name
        );
    }
}

/// Installs from `source` (what it needs first), granting as `options`
/// says; what was installed.
pub(crate) fn run(source: &Path, options: &InstallOptions<'_>) -> Result<Vec<Done>, Failure> {
    let mut installed = Vec::new();
    let root = match options.into {
        Some(root) => root.to_path_buf(),
        None => user_root()?,
    };
    let source_name = std::path::absolute(source)
        .unwrap_or_else(|_| source.to_path_buf())
        .display()
        .to_string();
    if source.is_dir() {
        let bytes = pack(source)
            .map_err(|e| Failure::new(format!("cannot install {}: {e}", source.display())))?
            .bytes;
        installed.push(finish(&bytes, None, &source_name, &root, options.grant)?);
    } else if source.exists() {
        let bytes = read_package(source)?;
        let signer = check_signature(source, &bytes, options)?;
        installed.push(finish(&bytes, signer, &source_name, &root, options.grant)?);
    } else if let Some(url) = source
        .to_str()
        .filter(|s| s.starts_with("https://") || s.starts_with("http://"))
    {
        let (bytes, signer) = from_url(url, options)?;
        installed.push(finish(&bytes, signer, url, &root, options.grant)?);
    } else {
        let (name, requirement) = name_and_requirement(&source.to_string_lossy())?;
        // What it needs first, then itself.
        let all = from_indexes(&name, &requirement, options.allow_unsigned)?;
        let last = all.len().saturating_sub(1);
        for (i, found) in all.into_iter().enumerate() {
            installed.push(finish(
                &found.bytes,
                found.signer,
                &found.source,
                &root,
                options.grant,
            )?);
            // `install NAME@REQ` pins the plugin (updates stay within REQ);
            // `install NAME` lifts the pin.
            if i == last {
                let pin =
                    (requirement != semver::VersionReq::STAR).then(|| requirement.to_string());
                Registry::update(&registry_path(), |r| {
                    if let Some(record) = r.plugins.get_mut(&name) {
                        record.pinned = pin;
                    }
                    Ok(())
                })
                .map_err(Failure::new)?;
            }
        }
    }
    Ok(installed)
}

/// Installs one package under `root`, records it, and grants what it
/// requests when `grant` says so (asking at a terminal for [`Grant::Ask`]).
pub(crate) fn finish(
    bytes: &[u8],
    signer: Option<String>,
    source_name: &str,
    root: &Path,
    grant: Grant,
) -> Result<Done, Failure> {
    let installed = install(bytes, root, &Limits::default()).map_err(|e| {
        Failure::new(format!("cannot install {source_name}: {e}"))
            .hint("nothing was changed; `plugwire pack DIR` builds a package")
    })?;
    Registry::update(&registry_path(), |registry| {
        let mut record = Record::capture(
            &installed.dir,
            &installed.version,
            source_name,
            &installed.digest,
        )?;
        record.signer = signer.clone();
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
    let mut done = Done {
        name: installed.name.clone(),
        version: installed.version.clone(),
        dir: installed.dir.clone(),
        digest: installed.digest.clone(),
        replaced: installed.replaced.clone(),
        requests: wanted
            .iter()
            .map(|p| (p.to_string(), p.explain()))
            .collect(),
        granted: wanted.is_empty(),
        held_back: Vec::new(),
        max_risk: None,
    };
    if wanted.is_empty() {
        return Ok(done);
    }
    let (given, held): (Vec<&Permission>, Vec<&Permission>) = match grant {
        Grant::Yes(most) => {
            done.max_risk = most;
            wanted
                .iter()
                .partition(|p| most.is_none_or(|most| p.level() <= most))
        }
        Grant::No => (Vec::new(), wanted.iter().collect()),
        Grant::Ask => {
            eprintln!("{} requests:", installed.name);
            for p in &wanted {
                eprintln!("  {p}: {}", p.explain());
            }
            if crate::commands::grant::confirm("grant and remember?") {
                (wanted.iter().collect(), Vec::new())
            } else {
                (Vec::new(), wanted.iter().collect())
            }
        }
    };
    done.granted = held.is_empty();
    if matches!(grant, Grant::Yes(_)) {
        done.held_back = held.iter().map(ToString::to_string).collect();
    }
    if !given.is_empty() {
        let path = Grants::default_path();
        let mut grants = Grants::load(&path).map_err(Failure::new)?;
        grants
            .grant_to(&manifest, given.iter().map(ToString::to_string))
            .map_err(Failure::new)?;
        grants.save(&path).map_err(Failure::new)?;
        let names: Vec<String> = given.iter().map(ToString::to_string).collect();
        super::audit::recorded("grant", &manifest.name, names.join(","));
    }
    Ok(done)
}

/// A package at `url`, with its signature at `url.minisig` (required unless
/// `--allow-unsigned`: a download's origin is its signature).
fn from_url(url: &str, options: &InstallOptions<'_>) -> Result<(Vec<u8>, Option<String>), Failure> {
    use plugwire_host::packages::{SIGNATURE_SUFFIX, fetch};
    let deadline = crate::commands::index::FETCH_DEADLINE * 10;
    let bytes = fetch(url, MAX_PACKAGE, deadline).map_err(|why| {
        Failure::new(format!("cannot download: {why}")).hint("nothing was installed")
    })?;
    let signature_url = format!("{url}{SIGNATURE_SUFFIX}");
    let signature = match options.signature {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
            Failure::new(format!("cannot read the signature {}: {e}", path.display()))
        })?),
        None => fetch(&signature_url, MAX_SIGNATURE, deadline)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
    };
    match signature {
        Some(text) => {
            let trust = TrustStore::load(&TrustStore::default_path()).map_err(Failure::new)?;
            let signer = trust.verify(&bytes, &text).map_err(|why| {
                Failure::new(format!("refusing {url}: {why}")).hint("nothing was installed")
            })?;
            eprintln!("signature: valid, by key {} ({})", signer.key_id, signer.name);
            Ok((bytes, Some(format!("{} ({})", signer.key_id, signer.name))))
        }
        None if options.allow_unsigned => {
            eprintln!(
                "warning: {url} is not signed ({signature_url} is not there): installing it without knowing who published it (--allow-unsigned)"
            );
            Ok((bytes, None))
        }
        None => Err(Failure::new(format!(
            "refusing {url}: it is not signed ({signature_url} is not there)"
        ))
        .hint("a downloaded package must be signed by a trusted key; pass --allow-unsigned to install it anyway")),
    }
}

/// Verifies the package's signature when there is one (it must be valid
/// and by a trusted key); without one, says once what is not verified. The
/// signer, as `KEYID (name)`.
fn check_signature(
    source: &Path,
    bytes: &[u8],
    options: &InstallOptions<'_>,
) -> Result<Option<String>, Failure> {
    let path = options.signature.map_or_else(
        || {
            PathBuf::from(format!(
                "{}{}",
                source.display(),
                plugwire_host::packages::SIGNATURE_SUFFIX
            ))
        },
        Path::to_path_buf,
    );
    let text = match plugwire_host::packages::fetch(
        &path.display().to_string(),
        MAX_SIGNATURE,
        crate::commands::index::FETCH_DEADLINE,
    ) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) if !path.exists() && options.signature.is_none() => {
            if !options.allow_unsigned {
                eprintln!(
                    "note: {} has no signature ({} is not there): its origin is not verified, only its integrity",
                    source.display(),
                    path.display()
                );
            }
            return Ok(None);
        }
        Err(why) => {
            return Err(Failure::new(format!("cannot read the signature: {why}")));
        }
    };
    let trust = TrustStore::load(&TrustStore::default_path()).map_err(Failure::new)?;
    let signer = trust.verify(bytes, &text).map_err(|why| {
        Failure::new(format!("refusing {}: {why}", source.display())).hint("nothing was installed")
    })?;
    eprintln!(
        "signature: valid, by key {} ({})",
        signer.key_id, signer.name
    );
    Ok(Some(format!("{} ({})", signer.key_id, signer.name)))
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

/// `NAME` or `NAME@REQUIREMENT` (`echo@^0.2`), or why it is neither.
pub(crate) fn name_and_requirement(text: &str) -> Result<(String, semver::VersionReq), Failure> {
    let (name, requirement) = text.split_once('@').unwrap_or((text, "*"));
    if plugwire_proto::names::validate_plugin_name(name).is_err() {
        return Err(Failure::new(format!(
            "{text}: no such directory or package file, and not a plugin name"
        ))
        .hint("give a directory, a .tar.gz, or NAME[@VERSION-REQUIREMENT] from an index"));
    }
    let requirement = semver::VersionReq::parse(requirement).map_err(|e| {
        Failure::new(format!(
            "{text}: {requirement:?} is not a version requirement: {e}"
        ))
        .hint("for example echo@^0.2 or echo@=0.1.0")
    })?;
    Ok((name.to_owned(), requirement))
}

/// A package found in an index and downloaded.
pub(crate) struct Found {
    pub(crate) bytes: Vec<u8>,
    pub(crate) signer: Option<String>,
    pub(crate) source: String,
}

/// What to install for `name` at `requirement`, from the configured
/// indexes: the versions PubGrub chose for it and everything it needs
/// (what is installed at the chosen version already is left out), what it
/// needs first; each downloaded and verified (digest, and signature by a
/// trusted key unless `allow_unsigned`).
pub(crate) fn from_indexes(
    name: &str,
    requirement: &semver::VersionReq,
    allow_unsigned: bool,
) -> Result<Vec<Found>, Failure> {
    let indexes = crate::commands::index::Indexes::load()?.fetch_all()?;
    let registry = Registry::load(&registry_path()).map_err(Failure::new)?;
    let mut catalog = plugwire_host::packages::Catalog::default();
    for (_, _, index) in &indexes {
        index.fill(&mut catalog);
    }
    for (plugin, record) in &registry.plugins {
        if let (Ok(version), Ok(manifest)) = (
            semver::Version::parse(&record.version),
            Manifest::load(&record.dir),
        ) {
            catalog.add(plugin, version, manifest.dependencies);
        }
    }
    let plan = catalog.solve(name, requirement).map_err(|why| {
        Failure::new(format!("cannot install {name} {requirement}: {why}"))
            .hint("`plugwire search NAME` shows what the indexes hold")
    })?;
    let mut order: Vec<(&String, &semver::Version)> =
        plan.iter().filter(|(p, _)| *p != name).collect();
    order.extend(plan.get_key_value(name));
    let trust = TrustStore::load(&TrustStore::default_path()).map_err(Failure::new)?;
    let mut found = Vec::new();
    for (plugin, version) in order {
        let installed = registry.plugins.get(plugin).map(|r| r.version.as_str());
        if plugin != name && installed == Some(version.to_string().as_str()) {
            continue;
        }
        let Some((index, location, entry)) = indexes
            .iter()
            .find_map(|(n, l, i)| i.entry(plugin, version).map(|e| (n, l, e)))
        else {
            // Installed, not in any index: nothing to fetch.
            continue;
        };
        if plugin != name {
            eprintln!("also installing {plugin} {version}, which {name} needs");
        }
        if allow_unsigned && entry.signature.is_none() {
            eprintln!(
                "warning: {plugin} {version} is not signed: installing it without knowing who published it (--allow-unsigned)"
            );
        }
        let mut bar = crate::output::progress(&format!("{plugin} {version}"));
        let downloaded = entry
            .download(
                location,
                &trust,
                allow_unsigned,
                crate::commands::index::FETCH_DEADLINE,
                &mut bar,
            )
            .map_err(|why| {
                Failure::new(format!("refusing {plugin} {version}: {why}"))
                    .hint("nothing more was installed")
            })?;
        if let Some(signer) = &downloaded.signer {
            eprintln!(
                "signature: valid, by key {} ({})",
                signer.key_id, signer.name
            );
        }
        found.push(Found {
            bytes: downloaded.bytes,
            signer: downloaded
                .signer
                .map(|s| format!("{} ({})", s.key_id, s.name)),
            source: format!("index {index}: {plugin}@={version}"),
        });
    }
    Ok(found)
}
