//! The `grpc-timeout` header (gRPC over HTTP/2): `<1-8 digits><unit>`,
//! unit one of `H M S m u n`. tonic enforces it for unary calls on the
//! server, but streams and the host's callbacks read it themselves.
//!
//! ```
//! use std::time::Duration;
//! use plugwire_proto::deadline::parse_grpc_timeout;
//! assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
//! assert_eq!(parse_grpc_timeout("5x"), None);
//! ```

use std::time::Duration;

/// Parses a `grpc-timeout` value; `None` when it is malformed.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(plugwire_proto::deadline::parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
/// ```
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bad_values() {
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse_grpc_timeout("123456789n"), None, "at most 8 digits");
        for bad in ["", "S", "-1S", "1.5S", "10"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad}");
        }
    }
}
