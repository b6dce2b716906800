//! What perception produces: classes, 2D detections, 3D obstacles, fused objects and tracks.
//!
//! Field names follow Autoware's `autoware_perception_msgs` (existence probability,
//! classification, kinematics with covariance, shape) so AV engineers find what they expect.

use crate::geometry::{BBox2, Box3};
use nalgebra::{Matrix6, Vector3};
use serde::{Deserialize, Serialize};

/// Number of perception classes.
pub const NUM_CLASSES: usize = 7;

/// Perception classes (Autoware's set without trailer). `Bicycle` is a cyclist: rider and bike.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ObjectClass {
    /// No class known (e.g. lidar only).
    #[default]
    Unknown = 0,
    /// Passenger car or van.
    Car = 1,
    /// Truck.
    Truck = 2,
    /// Bus.
    Bus = 3,
    /// Pedestrian.
    Pedestrian = 4,
    /// Bicycle with rider (cyclist).
    Bicycle = 5,
    /// Motorcycle with rider.
    Motorcycle = 6,
}

impl ObjectClass {
    /// All classes, in index order.
    pub const ALL: [ObjectClass; NUM_CLASSES] = [
        Self::Unknown,
        Self::Car,
        Self::Truck,
        Self::Bus,
        Self::Pedestrian,
        Self::Bicycle,
        Self::Motorcycle,
    ];

    /// Index into [`ClassProbs`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Lower-case name, as in config and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Car => "car",
            Self::Truck => "truck",
            Self::Bus => "bus",
            Self::Pedestrian => "pedestrian",
            Self::Bicycle => "bicycle",
            Self::Motorcycle => "motorcycle",
        }
    }

    /// True for car, truck and bus.
    pub fn is_vehicle(self) -> bool {
        matches!(self, Self::Car | Self::Truck | Self::Bus)
    }

    /// The class's colour in visualisations (MCAP markers, the live Foxglove view),
    /// `[r, g, b, a]` in `[0, 1]`, half transparent.
    pub fn colour_rgba(self) -> [f32; 4] {
        match self {
            Self::Unknown => [0.6, 0.6, 0.6, 0.5],
            Self::Car => [0.1, 0.5, 1.0, 0.5],
            Self::Truck => [0.0, 0.8, 0.8, 0.5],
            Self::Bus => [0.6, 0.3, 1.0, 0.5],
            Self::Pedestrian => [1.0, 0.2, 0.2, 0.5],
            Self::Bicycle => [1.0, 0.8, 0.0, 0.5],
            Self::Motorcycle => [1.0, 0.5, 0.0, 0.5],
        }
    }
}

impl std::fmt::Display for ObjectClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A probability per class, indexed by [`ObjectClass::index`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassProbs(pub [f32; NUM_CLASSES]);

impl ClassProbs {
    /// All mass on one class.
    pub fn one_hot(class: ObjectClass) -> Self {
        let mut p = [0.0; NUM_CLASSES];
        p[class.index()] = 1.0;
        Self(p)
    }

    /// The most probable class and its probability (lowest index wins ties).
    pub fn argmax(&self) -> (ObjectClass, f32) {
        let mut best = (ObjectClass::Unknown, self.0[0]);
        for class in ObjectClass::ALL.iter().skip(1) {
            let p = self.0[class.index()];
            if p > best.1 {
                best = (*class, p);
            }
        }
        best
    }

    /// Probability of one class.
    pub fn get(&self, class: ObjectClass) -> f32 {
        self.0[class.index()]
    }
}

/// One detection in one camera image.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Detection2D {
    /// Box in the image's pixels.
    pub bbox: BBox2,
    /// Perception class.
    pub class: ObjectClass,
    /// Detector's class id before mapping (e.g. the COCO index), `u16::MAX` when none.
    pub source_class_id: u16,
    /// Confidence in `[0, 1]`.
    pub score: f32,
}

/// The detections of one camera frame.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CameraDetections {
    /// Index of the camera in the pipeline's camera list.
    pub camera_index: usize,
    /// Exposure time of the image, ns.
    pub stamp_ns: i64,
    /// Detections.
    pub detections: Vec<Detection2D>,
}

