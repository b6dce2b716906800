//! fusionrt-sources: the runtime graph's sources and sinks for data off the vehicle.
//!
//! - [`sim`]: the scenario simulator as a source (sweeps with ground truth, odometry, the
//!   simulated cameras' calibrations and detections).
//! - [`kitti`]: KITTI raw drives and tracking sequences as a source (scans, images,
//!   calibration), and KITTI tracking result files as a sink.
//! - [`score`]: a sink that scores published tracks against the ground truth that came with
//!   each sweep (CLEAR MOT, IDF1) and digests them.
//!
//! In: files and scenario specs. Out: runtime [`fusionrt_runtime::Event`]s, result files,
//! results for the report. Depends on fusionrt-runtime (the traits), fusionrt-scenario,
//! fusionrt-kitti, fusionrt-eval, fusionrt-camera (image files).

pub mod kitti;
pub mod score;
pub mod sim;

pub use kitti::{KittiResultsSink, KittiSource};
pub use score::SimScoreSink;
pub use sim::SimSource;
