//! KITTI object-style detection scoring in bird's-eye view, frame by frame.
//!
//! Labels and detections are matched one to one by BEV centre distance (optimal assignment with
//! [`fusionrt_core::assignment::Assignment`], pairs farther than `radius_m` infeasible). Every
//! labelled object takes part in matching, so a detection on a labelled object that is not
//! scored (a Tram, a Misc, a person sitting, a label beyond the range) is neither a hit nor a
//! false positive. Then, per frame:
//!
//! - **recall** per labelled type (Car, Van, Truck, Pedestrian, Cyclist) within `range_m` of the
//!   sensor, any detection class (the lidar's job is to find things);
//! - **class-correct recall** per class group (vehicle = Car, Van, Truck; pedestrian; cyclist):
//!   the matched detection also carries that group's class;
//! - **precision** over the *scored detections* (within `range_m` and in the camera's view,
//!   where KITTI labels exist, and outside every DontCare region: the caller decides both):
//!   hits / (hits + false positives); per class group for classified detections;
//! - **BEV centre error** of the matched pairs, per labelled type.
//!
//! Depends on fusionrt-core only; the caller converts labels and projects into the camera.

use fusionrt_core::assignment::Assignment;
use fusionrt_core::{Box3, ObjectClass};
use serde::Serialize;

/// Labelled types that are scored, in report order.
pub const SCORED_TYPES: [&str; 5] = ["Car", "Van", "Truck", "Pedestrian", "Cyclist"];

/// Class groups for class-aware figures, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassGroup {
    /// Car, van, truck, bus.
    Vehicle,
    /// Pedestrian.
    Pedestrian,
    /// Cyclist (bicycle or motorcycle with rider).
    Cyclist,
}

impl ClassGroup {
    /// All groups in report order.
    pub const ALL: [ClassGroup; 3] = [Self::Vehicle, Self::Pedestrian, Self::Cyclist];

    /// The group of a perception class (`None` for unknown).
    pub fn of_class(class: ObjectClass) -> Option<Self> {
        match class {
            ObjectClass::Car | ObjectClass::Truck | ObjectClass::Bus => Some(Self::Vehicle),
            ObjectClass::Pedestrian => Some(Self::Pedestrian),
            ObjectClass::Bicycle | ObjectClass::Motorcycle => Some(Self::Cyclist),
            ObjectClass::Unknown => None,
        }
    }

    /// The group of a scored KITTI type index (into [`SCORED_TYPES`]).
    pub fn of_type(type_index: usize) -> Self {
        match type_index {
            0..=2 => Self::Vehicle,
            3 => Self::Pedestrian,
            _ => Self::Cyclist,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One labelled object of a frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalLabel {
    /// Box in the sensor frame (BEV centre used).
    pub bbox: Box3,
    /// Index into [`SCORED_TYPES`], or `None` for a labelled type that is not scored.
    pub scored_type: Option<usize>,
}

/// One detection of a frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalDetection {
    /// Box in the sensor frame.
    pub bbox: Box3,
    /// Class given to it (`Unknown` when none).
    pub class: ObjectClass,
    /// True when it counts for precision: in range, in the labelled view, outside DontCare.
    pub scored: bool,
}

/// Parameters of the scoring.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DetectionEvalParams {
    /// Labels farther than this (BEV, from the sensor) are not scored, m.
    pub range_m: f64,
    /// A label and a detection match when their BEV centres are this close, m.
    pub radius_m: f64,
}

impl Default for DetectionEvalParams {
    fn default() -> Self {
        Self {
            range_m: 50.0,
            radius_m: 1.0,
        }
    }
}

/// Recall and centre error of one labelled type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct TypeCounts {
    /// Labels within range.
    pub labels: usize,
    /// Of those, matched by a detection of any class.
    pub found: usize,
    /// Of those, matched by a detection of the type's class group.
    pub found_class_correct: usize,
    /// Sum of BEV centre errors of the matched labels, m.
    pub center_error_sum_m: f64,
}

/// Precision counts of a class group (detections classified into it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct GroupCounts {
    /// Scored detections with this group's class.
    pub detections: usize,
    /// Of those, matched to a scored label of the same group.
    pub correct: usize,
    /// Of those, matched to no label at all.
    pub unmatched: usize,
}

/// Accumulates frames; [`DetectionAccumulator::summary`] gives the figures.
#[derive(Clone, Debug, Default)]
pub struct DetectionAccumulator {
    params: DetectionEvalParams,
    frames: usize,
    types: [TypeCounts; 5],
    groups: [GroupCounts; 3],
    scored_detections: usize,
    true_positives: usize,
    ignored: usize,
    solver: Assignment,
    cost: Vec<f64>,
    row_to_col: Vec<Option<usize>>,
    label_of_det: Vec<Option<usize>>,
}

/// Cost of an infeasible pair (farther than the radius).
const INFEASIBLE: f64 = 1e9;

