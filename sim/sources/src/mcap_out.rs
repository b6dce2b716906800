//! A sink writing the pipeline's outputs as ROS 2 messages into one MCAP file (`replay`'s
//! `output.mcap`), through fusionrt-bag's writer (ros2msg schemas embedded, zstd chunks), so
//! Foxglove, the `mcap` tools and `rosbags` read it with no ROS install.
//!
//! Per sweep, all stamped with the sweep's stamp (header and log time), in the tracks' frame:
//! - [`TRACKS_TOPIC`]: `autoware_perception_msgs/msg/TrackedObjects`, the published tracks;
//! - [`OBJECTS_TOPIC`]: `autoware_perception_msgs/msg/DetectedObjects`, the fused (lidar, with
//!   camera classes where the camera saw them) objects the tracker was given;
//! - [`MARKERS_TOPIC`]: `visualization_msgs/msg/MarkerArray`: a DELETEALL, then per track a
//!   box (class colour), its id and class as text, and a velocity arrow;
//! - [`DIAGNOSTICS_TOPIC`]: `diagnostic_msgs/msg/DiagnosticArray` with deterministic per-sweep
//!   counters (points, fused objects, with camera support, tracks, camera frames and their age
//!   in data time).
//!
//! Stage timings are not written here: they differ from run to run, and the same bag with the
//! same config must give the same bytes. They are in report.json (`timings`).
//!
//! With an [`InputTap`], the inputs the source used are written first, CDR bytes as read, on
//! their (remapped) topics at their receive stamps (`--record-inputs`).

use crate::bag::{InputTap, drain_tap};
use fusionrt_bag::msgs::autoware::{detected_objects, track_markers, tracked_objects};
use fusionrt_bag::msgs::outputs::{
    DetectedObjects, DiagnosticArray, DiagnosticStatus, MarkerArray, TrackedObjects,
};
use fusionrt_bag::write::TopicId;
use fusionrt_bag::{BagWriter, RosMessage};
use fusionrt_runtime::{Output, Results, Sink, SinkError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Tracks topic (Autoware's name).
pub const TRACKS_TOPIC: &str = "/perception/object_recognition/tracking/objects";
/// Fused objects topic (Autoware's name).
pub const OBJECTS_TOPIC: &str = "/perception/object_recognition/detection/objects";
/// Markers topic.
pub const MARKERS_TOPIC: &str = "/fusionrt/markers";
/// Diagnostics topic.
pub const DIAGNOSTICS_TOPIC: &str = "/diagnostics";

/// Deterministic per-sweep counters (no timings).
pub fn sweep_diagnostics(output: &Output) -> DiagnosticArray {
    let with_camera = output
        .fused
        .iter()
        .filter(|o| o.support.has_camera())
        .count();
    let mut values = vec![
        ("sweep".to_string(), output.sweep.to_string()),
        ("sweep_stamp_ns".to_string(), output.stamp_ns.to_string()),
        ("points".to_string(), output.cloud.data.len().to_string()),
        ("fused_objects".to_string(), output.fused.len().to_string()),
        ("fused_with_camera".to_string(), with_camera.to_string()),
        (
            "tracks_published".to_string(),
            output.tracks.len().to_string(),
        ),
        (
            "camera_frames".to_string(),
            output.camera_frames.len().to_string(),
        ),
    ];
    for f in &output.camera_frames {
        values.push((
            format!("camera{}_frame_age_ms", f.camera_index),
            format!("{:.3}", (output.stamp_ns - f.stamp_ns) as f64 * 1e-6),
        ));
        values.push((
            format!("camera{}_detections", f.camera_index),
            f.detections.len().to_string(),
        ));
    }
    DiagnosticArray {
        stamp_ns: output.stamp_ns,
        frame_id: String::new(),
        status: vec![DiagnosticStatus {
            level: 0,
            name: "fusionrt: pipeline".into(),
            message: "per-sweep counters (timings: report.json)".into(),
            hardware_id: "fusionrt".into(),
            values,
        }],
    }
}

/// Writes `output.mcap`; see the module doc.
pub struct McapSink {
    path: PathBuf,
    writer: Option<BagWriter>,
    tracks: TopicId,
    objects: TopicId,
    markers: TopicId,
    diagnostics: TopicId,
    tap: Option<InputTap>,
    inputs: BTreeMap<String, Option<TopicId>>,
    inputs_written: u64,
    inputs_not_written: u64,
    sweeps: u64,
}

impl McapSink {
    /// Creates `path` (a new `.mcap` file) with the output topics; `tap` records inputs.
    pub fn create(path: &Path, tap: Option<InputTap>) -> Result<Self, SinkError> {
        let error = |e: fusionrt_bag::BagError| SinkError {
            sink: path.display().to_string(),
            message: e.to_string(),
        };
        let mut writer = BagWriter::create_file(path).map_err(error)?;
        let tracks = writer
            .add_topic(TRACKS_TOPIC, TrackedObjects::TYPE_NAME)
            .map_err(error)?;
        let objects = writer
            .add_topic(OBJECTS_TOPIC, DetectedObjects::TYPE_NAME)
            .map_err(error)?;
        let markers = writer
            .add_topic(MARKERS_TOPIC, MarkerArray::TYPE_NAME)
            .map_err(error)?;
        let diagnostics = writer
            .add_topic(DIAGNOSTICS_TOPIC, DiagnosticArray::TYPE_NAME)
            .map_err(error)?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: Some(writer),
            tracks,
            objects,
            markers,
            diagnostics,
            tap,
            inputs: BTreeMap::new(),
            inputs_written: 0,
            inputs_not_written: 0,
            sweeps: 0,
        })
    }

    fn error(&self, e: impl std::fmt::Display) -> SinkError {
        SinkError {
            sink: self.path.display().to_string(),
            message: e.to_string(),
        }
    }

    fn writer(&mut self) -> Result<&mut BagWriter, SinkError> {
        let path = self.path.display().to_string();
        self.writer.as_mut().ok_or_else(|| SinkError {
            sink: path,
            message: "written after finish".into(),
        })
    }

    /// Writes the inputs waiting in the tap.
    fn record_inputs(&mut self) -> Result<(), SinkError> {
        let Some(tap) = self.tap.clone() else {
            return Ok(());
        };
        for m in drain_tap(&tap) {
            let topic = match self.inputs.get(&m.topic) {
                Some(t) => *t,
                None => {
                    // A type without a schema (none of those the source reads) is not recorded.
                    let t = self.writer()?.add_topic(&m.topic, &m.type_name).ok();
                    if t.is_none() {
                        tracing::warn!(topic = m.topic.as_str(), "input not recorded: no schema");
                    }
                    self.inputs.insert(m.topic.clone(), t);
                    t
                }
            };
            match topic {
                Some(t) => {
                    let result = self.writer()?.write(t, m.stamp_ns, &m.data);
                    result.map_err(|e| self.error(e))?;
                    self.inputs_written += 1;
                }
                None => self.inputs_not_written += 1,
            }
        }
        Ok(())
    }
}

