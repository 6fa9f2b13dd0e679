//! Limits, read from the host's configuration variables.

use crate::core::json::DEPTH_MAX_LIMIT;

/// The limits a deployment can set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The largest request body accepted (`JSONSTORE_BODY_BYTES_MAX`, default 16 MiB).
    pub body_bytes_max: usize,
    /// The deepest nesting of arrays and objects in the document (`JSONSTORE_DEPTH_MAX`,
    /// default 64, at most 128).
    pub depth_max: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { body_bytes_max: 16 * 1024 * 1024, depth_max: 64 }
    }
}

impl Config {
    /// Reads the configuration from variables looked up by `lookup`; unset ones keep their
    /// defaults.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let mut config = Config::default();
        let number = |name: &str, default: usize, max: usize| match lookup(name) {
            None => Ok(default),
            Some(text) => match text.trim().parse::<usize>() {
                Ok(value) if (1..=max).contains(&value) => Ok(value),
                _ => Err(format!("{name} must be a whole number from 1 to {max}, not {text:?}")),
            },
        };
        config.body_bytes_max = number("JSONSTORE_BODY_BYTES_MAX", config.body_bytes_max, usize::MAX)?;
        config.depth_max = number("JSONSTORE_DEPTH_MAX", config.depth_max, DEPTH_MAX_LIMIT)?;
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
