//! YAML configuration loading: one loader for every config file (the pipeline config, its
//! presets, scenario files, model cards).
//!
//! Config structs live in the crate that uses them, derive `Deserialize` with
//! `#[serde(default, deny_unknown_fields)]`, implement `Default`, and check their values with
//! [`Validate`] (one [`Check`] helper for all sections). This module parses a file into a tree
//! whose nodes keep their line and column ([`YamlDoc`]), deserializes that tree, and locates
//! what is wrong: an unknown key, a wrong type or a value out of range is an error naming the
//! file, the key path, line and column (`cfg.yaml:3:5: key `lidar.cluster_cell_m`: ...`).
//!
//! A file may also be laid over a base value ([`YamlDoc::deserialize_over`]): keys it names
//! replace the base's, everything else keeps the base's value (presets). Input is bounded:
//! at most [`MAX_CONFIG_BYTES`] and [`MAX_DEPTH`] levels of nesting.

mod check;
mod de;
mod finite;
mod yaml;

pub use check::{Check, Issue, Validate};
pub use finite::first_non_finite;
pub use yaml::{MAX_CONFIG_BYTES, MAX_DEPTH, Node, NodeValue};

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::Read;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A position in a file: line and column, both from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl Mark {
    fn from_marker(m: &granit_parser::Marker) -> Self {
        Self {
            line: m.line(),
            column: m.col() + 1,
        }
    }
}

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
    /// The file is larger than any config needs.
    #[error("{origin}: {bytes} bytes or more, a config file may have at most {limit}")]
    TooLarge {
        /// The file.
        origin: String,
        /// Its size (or the bytes read before giving up).
        bytes: usize,
        /// [`MAX_CONFIG_BYTES`].
        limit: usize,
    },
    /// Malformed YAML, an unknown key, a value of the wrong type or out of range.
    #[error("{}", describe(origin, key, mark, message))]
    Invalid {
        /// The file (or a description of the text's origin).
        origin: String,
        /// Key path of the offending value (`lidar.cluster_cell_m`); empty for syntax errors.
        key: String,
        /// Where it is in the file; `None` when the value did not come from the file.
        mark: Option<Mark>,
        /// What is wrong.
        message: String,
    },
}

fn describe(origin: &str, key: &str, mark: &Option<Mark>, message: &str) -> String {
    let place = match mark {
        Some(m) => format!("{origin}:{}:{}", m.line, m.column),
        None => origin.to_string(),
    };
    if key.is_empty() {
        format!("{place}: {message}")
    } else {
        format!("{place}: key `{key}`: {message}")
    }
}

/// A parsed YAML file: its tree, with positions, and its origin for error messages.
#[derive(Clone, Debug)]
pub struct YamlDoc {
    origin: String,
    root: Option<Node>,
}

