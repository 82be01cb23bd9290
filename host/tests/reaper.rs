//! No orphans without cgroups: on a machine where the host cannot make a
//! cgroup, an unsandboxed plugin runs under the launcher's subreaper, which
//! kills what the plugin left outside its process group. Its own test
//! binary, since it turns cgroups off for the whole process.

mod common;

use std::time::Duration;

use common::{Plugins, alive, eventually};
use plugwire_host::{CallOptions, Host};
use serde_json::json;

#[tokio::test]
async fn without_cgroups_escaped_children_die_with_the_plugin() {
    // SAFETY: the only test of this binary sets it before any host starts.
    unsafe { std::env::set_var("PLUGWIRE_NO_CGROUPS", "1") };
    let plugins = Plugins::new(&["hostile"]);
    let mut config = plugins.config();
    config.timeouts.shutdown_grace = Duration::from_millis(300);
    config.timeouts.stop = Duration::from_secs(2);
    let host = Host::start(config).await.unwrap();
    let escaped = |host: &Host| {
        let host = host.clone();
        async move {
            let out = host
                .call_tool("hostile.escape_group", json!({}), CallOptions::default())
                .await
                .unwrap()
                .content;
            out["pid"].as_u64().unwrap() as u32
        }
    };

    // A plugin that stops when asked.
    let first = escaped(&host).await;
    assert!(alive(first));
    host.stop_plugin("hostile").await.unwrap();
    assert!(
        eventually(Duration::from_secs(3), || !alive(first)).await,
        "the escaped child {first} outlived a plugin that stopped"
    );

    // A plugin that ignores Shutdown and SIGTERM: killed within the budget,
    // its escaped child with it.
    let second = escaped(&host).await;
    host.call_tool("hostile.stubborn", json!({}), CallOptions::default())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    host.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_millis(3500),
        "{:?}",
        started.elapsed()
    );
    assert!(
        eventually(Duration::from_secs(3), || !alive(second)).await,
        "the escaped child {second} outlived a stubborn plugin"
    );
}
