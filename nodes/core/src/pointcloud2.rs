//! `sensor_msgs/PointCloud2` as plain Rust, and its conversion to and from [`PointCloud`].
//!
//! Any field layout maps: `x`, `y`, `z` are required (FLOAT32 or FLOAT64); `intensity`
//! (or `reflectance`, `i`), `ring` and a per-point time (`t`, `time`, `timestamp`,
//! `time_offset`) are read when present, in any numeric datatype, either endianness. Points with
//! non-finite coordinates are skipped and counted, never passed on.

use crate::cloud::PointCloud;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// `sensor_msgs/PointField` datatype codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum FieldType {
    /// INT8 = 1
    I8 = 1,
    /// UINT8 = 2
    U8 = 2,
    /// INT16 = 3
    I16 = 3,
    /// UINT16 = 4
    U16 = 4,
    /// INT32 = 5
    I32 = 5,
    /// UINT32 = 6
    U32 = 6,
    /// FLOAT32 = 7
    F32 = 7,
    /// FLOAT64 = 8
    F64 = 8,
}

impl FieldType {
    /// The type for a ROS datatype code, `None` for an unknown code.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::I8,
            2 => Self::U8,
            3 => Self::I16,
            4 => Self::U16,
            5 => Self::I32,
            6 => Self::U32,
            7 => Self::F32,
            8 => Self::F64,
            _ => return None,
        })
    }

    /// Size of one value in bytes.
    pub fn size_bytes(self) -> usize {
        match self {
            Self::I8 | Self::U8 => 1,
            Self::I16 | Self::U16 => 2,
            Self::I32 | Self::U32 | Self::F32 => 4,
            Self::F64 => 8,
        }
    }
}

/// `sensor_msgs/PointField`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointField {
    /// Field name, e.g. `x` or `intensity`.
    pub name: String,
    /// Byte offset inside a point.
    pub offset: u32,
    /// Datatype code (see [`FieldType`]).
    pub datatype: u8,
    /// Number of values.
    pub count: u32,
}

/// `sensor_msgs/PointCloud2` with the header flattened.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PointCloud2 {
    /// Header stamp, ns.
    pub stamp_ns: i64,
    /// Header frame.
    pub frame_id: String,
    /// Rows (1 for an unorganised cloud).
    pub height: u32,
    /// Points per row.
    pub width: u32,
    /// Field layout of one point.
    pub fields: Vec<PointField>,
    /// Byte order of the data.
    pub is_bigendian: bool,
    /// Bytes per point.
    pub point_step: u32,
    /// Bytes per row.
    pub row_step: u32,
    /// The points, `row_step * height` bytes.
    pub data: Vec<u8>,
    /// True when no point is invalid.
    pub is_dense: bool,
}

/// Why a `PointCloud2` could not be read.
#[derive(Debug, Error, PartialEq)]
pub enum PointCloud2Error {
    /// A required field is missing.
    #[error("PointCloud2 has no field `{0}` (fields: {1})")]
    MissingField(&'static str, String),
    /// A field has a datatype code outside 1..=8.
    #[error("PointCloud2 field `{name}` has unknown datatype {datatype}")]
    UnknownDatatype {
        /// Field name.
        name: String,
        /// The code found.
        datatype: u8,
    },
    /// A coordinate field is not FLOAT32 / FLOAT64.
    #[error("PointCloud2 field `{name}` must be FLOAT32 or FLOAT64, found datatype {datatype}")]
    CoordinateNotFloat {
        /// Field name.
        name: String,
        /// The code found.
        datatype: u8,
    },
    /// A field reaches past the end of the point.
    #[error(
        "PointCloud2 field `{name}` (offset {offset}, {size} bytes) does not fit in point_step {point_step}"
    )]
    FieldOutsidePoint {
        /// Field name.
        name: String,
        /// Field offset.
        offset: u32,
        /// Field size in bytes.
        size: usize,
        /// The message's point_step.
        point_step: u32,
    },
    /// `row_step` is smaller than `width * point_step`.
    #[error(
        "PointCloud2 row_step {row_step} is smaller than width {width} x point_step {point_step}"
    )]
    RowStepTooSmall {
        /// row_step found.
        row_step: u32,
        /// width found.
        width: u32,
        /// point_step found.
        point_step: u32,
    },
    /// The data length is not `row_step * height`.
    #[error(
        "PointCloud2 data has {len} bytes, expected row_step {row_step} x height {height} = {expected}"
    )]
    DataLength {
        /// Bytes found.
        len: usize,
        /// row_step found.
        row_step: u32,
        /// height found.
        height: u32,
        /// Bytes expected.
        expected: u64,
    },
}

