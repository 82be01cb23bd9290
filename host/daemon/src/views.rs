//! The views of a live host that the API serves and the CLI prints: one
//! place builds them, whether the host runs in a daemon or in the CLI.

use plugwire_host::Host;

use crate::api::{
    AboutView, ApiError, CommandView, HookView, LimitsView, PermissionView, PluginDetail,
    PluginList, PluginView, ProviderView, ToolView,
};

/// Every plugin, as `plugwire list` shows them.
///
/// ```no_run
/// # fn f(host: plugwire_host::Host) {
/// let list = plugwire_daemon::views::plugin_list(&host);
/// assert_eq!(list.plugins.len(), host.status().len());
/// # }
/// ```
pub fn plugin_list(host: &Host) -> PluginList {
    PluginList {
        plugins: host.status().iter().map(PluginView::from).collect(),
        problems: host.problems().iter().map(ToString::to_string).collect(),
    }
}

/// One plugin in full, started if it can be to learn what it offers (why
/// it could not be is in `start_error`).
///
/// ```no_run
/// # async fn f(host: plugwire_host::Host) -> Result<(), plugwire_daemon::api::ApiError> {
/// let echo = plugwire_daemon::views::detail(&host, "echo").await?;
/// assert!(echo.tools.iter().all(|t| t.plugin == "echo"));
/// # Ok(()) }
/// ```
pub async fn detail(host: &Host, name: &str) -> Result<PluginDetail, ApiError> {
    let started = host.start_plugin(name).await;
    let status = host
        .status()
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| no_plugin(name))?;
    let tools = host.tools().await;
    let commands = host.commands().await;
    let providers = host.providers().await;
    let hooks = host.hooks().await;
    let manifest = host.manifest(name).map_err(|s| ApiError::from_status(&s))?;
    let missing: Vec<String> = host
        .missing_grants(name)
        .map_err(|s| ApiError::from_status(&s))?
        .iter()
        .map(ToString::to_string)
        .collect();
    let limits = &manifest.limits;
    Ok(PluginDetail {
        status: PluginView::from(&status),
        about: AboutView {
            authors: manifest.authors.clone(),
            license: manifest.license.clone(),
            homepage: manifest.homepage.clone(),
            repository: manifest.repository.clone(),
            keywords: manifest.keywords.clone(),
        },
        permissions: plugwire_host::grants::requested(&manifest)
            .iter()
            .map(|p| PermissionView {
                permission: p.to_string(),
                risk: p.risk().to_owned(),
                level: p.level().to_string(),
                granted: !missing.contains(&p.to_string()),
            })
            .collect(),
        limits: LimitsView {
            memory_bytes: limits.memory,
            pids: limits.pids,
            cpu: limits.cpu,
            open_files: limits.open_files,
            call_timeout_ms: limits.call_timeout.map(|d| d.as_millis() as u64),
        },
        hooks: hooks
            .iter()
            .filter(|h| h.plugin == name)
            .map(HookView::from)
            .collect(),
        tools: tools
            .iter()
            .filter(|t| t.plugin == name)
            .map(ToolView::from)
            .collect(),
        commands: commands
            .iter()
            .filter(|c| c.plugin == name)
            .map(CommandView::from)
            .collect(),
        providers: providers
            .into_iter()
            .filter(|p| p.0 == name)
            .map(|(_, service, name)| ProviderView { service, name })
            .collect(),
        start_error: started.err().map(|s| ApiError::from_status(&s)),
    })
}

pub(crate) fn no_plugin(name: &str) -> ApiError {
    ApiError::new("not_found", format!("no plugin named {name:?}"))
        .with_hint("`plugwire list` shows the plugins found")
}
