//! fusionrt-runtime: the graph of sources -> stages -> sinks, its two executors, budgets,
//! policies and metrics.
//!
//! - [`stage`]: the stage contract ([`Stage`], [`Ctx`], [`Clock`], [`Stamped`]) and the four
//!   stages (lidar, camera per camera, fusion, tracker) wrapping the algorithm crates.
//! - [`graph`]: events, [`Source`], [`Sink`], [`Output`], run options; [`state`]: camera
//!   calibrations, recent detections and poses between sweeps.
//! - [`executor`]: [`Graph`] and the deterministic and real-time executors.
//! - [`degrade`]: the camera's tile policy; [`metrics`] and [`latency`]: HDR histograms,
//!   drops and misses by reason, peak RSS.
//! - [`sinks`]: tracks as JSON lines; [`config`]: the one config tree.
//!
//! In: events from any source (simulator, KITTI folders, rosbag2, ROS 2 topics). Out: the
//! tracks the tracker published for every sweep, to sinks, and a report.
//!
//! Depends on fusionrt-core, -lidar, -camera, -fusion, -tracker; never on ROS or files
//! (sinks write to any `io::Write`).

pub mod config;
pub mod degrade;
pub mod executor;
pub mod graph;
pub mod latency;
pub mod metrics;
pub mod sinks;
pub mod stage;
pub mod state;

pub use config::{BudgetConfig, DegradeConfig, PipelineConfig, RuntimeConfig};
pub use executor::{Graph, RunError, RunSummary, run_deterministic, run_realtime};
pub use graph::{
    CameraMode, Event, Looping, Output, Results, RunOptions, Sink, SinkError, Source, SourceError,
    SourceInfo, SweepTimings, TruthObject,
};
pub use metrics::{Metrics, MetricsReport};
pub use stage::{Clock, Ctx, Stage, StageError, StageStats, Stamped};
