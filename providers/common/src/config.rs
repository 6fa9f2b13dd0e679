//! JSONStore's configuration variables, read from the environment, for the providers to serve
//! as `wasi:config/store` under `wasmtime serve`.
//!
//! Spin serves `wasi:config` from its application variables, whose names are lower-case
//! (`body_bytes_max`). Under `wasmtime serve` the same variable is the environment variable
//! `JSONSTORE_` followed by its name in upper case (`--env JSONSTORE_BODY_BYTES_MAX=1000`), so
//! the handler asks for the same names on both hosts.

/// The prefix of the environment variables that are configuration variables.
pub const PREFIX: &str = "JSONSTORE_";

/// The environment variable that holds configuration variable `key`, if `key` is a valid name
/// (a lower-case ASCII letter, then lower-case letters, digits and underscores, as Spin requires).
pub fn env_name(key: &str) -> Option<String> {
    let mut chars = key.chars();
    let valid = chars.next().is_some_and(|first| first.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    valid.then(|| format!("{PREFIX}{}", key.to_ascii_uppercase()))
}

/// The configuration variable that environment variable `name` holds, if it holds one.
pub fn key_name(name: &str) -> Option<String> {
    let key = name.strip_prefix(PREFIX)?.to_ascii_lowercase();
    (env_name(&key)?.as_str() == name).then_some(key)
}

/// The value of configuration variable `key` in this process's environment, if set.
pub fn get(key: &str) -> Option<String> {
    lookup(env(), key)
}

/// Every configuration variable in this process's environment, with its value.
pub fn all() -> Vec<(String, String)> {
    collect(env())
}

/// The value of configuration variable `key` in `vars` (name, value pairs), if set.
pub fn lookup(vars: impl IntoIterator<Item = (String, String)>, key: &str) -> Option<String> {
    let name = env_name(key)?;
    vars.into_iter().find(|(n, _)| *n == name).map(|(_, value)| value)
}

/// Every configuration variable in `vars` (name, value pairs), with its value.
pub fn collect(vars: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    vars.into_iter().filter_map(|(name, value)| Some((key_name(&name)?, value))).collect()
}

/// The environment variables whose names and values are UTF-8.
fn env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vec<(String, String)> {
        [("JSONSTORE_BODY_BYTES_MAX", "10"), ("JSONSTORE_x", "1"), ("PATH", "/bin"), ("JSONSTORE_DEPTH_MAX", "8")]
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn names_map_both_ways() {
        assert_eq!(env_name("body_bytes_max").as_deref(), Some("JSONSTORE_BODY_BYTES_MAX"));
        assert_eq!(key_name("JSONSTORE_BODY_BYTES_MAX").as_deref(), Some("body_bytes_max"));
        for bad in ["", "Body", "1x", "_x", "a-b", "a.b"] {
            assert_eq!(env_name(bad), None, "{bad:?}");
        }
        assert_eq!(key_name("JSONSTORE_x"), None);
        assert_eq!(key_name("JSONSTORE_"), None);
        assert_eq!(key_name("PATH"), None);
    }

    #[test]
    fn reads_variables() {
        assert_eq!(lookup(vars(), "body_bytes_max").as_deref(), Some("10"));
        assert_eq!(lookup(vars(), "x"), None);
        assert_eq!(lookup(vars(), "chunk_bytes_max"), None);
        let expected = [("body_bytes_max", "10"), ("depth_max", "8")].map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(collect(vars()), expected);
    }
}