impl Sink for McapSink {
    fn publish(&mut self, output: &Output) -> Result<(), SinkError> {
        self.record_inputs()?;
        let stamp = output.stamp_ns;
        let frame = &*output.frame_id;
        let (tracks, objects, markers, diagnostics) =
            (self.tracks, self.objects, self.markers, self.diagnostics);
        let w = self.writer()?;
        let result = w
            .write_msg(
                tracks,
                stamp,
                &tracked_objects(stamp, frame, &output.tracks),
            )
            .and_then(|()| {
                w.write_msg(
                    objects,
                    stamp,
                    &detected_objects(stamp, frame, &output.fused),
                )
            })
            .and_then(|()| {
                w.write_msg(markers, stamp, &track_markers(stamp, frame, &output.tracks))
            })
            .and_then(|()| w.write_msg(diagnostics, stamp, &sweep_diagnostics(output)));
        result.map_err(|e| self.error(e))?;
        self.sweeps += 1;
        Ok(())
    }

    fn finish(&mut self, results: &mut Results) -> Result<(), SinkError> {
        self.record_inputs()?;
        if let Some(w) = self.writer.take() {
            w.finish().map_err(|e| self.error(e))?;
        }
        results.insert("mcap_sweeps".into(), self.sweeps.into());
        if self.tap.is_some() {
            results.insert("mcap_inputs_recorded".into(), self.inputs_written.into());
            results.insert(
                "mcap_inputs_not_recorded".into(),
                self.inputs_not_written.into(),
            );
        }
        Ok(())
    }
}
