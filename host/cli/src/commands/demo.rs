//! `plugwire demo`: loads the example plugins and shows each kind of
//! extension at work, with timings.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::kv::key_value_client::KeyValueClient;
use crate::kv::{GetRequest, ListRequest, PutRequest};
use plugwire_host::{CallOptions, Host, HostConfig, RunOptions};
use serde_json::json;

use crate::output::{Failure, clock, millis, table};

const EXAMPLES_DIR: &str = "target/plugwire-examples";

pub(crate) async fn run(mut config: HostConfig) -> Result<ExitCode, Failure> {
    if config.plugin_dirs.is_empty() {
        config.plugin_dirs.push(EXAMPLES_DIR.into());
    }
    config.standard_dirs = false;
    // The demo's plugins are ours: grant what they ask.
    config.grants.all = true;
    let level = config.sandbox.level;
    let data = tempfile::tempdir()
        .map_err(|e| Failure::new(format!("cannot create a data directory: {e}")))?;
    config.data_dir = data.path().to_path_buf();
    let dirs: Vec<String> = config
        .plugin_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    let total = Instant::now();
    let mut steps: Vec<(String, Duration)> = Vec::new();

    println!(
        "plugwire demo: loading plugins from {}, sandbox level {level}\n",
        dirs.join(", ")
    );
    let started = Instant::now();
    let host = Host::start(config.eager())
        .await
        .map_err(|e| Failure::new(e.to_string()))?;
    steps.push(("start all plugins (concurrently)".into(), started.elapsed()));
    let status = host.status();
    if status.is_empty() {
        return Err(Failure::new(format!("no plugins in {}", dirs.join(", ")))
            .hint("run ./scripts/demo.sh, which builds them first"));
    }
    let rows = status
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.language.clone().unwrap_or_else(|| "-".into()),
                s.version.clone(),
                s.started_at.map_or("-".into(), clock),
                s.startup.map_or("-".into(), millis),
                s.state.to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "PLUGIN",
                "LANGUAGE",
                "VERSION",
                "STARTED (UTC)",
                "SPAWN→READY",
                "STATE"
            ],
            rows
        )
    );
    for problem in host.problems() {
        println!("warning: {problem}");
    }
    let result = steps_over(&host, &mut steps).await;
    host.shutdown().await;
    steps.push(("total".into(), total.elapsed()));
    println!("\ntimings");
    let rows = steps
        .iter()
        .map(|(name, d)| vec![name.clone(), millis(*d)])
        .collect();
    print!("{}", table(&["STEP", "TIME"], rows));
    result.map(|()| ExitCode::SUCCESS)
}

