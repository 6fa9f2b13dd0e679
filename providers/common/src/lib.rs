//! What the key-value providers (`kv-fs`, `kv-redis`) share: the outcome of a compare-and-swap,
//! the rule for bucket identifiers, and JSONStore's configuration read from the environment.

pub mod config;

/// The outcome of a provider's compare-and-swap, whose handle type is `C`.
#[derive(Debug, PartialEq, Eq)]
pub enum Swap<C> {
    /// The new value is now the current one.
    Done,
    /// Another writer got there first; this handle holds the latest version, ready for a retry.
    Conflict(C),
}

/// The bucket identifiers the providers accept, as a pattern for messages.
pub const BUCKET_IDENTIFIER: &str = "[A-Za-z0-9_-]{1,64}";

/// Whether `identifier` matches [`BUCKET_IDENTIFIER`]: safe as a file name and as part of a
/// server key, with no separator or glob character.
pub fn is_bucket_identifier(identifier: &str) -> bool {
    (1..=64).contains(&identifier.len())
        && identifier.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_identifiers() {
        for good in ["default", "a", "A-b_9", &"x".repeat(64)] {
            assert!(is_bucket_identifier(good), "{good}");
        }
        for bad in ["", "a:b", "a*", "a/b", "é", &"x".repeat(65)] {
            assert!(!is_bucket_identifier(bad), "{bad}");
        }
    }
}
