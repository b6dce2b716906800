//! fusionrt-kitti: KITTI readers and writers.
//!
//! - [`velodyne`]: HDL-64E scans (`.bin`, float32 x, y, z, reflectance) into a core
//!   [`fusionrt_core::PointCloud`] (lidar frame, REP-103).
//! - [`calib`]: object / tracking calibration files (`P0..P3`, `R0_rect`, `Tr_velo_to_cam`,
//!   `Tr_imu_to_velo`), point transforms between the velodyne and rectified camera frames, and
//!   the core [`fusionrt_core::CameraCalib`] of a camera.
//! - [`object`]: object detection labels (15 columns) and their 3D boxes in the lidar frame.
//! - [`tracking`]: tracking sequence maps, detections, labels and results.
//! - [`sequence`]: the frames of a KITTI raw drive or tracking sequence on disk.
//!
//! KITTI's camera coordinates are converted to REP-103 here, at the edge. Bad input is a
//! [`KittiError`] that names the file (and the line and key where there is one); it never panics.
//!
//! Depends on fusionrt-core, nalgebra and thiserror only.

pub mod calib;
pub mod object;
pub mod sequence;
pub mod tracking;
pub mod velodyne;

use std::path::PathBuf;

pub use calib::KittiCalib;
pub use object::{ObjectLabel, read_labels};
pub use velodyne::{VelodyneStats, read_velodyne, read_velodyne_into};

/// Errors reading KITTI object files (scans, calibration, labels).
#[derive(Debug, thiserror::Error)]
pub enum KittiError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A velodyne scan whose size is not a whole number of 16-byte points.
    #[error(
        "{path}: {size} bytes is not a multiple of 16 (float32 x, y, z, reflectance per point)"
    )]
    ScanSize {
        /// The file.
        path: PathBuf,
        /// File size, bytes.
        size: usize,
    },
    /// A velodyne scan larger than [`velodyne::MAX_SCAN_POINTS`].
    #[error("{path}: more than {max_points} points (16 bytes each): not a single lidar scan")]
    ScanTooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, points.
        max_points: usize,
    },
    /// A malformed line.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A calibration entry that is malformed, non-finite or singular.
    #[error("{path}:{line}: key `{key}`: {message}")]
    CalibKey {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0 when the key is missing).
        line: usize,
        /// The key, e.g. `R0_rect`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The calibration does not give a usable camera model.
    #[error("{path}: {source}")]
    Camera {
        /// The calibration file.
        path: PathBuf,
        /// The cause.
        source: fusionrt_core::calib::CalibError,
    },
    /// A dataset folder is not laid out as expected.
    #[error("{path}: {message}")]
    Layout {
        /// The file or folder.
        path: PathBuf,
        /// What is missing or wrong.
        message: String,
    },
}
