//! What the pipeline publishes, as CDR: `autoware_perception_msgs` DetectedObjects and
//! TrackedObjects (1.12.0 definitions), `visualization_msgs/MarkerArray` and
//! `diagnostic_msgs/DiagnosticArray`.
//!
//! The structs mirror the messages field for field (units in the names); turning fusionrt's
//! obstacles and tracks into them is the job of whoever publishes them.

use super::{RosMessage, write_header, write_time};
use crate::cdr::CdrWriter;

/// `autoware_perception_msgs/ObjectClassification`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObjectClassification {
    /// `UNKNOWN=0 CAR=1 TRUCK=2 BUS=3 TRAILER=4 MOTORCYCLE=5 BICYCLE=6 PEDESTRIAN=7 ...`.
    pub label: u8,
    /// Probability of the label, 0..1.
    pub probability: f32,
}

/// `geometry_msgs/PoseWithCovariance`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoseWithCovariance {
    /// Position, m.
    pub position_m: [f64; 3],
    /// Orientation quaternion `[x, y, z, w]`.
    pub orientation_xyzw: [f64; 4],
    /// 6x6 row-major covariance.
    pub covariance: [f64; 36],
}

impl Default for PoseWithCovariance {
    fn default() -> Self {
        Self {
            position_m: [0.0; 3],
            orientation_xyzw: [0.0, 0.0, 0.0, 1.0],
            covariance: [0.0; 36],
        }
    }
}

/// `geometry_msgs/TwistWithCovariance` (or, with m/s², `AccelWithCovariance`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VectorPairWithCovariance {
    /// Linear part (m/s for a twist, m/s² for an acceleration).
    pub linear: [f64; 3],
    /// Angular part (rad/s, rad/s²).
    pub angular: [f64; 3],
    /// 6x6 row-major covariance.
    pub covariance: [f64; 36],
}

impl Default for VectorPairWithCovariance {
    fn default() -> Self {
        Self {
            linear: [0.0; 3],
            angular: [0.0; 3],
            covariance: [0.0; 36],
        }
    }
}

/// `autoware_perception_msgs/Shape`.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// `BOUNDING_BOX=0 CYLINDER=1 POLYGON=2`.
    pub shape_type: u8,
    /// Footprint polygon (for POLYGON), m, `geometry_msgs/Point32`.
    pub footprint_m: Vec<[f32; 3]>,
    /// Box: length (x), width (y), height (z), m.
    pub dimensions_m: [f64; 3],
}

/// `autoware_perception_msgs/DetectedObjectKinematics`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DetectedObjectKinematics {
    /// Pose in the message frame.
    pub pose_with_covariance: PoseWithCovariance,
    /// Whether the position covariance is filled.
    pub has_position_covariance: bool,
    /// `UNAVAILABLE=0 SIGN_UNKNOWN=1 AVAILABLE=2`.
    pub orientation_availability: u8,
    /// Twist, m/s and rad/s.
    pub twist_with_covariance: VectorPairWithCovariance,
    /// Whether the twist is filled.
    pub has_twist: bool,
    /// Whether the twist covariance is filled.
    pub has_twist_covariance: bool,
}

/// `autoware_perception_msgs/DetectedObject`.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectedObject {
    /// Existence probability, 0..1.
    pub existence_probability: f32,
    /// Class hypotheses.
    pub classification: Vec<ObjectClassification>,
    /// Pose and twist.
    pub kinematics: DetectedObjectKinematics,
    /// Shape.
    pub shape: Shape,
}

/// `autoware_perception_msgs/DetectedObjects`.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectedObjects {
    /// Stamp of the input the objects come from, ns.
    pub stamp_ns: i64,
    /// Frame of the poses.
    pub frame_id: String,
    /// The objects.
    pub objects: Vec<DetectedObject>,
}

/// `autoware_perception_msgs/TrackedObjectKinematics`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TrackedObjectKinematics {
    /// Pose in the message frame.
    pub pose_with_covariance: PoseWithCovariance,
    /// Twist, m/s and rad/s.
    pub twist_with_covariance: VectorPairWithCovariance,
    /// Acceleration, m/s² and rad/s².
    pub acceleration_with_covariance: VectorPairWithCovariance,
    /// `UNAVAILABLE=0 SIGN_UNKNOWN=1 AVAILABLE=2`.
    pub orientation_availability: u8,
    /// True for an object that does not move.
    pub is_stationary: bool,
}

/// `autoware_perception_msgs/TrackedObject`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedObject {
    /// `unique_identifier_msgs/UUID`.
    pub object_id: [u8; 16],
    /// Existence probability, 0..1.
    pub existence_probability: f32,
    /// Class hypotheses.
    pub classification: Vec<ObjectClassification>,
    /// Pose, twist and acceleration.
    pub kinematics: TrackedObjectKinematics,
    /// Shape.
    pub shape: Shape,
}

/// `autoware_perception_msgs/TrackedObjects`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedObjects {
    /// Stamp of the input the tracks were updated with, ns.
    pub stamp_ns: i64,
    /// Frame of the poses.
    pub frame_id: String,
    /// The tracks.
    pub objects: Vec<TrackedObject>,
}

