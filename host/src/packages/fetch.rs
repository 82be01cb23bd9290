//! Fetching an index or a package: from a local path (or `file://`), over
//! HTTPS (rustls, with the Mozilla roots), or over plain HTTP from a
//! loopback address only, where nothing can be tampered with on the way;
//! under a size cap and a deadline, never keeping half a body.

use std::io::Read;
use std::net::ToSocketAddrs;
use std::path::Path;
use std::time::Duration;

/// Reads `location` whole: a path, `file://PATH`, `https://…`, or
/// `http://<loopback>[:port]/PATH`.
///
/// ```no_run
/// let bytes = plugwire_host::packages::fetch("/srv/plugins/index.json", 1 << 20, std::time::Duration::from_secs(10))?;
/// # Ok::<(), String>(())
/// ```
pub fn fetch(location: &str, cap: u64, deadline: Duration) -> Result<Vec<u8>, String> {
    fetch_with(location, cap, deadline, &mut |_, _| {})
}

/// Like [`fetch`], telling `progress` (bytes so far, bytes announced) as a
/// download goes, for a progress bar.
///
/// ```no_run
/// let bytes = plugwire_host::packages::fetch_with(
///     "https://plugins.example.org/echo-0.1.0.tar.gz", 1 << 30, std::time::Duration::from_secs(60),
///     &mut |done, total| eprint!("\r{done} of {total:?} bytes"),
/// )?;
/// # Ok::<(), String>(())
/// ```
pub fn fetch_with(
    location: &str,
    cap: u64,
    deadline: Duration,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<Vec<u8>, String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return http_get(location, cap, deadline, progress)
            .map_err(|why| format!("{location}: {why}"));
    }
    if let Some((scheme, _)) = location.split_once("://")
        && scheme != "file"
    {
        return Err(format!(
            "{location}: expected a path, file://, or http:// on loopback; saw the scheme {scheme:?}"
        ));
    }
    let path = location.strip_prefix("file://").unwrap_or(location);
    let mut bytes = Vec::new();
    std::fs::File::open(Path::new(path))
        .and_then(|f| f.take(cap + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    if bytes.len() as u64 > cap {
        return Err(format!("{path}: over the {cap}-byte limit"));
    }
    progress(bytes.len() as u64, Some(bytes.len() as u64));
    Ok(bytes)
}

/// `location` resolved against the index at `base` (a relative file name
/// sits beside the index).
pub(crate) fn join(base: &str, location: &str) -> String {
    if location.contains("://") || location.starts_with('/') {
        return location.to_owned();
    }
    match base.rfind('/') {
        Some(i) => format!("{}/{location}", &base[..i]),
        None => location.to_owned(),
    }
}

/// GETs `url` (`http://` to loopback only, or `https://`), body capped at
/// `cap`, the whole exchange within `deadline`.
fn http_get(
    url: &str,
    cap: u64,
    deadline: Duration,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<Vec<u8>, String> {
    let plain = url.starts_with("http://");
    if plain {
        let rest = &url["http://".len()..];
        let authority = rest.split('/').next().unwrap_or_default();
        let with_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let addresses: Vec<_> = with_port
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {authority}: {e}"))?
            .collect();
        if addresses.is_empty() || !addresses.iter().all(|a| a.ip().is_loopback()) {
            return Err(format!(
                "plain http is accepted only from a loopback address, and {authority} is not one; use https"
            ));
        }
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(deadline))
        // A loopback server must not send us elsewhere; https stays https.
        .max_redirects(if plain { 0 } else { 5 })
        .https_only(!plain)
        .user_agent(concat!("plugwire/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| match e {
        ureq::Error::StatusCode(code) => format!("answered {code}, expected 200"),
        ureq::Error::Timeout(_) => format!("no answer within {deadline:?}"),
        other => other.to_string(),
    })?;
    let announced = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if let Some(length) = announced
        && length > cap
    {
        return Err(format!("{length} bytes, over the {cap}-byte limit"));
    }
    let failed = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::TimedOut => format!("no answer within {deadline:?}; nothing was kept"),
        _ if e.to_string().contains("limit") => format!("over the {cap}-byte limit"),
        _ => format!("the download ended early ({e}); nothing was kept"),
    };
    let mut reader = response.body_mut().with_config().limit(cap).reader();
    let mut body = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf).map_err(failed)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
        progress(body.len() as u64, announced);
    }
    if let Some(length) = announced
        && (body.len() as u64) < length
    {
        return Err(format!(
            "the download ended after {} of its {length} bytes; nothing was kept",
            body.len()
        ));
    }
    Ok(body)
}
