//! Configuration of the late-fusion stage (YAML section `fusion`).

use fusionrt_core::config::{Check, Validate};
use serde::{Deserialize, Serialize};

/// Association gates for one group of classes.
///
/// A cluster's image ROI (its clipped, projected box corners) may match a detection when at
/// least `min_containment` of the ROI's area lies inside the detection box enlarged by
/// [`FusionConfig::detection_box_scale`]. A pair whose IoU is also at least `min_iou` may be the
/// detection's primary match; among those the assignment maximizes IoU. Other clusters that
/// pass the containment gate join a matched detection when near its primary (fragments). In a
/// fusion section read alone a gate is given whole (all four keys), as the defaults differ per
/// class; in the pipeline config a partial gate changes only the keys it names.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassGate {
    /// Minimum fraction of the cluster ROI inside the (enlarged) detection box, `[0, 1]`.
    pub min_containment: f32,
    /// Minimum IoU between the cluster ROI and the detection box for a primary match, `[0, 1]`.
    pub min_iou: f32,
    /// Clusters longer than this (BEV diagonal, m) cannot take this class.
    pub max_footprint_m: f64,
    /// Further clusters join a detection's primary cluster when their BEV centers lie within
    /// this distance of it, m (fragments of one object).
    pub merge_radius_m: f64,
}

impl ClassGate {
    /// Defaults for cars, trucks and buses.
    pub const VEHICLE: Self = Self {
        min_containment: 0.5,
        min_iou: 0.05,
        max_footprint_m: 20.0,
        merge_radius_m: 4.0,
    };
    /// Defaults for pedestrians.
    pub const PEDESTRIAN: Self = Self {
        min_containment: 0.5,
        min_iou: 0.05,
        max_footprint_m: 2.0,
        merge_radius_m: 0.8,
    };
    /// Defaults for cyclists and motorcyclists.
    pub const CYCLIST: Self = Self {
        min_containment: 0.5,
        min_iou: 0.05,
        max_footprint_m: 3.5,
        merge_radius_m: 1.5,
    };
}

/// Per-class association gates.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassGates {
    /// Car, truck, bus.
    pub vehicle: ClassGate,
    /// Pedestrian.
    pub pedestrian: ClassGate,
    /// Bicycle (cyclist) and motorcycle.
    pub cyclist: ClassGate,
}

impl Default for ClassGates {
    fn default() -> Self {
        Self {
            vehicle: ClassGate::VEHICLE,
            pedestrian: ClassGate::PEDESTRIAN,
            cyclist: ClassGate::CYCLIST,
        }
    }
}

