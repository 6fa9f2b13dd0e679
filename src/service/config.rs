//! Limits and the origin let in, read from the host's configuration variables.
//!
//! The names and defaults are the same on every host (`spin.toml` declares them, and a test
//! checks it), so a setting means the same under Spin and `wasmtime serve`.

use super::cors;
use crate::access::{Policy, Settings};
use crate::core::json::DEPTH_MAX_LIMIT;
use crate::layout::LayoutConfig;

/// The configuration variables JSONStore reads, with their defaults as text.
///
/// Spin takes them from `spin.toml`'s variables; under `wasmtime serve` variable `name` is the
/// environment variable `JSONSTORE_NAME` (in upper case).
pub const VARIABLES: [(&str, &str); 15] = [
    ("body_bytes_max", "16777216"),
    ("depth_max", "64"),
    ("patch_operations_max", "1000"),
    ("patch_bytes_max", "16777216"),
    ("chunk_bytes_max", "1048576"),
    ("keys_max", "0"),
    ("cors_allow_origin", "*"),
    ("access", ""),
    ("read_token", ""),
    ("write_token", ""),
    ("rules", ""),
    ("jwt_secret", ""),
    ("jwt_jwks", ""),
    ("jwt_issuer", ""),
    ("jwt_audience", ""),
];

/// The variables that hold secrets: hosts should keep them out of manifests and logs.
pub const SECRETS: [&str; 3] = ["read_token", "write_token", "jwt_secret"];

/// What a deployment can set.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The largest request body accepted (`body_bytes_max`, default 16 MiB).
    pub body_bytes_max: usize,
    /// The deepest nesting of arrays and objects in the document (`depth_max`, default 64, at
    /// most 128).
    pub depth_max: usize,
    /// The most operations one JSON Patch may have (`patch_operations_max`, default 1,000).
    pub patch_operations_max: usize,
    /// The most JSON a `PATCH` may hold in memory (`patch_bytes_max`, default 16 MiB): its
    /// target as it was, read whole, plus everything the patch adds or copies, in bytes. It is
    /// checked before the target is read past it and before each operation, so a patch that
    /// would build more is refused before it is built.
    pub patch_bytes_max: usize,
    /// How the document is split into stored values: its chunk size, the longest value stored,
    /// is `chunk_bytes_max` (default 1 MiB, at least 4 KiB), and its key budget, the most keys
    /// the store may hold, is `keys_max` (default 0: no budget).
    pub layout: LayoutConfig,
    /// The origin whose pages may call JSONStore from a browser (`cors_allow_origin`, default
    /// `*`: every origin; empty: none), see [`cors`].
    pub cors_allow_origin: String,
    /// Who may read and write (`access`, `read_token`, `write_token`; default: nobody).
    pub access: Policy,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            body_bytes_max: 16 * 1024 * 1024,
            depth_max: 64,
            patch_operations_max: 1000,
            patch_bytes_max: 16 * 1024 * 1024,
            layout: LayoutConfig::default(),
            cors_allow_origin: "*".into(),
            access: Policy::default(),
        }
    }
}

impl Config {
    /// The default configuration, but open to anyone: for tests and benchmarks.
    pub fn open() -> Self {
        Config { access: Policy::open(), ..Config::default() }
    }