impl DetectionAccumulator {
    /// An empty accumulator.
    pub fn new(params: DetectionEvalParams) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }

    /// Scores one frame.
    pub fn add_frame(&mut self, labels: &[EvalLabel], detections: &[EvalDetection]) {
        self.frames += 1;
        let (nl, nd) = (labels.len(), detections.len());
        self.cost.clear();
        self.cost.reserve(nl * nd);
        for l in labels {
            for d in detections {
                let dist = l.bbox.bev_distance(&d.bbox);
                self.cost.push(if dist <= self.params.radius_m {
                    dist
                } else {
                    INFEASIBLE
                });
            }
        }
        self.solver.solve(&self.cost, nl, nd, &mut self.row_to_col);
        let mut label_of_det = std::mem::take(&mut self.label_of_det);
        label_of_det.clear();
        label_of_det.resize(nd, None);
        for (li, col) in self.row_to_col.iter().enumerate() {
            if let Some(di) = *col
                && self.cost[li * nd + di] < INFEASIBLE
            {
                label_of_det[di] = Some(li);
            }
        }
        let in_range = |l: &EvalLabel| l.bbox.center.xy().norm() <= self.params.range_m;
        for (li, l) in labels.iter().enumerate() {
            let Some(t) = l.scored_type.filter(|_| in_range(l)) else {
                continue;
            };
            let counts = &mut self.types[t];
            counts.labels += 1;
            if let Some(di) = label_of_det.iter().position(|m| *m == Some(li)) {
                counts.found += 1;
                counts.center_error_sum_m += l.bbox.bev_distance(&detections[di].bbox);
                if ClassGroup::of_class(detections[di].class) == Some(ClassGroup::of_type(t)) {
                    counts.found_class_correct += 1;
                }
            }
        }
        for (d, matched) in detections.iter().zip(&label_of_det) {
            if !d.scored {
                continue;
            }
            let label = matched.map(|li| &labels[li]);
            let scored_label = label.filter(|l| in_range(l)).and_then(|l| l.scored_type);
            match (label, scored_label) {
                (_, Some(_)) => {
                    self.scored_detections += 1;
                    self.true_positives += 1;
                }
                (Some(_), None) => self.ignored += 1,
                (None, None) => self.scored_detections += 1,
            }
            if let Some(g) = ClassGroup::of_class(d.class) {
                let counts = &mut self.groups[g.index()];
                match (label, scored_label) {
                    (_, Some(t)) => {
                        counts.detections += 1;
                        if ClassGroup::of_type(t) == g {
                            counts.correct += 1;
                        }
                    }
                    (Some(_), None) => {}
                    (None, None) => {
                        counts.detections += 1;
                        counts.unmatched += 1;
                    }
                }
            }
        }
        self.label_of_det = label_of_det;
    }

    /// The label each detection of the last frame was matched to (index into its labels).
    pub fn last_matches(&self) -> &[Option<usize>] {
        &self.label_of_det
    }

    /// The figures so far.
    pub fn summary(&self) -> DetectionSummary {
        let ratio = |a: usize, b: usize| {
            if b == 0 {
                None
            } else {
                Some(a as f64 / b as f64)
            }
        };
        let by_type = SCORED_TYPES
            .iter()
            .zip(&self.types)
            .map(|(name, c)| TypeSummary {
                kind: name,
                counts: *c,
                recall: ratio(c.found, c.labels),
                class_recall: ratio(c.found_class_correct, c.labels),
                mean_center_error_m: (c.found > 0).then(|| c.center_error_sum_m / c.found as f64),
            })
            .collect();
        let by_group = ClassGroup::ALL
            .iter()
            .map(|g| {
                let labels: usize = (0..5)
                    .filter(|t| ClassGroup::of_type(*t) == *g)
                    .map(|t| self.types[t].labels)
                    .sum();
                let found: usize = (0..5)
                    .filter(|t| ClassGroup::of_type(*t) == *g)
                    .map(|t| self.types[t].found_class_correct)
                    .sum();
                let c = self.groups[g.index()];
                GroupSummary {
                    group: *g,
                    labels,
                    found_class_correct: found,
                    class_recall: ratio(found, labels),
                    counts: c,
                    class_precision: ratio(c.correct, c.detections),
                }
            })
            .collect();
        let labels: usize = self.types.iter().map(|c| c.labels).sum();
        let found: usize = self.types.iter().map(|c| c.found).sum();
        let err: f64 = self.types.iter().map(|c| c.center_error_sum_m).sum();
        let false_positives = self.scored_detections - self.true_positives;
        DetectionSummary {
            params: self.params,
            frames: self.frames,
            labels,
            found,
            recall: ratio(found, labels),
            mean_center_error_m: (found > 0).then(|| err / found as f64),
            scored_detections: self.scored_detections,
            true_positives: self.true_positives,
            false_positives,
            ignored_detections: self.ignored,
            precision: ratio(self.true_positives, self.scored_detections),
            false_positives_per_frame: if self.frames == 0 {
                0.0
            } else {
                false_positives as f64 / self.frames as f64
            },
            by_type,
            by_group,
        }
    }
}