/// The evidence a detection must have before it lends its class to a cluster (a primary match).
///
/// A pair that passed the gates is checked, in this order, by three rules; the first that fails
/// is counted in [`crate::CameraReport`] and the pair can then not be the detection's primary
/// match (it may still join a verified primary as a fragment, within the merge radius):
///
/// 1. **Depth consistency.** At the cluster's depth `z` (its centre in the camera's optical
///    frame) the detection box spans `h_px * z / fy` m high and `w_px * z / fx` m wide. The height
///    must lie within `max_size_ratio` of the class's typical height (`*_height_m`) either way
///    (only the upper bound for a box cut by the top or bottom image edge), the width may not
///    exceed `max_size_ratio` times the class's largest width (`*_max_width_m`), and the
///    cluster's own height may not exceed `max_size_ratio` times the box's height at that depth
///    (a tree or a wall behind a person). A car-sized box on a cluster twice too far or too near
///    fails.
/// 2. **Occluder.** Another cluster at least `occluder_min_gap_m` nearer to the camera whose
///    image ROI overlaps the detection box with an IoU of at least `occluder_min_iou` (the box is
///    that object's, not a part of its ROI), and at whose depth the box is consistent (rule 1),
///    explains the detection: the cluster behind does not get it.
/// 3. **Background.** The cluster's ROI covers less than `min_box_coverage` of the detection box,
///    or it holds fewer than `min_point_fill` of the points an object filling the box would
///    return (`lidar_points_per_sr` times the box's solid angle, about `w_px h_px / (fx fy)`):
///    a pole, a kerb or a far structure seen through the box.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvidenceConfig {
    /// Apply the three rules; off, every gated pair may be a primary match (as before).
    pub enabled: bool,
    /// Typical height of a car, m.
    pub car_height_m: f64,
    /// Typical height of a truck, m.
    pub truck_height_m: f64,
    /// Typical height of a bus, m.
    pub bus_height_m: f64,
    /// Typical height of a pedestrian, m.
    pub pedestrian_height_m: f64,
    /// Typical height of a cyclist or motorcyclist (with the rider), m.
    pub cyclist_height_m: f64,
    /// Largest width a car can show in the image (its length, seen side-on), m.
    pub car_max_width_m: f64,
    /// Largest width of a truck, m.
    pub truck_max_width_m: f64,
    /// Largest width of a bus, m.
    pub bus_max_width_m: f64,
    /// Largest width of a pedestrian, m.
    pub pedestrian_max_width_m: f64,
    /// Largest width of a cyclist or motorcyclist, m.
    pub cyclist_max_width_m: f64,
    /// Largest factor between the size a box implies at the cluster's depth and the class's
    /// typical size, either way (> 1).
    pub max_size_ratio: f64,
    /// A box edge this close to the image border is cut by it, px.
    pub truncation_margin_px: f32,
    /// An occluder is at least this much nearer to the camera than the cluster, m.
    pub occluder_min_gap_m: f64,
    /// ... and its ROI overlaps the detection box with at least this IoU, `[0, 1]`.
    pub occluder_min_iou: f32,
    /// The cluster's ROI covers at least this fraction of the detection box, `[0, 1]`.
    pub min_box_coverage: f32,
    /// Lidar returns per steradian on a surface that fills the view (sensor-specific; an
    /// HDL-64E at 10 Hz: about 0.19 deg x 0.42 deg per return, 40 000 / sr).
    pub lidar_points_per_sr: f64,
    /// The cluster holds at least this fraction of the returns an object filling the box would
    /// give, `[0, 1]`.
    pub min_point_fill: f64,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            car_height_m: 1.5,
            truck_height_m: 3.0,
            bus_height_m: 3.0,
            pedestrian_height_m: 1.7,
            cyclist_height_m: 1.7,
            car_max_width_m: 5.5,
            truck_max_width_m: 12.0,
            bus_max_width_m: 13.0,
            pedestrian_max_width_m: 1.2,
            cyclist_max_width_m: 2.2,
            max_size_ratio: 2.0,
            truncation_margin_px: 3.0,
            occluder_min_gap_m: 2.0,
            occluder_min_iou: 0.5,
            min_box_coverage: 0.1,
            lidar_points_per_sr: 40_000.0,
            min_point_fill: 0.05,
        }
    }
}

impl EvidenceConfig {
    /// Typical height and largest width of a class, m (`None` for `unknown`).
    pub fn class_size_m(&self, class: fusionrt_core::ObjectClass) -> Option<(f64, f64)> {
        use fusionrt_core::ObjectClass as C;
        match class {
            C::Car => Some((self.car_height_m, self.car_max_width_m)),
            C::Truck => Some((self.truck_height_m, self.truck_max_width_m)),
            C::Bus => Some((self.bus_height_m, self.bus_max_width_m)),
            C::Pedestrian => Some((self.pedestrian_height_m, self.pedestrian_max_width_m)),
            C::Bicycle | C::Motorcycle => Some((self.cyclist_height_m, self.cyclist_max_width_m)),
            C::Unknown => None,
        }
    }
}

impl Validate for EvidenceConfig {
    fn validate(&self, c: &mut Check) {
        for (name, v) in [
            ("car_height_m", self.car_height_m),
            ("truck_height_m", self.truck_height_m),
            ("bus_height_m", self.bus_height_m),
            ("pedestrian_height_m", self.pedestrian_height_m),
            ("cyclist_height_m", self.cyclist_height_m),
            ("car_max_width_m", self.car_max_width_m),
            ("truck_max_width_m", self.truck_max_width_m),
            ("bus_max_width_m", self.bus_max_width_m),
            ("pedestrian_max_width_m", self.pedestrian_max_width_m),
            ("cyclist_max_width_m", self.cyclist_max_width_m),
        ] {
            c.positive(name, v, 50.0);
        }
        c.range("max_size_ratio", self.max_size_ratio, 1.0, 100.0);
        c.non_negative("truncation_margin_px", self.truncation_margin_px, 1000.0);
        c.non_negative("occluder_min_gap_m", self.occluder_min_gap_m, 1000.0);
        // 0 would let any nearer cluster explain every box: no overlap needed.
        c.positive("occluder_min_iou", self.occluder_min_iou, 1.0);
        c.fraction("min_box_coverage", self.min_box_coverage);
        c.positive("lidar_points_per_sr", self.lidar_points_per_sr, 1e8);
        c.fraction("min_point_fill", self.min_point_fill);
    }
}

