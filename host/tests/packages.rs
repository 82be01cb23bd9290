//! Packages: reproducible packing, atomic installs and updates, and every
//! kind of hostile archive refused with the entry named and nothing left
//! behind.

mod common;

use common::Plugins;
use flate2::Compression;
use flate2::write::GzEncoder;
use plugwire_host::packages::{Limits, PackageError, SUMS_FILE, install, pack, unpack};
use plugwire_host::{CallOptions, Host};
use serde_json::json;

/// A raw archive entry: the header is written byte by byte, so that it can
/// say what no well-behaved builder would.
struct Raw<'a> {
    path: &'a [u8],
    kind: tar::EntryType,
    mode: u32,
    data: &'a [u8],
    link: &'a [u8],
}

fn raw(path: &str, data: &[u8]) -> Raw<'static> {
    Raw {
        path: Box::leak(path.as_bytes().to_vec().into_boxed_slice()),
        kind: tar::EntryType::Regular,
        mode: 0o644,
        data: Box::leak(data.to_vec().into_boxed_slice()),
        link: b"",
    }
}

fn archive(entries: &[Raw<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    for e in entries {
        let mut header = tar::Header::new_gnu();
        {
            let gnu = header.as_gnu_mut().unwrap();
            gnu.name[..e.path.len()].copy_from_slice(e.path);
            gnu.linkname[..e.link.len()].copy_from_slice(e.link);
        }
        header.set_entry_type(e.kind);
        header.set_mode(e.mode);
        header.set_size(e.data.len() as u64);
        header.set_mtime(0);
        header.set_cksum();
        builder.append(&header, e.data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// A valid package's entries for a tiny plugin, plus `extra`, with
/// `SHA256SUMS` listing `listed`.
fn with_sums(files: &[(&str, &[u8])], listed: &[(&str, &[u8])]) -> Vec<Raw<'static>> {
    use sha2::Digest;
    let sums: String = {
        let mut lines: Vec<String> = listed
            .iter()
            .map(|(p, d)| {
                let digest: String = sha2::Sha256::digest(d)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                format!("{digest}  {p}\n")
            })
            .collect();
        lines.sort_by(|a, b| a[66..].cmp(&b[66..]));
        lines.concat()
    };
    let mut entries = vec![raw(SUMS_FILE, sums.as_bytes())];
    entries.extend(files.iter().map(|(p, d)| raw(p, d)));
    entries
}

const MANIFEST: &[u8] = b"name = \"tiny\"\nversion = \"1.0.0\"\n[run]\nexecutable = \"run.sh\"\n[protocol]\nversions = [1]\n";
const RUN: &[u8] = b"#!/bin/sh\nexit 0\n";

fn tiny(extra: &[(&str, &[u8])]) -> Vec<Raw<'static>> {
    let mut files: Vec<(&str, &[u8])> = vec![("plugin.toml", MANIFEST), ("run.sh", RUN)];
    files.extend_from_slice(extra);
    let mut entries = with_sums(&files, &files);
    // The executable must be executable.
    entries[2].mode = 0o755;
    entries
}

/// Installs `bytes` into an empty root and expects a refusal mentioning
/// every one of `words`; nothing may be left in the root.
fn refused(bytes: &[u8], limits: &Limits, words: &[&str]) -> String {
    let root = tempfile::tempdir().unwrap();
    let err = install(bytes, root.path(), limits).unwrap_err();
    let text = err.to_string();
    for word in words {
        assert!(text.contains(word), "{word:?} not in {text:?}");
    }
    let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?} after {text}");
    text
}

#[test]
fn a_valid_tiny_package_installs() {
    let root = tempfile::tempdir().unwrap();
    let installed = install(&archive(&tiny(&[])), root.path(), &Limits::default()).unwrap();
    assert_eq!(
        (installed.name.as_str(), installed.version.as_str()),
        ("tiny", "1.0.0")
    );
    assert!(root.path().join("tiny/run.sh").is_file());
}

#[test]
fn traversal_links_devices_and_setuid_are_refused() {
    let limits = Limits::default();
    let mut absolute = tiny(&[]);
    absolute.push(raw("/etc/cron.d/evil", b"x"));
    refused(
        &archive(&absolute),
        &limits,
        &["/etc/cron.d/evil", "absolute"],
    );

    let mut climbing = tiny(&[]);
    climbing.push(raw("bin/../../outside", b"x"));
    refused(&archive(&climbing), &limits, &["bin/../../outside", ".."]);

    for (kind, word) in [
        (tar::EntryType::Symlink, "symbolic link"),
        (tar::EntryType::Link, "hard link"),
        (tar::EntryType::Char, "device"),
        (tar::EntryType::Block, "device"),
        (tar::EntryType::Fifo, "named pipe"),
    ] {
        let mut entries = tiny(&[]);
        entries.push(Raw {
            kind,
            link: b"../../../etc/passwd",
            data: b"",
            ..raw("bin/sneaky", b"")
        });
        refused(&archive(&entries), &limits, &["bin/sneaky", word]);
    }

    let mut setuid = tiny(&[]);
    setuid[2].mode = 0o4755;
    refused(&archive(&setuid), &limits, &["run.sh", "setuid"]);
}

#[test]
fn bombs_and_oversized_archives_are_refused() {
    // 8 MiB of zeros compresses to a few KiB: the cap on unpacked bytes
    // stops it, not the archive's size.
    let zeros = vec![0u8; 8 << 20];
    let bomb = tiny(&[("data.bin", &zeros)]);
    let small = Limits {
        total_bytes: 1 << 20,
        ..Limits::default()
    };
    let text = refused(&archive(&bomb), &small, &["more than 1048576 bytes"]);
    assert!(!text.is_empty());
    let one_file = Limits {
        file_bytes: 1 << 20,
        ..Limits::default()
    };
    refused(
        &archive(&bomb),
        &one_file,
        &["data.bin", "limit of one file"],
    );

    let many: Vec<(String, Vec<u8>)> = (0..50).map(|i| (format!("f{i}"), vec![])).collect();
    let many: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(p, d)| (p.as_str(), d.as_slice()))
        .collect();
    let few = Limits {
        entries: 20,
        ..Limits::default()
    };
    refused(&archive(&tiny(&many)), &few, &["more than 20 entries"]);

    let deep = format!("{}/x", "d".repeat(90));
    let short = Limits {
        path_bytes: 64,
        ..Limits::default()
    };
    refused(
        &archive(&tiny(&[(&deep, b"x")])),
        &short,
        &["over the 64-byte limit"],
    );
}

