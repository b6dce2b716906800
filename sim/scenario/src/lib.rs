//! Deterministic scenario simulator: world, lidar, cameras, 2D detector and ground truth
//!
//! (Being built: see the open issue for this crate.)