impl YamlDoc {
    /// Reads and parses a file, refusing files over [`MAX_CONFIG_BYTES`] without reading on.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let io = |source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut text = String::new();
        file.take(MAX_CONFIG_BYTES as u64 + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses YAML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            origin: origin.to_string(),
            root: yaml::parse_tree(text, origin)?,
        })
    }

    /// The file (or the text's origin).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The root node; `None` for an empty document.
    pub fn root(&self) -> Option<&Node> {
        self.root.as_ref()
    }

    /// Accepts the ROS 2 parameter-file form, `<node or /**>: {ros__parameters: {...}}`:
    /// the root becomes the parameters (nodes keep their positions). Returns whether the file
    /// was in that form; a plain file is left as it is.
    pub fn unwrap_ros_parameters(&mut self) -> Result<bool, ConfigError> {
        let Some(Node {
            value: NodeValue::Map(entries),
            ..
        }) = &self.root
        else {
            return Ok(false);
        };
        let is_ros = entries
            .iter()
            .any(|(_, v)| v.get("ros__parameters").is_some());
        if !is_ros {
            return Ok(false);
        }
        if entries.len() != 1 {
            let mark = entries.get(1).and_then(|(k, _)| k.mark);
            return Err(self.invalid(
                "",
                mark,
                "a ROS 2 parameter file for fusionrt has one node entry (`/**:` or the node's name)"
                    .into(),
            ));
        }
        let mut node = match self.root.take().map(|n| n.value) {
            Some(NodeValue::Map(mut entries)) => entries.remove(0).1,
            _ => return Ok(false),
        };
        if let NodeValue::Map(entries) = &node.value
            && let Some((k, _)) = entries
                .iter()
                .find(|(k, _)| k.as_str() != Some("ros__parameters"))
        {
            return Err(self.invalid(
                k.as_str().unwrap_or("?"),
                k.mark,
                "only `ros__parameters` may sit under the node name".into(),
            ));
        }
        self.root = node.remove("ros__parameters").map(|(_, v)| v);
        if self.root.as_ref().and_then(Node::resolve) == Some(yaml::Resolved::Null) {
            self.root = None;
        }
        Ok(true)
    }

    /// Removes a top-level scalar key (e.g. `preset`) and returns its text and position.
    pub fn take_top_level(
        &mut self,
        key: &str,
    ) -> Result<Option<(String, Option<Mark>)>, ConfigError> {
        let Some(root) = self.root.as_mut() else {
            return Ok(None);
        };
        let Some((k, v)) = root.remove(key) else {
            return Ok(None);
        };
        match v.as_str() {
            Some(text) => Ok(Some((text.to_string(), v.mark))),
            None => Err(self.invalid(key, k.mark, "expected a name".into())),
        }
    }

    /// Deserializes the whole document; missing keys take `T`'s serde defaults.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let empty = Node {
            value: NodeValue::Map(Vec::new()),
            mark: None,
        };
        self.deserialize_node(self.root.as_ref().unwrap_or(&empty))
    }

    /// Deserializes the document laid over `base`: the keys the file names replace the base's
    /// (mappings merge key by key, sequences and scalars are replaced whole), all others keep
    /// the base's values. Unknown keys and wrong types are located in the file.
    pub fn deserialize_over<T: Serialize + DeserializeOwned>(
        &self,
        base: &T,
    ) -> Result<T, ConfigError> {
        let json = serde_json::to_value(base).map_err(|e| {
            self.invalid(
                "",
                None,
                format!("internal: cannot represent the base config: {e}"),
            )
        })?;
        let mut tree = Node::from_json(&json);
        if let Some(root) = &self.root {
            tree.overlay(root.clone());
        }
        self.deserialize_node(&tree)
    }

    fn deserialize_node<T: DeserializeOwned>(&self, node: &Node) -> Result<T, ConfigError> {
        T::deserialize(de::NodeDe {
            node,
            key: String::new(),
        })
        .map_err(|e| self.invalid(&e.key.unwrap_or_default(), e.mark, e.message))
    }

    /// Where the key path (`lidar.roi_min_m[2]`) is in the file: the position of its deepest
    /// part the file names, `None` when the file does not name it.
    pub fn locate(&self, key: &str) -> Option<Mark> {
        let mut node = self.root.as_ref()?;
        let mut found = None;
        for part in key.split('.') {
            let (name, indices) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            found = Some(node.key_node(name)?.mark);
            node = node.get(name)?;
            for index in indices
                .split(['[', ']'])
                .filter(|s| !s.is_empty())
                .filter_map(|s| s.parse::<usize>().ok())
            {
                let NodeValue::Seq(items) = &node.value else {
                    return found.flatten();
                };
                node = items.get(index)?;
                found = Some(node.mark);
            }
        }
        found.flatten()
    }

    /// Validates a value read from this document: the first issue becomes an error at its
    /// key's position in the file.
    pub fn check<T: Validate + ?Sized>(&self, value: &T) -> Result<(), ConfigError> {
        let mut c = Check::new();
        value.validate(&mut c);
        match c.into_first() {
            None => Ok(()),
            Some(issue) => {
                let mark = self.locate(&issue.key);
                Err(self.invalid(&issue.key, mark, issue.message))
            }
        }
    }

    fn invalid(&self, key: &str, mark: Option<Mark>, message: String) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin.clone(),
            key: key.to_string(),
            mark,
            message,
        }
    }
}

