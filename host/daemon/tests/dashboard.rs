//! The dashboard in a real headless Chromium, driven through the DevTools
//! protocol (over `--remote-debugging-pipe`): the list renders the example
//! plugins, a reload button reloads, the echo plugin's panel appears and
//! talks to the daemon with its own scoped token, and a screenshot is
//! written to `target/plugwire-dashboard.png` for a person to look at.
//!
//! `scripts/test.sh` installs Debian's `chromium`; on CI a missing browser
//! fails the test, elsewhere it is skipped with a note.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
mod common;

use common::Running;
use plugwire_daemon::Limits;
use plugwire_daemon::tokens::Scope;
use serde_json::{Value, json};

fn chromium() -> Option<PathBuf> {
    let named = std::env::var_os("PLUGWIRE_CHROMIUM").map(PathBuf::from);
    named
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from))
        .find(|p| p.is_file())
}

/// A browser driven over its DevTools pipe: commands go to its fd 3, its
/// answers and events come from its fd 4, each a JSON text ending in NUL.
struct Browser {
    child: Child,
    commands: std::fs::File,
    answers: mpsc::Receiver<Value>,
    next: u64,
    session: Option<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn launch(executable: &Path) -> Self {
        let profile = tempfile::tempdir().unwrap();
        let (command_read, command_write) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let (answer_read, answer_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let (theirs_in, theirs_out) = (command_read.as_raw_fd(), answer_write.as_raw_fd());
        let mut command = Command::new(executable);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-pipe",
                "--window-size=1280,1400",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec only async-signal-safe calls: the
        // pipe ends are moved well clear of 3 and 4 first, then onto them
        // (dup2 leaves the new descriptors open across exec).
        unsafe {
            command.pre_exec(move || {
                let high_in = libc::fcntl(theirs_in, libc::F_DUPFD, 10);
                let high_out = libc::fcntl(theirs_out, libc::F_DUPFD, 10);
                if high_in < 0
                    || high_out < 0
                    || libc::dup2(high_in, 3) < 0
                    || libc::dup2(high_out, 4) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap();
        drop((command_read, answer_write));
        let (tx, answers) = mpsc::channel();
        let reader = std::fs::File::from(answer_read);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(reader);
            let mut message = Vec::new();
            while reader.read_until(0, &mut message).is_ok_and(|n| n > 0) {
                message.pop();
                if let Ok(value) = serde_json::from_slice::<Value>(&message)
                    && tx.send(value).is_err()
                {
                    return;
                }
                message.clear();
            }
        });
        Self {
            child,
            commands: std::fs::File::from(command_write),
            answers,
            next: 1,
            session: None,
            _profile: profile,
        }
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands.write_all(&bytes).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let answer = self
                .answers
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no answer to {method}"));
            if answer["id"] == json!(id) {
                assert!(answer.get("error").is_none(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    /// Opens a tab and drives it from now on.
    fn open(&mut self, url: &str) {
        self.session = None;
        let target = self.call("Target.createTarget", json!({"url": "about:blank"}));
        let attached = self.call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        self.session = attached["sessionId"].as_str().map(str::to_owned);
        self.call("Page.enable", json!({}));
        self.call("Page.navigate", json!({"url": url}));
    }

    /// The value of a JavaScript expression in the page.
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is true in the page.
    fn wait_for(&mut self, what: &str, expression: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.eval(expression) != json!(true) {
            assert!(Instant::now() < deadline, "the page never showed {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_real_browser() {
    let Some(executable) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing: scripts/test.sh installs Debian's package"
        );
        eprintln!("skipped: no chromium (apt-get install chromium, or set PLUGWIRE_CHROMIUM)");
        return;
    };
    let daemon = Running::start(Limits::default()).await;
    let token = daemon.token(Scope::Admin);
    let addr = daemon.tcp;
    let client = daemon.client().await;
    let pid_of = |list: &Value, name: &str| {
        list["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["pid"].clone())
            .unwrap()
    };
    let before: Value = client.get("/v1/plugins").await.unwrap();

    let url = format!("http://{addr}/dashboard/#token={token}");
    let screenshot =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/plugwire-dashboard.png");
    let (before_pid, after_pid) = tokio::task::spawn_blocking(move || {
        let mut browser = Browser::launch(&executable);
        browser.open(&url);
        browser.wait_for("the plugin list", "document.querySelectorAll('#plugins tbody tr').length >= 7");
        let names = browser.eval("JSON.stringify([...document.querySelectorAll('#plugins tbody tr')].map(r => r.dataset.plugin))");
        let names: Vec<String> = serde_json::from_str(names.as_str().unwrap()).unwrap();
        for plugin in ["audit", "echo", "faulty", "hostile", "kv", "probe", "wordcount"] {
            assert!(names.iter().any(|n| n == plugin), "{plugin} not listed: {names:?}");
        }
        assert_eq!(
            browser.eval("document.querySelector('tr[data-plugin=echo]').dataset.state"),
            json!("ready")
        );
        // The token left the address bar.
        assert_eq!(browser.eval("location.hash"), json!(""));

        // The echo panel: loaded in its frame, it called its plugin's tool
        // with its own token and was refused another plugin's reload.
        browser.wait_for(
            "the echo panel report ok",
            "document.querySelector('figure[data-panel=echo]')?.dataset.status === 'ok'",
        );

        // The reload button reloads.
        let before_pid = browser.eval("document.querySelector('tr[data-plugin=echo] .pid').textContent");
        browser.eval("document.querySelector('button[data-action=reload][data-plugin=echo]').click()");
        browser.wait_for(
            "a new pid for echo",
            &format!("document.querySelector('tr[data-plugin=echo] .pid')?.textContent !== {before_pid}"),
        );
        let after_pid = browser.eval("document.querySelector('tr[data-plugin=echo] .pid').textContent");
        // Details of a plugin: its tools.
        browser.eval("document.querySelector('tr[data-plugin=echo]').click()");
        browser.wait_for(
            "echo's tools",
            "[...document.querySelectorAll('#detail-tools li')].some(li => li.textContent.startsWith('echo.echo'))",
        );
        let shot = browser.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(&screenshot, &png).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");

        // Disable and enable from the page.
        browser.eval("document.querySelector('button[data-action=disable][data-plugin=kv]').click()");
        browser.wait_for(
            "kv disabled",
            "document.querySelector('tr[data-plugin=kv]')?.dataset.state === 'disabled'",
        );
        browser.eval("document.querySelector('button[data-action=enable][data-plugin=kv]').click()");
        browser.wait_for(
            "kv enabled",
            "document.querySelector('tr[data-plugin=kv]')?.dataset.state !== 'disabled'",
        );

        // A tab without the token shows nothing but the token form.
        browser.open(&format!("http://{}/dashboard/", url_host(&url)));
        browser.wait_for("the token form", "document.getElementById('login').hidden === false");
        assert_eq!(browser.eval("document.querySelectorAll('#plugins tbody tr').length"), json!(0));
        (before_pid, after_pid)
    })
    .await
    .unwrap();

    let after: Value = client.get("/v1/plugins").await.unwrap();
    assert_ne!(
        pid_of(&before, "echo"),
        pid_of(&after, "echo"),
        "the daemon reloaded echo"
    );
    assert_eq!(after_pid, json!(pid_of(&after, "echo").to_string()));
    assert_ne!(before_pid, after_pid);
    daemon.stop().await;
}

fn url_host(url: &str) -> String {
    url.trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("")
        .to_owned()
}
