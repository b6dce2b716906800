//! A lidar-only classifier: vehicle / pedestrian / cyclist / unknown from a cluster's shape and
//! point statistics, with a probability.
//!
//! In: [`ClusterFeatures`] measured by the detector on the cluster's points (box footprint and
//! height, height of the top above the ground, point count and range, vertical spread, the share
//! of points in the upper half, the mean reflectance). Out: a [`ClassProbs`] over `Unknown`,
//! `Car`, `Pedestrian` and `Bicycle` (cyclist).
//!
//! The model is a small set of soft rules, each a trapezoid membership in `[0, 1]` over one
//! feature, multiplied per class (a naive-Bayes-like product of likelihoods, hand-set from the
//! KITTI object and tracking frames in `../shared/data`, see docs/PERCEPTION.md):
//!
//! - **vehicle**: top 1.25-2.2 m above the ground (taller clusters are mostly trees, walls and
//!   building fronts here); footprint 1.3-11 m long (0.8 m when far: a fragment of a few
//!   rings), at most 2.7 m wide; a side shorter than 2.2 m counts only as a front or rear face,
//!   whose upper half (windows, roof) spans most of it and whose top is below 1.5 m (a car) or
//!   above 1.8 m (a van): a cyclist's 1.6-1.75 m lies between; points spread over the height.
//!   Three cues tell a van from the hedges, bushes under tree crowns and fences with a post of
//!   a van's size that made most of the false Car tracks on KITTI sequence 0000 (see
//!   docs/PERCEPTION.md): **dark returns** (glass and tyres return little light: 90% of the
//!   sequence's van and car clusters have more than a fifth of their returns darker than
//!   `dark_reflectance`, hedges, trees and walls, bright in the near infrared, mostly under a
//!   tenth; left out in sweeps whose reflectance does not tell dark from bright, such as the
//!   simulator's); **no waist** (the body is one solid from the sills to the roof and narrows
//!   at most to its cabin, while a trunk or a post between a bush and a crown is a height band
//!   under 30% as wide as what lies below and above it); and **a roof over the flank** (the top
//!   quarter of a long side spans part of it, not a post's sliver).
//! - **pedestrian**: top 1.25-1.95 m; footprint 0.4-1.0 m by 0.2-0.9 m (a pole or a sign post
//!   is thinner); at least a quarter of the points above half height.
//! - **cyclist**: top 1.45-2.0 m; footprint 1.35-2.1 m long and at most 1.0 m wide (a bicycle
//!   seen side-on) whose upper half (the rider) does not span all of it; seen end-on it looks
//!   like a pedestrian and the camera must decide.
//! - **unknown**: a constant prior; it wins for walls, poles, trees, low clutter, and whatever
//!   fits no class well.
//!
//! Probabilities are the normalised scores, scaled by a confidence that grows with the number
//! of points for the range (a handful of returns says little). Fusion gives a lidar-only object
//! the lidar's class. [`combine`] is the rule for an object a camera also sees (a product of
//! distributions with the lidar tempered, so a confident camera decides and an unsure one is
//! helped by the shape); fusion calls it for every object a camera sees (`fusion.lidar_class_weight`).

use fusionrt_core::{ClassProbs, ObjectClass};

