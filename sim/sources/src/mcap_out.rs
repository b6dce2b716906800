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
use fusionrt_bag::msgs::outputs::{
    DetectedObject, DetectedObjectKinematics, DetectedObjects, DiagnosticArray, DiagnosticStatus,
    Marker, MarkerArray, ObjectClassification, PoseWithCovariance, Shape, TrackedObject,
    TrackedObjectKinematics, TrackedObjects, VectorPairWithCovariance,
};
use fusionrt_bag::write::TopicId;
use fusionrt_bag::{BagWriter, RosMessage};
use fusionrt_core::{Box3, ClassProbs, ObjectClass, Track, TrackState};
use fusionrt_runtime::{Output, Results, Sink, SinkError};
use nalgebra::{Matrix6, Vector3};
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

/// Autoware's `ObjectClassification` label of a class.
pub fn autoware_label(class: ObjectClass) -> u8 {
    match class {
        ObjectClass::Unknown => 0,
        ObjectClass::Car => 1,
        ObjectClass::Truck => 2,
        ObjectClass::Bus => 3,
        ObjectClass::Motorcycle => 5,
        ObjectClass::Bicycle => 6,
        ObjectClass::Pedestrian => 7,
    }
}

fn yaw_quaternion(yaw_rad: f64) -> [f64; 4] {
    let half = 0.5 * yaw_rad;
    [0.0, 0.0, half.sin(), half.cos()]
}

fn row_major(m: &Matrix6<f64>) -> [f64; 36] {
    let mut out = [0.0; 36];
    for r in 0..6 {
        for c in 0..6 {
            out[r * 6 + c] = m[(r, c)];
        }
    }
    out
}

fn classes(probs: &ClassProbs) -> Vec<ObjectClassification> {
    let mut out: Vec<ObjectClassification> = ObjectClass::ALL
        .iter()
        .map(|&c| ObjectClassification {
            label: autoware_label(c),
            probability: probs.get(c),
        })
        .filter(|c| c.probability > 0.0)
        .collect();
    if out.is_empty() {
        out.push(ObjectClassification {
            label: 0,
            probability: 1.0,
        });
    }
    out
}

fn pose(b: &Box3, covariance: [f64; 36]) -> PoseWithCovariance {
    PoseWithCovariance {
        position_m: b.center.into(),
        orientation_xyzw: yaw_quaternion(b.yaw_rad),
        covariance,
    }
}

fn box_shape(b: &Box3) -> Shape {
    Shape {
        shape_type: 0,
        footprint_m: Vec::new(),
        dimensions_m: b.size.into(),
    }
}

/// A velocity in the object's own frame (x along its heading), as Autoware's twist is.
fn object_velocity(b: &Box3, v: &Vector3<f64>) -> [f64; 3] {
    let (s, c) = b.yaw_rad.sin_cos();
    [c * v.x + s * v.y, -s * v.x + c * v.y, v.z]
}

/// The tracks as `TrackedObjects`.
pub fn tracked_objects(stamp_ns: i64, frame_id: &str, tracks: &[Track]) -> TrackedObjects {
    TrackedObjects {
        stamp_ns,
        frame_id: frame_id.to_string(),
        objects: tracks
            .iter()
            .map(|t| TrackedObject {
                object_id: t.id.0.to_be_bytes(),
                existence_probability: t.existence_probability,
                classification: classes(&t.class_probs),
                kinematics: TrackedObjectKinematics {
                    pose_with_covariance: pose(&t.bbox, row_major(&t.pose_covariance)),
                    twist_with_covariance: VectorPairWithCovariance {
                        linear: object_velocity(&t.bbox, &t.velocity_mps),
                        angular: [0.0, 0.0, t.yaw_rate_rps],
                        covariance: row_major(&t.twist_covariance),
                    },
                    acceleration_with_covariance: VectorPairWithCovariance::default(),
                    orientation_availability: 1, // SIGN_UNKNOWN: a box's heading is ±π
                    is_stationary: t.velocity_mps.norm() < 0.5,
                },
                shape: box_shape(&t.bbox),
            })
            .collect(),
    }
}

/// The fused objects as `DetectedObjects`.
pub fn detected_objects(stamp_ns: i64, frame_id: &str, output: &Output) -> DetectedObjects {
    DetectedObjects {
        stamp_ns,
        frame_id: frame_id.to_string(),
        objects: output
            .fused
            .iter()
            .map(|o| DetectedObject {
                existence_probability: o.score,
                classification: classes(&o.class_probs),
                kinematics: DetectedObjectKinematics {
                    pose_with_covariance: pose(&o.bbox, [0.0; 36]),
                    has_position_covariance: false,
                    orientation_availability: 1,
                    twist_with_covariance: VectorPairWithCovariance::default(),
                    has_twist: false,
                    has_twist_covariance: false,
                },
                shape: box_shape(&o.bbox),
            })
            .collect(),
    }
}

