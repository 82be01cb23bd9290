//! Network by host: a sandboxed plugin granted `network:HOST[:PORT]` has no
//! route out of its network namespace but one, an HTTP proxy on
//! `127.0.0.1:3128` inside it. The listening socket is made by the
//! launcher inside the namespace and handed to the host, so every
//! connection is accepted, checked, resolved and dialled by the host, from
//! outside the plugin: a plugin cannot widen what it was granted by
//! resolving names or connecting on its own.
//!
//! The proxy speaks `CONNECT host:port` (any TCP protocol, TLS included) and
//! plain HTTP requests in absolute form (`GET http://host/path`), which is
//! what `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` make clients in every
//! language send.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The proxy's port inside the plugin's network namespace.
pub const PROXY_PORT: u16 = 3128;

/// Most bytes of a request head.
const MAX_HEAD: usize = 8 << 10;
/// Most connections a plugin has open through the proxy at once.
const MAX_CONNECTIONS: usize = 256;
/// Deadline for the request head, the name lookup and the connect, each.
const STEP_DEADLINE: Duration = Duration::from_secs(10);

/// One granted destination: `HOST[:PORT]`, where HOST is a DNS name, a
/// `*.domain` wildcard, an IPv4 address or a bracketed IPv6 address, and
/// no PORT means any.
///
/// ```
/// use plugwire_host::egress::Destination;
/// let d = Destination::parse("*.example.com:443")?;
/// assert!(d.allows("api.example.com", 443));
/// assert!(!d.allows("example.com", 443));
/// assert!(!d.allows("api.example.com", 80));
/// assert!(Destination::parse("127.0.0.1")?.allows("127.0.0.1", 8080));
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    host: Host,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Name(String),
    Suffix(String),
    Ip(IpAddr),
}

impl Destination {
    /// Parses a grant's `HOST[:PORT]`; the error says what is expected.
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected = "expected HOST[:PORT]: a DNS name, *.domain, an IPv4 address or [IPv6], and a port from 1 to 65535";
        let (host, port) = split_host_port(text).ok_or_else(|| expected.to_owned())?;
        let port = match port {
            None => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("{text:?}: port {p:?}: {expected}"))?,
            ),
        };
        let host = if let Some(ip) = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .and_then(|h| h.parse::<std::net::Ipv6Addr>().ok())
        {
            Host::Ip(IpAddr::V6(ip))
        } else if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
            Host::Ip(IpAddr::V4(ip))
        } else if let Some(domain) = host.strip_prefix("*.") {
            if !is_dns_name(domain) {
                return Err(format!("{text:?}: {expected}"));
            }
            Host::Suffix(domain.to_ascii_lowercase())
        } else if is_dns_name(host) {
            Host::Name(host.to_ascii_lowercase())
        } else {
            return Err(format!("{text:?}: {expected}"));
        };
        Ok(Self { host, port })
    }

    /// Whether a connection to `host:port`, as the plugin asked for it, is
    /// granted.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        match &self.host {
            Host::Ip(ip) => host.parse::<IpAddr>().is_ok_and(|h| h == *ip),
            Host::Name(name) => host.eq_ignore_ascii_case(name),
            Host::Suffix(domain) => {
                let host = host.to_ascii_lowercase();
                host.len() > domain.len() + 1
                    && host.ends_with(domain.as_str())
                    && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
            }
        }
    }

    /// Whether the grant itself names an address on this machine (an IP
    /// literal or `localhost`): only then may it reach one. A name that
    /// resolves to a loopback address is refused, so that a grant for
    /// `api.example.com` cannot be turned against the host's own services
    /// by whoever controls that name's DNS.
    fn names_local(&self) -> bool {
        match &self.host {
            Host::Ip(_) => true,
            Host::Name(name) => name == "localhost",
            Host::Suffix(_) => false,
        }
    }
}

fn is_dns_name(name: &str) -> bool {
    name.len() <= 253
        && !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// `host[:port]` and `[v6][:port]`.
fn split_host_port(text: &str) -> Option<(&str, Option<&str>)> {
    if text.starts_with('[') {
        let end = text.find(']')?;
        let rest = &text[end + 1..];
        return match rest.strip_prefix(':') {
            Some(port) => Some((&text[..=end], Some(port))),
            None if rest.is_empty() => Some((&text[..=end], None)),
            None => None,
        };
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, Some(port))),
        Some(_) => None,
        None => Some((text, None)),
    }
}