/// The byte layout of the channels fusionrt reads, resolved once per layout.
#[derive(Clone, Copy, Debug)]
struct Layout {
    x: (usize, FieldType),
    y: (usize, FieldType),
    z: (usize, FieldType),
    intensity: Option<(usize, FieldType)>,
    ring: Option<(usize, FieldType)>,
    time: Option<(usize, FieldType)>,
}

fn find_field(
    msg: &PointCloud2,
    names: &[&str],
) -> Result<Option<(usize, FieldType)>, PointCloud2Error> {
    let Some(f) = msg.fields.iter().find(|f| names.contains(&f.name.as_str())) else {
        return Ok(None);
    };
    let ty = FieldType::from_code(f.datatype).ok_or_else(|| PointCloud2Error::UnknownDatatype {
        name: f.name.clone(),
        datatype: f.datatype,
    })?;
    if f.offset as usize + ty.size_bytes() > msg.point_step as usize {
        return Err(PointCloud2Error::FieldOutsidePoint {
            name: f.name.clone(),
            offset: f.offset,
            size: ty.size_bytes(),
            point_step: msg.point_step,
        });
    }
    Ok(Some((f.offset as usize, ty)))
}

fn required(msg: &PointCloud2, name: &'static str) -> Result<(usize, FieldType), PointCloud2Error> {
    let field = find_field(msg, &[name])?.ok_or_else(|| {
        let names: Vec<&str> = msg.fields.iter().map(|f| f.name.as_str()).collect();
        PointCloud2Error::MissingField(name, names.join(", "))
    })?;
    if !matches!(field.1, FieldType::F32 | FieldType::F64) {
        return Err(PointCloud2Error::CoordinateNotFloat {
            name: name.to_string(),
            datatype: field.1 as u8,
        });
    }
    Ok(field)
}

/// Byte offsets of x, y, z and intensity in a point whose channels are all little-endian FLOAT32.
type PlainOffsets = (usize, usize, usize, Option<usize>);

impl Layout {
    /// The offsets when the cloud is little-endian and its x, y, z and intensity (if any) are
    /// FLOAT32 and it carries no ring or time channel: the layout of nearly every driver.
    fn plain_f32_le(&self, big_endian: bool) -> Option<PlainOffsets> {
        let f32_at = |(offset, ty): (usize, FieldType)| (ty == FieldType::F32).then_some(offset);
        if big_endian || self.ring.is_some() || self.time.is_some() {
            return None;
        }
        let intensity = match self.intensity {
            Some(f) => Some(f32_at(f)?),
            None => None,
        };
        Some((f32_at(self.x)?, f32_at(self.y)?, f32_at(self.z)?, intensity))
    }

    fn resolve(msg: &PointCloud2) -> Result<Self, PointCloud2Error> {
        Ok(Self {
            x: required(msg, "x")?,
            y: required(msg, "y")?,
            z: required(msg, "z")?,
            intensity: find_field(msg, &["intensity", "reflectance", "i"])?,
            ring: find_field(msg, &["ring"])?,
            time: find_field(msg, &["t", "time", "timestamp", "time_offset"])?,
        })
    }
}

fn read_f64(bytes: &[u8], (offset, ty): (usize, FieldType), big_endian: bool) -> f64 {
    macro_rules! read {
        ($t:ty, $n:literal) => {{
            let mut b = [0u8; $n];
            b.copy_from_slice(&bytes[offset..offset + $n]);
            (if big_endian {
                <$t>::from_be_bytes(b)
            } else {
                <$t>::from_le_bytes(b)
            }) as f64
        }};
    }
    match ty {
        FieldType::I8 => read!(i8, 1),
        FieldType::U8 => read!(u8, 1),
        FieldType::I16 => read!(i16, 2),
        FieldType::U16 => read!(u16, 2),
        FieldType::I32 => read!(i32, 4),
        FieldType::U32 => read!(u32, 4),
        FieldType::F32 => read!(f32, 4),
        FieldType::F64 => read!(f64, 8),
    }
}

