//! fusionrt-live: a live view of the pipeline in Foxglove, without ROS.
//!
//! [`LiveView::start`] serves the Foxglove WebSocket protocol (`foxglove.websocket.v1`, the
//! `foxglove` crate's server) and [`LiveView::sink`] is a graph [`fusionrt_runtime::Sink`] that
//! publishes every sweep in Foxglove's own schemas, which Foxglove's 3D and Image panels draw
//! natively:
//!
//! | Topic | Schema | What |
//! |---|---|---|
//! | `/fusionrt/lidar/points` | `foxglove.PointCloud` | the sweep (x, y, z, intensity), lidar frame |
//! | `/fusionrt/objects` | `foxglove.SceneUpdate` | fused objects: faint boxes in class colours, class, score, `+cam` |
//! | `/fusionrt/tracks` | `foxglove.SceneUpdate` | tracks: boxes in class colours, id and class, velocity arrows |
//! | `/tf` | `foxglove.FrameTransforms` | `world` -> lidar frame, when the source has odometry |
//! | `/fusionrt/camera<i>/image` | `foxglove.RawImage` | each new image (camera model runs only) |
//! | `/fusionrt/camera<i>/detections` | `foxglove.ImageAnnotations` | each new frame's 2D boxes and labels |
//!
//! Messages carry the sensor stamps (header and log time). A client that subscribes gets each
//! channel's last message at once. Publishing never blocks the run and adds nothing to the
//! report, so every other output is the same with and without the view.
//!
//! In: the graph's [`fusionrt_runtime::Output`]. Out: WebSocket messages. Depends on
//! fusionrt-core, fusionrt-runtime and the `foxglove` crate.

pub mod convert;
pub mod view;

pub use view::{LiveAddr, LiveError, LiveLayout, LiveSink, LiveView};
