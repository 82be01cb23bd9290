//! The `kv` example plugin: a provider of `examples.kv.v1.KeyValue`.
//!
//! `KeyValue` is an application-defined service (`sdk-examples/proto/`), not
//! part of plugwire. The plugin serves it on its socket as provider
//! `memory`; an application gets a typed client on the plugin's channel.
//! The crate also exports the generated client for applications and tests.

use std::collections::BTreeMap;
use std::sync::Mutex;

use plugwire_sdk::Plugin;
use tonic::{Request, Response, Status};

/// Generated `examples.kv.v1` messages, client and server.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("examples.kv.v1");

    /// Encoded descriptors of `examples.kv.v1`, for reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("kv_descriptor");
}

/// Longest key accepted.
pub const MAX_KEY: usize = 256;
/// Largest value accepted.
pub const MAX_VALUE: usize = 64 * 1024;
/// Most keys held.
pub const MAX_KEYS: usize = 100_000;

/// An in-memory `KeyValue` store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    data: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryStore {
    fn data(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[tonic::async_trait]
impl pb::key_value_server::KeyValue for MemoryStore {
    async fn get(
        &self,
        request: Request<pb::GetRequest>,
    ) -> Result<Response<pb::GetResponse>, Status> {
        let key = request.into_inner().key;
        Ok(Response::new(match self.data().get(&key) {
            Some(value) => pb::GetResponse {
                found: true,
                value: value.clone(),
            },
            None => pb::GetResponse::default(),
        }))
    }

    async fn put(
        &self,
        request: Request<pb::PutRequest>,
    ) -> Result<Response<pb::PutResponse>, Status> {
        let pb::PutRequest { key, value } = request.into_inner();
        if key.is_empty() || key.len() > MAX_KEY {
            return Err(Status::invalid_argument(format!(
                "key: expected 1 to {MAX_KEY} bytes, saw {}",
                key.len()
            )));
        }
        if value.len() > MAX_VALUE {
            return Err(Status::invalid_argument(format!(
                "value: expected at most {MAX_VALUE} bytes, saw {}",
                value.len()
            )));
        }
        let mut data = self.data();
        if data.len() >= MAX_KEYS && !data.contains_key(&key) {
            return Err(Status::resource_exhausted(format!(
                "the store is full ({MAX_KEYS} keys)"
            )));
        }
        data.insert(key, value);
        Ok(Response::new(pb::PutResponse {}))
    }

    async fn delete(
        &self,
        request: Request<pb::DeleteRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let existed = self.data().remove(&request.into_inner().key).is_some();
        Ok(Response::new(pb::DeleteResponse { existed }))
    }

    async fn list(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListResponse>, Status> {
        let prefix = request.into_inner().prefix;
        let keys = self
            .data()
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        Ok(Response::new(pb::ListResponse { keys }))
    }
}

/// The plugin.
pub fn plugin() -> Plugin {
    Plugin::new("kv", env!("CARGO_PKG_VERSION"))
        .description("An in-memory examples.kv.v1.KeyValue provider")
        .provider(
            "memory",
            pb::key_value_server::KeyValueServer::new(MemoryStore::default()),
        )
        .reflection_descriptor(pb::FILE_DESCRIPTOR_SET)
}

#[cfg(test)]
mod tests {
    use plugwire_sdk::testing::TestHost;

    use super::pb::key_value_client::KeyValueClient;
    use super::*;

    #[tokio::test]
    async fn provider_is_declared_and_served() {
        let host = TestHost::start(plugin()).await.unwrap();
        let providers = host.handshake.capabilities.clone().unwrap().providers;
        assert_eq!(providers.len(), 1);
        assert_eq!(providers[0].service, "examples.kv.v1.KeyValue");
        assert_eq!(providers[0].name, "memory");

        let mut kv = KeyValueClient::new(host.channel());
        kv.put(pb::PutRequest {
            key: "a/1".into(),
            value: b"one".to_vec(),
        })
        .await
        .unwrap();
        kv.put(pb::PutRequest {
            key: "a/2".into(),
            value: b"two".to_vec(),
        })
        .await
        .unwrap();
        kv.put(pb::PutRequest {
            key: "b".into(),
            value: vec![],
        })
        .await
        .unwrap();
        let got = kv
            .get(pb::GetRequest { key: "a/1".into() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!((got.found, got.value), (true, b"one".to_vec()));
        let listed = kv
            .list(pb::ListRequest {
                prefix: "a/".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.keys, ["a/1", "a/2"]);
        assert!(
            kv.delete(pb::DeleteRequest { key: "a/1".into() })
                .await
                .unwrap()
                .into_inner()
                .existed
        );
        assert!(
            !kv.get(pb::GetRequest { key: "a/1".into() })
                .await
                .unwrap()
                .into_inner()
                .found
        );
        host.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn limits_are_enforced_with_clear_errors() {
        let host = TestHost::start(plugin()).await.unwrap();
        let mut kv = KeyValueClient::new(host.channel());
        let err = kv
            .put(pb::PutRequest {
                key: String::new(),
                value: vec![],
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        let err = kv
            .put(pb::PutRequest {
                key: "k".into(),
                value: vec![0; MAX_VALUE + 1],
            })
            .await
            .unwrap_err();
        assert!(
            err.message().contains("at most 65536 bytes"),
            "{}",
            err.message()
        );
        host.shutdown().await.unwrap();
    }
}