/// Takes the listener the sandbox's init handed over `channel` (it does so
/// before the plugin exists, so by the plugin's bootstrap line it is
/// there).
pub(crate) fn receive(channel: &std::os::fd::OwnedFd) -> Result<TcpListener, String> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let message = nix::sys::socket::recvmsg::<()>(
        channel.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        nix::sys::socket::MsgFlags::MSG_DONTWAIT | nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| format!("the launcher handed over no egress listener: {e}"))?;
    let received = message
        .cmsgs()
        .map_err(|e| format!("reading the egress hand-over: {e}"))?
        .find_map(|c| match c {
            nix::sys::socket::ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        })
        .ok_or("the launcher's egress hand-over carried no descriptor")?;
    // SAFETY: SCM_RIGHTS gave this process a new descriptor of its own.
    let listener = unsafe { std::net::TcpListener::from_raw_fd(received) };
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    TcpListener::from_std(listener).map_err(|e| e.to_string())
}

/// The proxy for one plugin instance: runs until the listener's task is
/// aborted (when the instance stops).
pub(crate) async fn serve(listener: TcpListener, plugin: String, granted: Vec<Destination>) {
    let granted = Arc::new(granted);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, say: wait instead of spinning.
                tracing::warn!(plugin = %plugin, "egress: cannot accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(plugin = %plugin, "egress: {MAX_CONNECTIONS} connections open; refusing another");
            drop(stream);
            continue;
        };
        let (granted, plugin) = (granted.clone(), plugin.clone());
        tokio::spawn(async move {
            if let Err(why) = relay(stream, &granted).await {
                tracing::info!(plugin = %plugin, "egress refused: {why}");
            }
            drop(slot);
        });
    }
}

/// One connection: the head, the check, the dial, then bytes both ways.
async fn relay(mut plugin: TcpStream, granted: &[Destination]) -> Result<(), String> {
    let head = tokio::time::timeout(STEP_DEADLINE, read_head(&mut plugin))
        .await
        .map_err(|_| "no request head within the deadline".to_owned())??;
    let request = match Request::parse(&head.bytes[..head.end]) {
        Ok(request) => request,
        Err(why) => return refuse(&mut plugin, 400, &why).await,
    };
    let Some(grant) = granted
        .iter()
        .find(|d| d.allows(&request.host, request.port))
    else {
        let why = format!(
            "{}:{} is not granted to this plugin (grant network:{}:{} to allow it)",
            request.host, request.port, request.host, request.port
        );
        return refuse(&mut plugin, 403, &why).await;
    };
    let mut upstream = match dial(&request.host, request.port, grant.names_local()).await {
        Ok(upstream) => upstream,
        Err(why) => return refuse(&mut plugin, 502, &why).await,
    };
    if request.tunnel {
        plugin
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
            .map_err(|e| e.to_string())?;
    } else {
        upstream
            .write_all(&request.forward)
            .await
            .map_err(|e| e.to_string())?;
    }
    // What the plugin sent after the head belongs to the destination.
    upstream
        .write_all(&head.bytes[head.end..])
        .await
        .map_err(|e| e.to_string())?;
    let _ = tokio::io::copy_bidirectional(&mut plugin, &mut upstream).await;
    Ok(())
}

async fn refuse(plugin: &mut TcpStream, code: u16, why: &str) -> Result<(), String> {
    let reason = match code {
        400 => "Bad Request",
        403 => "Forbidden",
        _ => "Bad Gateway",
    };
    let body = format!("plugwire egress: {why}\n");
    let _ = plugin
        .write_all(
            format!(
                "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await;
    Err(why.to_owned())
}

/// Resolves (in the host) and connects to the first address that answers.
async fn dial(host: &str, port: u16, may_be_local: bool) -> Result<TcpStream, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> =
        tokio::time::timeout(STEP_DEADLINE, tokio::net::lookup_host((bare, port)))
            .await
            .map_err(|_| format!("resolving {host} took longer than {STEP_DEADLINE:?}"))?
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect();
    let reachable: Vec<SocketAddr> = addresses
        .iter()
        .copied()
        .filter(|a| may_be_local || !(a.ip().is_loopback() || a.ip().is_unspecified()))
        .collect();
    if reachable.is_empty() {
        return Err(format!(
            "{host} resolves to {addresses:?}, an address of this machine, which a name grant never reaches; grant the address itself to allow it"
        ));
    }
    let mut last = String::new();
    for address in reachable {
        match tokio::time::timeout(STEP_DEADLINE, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = format!("cannot connect to {address}: {e}"),
            Err(_) => last = format!("connecting to {address} took longer than {STEP_DEADLINE:?}"),
        }
    }
    Err(last)
}

struct Head {
    bytes: Vec<u8>,
    /// Where the head ends (after the blank line).
    end: usize,
}

async fn read_head(stream: &mut TcpStream) -> Result<Head, String> {
    let mut bytes = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading the request: {e}"))?;
        if n == 0 {
            return Err("the connection closed before a request head".into());
        }
        bytes.extend_from_slice(&chunk[..n]);
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Head { bytes, end: at + 4 });
        }
        if bytes.len() > MAX_HEAD {
            return Err(format!("a request head longer than {MAX_HEAD} bytes"));
        }
    }
}

