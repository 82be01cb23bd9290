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

/// `; did you mean "x"?` with the candidates closest to `word` (at most
/// three, best first), or nothing when none is close.
///
/// ```
/// use plugwire_proto::text::did_you_mean;
/// assert_eq!(did_you_mean("ecoh", ["echo", "kv"]), "; did you mean \"echo\"?");
/// assert_eq!(did_you_mean("zzz", ["echo", "kv"]), "");
/// ```
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .filter(|c| *c != word)
        // A few edits for the length (a swapped pair counts one: "cta"
        // is one from "cat"), or the start of a name.
        .filter_map(|c| {
            let edits = strsim::damerau_levenshtein(word, c);
            let allowed = (word.chars().count() / 4).max(1);
            let begins = word.len() >= 3 && c.starts_with(word);
            (edits <= allowed || begins).then_some((-(edits as f64), c))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    let best: Vec<String> = scored
        .iter()
        .take(3)
        .map(|(_, c)| format!("{c:?}"))
        .collect();
    match best.len() {
        0 => String::new(),
        _ => format!("; did you mean {}?", best.join(" or ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested() {
        assert_eq!(
            did_you_mean("ecoh", ["echo", "kv", "audit"]),
            "; did you mean \"echo\"?"
        );
        assert_eq!(
            did_you_mean("echo.ecoh", ["echo.echo", "echo.slow"]),
            "; did you mean \"echo.echo\"?"
        );
        assert_eq!(
            did_you_mean("cta", ["cat", "exit"]),
            "; did you mean \"cat\"?"
        );
        assert_eq!(did_you_mean("zzz", ["echo", "kv"]), "");
        assert_eq!(
            did_you_mean("echo", ["echo"]),
            "",
            "the word itself is no suggestion"
        );
    }

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