/// Marker ids stay stable across sweeps: the track id's low 31 bits.
fn marker_id(track: &Track) -> i32 {
    (track.id.0 & 0x7fff_ffff) as i32
}

/// The tracks as markers: DELETEALL, then box, text and velocity arrow per track.
pub fn track_markers(stamp_ns: i64, frame_id: &str, tracks: &[Track]) -> MarkerArray {
    let base = Marker {
        stamp_ns,
        frame_id: frame_id.to_string(),
        ns: String::new(),
        id: 0,
        marker_type: 1,
        action: 0,
        position_m: [0.0; 3],
        orientation_xyzw: [0.0, 0.0, 0.0, 1.0],
        scale_m: [1.0; 3],
        color_rgba: [1.0; 4],
        lifetime_ns: 0,
        frame_locked: false,
        points_m: Vec::new(),
        colors_rgba: Vec::new(),
        text: String::new(),
    };
    let mut markers = vec![Marker {
        action: 3,
        ..base.clone()
    }];
    for t in tracks {
        let b = &t.bbox;
        let mut colour = t.class.colour_rgba();
        if t.state == TrackState::Tentative {
            colour[3] = 0.2;
        }
        let id = marker_id(t);
        markers.push(Marker {
            ns: "tracks".into(),
            id,
            marker_type: 1,
            position_m: b.center.into(),
            orientation_xyzw: yaw_quaternion(b.yaw_rad),
            scale_m: b.size.into(),
            color_rgba: colour,
            ..base.clone()
        });
        markers.push(Marker {
            ns: "track_ids".into(),
            id,
            marker_type: 9,
            position_m: [b.center.x, b.center.y, b.center.z + 0.5 * b.size.z + 0.5],
            scale_m: [0.0, 0.0, 0.8],
            color_rgba: [1.0, 1.0, 1.0, 1.0],
            text: format!("{:08x} {}", t.id.0 as u32, t.class.name()),
            ..base.clone()
        });
        let v = t.velocity_mps;
        markers.push(Marker {
            ns: "velocity".into(),
            id,
            marker_type: 0,
            scale_m: [0.2, 0.4, 0.4],
            color_rgba: [colour[0], colour[1], colour[2], 1.0],
            points_m: vec![b.center.into(), (b.center + v).into()],
            ..base.clone()
        });
    }
    MarkerArray { markers }
}

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
            .and_then(|()| w.write_msg(objects, stamp, &detected_objects(stamp, frame, output)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use fusionrt_core::TrackId;

    #[test]
    fn labels_follow_autoware() {
        assert_eq!(autoware_label(ObjectClass::Pedestrian), 7);
        assert_eq!(autoware_label(ObjectClass::Bicycle), 6);
        let q = yaw_quaternion(std::f64::consts::FRAC_PI_2);
        assert!((q[2] - q[3]).abs() < 1e-12);
    }

    #[test]
    fn a_track_gives_box_text_and_arrow_after_deleteall() {
        let track = Track {
            id: TrackId(0x1234_5678_9abc),
            class: ObjectClass::Car,
            bbox: Box3 {
                center: Vector3::new(10.0, 0.0, 1.0),
                size: Vector3::new(4.0, 2.0, 1.5),
                yaw_rad: std::f64::consts::FRAC_PI_2,
            },
            velocity_mps: Vector3::new(0.0, 5.0, 0.0),
            state: TrackState::Confirmed,
            class_probs: ClassProbs::one_hot(ObjectClass::Car),
            existence_probability: 0.9,
            yaw_rate_rps: 0.0,
            pose_covariance: Matrix6::identity(),
            twist_covariance: Matrix6::identity(),
            age_ns: 0,
            hits: 3,
            frames_since_update: 0,
            score: 0.8,
            camera_box: None,
            stamp_ns: 7,
        };
        let m = track_markers(7, "velodyne", &[track]);
        assert_eq!(m.markers.len(), 4);
        assert_eq!(m.markers[0].action, 3);
        assert_eq!(m.markers[1].id, 0x5678_9abc);
        assert!(m.markers[2].text.ends_with("car"), "{}", m.markers[2].text);
        assert_eq!(m.markers[3].points_m[1], [10.0, 5.0, 1.0]);
        let t = tracked_objects(7, "velodyne", &[track]);
        // Heading along +y: the velocity is forward in the object's frame.
        let v = t.objects[0].kinematics.twist_with_covariance.linear;
        assert!((v[0] - 5.0).abs() < 1e-9 && v[1].abs() < 1e-9, "{v:?}");
    }
}
