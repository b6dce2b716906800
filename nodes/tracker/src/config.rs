//! Tracker configuration: one [`ClassParams`] block per perception class.

use fusionrt_core::ObjectClass;
use fusionrt_core::config::{Check, Validate};
use serde::{Deserialize, Serialize};

/// Motion model of a class's filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MotionModelKind {
    /// Constant velocity in x, y, z (linear Kalman filter); heading is a random walk.
    ConstantVelocity,
    /// Constant turn rate and velocity along the heading (EKF).
    Ctrv,
    /// Kinematic bicycle (center-referenced, wheelbase from the box length) (EKF).
    Bicycle,
}

/// Cost used to associate detections with tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssociationMetric {
    /// 3D generalized IoU; `gate` is the smallest GIoU accepted (in `(-1, 1]`).
    Giou3d,
    /// 3D IoU; `gate` is the smallest IoU accepted.
    Iou3d,
    /// Euclidean distance of the box centers; `gate` is the largest distance, m.
    CenterDistance,
    /// Mahalanobis distance of the position innovation; `gate` is the largest squared distance.
    Mahalanobis,
}

/// What a published track carries as its `score`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreSource {
    /// The score of the last associated detection (decayed while coasting).
    Detection,
    /// The track's existence probability.
    Existence,
    /// Their product.
    Product,
}

/// Filter, gating and life-cycle parameters of one class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassParams {
    /// Motion model.
    pub motion_model: MotionModelKind,
    /// Association cost.
    pub association: AssociationMetric,
    /// Gate on the association cost (see [`AssociationMetric`] for its meaning).
    pub gate: f64,
    /// Pre-gate: pairs whose centers are farther apart than this are never scored, m.
    pub max_center_distance_m: f64,
    /// Detections at or above this score are associated first; lower ones only extend tracks
    /// that the first pass left unmatched.
    pub high_score: f32,
    /// Detections below this score never start a track.
    pub new_track_min_score: f32,
    /// Hits needed to confirm a tentative track.
    pub min_hits: u32,
    /// A tentative track is deleted when it misses this many consecutive frames.
    pub tentative_max_misses: u32,
    /// A confirmed track is deleted after this long without an associated detection, s.
    pub max_coast_s: f64,
    /// Coasting tracks are published for this long after their last detection, s.
    pub publish_coast_s: f64,
    /// Publish tentative tracks too.
    pub publish_tentative: bool,
    /// What the published score is.
    pub score_source: ScoreSource,
    /// Factor applied to the published score of a coasting track per frame without detection.
    pub coast_score_factor: f32,
    /// Measurement noise of the box center, m (1 sigma).
    pub sigma_position_m: f64,
    /// Measurement noise of the vertical center, m.
    pub sigma_z_m: f64,
    /// Measurement noise of the heading, rad.
    pub sigma_yaw_rad: f64,
    /// Process noise: acceleration, m/s² (1 sigma).
    pub sigma_accel_mps2: f64,
    /// Process noise: vertical acceleration, m/s².
    pub sigma_accel_z_mps2: f64,
    /// Process noise: yaw acceleration (CTRV), steering rate (bicycle, rad/s) or yaw rate
    /// (constant velocity), rad/s².
    pub sigma_yaw_accel_radps2: f64,
    /// Initial velocity uncertainty, m/s.
    pub sigma_init_velocity_mps: f64,
    /// Smallest gain of the box size average (1 = follow the last detection).
    pub size_gain: f64,
    /// Probability that the detector sees an existing object (for the existence probability).
    pub detection_probability: f32,
    /// Publish the matched detection's box, rather than the filtered one, for tracks updated
    /// in the current frame (the filter still predicts and gates). Detectors such as PointRCNN
    /// localise better than a constant-velocity filter smooths.
    pub publish_detection_box: bool,
    /// Classes this class yields to: a detection of this class is dropped, before association,
    /// when a detection of one of these classes scores higher and its center lies within
    /// `yield_distance_m` (bird's-eye view). Both detectors then saw one object, e.g. a
    /// pedestrian detector firing on a cyclist's rider.
    pub yield_to: Vec<ObjectClass>,
    /// Center distance under which [`ClassParams::yield_to`] applies, m.
    pub yield_distance_m: f64,
    /// Hits over which a track's published score builds up: the score is scaled by
    /// `1 - exp(-hits / score_ramp_hits)` (0.63 at this many hits, 0.95 at three times as
    /// many), so a track's confidence counts the detections it has gathered. A clutter track
    /// (a bush the lidar classifier calls a vehicle for a few frames) ends after a few hits
    /// while an object's goes on, and an evaluation that averages the score over the track
    /// (KITTI) then ranks the short track below a long one whose detections score the same.
    /// 0 turns it off (the score is then the [`ClassParams::score_source`]'s alone).
    pub score_ramp_hits: f64,
}

