//! The YAML document tree: every node keeps its line and column, so that an error found after
//! parsing (an unknown key, a wrong type, a value out of range) can still say where it is.
//!
//! Built from the events of `granit-parser` (a maintained, panic-free, `unsafe`-free YAML 1.2
//! parser). Input is bounded before and while parsing: at most [`MAX_CONFIG_BYTES`] of text and
//! [`MAX_DEPTH`] nested collections, so a hostile file is rejected in milliseconds. Aliases are
//! refused (no config needs them, and they are the billion-laughs vector).

use super::{ConfigError, Mark};
use granit_parser::{Event, Parser, ScalarStyle};

/// Largest config file accepted, bytes. The shipped full pipeline config is about 10 KiB.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;
/// Deepest nesting of mappings and sequences accepted. The pipeline config needs 6.
pub const MAX_DEPTH: usize = 32;

/// One YAML node and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The content.
    pub value: NodeValue,
    /// Where the node starts in the file; `None` for nodes that came from a preset.
    pub mark: Option<Mark>,
}

/// The content of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub enum NodeValue {
    /// A scalar's text; `plain` is false for quoted and block scalars (always strings).
    Scalar {
        /// The text after escape processing.
        text: String,
        /// Unquoted: resolved by the YAML 1.2 core schema (null, bool, int, float, string).
        plain: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order; keys are scalars.
    Map(Vec<(Node, Node)>),
}

/// A plain scalar resolved by the YAML 1.2 core schema.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Resolved<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(&'a str),
}

impl Node {
    /// A plain scalar without a position (preset values).
    pub(crate) fn scalar(text: String, plain: bool) -> Self {
        Self {
            value: NodeValue::Scalar { text, plain },
            mark: None,
        }
    }

    /// The scalar's text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The value under `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            NodeValue::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key node for `key`, if this is a mapping that has it.
    pub(crate) fn key_node(&self, key: &str) -> Option<&Node> {
        match &self.value {
            NodeValue::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, _)| k),
            _ => None,
        }
    }

    /// Removes `key` from a mapping and returns its key and value nodes.
    pub(crate) fn remove(&mut self, key: &str) -> Option<(Node, Node)> {
        match &mut self.value {
            NodeValue::Map(entries) => {
                let i = entries.iter().position(|(k, _)| k.as_str() == Some(key))?;
                Some(entries.remove(i))
            }
            _ => None,
        }
    }

    /// The scalar resolved by the core schema: quoted scalars are strings.
    pub(crate) fn resolve(&self) -> Option<Resolved<'_>> {
        match &self.value {
            NodeValue::Scalar { text, plain: true } => Some(resolve_plain(text)),
            NodeValue::Scalar { text, plain: false } => Some(Resolved::Str(text)),
            _ => None,
        }
    }

    /// `over` on top of `self`: mappings merge key by key (recursively), anything else in
    /// `over` replaces what is here.
    pub(crate) fn overlay(&mut self, over: Node) {
        match (&mut self.value, over.value) {
            (NodeValue::Map(base), NodeValue::Map(entries)) => {
                for (k, v) in entries {
                    match base.iter_mut().find(|(bk, _)| bk.as_str() == k.as_str()) {
                        Some((bk, bv)) => {
                            bk.mark = k.mark;
                            bv.overlay(v);
                        }
                        None => base.push((k, v)),
                    }
                }
                self.mark = over.mark;
            }
            (_, value) => {
                self.value = value;
                self.mark = over.mark;
            }
        }
    }

    /// The node of a JSON value (presets are serialized through `serde_json`; they hold only
    /// finite numbers).
    pub(crate) fn from_json(v: &serde_json::Value) -> Self {
        use serde_json::Value as J;
        match v {
            J::Null => Self::scalar("null".into(), true),
            J::Bool(b) => Self::scalar(b.to_string(), true),
            J::Number(n) => Self::scalar(n.to_string(), true),
            J::String(s) => Self::scalar(s.clone(), false),
            J::Array(items) => Self {
                value: NodeValue::Seq(items.iter().map(Self::from_json).collect()),
                mark: None,
            },
            J::Object(map) => Self {
                value: NodeValue::Map(
                    map.iter()
                        .map(|(k, v)| (Self::scalar(k.clone(), false), Self::from_json(v)))
                        .collect(),
                ),
                mark: None,
            },
        }
    }
}

fn resolve_plain(text: &str) -> Resolved<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    let (sign, body) = match text.as_bytes().first() {
        Some(b'-') => (-1.0, &text[1..]),
        Some(b'+') => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return Resolved::Float(sign * f64::INFINITY);
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(v) = u64::from_str_radix(hex, 16)
    {
        return Resolved::UInt(v);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(v) = u64::from_str_radix(oct, 8)
    {
        return Resolved::UInt(v);
    }
    let digits = body.bytes().filter(u8::is_ascii_digit).count();
    if digits == 0 {
        return Resolved::Str(text);
    }
    if body.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(v) = text.parse::<i64>() {
            return Resolved::Int(v);
        }
        if let Ok(v) = text.parse::<u64>() {
            return Resolved::UInt(v);
        }
    }
    let float_chars = body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if float_chars && let Ok(v) = text.parse::<f64>() {
        return Resolved::Float(v);
    }
    Resolved::Str(text)
}

