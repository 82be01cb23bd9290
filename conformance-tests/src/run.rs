//! The runner: every check of the table, in order, on one session.

use crate::check::{Needs, timed};
use crate::report::Report;
use crate::session::Session;
use crate::table::CHECKS;

/// Runs the table on `session`. Attached to a running plugin, the checks
/// that need a plugin the suite starts are not applicable.
pub(crate) async fn all(mut session: Session, attached: bool) -> Report {
    let mut report = Report::default();
    for check in CHECKS {
        if attached && check.needs == Needs::Launch {
            timed(&mut report, check, async {
                crate::check::na(
                    "attached to a running plugin: only a plugin the suite starts can be checked for this",
                )
            })
            .await;
            continue;
        }
        let run = (check.run)(&mut session);
        timed(&mut report, check, run).await;
    }
    report
}
