//! fusionrt-tracker: multi-object tracking of fused 3D objects.
//!
//! In: [`FusedObject`](fusionrt_core::FusedObject)s of one frame, in a fixed world frame when
//! odometry exists (the pipeline compensates ego motion before this stage), with a stamp.
//! Out: [`Track`](fusionrt_core::Track)s with stable 128-bit ids, life-cycle state, existence
//! probability, velocity, yaw rate, covariances and age.
//!
//! - [`config`]: per-class parameters (motion model, noise, gates, life cycle).
//! - [`filter`]: Kalman filter (constant velocity) and EKFs (CTRV, kinematic bicycle).
//! - [`tracker`]: the [`Tracker`] stage: prediction, gated optimal association (3D GIoU / IoU /
//!   center distance / Mahalanobis, Hungarian per connected component), life cycle.
//!
//! Depends on fusionrt-core (boxes, 3D IoU, assignment) and nalgebra only: no IO, no threads.

pub mod config;
pub mod filter;
pub mod synthetic;
pub mod tracker;

pub use config::{AssociationMetric, ClassParams, MotionModelKind, ScoreSource, TrackerConfig};
pub use tracker::Tracker;