/// Validates a value that did not come from a file (a preset, a value built in code); the
/// error names `origin` and the key path.
pub fn validate<T: Validate + ?Sized>(value: &T, origin: &str) -> Result<(), ConfigError> {
    YamlDoc {
        origin: origin.to_string(),
        root: None,
    }
    .check(value)
}

/// Reads and parses a YAML file into `T` (no value checks: see [`load_validated`]). The file
/// may be plain or in the ROS 2 parameter-file form.
pub fn load_yaml_file<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let mut doc = YamlDoc::read(path)?;
    doc.unwrap_ros_parameters()?;
    doc.deserialize()
}

/// Reads a YAML file into `T` and checks every value; errors name file, key, line and column.
/// The file may be plain or in the ROS 2 parameter-file form.
pub fn load_validated<T: DeserializeOwned + Validate>(path: &Path) -> Result<T, ConfigError> {
    let mut doc = YamlDoc::read(path)?;
    doc.unwrap_ros_parameters()?;
    let value: T = doc.deserialize()?;
    doc.check(&value)?;
    Ok(value)
}

/// Parses YAML text into `T`; `origin` names the source in errors. An empty document gives
/// the defaults; the text may be plain or in the ROS 2 parameter-file form.
pub fn parse_yaml<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, ConfigError> {
    let mut doc = YamlDoc::parse(text, origin)?;
    doc.unwrap_ros_parameters()?;
    doc.deserialize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Inner {
        range_m: f64,
        sectors: u32,
        corner_m: [f32; 3],
        mode: Mode,
    }
    impl Default for Inner {
        fn default() -> Self {
            Self {
                range_m: 50.0,
                sectors: 360,
                corner_m: [1.0, 2.0, 3.0],
                mode: Mode::Fast,
            }
        }
    }
    impl Validate for Inner {
        fn validate(&self, c: &mut Check) {
            c.positive("range_m", self.range_m, 1000.0);
            c.count("sectors", self.sectors, 8, 4096);
            for (i, v) in self.corner_m.iter().enumerate() {
                c.range(&format!("corner_m[{i}]"), *v, -100.0, 100.0);
            }
        }
    }

    #[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        Fast,
        Slow,
    }

    #[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Outer {
        lidar: Inner,
        name: String,
        path: Option<PathBuf>,
    }
    impl Validate for Outer {
        fn validate(&self, c: &mut Check) {
            c.section("lidar", &self.lidar);
        }
    }

    #[test]
    fn defaults_fill_missing_keys() {
        let c: Outer = parse_yaml("name: a\n", "t.yaml").unwrap();
        assert_eq!(c.lidar.range_m, 50.0);
        let c: Outer = parse_yaml("# only a comment\n", "t.yaml").unwrap();
        assert_eq!(c, Outer::default());
        let c: Outer = parse_yaml("", "t.yaml").unwrap();
        assert_eq!(c, Outer::default());
        let c: Outer =
            parse_yaml("lidar: {mode: slow, corner_m: [0, 0, .5]}\npath: ~\n", "t").unwrap();
        assert_eq!(c.lidar.mode, Mode::Slow);
        assert_eq!(c.lidar.corner_m, [0.0, 0.0, 0.5]);
        assert_eq!(c.path, None);
    }

    #[test]
    fn unknown_key_is_named_with_file_line_and_column() {
        let err = parse_yaml::<Outer>("lidar:\n  range_mm: 3\n", "cfg.yaml").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("cfg.yaml:2:3: key `lidar.range_mm`: "),
            "{msg}"
        );
        let err = parse_yaml::<Outer>("name: a\nlidarr: {}\n", "cfg.yaml").unwrap_err();
        assert!(
            err.to_string().starts_with("cfg.yaml:2:1: key `lidarr`"),
            "{err}"
        );
    }

    #[test]
    fn wrong_type_and_overflow_are_named() {
        let err = parse_yaml::<Outer>("lidar:\n  range_m: far\n", "cfg.yaml").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("cfg.yaml:2:12: key `lidar.range_m`"),
            "{msg}"
        );
        assert!(msg.contains("invalid type"), "{msg}");
        let err = parse_yaml::<Outer>("lidar: {sectors: 5000000000}\n", "c").unwrap_err();
        assert!(err.to_string().contains("lidar.sectors"), "{err}");
        let err = parse_yaml::<Outer>("lidar: {mode: warp}\n", "c").unwrap_err();
        assert!(err.to_string().contains("unknown variant `warp`"), "{err}");
    }

    #[test]
    fn values_are_checked_at_their_position() {
        let doc = YamlDoc::parse("name: a\nlidar:\n  sectors: 0\n", "cfg.yaml").unwrap();
        let c: Outer = doc.deserialize().unwrap();
        let err = doc.check(&c).unwrap_err().to_string();
        assert!(
            err.starts_with("cfg.yaml:3:3: key `lidar.sectors`: 0 is not in 8..=4096"),
            "{err}"
        );
        let doc = YamlDoc::parse("lidar:\n  corner_m: [0, 0, .nan]\n", "c.yaml").unwrap();
        let err = doc.check(&doc.deserialize::<Outer>().unwrap()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("c.yaml:2:20: key `lidar.corner_m[2]`: NaN"),
            "{err}"
        );
        assert!(validate(&Outer::default(), "defaults").is_ok());
    }

    #[test]
    fn a_file_over_a_base_changes_only_its_keys() {
        let base = Outer {
            lidar: Inner {
                range_m: 70.0,
                mode: Mode::Slow,
                ..Inner::default()
            },
            name: "base".into(),
            path: Some("/x".into()),
        };
        let doc = YamlDoc::parse("lidar:\n  sectors: 90\n", "p.yaml").unwrap();
        let c: Outer = doc.deserialize_over(&base).unwrap();
        assert_eq!(c.lidar.sectors, 90);
        assert_eq!(c.lidar.range_m, 70.0);
        assert_eq!(c.lidar.mode, Mode::Slow);
        assert_eq!(c.name, "base");
        assert_eq!(c.path, Some("/x".into()));
        let err = doc.deserialize_over::<Outer>(&base);
        assert!(err.is_ok());
        let doc = YamlDoc::parse("lidar:\n  sector: 90\n", "p.yaml").unwrap();
        let err = doc.deserialize_over(&base).unwrap_err().to_string();
        assert!(err.starts_with("p.yaml:2:3: key `lidar.sector`"), "{err}");
    }

    #[test]
    fn ros_parameter_form_is_unwrapped() {
        for head in ["/**", "fusionrt"] {
            let text =
                format!("{head}:\n  ros__parameters:\n    name: r\n    lidar:\n      sectors: 9\n");
            let mut doc = YamlDoc::parse(&text, "r.yaml").unwrap();
            assert!(doc.unwrap_ros_parameters().unwrap());
            let c: Outer = doc.deserialize().unwrap();
            assert_eq!((c.name.as_str(), c.lidar.sectors), ("r", 9));
            assert_eq!(
                doc.locate("lidar.sectors"),
                Some(Mark { line: 5, column: 7 })
            );
        }
        let mut doc = YamlDoc::parse("name: plain\n", "p.yaml").unwrap();
        assert!(!doc.unwrap_ros_parameters().unwrap());
        let mut doc =
            YamlDoc::parse("/**:\n  ros__parameters: {}\n  extra: 1\n", "r.yaml").unwrap();
        let err = doc.unwrap_ros_parameters().unwrap_err().to_string();
        assert!(err.starts_with("r.yaml:3:3: key `extra`"), "{err}");
    }

    #[test]
    fn missing_and_oversized_files_are_named() {
        let err = load_yaml_file::<Outer>(Path::new("/no/such/file.yaml")).unwrap_err();
        assert!(err.to_string().contains("/no/such/file.yaml"));
        let err = load_yaml_file::<Outer>(Path::new("/dev/zero")).unwrap_err();
        assert!(matches!(err, ConfigError::TooLarge { .. }), "{err}");
    }
}