fn write_pose(w: &mut CdrWriter, position_m: &[f64; 3], orientation_xyzw: &[f64; 4]) {
    w.f64_array(position_m);
    w.f64_array(orientation_xyzw);
}

fn write_pose_cov(w: &mut CdrWriter, p: &PoseWithCovariance) {
    write_pose(w, &p.position_m, &p.orientation_xyzw);
    w.f64_array(&p.covariance);
}

fn write_pair_cov(w: &mut CdrWriter, t: &VectorPairWithCovariance) {
    w.f64_array(&t.linear);
    w.f64_array(&t.angular);
    w.f64_array(&t.covariance);
}

fn write_classes(w: &mut CdrWriter, classes: &[ObjectClassification]) {
    w.seq_len(classes.len());
    for c in classes {
        w.u8(c.label);
        w.f32(c.probability);
    }
}

fn write_shape(w: &mut CdrWriter, s: &Shape) {
    w.u8(s.shape_type);
    w.seq_len(s.footprint_m.len());
    for p in &s.footprint_m {
        w.f32(p[0]);
        w.f32(p[1]);
        w.f32(p[2]);
    }
    w.f64_array(&s.dimensions_m);
}

impl RosMessage for DetectedObjects {
    const TYPE_NAME: &'static str = "autoware_perception_msgs/msg/DetectedObjects";
    fn encode_fields(&self, w: &mut CdrWriter) {
        write_header(w, self.stamp_ns, &self.frame_id);
        w.seq_len(self.objects.len());
        for o in &self.objects {
            w.f32(o.existence_probability);
            write_classes(w, &o.classification);
            let k = &o.kinematics;
            write_pose_cov(w, &k.pose_with_covariance);
            w.bool(k.has_position_covariance);
            w.u8(k.orientation_availability);
            write_pair_cov(w, &k.twist_with_covariance);
            w.bool(k.has_twist);
            w.bool(k.has_twist_covariance);
            write_shape(w, &o.shape);
        }
    }
}

impl RosMessage for TrackedObjects {
    const TYPE_NAME: &'static str = "autoware_perception_msgs/msg/TrackedObjects";
    fn encode_fields(&self, w: &mut CdrWriter) {
        write_header(w, self.stamp_ns, &self.frame_id);
        w.seq_len(self.objects.len());
        for o in &self.objects {
            for b in o.object_id {
                w.u8(b);
            }
            w.f32(o.existence_probability);
            write_classes(w, &o.classification);
            let k = &o.kinematics;
            write_pose_cov(w, &k.pose_with_covariance);
            write_pair_cov(w, &k.twist_with_covariance);
            write_pair_cov(w, &k.acceleration_with_covariance);
            w.u8(k.orientation_availability);
            w.bool(k.is_stationary);
            write_shape(w, &o.shape);
        }
    }
}

/// `visualization_msgs/Marker` (the fields fusionrt fills; texture and mesh are written empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Stamp, ns.
    pub stamp_ns: i64,
    /// Frame of the pose and points.
    pub frame_id: String,
    /// Namespace.
    pub ns: String,
    /// Id inside the namespace.
    pub id: i32,
    /// `ARROW=0 CUBE=1 SPHERE=2 CYLINDER=3 LINE_STRIP=4 LINE_LIST=5 ... TEXT_VIEW_FACING=9`.
    pub marker_type: i32,
    /// `ADD=0 DELETE=2 DELETEALL=3`.
    pub action: i32,
    /// Position, m.
    pub position_m: [f64; 3],
    /// Orientation `[x, y, z, w]`.
    pub orientation_xyzw: [f64; 4],
    /// Scale, m.
    pub scale_m: [f64; 3],
    /// Colour `[r, g, b, a]`, 0..1.
    pub color_rgba: [f32; 4],
    /// Lifetime, ns (0 = forever).
    pub lifetime_ns: i64,
    /// Whether the marker moves with its frame.
    pub frame_locked: bool,
    /// Points for lines and lists, m.
    pub points_m: Vec<[f64; 3]>,
    /// Per-point colours (empty or one per point).
    pub colors_rgba: Vec<[f32; 4]>,
    /// Text for TEXT_VIEW_FACING.
    pub text: String,
}

/// `visualization_msgs/MarkerArray`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MarkerArray {
    /// The markers.
    pub markers: Vec<Marker>,
}

fn write_color(w: &mut CdrWriter, c: &[f32; 4]) {
    for v in c {
        w.f32(*v);
    }
}

