//! A serde `Deserializer` over the YAML [`Node`] tree. Every error it returns carries the key
//! path (`lidar.cluster_cell_m`, `tracker.car.yield_to[0]`) and the node's line and column, so
//! unknown keys, wrong types and out-of-range integers anywhere in a file are located.

use super::Mark;
use super::yaml::{Node, NodeValue, Resolved};
use serde::de::{
    self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess,
    Visitor,
};
use std::fmt;

/// A deserialization error and where it happened.
#[derive(Debug)]
pub(crate) struct DeError {
    pub(crate) message: String,
    pub(crate) key: Option<String>,
    pub(crate) mark: Option<Mark>,
}

impl DeError {
    /// Attaches the innermost location; an error that already has one keeps it.
    fn at(mut self, key: &str, mark: Option<Mark>) -> Self {
        if self.key.is_none() {
            self.key = Some(key.to_string());
            self.mark = mark;
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self {
            message: msg.to_string(),
            key: None,
            mark: None,
        }
    }
}

/// Deserializes one node; `key` is its key path.
pub(crate) struct NodeDe<'a> {
    pub(crate) node: &'a Node,
    pub(crate) key: String,
}

fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

impl<'a> NodeDe<'a> {
    fn located<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| e.at(&self.key, self.node.mark))
    }
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.value {
            NodeValue::Scalar { .. } => match self.node.resolve() {
                Some(Resolved::Null) => visitor.visit_unit(),
                Some(Resolved::Bool(b)) => visitor.visit_bool(b),
                Some(Resolved::Int(v)) => visitor.visit_i64(v),
                Some(Resolved::UInt(v)) => visitor.visit_u64(v),
                Some(Resolved::Float(v)) => visitor.visit_f64(v),
                Some(Resolved::Str(s)) => visitor.visit_str(s),
                None => unreachable_scalar(),
            },
            NodeValue::Seq(items) => visitor.visit_seq(Seq {
                items: items.iter(),
                key: &self.key,
                index: 0,
            }),
            NodeValue::Map(entries) => visitor.visit_map(Map {
                entries: entries.iter(),
                key: &self.key,
                value: None,
            }),
        };
        self.located(r)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.node.resolve() == Some(Resolved::Null) {
            let r = visitor.visit_none();
            self.located(r)
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.as_str() {
            Some(text) => {
                let r = visitor.visit_str(text);
                self.located(r)
            }
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let r = match &self.node.value {
            NodeValue::Scalar { text, .. } => visitor.visit_enum(
                IntoDeserializer::<DeError>::into_deserializer(text.as_str()),
            ),
            NodeValue::Map(entries) if entries.len() == 1 => {
                let (k, v) = &entries[0];
                visitor.visit_enum(Enum {
                    variant: k,
                    value: v,
                    key: &self.key,
                })
            }
            _ => Err(de::Error::custom(
                "expected a variant name or a mapping with one key",
            )),
        };
        self.located(r)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct
    }
}

fn unreachable_scalar<T>() -> Result<T, DeError> {
    Err(de::Error::custom("internal: scalar without a value"))
}

struct Seq<'a, I> {
    items: I,
    key: &'a str,
    index: usize,
}

impl<'de, 'a, I: Iterator<Item = &'a Node>> SeqAccess<'de> for Seq<'a, I> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(node) = self.items.next() else {
            return Ok(None);
        };
        let key = format!("{}[{}]", self.key, self.index);
        self.index += 1;
        seed.deserialize(NodeDe { node, key }).map(Some)
    }
}

struct Map<'a, I> {
    entries: I,
    key: &'a str,
    value: Option<(&'a Node, String)>,
}

impl<'de, 'a, I: Iterator<Item = &'a (Node, Node)>> MapAccess<'de> for Map<'a, I> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((k, v)) = self.entries.next() else {
            return Ok(None);
        };
        let key = join(self.key, k.as_str().unwrap_or("?"));
        self.value = Some((v, key.clone()));
        seed.deserialize(NodeDe { node: k, key }).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some((node, key)) => seed.deserialize(NodeDe { node, key }),
            None => Err(de::Error::custom("internal: value without a key")),
        }
    }
}

struct Enum<'a> {
    variant: &'a Node,
    value: &'a Node,
    key: &'a str,
}

impl<'de, 'a> EnumAccess<'de> for Enum<'a> {
    type Error = DeError;
    type Variant = NodeDe<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, NodeDe<'a>), DeError> {
        let name = self.variant.as_str().unwrap_or("?");
        let key = join(self.key, name);
        let v = seed.deserialize(NodeDe {
            node: self.variant,
            key: key.clone(),
        })?;
        Ok((
            v,
            NodeDe {
                node: self.value,
                key,
            },
        ))
    }
}

impl<'de> VariantAccess<'de> for NodeDe<'_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        de::Deserialize::deserialize(self)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}
