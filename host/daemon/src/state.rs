//! What every request handler shares: the live host and the daemon's own
//! bookkeeping (tokens, rate limits, when it started).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use plugwire_host::Host;

use crate::limits::Limits;
use crate::need::{Need, RouteKey};
use crate::tokens::Tokens;

/// The daemon's shared state.
pub(crate) struct State {
    pub(crate) host: Host,
    pub(crate) started: Instant,
    pub(crate) limits: Limits,
    pub(crate) tokens: TokenFile,
    /// Requests per token id over TCP.
    pub(crate) token_rate: DefaultKeyedRateLimiter<String>,
    /// What each route needs of a caller.
    pub(crate) needs: HashMap<RouteKey, Need>,
    /// Tokens handed to dashboard panels.
    pub(crate) panels: PanelTokens,
    /// Budgets of plugin routes with a rate limit.
    pub(crate) route_rates: RouteLimiters,
    /// The application's way to install and update packages.
    pub(crate) packages: Option<std::sync::Arc<dyn crate::packages::PackageManager>>,
    /// Where the user's grants are, to re-read before plugins change.
    pub(crate) grants: Option<crate::GrantsFile>,
    /// The MCP bridge over streamable HTTP (`/mcp`).
    pub(crate) mcp: plugwire_mcp::http::McpHttpService,
    /// Ends the bridge's open event streams at shutdown.
    pub(crate) mcp_shutdown: tokio_util::sync::CancellationToken,
}

impl State {
    pub(crate) fn new(
        host: Host,
        options: &crate::DaemonOptions,
        needs: HashMap<RouteKey, Need>,
    ) -> Self {
        let limits = options.limits.clone();
        let tokens = options.tokens.clone();
        let mcp_shutdown = tokio_util::sync::CancellationToken::new();
        let mcp =
            plugwire_mcp::http::http_service(host.clone(), limits.max_body, mcp_shutdown.clone());
        let per_second = NonZeroU32::new(limits.token_rate.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = per_second.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
        Self {
            host,
            started: Instant::now(),
            limits,
            tokens: TokenFile::new(tokens),
            token_rate: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            needs,
            panels: PanelTokens::default(),
            route_rates: RouteLimiters::default(),
            packages: options.packages.clone(),
            grants: options.grants.clone(),
            mcp,
            mcp_shutdown,
        }
    }

    /// Reloads a plugin and has it running: a reload replaces what runs,
    /// and a plugin that was not running (it had failed to start, say) is
    /// started, so that the daemon keeps every plugin up.
    pub(crate) async fn reload_running(
        &self,
        name: &str,
    ) -> Result<plugwire_host::PluginStatus, tonic::Status> {
        self.refresh_grants();
        self.reload_and_start(name).await
    }

    /// Adds the plugin in `dir`, or reloads the one of its name when there
    /// is one (it was installed over), and starts it: a daemon runs its
    /// plugins, and what keeps one from running is said now. The outer
    /// error: it could be neither added nor reloaded; the inner result:
    /// whether a new one started. True when it was added.
    pub(crate) async fn add_running(
        &self,
        name: &str,
        dir: &std::path::Path,
    ) -> Result<(bool, Result<(), tonic::Status>), tonic::Status> {
        self.refresh_grants();
        // Known or not, without the usage readings a status costs.
        if self.host.manifest(name).is_ok() {
            self.reload_and_start(name).await?;
            return Ok((false, Ok(())));
        }
        self.host.add_plugin(dir).await?;
        Ok((true, self.host.start_plugin(name).await))
    }

    async fn reload_and_start(
        &self,
        name: &str,
    ) -> Result<plugwire_host::PluginStatus, tonic::Status> {
        let status = self.host.reload_plugin(name).await?;
        if status.state == plugwire_host::PluginState::Ready || !status.enabled {
            return Ok(status);
        }
        self.host.start_plugin(name).await?;
        self.host
            .status()
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                tonic::Status::not_found(format!("plugin {name:?} was removed meanwhile"))
            })
    }

    /// Re-reads the grants file, so that what was granted since the
    /// daemon started counts for the plugins it starts next.
    pub(crate) fn refresh_grants(&self) {
        let Some(file) = &self.grants else {
            return;
        };
        match plugwire_host::grants::Grants::load(&file.path) {
            Ok(mut grants) => {
                grants.all = file.all;
                grants.max_risk = file.max_risk;
                self.host.set_grants(grants);
            }
            Err(why) => tracing::warn!("keeping the grants read before: {why}"),
        }
    }
}

