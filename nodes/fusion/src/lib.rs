//! Fusion stage: time sync, lidar-to-camera projection, association and class assignment
//!
//! (Being built: see the open issue for this crate.)
