//! The spawner thread: every plugin process is spawned from it.

use std::sync::mpsc as std_mpsc;

use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// A command and the descriptors it inherits beyond stdio.
pub(crate) struct Spawn {
    pub command: Command,
    pub inherit: Vec<std::os::fd::OwnedFd>,
}

/// Spawns every plugin from one long-lived thread. The parent-death signal
/// fires when the *thread* that spawned a process exits, and tokio retires
/// its blocking threads when idle; a dedicated thread lives exactly as long
/// as the host, so plugins die with the host and not before.
pub struct Spawner {
    jobs: std_mpsc::Sender<Job>,
}

struct Job {
    command: Command,
    /// Descriptors the child inherits, closed here once it is spawned.
    _inherit: Vec<std::os::fd::OwnedFd>,
    runtime: tokio::runtime::Handle,
    reply: oneshot::Sender<std::io::Result<Child>>,
}

impl Spawner {
    /// Starts the spawner thread.
    ///
    /// ```
    /// let spawner = plugwire_host::launch::Spawner::new().unwrap();
    /// # drop(spawner);
    /// ```
    pub fn new() -> std::io::Result<Self> {
        let (jobs, receiver) = std_mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("plugwire-spawner".into())
            .spawn(move || {
                while let Ok(mut job) = receiver.recv() {
                    let _entered = job.runtime.enter();
                    let _ = job.reply.send(job.command.spawn());
                }
            })?;
        Ok(Self { jobs })
    }

    pub(crate) async fn spawn(&self, spawn: Spawn) -> std::io::Result<Child> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                command: spawn.command,
                _inherit: spawn.inherit,
                runtime: tokio::runtime::Handle::current(),
                reply,
            })
            .map_err(|_| std::io::Error::other("the spawner thread has stopped"))?;
        answer
            .await
            .map_err(|_| std::io::Error::other("the spawner thread has stopped"))?
    }
}
