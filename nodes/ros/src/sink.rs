//! The ROS sink of the runtime graph: each sweep's output, published from the sweep that
//! produced it (no timer), as TrackedObjects, DetectedObjects and a MarkerArray, all stamped
//! with the sweep. Publishing goes through [`Publish`] (r2r's raw publishers in the node, a
//! recorder in tests). A failed publish is counted and logged, never the end of the node.

use crate::diagnostics::{Diagnostics, NowFn};
use fusionrt_bag::RosMessage;
use fusionrt_bag::msgs::autoware;
use fusionrt_runtime::{Output, Results, Sink, SinkError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// An output topic of the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutTopic {
    /// `output/objects`, autoware_perception_msgs/TrackedObjects.
    Objects,
    /// `output/detected_objects`, autoware_perception_msgs/DetectedObjects.
    DetectedObjects,
    /// `output/markers`, visualization_msgs/MarkerArray.
    Markers,
    /// `/diagnostics`, diagnostic_msgs/DiagnosticArray.
    Diagnostics,
}

impl OutTopic {
    /// Topic name (relative, so namespaces and remapping apply; /diagnostics is absolute).
    pub fn name(self) -> &'static str {
        match self {
            OutTopic::Objects => "output/objects",
            OutTopic::DetectedObjects => "output/detected_objects",
            OutTopic::Markers => "output/markers",
            OutTopic::Diagnostics => "/diagnostics",
        }
    }

    /// ROS 2 type name.
    pub fn type_name(self) -> &'static str {
        match self {
            OutTopic::Objects => "autoware_perception_msgs/msg/TrackedObjects",
            OutTopic::DetectedObjects => "autoware_perception_msgs/msg/DetectedObjects",
            OutTopic::Markers => "visualization_msgs/msg/MarkerArray",
            OutTopic::Diagnostics => "diagnostic_msgs/msg/DiagnosticArray",
        }
    }
}

/// Sends CDR bytes on a topic.
pub trait Publish: Send {
    /// Publishes one message.
    fn publish(&mut self, topic: OutTopic, cdr: &[u8]) -> Result<(), String>;
}

/// The diagnostics, shared by the sink (records) and the spin thread (reports).
pub type SharedDiagnostics = Arc<Mutex<Diagnostics>>;

/// Publishes every sweep's output.
pub struct RosSink {
    out: Box<dyn Publish>,
    diagnostics: SharedDiagnostics,
    now: NowFn,
    failures: u64,
    last_failure_log: Option<Instant>,
}

impl RosSink {
    /// Publishes through `out`, recording into `diagnostics` the latency on the clock `now`.
    pub fn new(out: Box<dyn Publish>, diagnostics: SharedDiagnostics, now: NowFn) -> Self {
        Self {
            out,
            diagnostics,
            now,
            failures: 0,
            last_failure_log: None,
        }
    }

    fn send(&mut self, topic: OutTopic, cdr: &[u8]) {
        if let Err(e) = self.out.publish(topic, cdr) {
            self.failures += 1;
            let due = self
                .last_failure_log
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
            if due {
                tracing::warn!(
                    topic = topic.name(),
                    failures = self.failures,
                    "publish failed: {e}"
                );
                self.last_failure_log = Some(Instant::now());
            }
        }
    }
}

impl Sink for RosSink {
    fn publish(&mut self, output: &Output) -> Result<(), SinkError> {
        // Tracks first: they are what the planner waits for.
        self.send(
            OutTopic::Objects,
            &autoware::tracked_objects(output.stamp_ns, &output.frame_id, &output.tracks).to_cdr(),
        );
        let now_ns = (self.now)();
        self.diagnostics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(output, now_ns);
        self.send(
            OutTopic::DetectedObjects,
            &autoware::detected_objects(output.stamp_ns, &output.frame_id, &output.fused).to_cdr(),
        );
        let markers = autoware::track_markers(output.stamp_ns, &output.frame_id, &output.tracks);
        self.send(OutTopic::Markers, &markers.to_cdr());
        Ok(())
    }

    fn finish(&mut self, results: &mut Results) -> Result<(), SinkError> {
        results.insert(
            "ros".into(),
            serde_json::json!({ "publish_failures": self.failures }),
        );
        Ok(())
    }
}