/// What the classifier sees of one cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ClusterFeatures {
    /// Box length (longer horizontal side), m.
    pub length_m: f32,
    /// Box width (shorter horizontal side), m.
    pub width_m: f32,
    /// Top of the cluster above the local ground, m.
    pub top_above_ground_m: f32,
    /// Points in the cluster.
    pub points: u32,
    /// BEV range of the box centre from the sensor, m.
    pub range_m: f32,
    /// Standard deviation of the points' heights, m.
    pub z_std_m: f32,
    /// Share of the points above half the top height, `[0, 1]`.
    pub upper_fraction: f32,
    /// Extent of the upper half's points along the box's long side over the box length,
    /// `[0, 1]`: a rider covers a fraction of the bicycle, a car's rear window most of its width.
    pub upper_length_ratio: f32,
    /// Extent of the top quarter's points along the box's long side over the box length,
    /// `[0, 1]`: a roof spans a good part of a vehicle, a pole or a sign post on a low fence
    /// a sliver.
    pub roof_length_ratio: f32,
    /// The narrowest waist of the vertical profile, `[0, 1]`: the smallest ratio of a height
    /// band's horizontal extent to the widest bands below and above it (1: none, or a profile
    /// too sparse to read: the detector reads it with 60 points or more within 30 m).
    pub waist_ratio: f32,
    /// Mean reflectance (sensor units, KITTI: `[0, 1]`); NaN when the cloud has none.
    pub mean_intensity: f32,
    /// Share of the returns darker than `dark_reflectance` (glass, tyres, black trim), `[0, 1]`;
    /// NaN when the sweep's reflectance does not tell dark from bright (the cue is left out).
    pub dark_fraction: f32,
}

/// Prior score of `Unknown` (the score a class must beat).
const UNKNOWN_PRIOR: f32 = 0.25;

/// Trapezoid membership: 0 below `a`, rising to 1 at `b`, 1 up to `c`, falling to 0 at `d`.
fn trap(v: f32, a: f32, b: f32, c: f32, d: f32) -> f32 {
    if !v.is_finite() || v <= a || v >= d {
        0.0
    } else if v < b {
        (v - a) / (b - a)
    } else if v <= c {
        1.0
    } else {
        (d - v) / (d - c)
    }
}

/// Class scores (unnormalised) for vehicle, pedestrian and cyclist.
fn scores(f: &ClusterFeatures) -> [f32; 3] {
    let (l, w, h) = (f.length_m, f.width_m, f.top_above_ground_m);
    let far = trap(f.range_m, 15.0, 30.0, 1e6, 2e6);
    // A short visible side is a front or rear face when the upper half (windows, roof) spans
    // most of it; a rider spans a fraction of the bicycle.
    let face = trap(f.upper_length_ratio, 0.45, 0.65, 1.0, 1.1);
    let rider = trap(f.upper_length_ratio, -1.0, 0.0, 0.8, 1.1);
    let short = trap(l, 0.0, 0.0, 2.2, 2.6);
    let min_len = 1.3 - 0.5 * far;
    // Seen end-on, a car's face is lower and a van's taller than a cyclist (1.6-1.75 m).
    let face_height = trap(h, 1.0, 1.2, 1.5, 1.6).max(trap(h, 1.7, 1.8, 2.3, 2.7));
    // A flank (a long side) has a roof over a good part of it.
    let flank = trap(l, 2.2, 2.8, 1e6, 2e6);
    // Windows and tyres return little light: on KITTI 90% of the vans' and cars' clusters have
    // more than a fifth of their returns dark, while hedges, trees and walls of a van's size
    // (bright in the near infrared) mostly have under a tenth.
    // A vehicle's body is one solid from the sills to the roof and narrows at most to its
    // cabin; a band narrower than 30% of what lies below and above it is a trunk or a post
    // with foliage or a sign above a hedge, a bush or a fence.
    let waist = trap(f.waist_ratio, 0.15, 0.3, 1.0, 1.1).max(0.1);
    let dark = if f.dark_fraction.is_nan() {
        1.0
    } else {
        trap(f.dark_fraction, 0.03, 0.15, 1.0, 1.1).max(0.1)
    };
    let vehicle = trap(h, 1.0, 1.25, 2.2, 2.5)
        * trap(l, min_len - 0.4, min_len, 11.0, 13.0)
        * trap(w, 0.0, 0.0, 2.7, 3.2)
        * (1.0 - short + short * face.max(far * 0.6) * face_height)
        * trap(f.z_std_m, 0.08, 0.18, 2.0, 3.0).max(0.3)
        * (1.0 - flank + flank * trap(f.roof_length_ratio, 0.03, 0.12, 1.0, 1.1))
        * dark
        * waist;
    let pedestrian = trap(h, 0.9, 1.25, 1.95, 2.2)
        * trap(l, 0.25, 0.4, 1.0, 1.3)
        * trap(w, 0.1, 0.2, 0.9, 1.1)
        * trap(f.upper_fraction, 0.1, 0.25, 1.0, 1.1);
    let cyclist = trap(h, 1.25, 1.45, 2.0, 2.3)
        * trap(l, 1.1, 1.35, 2.1, 2.5)
        * trap(w, 0.0, 0.0, 1.0, 1.3)
        * trap(f.upper_fraction, 0.1, 0.25, 1.0, 1.1)
        * rider;
    [vehicle, pedestrian, cyclist]
}

