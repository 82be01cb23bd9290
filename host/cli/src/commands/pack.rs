//! `plugwire pack DIR`: build a plugin's package, reproducibly, and print
//! its digest.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::output::{Failure, print_json};

pub(crate) fn run(
    dir: &Path,
    output: Option<&Path>,
    platform: Option<&str>,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let package = plugwire_host::packages::pack_for(dir, platform).map_err(|e| {
        Failure::new(format!("cannot pack {}: {e}", dir.display()))
            .hint("give the directory that holds the plugin's plugin.toml")
    })?;
    let path = match output {
        Some(path) if path.is_dir() => path.join(package.file_name()),
        Some(path) => path.to_path_buf(),
        None => PathBuf::from(package.file_name()),
    };
    // Written whole, then renamed: a reader never sees half a package.
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(parent)
        .map_err(|e| Failure::new(format!("cannot write in {}: {e}", parent.display())))?;
    std::io::Write::write_all(&mut file, &package.bytes)
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
    file.persist(&path)
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
    if as_json {
        print_json(&serde_json::json!({
            "name": package.name,
            "version": package.version,
            "path": path,
            "digest": package.digest,
            "bytes": package.bytes.len(),
            "files": package.files,
            "platform": package.platform,
        }));
    } else {
        println!("{}  {}", package.digest, path.display());
        eprintln!(
            "packed {} {}: {} files, {} bytes",
            package.name,
            package.version,
            package.files,
            package.bytes.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