/// Configuration of [`crate::LateFusion`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FusionConfig {
    /// A camera frame pairs with a lidar sweep when their stamps differ by at most this, ns.
    pub tolerance_ns: i64,
    /// Box corners are clipped at this depth in front of each camera before projection, m.
    pub near_plane_m: f64,
    /// Detections below this score are ignored. Lower than a camera-only threshold: a detection
    /// only counts where a lidar cluster confirms it.
    pub min_detection_score: f32,
    /// Detection boxes are scaled about their center by this factor for the containment gate.
    pub detection_box_scale: f32,
    /// Per-class gates.
    pub gates: ClassGates,
    /// The containment gate also passes when at least this fraction of the (enlarged)
    /// detection lies inside the cluster's ROI: a loose box fitted to few points projects
    /// wider than the object.
    pub min_detection_in_roi: f32,
    /// ... provided the ROI is at most this many times the detection's area.
    pub max_roi_to_detection_area: f32,
    /// A person box and a bicycle (motorcycle) box form a cyclist (motorcyclist) when their
    /// intersection covers at least this fraction of the smaller box.
    pub rider_min_overlap: f32,
    /// A person detection on a cluster too large for a pedestrian but at least this long, m,
    /// is a cyclist whose bicycle the camera missed.
    pub rider_min_length_m: f64,
    /// Score factor for a bicycle detection with no rider (a parked bicycle is no cyclist).
    pub riderless_bicycle_score_scale: f32,
    /// Smallest `[length, width]` of a car, m: a classified car box fitted to one visible face
    /// grows to this, away from the sensor (the hidden side). `[0, 0]` disables completion.
    pub car_min_size_m: [f64; 2],
    /// Smallest `[length, width]` of a truck, m (see `car_min_size_m`).
    pub truck_min_size_m: [f64; 2],
    /// Smallest `[length, width]` of a bus, m (see `car_min_size_m`).
    pub bus_min_size_m: [f64; 2],
    /// Objects no camera sees take the lidar classifier's class (`Obstacle3D::class_probs`);
    /// their score is then the lidar's point support times the class probability, as a
    /// detector's confidence in its class; off, they stay `unknown`. Off by default: on real KITTI frames the lidar's pedestrian
    /// class is right 5% of the time and its vehicle class 45% (`fusionrt kitti detect-eval`),
    /// and in the simulator lending it costs precision (urban MOTA 0.54 -> 0.41).
    pub lidar_only_classes: bool,
    /// The lidar classifier's say in the class of an object a camera also sees
    /// (`fusionrt_lidar::classify::combine`: 0 the camera alone, 1 an equal say), `[0, 1]`.
    pub lidar_class_weight: f32,
    /// When a detection lends its class to a cluster.
    pub evidence: EvidenceConfig,
}

impl Default for FusionConfig {
    fn default() -> Self {
        Self {
            tolerance_ns: 50_000_000,
            near_plane_m: 0.3,
            min_detection_score: 0.2,
            detection_box_scale: 1.1,
            gates: ClassGates::default(),
            min_detection_in_roi: 0.8,
            max_roi_to_detection_area: 6.0,
            rider_min_overlap: 0.2,
            rider_min_length_m: 1.2,
            riderless_bicycle_score_scale: 0.5,
            car_min_size_m: [3.9, 1.6],
            truck_min_size_m: [5.5, 2.2],
            bus_min_size_m: [9.0, 2.4],
            lidar_only_classes: false,
            lidar_class_weight: 0.5,
            evidence: EvidenceConfig::default(),
        }
    }
}

impl FusionConfig {
    /// The smallest plausible `[length, width]` of a vehicle class, `None` for other classes.
    pub fn vehicle_min_size_m(&self, class: fusionrt_core::ObjectClass) -> Option<[f64; 2]> {
        use fusionrt_core::ObjectClass as C;
        match class {
            C::Car => Some(self.car_min_size_m),
            C::Truck => Some(self.truck_min_size_m),
            C::Bus => Some(self.bus_min_size_m),
            _ => None,
        }
    }

    /// The gate for a class (vehicle gates for `unknown`).
    pub fn gate(&self, class: fusionrt_core::ObjectClass) -> &ClassGate {
        use fusionrt_core::ObjectClass as C;
        match class {
            C::Pedestrian => &self.gates.pedestrian,
            C::Bicycle | C::Motorcycle => &self.gates.cyclist,
            C::Car | C::Truck | C::Bus | C::Unknown => &self.gates.vehicle,
        }
    }
}

/// Largest stamp difference a camera frame may have to its sweep, ns (10 s).
const MAX_TOLERANCE_NS: i64 = 10_000_000_000;

