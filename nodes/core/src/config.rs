//! YAML configuration loading.
//!
//! Config structs live in the crate that uses them, derive `Deserialize` with
//! `#[serde(default, deny_unknown_fields)]`, and implement `Default`; this module reads a file
//! into such a struct. An unknown key or a wrong type is an error naming the file, the key
//! path, line and column.

use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a config file could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The YAML is malformed, has an unknown key or a value of the wrong type.
    #[error("{origin}: {message}")]
    Invalid {
        /// The file (or a description of the string's origin).
        origin: String,
        /// serde_yaml's message: key path, what was wrong, line and column.
        message: String,
    },
}

/// Reads and parses a YAML file into `T`.
pub fn load_yaml_file<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_yaml(&text, &path.display().to_string())
}

/// Parses YAML text into `T`; `origin` names the source in errors. An empty document gives
/// the defaults.
pub fn parse_yaml<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, ConfigError> {
    let invalid = |e: serde_yaml::Error| ConfigError::Invalid {
        origin: origin.to_string(),
        message: e.to_string(),
    };
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim_start().starts_with('#') || l.trim().is_empty())
    {
        return serde_yaml::from_str("{}").map_err(invalid);
    }
    serde_yaml::from_str(text).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Inner {
        range_m: f64,
    }
    impl Default for Inner {
        fn default() -> Self {
            Self { range_m: 50.0 }
        }
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Outer {
        lidar: Inner,
        name: String,
    }

    #[test]
    fn defaults_fill_missing_keys() {
        let c: Outer = parse_yaml("name: a\n", "t.yaml").unwrap();
        assert_eq!(c.lidar.range_m, 50.0);
        let c: Outer = parse_yaml("# only a comment\n", "t.yaml").unwrap();
        assert_eq!(c, Outer::default());
    }

    #[test]
    fn unknown_key_is_named_with_the_file() {
        let err = parse_yaml::<Outer>("lidar:\n  range_mm: 3\n", "cfg.yaml").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("cfg.yaml: "), "{msg}");
        assert!(msg.contains("range_mm"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = parse_yaml::<Outer>("lidar:\n  range_m: far\n", "cfg.yaml").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("lidar.range_m") && msg.contains("invalid type"),
            "{msg}"
        );
    }

    #[test]
    fn missing_file_is_named() {
        let err = load_yaml_file::<Outer>(Path::new("/no/such/file.yaml")).unwrap_err();
        assert!(err.to_string().contains("/no/such/file.yaml"));
    }
}