async fn steps_over(host: &Host, steps: &mut Vec<(String, Duration)>) -> Result<(), Failure> {
    let fail = |what: &str| {
        let what = what.to_owned();
        move |s: tonic::Status| {
            Failure::from(plugwire_daemon::api::ApiError::from_status(&s))
                .hint(format!("the demo step `{what}` failed"))
        }
    };

    println!("\n1. tool: echo.echo {{\"text\": \"hello, plugwire\"}}");
    let t = Instant::now();
    let out = host
        .call_tool(
            "echo.echo",
            json!({"text": "hello, plugwire"}),
            CallOptions::default(),
        )
        .await
        .map_err(fail("echo.echo"))?;
    steps.push(("tool call echo.echo".into(), t.elapsed()));
    println!("   -> {}", out.content);

    println!("\n2. tool with progress: echo.slow {{\"steps\": 3, \"delay_ms\": 50}}");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<plugwire_host::Progress>(16);
    let printer = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            println!(
                "   progress {}/{}: {}",
                p.progress,
                p.total.unwrap_or(0.0),
                p.message
            );
        }
    });
    let t = Instant::now();
    let out = host
        .call_tool(
            "echo.slow",
            json!({"steps": 3, "delay_ms": 50}),
            CallOptions::default().progress(tx),
        )
        .await
        .map_err(fail("echo.slow"))?;
    steps.push(("tool call echo.slow (3 x 50 ms)".into(), t.elapsed()));
    let _ = printer.await;
    println!("   -> {}", out.content);

    println!("\n3. a tool's own failure: echo.fail");
    let t = Instant::now();
    let out = host
        .call_tool(
            "echo.fail",
            json!({"message": "disk quota exceeded"}),
            CallOptions::default(),
        )
        .await
        .map_err(fail("echo.fail"))?;
    steps.push(("tool call echo.fail".into(), t.elapsed()));
    println!(
        "   -> is_error = {}, content = {}",
        out.is_error, out.content
    );

    println!("\n4. arguments checked against the schema before the call: echo.echo {{}}");
    let err = host
        .call_tool("echo.echo", json!({}), CallOptions::default())
        .await
        .err();
    println!(
        "   -> {}",
        err.map_or("accepted?!".into(), |s| format!(
            "{:?}: {}",
            s.code(),
            s.message()
        ))
    );

    println!("\n5. command: wc --lines --words, with text on stdin");
    let text = "the quick brown fox\njumps over\nthe lazy dog\n";
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let t = Instant::now();
    let code = host
        .run_command(
            &["wc".into(), "--lines".into(), "--words".into()],
            text.as_bytes(),
            &mut stdout,
            &mut stderr,
            RunOptions::default(),
        )
        .await
        .map_err(fail("wc"))?;
    steps.push(("command wc".into(), t.elapsed()));
    println!(
        "   -> stdout {:?}, exit code {code}",
        String::from_utf8_lossy(&stdout)
    );

    println!("\n6. event: request.before with secrets (audit redacts, then observes)");
    let t = Instant::now();
    let outcome = host
        .emit(
            "request.before",
            json!({"user": "ada", "auth": {"password": "hunter2", "api_token": "abc"}}),
        )
        .await
        .map_err(fail("emit"))?;
    steps.push(("emit request.before".into(), t.elapsed()));
    for d in &outcome.decisions {
        println!("   {} ({}): {:?}", d.plugin, d.pattern, d.outcome);
    }
    println!("   -> final payload {}", outcome.payload);
    println!("   -> observed by {:?}", outcome.observers);

    println!("\n7. provider: examples.kv.v1.KeyValue as \"memory\" (typed client)");
    let t = Instant::now();
    let mut kv = host
        .provider("examples.kv.v1.KeyValue", "memory", KeyValueClient::new)
        .await
        .map_err(fail("provider"))?;
    for (key, value) in [
        ("fruit/apple", "red"),
        ("fruit/banana", "yellow"),
        ("veg/leek", "green"),
    ] {
        kv.put(PutRequest {
            key: key.into(),
            value: value.as_bytes().to_vec(),
        })
        .await
        .map_err(fail("kv put"))?;
    }
    let listed = kv
        .list(ListRequest {
            prefix: "fruit/".into(),
        })
        .await
        .map_err(fail("kv list"))?
        .into_inner();
    let got = kv
        .get(GetRequest {
            key: "fruit/banana".into(),
        })
        .await
        .map_err(fail("kv get"))?
        .into_inner();
    steps.push(("provider: 3 puts, list, get".into(), t.elapsed()));
    println!(
        "   -> list fruit/ = {:?}; get fruit/banana = {:?}",
        listed.keys,
        String::from_utf8_lossy(&got.value)
    );

    if host.status().iter().any(|s| s.name == "probe") {
        println!("\n8. the sandbox seen from inside: probe.report");
        let t = Instant::now();
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        let r = host
            .call_tool(
                "probe.report",
                json!({"home": home}),
                CallOptions::default(),
            )
            .await
            .map_err(fail("probe"))?
            .content;
        steps.push(("probe.report".into(), t.elapsed()));
        println!(
            "   uid {}, capabilities {}, no_new_privs {}, seccomp {}, pid {} (sees pids {}), interfaces {}",
            r["uid"],
            r["cap_eff"],
            r["no_new_privs"],
            r["seccomp"],
            r["pid"],
            r["visible_pids"],
            r["interfaces"]
        );
        if let Some(escapes) = r["escapes"].as_object() {
            for (attempt, outcome) in escapes {
                println!("   {attempt}: {}", outcome.as_str().unwrap_or_default());
            }
        }
    }
    Ok(())
}