enum Frame {
    Seq(Vec<Node>, Option<Mark>),
    Map(Vec<(Node, Node)>, Option<Node>, Option<Mark>),
}

/// Parses YAML text into its tree; `None` for an empty document (only comments or nothing).
pub(crate) fn parse_tree(text: &str, origin: &str) -> Result<Option<Node>, ConfigError> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            origin: origin.to_string(),
            bytes: text.len(),
            limit: MAX_CONFIG_BYTES,
        });
    }
    let invalid = |mark: Option<Mark>, message: String| ConfigError::Invalid {
        origin: origin.to_string(),
        key: String::new(),
        mark,
        message,
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| {
            invalid(
                Some(Mark::from_marker(e.marker())),
                format!("YAML syntax: {}", e.info()),
            )
        })?;
        let mark = Some(Mark::from_marker(&span.start));
        let node = match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(invalid(mark, "more than one YAML document".into()));
                }
                continue;
            }
            Event::Alias(_) | Event::UnresolvedAlias(_) | Event::Anchor(..) => {
                return Err(invalid(
                    mark,
                    "anchors and aliases are not supported in config files".into(),
                ));
            }
            Event::Scalar(text, style, ..) => Node {
                value: NodeValue::Scalar {
                    text: text.into_owned(),
                    plain: style == ScalarStyle::Plain,
                },
                mark,
            },
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(invalid(
                        mark,
                        format!("nested deeper than {MAX_DEPTH} levels"),
                    ));
                }
                stack.push(match event {
                    Event::SequenceStart(..) => Frame::Seq(Vec::new(), mark),
                    _ => Frame::Map(Vec::new(), None, mark),
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(items, mark)) => Node {
                    value: NodeValue::Seq(items),
                    mark,
                },
                Some(Frame::Map(entries, _, mark)) => Node {
                    value: NodeValue::Map(entries),
                    mark,
                },
                None => continue,
            },
            _ => continue,
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq(items, _)) => items.push(node),
            Some(Frame::Map(entries, pending, _)) => match pending.take() {
                Some(key) => entries.push((key, node)),
                None => {
                    let Some(name) = node.as_str() else {
                        return Err(invalid(node.mark, "mapping keys must be scalars".into()));
                    };
                    if entries.iter().any(|(k, _)| k.as_str() == Some(name)) {
                        return Err(invalid(node.mark, format!("duplicate key `{name}`")));
                    }
                    *pending = Some(node);
                }
            },
        }
    }
    // An empty document is a null scalar: no content.
    Ok(root.filter(|n| n.resolve() != Some(Resolved::Null)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_resolve_by_the_core_schema() {
        assert_eq!(resolve_plain("~"), Resolved::Null);
        assert_eq!(resolve_plain("true"), Resolved::Bool(true));
        assert_eq!(resolve_plain("-12"), Resolved::Int(-12));
        assert_eq!(resolve_plain("4000000000"), Resolved::Int(4_000_000_000));
        assert_eq!(resolve_plain("1e20"), Resolved::Float(1e20));
        assert_eq!(resolve_plain("-.inf"), Resolved::Float(f64::NEG_INFINITY));
        assert!(matches!(resolve_plain(".nan"), Resolved::Float(f) if f.is_nan()));
        assert_eq!(resolve_plain("nan"), Resolved::Str("nan"));
        assert_eq!(resolve_plain("inf"), Resolved::Str("inf"));
        assert_eq!(resolve_plain("giou3d"), Resolved::Str("giou3d"));
        assert_eq!(resolve_plain("1.5.2"), Resolved::Str("1.5.2"));
    }

    #[test]
    fn nodes_keep_their_positions() {
        let root = parse_tree("a:\n  b: 1\n  c: [1, 2]\n", "t")
            .unwrap()
            .unwrap();
        let b = root.get("a").and_then(|a| a.key_node("b")).unwrap();
        assert_eq!(b.mark, Some(Mark { line: 2, column: 3 }));
        assert!(parse_tree("# nothing\n", "t").unwrap().is_none());
        assert!(parse_tree("", "t").unwrap().is_none());
    }

    #[test]
    fn hostile_input_is_rejected_fast() {
        let deep = "[".repeat(100_000);
        let t = std::time::Instant::now();
        let err = parse_tree(&deep, "deep.yaml").unwrap_err().to_string();
        assert!(err.starts_with("deep.yaml:1:"), "{err}");
        let mut block = String::new();
        for i in 0..400 {
            block.push_str(&" ".repeat(i));
            block.push_str("k:\n");
        }
        let err = parse_tree(&block, "deep.yaml").unwrap_err().to_string();
        assert!(err.contains("nested deeper than"), "{err}");
        assert!(t.elapsed().as_secs_f64() < 2.0, "{:?}", t.elapsed());
        let big = "#".repeat(MAX_CONFIG_BYTES + 1);
        assert!(matches!(
            parse_tree(&big, "big.yaml"),
            Err(ConfigError::TooLarge { .. })
        ));
        let err = parse_tree("a: &x 1\nb: *x\n", "t").unwrap_err().to_string();
        assert!(err.contains("aliases"), "{err}");
        let err = parse_tree("a: 1\na: 2\n", "t").unwrap_err().to_string();
        assert!(
            err.contains("duplicate key `a`") && err.contains(":2:1"),
            "{err}"
        );
    }
}
