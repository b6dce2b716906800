//! fusionrt-lidar: the lidar stage, point cloud to 3D obstacle candidates.
//!
//! In: a core [`fusionrt_core::PointCloud`] (any `PointCloud2` layout or KITTI `.bin`, mapped by
//! core and fusionrt-kitti) in the lidar frame. Out: [`fusionrt_core::Obstacle3D`] boxes (center,
//! `[l, w, h]`, yaw about +z, point count, confidence) in the same frame, and [`LidarStats`].
//!
//! Steps ([`detector`]): range and region crop; polar-grid ground segmentation with ray-wise
//! slope continuity (holds on slopes, curbs and uneven roads); Euclidean clustering on a BEV
//! occupancy grid with union-find and a range-adaptive tolerance; search-based L-shape box
//! fitting ([`boxfit`]); size filters; a lidar-only class per obstacle ([`classify`]).
//! [`synthetic`] builds ray-cast test scenes of any size.
//!
//! A stage struct: [`LidarDetector::new`] allocates, [`LidarDetector::process`] reuses its
//! buffers (no allocation per frame in steady state). No IO, threads or ROS here.
//! Depends on fusionrt-core, nalgebra, serde, thiserror and tracing.

pub mod boxfit;
pub mod classify;
pub mod config;
pub mod detector;
mod fastmath;
pub mod recall;
pub mod synthetic;

pub use config::{LidarConfig, MAX_EXPECTED_POINTS, MAX_OBSTACLES};
pub use detector::{LidarDetector, LidarStats};
