//! What every request handler shares: the live host and the daemon's own
//! bookkeeping (tokens, rate limits, when it started).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

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
}

impl State {
    pub(crate) fn new(
        host: Host,
        limits: Limits,
        tokens: PathBuf,
        needs: HashMap<RouteKey, Need>,
    ) -> Self {
        let per_second = NonZeroU32::new(limits.token_rate.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = per_second.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
        Self {
            host,
            started: Instant::now(),
            limits,
            tokens: TokenFile::new(tokens),
            token_rate: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            needs,
        }
    }
}

/// What tells a changed file: modified time, length, inode.
type FileStamp = (SystemTime, u64, u64);

/// The tokens file, re-read when it changes (`plugwire token create`
/// writes it while the daemon runs).
pub(crate) struct TokenFile {
    path: PathBuf,
    cached: Mutex<(Option<FileStamp>, Tokens)>,
}

impl TokenFile {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            cached: Mutex::new((None, Tokens::default())),
        }
    }

    /// The tokens as the file holds them now.
    pub(crate) fn current(&self) -> Tokens {
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
            *cached = (stamp, tokens);
        }
        cached.1.clone()
    }
}