impl Validate for ClassGate {
    fn validate(&self, c: &mut Check) {
        c.fraction("min_containment", self.min_containment);
        c.fraction("min_iou", self.min_iou);
        c.positive("max_footprint_m", self.max_footprint_m, 1000.0);
        c.non_negative("merge_radius_m", self.merge_radius_m, 1000.0);
    }
}

impl Validate for FusionConfig {
    fn validate(&self, c: &mut Check) {
        c.count(
            "tolerance_ns",
            self.tolerance_ns,
            0,
            MAX_TOLERANCE_NS.into(),
        );
        c.positive("near_plane_m", self.near_plane_m, 100.0);
        c.fraction("min_detection_score", self.min_detection_score);
        c.range("detection_box_scale", self.detection_box_scale, 0.1, 10.0);
        c.section("gates.vehicle", &self.gates.vehicle);
        c.section("gates.pedestrian", &self.gates.pedestrian);
        c.section("gates.cyclist", &self.gates.cyclist);
        c.fraction("min_detection_in_roi", self.min_detection_in_roi);
        c.range(
            "max_roi_to_detection_area",
            self.max_roi_to_detection_area,
            1.0,
            1e4,
        );
        c.fraction("rider_min_overlap", self.rider_min_overlap);
        c.non_negative("rider_min_length_m", self.rider_min_length_m, 100.0);
        c.fraction(
            "riderless_bicycle_score_scale",
            self.riderless_bicycle_score_scale,
        );
        for (name, size) in [
            ("car_min_size_m", self.car_min_size_m),
            ("truck_min_size_m", self.truck_min_size_m),
            ("bus_min_size_m", self.bus_min_size_m),
        ] {
            for (i, v) in size.iter().enumerate() {
                c.non_negative(&format!("{name}[{i}]"), *v, 100.0);
            }
        }
        c.fraction("lidar_class_weight", self.lidar_class_weight);
        c.section("evidence", &self.evidence);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_overrides_one_gate_and_rejects_unknown_keys() {
        let c: FusionConfig = fusionrt_core::config::parse_yaml(
            "tolerance_ns: 20000000\ngates:\n  pedestrian:\n    min_containment: 0.4\n    \
             min_iou: 0.2\n    max_footprint_m: 1.5\n    merge_radius_m: 0.5\n",
            "f.yaml",
        )
        .unwrap();
        assert_eq!(c.tolerance_ns, 20_000_000);
        assert_eq!(c.gates.pedestrian.min_iou, 0.2);
        assert_eq!(c.gates.cyclist, ClassGate::CYCLIST);
        assert_eq!(c.gates.vehicle, ClassGate::VEHICLE);
        let err = fusionrt_core::config::parse_yaml::<FusionConfig>(
            "gates:\n  vehicle:\n    min_iou: 0.2\n",
            "f.yaml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("min_containment"), "{err}");
        let err = fusionrt_core::config::parse_yaml::<FusionConfig>("tolerance_s: 1\n", "f.yaml")
            .unwrap_err();
        assert!(err.to_string().contains("tolerance_s"));
    }

    #[test]
    fn bad_values_are_named() {
        assert!(fusionrt_core::config::validate(&FusionConfig::default(), "d").is_ok());
        for (text, key) in [
            ("min_detection_score: .nan", "min_detection_score"),
            ("tolerance_ns: -1", "tolerance_ns"),
            ("lidar_class_weight: 2", "lidar_class_weight"),
            ("evidence:\n  max_size_ratio: 0", "evidence.max_size_ratio"),
            ("evidence:\n  car_height_m: -1.5", "evidence.car_height_m"),
            (
                "evidence:\n  occluder_min_iou: 0",
                "evidence.occluder_min_iou",
            ),
            (
                "evidence:\n  lidar_points_per_sr: .nan",
                "evidence.lidar_points_per_sr",
            ),
            (
                "evidence:\n  min_point_fill: 1.5",
                "evidence.min_point_fill",
            ),
            (
                "evidence:\n  occluder_min_gap_m: 1e9",
                "evidence.occluder_min_gap_m",
            ),
        ] {
            let line = if key.starts_with("evidence.") {
                "2:3"
            } else {
                "1:1"
            };
            let doc = fusionrt_core::config::YamlDoc::parse(text, "f.yaml").unwrap();
            let cfg: FusionConfig = doc.deserialize().unwrap();
            let err = doc.check(&cfg).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("f.yaml:{line}: key `{key}`")),
                "{err}"
            );
        }
    }
}