impl RosMessage for MarkerArray {
    const TYPE_NAME: &'static str = "visualization_msgs/msg/MarkerArray";
    fn encode_fields(&self, w: &mut CdrWriter) {
        w.seq_len(self.markers.len());
        for m in &self.markers {
            write_header(w, m.stamp_ns, &m.frame_id);
            w.string(&m.ns);
            w.i32(m.id);
            w.i32(m.marker_type);
            w.i32(m.action);
            write_pose(w, &m.position_m, &m.orientation_xyzw);
            w.f64_array(&m.scale_m);
            write_color(w, &m.color_rgba);
            write_time(w, m.lifetime_ns); // builtin_interfaces/Duration has the same layout
            w.bool(m.frame_locked);
            w.seq_len(m.points_m.len());
            for p in &m.points_m {
                w.f64_array(p);
            }
            w.seq_len(m.colors_rgba.len());
            for c in &m.colors_rgba {
                write_color(w, c);
            }
            w.string(""); // texture_resource
            write_header(w, 0, ""); // texture: sensor_msgs/CompressedImage
            w.string("");
            w.bytes(&[]);
            w.seq_len(0); // uv_coordinates
            w.string(&m.text);
            w.string(""); // mesh_resource
            w.string(""); // mesh_file.filename
            w.bytes(&[]); // mesh_file.data
            w.bool(false); // mesh_use_embedded_materials
        }
    }
}

/// `diagnostic_msgs/DiagnosticStatus`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiagnosticStatus {
    /// `OK=0 WARN=1 ERROR=2 STALE=3`.
    pub level: u8,
    /// Component name, e.g. `fusionrt: lidar`.
    pub name: String,
    /// One-line summary.
    pub message: String,
    /// Hardware id (may be empty).
    pub hardware_id: String,
    /// Key/value pairs, in order.
    pub values: Vec<(String, String)>,
}

/// `diagnostic_msgs/DiagnosticArray`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiagnosticArray {
    /// Stamp, ns.
    pub stamp_ns: i64,
    /// Frame (usually empty).
    pub frame_id: String,
    /// One status per component.
    pub status: Vec<DiagnosticStatus>,
}

impl RosMessage for DiagnosticArray {
    const TYPE_NAME: &'static str = "diagnostic_msgs/msg/DiagnosticArray";
    fn encode_fields(&self, w: &mut CdrWriter) {
        write_header(w, self.stamp_ns, &self.frame_id);
        w.seq_len(self.status.len());
        for s in &self.status {
            w.u8(s.level);
            w.string(&s.name);
            w.string(&s.message);
            w.string(&s.hardware_id);
            w.seq_len(s.values.len());
            for (k, v) in &s.values {
                w.string(k);
                w.string(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdr::CdrReader;
    use crate::msgs::read_header;

    #[test]
    fn tracked_objects_lay_out_as_the_message_definition() {
        let msg = TrackedObjects {
            stamp_ns: 1_000_000_005,
            frame_id: "base_link".into(),
            objects: vec![TrackedObject {
                object_id: [7; 16],
                existence_probability: 0.9,
                classification: vec![ObjectClassification {
                    label: 1,
                    probability: 0.8,
                }],
                kinematics: TrackedObjectKinematics::default(),
                shape: Shape {
                    shape_type: 0,
                    footprint_m: vec![],
                    dimensions_m: [4.5, 1.8, 1.5],
                },
            }],
        };
        let data = msg.to_cdr();
        let mut r = CdrReader::new(&data).unwrap();
        assert_eq!(read_header(&mut r).unwrap().1, "base_link");
        assert_eq!(r.u32("objects").unwrap(), 1);
        for _ in 0..16 {
            assert_eq!(r.u8("uuid").unwrap(), 7);
        }
        assert_eq!(r.f32("p").unwrap(), 0.9);
        assert_eq!(r.u32("classification").unwrap(), 1);
        assert_eq!(r.u8("label").unwrap(), 1);
        assert_eq!(r.f32("probability").unwrap(), 0.8);
        // pose 7 + cov 36, twist 6 + 36, accel 6 + 36 doubles.
        for _ in 0..(7 + 36 + 42 + 42) {
            r.f64("kinematics").unwrap();
        }
        assert_eq!(r.u8("orientation_availability").unwrap(), 0);
        assert!(!r.bool("is_stationary").unwrap());
        assert_eq!(r.u8("shape.type").unwrap(), 0);
        assert_eq!(r.u32("footprint").unwrap(), 0);
        assert_eq!(r.f64_array::<3>("dimensions").unwrap(), [4.5, 1.8, 1.5]);
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn diagnostics_lay_out_as_the_message_definition() {
        let msg = DiagnosticArray {
            stamp_ns: 5,
            frame_id: String::new(),
            status: vec![DiagnosticStatus {
                level: 1,
                name: "fusionrt: lidar".into(),
                message: "2 misses".into(),
                hardware_id: String::new(),
                values: vec![("processing_time_ms".into(), "3.2".into())],
            }],
        };
        let data = msg.to_cdr();
        let mut r = CdrReader::new(&data).unwrap();
        read_header(&mut r).unwrap();
        assert_eq!(r.u32("status").unwrap(), 1);
        assert_eq!(r.u8("level").unwrap(), 1);
        assert_eq!(r.string("name").unwrap(), "fusionrt: lidar");
        assert_eq!(r.string("message").unwrap(), "2 misses");
        assert_eq!(r.string("hardware_id").unwrap(), "");
        assert_eq!(r.u32("values").unwrap(), 1);
        assert_eq!(r.string("key").unwrap(), "processing_time_ms");
        assert_eq!(r.string("value").unwrap(), "3.2");
        assert_eq!(r.remaining(), 0);
    }
}
