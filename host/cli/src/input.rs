//! JSON input from the command line, a file or stdin.

use std::io::Read;

use serde_json::{Value, json};

use crate::output::Failure;

/// Largest JSON input read from a file or stdin.
const MAX_INPUT: u64 = 16 << 20;

/// Reads JSON from text, `@file` or `-`, under a size cap.
pub(crate) fn read_json(input: Option<&str>, what: &str) -> Result<Value, Failure> {
    let text = match input {
        None => return Ok(json!({})),
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .take(MAX_INPUT + 1)
                .read_to_string(&mut text)
                .map_err(|e| Failure::new(format!("cannot read {what} from stdin: {e}")))?;
            text
        }
        Some(path) if path.starts_with('@') => {
            let path = &path[1..];
            let mut text = String::new();
            std::fs::File::open(path)
                .and_then(|f| f.take(MAX_INPUT + 1).read_to_string(&mut text))
                .map_err(|e| Failure::new(format!("cannot read {what} from {path}: {e}")))?;
            text
        }
        Some(text) => text.to_owned(),
    };
    if text.len() as u64 > MAX_INPUT {
        return Err(Failure::new(format!("{what}: more than {MAX_INPUT} bytes")));
    }
    serde_json::from_str(&text).map_err(|e| {
        Failure::usage(format!("{what}: not JSON: {e}"))
            .hint("quote it for the shell, e.g. '{\"text\":\"hi\"}', or use @file.json")
    })
}