#[test]
fn tampering_is_refused_naming_the_file() {
    let limits = Limits::default();
    // A file changed after the list was made.
    let files: Vec<(&str, &[u8])> = vec![("plugin.toml", MANIFEST), ("run.sh", RUN)];
    let listed: Vec<(&str, &[u8])> = vec![("plugin.toml", MANIFEST), ("run.sh", b"the original")];
    refused(
        &archive(&with_sums(&files, &listed)),
        &limits,
        &["run.sh", "altered"],
    );
    // A file slipped in.
    let listed: Vec<(&str, &[u8])> = vec![("plugin.toml", MANIFEST)];
    refused(
        &archive(&with_sums(&files, &listed)),
        &limits,
        &["run.sh", "not in SHA256SUMS"],
    );
    // A file taken out.
    let listed: Vec<(&str, &[u8])> =
        vec![("plugin.toml", MANIFEST), ("run.sh", RUN), ("gone", b"x")];
    refused(
        &archive(&with_sums(&files, &listed)),
        &limits,
        &["gone", "missing"],
    );
    // No list at all: not a package.
    let bare = vec![raw("plugin.toml", MANIFEST)];
    refused(
        &archive(&bare),
        &limits,
        &["no SHA256SUMS", "plugwire pack"],
    );
    // The same path twice; a file where a directory goes.
    let mut twice = tiny(&[]);
    twice.push(raw("run.sh", RUN));
    refused(&archive(&twice), &limits, &["run.sh", "twice"]);
    refused(
        &archive(&tiny(&[("run.sh/inner", b"x")])),
        &limits,
        &["run.sh/inner", "not a directory"],
    );
    // Not even gzip.
    refused(b"this is no archive", &limits, &["not a plugwire package"]);
}

