//! Plugin processes: the spawner thread (`spawner`), the launcher
//! (`launcher`), runtime directories (`runtime`), signals (`signals`), and
//! one plugin's start up to its bootstrap line (`launch`, which reads the
//! line with `bootstrap`).

pub(crate) mod bootstrap;
pub mod interpreter;
pub mod launch;
pub(crate) mod launcher;
pub(crate) mod runtime;
pub(crate) mod signals;
pub(crate) mod spawner;

pub use launcher::{LAUNCHER_NAME, find_launcher};
pub(crate) use runtime::reclaim_debris;
pub use runtime::runtime_dir;
pub use signals::signal_group;
pub(crate) use signals::signal_group_but_leader;
pub use spawner::Spawner;
