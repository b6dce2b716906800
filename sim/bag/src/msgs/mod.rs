//! ROS 2 messages as CDR: decoding the inputs fusionrt reads, encoding what it writes.
//!
//! - [`sensor`]: `sensor_msgs` PointCloud2, Image, CompressedImage, CameraInfo, into and from
//!   the fusionrt-core types.
//! - [`state`]: `tf2_msgs/TFMessage` (`/tf`, `/tf_static`) and `nav_msgs/Odometry`.
//! - [`outputs`]: what the pipeline publishes: `autoware_perception_msgs` DetectedObjects and
//!   TrackedObjects, `visualization_msgs/MarkerArray`, `diagnostic_msgs/DiagnosticArray`.
//! - [`autoware`]: fusionrt's tracks and fused objects as those messages (node and replay).
//!
//! [`decode`] dispatches on the type name; every message type fusionrt writes implements
//! [`RosMessage`] (its type name and CDR encoding). Bad payloads are [`MsgError`]s naming the
//! field; they never panic or allocate more than the payload holds.

pub mod autoware;
pub mod outputs;
pub mod sensor;
pub mod state;

use crate::cdr::{CdrError, CdrReader, CdrWriter};
use fusionrt_core::image::ImageError;
use fusionrt_core::pointcloud2::{PointCloud2, PointCloud2Error};
use thiserror::Error;

/// Why a message payload could not be decoded.
#[derive(Debug, Error, PartialEq)]
pub enum MsgError {
    /// The CDR is short or malformed.
    #[error(transparent)]
    Cdr(#[from] CdrError),
    /// The point cloud's layout is inconsistent.
    #[error(transparent)]
    PointCloud2(#[from] PointCloud2Error),
    /// The image's layout is inconsistent or its encoding unsupported.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// A message fusionrt cannot use, by design (e.g. a Bayer image): skip it and count it.
    #[error("{0}")]
    Unsupported(String),
}

/// A message type fusionrt writes.
pub trait RosMessage {
    /// The ROS 2 type name, `package/msg/Type`.
    const TYPE_NAME: &'static str;
    /// Appends the message's fields (after the encapsulation header).
    fn encode_fields(&self, w: &mut CdrWriter);
    /// The CDR payload, header included.
    fn to_cdr(&self) -> Vec<u8> {
        let mut w = CdrWriter::new();
        self.encode_fields(&mut w);
        w.finish()
    }
}

/// A decoded input message.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// `sensor_msgs/msg/PointCloud2`.
    PointCloud2(PointCloud2),
    /// `sensor_msgs/msg/Image`.
    Image(fusionrt_core::image::Image),
    /// `sensor_msgs/msg/CompressedImage` (still compressed; see [`sensor::CompressedImage`]).
    CompressedImage(sensor::CompressedImage),
    /// `sensor_msgs/msg/CameraInfo`.
    CameraInfo(Box<fusionrt_core::image::CameraInfo>),
    /// `tf2_msgs/msg/TFMessage`.
    Tf(state::TfMessage),
    /// `nav_msgs/msg/Odometry`.
    Odometry(Box<state::Odometry>),
}

/// Decodes a payload of type `type_name`. `Ok(None)` for a type fusionrt does not read (the
/// caller skips and counts it).
pub fn decode(type_name: &str, payload: &[u8]) -> Result<Option<Decoded>, MsgError> {
    Ok(Some(match normalize_type(type_name) {
        "sensor_msgs/msg/PointCloud2" => Decoded::PointCloud2(sensor::decode_pointcloud2(payload)?),
        "sensor_msgs/msg/Image" => Decoded::Image(sensor::decode_image(payload)?),
        "sensor_msgs/msg/CompressedImage" => {
            Decoded::CompressedImage(sensor::decode_compressed_image(payload)?)
        }
        "sensor_msgs/msg/CameraInfo" => {
            Decoded::CameraInfo(Box::new(sensor::decode_camera_info(payload)?))
        }
        "tf2_msgs/msg/TFMessage" => Decoded::Tf(state::decode_tf(payload)?),
        "nav_msgs/msg/Odometry" => Decoded::Odometry(Box::new(state::decode_odometry(payload)?)),
        _ => return Ok(None),
    }))
}

/// [`decode`] taking the payload: a PointCloud2's data is moved out of it, not copied (see
/// [`sensor::decode_pointcloud2_owned`]); other types borrow it.
pub fn decode_owned(type_name: &str, payload: Vec<u8>) -> Result<Option<Decoded>, MsgError> {
    if normalize_type(type_name) == "sensor_msgs/msg/PointCloud2" {
        return Ok(Some(Decoded::PointCloud2(
            sensor::decode_pointcloud2_owned(payload)?,
        )));
    }
    decode(type_name, &payload)
}

/// `pkg/Type` (ROS 1 style, seen in some converted bags) as `pkg/msg/Type`; others unchanged.
pub fn normalize_type(type_name: &str) -> &str {
    match type_name {
        "sensor_msgs/PointCloud2" => "sensor_msgs/msg/PointCloud2",
        "sensor_msgs/Image" => "sensor_msgs/msg/Image",
        "sensor_msgs/CompressedImage" => "sensor_msgs/msg/CompressedImage",
        "sensor_msgs/CameraInfo" => "sensor_msgs/msg/CameraInfo",
        "tf2_msgs/TFMessage" => "tf2_msgs/msg/TFMessage",
        "nav_msgs/Odometry" => "nav_msgs/msg/Odometry",
        other => other,
    }
}

/// Reads `builtin_interfaces/Time` as ns.
pub(crate) fn read_time(r: &mut CdrReader<'_>, field: &'static str) -> Result<i64, CdrError> {
    let sec = r.i32(field)?;
    let nanosec = r.u32(field)?;
    Ok(i64::from(sec) * fusionrt_core::NANOS_PER_SEC + i64::from(nanosec))
}

/// Writes ns as `builtin_interfaces/Time` (sec rounded down, nanosec in 0..1e9).
pub(crate) fn write_time(w: &mut CdrWriter, stamp_ns: i64) {
    let sec = stamp_ns.div_euclid(fusionrt_core::NANOS_PER_SEC);
    let nanosec = stamp_ns.rem_euclid(fusionrt_core::NANOS_PER_SEC);
    w.i32(i32::try_from(sec).unwrap_or(if sec < 0 { i32::MIN } else { i32::MAX }));
    w.u32(nanosec as u32);
}

/// Reads `std_msgs/Header`: `(stamp_ns, frame_id)`.
pub(crate) fn read_header(r: &mut CdrReader<'_>) -> Result<(i64, String), CdrError> {
    let stamp_ns = read_time(r, "header.stamp")?;
    let frame_id = r.string("header.frame_id")?;
    Ok((stamp_ns, frame_id))
}

/// Writes `std_msgs/Header`.
pub(crate) fn write_header(w: &mut CdrWriter, stamp_ns: i64, frame_id: &str) {
    write_time(w, stamp_ns);
    w.string(frame_id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_including_negative() {
        for stamp_ns in [0, 1, 1_604_515_190_231_374_463, -1, -1_500_000_000] {
            let mut w = CdrWriter::new();
            write_header(&mut w, stamp_ns, "map");
            let data = w.finish();
            let mut r = CdrReader::new(&data).unwrap();
            assert_eq!(read_header(&mut r).unwrap(), (stamp_ns, "map".to_string()));
        }
    }

    #[test]
    fn unknown_types_decode_to_none() {
        assert_eq!(
            decode("velodyne_msgs/msg/VelodyneScan", &[0, 1, 0, 0]),
            Ok(None)
        );
    }
}
