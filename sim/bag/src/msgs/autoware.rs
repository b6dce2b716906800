//! fusionrt's tracks and fused objects as the messages a planner and a viewer read: Autoware's
//! `autoware_perception_msgs` TrackedObjects and DetectedObjects, and a `visualization_msgs`
//! MarkerArray. The one conversion shared by the ROS 2 node (`fusionrt_node`) and replay's
//! `output.mcap`.
//!
//! - Classes map onto Autoware's labels ([`autoware_label`]); every object carries its class
//!   distribution, most probable first.
//! - Poses are the box centres with the yaw as a quaternion; a box's heading is known up to ±π
//!   (`orientation_availability` SIGN_UNKNOWN). A track's velocity goes into the twist in the
//!   object's own frame, as Autoware's is; tracks slower than 0.5 m/s are `is_stationary`.
//! - Markers: a DELETEALL, then per track a box in its class colour (faint while tentative), its
//!   id and class as text, and a velocity arrow; marker ids are the track id's low 31 bits, stable
//!   across sweeps.

use super::outputs::{
    DetectedObject, DetectedObjectKinematics, DetectedObjects, Marker, MarkerArray,
    ObjectClassification, PoseWithCovariance, Shape, TrackedObject, TrackedObjectKinematics,
    TrackedObjects, VectorPairWithCovariance,
};
use fusionrt_core::{Box3, ClassProbs, FusedObject, ObjectClass, Track, TrackState};
use nalgebra::{Matrix6, Vector3};

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

/// The class hypotheses, most probable first; `class` alone when the distribution is empty.
fn classification(class: ObjectClass, probs: &ClassProbs) -> Vec<ObjectClassification> {
    let mut out: Vec<ObjectClassification> = ObjectClass::ALL
        .iter()
        .map(|&c| ObjectClassification {
            label: autoware_label(c),
            probability: probs.get(c),
        })
        .filter(|c| c.probability > 0.0)
        .collect();
    out.sort_by(|a, b| b.probability.total_cmp(&a.probability));
    if out.is_empty() {
        out.push(ObjectClassification {
            label: autoware_label(class),
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
                classification: classification(t.class, &t.class_probs),
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

/// The fused objects (lidar, with camera classes where a camera saw them) as `DetectedObjects`.
pub fn detected_objects(stamp_ns: i64, frame_id: &str, fused: &[FusedObject]) -> DetectedObjects {
    DetectedObjects {
        stamp_ns,
        frame_id: frame_id.to_string(),
        objects: fused
            .iter()
            .map(|o| DetectedObject {
                existence_probability: o.score,
                classification: classification(o.class, &o.class_probs),
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

#[cfg(test)]
mod tests {
    use super::*;
    use fusionrt_core::TrackId;

    #[test]
    fn classification_is_sorted_and_never_empty() {
        let mut p = ClassProbs::one_hot(ObjectClass::Car);
        p.0[ObjectClass::Truck as usize] = 0.3;
        p.0[ObjectClass::Car as usize] = 0.7;
        let c = classification(ObjectClass::Car, &p);
        assert_eq!((c[0].label, c[1].label), (1, 2));
        let empty = classification(
            ObjectClass::Pedestrian,
            &ClassProbs([0.0; fusionrt_core::objects::NUM_CLASSES]),
        );
        assert_eq!(empty[0].label, 7);
    }

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
