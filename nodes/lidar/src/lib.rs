//! Lidar stage: point cloud to 3D obstacle candidates (ground removal, clustering, oriented boxes)
//!
//! (Being built: see the open issue for this crate.)