/// What tells a changed file: modified time, length, inode.
type FileStamp = (SystemTime, u64, u64);

/// The tokens file, re-read when it changes (`plugwire token create`
/// writes it while the daemon runs).
pub(crate) struct TokenFile {
    path: PathBuf,
    cached: Mutex<(Option<FileStamp>, Arc<Tokens>)>,
}

impl TokenFile {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            cached: Mutex::new((None, Arc::default())),
        }
    }

    /// The tokens as the file holds them now (shared, not copied, per
    /// request).
    pub(crate) fn current(&self) -> Arc<Tokens> {
        use std::os::unix::fs::MetadataExt;
        let stamp = std::fs::metadata(&self.path).ok().map(|m| {
            (
                m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                m.len(),
                m.ino(),
            )
        });
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if cached.0 != stamp {
            let tokens = Tokens::load(&self.path).unwrap_or_else(|why| {
                // A broken file admits no token, which is the safe side.
                tracing::warn!("{why}");
                Tokens::default()
            });
            *cached = (stamp, Arc::new(tokens));
        }
        cached.1.clone()
    }
}

/// How long a panel's token lasts; the dashboard asks for a new one when
/// it shows the panel again.
pub(crate) const PANEL_TOKEN_LIFE: Duration = Duration::from_secs(3600);

/// Most panel tokens kept at once: each dashboard view makes one per
/// panel, and the oldest go first.
const MAX_PANEL_TOKENS: usize = 1024;

/// Short-lived tokens for dashboard panels, kept in memory only (hashed,
/// like the others).
#[derive(Default)]
pub(crate) struct PanelTokens(Mutex<HashMap<String, (String, Instant)>>);

impl PanelTokens {
    /// A new token for `plugin`'s panel.
    pub(crate) fn issue(&self, plugin: &str) -> Result<String, String> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| format!("no randomness: {e}"))?;
        let token = format!(
            "{}{}",
            crate::tokens::PANEL_PREFIX,
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, secret)
        );
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        all.retain(|_, (_, until)| *until > now);
        if all.len() >= MAX_PANEL_TOKENS
            && let Some(oldest) = all
                .iter()
                .min_by_key(|(_, (_, until))| *until)
                .map(|(k, _)| k.clone())
        {
            all.remove(&oldest);
        }
        all.insert(
            crate::tokens::hash(&token),
            (plugin.to_owned(), now + PANEL_TOKEN_LIFE),
        );
        Ok(token)
    }

    /// The plugin a live token was issued for.
    pub(crate) fn plugin_of(&self, token: &str) -> Option<String> {
        let all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (plugin, until) = all.get(&crate::tokens::hash(token))?;
        (*until > Instant::now()).then(|| plugin.clone())
    }
}

/// Per-route limiters made on first use (one per plugin route).
#[derive(Default)]
pub(crate) struct RouteLimiters(
    Mutex<HashMap<String, std::sync::Arc<governor::DefaultDirectRateLimiter>>>,
);

impl RouteLimiters {
    /// Takes one request from `key`'s budget of `per_second`; false when
    /// it is spent.
    pub(crate) fn allow(&self, key: &str, per_second: u32) -> bool {
        let limiter = {
            let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
            all.entry(key.to_owned())
                .or_insert_with(|| {
                    let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
                    std::sync::Arc::new(RateLimiter::direct(Quota::per_second(rate)))
                })
                .clone()
        };
        limiter.check().is_ok()
    }
}