/// Reads a field as `f32`: little-endian FLOAT32 fields (nearly every lidar driver's x, y, z
/// and intensity) directly, others through [`read_f64`].
#[inline(always)]
fn read_f32(bytes: &[u8], field: (usize, FieldType), big_endian: bool) -> f32 {
    if field.1 == FieldType::F32 && !big_endian {
        let mut b = [0u8; 4];
        b.copy_from_slice(&bytes[field.0..field.0 + 4]);
        f32::from_le_bytes(b)
    } else {
        read_f64(bytes, field, big_endian) as f32
    }
}

/// What a conversion kept and skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConversionStats {
    /// Points copied into the cloud.
    pub kept: usize,
    /// Points skipped because a coordinate was NaN or infinite.
    pub skipped_non_finite: usize,
}

impl PointCloud {
    /// Fills this cloud from a `PointCloud2`, reusing its buffers. The layout is validated
    /// first (fields inside `point_step`, `row_step` and data length consistent); on error the
    /// cloud is left empty. Points with a non-finite coordinate are skipped and counted.
    pub fn fill_from_pointcloud2(
        &mut self,
        msg: &PointCloud2,
    ) -> Result<ConversionStats, PointCloud2Error> {
        self.clear();
        let layout = Layout::resolve(msg)?;
        let min_row = u64::from(msg.width) * u64::from(msg.point_step);
        if u64::from(msg.row_step) < min_row {
            return Err(PointCloud2Error::RowStepTooSmall {
                row_step: msg.row_step,
                width: msg.width,
                point_step: msg.point_step,
            });
        }
        let expected = u64::from(msg.row_step) * u64::from(msg.height);
        if msg.data.len() as u64 != expected {
            return Err(PointCloud2Error::DataLength {
                len: msg.data.len(),
                row_step: msg.row_step,
                height: msg.height,
                expected,
            });
        }
        self.stamp_ns = msg.stamp_ns;
        self.frame_id.clone_from(&msg.frame_id);
        let be = msg.is_bigendian;
        let step = msg.point_step as usize;
        let mut stats = ConversionStats::default();
        let points = msg.width as usize * msg.height as usize;
        self.x.reserve(points);
        self.y.reserve(points);
        self.z.reserve(points);
        if layout.intensity.is_some() {
            self.intensity.reserve(points);
        }
        if layout.ring.is_some() {
            self.ring.reserve(points);
        }
        if layout.time.is_some() {
            self.time_offset_ns.reserve(points);
        }
        if let Some(offsets) = layout.plain_f32_le(be) {
            for row in 0..msg.height as usize {
                let start = row * msg.row_step as usize;
                let row_bytes = &msg.data[start..start + msg.width as usize * step];
                self.push_plain_f32_le(row_bytes, step, offsets, &mut stats);
            }
            return Ok(stats);
        }
        for row in 0..msg.height as usize {
            let row_bytes = &msg.data[row * msg.row_step as usize..];
            for col in 0..msg.width as usize {
                let p = &row_bytes[col * step..(col + 1) * step];
                let x = read_f32(p, layout.x, be);
                let y = read_f32(p, layout.y, be);
                let z = read_f32(p, layout.z, be);
                if !(x.is_finite() && y.is_finite() && z.is_finite()) {
                    stats.skipped_non_finite += 1;
                    continue;
                }
                self.push_xyz(x, y, z);
                if let Some(f) = layout.intensity {
                    self.intensity.push(read_f32(p, f, be));
                }
                if let Some(f) = layout.ring {
                    self.ring.push(read_f64(p, f, be) as u16);
                }
                if let Some(f) = layout.time {
                    // Float times are seconds relative to the stamp; integer times are ns.
                    let v = read_f64(p, f, be);
                    let ns = if matches!(f.1, FieldType::F32 | FieldType::F64) {
                        v * 1e9
                    } else {
                        v
                    };
                    self.time_offset_ns
                        .push(ns.clamp(i32::MIN as f64, i32::MAX as f64) as i32);
                }
                stats.kept += 1;
            }
        }
        Ok(stats)
    }

