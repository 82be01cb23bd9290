//! The management API against a real daemon over its real socket and TCP
//! listener, with the example plugins: the routes, their errors, the
//! limits, tokens and the OpenAPI document.

use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use common::{Running, copy_dir, examples};
use plugwire_daemon::api::{ApiError, CallResult, PluginList};
use plugwire_daemon::tokens::Scope;
use plugwire_daemon::{Daemon, DaemonOptions, Limits};
use plugwire_host::{Host, HostConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One raw HTTP/1.1 exchange over TCP; the status and the body.
async fn tcp(addr: std::net::SocketAddr, request: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    read_response(&mut stream).await
}

async fn read_response(stream: &mut (impl AsyncReadExt + Unpin)) -> (u16, String) {
    let mut text = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut text)).await;
    let text = String::from_utf8_lossy(&text).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

fn get(path: &str, addr: std::net::SocketAddr, token: Option<&str>) -> String {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n")
}

fn post(path: &str, addr: std::net::SocketAddr, token: Option<&str>, body: &str) -> String {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn code_of(body: &str) -> String {
    serde_json::from_str::<ApiError>(body)
        .map(|e| e.code)
        .unwrap_or_else(|_| format!("not an error body: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routes_answer_over_the_socket() {
    let daemon = Running::start(Limits::default()).await;
    let client = daemon.client().await;
    let list: PluginList = client.get("/v1/plugins").await.unwrap();
    let echo = list.plugins.iter().find(|p| p.name == "echo").unwrap();
    assert_eq!(echo.state, "ready");
    assert!(
        echo.pid.is_some() && echo.memory_bytes.unwrap() > 0,
        "{echo:?}"
    );

    let result: CallResult = client
        .send(
            hyper::Method::POST,
            "/v1/tools/echo.echo/call",
            Some(&json!({"arguments": {"text": "hi"}})),
        )
        .await
        .unwrap();
    assert_eq!(result.content, json!("hi"));
    let list: PluginList = client.get("/v1/plugins").await.unwrap();
    let echo = list.plugins.iter().find(|p| p.name == "echo").unwrap();
    assert_eq!((echo.calls, echo.errors), (1, 0));

    // The schema is checked before the plugin sees anything.
    let refused = client
        .send::<Value>(
            hyper::Method::POST,
            "/v1/tools/echo.echo/call",
            Some(&json!({"arguments": {"text": 5}})),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code, "invalid_argument");
    assert!(refused.hint.is_some());
    let missing = client.get::<Value>("/v1/plugins/nope").await.unwrap_err();
    assert_eq!(missing.code, "not_found");

    // Progress as server-sent events, then the result.
    use futures_util::StreamExt;
    let events: Vec<_> = client
        .events(
            hyper::Method::POST,
            "/v1/tools/echo.slow/call",
            Some(&json!({})),
        )
        .await
        .unwrap()
        .map(|e| e.unwrap())
        .collect()
        .await;
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        names.iter().filter(|n| **n == "progress").count(),
        5,
        "{names:?}"
    );
    assert_eq!(names.last(), Some(&"result"));

    // A command, stdin up and stdout down.
    let mut out = Vec::new();
    let code = client
        .run(
            &["wc".into(), "--words".into()],
            &[],
            std::io::Cursor::new(b"one two three\n".to_vec()),
            &mut out,
            tokio::io::sink(),
        )
        .await
        .unwrap();
    assert_eq!((code, String::from_utf8_lossy(&out).trim()), (0, "3"));

    let outcome: Value = client
        .send(
            hyper::Method::POST,
            "/v1/events/request.before",
            Some(&json!({"password": "x"})),
        )
        .await
        .unwrap();
    assert!(outcome["decisions"].is_array(), "{outcome}");

    // Reload: a new process, the same name.
    let reloaded: Value = client
        .send(hyper::Method::POST, "/v1/plugins/echo/reload", None)
        .await
        .unwrap();
    assert_ne!(reloaded["pid"], json!(echo.pid));
    // Disable, then a call is refused; enable again.
    let _: Value = client
        .send(hyper::Method::POST, "/v1/plugins/echo/disable", None)
        .await
        .unwrap();
    let refused = client
        .send::<Value>(
            hyper::Method::POST,
            "/v1/tools/echo.echo/call",
            Some(&json!({"arguments": {"text": "x"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code, "failed_precondition");
    let _: Value = client
        .send(hyper::Method::POST, "/v1/plugins/echo/enable", None)
        .await
        .unwrap();
    // On the socket, the daemon's own user asked.
    let records = daemon
        .audited(|r| r.action == "enable" && r.actor == "user")
        .await;
    assert!(
        records.iter().any(|r| r.action == "enable"
            && r.actor == "user"
            && r.plugin.as_deref() == Some("echo")),
        "{records:?}"
    );

    // Configuration: checked against the schema, then applied.
    let config: Value = client.get("/v1/plugins/probe/config").await.unwrap();
    assert_eq!(config["greeting"], "hello");
    assert_eq!(config["token"], "[secret]", "a secret is never shown");
    assert!(!config.to_string().contains(common::SECRET));
    let refused = client
        .send::<Value>(
            hyper::Method::PUT,
            "/v1/plugins/probe/config",
            Some(&json!({"loud": "very"})),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code, "invalid_argument");
    let config: Value = client
        .send(
            hyper::Method::PUT,
            "/v1/plugins/probe/config",
            Some(&json!({"greeting": "hey"})),
        )
        .await
        .unwrap();
    assert_eq!(config["greeting"], "hey");

    let logs: Vec<Value> = client.get("/v1/logs?plugin=echo").await.unwrap();
    assert!(logs.iter().all(|l| l["plugin"] == "echo") && !logs.is_empty());
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let daemon = Running::start(Limits::default()).await;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&daemon.socket), 0o600);
    assert_eq!(mode(daemon.socket.parent().unwrap()), 0o700);
    // A second daemon on the same socket is refused, the first unharmed.
    let host = Host::start(HostConfig::new("t", "0.0.0").without_standard_dirs())
        .await
        .unwrap();
    let second = Daemon::bind(host, DaemonOptions::new(&daemon.socket)).await;
    assert!(matches!(
        second,
        Err(plugwire_daemon::DaemonError::Running(_))
    ));
    let _: Value = daemon.client().await.get("/v1/health").await.unwrap();

    // Another user who gets past the file modes (they are opened up here
    // on purpose) is still refused by the peer check.
    std::fs::set_permissions(
        daemon.socket.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(daemon.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&daemon.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    if nix::unistd::geteuid().is_root() {
        let script = format!(
            "import socket\ns=socket.socket(socket.AF_UNIX)\ns.connect({:?})\ntry:\n  s.sendall(b'GET /v1/health HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')\n  print(len(s.recv(4096)))\nexcept (ConnectionResetError, BrokenPipeError):\n  print(0)",
            daemon.socket.display().to_string()
        );
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(&script)
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.trim(),
            "0",
            "nobody got an answer: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    daemon.stop().await;
}

use std::os::unix::process::CommandExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_needs_a_token_of_the_right_scope() {
    let daemon = Running::start(Limits {
        token_rate: 5,
        ..Limits::default()
    })
    .await;
    let addr = daemon.tcp;
    let (status, body) = tcp(addr, &get("/v1/plugins", addr, None)).await;
    assert_eq!((status, code_of(&body).as_str()), (401, "unauthenticated"));
    let (status, body) = tcp(addr, &get("/v1/plugins", addr, Some("pwt_deadbeef_forged"))).await;
    assert_eq!((status, code_of(&body).as_str()), (401, "unauthenticated"));

    let read = daemon.token(Scope::Read);
    let (status, body) = tcp(addr, &get("/v1/plugins", addr, Some(&read))).await;
    assert_eq!(status, 200, "{body}");
    let call = post(
        "/v1/tools/echo.echo/call",
        addr,
        Some(&read),
        r#"{"arguments":{"text":"x"}}"#,
    );
    let (status, body) = tcp(addr, &call).await;
    assert_eq!(
        (status, code_of(&body).as_str()),
        (403, "permission_denied")
    );
    let caller = daemon.token(Scope::Call);
    let call = post(
        "/v1/tools/echo.echo/call",
        addr,
        Some(&caller),
        r#"{"arguments":{"text":"x"}}"#,
    );
    assert_eq!(tcp(addr, &call).await.0, 200);
    // The audit log says which token called.
    let records = daemon
        .audited(|r| r.action == "tool.call" && r.actor.starts_with("token:"))
        .await;
    assert!(
        records.iter().any(|r| r.action == "tool.call"
            && r.actor.starts_with("token:")
            && r.target.as_deref() == Some("echo.echo")),
        "{records:?}"
    );
    let reload = post("/v1/plugins/echo/reload", addr, Some(&caller), "");
    assert_eq!(tcp(addr, &reload).await.0, 403, "reloading is admin's");

    // A page elsewhere that rebinds its name to 127.0.0.1 sends its name.
    let rebound = get("/v1/plugins", addr, Some(&read))
        .replace(&format!("Host: {addr}"), "Host: evil.example");
    let (status, body) = tcp(addr, &rebound).await;
    assert_eq!(
        (status, code_of(&body).as_str()),
        (403, "permission_denied")
    );

    // Beyond the rate: 429 for that token, while another is still served.
    let flooder = daemon.token(Scope::Read);
    let mut limited = 0;
    for _ in 0..30 {
        let (status, body) = tcp(addr, &get("/v1/health", addr, Some(&flooder))).await;
        if status == 429 {
            assert_eq!(code_of(&body), "rate_limited");
            limited += 1;
        }
    }
    assert!(limited > 0, "30 requests at once against 5 a second");
    assert_eq!(
        tcp(addr, &get("/v1/health", addr, Some(&read))).await.0,
        200
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_clients_get_their_status_and_others_are_still_served() {
    let daemon = Running::start(Limits {
        max_body: 1024,
        header_timeout: Duration::from_secs(2),
        body_timeout: Duration::from_secs(2),
        ..Limits::default()
    })
    .await;
    let addr = daemon.tcp;
    let token = daemon.token(Scope::Admin);

    // An oversized body.
    let big = format!(r#"{{"arguments":{{"text":"{}"}}}}"#, "x".repeat(4096));
    let (status, body) = tcp(
        addr,
        &post("/v1/tools/echo.echo/call", addr, Some(&token), &big),
    )
    .await;
    assert_eq!(
        (status, code_of(&body).as_str()),
        (413, "payload_too_large")
    );
    // A malformed body, and a malformed request line.
    let (status, body) = tcp(
        addr,
        &post("/v1/tools/echo.echo/call", addr, Some(&token), "{"),
    )
    .await;
    assert_eq!(
        (status, code_of(&body).as_str()),
        (400, "malformed_request")
    );
    assert!(body.contains("expected") || body.contains("EOF"), "{body}");
    let (status, _) = tcp(addr, "NOT HTTP AT ALL\r\n\r\n").await;
    assert_eq!(status, 400);
    // Unknown routes and methods.
    let (status, body) = tcp(addr, &get("/v2/nothing", addr, Some(&token))).await;
    assert_eq!((status, code_of(&body).as_str()), (404, "not_found"));
    let (status, body) = tcp(addr, &post("/v1/health", addr, Some(&token), "")).await;
    assert_eq!(
        (status, code_of(&body).as_str()),
        (405, "method_not_allowed")
    );

    // A client that sends half its headers and stops is cut off, while a
    // normal client is served meanwhile.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127")
        .await
        .unwrap();
    // And one that sends headers, then a body slower than its deadline.
    let mut dribble = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = post("/v1/events/x", addr, Some(&token), &"{".repeat(100));
    let head = &head[..head.len() - 90];
    dribble.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (status, _) = tcp(addr, &get("/v1/health", addr, Some(&token))).await;
    assert_eq!(status, 200);
    // Well before either stalled client's deadline: not waiting behind them.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "served while others stall"
    );
    let (status, body) = read_response(&mut dribble).await;
    assert_eq!((status, code_of(&body).as_str()), (408, "request_timeout"));
    let mut rest = Vec::new();
    let cut = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut rest)).await;
    assert!(
        cut.is_ok(),
        "the stalled connection was closed by the daemon"
    );
    daemon.stop().await;
}

#[test]
fn the_openapi_document_matches_the_routes() {
    let doc: Value = serde_json::from_str(plugwire_daemon::OPENAPI).unwrap();
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let scope = op["x-plugwire-scope"]
                .as_str()
                .unwrap_or("missing")
                .to_owned();
            documented.push((method.to_uppercase(), path.clone(), scope));
        }
    }
    let mut served: Vec<(String, String, String)> = plugwire_daemon::routes()
        .iter()
        .map(|r| {
            let scope = match r.need {
                plugwire_daemon::Need::Public => "public".to_owned(),
                plugwire_daemon::Need::Manifest => "manifest".to_owned(),
                plugwire_daemon::Need::Scope(s) => s.to_string(),
            };
            // OpenAPI writes a wildcard as a plain parameter.
            (r.method.to_string(), r.path.replace("{*", "{"), scope)
        })
        .collect();
    documented.sort();
    served.sort();
    assert_eq!(
        documented, served,
        "host/daemon/openapi.json and the routes differ"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_serves_its_openapi_document() {
    let daemon = Running::start(Limits::default()).await;
    let addr = daemon.tcp;
    // Public: a client learns the API before it has a token.
    let (status, body) = tcp(addr, &get("/v1/openapi.json", addr, None)).await;
    assert_eq!(status, 200);
    let served: Value = serde_json::from_str(&body).unwrap();
    let checked_in: Value = serde_json::from_str(plugwire_daemon::OPENAPI).unwrap();
    assert_eq!(served, checked_in);
    daemon.stop().await;
}

/// Calls keep flowing through the API while plugins are added, reloaded
/// and removed: none fails that was not meant to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_flow_while_plugins_change() {
    let plugins = tempfile::tempdir().unwrap();
    copy_dir(&examples().join("echo"), &plugins.path().join("echo"));
    let spare = tempfile::tempdir().unwrap();
    copy_dir(&examples().join("probe"), &spare.path().join("probe"));
    let daemon = Running::start_over(plugins.path(), Limits::default()).await;
    let client = daemon.client().await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut callers = Vec::new();
    for n in 0..4 {
        let client = client.clone();
        let stop = stop.clone();
        callers.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0u32, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let text = format!("caller {n} call {ok}");
                let body = json!({"arguments": {"text": text}});
                match client
                    .send::<CallResult>(
                        hyper::Method::POST,
                        "/v1/tools/echo.echo/call",
                        Some(&body),
                    )
                    .await
                {
                    Ok(r) if r.content == json!(text) => ok += 1,
                    other => failed.push(format!("{other:?}")),
                }
            }
            (ok, failed)
        }));
    }
    let probe_dir = spare.path().join("probe");
    for round in 0..3 {
        let added: Value = client
            .send(
                hyper::Method::POST,
                "/v1/plugins",
                Some(&json!({"dir": probe_dir})),
            )
            .await
            .unwrap();
        assert_eq!(added["name"], "probe", "round {round}");
        let config: CallResult = client
            .send(
                hyper::Method::POST,
                "/v1/tools/probe.config/call",
                Some(&json!({})),
            )
            .await
            .unwrap();
        assert!(!config.is_error);
        let _: Value = client
            .send(hyper::Method::POST, "/v1/plugins/echo/reload", None)
            .await
            .unwrap();
        let _: Value = client
            .send(hyper::Method::POST, "/v1/plugins/probe/reload", None)
            .await
            .unwrap();
        let _: Value = client
            .send(hyper::Method::DELETE, "/v1/plugins/probe", None)
            .await
            .unwrap();
        // Meant to fail: it is gone.
        let gone = client
            .send::<Value>(
                hyper::Method::POST,
                "/v1/tools/probe.config/call",
                Some(&json!({})),
            )
            .await
            .unwrap_err();
        assert_eq!(gone.code, "not_found", "{gone:?}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for caller in callers {
        let (ok, failed) = caller.await.unwrap();
        assert!(failed.is_empty(), "calls failed during changes: {failed:?}");
        total += ok;
    }
    assert!(total > 20, "only {total} calls were made");
    daemon.stop().await;
}

fn request(
    method: &str,
    path: &str,
    addr: std::net::SocketAddr,
    token: Option<&str>,
    body: &str,
) -> String {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The routes the echo example's manifest declares, served by its tool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_endpoints_are_served_as_declared() {
    let daemon = Running::start(Limits::default()).await;
    let addr = daemon.tcp;
    // `access = "public"`: no token needed; the path parameter is the argument.
    let (status, body) = tcp(addr, &get("/plugins/echo/say/hello%20there", addr, None)).await;
    assert_eq!((status, body.as_str()), (200, "\"hello there\""));
    // `access = "call"`: a token of that scope, the body's fields as arguments.
    let echo =
        |token: Option<&str>, body: &str| request("POST", "/plugins/echo/echo", addr, token, body);
    let (status, body) = tcp(addr, &echo(None, r#"{"text":"x"}"#)).await;
    assert_eq!((status, code_of(&body).as_str()), (401, "unauthenticated"));
    let read = daemon.token(Scope::Read);
    let (status, body) = tcp(addr, &echo(Some(&read), r#"{"text":"x"}"#)).await;
    assert_eq!(
        (status, code_of(&body).as_str()),
        (403, "permission_denied")
    );
    let call = daemon.token(Scope::Call);
    let (status, body) = tcp(addr, &echo(Some(&call), r#"{"text":"posted"}"#)).await;
    assert_eq!((status, body.as_str()), (200, "\"posted\""));
    // The tool's schema is checked first.
    let (status, body) = tcp(addr, &echo(Some(&call), r#"{"text":5}"#)).await;
    assert_eq!((status, code_of(&body).as_str()), (400, "invalid_argument"));
    let (status, body) = tcp(addr, &echo(Some(&call), "[1]")).await;
    assert_eq!((status, code_of(&body).as_str()), (400, "invalid_argument"));
    // What the manifest does not declare is not served.
    let (status, body) = tcp(addr, &get("/plugins/echo/fail", addr, Some(&call))).await;
    assert_eq!((status, code_of(&body).as_str()), (404, "not_found"));
    assert!(
        body.contains("GET /say/{text}"),
        "the hint lists the routes: {body}"
    );
    let (status, body) = tcp(
        addr,
        &request("DELETE", "/plugins/echo/echo", addr, Some(&call), ""),
    )
    .await;
    assert_eq!(
        (status, code_of(&body).as_str()),
        (405, "method_not_allowed")
    );
    let (status, _) = tcp(addr, &get("/plugins/kv/say/x", addr, Some(&call))).await;
    assert_eq!(status, 404, "kv declares no routes");
    // An escaped slash stays inside its parameter, which then matches no route.
    let (status, _) = tcp(addr, &get("/plugins/echo/say/a%2Fb", addr, None)).await;
    assert_eq!(status, 404);
    // `rate_limit = 20`: a flood gets 429 for that route.
    let mut limited = 0;
    for _ in 0..60 {
        let (status, body) = tcp(addr, &get("/plugins/echo/say/x", addr, None)).await;
        if status == 429 {
            assert_eq!(code_of(&body), "rate_limited");
            limited += 1;
        }
    }
    assert!(limited > 0, "60 requests at once against 20 a second");
    daemon.stop().await;
}

/// A panel's files come from its plugin's directory under a sandboxing
/// policy, and its token reaches its own plugin only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panels_are_sandboxed_and_their_tokens_scoped() {
    let daemon = Running::start(Limits::default()).await;
    let addr = daemon.tcp;
    let raw =
        |path: &str| format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(raw("/panels/echo/index.html").as_bytes())
        .await
        .unwrap();
    let mut all = String::new();
    stream.read_to_string(&mut all).await.unwrap();
    assert!(all.starts_with("HTTP/1.1 200"), "{all}");
    let lower = all.to_ascii_lowercase();
    assert!(
        lower.contains("content-security-policy: sandbox allow-scripts"),
        "{all}"
    );
    assert!(lower.contains("x-content-type-options: nosniff"));
    for escape in [
        "/panels/echo/%2e%2e/plugin.toml",
        "/panels/echo/../plugin.toml",
        "/panels/kv/index.html",
    ] {
        let (status, _) = tcp(addr, &raw(escape)).await;
        assert_eq!(status, 404, "{escape}");
    }

    let read = daemon.token(Scope::Read);
    let (status, body) = tcp(
        addr,
        &request("POST", "/v1/panels/echo/token", addr, Some(&read), ""),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let panel: Value = serde_json::from_str(&body).unwrap();
    let panel = panel["token"].as_str().unwrap().to_owned();
    let call = request(
        "POST",
        "/v1/tools/echo.echo/call",
        addr,
        Some(&panel),
        r#"{"arguments":{"text":"p"}}"#,
    );
    assert_eq!(tcp(addr, &call).await.0, 200, "its own plugin's tools");
    assert_eq!(
        tcp(addr, &get("/v1/plugins/echo", addr, Some(&panel)))
            .await
            .0,
        200
    );
    for (method, path) in [
        ("POST", "/v1/tools/kv.get/call"),
        ("POST", "/v1/plugins/echo/reload"),
        ("POST", "/v1/plugins/kv/reload"),
        ("GET", "/v1/plugins"),
        ("GET", "/v1/logs"),
    ] {
        let (status, body) = tcp(addr, &request(method, path, addr, Some(&panel), "{}")).await;
        assert_eq!(
            (status, code_of(&body).as_str()),
            (403, "permission_denied"),
            "{method} {path}"
        );
    }
    let (status, _) = tcp(addr, &get("/v1/plugins/echo", addr, Some("pwp_forged"))).await;
    assert_eq!(status, 401);

    // A sandboxed frame's requests come from origin `null`: preflights
    // are answered, and answers marked readable to it.
    let preflight = format!(
        "OPTIONS /v1/tools/echo.echo/call HTTP/1.1\r\nHost: {addr}\r\nOrigin: null\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization\r\nConnection: close\r\n\r\n"
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(preflight.as_bytes()).await.unwrap();
    let mut all = String::new();
    stream.read_to_string(&mut all).await.unwrap();
    let lower = all.to_ascii_lowercase();
    assert!(all.starts_with("HTTP/1.1 204"), "{all}");
    assert!(lower.contains("access-control-allow-origin: null"), "{all}");
    assert!(
        lower.contains("access-control-allow-headers: authorization"),
        "{all}"
    );
    daemon.stop().await;
}

/// A run that fails before reading its stdin, or succeeds without reading
/// it, answers with its error or exit code while the client is still
/// sending stdin (the daemon reads the request to its end rather than
/// closing the connection under a sending client).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_answer_while_stdin_is_still_being_sent() {
    let daemon = Running::start(Limits::default()).await;
    let client = daemon.client().await;
    for _ in 0..20 {
        let stdin = std::io::Cursor::new(vec![b'x'; 256 * 1024]);
        let e = client
            .run(
                &["nope".into()],
                &[],
                stdin,
                tokio::io::sink(),
                tokio::io::sink(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code, "not_found", "{e:?}");
    }
    // And one that reads none of it but succeeds.
    let mut out = Vec::new();
    let code = client
        .run(
            &["exit".into(), "--code".into(), "4".into()],
            &[],
            std::io::Cursor::new(vec![b'y'; 256 * 1024]),
            &mut out,
            tokio::io::sink(),
        )
        .await
        .unwrap();
    assert_eq!(code, 4);
    daemon.stop().await;
}
