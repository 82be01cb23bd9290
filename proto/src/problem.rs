//! The one form of an argument or configuration problem (PW-TOOL-5,
//! PW-CFG-2): what was checked, where (a JSON pointer), and the problem.
//! The whole document is the empty pointer and reads `arguments: ...`; a
//! field reads `arguments /retries: ...`. Hosts, SDKs and the conformance
//! suite all write and read it through here.
//!
//! ```
//! use plugwire_proto::problem::{field_pointer, located};
//! assert_eq!(located("arguments", "", "expected a JSON object, saw [1]"), "arguments: expected a JSON object, saw [1]");
//! assert_eq!(located("config", "/retries", "expected an integer"), "config /retries: expected an integer");
//! assert_eq!(field_pointer("/point", Some("x")), "/point/x");
//! ```

use std::fmt::Display;

/// `what pointer: problem`, or `what: problem` for the whole document.
pub fn located(what: &str, pointer: &str, problem: impl Display) -> String {
    if pointer.is_empty() {
        format!("{what}: {problem}")
    } else {
        format!("{what} {pointer}: {problem}")
    }
}

/// The pointer of a schema problem: where it was found, and for a missing
/// required property, that property (so the message names the field the
/// caller must add, not the object that lacks it).
pub fn field_pointer(instance_path: &str, missing: Option<&str>) -> String {
    match missing {
        Some(property) => format!(
            "{instance_path}/{}",
            property.replace('~', "~0").replace('/', "~1")
        ),
        None => instance_path.to_owned(),
    }
}

/// Whether `message` has this form for `what` (`config: ...` or
/// `config /x: ...`), as PW-CFG-2 and PW-TOOL-5 require.
///
/// ```
/// use plugwire_proto::problem::is_located;
/// assert!(is_located("config", "config /retries: expected an integer"));
/// assert!(is_located("config", "config: expected a JSON object"));
/// assert!(!is_located("config", "configuration is bad"));
/// ```
pub fn is_located(what: &str, message: &str) -> bool {
    message.strip_prefix(what).is_some_and(|rest| {
        rest.starts_with(": ") || (rest.starts_with(" /") && rest.contains(": "))
    })
}