#[test]
fn packing_is_reproducible_and_refuses_links() {
    let plugins = Plugins::new(&["echo"]);
    let dir = plugins.dir.path().join("echo");
    let first = pack(&dir).unwrap();
    // Other times and modes on disk give the same bytes.
    let other = Plugins::new(&["echo"]);
    let other_dir = other.dir.path().join("echo");
    std::fs::set_permissions(
        other_dir.join("plugin.toml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let second = pack(&other_dir).unwrap();
    assert_eq!(first.digest, second.digest);
    assert_eq!(first.bytes, second.bytes);
    assert_eq!(first.file_name(), "echo-0.1.0.tar.gz");
    // What `pack` builds, `unpack` takes.
    let dest = tempfile::tempdir().unwrap();
    let unpacked = unpack(&first.bytes[..], dest.path(), &Limits::default()).unwrap();
    assert_eq!(unpacked.manifest.name, "echo");

    std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd")).unwrap();
    let err = pack(&dir).unwrap_err();
    assert!(matches!(err, PackageError::Source { .. }), "{err}");
    assert!(
        err.to_string().contains("passwd") && err.to_string().contains("link"),
        "{err}"
    );
}

#[tokio::test]
async fn an_installed_package_runs_and_an_update_replaces_it_atomically() {
    let plugins = Plugins::new(&["echo"]);
    let dir = plugins.dir.path().join("echo");
    let root = tempfile::tempdir().unwrap();
    let limits = Limits::default();
    let v1 = pack(&dir).unwrap();
    let installed = install(&v1.bytes, root.path(), &limits).unwrap();
    assert_eq!(installed.replaced, None);
    assert_eq!(installed.digest, v1.digest);

    let mut config = plugins.config();
    config.plugin_dirs = vec![root.path().to_path_buf()];
    let host = Host::start(config.clone()).await.unwrap();
    let out = host
        .call_tool(
            "echo.echo",
            json!({"text": "installed"}),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.content, "installed");
    host.shutdown().await;

    plugins.edit("echo", |t| {
        t.replace("version = \"0.1.0\"", "version = \"0.2.0\"")
    });
    let v2 = pack(&dir).unwrap();
    let updated = install(&v2.bytes, root.path(), &limits).unwrap();
    assert_eq!(updated.replaced.as_deref(), Some("0.1.0"));
    assert_eq!(updated.version, "0.2.0");
    let names: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["echo"], "no staging directory is left");

    // A broken update leaves the installed version as it was.
    let mut broken = v2.bytes.clone();
    let at = broken.len() / 2;
    broken.truncate(at);
    assert!(install(&broken, root.path(), &limits).is_err());
    let manifest = std::fs::read_to_string(root.path().join("echo/plugin.toml")).unwrap();
    assert!(manifest.contains("0.2.0"));
    let host = Host::start(config).await.unwrap();
    assert!(
        host.call_tool(
            "echo.echo",
            json!({"text": "still"}),
            CallOptions::default()
        )
        .await
        .is_ok()
    );
    host.shutdown().await;
}

/// A plugin in the registry of installed plugins is checked at every
/// launch: a changed file is refused, naming it; the same bytes written
/// anew pass (they are re-hashed, not trusted by name).
#[tokio::test]
async fn a_plugin_modified_since_install_is_refused_at_launch() {
    use plugwire_host::packages::{Record, Registry};
    let plugins = Plugins::new(&["echo"]);
    let root = tempfile::tempdir().unwrap();
    let package = pack(&plugins.dir.path().join("echo")).unwrap();
    let installed = install(&package.bytes, root.path(), &Limits::default()).unwrap();
    let mut config = plugins.config();
    config.plugin_dirs = vec![root.path().to_path_buf()];
    Registry::update(&Registry::path(&config.data_dir), |r| {
        let record = Record::capture(
            &installed.dir,
            &installed.version,
            "test",
            &installed.digest,
        )?;
        r.plugins.insert(installed.name.clone(), record);
        Ok(())
    })
    .unwrap();
    let call = |host: Host| async move {
        let out = host
            .call_tool("echo.echo", json!({"text": "x"}), CallOptions::default())
            .await;
        host.shutdown().await;
        out
    };
    let host = Host::start(config.clone()).await.unwrap();
    assert!(call(host).await.is_ok(), "intact");

    let executable = installed.dir.join("plugwire-example-echo");
    let bytes = std::fs::read(&executable).unwrap();
    std::fs::remove_file(&executable).unwrap();
    std::fs::write(&executable, &bytes).unwrap();
    std::fs::set_permissions(
        &executable,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let host = Host::start(config.clone()).await.unwrap();
    assert!(call(host).await.is_ok(), "the same bytes, rewritten");

    let mut changed = bytes;
    changed.extend_from_slice(b"appended");
    std::fs::write(&executable, &changed).unwrap();
    let host = Host::start(config).await.unwrap();
    let err = call(host).await.unwrap_err();
    assert!(err.message().contains("modified since install"), "{err:?}");
    assert!(err.message().contains("plugwire-example-echo"), "{err:?}");
}

/// Plain http goes only to loopback; other schemes are refused by name.
#[test]
fn fetch_refuses_plain_http_off_loopback_and_unknown_schemes() {
    use plugwire_host::packages::fetch;
    let deadline = std::time::Duration::from_secs(2);
    let err = fetch("http://192.0.2.1/index.json", 1 << 20, deadline).unwrap_err();
    assert!(err.contains("only from a loopback address"), "{err}");
    let err = fetch("ftp://example.org/x", 1 << 20, deadline).unwrap_err();
    assert!(err.contains("ftp"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big");
    std::fs::write(&file, vec![0u8; 2048]).unwrap();
    let err = fetch(file.to_str().unwrap(), 1024, deadline).unwrap_err();
    assert!(err.contains("over the 1024-byte limit"), "{err}");
    assert_eq!(
        fetch(&format!("file://{}", file.display()), 4096, deadline)
            .unwrap()
            .len(),
        2048
    );
}

/// A manifest with an executable per platform: one package per platform,
/// each holding only its own executable; the right one installs here, the
/// other is refused by name; an index lists both and picks ours.
#[test]
fn packages_are_built_per_platform() {
    use plugwire_host::manifest::platform;
    use plugwire_host::packages::{Index, pack_for};
    let plugins = Plugins::new(&["echo"]);
    let dir = plugins.dir.path().join("echo");
    std::fs::create_dir_all(dir.join("other")).unwrap();
    std::fs::write(dir.join("other/echo"), b"not for this machine").unwrap();
    let here = platform();
    plugins.edit("echo", |t| {
        t.replace(
            "executable = \"plugwire-example-echo\"",
            &format!("executable = {{ {here} = \"plugwire-example-echo\", linux-otherarch = \"other/echo\" }}"),
        )
    });
    let ours = pack_for(&dir, None).unwrap();
    let theirs = pack_for(&dir, Some("linux-otherarch")).unwrap();
    assert_eq!(ours.platform.as_deref(), Some(here.as_str()));
    assert_eq!(theirs.file_name(), "echo-0.1.0-linux-otherarch.tar.gz");
    let files = |bytes: &[u8]| {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
        archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    assert!(
        !files(&ours.bytes)
            .iter()
            .any(|f| f.starts_with("other/echo"))
    );
    assert!(!files(&theirs.bytes).contains(&"plugwire-example-echo".to_owned()));
    assert!(files(&theirs.bytes).contains(&"PLATFORM".to_owned()));

    let root = tempfile::tempdir().unwrap();
    let err = install(&theirs.bytes, root.path(), &Limits::default()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("built for linux-otherarch") && text.contains(&here),
        "{text}"
    );
    assert!(
        std::fs::read_dir(root.path()).unwrap().next().is_none(),
        "nothing left"
    );
    install(&ours.bytes, root.path(), &Limits::default()).unwrap();

    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join(ours.file_name()), &ours.bytes).unwrap();
    std::fs::write(site.path().join(theirs.file_name()), &theirs.bytes).unwrap();
    let index = Index::build(site.path()).unwrap();
    assert_eq!(index.plugins["echo"].len(), 2, "both platforms listed");
    let best = index.best("echo", &semver::VersionReq::STAR).unwrap();
    assert_eq!(best.platform.as_deref(), Some(here.as_str()));
}

/// `.zip` packages are taken too, with the same refusals.
#[test]
fn zip_packages_install_and_hostile_ones_are_refused() {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    type Zip = zip::ZipWriter<std::io::Cursor<Vec<u8>>>;
    let build = |extra: &dyn Fn(&mut Zip)| {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let sums = {
            use sha2::Digest;
            let hex = |d: &[u8]| {
                sha2::Sha256::digest(d)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            };
            format!("{}  plugin.toml\n{}  run.sh\n", hex(MANIFEST), hex(RUN))
        };
        for (name, data, mode) in [
            (SUMS_FILE, sums.as_bytes(), 0o644),
            ("plugin.toml", MANIFEST, 0o644),
            ("run.sh", RUN, 0o755),
        ] {
            zip.start_file(name, SimpleFileOptions::default().unix_permissions(mode))
                .unwrap();
            zip.write_all(data).unwrap();
        }
        extra(&mut zip);
        zip.finish().unwrap().into_inner()
    };
    let root = tempfile::tempdir().unwrap();
    let installed = install(&build(&|_| {}), root.path(), &Limits::default()).unwrap();
    assert_eq!(installed.name, "tiny");
    assert!(root.path().join("tiny/run.sh").is_file());

    let limits = Limits::default();
    let link = build(&|zip| {
        zip.add_symlink(
            "bin/sneaky",
            "../../../etc/passwd",
            SimpleFileOptions::default(),
        )
        .unwrap();
    });
    refused(&link, &limits, &["bin/sneaky", "symbolic link"]);
    let climbing = build(&|zip| {
        zip.start_file("../outside", SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"x").unwrap();
    });
    refused(&climbing, &limits, &["../outside", ".."]);
}
