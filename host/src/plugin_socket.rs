//! Dialling a plugin's socket without trusting its path: the plugin names
//! the socket in its bootstrap line, and it controls the directory the
//! socket is in, so the path could be a symbolic link to another program's
//! socket (the host would then speak for the plugin to a service of the
//! host's choosing). Every connect opens the path without following links,
//! checks that what it names is a socket owned by the plugin's identity,
//! and connects through that very inode.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

/// Opens `path` as the plugin's socket: a socket, not a link, inside
/// `runtime_dir` by its resolved path, owned by uid `owner`.
pub(crate) fn open_checked(path: &Path, runtime_dir: &Path, owner: u32) -> Result<OwnedFd, String> {
    use nix::fcntl::{OFlag, open};
    let name_ok = path.file_name().is_some()
        && path
            .parent()
            .and_then(|p| p.canonicalize().ok())
            .zip(runtime_dir.canonicalize().ok())
            .is_some_and(|(parent, dir)| parent == dir);
    if !name_ok {
        return Err(format!(
            "the plugin's socket {} is not directly inside its runtime directory {} (PW-BOOT-7)",
            path.display(),
            runtime_dir.display()
        ));
    }
    let fd = open(
        path,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| format!("cannot open the plugin's socket {}: {e}", path.display()))?;
    let meta = std::fs::File::from(fd.try_clone().map_err(|e| e.to_string())?)
        .metadata()
        .map_err(|e| format!("cannot inspect {}: {e}", path.display()))?;
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if !kind.is_socket() {
        let what = if kind.is_symlink() {
            "a symbolic link"
        } else if kind.is_file() {
            "a regular file"
        } else {
            "not a socket"
        };
        return Err(format!(
            "the plugin's socket {} is {what}; a plugin must bind a Unix socket there itself (PW-BOOT-7), and the host never follows links",
            path.display()
        ));
    }
    if meta.uid() != owner {
        return Err(format!(
            "the plugin's socket {} belongs to uid {}, not to the plugin's uid {owner}; only a socket the plugin bound itself is dialled",
            path.display(),
            meta.uid()
        ));
    }
    Ok(fd)
}

/// Connects to the socket behind `fd` (from [`open_checked`]) through
/// `/proc/self/fd`, so that no later rename of the path can redirect it.
fn connect_fd(fd: &OwnedFd) -> std::io::Result<std::os::unix::net::UnixStream> {
    std::os::unix::net::UnixStream::connect(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// A channel to the plugin's socket whose every (re)connect goes through
/// [`open_checked`].
pub(crate) async fn connect(
    path: &Path,
    runtime_dir: &Path,
    owner: u32,
    limit: Duration,
) -> Result<Channel, String> {
    let path = path.to_path_buf();
    let dir = runtime_dir.to_path_buf();
    // The URI is only a placeholder: the connector decides where to go.
    let endpoint = Endpoint::from_static("http://localhost")
        .origin(Uri::from_static("http://localhost"))
        .connect_timeout(limit);
    let connector = tower::service_fn(move |_: Uri| {
        let (path, dir) = (path.clone(), dir.clone());
        async move {
            let fd = open_checked(&path, &dir, owner).map_err(std::io::Error::other)?;
            let stream = connect_fd(&fd)?;
            stream.set_nonblocking(true)?;
            Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::from_std(stream)?))
        }
    });
    match tokio::time::timeout(limit, endpoint.connect_with_connector(connector)).await {
        Err(_) => Err(format!("cannot connect within {limit:?}")),
        Ok(Err(e)) => {
            // The connector's own explanation is the useful part.
            let mut why = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                why = s.to_string();
                source = s.source();
            }
            Err(why)
        }
        Ok(Ok(channel)) => Ok(channel),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_uid() -> u32 {
        nix::unistd::geteuid().as_raw()
    }

    #[test]
    fn a_link_to_a_socket_outside_is_refused() {
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("other.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&target).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("plugin.sock");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = open_checked(&link, dir.path(), own_uid()).unwrap_err();
        assert!(err.contains("symbolic link"), "{err}");
    }

    #[test]
    fn a_socket_of_another_owner_or_outside_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("plugin.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let err = open_checked(&socket, dir.path(), own_uid() + 1).unwrap_err();
        assert!(err.contains("belongs to uid"), "{err}");
        let other = tempfile::tempdir().unwrap();
        let err = open_checked(&socket, other.path(), own_uid()).unwrap_err();
        assert!(err.contains("not directly inside"), "{err}");
        let file = dir.path().join("file.sock");
        std::fs::write(&file, "x").unwrap();
        let err = open_checked(&file, dir.path(), own_uid()).unwrap_err();
        assert!(err.contains("regular file"), "{err}");
    }

    #[test]
    fn the_checked_socket_is_connected_through_its_inode() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("plugin.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let fd = open_checked(&socket, dir.path(), own_uid()).unwrap();
        // Renaming the path afterwards does not redirect the connection.
        std::fs::rename(&socket, dir.path().join("moved.sock")).unwrap();
        connect_fd(&fd).unwrap();
        listener.accept().unwrap();
    }
}
