//! One sweep's [`Output`] as the messages the node publishes: autoware_perception_msgs
//! TrackedObjects (the tracks) and DetectedObjects (the fused objects the tracker was given),
//! and a visualization_msgs MarkerArray (a box and a label per track). Every message carries the
//! sweep's stamp and the output's frame. fusionrt's classes map onto Autoware's labels.

use fusionrt_bag::msgs::outputs::{
    DetectedObject, DetectedObjectKinematics, DetectedObjects, Marker, MarkerArray,
    ObjectClassification, PoseWithCovariance, Shape, TrackedObject, TrackedObjectKinematics,
    TrackedObjects, VectorPairWithCovariance,
};
use fusionrt_core::{Box3, ClassProbs, ObjectClass};
use fusionrt_runtime::Output;

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

/// The class hypotheses, most probable first; the argmax alone when the distribution is empty.
fn classification(class: ObjectClass, probs: &ClassProbs) -> Vec<ObjectClassification> {
    let mut out: Vec<ObjectClassification> = ObjectClass::ALL
        .iter()
        .zip(probs.0.iter())
        .filter(|(_, p)| **p > 0.0)
        .map(|(c, p)| ObjectClassification {
            label: autoware_label(*c),
            probability: *p,
        })
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

fn yaw_quaternion(yaw_rad: f64) -> [f64; 4] {
    let h = yaw_rad * 0.5;
    [0.0, 0.0, h.sin(), h.cos()]
}

fn shape(b: &Box3) -> Shape {
    Shape {
        shape_type: 0,
        footprint_m: Vec::new(),
        dimensions_m: [b.size.x, b.size.y, b.size.z],
    }
}

fn matrix6(m: &nalgebra::Matrix6<f64>) -> [f64; 36] {
    let mut out = [0.0; 36];
    for r in 0..6 {
        for c in 0..6 {
            out[r * 6 + c] = m[(r, c)];
        }
    }
    out
}

/// The tracks the tracker published, stamped with the sweep.
pub fn tracked_objects(output: &Output) -> TrackedObjects {
    TrackedObjects {
        stamp_ns: output.stamp_ns,
        frame_id: output.frame_id.to_string(),
        objects: output
            .tracks
            .iter()
            .map(|t| {
                // The velocity is in the tracking frame; Autoware's twist is in the object frame.
                let (s, c) = t.bbox.yaw_rad.sin_cos();
                let v = &t.velocity_mps;
                TrackedObject {
                    object_id: t.id.0.to_be_bytes(),
                    existence_probability: t.existence_probability,
                    classification: classification(t.class, &t.class_probs),
                    kinematics: TrackedObjectKinematics {
                        pose_with_covariance: PoseWithCovariance {
                            position_m: [t.bbox.center.x, t.bbox.center.y, t.bbox.center.z],
                            orientation_xyzw: yaw_quaternion(t.bbox.yaw_rad),
                            covariance: matrix6(&t.pose_covariance),
                        },
                        twist_with_covariance: VectorPairWithCovariance {
                            linear: [c * v.x + s * v.y, -s * v.x + c * v.y, v.z],
                            angular: [0.0, 0.0, t.yaw_rate_rps],
                            covariance: matrix6(&t.twist_covariance),
                        },
                        acceleration_with_covariance: VectorPairWithCovariance::default(),
                        orientation_availability: 2,
                        is_stationary: false,
                    },
                    shape: shape(&t.bbox),
                }
            })
            .collect(),
    }
}

/// The fused objects the tracker was given, stamped with the sweep.
pub fn detected_objects(output: &Output) -> DetectedObjects {
    DetectedObjects {
        stamp_ns: output.stamp_ns,
        frame_id: output.frame_id.to_string(),
        objects: output
            .fused
            .iter()
            .map(|o| DetectedObject {
                existence_probability: o.score,
                classification: classification(o.class, &o.class_probs),
                kinematics: DetectedObjectKinematics {
                    pose_with_covariance: PoseWithCovariance {
                        position_m: [o.bbox.center.x, o.bbox.center.y, o.bbox.center.z],
                        orientation_xyzw: yaw_quaternion(o.bbox.yaw_rad),
                        covariance: [0.0; 36],
                    },
                    has_position_covariance: false,
                    orientation_availability: 1,
                    twist_with_covariance: VectorPairWithCovariance::default(),
                    has_twist: false,
                    has_twist_covariance: false,
                },
                shape: shape(&o.bbox),
            })
            .collect(),
    }
}

fn class_color(class: ObjectClass) -> [f32; 4] {
    match class {
        ObjectClass::Car | ObjectClass::Truck | ObjectClass::Bus => [0.1, 0.6, 1.0, 0.6],
        ObjectClass::Pedestrian => [1.0, 0.3, 0.2, 0.6],
        ObjectClass::Bicycle | ObjectClass::Motorcycle => [1.0, 0.8, 0.1, 0.6],
        ObjectClass::Unknown => [0.7, 0.7, 0.7, 0.6],
    }
}

/// A DELETEALL, then a box and a text label per track.
pub fn markers(output: &Output) -> MarkerArray {
    let base = |ns: &str, id: i32, marker_type: i32| Marker {
        stamp_ns: output.stamp_ns,
        frame_id: output.frame_id.to_string(),
        ns: ns.into(),
        id,
        marker_type,
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
    let mut markers = Vec::with_capacity(1 + 2 * output.tracks.len());
    markers.push(Marker {
        action: 3,
        ..base("", 0, 0)
    });
    for (i, t) in output.tracks.iter().enumerate() {
        let id = i32::try_from(i).unwrap_or(i32::MAX);
        let center = [t.bbox.center.x, t.bbox.center.y, t.bbox.center.z];
        markers.push(Marker {
            position_m: center,
            orientation_xyzw: yaw_quaternion(t.bbox.yaw_rad),
            scale_m: [t.bbox.size.x, t.bbox.size.y, t.bbox.size.z],
            color_rgba: class_color(t.class),
            ..base("tracks", id, 1)
        });
        markers.push(Marker {
            position_m: [center[0], center[1], center[2] + 0.5 * t.bbox.size.z + 0.5],
            scale_m: [0.0, 0.0, 0.8],
            text: format!("{} {:?}", &t.id.to_string()[..8], t.class),
            ..base("labels", id, 9)
        });
    }
    MarkerArray { markers }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_is_sorted_and_never_empty() {
        let mut p = ClassProbs::one_hot(ObjectClass::Car);
        p.0[ObjectClass::Truck as usize] = 0.3;
        p.0[ObjectClass::Car as usize] = 0.7;
        let c = classification(ObjectClass::Car, &p);
        assert_eq!(c[0].label, 1);
        assert_eq!(c[1].label, 2);
        let empty = classification(
            ObjectClass::Pedestrian,
            &ClassProbs([0.0; fusionrt_core::objects::NUM_CLASSES]),
        );
        assert_eq!(empty[0].label, 7);
    }
}
