//! fusionrt-ros: the ROS 2 edge. Live topics in, Autoware-compatible tracks out, through the
//! same runtime graph and real-time executor as every other front end.
//!
//! - [`inbox`]: raw CDR messages handed from the r2r callbacks to the source thread, bounded
//!   and latest-wins, every drop counted.
//! - [`assemble`]: raw messages -> runtime events (fusionrt-bag's CDR codecs, the transform
//!   tree, calibrations from CameraInfo + TF, odometry); bad messages become counted skips.
//! - [`source`]: the [`fusionrt_runtime::Source`] over the inbox; [`sink`]: the
//!   [`fusionrt_runtime::Sink`] that publishes each sweep's tracks from that sweep (no timer),
//!   converted by `fusionrt_bag::msgs::autoware` (shared with replay's output.mcap);
//!   [`diagnostics`]: /diagnostics at most once a second.
//! - [`args`]: the node's command line; `node` (feature `ros2`): the r2r glue and the node's
//!   main loop (binary `fusionrt_node`); `realtime` (feature `ros2`): both heaps tuned and
//!   prefaulted at start-up, SCHED_FIFO on request.
//!
//! In: sensor_msgs PointCloud2 / Image / CompressedImage / CameraInfo, tf2_msgs TFMessage,
//! nav_msgs Odometry, as CDR. Out: TrackedObjects, DetectedObjects, MarkerArray,
//! DiagnosticArray, as CDR. Everything but `node` builds and is tested without ROS; only
//! `node` depends on r2r. Depends on fusionrt-core, -camera (image decoding), -fusion (its
//! report), -runtime and -bag (codecs).

pub mod args;
pub mod assemble;
pub mod diagnostics;
pub mod inbox;
#[cfg(feature = "ros2")]
pub mod node;
#[cfg(feature = "ros2")]
pub mod realtime;
pub mod sink;
pub mod source;