/// A 3D obstacle candidate from the lidar stage, in the lidar frame.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Obstacle3D {
    /// Oriented box around the cluster.
    pub bbox: Box3,
    /// Number of lidar points in the cluster.
    pub num_points: u32,
    /// Confidence in `[0, 1]` that this is a real obstacle.
    pub score: f32,
    /// Class distribution from the lidar alone (cluster shape and point statistics); all zero
    /// (argmax `Unknown`) when the lidar stage does not classify.
    #[serde(default)]
    pub class_probs: ClassProbs,
}

/// Which sensors support an object: the lidar and a bit mask of camera indices (up to 8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorSupport {
    /// A lidar cluster supports the object.
    pub lidar: bool,
    /// Bit `i` set: camera `i` has a matching detection.
    pub camera_mask: u8,
}

impl SensorSupport {
    /// True when at least one camera supports the object.
    pub fn has_camera(&self) -> bool {
        self.camera_mask != 0
    }
}

/// A classified 3D object out of fusion: the tracker's input.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FusedObject {
    /// Oriented box, in the frame the pipeline tracks in.
    pub bbox: Box3,
    /// Most probable class.
    pub class: ObjectClass,
    /// Class distribution.
    pub class_probs: ClassProbs,
    /// Detection confidence in `[0, 1]`.
    pub score: f32,
    /// Which sensors support it.
    pub support: SensorSupport,
    /// The supporting camera box (camera index, box), carried to outputs such as KITTI files.
    pub camera_box: Option<(usize, BBox2)>,
}

/// A 128-bit track id: stable for the life of the track, unique across runs with distinct seeds.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct TrackId(pub u128);

impl std::fmt::Display for TrackId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// Life-cycle state of a track.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackState {
    /// Seen, not yet confirmed.
    Tentative,
    /// Confirmed and updated this frame.
    Confirmed,
    /// Confirmed, but predicted without a detection this frame.
    Coasting,
}

/// A tracked object: what the planner consumes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// Stable id.
    pub id: TrackId,
    /// Life-cycle state.
    pub state: TrackState,
    /// Most probable class.
    pub class: ObjectClass,
    /// Class distribution.
    pub class_probs: ClassProbs,
    /// Probability that the object exists, `[0, 1]`.
    pub existence_probability: f32,
    /// Oriented box (pose and shape).
    pub bbox: Box3,
    /// Velocity, m/s, in the tracking frame.
    pub velocity_mps: Vector3<f64>,
    /// Yaw rate, rad/s.
    pub yaw_rate_rps: f64,
    /// Pose covariance (x, y, z, roll, pitch, yaw), as in `geometry_msgs/PoseWithCovariance`.
    pub pose_covariance: Matrix6<f64>,
    /// Twist covariance (vx, vy, vz, wx, wy, wz), as in `geometry_msgs/TwistWithCovariance`.
    pub twist_covariance: Matrix6<f64>,
    /// Time since the first detection, ns.
    pub age_ns: i64,
    /// Number of detections associated so far.
    pub hits: u32,
    /// Frames since the last associated detection.
    pub frames_since_update: u32,
    /// Score of the last associated detection.
    pub score: f32,
    /// The last associated camera box, if any (carried to KITTI output).
    pub camera_box: Option<(usize, BBox2)>,
    /// Stamp of the state, ns.
    pub stamp_ns: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_and_one_hot() {
        let p = ClassProbs::one_hot(ObjectClass::Pedestrian);
        assert_eq!(p.argmax(), (ObjectClass::Pedestrian, 1.0));
        assert_eq!(ClassProbs::default().argmax().0, ObjectClass::Unknown);
    }

    #[test]
    fn class_names_round_trip_through_serde() {
        for c in ObjectClass::ALL {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.name()));
            let back: ObjectClass = serde_json::from_str(&json).unwrap();
            assert_eq!(back, c);
        }
    }

    #[test]
    fn track_id_prints_as_32_hex_digits() {
        assert_eq!(TrackId(255).to_string().len(), 32);
    }
}