/// Classifies one cluster.
pub fn classify(f: &ClusterFeatures) -> ClassProbs {
    let [v, p, c] = scores(f);
    // Returns expected for the range: fewer than a dozen at 10 m means a sliver.
    let r = f.range_m.max(5.0);
    let density = f.points as f32 * r * r / 2.0e4;
    let confidence = 1.0 - (-density).exp();
    let (v, p, c) = (v * confidence, p * confidence, c * confidence);
    let total = UNKNOWN_PRIOR + v + p + c;
    let mut probs = ClassProbs::default();
    probs.0[ObjectClass::Unknown.index()] = UNKNOWN_PRIOR / total;
    probs.0[ObjectClass::Car.index()] = v / total;
    probs.0[ObjectClass::Pedestrian.index()] = p / total;
    probs.0[ObjectClass::Bicycle.index()] = c / total;
    probs
}

/// Combines a lidar class distribution with a camera one: the product of the camera's
/// distribution and the lidar's tempered by `lidar_weight` (0: camera alone, 1: equal say),
/// renormalised. Classes the lidar does not tell apart (car, truck, bus) share the lidar's
/// vehicle probability. With no camera mass (all zero) the lidar's distribution is returned.
pub fn combine(lidar: &ClassProbs, camera: &ClassProbs, lidar_weight: f32) -> ClassProbs {
    let camera_total: f32 = camera.0.iter().sum();
    if camera_total <= 0.0 {
        return *lidar;
    }
    let vehicle =
        lidar.get(ObjectClass::Car) + lidar.get(ObjectClass::Truck) + lidar.get(ObjectClass::Bus);
    let mut out = ClassProbs::default();
    let mut total = 0.0;
    for class in ObjectClass::ALL {
        let l = if class.is_vehicle() {
            vehicle
        } else if class == ObjectClass::Motorcycle {
            lidar.get(ObjectClass::Bicycle)
        } else {
            lidar.get(class)
        };
        // A floor keeps a class the lidar finds unlikely from being vetoed outright.
        let l = (l + lidar.get(ObjectClass::Unknown) + 0.05).powf(lidar_weight);
        let p = camera.get(class) * l;
        out.0[class.index()] = p;
        total += p;
    }
    if total > 0.0 {
        for p in &mut out.0 {
            *p *= camera_total / total;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(l: f32, w: f32, h: f32, points: u32, range_m: f32) -> ClusterFeatures {
        ClusterFeatures {
            length_m: l,
            width_m: w,
            top_above_ground_m: h,
            points,
            range_m,
            z_std_m: 0.3 * h,
            upper_fraction: 0.5,
            upper_length_ratio: 0.8,
            roof_length_ratio: 0.5,
            waist_ratio: 0.6,
            mean_intensity: 0.3,
            dark_fraction: 0.3,
        }
    }

    #[test]
    fn typical_shapes_get_their_class() {
        let car = classify(&f(4.2, 1.7, 1.5, 400, 15.0));
        assert_eq!(car.argmax().0, ObjectClass::Car, "{car:?}");
        let far_fragment = classify(&f(1.2, 0.3, 1.4, 30, 40.0));
        assert_eq!(
            far_fragment.argmax().0,
            ObjectClass::Car,
            "{far_fragment:?}"
        );
        let person = classify(&f(0.6, 0.5, 1.75, 120, 12.0));
        assert_eq!(person.argmax().0, ObjectClass::Pedestrian, "{person:?}");
        let cyclist = classify(&ClusterFeatures {
            upper_length_ratio: 0.35,
            ..f(1.8, 0.6, 1.7, 150, 12.0)
        });
        assert_eq!(cyclist.argmax().0, ObjectClass::Bicycle, "{cyclist:?}");
        let rear = classify(&f(1.7, 0.4, 1.5, 300, 12.0));
        assert_eq!(rear.argmax().0, ObjectClass::Car, "{rear:?}");
        for clutter in [
            f(0.3, 0.2, 0.5, 50, 10.0),   // low debris
            f(15.0, 2.0, 3.0, 900, 10.0), // wall
            f(0.6, 0.6, 4.4, 300, 10.0),  // tree
        ] {
            assert_eq!(classify(&clutter).argmax().0, ObjectClass::Unknown);
        }
        // A sliver of three points is not confidently anything.
        let sliver = classify(&f(0.6, 0.5, 1.75, 3, 5.0));
        assert_eq!(sliver.argmax().0, ObjectClass::Unknown, "{sliver:?}");
        let total: f32 = car.0.iter().sum();
        assert!((total - 1.0).abs() < 1e-5);
    }

    #[test]
    fn van_sized_clutter_without_dark_returns_is_not_a_vehicle() {
        let van = f(4.6, 1.9, 2.1, 600, 15.0);
        assert_eq!(classify(&van).argmax().0, ObjectClass::Car);
        // A hedge or a shelter of the same size: no glass, no tyres.
        let bright = ClusterFeatures {
            dark_fraction: 0.02,
            ..van
        };
        assert_eq!(classify(&bright).argmax().0, ObjectClass::Unknown);
        // A sweep whose reflectance says nothing (the simulator, another scale): no cue.
        let unknown_scale = ClusterFeatures {
            dark_fraction: f32::NAN,
            ..bright
        };
        assert_eq!(classify(&unknown_scale).argmax().0, ObjectClass::Car);
    }

    #[test]
    fn a_waist_or_a_post_on_a_fence_is_not_a_vehicle() {
        let van = f(4.6, 1.9, 2.1, 600, 15.0);
        // A trunk between a bush and a crown.
        let tree_over_bush = ClusterFeatures {
            waist_ratio: 0.1,
            ..van
        };
        assert_eq!(classify(&tree_over_bush).argmax().0, ObjectClass::Unknown);
        // A low fence with a post: the top quarter is a sliver of the length.
        let fence_and_post = ClusterFeatures {
            roof_length_ratio: 0.02,
            ..f(8.0, 0.8, 2.1, 900, 7.0)
        };
        assert_eq!(classify(&fence_and_post).argmax().0, ObjectClass::Unknown);
        // Seen end-on, a short face has no flank to carry a roof: not read.
        let rear = ClusterFeatures {
            roof_length_ratio: 0.02,
            ..f(1.7, 0.4, 1.5, 300, 12.0)
        };
        assert_eq!(classify(&rear).argmax().0, ObjectClass::Car);
    }

    #[test]
    fn camera_decides_when_confident_lidar_breaks_ties() {
        let lidar = classify(&ClusterFeatures {
            upper_length_ratio: 0.35,
            ..f(1.8, 0.6, 1.7, 150, 12.0)
        }); // cyclist-like
        let camera_person = ClassProbs::one_hot(ObjectClass::Pedestrian);
        assert_eq!(
            combine(&lidar, &camera_person, 0.5).argmax().0,
            ObjectClass::Pedestrian
        );
        let mut unsure = ClassProbs::default();
        unsure.0[ObjectClass::Pedestrian.index()] = 0.4;
        unsure.0[ObjectClass::Bicycle.index()] = 0.4;
        assert_eq!(
            combine(&lidar, &unsure, 0.5).argmax().0,
            ObjectClass::Bicycle
        );
        assert_eq!(combine(&lidar, &ClassProbs::default(), 0.5), lidar);
    }
}