impl Default for ClassParams {
    fn default() -> Self {
        Self {
            motion_model: MotionModelKind::ConstantVelocity,
            association: AssociationMetric::Giou3d,
            gate: -0.2,
            max_center_distance_m: 6.0,
            high_score: 0.0,
            new_track_min_score: 0.0,
            min_hits: 3,
            tentative_max_misses: 1,
            max_coast_s: 0.25,
            publish_coast_s: 0.0,
            publish_tentative: false,
            score_source: ScoreSource::Detection,
            coast_score_factor: 0.8,
            sigma_position_m: 0.3,
            sigma_z_m: 0.3,
            sigma_yaw_rad: 0.3,
            sigma_accel_mps2: 4.0,
            sigma_accel_z_mps2: 1.0,
            sigma_yaw_accel_radps2: 1.0,
            sigma_init_velocity_mps: 10.0,
            size_gain: 0.2,
            detection_probability: 0.9,
            publish_detection_box: false,
            yield_to: Vec::new(),
            yield_distance_m: 1.0,
            score_ramp_hits: 3.0,
        }
    }
}

impl ClassParams {
    /// Defaults for pedestrians: slower, smaller, more missed detections.
    pub fn pedestrian() -> Self {
        Self {
            max_center_distance_m: 3.0,
            gate: -0.4,
            tentative_max_misses: 1,
            max_coast_s: 0.45,
            sigma_position_m: 0.2,
            sigma_accel_mps2: 2.0,
            sigma_init_velocity_mps: 3.0,
            ..Self::default()
        }
    }

    /// Defaults for cyclists and motorcycles.
    pub fn cyclist() -> Self {
        Self {
            max_center_distance_m: 5.0,
            gate: -0.4,
            max_coast_s: 0.45,
            sigma_accel_mps2: 3.0,
            sigma_init_velocity_mps: 6.0,
            ..Self::default()
        }
    }
}

/// Tracker configuration: per-class parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackerConfig {
    /// Objects of unknown class.
    pub unknown: ClassParams,
    /// Cars and vans.
    pub car: ClassParams,
    /// Trucks.
    pub truck: ClassParams,
    /// Buses.
    pub bus: ClassParams,
    /// Pedestrians.
    pub pedestrian: ClassParams,
    /// Cyclists.
    pub bicycle: ClassParams,
    /// Motorcycles.
    pub motorcycle: ClassParams,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            unknown: ClassParams::default(),
            car: ClassParams::default(),
            truck: ClassParams::default(),
            bus: ClassParams::default(),
            pedestrian: ClassParams::pedestrian(),
            bicycle: ClassParams::cyclist(),
            motorcycle: ClassParams::cyclist(),
        }
    }
}

impl TrackerConfig {
    /// Parameters tuned for KITTI tracking with PointRCNN detections (scores as probabilities,
    /// 10 Hz, camera frame without ego-motion compensation), on the 10 training sequences of
    /// ../shared/data. Every hit is published (`min_hits` 1) and the published score carries
    /// the confidence, so the evaluation's score thresholds rather than a hard life-cycle rule
    /// drop short false tracks; a pedestrian detection yields to a higher-scoring cyclist
    /// detection at the same place (PointRCNN's pedestrian model fires on riders); coasting
    /// boxes are published for up to three frames, which assumes tracks that leave the camera's
    /// view are not scored (`kitti track --calib`). The same values ship as
    /// launch/kitti_tracking.yaml. Their score does not build up with the hits
    /// (`score_ramp_hits` 0): the detector's score ranks PointRCNN's detections, and the car
    /// score's existence factor already counts the hits.
    pub fn kitti_pointrcnn() -> Self {
        let car = ClassParams {
            association: AssociationMetric::Giou3d,
            gate: -0.2,
            max_center_distance_m: 6.0,
            min_hits: 1,
            publish_tentative: true,
            score_source: ScoreSource::Product,
            publish_coast_s: 0.3,
            max_coast_s: 1.0,
            coast_score_factor: 0.3,
            publish_detection_box: true,
            score_ramp_hits: 0.0,
            ..ClassParams::default()
        };
        let pedestrian = ClassParams {
            association: AssociationMetric::CenterDistance,
            gate: 1.0,
            min_hits: 1,
            publish_tentative: true,
            score_source: ScoreSource::Detection,
            publish_coast_s: 0.3,
            max_coast_s: 0.6,
            publish_detection_box: true,
            yield_to: vec![ObjectClass::Bicycle],
            score_ramp_hits: 0.0,
            ..ClassParams::pedestrian()
        };
        let cyclist = ClassParams {
            gate: -0.6,
            min_hits: 1,
            publish_tentative: true,
            score_source: ScoreSource::Existence,
            publish_coast_s: 0.3,
            publish_detection_box: true,
            score_ramp_hits: 0.0,
            ..ClassParams::cyclist()
        };
        Self {
            car,
            pedestrian,
            bicycle: cyclist,
            ..Self::default()
        }
    }

