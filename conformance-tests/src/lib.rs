//! The plugwire conformance suite: checks that a plugin, in any language,
//! speaks `docs/protocol.md` correctly, and reports in formats CI reads.
//!
//! [`check_plugin`] starts the plugin itself, through the host's own launch
//! path, several times: without the cookie, with no common version, and
//! for real; it checks the bootstrap, health, handshake, configuration,
//! tools, commands, hooks, providers, the fixture profile of
//! `docs/conformance.md` when the plugin declares the `conformance`
//! feature, and shutdown by `Shutdown` and by `SIGTERM`. [`attach`] checks
//! a plugin that is already serving, for debugging; the checks that need a
//! started plugin are then not applicable.
//!
//! Use it from a test, like csi-sanity:
//!
//! ```no_run
//! # async fn f() -> Result<(), String> {
//! use plugwire_conformance::{Options, check_plugin};
//! let report = check_plugin("target/plugins/echo".as_ref(), &[], &Options::default()).await?;
//! assert!(report.passed(), "{}", report.summary());
//! # Ok(()) }
//! ```

mod check;
mod checks;
pub mod exercise;
pub mod host_suite;
pub mod report;
mod run;
mod session;
mod spawn;
mod table;

pub use check::{Check, Needs};
pub use checks::fixture::CANCEL_BOUND;
pub use spawn::{Options, target};
pub use table::CHECKS;

/// Every requirement id in `docs/protocol.md` starts with this prefix.
pub const REQUIREMENT_PREFIX: &str = "PW-";

/// Starts the plugin at `path` (a plugin directory or an executable, with
/// `args` appended to its arguments) the way the host does and runs every
/// check. `Err` means the suite could not run at all (no such plugin, a bad
/// manifest); a plugin that fails to start gives a report of failures.
///
/// ```no_run
/// # async fn f() -> Result<(), String> {
/// let report = plugwire_conformance::check_plugin(
///     "sdk-examples/python".as_ref(),
///     &[],
///     &plugwire_conformance::Options::default(),
/// )
/// .await?;
/// print!("{}", report.summary());
/// # Ok(()) }
/// ```
pub async fn check_plugin(
    path: &std::path::Path,
    args: &[String],
    options: &Options,
) -> Result<report::Report, String> {
    let manifest = target(path, args)?;
    let mut starter = spawn::Starter::new(&manifest, options)?;
    if path.is_dir() {
        starter = starter.named_by_manifest();
    }
    let mut report = run::all(
        session::Session::launched(starter, options.config.clone()),
        false,
    )
    .await;
    if let Some(settings) = &options.exercise {
        // A process of its own: the suite's shutdown checks stopped the other.
        let starter = spawn::Starter::new(&manifest, options)?;
        let session = session::Session::launched(starter, options.config.clone());
        exercise::run(session, settings, &mut report).await;
    }
    Ok(report)
}

/// Connects to `endpoint` (`unix:///path`) and runs the checks a serving
/// plugin allows.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let report = plugwire_conformance::attach("unix:///tmp/pw-x/plugin.sock", &serde_json::json!({})).await?;
/// print!("{}", report.summary());
/// # Ok(()) }
/// ```
pub async fn attach(endpoint: &str, config: &serde_json::Value) -> Result<report::Report, String> {
    let path = endpoint
        .strip_prefix("unix://")
        .ok_or_else(|| format!("endpoint {endpoint:?}: expected unix:///path/to/plugin.sock"))?;
    let channel = tonic::transport::Endpoint::from_shared(format!("unix:{path}"))
        .map_err(|e| e.to_string())?
        .origin(tonic::transport::Uri::from_static("http://localhost"))
        .connect_timeout(std::time::Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| format!("cannot connect to {path}: {e}"))?;
    Ok(run::all(session::Session::attached(channel, config.clone()), true).await)
}
