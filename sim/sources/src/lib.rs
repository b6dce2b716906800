//! fusionrt-sources: the runtime graph's sources and sinks for data off the vehicle.
//!
//! - [`sim`]: the scenario simulator as a source (sweeps with ground truth, odometry, the
//!   simulated cameras' calibrations and detections).
//! - [`kitti`]: KITTI raw drives and tracking sequences as a source (scans, images,
//!   calibration), and KITTI tracking result files as a sink.
//! - [`bag`]: rosbag2 bags (MCAP, sqlite3) as a source: topic roles from types, calibrations
//!   from CameraInfo and `/tf_static`, compressed images decoded.
//! - [`mcap_out`]: a sink writing tracks, detections, markers and diagnostics (and optionally
//!   the inputs) as ROS 2 messages into one MCAP file (`replay`'s `output.mcap`).
//! - [`score`]: a sink that scores published tracks against the ground truth that came with
//!   each sweep (CLEAR MOT, IDF1) and digests them.
//!
//! In: files and scenario specs. Out: runtime [`fusionrt_runtime::Event`]s, result files,
//! results for the report. Depends on fusionrt-runtime (the traits), fusionrt-scenario,
//! fusionrt-kitti, fusionrt-eval, fusionrt-camera (image files), fusionrt-bag (rosbag2).

pub mod bag;
pub mod kitti;
pub mod mcap_out;
pub mod score;
pub mod sim;

pub use bag::{BagSource, BagSourceOptions};
pub use kitti::{KittiResultsSink, KittiSource};
pub use mcap_out::McapSink;
pub use score::SimScoreSink;
pub use sim::SimSource;