    /// Reads the configuration from variables looked up by `lookup`; unset ones keep their
    /// defaults. A lookup error or an invalid value is an error that names the variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Result<Option<String>, String>) -> Result<Config, String> {
        let mut config = Config::default();
        let number = |name: &str, default: usize, min: usize, max: usize| match lookup(name) {
            Err(error) => Err(format!("configuration variable {name} could not be read: {error}")),
            Ok(None) => Ok(default),
            Ok(Some(text)) => match text.trim().parse::<usize>() {
                Ok(value) if (min..=max).contains(&value) => Ok(value),
                _ => Err(format!(
                    "configuration variable {name} must be a whole number from {min} to {max}, not {text:?}"
                )),
            },
        };
        config.body_bytes_max = number("body_bytes_max", config.body_bytes_max, 1, usize::MAX)?;
        config.depth_max = number("depth_max", config.depth_max, 1, DEPTH_MAX_LIMIT)?;
        config.patch_operations_max = number("patch_operations_max", config.patch_operations_max, 1, usize::MAX)?;
        config.patch_bytes_max = number("patch_bytes_max", config.patch_bytes_max, 1, usize::MAX)?;
        let chunk = number("chunk_bytes_max", config.layout.chunk_bytes_max, 4096, 1 << 30)?;
        let keys = number("keys_max", 0, 0, usize::MAX)?;
        config.layout = LayoutConfig { keys_max: keys, ..LayoutConfig::for_chunk(chunk) };
        match lookup("cors_allow_origin") {
            Err(error) => return Err(format!("configuration variable cors_allow_origin could not be read: {error}")),
            Ok(None) => {}
            Ok(Some(text)) if cors::is_allow_origin(text.trim()) => config.cors_allow_origin = text.trim().to_owned(),
            Ok(Some(text)) => {
                return Err(format!(
                    "configuration variable cors_allow_origin must be *, one origin such as https://example.com, or empty, not {text:?}"
                ));
            }
        }
        let text = |name: &str| {
            lookup(name).map_err(|error| format!("configuration variable {name} could not be read: {error}"))
        };
        let (access, read_token, write_token) = (text("access")?, text("read_token")?, text("write_token")?);
        let rules = text("rules")?;
        let (jwt_secret, jwt_jwks) = (text("jwt_secret")?, text("jwt_jwks")?);
        let (jwt_issuer, jwt_audience) = (text("jwt_issuer")?, text("jwt_audience")?);
        config.access = Policy::from_config(Settings {
            access: access.as_deref(),
            read_token: read_token.as_deref(),
            write_token: write_token.as_deref(),
            rules: rules.as_deref(),
            jwt_secret: jwt_secret.as_deref(),
            jwt_jwks: jwt_jwks.as_deref(),
            jwt_issuer: jwt_issuer.as_deref(),
            jwt_audience: jwt_audience.as_deref(),
        })?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(name: &'static str, value: &'static str) -> impl Fn(&str) -> Result<Option<String>, String> {
        move |asked| Ok((asked == name).then(|| value.to_owned()))
    }

    #[test]
    fn reads_variables() {
        let config = Config::from_lookup(only("depth_max", "8")).unwrap();
        assert_eq!(config, Config { depth_max: 8, ..Config::default() });
        let config = Config::from_lookup(only("patch_operations_max", "10")).unwrap();
        assert_eq!(config, Config { patch_operations_max: 10, ..Config::default() });
        let config = Config::from_lookup(only("patch_bytes_max", "4096")).unwrap();
        assert_eq!(config, Config { patch_bytes_max: 4096, ..Config::default() });
        assert!(Config::from_lookup(only("patch_operations_max", "0")).unwrap_err().contains("patch_operations_max"));
        let config = Config::from_lookup(only("keys_max", "1000")).unwrap();
        assert_eq!(config.layout.keys_max, 1000);
        assert!(Config::from_lookup(|_| Ok(Some("lots".into()))).is_err());
        assert!(Config::from_lookup(only("depth_max", "129")).unwrap_err().contains("depth_max"));
        assert!(Config::from_lookup(|_| Err("no such store".into())).unwrap_err().contains("no such store"));
        let config = Config::from_lookup(only("cors_allow_origin", "https://app.example")).unwrap();
        assert_eq!(config.cors_allow_origin, "https://app.example");
        assert_eq!(Config::from_lookup(only("cors_allow_origin", "")).unwrap().cors_allow_origin, "");
        assert!(
            Config::from_lookup(only("cors_allow_origin", "app.example")).unwrap_err().contains("cors_allow_origin")
        );
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let defaults = Config::from_lookup(|name| {
            Ok(VARIABLES.iter().find(|(variable, _)| *variable == name).map(|(_, default)| default.to_string()))
        });
        assert_eq!(defaults, Ok(Config::default()));
    }
}
