//! KITTI readers and writers: velodyne scans, calibration, object labels, tracking files
//!
//! (Being built: see the open issue for this crate.)

pub mod tracking;