/// Figures of one labelled type.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TypeSummary {
    /// KITTI type name.
    pub kind: &'static str,
    /// Raw counts.
    #[serde(flatten)]
    pub counts: TypeCounts,
    /// found / labels.
    pub recall: Option<f64>,
    /// found_class_correct / labels.
    pub class_recall: Option<f64>,
    /// Mean BEV centre error of the found labels, m.
    pub mean_center_error_m: Option<f64>,
}

/// Class-aware figures of one class group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupSummary {
    /// The group.
    pub group: ClassGroup,
    /// Labels of the group's types within range.
    pub labels: usize,
    /// Of those, matched by a detection of the group's class.
    pub found_class_correct: usize,
    /// found_class_correct / labels.
    pub class_recall: Option<f64>,
    /// Precision counts of detections classified into the group.
    #[serde(flatten)]
    pub counts: GroupCounts,
    /// correct / detections.
    pub class_precision: Option<f64>,
}

/// The figures of all frames.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DetectionSummary {
    /// Parameters used.
    pub params: DetectionEvalParams,
    /// Frames scored.
    pub frames: usize,
    /// Scored labels within range.
    pub labels: usize,
    /// Of those, found by a detection of any class.
    pub found: usize,
    /// found / labels.
    pub recall: Option<f64>,
    /// Mean BEV centre error of the found labels, m.
    pub mean_center_error_m: Option<f64>,
    /// Scored detections (in range, in view, outside DontCare, not on an unscored label).
    pub scored_detections: usize,
    /// Of those, matched to a scored label.
    pub true_positives: usize,
    /// Of those, matched to no label.
    pub false_positives: usize,
    /// In-view detections matched to a label that is not scored (Tram, Misc, out of range).
    pub ignored_detections: usize,
    /// true_positives / scored_detections.
    pub precision: Option<f64>,
    /// Unmatched obstacles per frame in the camera's view within range.
    pub false_positives_per_frame: f64,
    /// Per labelled type.
    pub by_type: Vec<TypeSummary>,
    /// Per class group.
    pub by_group: Vec<GroupSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Vector3;

    fn b(x: f64, y: f64) -> Box3 {
        Box3::new(Vector3::new(x, y, 0.0), Vector3::new(4.0, 2.0, 1.5), 0.0)
    }

    fn det(x: f64, y: f64, class: ObjectClass) -> EvalDetection {
        EvalDetection {
            bbox: b(x, y),
            class,
            scored: true,
        }
    }

    #[test]
    fn one_to_one_matching_recall_precision_and_classes() {
        let labels = [
            EvalLabel {
                bbox: b(10.0, 0.0),
                scored_type: Some(0),
            },
            EvalLabel {
                bbox: b(10.6, 0.0),
                scored_type: Some(3),
            },
            EvalLabel {
                bbox: b(20.0, 5.0),
                scored_type: None, // a Tram: not scored, not a false positive either
            },
            EvalLabel {
                bbox: b(70.0, 0.0), // beyond the range
                scored_type: Some(0),
            },
        ];
        let dets = [
            det(10.3, 0.0, ObjectClass::Car), // car label (or the pedestrian)
            det(20.2, 5.0, ObjectClass::Car), // the tram: ignored
            det(30.0, 0.0, ObjectClass::Pedestrian), // nothing there
            det(70.2, 0.0, ObjectClass::Unknown), // out-of-range label: ignored
        ];
        let mut acc = DetectionAccumulator::new(DetectionEvalParams::default());
        acc.add_frame(&labels, &dets);
        let s = acc.summary();
        // One detection cannot find both labels 0.6 m apart.
        assert_eq!((s.labels, s.found), (2, 1));
        assert_eq!(s.scored_detections, 2);
        assert_eq!(s.true_positives, 1);
        assert_eq!(s.false_positives, 1);
        assert_eq!(s.ignored_detections, 2);
        assert_eq!(s.precision, Some(0.5));
        assert_eq!(s.false_positives_per_frame, 1.0);
        let ped = &s.by_group[1];
        assert_eq!((ped.counts.detections, ped.counts.unmatched), (1, 1));
        assert_eq!(ped.class_precision, Some(0.0));
        let found: usize = s.by_type.iter().map(|t| t.counts.found).sum();
        assert_eq!(found, 1);
        assert!(s.mean_center_error_m.is_some_and(|e| e <= 0.3 + 1e-9));
        // A second frame with a correct pedestrian.
        acc.add_frame(
            &[EvalLabel {
                bbox: b(5.0, 1.0),
                scored_type: Some(3),
            }],
            &[det(5.2, 1.0, ObjectClass::Pedestrian)],
        );
        let s = acc.summary();
        assert_eq!(s.frames, 2);
        assert_eq!(s.by_type[3].counts.found_class_correct, 1);
        assert_eq!(s.by_group[1].class_precision, Some(0.5));
    }

    #[test]
    fn empty_frames_score_nothing() {
        let mut acc = DetectionAccumulator::new(DetectionEvalParams::default());
        acc.add_frame(&[], &[]);
        let s = acc.summary();
        assert_eq!(
            (s.frames, s.labels, s.recall, s.precision),
            (1, 0, None, None)
        );
    }
}
