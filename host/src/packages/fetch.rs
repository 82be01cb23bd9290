//! Fetching an index or a package: from a local path (or `file://`), or
//! over plain HTTP from a loopback address, under a size cap and a
//! deadline, never keeping half a body. HTTPS is not spoken yet; plain
//! HTTP is refused anywhere but loopback, where nothing can be tampered
//! with on the way.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

/// Reads `location` whole: a path, `file://PATH`, or
/// `http://<loopback>[:port]/PATH`.
///
/// ```no_run
/// let bytes = plugwire_host::packages::fetch("/srv/plugins/index.json", 1 << 20, std::time::Duration::from_secs(10))?;
/// # Ok::<(), String>(())
/// ```
pub fn fetch(location: &str, cap: u64, deadline: Duration) -> Result<Vec<u8>, String> {
    if let Some(rest) = location.strip_prefix("http://") {
        return http_get(rest, cap, deadline).map_err(|why| format!("{location}: {why}"));
    }
    if location.starts_with("https://") {
        return Err(format!(
            "{location}: https is not supported yet; use a local path, or serve it on a loopback http:// address"
        ));
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

fn http_get(rest: &str, cap: u64, deadline: Duration) -> Result<Vec<u8>, String> {
    let started = Instant::now();
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let with_port = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let addresses: Vec<_> = with_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    if addresses.is_empty() || !addresses.iter().all(|a| a.ip().is_loopback()) {
        return Err(format!(
            "plain http is accepted only from a loopback address, and {host} is not one"
        ));
    }
    let mut stream = TcpStream::connect_timeout(&addresses[0], deadline)
        .map_err(|e| format!("cannot connect: {e}"))?;
    let left = |what: &str| {
        deadline
            .checked_sub(started.elapsed())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("no {what} within {deadline:?}"))
    };
    stream
        .set_write_timeout(Some(left("connection")?))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: plugwire/{}\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut response = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let head_cap = 64 * 1024;
    loop {
        stream
            .set_read_timeout(Some(left("answer")?))
            .map_err(|e| e.to_string())?;
        let n = stream.read(&mut buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                format!("no answer within {deadline:?}")
            }
            _ => format!("the connection broke: {e}"),
        })?;
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buf[..n]);
        if response.len() as u64 > cap + head_cap as u64 {
            return Err(format!("the answer is over the {cap}-byte limit"));
        }
    }
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer has no complete header")?;
    let head = String::from_utf8_lossy(&response[..end]).into_owned();
    let body = &response[end + 4..];
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("");
    if status != "200" {
        return Err(format!(
            "answered {:?}, expected 200",
            head.lines().next().unwrap_or_default()
        ));
    }
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    if header("transfer-encoding").is_some_and(|t| !t.eq_ignore_ascii_case("identity")) {
        return Err("the answer is chunked; serve the file with a Content-Length".into());
    }
    match header("content-length") {
        Some(length) => {
            let length: u64 = length
                .parse()
                .map_err(|_| format!("Content-Length {length:?} is not a number"))?;
            if length > cap {
                return Err(format!("{length} bytes, over the {cap}-byte limit"));
            }
            if (body.len() as u64) < length {
                return Err(format!(
                    "the download ended after {} of its {length} bytes; nothing was kept",
                    body.len()
                ));
            }
            Ok(body[..length as usize].to_vec())
        }
        None => {
            if body.len() as u64 > cap {
                return Err(format!("over the {cap}-byte limit"));
            }
            Ok(body.to_vec())
        }
    }
}
