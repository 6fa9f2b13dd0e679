//! Limits, read from the host's configuration variables.

use crate::core::json::DEPTH_MAX_LIMIT;
use crate::core::layout::LayoutConfig;

/// The limits a deployment can set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The largest request body accepted (`JSONSTORE_BODY_BYTES_MAX`, default 16 MiB).
    pub body_bytes_max: usize,
    /// The deepest nesting of arrays and objects in the document (`JSONSTORE_DEPTH_MAX`,
    /// default 64, at most 128).
    pub depth_max: usize,
    /// How the document is split into stored values; its chunk size, the longest value
    /// stored, is `JSONSTORE_CHUNK_BYTES_MAX` (default 1 MiB, at least 4 KiB).
    pub layout: LayoutConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config { body_bytes_max: 16 * 1024 * 1024, depth_max: 64, layout: LayoutConfig::default() }
    }
}

impl Config {
    /// Reads the configuration from variables looked up by `lookup`; unset ones keep their
    /// defaults.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let mut config = Config::default();
        let number = |name: &str, default: usize, min: usize, max: usize| match lookup(name) {
            None => Ok(default),
            Some(text) => match text.trim().parse::<usize>() {
                Ok(value) if (min..=max).contains(&value) => Ok(value),
                _ => Err(format!("{name} must be a whole number from {min} to {max}, not {text:?}")),
            },
        };
        config.body_bytes_max = number("JSONSTORE_BODY_BYTES_MAX", config.body_bytes_max, 1, usize::MAX)?;
        config.depth_max = number("JSONSTORE_DEPTH_MAX", config.depth_max, 1, DEPTH_MAX_LIMIT)?;
        let chunk = number("JSONSTORE_CHUNK_BYTES_MAX", config.layout.chunk_bytes_max, 4096, 1 << 30)?;
        config.layout = LayoutConfig::for_chunk(chunk);
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_variables() {
        let config = Config::from_lookup(|name| (name == "JSONSTORE_DEPTH_MAX").then(|| "8".into())).unwrap();
        assert_eq!(config, Config { depth_max: 8, ..Config::default() });
        assert!(Config::from_lookup(|_| Some("lots".into())).is_err());
        assert!(Config::from_lookup(|name| (name == "JSONSTORE_DEPTH_MAX").then(|| "129".into())).is_err());
    }
}