    /// The parameters of one class.
    pub fn class(&self, class: ObjectClass) -> &ClassParams {
        match class {
            ObjectClass::Unknown => &self.unknown,
            ObjectClass::Car => &self.car,
            ObjectClass::Truck => &self.truck,
            ObjectClass::Bus => &self.bus,
            ObjectClass::Pedestrian => &self.pedestrian,
            ObjectClass::Bicycle => &self.bicycle,
            ObjectClass::Motorcycle => &self.motorcycle,
        }
    }

    /// Mutable parameters of one class.
    pub fn class_mut(&mut self, class: ObjectClass) -> &mut ClassParams {
        match class {
            ObjectClass::Unknown => &mut self.unknown,
            ObjectClass::Car => &mut self.car,
            ObjectClass::Truck => &mut self.truck,
            ObjectClass::Bus => &mut self.bus,
            ObjectClass::Pedestrian => &mut self.pedestrian,
            ObjectClass::Bicycle => &mut self.bicycle,
            ObjectClass::Motorcycle => &mut self.motorcycle,
        }
    }
}

impl Validate for ClassParams {
    fn validate(&self, c: &mut Check) {
        let gate_range = match self.association {
            AssociationMetric::Giou3d => (-1.0, 1.0),
            AssociationMetric::Iou3d => (0.0, 1.0),
            AssociationMetric::CenterDistance => (0.0, 100.0),
            AssociationMetric::Mahalanobis => (0.0, 1e4),
        };
        c.range("gate", self.gate, gate_range.0, gate_range.1);
        c.positive("max_center_distance_m", self.max_center_distance_m, 1000.0);
        c.fraction("high_score", self.high_score);
        c.fraction("new_track_min_score", self.new_track_min_score);
        c.count("min_hits", self.min_hits, 1, 1000);
        c.count("tentative_max_misses", self.tentative_max_misses, 0, 1000);
        c.non_negative("max_coast_s", self.max_coast_s, 3600.0);
        c.non_negative("publish_coast_s", self.publish_coast_s, 3600.0);
        c.fraction("coast_score_factor", self.coast_score_factor);
        c.positive("sigma_position_m", self.sigma_position_m, 100.0);
        c.positive("sigma_z_m", self.sigma_z_m, 100.0);
        c.positive("sigma_yaw_rad", self.sigma_yaw_rad, 10.0);
        c.positive("sigma_accel_mps2", self.sigma_accel_mps2, 1000.0);
        c.positive("sigma_accel_z_mps2", self.sigma_accel_z_mps2, 1000.0);
        c.positive(
            "sigma_yaw_accel_radps2",
            self.sigma_yaw_accel_radps2,
            1000.0,
        );
        c.positive(
            "sigma_init_velocity_mps",
            self.sigma_init_velocity_mps,
            1000.0,
        );
        c.range("size_gain", self.size_gain, 0.0, 1.0);
        c.rule(
            self.detection_probability > 0.0 && self.detection_probability < 1.0,
            "detection_probability",
            || format!("{} is not in (0, 1)", self.detection_probability),
        );
        c.count("yield_to", self.yield_to.len(), 0, 16);
        c.non_negative("yield_distance_m", self.yield_distance_m, 100.0);
        c.non_negative("score_ramp_hits", self.score_ramp_hits, 1000.0);
    }
}

impl Validate for TrackerConfig {
    fn validate(&self, c: &mut Check) {
        for (name, params) in [
            ("unknown", &self.unknown),
            ("car", &self.car),
            ("truck", &self.truck),
            ("bus", &self.bus),
            ("pedestrian", &self.pedestrian),
            ("bicycle", &self.bicycle),
            ("motorcycle", &self.motorcycle),
        ] {
            c.section(name, params);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fusionrt_core::config::{YamlDoc, validate};

    #[test]
    fn presets_validate_and_bad_values_are_named() {
        assert!(validate(&TrackerConfig::default(), "default").is_ok());
        assert!(validate(&TrackerConfig::kitti_pointrcnn(), "kitti").is_ok());
        for text in [
            "car:\n  gate: .nan\n",
            "car:\n  sigma_position_m: -1\n",
            "car:\n  detection_probability: 2\n",
            "car:\n  max_coast_s: -1\n",
            "car:\n  min_hits: 4000000000\n",
            "car:\n  score_ramp_hits: .nan\n",
            "car:\n  score_ramp_hits: -1\n",
            "car:\n  score_ramp_hits: 1e9\n",
        ] {
            let doc = YamlDoc::parse(text, "t.yaml").unwrap();
            let cfg: TrackerConfig = doc.deserialize().unwrap();
            let err = doc.check(&cfg).unwrap_err().to_string();
            assert!(err.starts_with("t.yaml:2:3: key `car."), "{err}");
        }
    }
}
