//! Recognising a peer's gRPC receive limit in an error, so that a plugin
//! whose server keeps gRPC's default 4 MiB (go-plugin's servers do) is
//! reported against PW-BOOT-13's 16 MiB with the fix, rather than as an
//! odd call error.

use crate::constants::MAX_MESSAGE_SIZE;

/// A peer refused a message over its receive limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveLimit {
    /// The size of the refused message, in bytes.
    pub sent: u64,
    /// The peer's limit, in bytes.
    pub limit: u64,
}

impl ReceiveLimit {
    /// Reads the limit from a status message, in the forms grpc-go,
    /// gRPC C-core (grpcio), grpc-js and tonic write it.
    ///
    /// ```
    /// use plugwire_proto::receive_limit::ReceiveLimit;
    ///
    /// let go = ReceiveLimit::in_message("grpc: received message larger than max (5242902 vs. 4194304)");
    /// assert_eq!(go, Some(ReceiveLimit { sent: 5242902, limit: 4194304 }));
    /// let tonic = ReceiveLimit::in_message(
    ///     "Error, decoded message length too large: found 20000000 bytes, the limit is: 16777216 bytes",
    /// );
    /// assert_eq!(tonic.map(|l| l.limit), Some(16 * 1024 * 1024));
    /// assert_eq!(ReceiveLimit::in_message("no such tool"), None);
    /// ```
    pub fn in_message(message: &str) -> Option<Self> {
        let lower = message.to_ascii_lowercase();
        if let Some(at) = lower.find("larger than max (") {
            let rest = &lower[at + "larger than max (".len()..];
            let (sent, rest) = leading_number(rest)?;
            let rest = rest
                .strip_prefix(" vs. ")
                .or_else(|| rest.strip_prefix(" vs "))?;
            let (limit, _) = leading_number(rest)?;
            return Some(Self { sent, limit });
        }
        let at = lower.find("message length too large: found ")?;
        let rest = &lower[at + "message length too large: found ".len()..];
        let (sent, rest) = leading_number(rest)?;
        let rest = rest.strip_prefix(" bytes, the limit is: ")?;
        let (limit, _) = leading_number(rest)?;
        Some(Self { sent, limit })
    }

    /// Whether the limit is below what the protocol requires.
    ///
    /// ```
    /// use plugwire_proto::receive_limit::ReceiveLimit;
    /// assert!(ReceiveLimit { sent: 5 << 20, limit: 4 << 20 }.below_protocol());
    /// assert!(!ReceiveLimit { sent: 17 << 20, limit: 16 << 20 }.below_protocol());
    /// ```
    pub fn below_protocol(&self) -> bool {
        self.limit < MAX_MESSAGE_SIZE as u64
    }

    /// What to tell the user about plugin `who`: the limits, and how each
    /// SDK's server raises its own.
    ///
    /// ```
    /// use plugwire_proto::receive_limit::ReceiveLimit;
    /// let text = ReceiveLimit { sent: 5 << 20, limit: 4 << 20 }.explain("plugin \"x\"");
    /// assert!(text.starts_with("plugin \"x\" refused a 5242880-byte message: its gRPC server accepts at most 4 MiB"));
    /// assert!(text.contains("grpc.MaxRecvMsgSize(16 << 20)"));
    /// ```
    pub fn explain(&self, who: &str) -> String {
        let limit = if self.limit.is_multiple_of(1 << 20) {
            format!("{} MiB", self.limit >> 20)
        } else {
            format!("{} bytes", self.limit)
        };
        format!(
            "{who} refused a {}-byte message: its gRPC server accepts at most {limit}, where the \
             protocol requires 16 MiB in both directions (PW-BOOT-13; gRPC's default is 4 MiB). \
             Raise the plugin's receive limit to 16 MiB: in Go `grpc.MaxRecvMsgSize(16 << 20)` \
             (under go-plugin, a `GRPCServer` function that passes it to `grpc.NewServer`), in \
             Python and Node the channel option `grpc.max_receive_message_length`, in Rust \
             tonic `max_decoding_message_size`",
            self.sent
        )
    }
}

fn leading_number(text: &str) -> Option<(u64, &str)> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    Some((text[..end].parse().ok()?, &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runtimes_form_is_read() {
        for message in [
            "grpc: received message larger than max (5242902 vs. 4194304)",
            "Received message larger than max (5242902 vs. 4194304)",
            "Received message larger than max (5242902 vs 4194304)",
            "Error, decoded message length too large: found 5242902 bytes, the limit is: 4194304 bytes",
        ] {
            assert_eq!(
                ReceiveLimit::in_message(message),
                Some(ReceiveLimit {
                    sent: 5242902,
                    limit: 4194304
                }),
                "{message}"
            );
        }
    }

    #[test]
    fn near_misses_are_not_limits() {
        for message in [
            "larger than max (",
            "larger than max (12 versus 4)",
            "larger than max (x vs. 4)",
            "message length too large: found 5 bytes",
            "",
        ] {
            assert_eq!(ReceiveLimit::in_message(message), None, "{message}");
        }
    }
}
