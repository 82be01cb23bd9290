//! Making text from a plugin safe to show: a plugin's stderr, messages and
//! descriptions reach terminals and error messages, where control sequences
//! could clear the screen, retitle the window or print a fake success.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Replaces every control character except newline and tab (C0, DEL and
/// C1, which terminals also obey) with a visible escape such as `\x1b` or
/// `\u{9b}`. Text without them is borrowed unchanged.
///
/// ```
/// use plugwire_proto::text::escape_controls;
/// assert_eq!(escape_controls("\x1b]0;pwned\x07ok\n"), "\\x1b]0;pwned\\x07ok\n");
/// assert_eq!(escape_controls("plain text\tand tabs"), "plain text\tand tabs");
/// assert_eq!(escape_controls("csi\u{9b}2J"), "csi\\u{9b}2J");
/// ```
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !needs_escape(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

/// [`escape_controls`] for one line: newlines and tabs are escaped too.
///
/// ```
/// assert_eq!(plugwire_proto::text::escape_line("a\nb\r"), "a\\x0ab\\x0d");
/// ```
pub fn escape_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control()) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c == '\n' || c == '\t' {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            out.push_str(&escape_controls(c.encode_utf8(&mut [0; 4])));
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// What kind of JSON value `value` is, as an error message says it ("expected
/// an object, saw an array").
///
/// ```
/// use plugwire_proto::text::json_kind;
/// assert_eq!(json_kind(&serde_json::json!([1])), "an array");
/// assert_eq!(json_kind(&serde_json::json!(null)), "null");
/// ```
pub fn json_kind(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_character_is_made_visible() {
        for c in (0u32..0x20).chain([0x7f]).chain(0x80..0xa0) {
            let c = char::from_u32(c).unwrap();
            let text = format!("a{c}b");
            let escaped = escape_line(&text);
            assert!(
                !escaped.chars().any(|c| c.is_control()),
                "{:?} -> {escaped:?}",
                c
            );
        }
    }

    #[test]
    fn unicode_text_is_left_alone() {
        assert!(matches!(escape_controls("héllo wörld ✓"), Cow::Borrowed(_)));
    }
}
