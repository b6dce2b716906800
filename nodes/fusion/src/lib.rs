//! Fusion stage: time sync, lidar-to-camera projection, association and class assignment.
//!
//! In: one lidar sweep's [`fusionrt_core::Obstacle3D`] boxes (lidar frame), the calibrated
//! cameras ([`fusionrt_core::CameraCalib`], up to [`MAX_CAMERAS`]) and their 2D detection frames
//! ([`fusionrt_core::CameraDetections`], any number per camera). Out: one
//! [`fusionrt_core::FusedObject`] per object in the lidar frame, with the class and score from
//! the cameras, `unknown` for lidar-only objects, the supporting sensors, and a
//! [`FusionReport`] that says per camera whether it was used, missing or too far apart in time.
//!
//! The association follows late fusion as checked on KITTI: each lidar box is projected into
//! each camera (box corners clipped at a near plane, then to the image); pairs are gated on
//! containment of the projected ROI in the detection box, ranked by IoU and assigned optimally
//! (Hungarian method); further clusters inside a matched detection join it (fragments); a
//! person box on a bicycle box is a cyclist. A detection lends its class to a cluster only with
//! evidence ([`EvidenceConfig`]: the box fits the class at the cluster's depth, no nearer object
//! explains it, the cluster is more than background in it), and the lidar classifier's class is
//! combined with the cameras' (`fusionrt_lidar::classify::combine`).
//!
//! Why box corners and not cluster points: the lidar stage hands over boxes only
//! ([`fusionrt_core::Obstacle3D`]), so the stage runs on what every lidar detector (clustering
//! or a network) produces, and the fitted box bounds the points: its ROI contains the points'
//! ROI. The ROI is thus a little larger than the points' ROI, which the containment gate (on a
//! slightly enlarged detection box) and the low IoU gate absorb.
//!
//! Depends on fusionrt-core, and on fusionrt-lidar for its rule that combines the lidar's class
//! with a camera's; no IO, threads or ROS.

pub mod config;
mod evidence;
mod fusion;
pub mod project;
pub mod report;

pub use config::{ClassGate, ClassGates, EvidenceConfig, FusionConfig};
pub use fusion::LateFusion;
pub use project::Projector;
pub use report::{CameraReport, CameraStatus, FusionReport, MAX_CAMERAS};
