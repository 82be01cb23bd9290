//! Providers: the channel of the plugin serving an application-defined
//! gRPC service under a provider name.
//!
//! A channel outlives the call that asked for it, so it is not held in
//! flight: after a reload, a channel to the old instance works until the
//! old instance has drained and stopped, then fails with `UNAVAILABLE`;
//! ask for the channel again then.

use tonic::Status;
use tonic::transport::Channel;

use crate::core::Core;

impl Core {
    pub(crate) async fn provider_channel(
        &self,
        service: &str,
        name: &str,
    ) -> Result<Channel, Status> {
        self.start_all().await;
        for (instance, conn) in self.running() {
            if conn
                .providers()
                .iter()
                .any(|p| p.service == service && p.name == name)
            {
                instance.touch();
                return Ok(conn.channel.clone());
            }
        }
        Err(Status::not_found(format!(
            "no plugin provides {service} as {name:?}"
        )))
    }

    /// (plugin, service, provider name) of every running plugin.
    pub(crate) async fn providers(&self) -> Vec<(String, String, String)> {
        self.start_all().await;
        let mut out = Vec::new();
        for (instance, conn) in self.running() {
            for p in conn.providers() {
                out.push((
                    instance.name().to_owned(),
                    p.service.clone(),
                    p.name.clone(),
                ));
            }
        }
        out
    }
}
