//! A small CDR (XCDR1, as ROS 2's Fast DDS and Cyclone write it) reader and writer.
//!
//! A ROS 2 payload starts with a 4-byte encapsulation header: `00 00` (big-endian) or `00 01`
//! (little-endian) then two option bytes. Primitives are aligned to their size (8 at most),
//! counted from the end of that header. Strings are a `u32` length including the trailing NUL,
//! then the bytes; sequences are a `u32` count then the elements.
//!
//! The reader borrows the payload and never allocates more than the payload can hold: every
//! length is checked against the bytes left before anything is read or reserved, so a claimed
//! size beyond the data is a [`CdrError`], never a huge allocation or a panic.

use thiserror::Error;

/// Why a CDR payload could not be read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CdrError {
    /// The payload ended before a field.
    #[error("field `{field}`: needs {needed} bytes at offset {offset}, payload has {len}")]
    Short {
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: u64,
        /// Where it starts (from the start of the payload, header included).
        offset: usize,
        /// Payload length.
        len: usize,
    },
    /// The encapsulation header is not plain CDR.
    #[error("unsupported CDR encapsulation {0:02x} {1:02x} (expected 00 00 or 00 01)")]
    Encapsulation(u8, u8),
    /// A string without its NUL, or not UTF-8.
    #[error("field `{0}`: invalid string")]
    BadString(&'static str),
    /// A value outside what the message allows.
    #[error("field `{field}`: {reason}")]
    Invalid {
        /// The field being read.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Reads CDR values in order from a borrowed payload.
#[derive(Debug)]
pub struct CdrReader<'a> {
    data: &'a [u8],
    pos: usize,
    little_endian: bool,
}

macro_rules! read_prim {
    ($name:ident, $t:ty) => {
        #[doc = concat!("Reads an aligned `", stringify!($t), "`.")]
        pub fn $name(&mut self, field: &'static str) -> Result<$t, CdrError> {
            const N: usize = std::mem::size_of::<$t>();
            self.align(N, field)?;
            let bytes = self.take(N, field)?;
            let mut b = [0u8; N];
            b.copy_from_slice(bytes);
            Ok(if self.little_endian {
                <$t>::from_le_bytes(b)
            } else {
                <$t>::from_be_bytes(b)
            })
        }
    };
}

impl<'a> CdrReader<'a> {
    /// Starts reading after the 4-byte encapsulation header, which sets the byte order.
    pub fn new(data: &'a [u8]) -> Result<Self, CdrError> {
        if data.len() < 4 {
            return Err(CdrError::Short {
                field: "encapsulation header",
                needed: 4,
                offset: 0,
                len: data.len(),
            });
        }
        let little_endian = match (data[0], data[1]) {
            (0, 0) => false,
            (0, 1) => true,
            (a, b) => return Err(CdrError::Encapsulation(a, b)),
        };
        Ok(Self {
            data,
            pos: 4,
            little_endian,
        })
    }

    /// True when the payload is little-endian.
    pub fn is_little_endian(&self) -> bool {
        self.little_endian
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn short(&self, field: &'static str, needed: u64) -> CdrError {
        CdrError::Short {
            field,
            needed,
            offset: self.pos,
            len: self.data.len(),
        }
    }

    fn align(&mut self, n: usize, field: &'static str) -> Result<(), CdrError> {
        let rel = self.pos - 4;
        let pad = (n - rel % n) % n;
        if pad > self.remaining() {
            return Err(self.short(field, pad as u64));
        }
        self.pos += pad;
        Ok(())
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], CdrError> {
        if n > self.remaining() {
            return Err(self.short(field, n as u64));
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    read_prim!(u16, u16);
    read_prim!(i16, i16);
    read_prim!(u32, u32);
    read_prim!(i32, i32);
    read_prim!(u64, u64);
    read_prim!(i64, i64);
    read_prim!(f32, f32);
    read_prim!(f64, f64);

    /// Reads a `uint8`.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, CdrError> {
        Ok(self.take(1, field)?[0])
    }

    /// Reads a `bool` (any non-zero byte is true).
    pub fn bool(&mut self, field: &'static str) -> Result<bool, CdrError> {
        Ok(self.u8(field)? != 0)
    }

    /// Reads a string (length with NUL, bytes, NUL).
    pub fn string(&mut self, field: &'static str) -> Result<String, CdrError> {
        let len = self.u32(field)? as usize;
        if len == 0 {
            // Some writers send an empty string as length 0.
            return Ok(String::new());
        }
        let bytes = self.take(len, field)?;
        let (text, nul) = bytes.split_at(len - 1);
        if nul != [0] {
            return Err(CdrError::BadString(field));
        }
        std::str::from_utf8(text)
            .map(str::to_string)
            .map_err(|_| CdrError::BadString(field))
    }

    /// Reads a sequence length and checks that `count` elements of at least `min_elem_bytes`
    /// each can still fit in the payload.
    pub fn seq_len(
        &mut self,
        field: &'static str,
        min_elem_bytes: usize,
    ) -> Result<usize, CdrError> {
        let count = self.u32(field)? as usize;
        let needed = count as u64 * min_elem_bytes.max(1) as u64;
        if needed > self.remaining() as u64 {
            return Err(self.short(field, needed));
        }
        Ok(count)
    }

    /// Reads a `uint8[]` without copying.
    pub fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], CdrError> {
        let len = self.seq_len(field, 1)?;
        self.take(len, field)
    }

    /// Reads `N` `float64` values (a fixed-size array).
    pub fn f64_array<const N: usize>(&mut self, field: &'static str) -> Result<[f64; N], CdrError> {
        let mut out = [0.0; N];
        for v in &mut out {
            *v = self.f64(field)?;
        }
        Ok(out)
    }

    /// Reads a `float64[]`.
    pub fn f64_seq(&mut self, field: &'static str) -> Result<Vec<f64>, CdrError> {
        let n = self.seq_len(field, 8)?;
        (0..n).map(|_| self.f64(field)).collect()
    }
}

/// Writes CDR values in order into a growing buffer, little-endian.
#[derive(Debug, Clone)]
pub struct CdrWriter {
    buf: Vec<u8>,
}

impl Default for CdrWriter {
    fn default() -> Self {
        Self::new()
    }
}

macro_rules! write_prim {
    ($name:ident, $t:ty) => {
        #[doc = concat!("Writes an aligned `", stringify!($t), "`.")]
        pub fn $name(&mut self, v: $t) {
            self.align(std::mem::size_of::<$t>());
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
    };
}

impl CdrWriter {
    /// A writer holding the little-endian encapsulation header.
    pub fn new() -> Self {
        Self::with_capacity(64)
    }

    /// Like [`CdrWriter::new`], with room for `bytes` reserved.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes + 4);
        buf.extend_from_slice(&[0, 1, 0, 0]);
        Self { buf }
    }

    fn align(&mut self, n: usize) {
        let rel = self.buf.len() - 4;
        let pad = (n - rel % n) % n;
        self.buf.resize(self.buf.len() + pad, 0);
    }

    write_prim!(u16, u16);
    write_prim!(i16, i16);
    write_prim!(u32, u32);
    write_prim!(i32, i32);
    write_prim!(u64, u64);
    write_prim!(i64, i64);
    write_prim!(f32, f32);
    write_prim!(f64, f64);

    /// Writes a `uint8`.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Writes a `bool`.
    pub fn bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }

    /// Writes a sequence length. Lengths above `u32::MAX` cannot be encoded; callers keep
    /// messages far below that.
    pub fn seq_len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// Writes a string with its NUL.
    pub fn string(&mut self, s: &str) {
        self.seq_len(s.len() + 1);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    /// Writes a `uint8[]`.
    pub fn bytes(&mut self, b: &[u8]) {
        self.seq_len(b.len());
        self.buf.extend_from_slice(b);
    }

    /// Writes a fixed-size `float64` array.
    pub fn f64_array(&mut self, values: &[f64]) {
        for &v in values {
            self.f64(v);
        }
    }

    /// Writes a `float64[]`.
    pub fn f64_seq(&mut self, values: &[f64]) {
        self.seq_len(values.len());
        self.f64_array(values);
    }

    /// The payload, header included.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_strings_and_sequences_round_trip_with_alignment() {
        let mut w = CdrWriter::new();
        w.u8(7);
        w.f64(1.5);
        w.string("base_link");
        w.u16(3);
        w.bytes(&[1, 2, 3]);
        w.i32(-5);
        w.f64_seq(&[0.25, -2.0]);
        let data = w.finish();
        // u8 at 0, pad to 8, f64 at 8..16.
        assert_eq!(&data[4..5], &[7]);
        assert_eq!(&data[5..12], &[0; 7]);
        let mut r = CdrReader::new(&data).unwrap();
        assert!(r.is_little_endian());
        assert_eq!(r.u8("a").unwrap(), 7);
        assert_eq!(r.f64("b").unwrap(), 1.5);
        assert_eq!(r.string("c").unwrap(), "base_link");
        assert_eq!(r.u16("d").unwrap(), 3);
        assert_eq!(r.bytes("e").unwrap(), &[1, 2, 3]);
        assert_eq!(r.i32("f").unwrap(), -5);
        assert_eq!(r.f64_seq("g").unwrap(), vec![0.25, -2.0]);
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn big_endian_payloads_read() {
        // 00 00 header, then u32 2 and a string "ab".
        let data = [0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3, b'a', b'b', 0];
        let mut r = CdrReader::new(&data).unwrap();
        assert!(!r.is_little_endian());
        assert_eq!(r.u32("n").unwrap(), 2);
        assert_eq!(r.string("s").unwrap(), "ab");
    }

    #[test]
    fn claimed_sizes_beyond_the_data_are_errors_naming_the_field() {
        let mut w = CdrWriter::new();
        w.u32(u32::MAX);
        let data = w.finish();
        let err = CdrReader::new(&data).unwrap().bytes("data").unwrap_err();
        assert!(err.to_string().contains("`data`"), "{err}");
        let err = CdrReader::new(&data).unwrap().f64_seq("d").unwrap_err();
        assert!(matches!(err, CdrError::Short { field: "d", .. }));
        assert!(CdrReader::new(&[0, 1]).is_err());
        assert!(matches!(
            CdrReader::new(&[0, 7, 0, 0]),
            Err(CdrError::Encapsulation(0, 7))
        ));
        let mut r = CdrReader::new(&[0, 1, 0, 0, 2, 0, 0, 0, b'a', b'b']).unwrap();
        assert_eq!(r.string("s"), Err(CdrError::BadString("s")));
    }
}