/// A proxy request, parsed.
#[derive(Debug, PartialEq)]
struct Request {
    host: String,
    port: u16,
    tunnel: bool,
    /// For a plain request: the head to send on, in origin form.
    forward: Vec<u8>,
}

impl Request {
    fn parse(head: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(head).map_err(|_| "a request head that is not UTF-8")?;
        let mut lines = text.split("\r\n");
        let first = lines.next().unwrap_or_default();
        let mut parts = first.split(' ');
        let (Some(method), Some(target), Some(version)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "expected `CONNECT host:port HTTP/1.1` or `METHOD http://host/path HTTP/1.1`, saw {first:?}"
            ));
        };
        if method == "CONNECT" {
            let (host, port) = split_host_port(target)
                .and_then(|(h, p)| Some((h, p?.parse::<u16>().ok()?)))
                .ok_or_else(|| format!("CONNECT needs host:port, saw {target:?}"))?;
            return Ok(Self {
                host: host.to_owned(),
                port,
                tunnel: true,
                forward: Vec::new(),
            });
        }
        let rest = target.strip_prefix("http://").ok_or_else(|| {
            format!("expected an absolute http:// URL (use CONNECT for https), saw {target:?}")
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match split_host_port(authority) {
            Some((h, None)) => (h, 80),
            Some((h, Some(p))) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("a bad port in {target:?}"))?,
            ),
            None => return Err(format!("a bad host in {target:?}")),
        };
        let mut forward = format!("{method} {path} {version}\r\n");
        for line in lines.take_while(|line| !line.is_empty()) {
            let name = line.split(':').next().unwrap_or_default();
            if !name.to_ascii_lowercase().starts_with("proxy-") {
                forward.push_str(line);
                forward.push_str("\r\n");
            }
        }
        forward.push_str("\r\n");
        Ok(Self {
            host: host.to_owned(),
            port,
            tunnel: false,
            forward: forward.into_bytes(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_parse_and_refuse_what_they_do_not_name() {
        for bad in [
            "",
            "exa mple.com",
            "a..b",
            "*.",
            "host:0",
            "host:99999",
            "::1",
            "-a.com",
        ] {
            assert!(Destination::parse(bad).is_err(), "{bad:?}");
        }
        let v6 = Destination::parse("[::1]:8080").unwrap();
        assert!(v6.allows("[::1]", 8080) && v6.allows("::1", 8080) && !v6.allows("::1", 80));
        let name = Destination::parse("API.Example.com").unwrap();
        assert!(name.allows("api.example.COM", 1) && !name.allows("evil-api.example.com", 1));
        let wild = Destination::parse("*.example.com").unwrap();
        assert!(wild.allows("a.b.example.com", 443) && !wild.allows("aexample.com", 443));
        assert!(!wild.names_local() && Destination::parse("localhost").unwrap().names_local());
    }

    #[test]
    fn requests_are_read_in_both_forms() {
        let r = Request::parse(b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(
            (r.host.as_str(), r.port, r.tunnel),
            ("api.example.com", 443, true)
        );
        let r = Request::parse(
            b"GET http://10.0.0.1:8080/a?b HTTP/1.1\r\nHost: 10.0.0.1\r\nProxy-Authorization: x\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            (r.host.as_str(), r.port, r.tunnel),
            ("10.0.0.1", 8080, false)
        );
        assert_eq!(
            String::from_utf8(r.forward).unwrap(),
            "GET /a?b HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n"
        );
        assert!(
            Request::parse(b"GET https://x/ HTTP/1.1\r\n\r\n")
                .unwrap_err()
                .contains("CONNECT")
        );
        assert!(Request::parse(b"nonsense\r\n\r\n").is_err());
    }
}