    /// The common case of [`Self::fill_from_pointcloud2`]: little-endian FLOAT32 x, y, z (and
    /// intensity), nothing else, read at fixed offsets without a per-point type dispatch.
    fn push_plain_f32_le(
        &mut self,
        row_bytes: &[u8],
        step: usize,
        (x, y, z, intensity): PlainOffsets,
        stats: &mut ConversionStats,
    ) {
        let at = |p: &[u8], o: usize| f32::from_le_bytes([p[o], p[o + 1], p[o + 2], p[o + 3]]);
        for p in row_bytes.chunks_exact(step) {
            let (px, py, pz) = (at(p, x), at(p, y), at(p, z));
            if !(px.is_finite() && py.is_finite() && pz.is_finite()) {
                stats.skipped_non_finite += 1;
                continue;
            }
            self.push_xyz(px, py, pz);
            if let Some(i) = intensity {
                self.intensity.push(at(p, i));
            }
            stats.kept += 1;
        }
    }

    /// Encodes this cloud as a dense, little-endian `PointCloud2` with FLOAT32 `x y z`, plus
    /// FLOAT32 `intensity`, UINT16 `ring` and INT32 `time_offset` when present.
    pub fn to_pointcloud2(&self) -> PointCloud2 {
        let ch = self.channels();
        let mut fields = Vec::new();
        let mut offset = 0u32;
        let mut add = |name: &str, ty: FieldType| {
            fields.push(PointField {
                name: name.to_string(),
                offset,
                datatype: ty as u8,
                count: 1,
            });
            offset += ty.size_bytes() as u32;
        };
        add("x", FieldType::F32);
        add("y", FieldType::F32);
        add("z", FieldType::F32);
        if ch.intensity {
            add("intensity", FieldType::F32);
        }
        if ch.ring {
            add("ring", FieldType::U16);
        }
        if ch.time_offset {
            add("time_offset", FieldType::I32);
        }
        let point_step = offset;
        let mut data = Vec::with_capacity(point_step as usize * self.len());
        for i in 0..self.len() {
            data.extend_from_slice(&self.x[i].to_le_bytes());
            data.extend_from_slice(&self.y[i].to_le_bytes());
            data.extend_from_slice(&self.z[i].to_le_bytes());
            if ch.intensity {
                data.extend_from_slice(&self.intensity[i].to_le_bytes());
            }
            if ch.ring {
                data.extend_from_slice(&self.ring[i].to_le_bytes());
            }
            if ch.time_offset {
                data.extend_from_slice(&self.time_offset_ns[i].to_le_bytes());
            }
        }
        PointCloud2 {
            stamp_ns: self.stamp_ns,
            frame_id: self.frame_id.clone(),
            height: 1,
            width: self.len() as u32,
            fields,
            is_bigendian: false,
            point_step,
            row_step: point_step * self.len() as u32,
            data,
            is_dense: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::Channels;

    fn sample() -> PointCloud {
        let mut c = PointCloud::with_capacity(
            3,
            Channels {
                intensity: true,
                ring: true,
                time_offset: false,
            },
        );
        c.stamp_ns = 42;
        c.frame_id = "lidar".into();
        for i in 0..3 {
            c.push_xyzi(i as f32, -(i as f32), 0.5, 10.0 * i as f32);
            c.ring.push(i as u16);
        }
        c
    }

    #[test]
    fn round_trip_keeps_points_and_channels() {
        let c = sample();
        let msg = c.to_pointcloud2();
        let mut back = PointCloud::default();
        let stats = back.fill_from_pointcloud2(&msg).unwrap();
        assert_eq!(stats.kept, 3);
        assert_eq!(back, c);
    }

    #[test]
    fn big_endian_float64_layout_with_padding() {
        // x, y, z as FLOAT64 big-endian, a padding byte block, intensity as UINT8.
        let fields = vec![
            PointField {
                name: "x".into(),
                offset: 0,
                datatype: 8,
                count: 1,
            },
            PointField {
                name: "y".into(),
                offset: 8,
                datatype: 8,
                count: 1,
            },
            PointField {
                name: "z".into(),
                offset: 16,
                datatype: 8,
                count: 1,
            },
            PointField {
                name: "intensity".into(),
                offset: 28,
                datatype: 2,
                count: 1,
            },
        ];
        let mut data = Vec::new();
        for v in [1.5f64, -2.0, 0.25] {
            data.extend_from_slice(&v.to_be_bytes());
        }
        data.extend_from_slice(&[0, 0, 0, 0, 200, 0, 0, 0]);
        let msg = PointCloud2 {
            height: 1,
            width: 1,
            fields,
            is_bigendian: true,
            point_step: 32,
            row_step: 32,
            data,
            ..PointCloud2::default()
        };
        let mut c = PointCloud::default();
        c.fill_from_pointcloud2(&msg).unwrap();
        assert_eq!(
            (c.x[0], c.y[0], c.z[0], c.intensity[0]),
            (1.5, -2.0, 0.25, 200.0)
        );
    }

    /// An organised 2 x 2 cloud of little-endian FLOAT32 x, y, z, intensity with padding after
    /// each point and each row: the fixed-offset path, including a skipped NaN point.
    #[test]
    fn plain_float32_layout_with_point_and_row_padding() {
        let field = |name: &str, offset| PointField {
            name: name.into(),
            offset,
            datatype: 7,
            count: 1,
        };
        let points = [
            [1.0f32, 2.0, 3.0, 4.0],
            [f32::NAN, 0.0, 0.0, 1.0],
            [-1.0, -2.0, -3.0, 5.0],
            [7.0, 8.0, 9.0, 6.0],
        ];
        let mut data = Vec::new();
        for row in points.chunks(2) {
            for p in row {
                // y before x, to check the offsets are honoured.
                for v in [p[1], p[0], p[2], p[3]] {
                    data.extend_from_slice(&v.to_le_bytes());
                }
                data.extend_from_slice(&[0xAB; 4]); // point padding
            }
            data.extend_from_slice(&[0xCD; 8]); // row padding
        }
        let msg = PointCloud2 {
            height: 2,
            width: 2,
            fields: vec![
                field("y", 0),
                field("x", 4),
                field("z", 8),
                field("intensity", 12),
            ],
            point_step: 20,
            row_step: 48,
            data,
            ..PointCloud2::default()
        };
        let mut c = PointCloud::default();
        let stats = c.fill_from_pointcloud2(&msg).unwrap();
        assert_eq!((stats.kept, stats.skipped_non_finite), (3, 1));
        assert_eq!(c.x, vec![1.0, -1.0, 7.0]);
        assert_eq!(c.y, vec![2.0, -2.0, 8.0]);
        assert_eq!(c.z, vec![3.0, -3.0, 9.0]);
        assert_eq!(c.intensity, vec![4.0, 5.0, 6.0]);
    }

    #[test]
    fn non_finite_points_are_skipped_and_counted() {
        let mut c = sample();
        c.x[1] = f32::NAN;
        let msg = c.to_pointcloud2();
        let mut back = PointCloud::default();
        let stats = back.fill_from_pointcloud2(&msg).unwrap();
        assert_eq!((stats.kept, stats.skipped_non_finite), (2, 1));
        assert_eq!(back.len(), 2);
    }

    #[test]
    fn layout_errors_name_the_problem() {
        let good = sample().to_pointcloud2();
        let mut short = good.clone();
        short.data.pop();
        let mut c = PointCloud::default();
        assert!(matches!(
            c.fill_from_pointcloud2(&short),
            Err(PointCloud2Error::DataLength { .. })
        ));
        let mut small_step = good.clone();
        small_step.point_step = 8;
        let err = c.fill_from_pointcloud2(&small_step).unwrap_err();
        assert!(
            err.to_string().contains("does not fit in point_step 8"),
            "{err}"
        );
        let mut no_z = good.clone();
        no_z.fields.retain(|f| f.name != "z");
        let err = c.fill_from_pointcloud2(&no_z).unwrap_err();
        assert!(err.to_string().contains("no field `z`"), "{err}");
        let mut bad_type = good;
        bad_type.fields[0].datatype = 42;
        assert!(matches!(
            c.fill_from_pointcloud2(&bad_type),
            Err(PointCloud2Error::UnknownDatatype { datatype: 42, .. })
        ));
    }
}
