//! Finds the first non-finite float anywhere in a serializable value, by key path: a blanket
//! check for specs with many numbers (the simulator's scenarios), next to the per-key checks of
//! [`super::Check`].

use serde::ser::{self, Serialize};
use std::fmt;

/// The key path of the first NaN or infinite float in `value` (`cameras[0].mount_xyz_m[2]`).
pub fn first_non_finite<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    let mut probe = Probe {
        path: Vec::new(),
        found: None,
    };
    // The probe's only error is "found"; the path is recorded before it is raised.
    let _ = value.serialize(&mut probe);
    probe.found
}

struct Probe {
    path: Vec<String>,
    found: Option<String>,
}

#[derive(Debug)]
struct Found;

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("non-finite value")
    }
}
impl std::error::Error for Found {}
impl ser::Error for Found {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Found
    }
}

impl Probe {
    fn float(&mut self, v: f64) -> Result<(), Found> {
        if v.is_finite() {
            return Ok(());
        }
        let mut s = String::new();
        for part in &self.path {
            if !s.is_empty() && !part.starts_with('[') {
                s.push('.');
            }
            s.push_str(part);
        }
        self.found = Some(s);
        Err(Found)
    }

    fn child<T: Serialize + ?Sized>(&mut self, part: String, v: &T) -> Result<(), Found> {
        self.path.push(part);
        let r = v.serialize(&mut *self);
        self.path.pop();
        r
    }
}

struct Compound<'a> {
    probe: &'a mut Probe,
    index: usize,
}

macro_rules! ok {
    ($($name:ident($t:ty)),*) => {$(fn $name(self, _: $t) -> Result<(), Found> { Ok(()) })*};
}

impl<'a> ser::Serializer for &'a mut Probe {
    type Ok = ();
    type Error = Found;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    ok!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str)
    );

    fn serialize_f32(self, v: f32) -> Result<(), Found> {
        self.float(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Found> {
        self.float(v)
    }
    fn serialize_none(self) -> Result<(), Found> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Found> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Found> {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), Found> {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), Found> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), Found> {
        self.child(variant.to_string(), v)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>, Found> {
        Ok(Compound {
            probe: self,
            index: 0,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, Found> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'a>, Found> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, Found> {
        self.serialize_seq(Some(len))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a>, Found> {
        self.serialize_seq(len)
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Compound<'a>, Found> {
        self.serialize_seq(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, Found> {
        self.serialize_seq(Some(len))
    }
}

impl Compound<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Found> {
        let part = format!("[{}]", self.index);
        self.index += 1;
        self.probe.child(part, v)
    }
}

macro_rules! seq_like {
    ($($tr:ident :: $m:ident),*) => {$(
        impl ser::$tr for Compound<'_> {
            type Ok = ();
            type Error = Found;
            fn $m<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Found> {
                self.element(v)
            }
            fn end(self) -> Result<(), Found> {
                Ok(())
            }
        }
    )*};
}
seq_like!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Found;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), Found> {
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Found> {
        self.element(v)
    }
    fn end(self) -> Result<(), Found> {
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Found;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Found> {
        self.probe.child(key.to_string(), v)
    }
    fn end(self) -> Result<(), Found> {
        Ok(())
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = Found;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Found> {
        self.probe.child(key.to_string(), v)
    }
    fn end(self) -> Result<(), Found> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Cam {
        mount_xyz_m: [f64; 3],
        size_m: Option<[f32; 2]>,
    }
    #[derive(serde::Serialize)]
    struct Spec {
        rate_hz: f64,
        cameras: Vec<Cam>,
    }

    #[test]
    fn finds_the_path_of_the_first_non_finite_float() {
        let mut s = Spec {
            rate_hz: 10.0,
            cameras: vec![Cam {
                mount_xyz_m: [0.0; 3],
                size_m: None,
            }],
        };
        assert_eq!(first_non_finite(&s), None);
        s.cameras[0].mount_xyz_m[2] = f64::NAN;
        assert_eq!(
            first_non_finite(&s).as_deref(),
            Some("cameras[0].mount_xyz_m[2]")
        );
        s.cameras[0].mount_xyz_m[2] = 0.0;
        s.cameras[0].size_m = Some([1.0, f32::INFINITY]);
        assert_eq!(
            first_non_finite(&s).as_deref(),
            Some("cameras[0].size_m[1]")
        );
    }
}
