//! fusionrt-core: the data model every other crate speaks.
//!
//! - [`cloud`]: stamped point clouds as struct-of-arrays, and the mapping from any
//!   `sensor_msgs/PointCloud2` field layout ([`pointcloud2`]).
//! - [`image`]: camera images (ROS encodings) and `CameraInfo`.
//! - [`calib`]: camera models and rigid transforms (nalgebra), named `target_from_source`.
//! - [`geometry`]: 2D boxes and oriented 3D boxes.
//! - [`objects`]: perception classes, 2D detections, 3D obstacles, fused objects and tracks.
//! - [`config`]: YAML config loading with typed defaults; unknown keys are errors that name the
//!   key and the file.
//!
//! Conventions (REP-103/105): x forward, y left, z up; SI units; radians; stamps are `i64`
//! nanoseconds (`stamp_ns`). Points are `f32`, filter states `f64`.
//!
//! Depends on nalgebra, serde and thiserror only. Every other fusionrt crate depends on this one.

pub mod assignment;
pub mod calib;
pub mod cloud;
pub mod config;
pub mod geometry;
pub mod image;
pub mod iou3d;
pub mod objects;
pub mod pointcloud2;
pub mod tf;

pub use calib::{CameraCalib, CameraModel, Distortion};
pub use cloud::PointCloud;
pub use geometry::{BBox2, Box3};
pub use objects::{
    CameraDetections, ClassProbs, Detection2D, FusedObject, ObjectClass, Obstacle3D, SensorSupport,
    Track, TrackId, TrackState,
};

/// Nanoseconds per second, for stamp arithmetic.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Converts a nanosecond stamp difference to seconds.
pub fn nanos_to_secs(nanos: i64) -> f64 {
    nanos as f64 * 1e-9
}

/// Converts seconds to a nanosecond stamp difference (rounded to the nearest nanosecond).
pub fn secs_to_nanos(secs: f64) -> i64 {
    (secs * 1e9).round() as i64
}
