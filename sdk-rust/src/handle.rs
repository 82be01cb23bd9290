//! What every handler reaches: [`PluginHandle`], over the state one running
//! plugin's services share.

use std::any::Any;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::error::HostUnavailable;
use crate::host_client::HostClient;

/// Turns a serde path (`a.b[2]`) into a JSON pointer (`/a/b/2`).
pub(crate) fn json_pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        out.push('/');
        match segment {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } => out.push_str(&key.replace('~', "~0").replace('/', "~1")),
            Segment::Enum { variant } => out.push_str(variant),
            Segment::Unknown => out.push('?'),
        }
    }
    out
}

/// What every handler may reach: the plugin's configuration and the host.
/// Tool, command and hook contexts dereference to it.
///
/// ```
/// use plugwire_sdk::ToolContext;
/// async fn handler(cx: ToolContext) {
///     let instance = cx.instance_id();
///     let host = cx.host(); // Err(HostUnavailable) when the host offers none
///     # let _ = (instance, host);
/// }
/// ```
#[derive(Clone)]
pub struct PluginHandle {
    pub(crate) state: Arc<PluginState>,
}

/// State shared by every service of one running plugin.
pub(crate) struct PluginState {
    pub(crate) config: OnceLock<Arc<dyn Any + Send + Sync>>,
    pub(crate) config_json: OnceLock<Value>,
    pub(crate) host: OnceLock<HostClient>,
    pub(crate) instance_id: OnceLock<String>,
}

impl PluginState {
    pub(crate) fn new() -> Self {
        Self {
            config: OnceLock::new(),
            config_json: OnceLock::new(),
            host: OnceLock::new(),
            instance_id: OnceLock::new(),
        }
    }
}

impl PluginHandle {
    /// The typed configuration registered with [`Plugin::config`], once
    /// `Configure` has succeeded; `None` before, or if `C` is not the type.
    ///
    /// ```
    /// # use plugwire_sdk::ToolContext;
    /// #[derive(serde::Deserialize)]
    /// struct Settings { greeting: String }
    /// fn greeting(cx: &ToolContext) -> String {
    ///     cx.config::<Settings>().map(|s| s.greeting.clone()).unwrap_or_else(|| "hello".into())
    /// }
    /// ```
    pub fn config<C: Send + Sync + 'static>(&self) -> Option<Arc<C>> {
        self.state.config.get()?.clone().downcast::<C>().ok()
    }

    /// The raw JSON configuration, once `Configure` has succeeded.
    ///
    /// ```
    /// # use plugwire_sdk::ToolContext;
    /// fn verbose(cx: &ToolContext) -> bool {
    ///     cx.config_json().and_then(|c| c.get("verbose")?.as_bool()).unwrap_or(false)
    /// }
    /// ```
    pub fn config_json(&self) -> Option<&Value> {
        self.state.config_json.get()
    }

    /// A client for the host's callbacks (PW-HOST-1), available once the
    /// handshake is done and when the host offers `host.service`.
    ///
    /// ```
    /// # use plugwire_sdk::ToolContext;
    /// async fn remember(cx: &ToolContext) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    ///     cx.host()?.put("last", b"value".to_vec()).await?;
    ///     Ok(())
    /// }
    /// ```
    pub fn host(&self) -> Result<HostClient, HostUnavailable> {
        self.state.host.get().cloned().ok_or(HostUnavailable)
    }

    /// The instance id the host assigned (empty before the handshake).
    ///
    /// ```
    /// # use plugwire_sdk::ToolContext;
    /// fn tag(cx: &ToolContext) -> String { format!("instance {}", cx.instance_id()) }
    /// ```
    pub fn instance_id(&self) -> &str {
        self.state
            .instance_id
            .get()
            .map(String::as_str)
            .unwrap_or("")
    }
}
