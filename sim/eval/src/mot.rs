//! CLEAR MOT and identity metrics for any scene, frame by frame ([`MotAccumulator`]).
//!
//! Semantics follow `py-motmetrics` (Heindl), which a test checks against on the same
//! distances: a ground-truth object matched in the previous frame keeps its hypothesis while the
//! pair stays within the gate; the others are matched by min-cost assignment on the gated
//! distances; a match whose ground truth was last matched to another hypothesis is an id switch;
//! a fragmentation is a run of misses between two tracked frames of one object. IDF1 comes from
//! the global one-to-one assignment of ground-truth ids to hypothesis ids that maximises the
//! frames they are matched in (IDTP).

use fusionrt_core::assignment::Assignment;
use fusionrt_core::iou3d::iou_3d;
use fusionrt_core::{Box3, ObjectClass};
use serde::Serialize;
use std::collections::BTreeMap;

/// Large finite cost for gated pairs inside the assignment.
const INFEASIBLE: f64 = 1e9;

/// One object of a frame, ground truth or hypothesis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalObject {
    /// Id, stable over frames.
    pub id: u128,
    /// Class.
    pub class: ObjectClass,
    /// Box.
    pub bbox: Box3,
    /// Confidence (hypotheses), 1 for ground truth.
    pub score: f32,
}

/// When a hypothesis may match a ground-truth object.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum MatchCriterion {
    /// 3D IoU at least this; distance is `1 - IoU`.
    Iou3d(f64),
    /// Center distance at most this, m; distance is the center distance.
    CenterDistance(f64),
}

impl MatchCriterion {
    /// The distance of a pair, or `None` outside the gate.
    pub fn distance(&self, gt: &Box3, hyp: &Box3) -> Option<f64> {
        match *self {
            Self::Iou3d(min_iou) => {
                let iou = iou_3d(gt, hyp);
                (iou >= min_iou && iou > 0.0).then_some(1.0 - iou)
            }
            Self::CenterDistance(max_m) => {
                let d = (gt.center - hyp.center).norm();
                (d <= max_m).then_some(d)
            }
        }
    }
}

/// Summary of a [`MotAccumulator`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct MotSummary {
    /// Multi-object tracking accuracy: `1 - (misses + false_positives + id_switches) / num_gt`.
    pub mota: f64,
    /// Multi-object tracking precision: mean IoU of the matches for [`MatchCriterion::Iou3d`],
    /// mean center distance (m) for [`MatchCriterion::CenterDistance`].
    pub motp: f64,
    /// Identity F1: `2 IDTP / (num_gt + num_hyp)`.
    pub idf1: f64,
    /// Identity precision: `IDTP / num_hyp`.
    pub idp: f64,
    /// Identity recall: `IDTP / num_gt`.
    pub idr: f64,
    /// Matches whose ground truth was last matched to another hypothesis.
    pub id_switches: u64,
    /// Runs of misses between two tracked frames of one ground-truth object.
    pub fragmentations: u64,
    /// Hypotheses not matched.
    pub false_positives: u64,
    /// Ground-truth objects not matched.
    pub misses: u64,
    /// Ground-truth objects over all frames.
    pub num_gt: u64,
    /// Hypotheses over all frames.
    pub num_hyp: u64,
    /// Matches over all frames.
    pub num_matches: u64,
    /// `num_matches / num_hyp`.
    pub precision: f64,
    /// `num_matches / num_gt`.
    pub recall: f64,
    /// Frames added.
    pub num_frames: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct GtHistory {
    last_match: Option<u128>,
    tracked_before: bool,
    missed_since_tracked: bool,
}

/// Accumulates CLEAR MOT events frame by frame.
#[derive(Debug)]
pub struct MotAccumulator {
    criterion: MatchCriterion,
    history: BTreeMap<u128, GtHistory>,
    pair_frames: BTreeMap<(u128, u128), u64>,
    summary: MotSummary,
    distance_sum: f64,
    dist: Vec<f64>,
    solver: Assignment,
    solution: Vec<Option<usize>>,
    gt_ids: Vec<u128>,
    hyp_ids: Vec<u128>,
}

impl MotAccumulator {
    /// An empty accumulator.
    pub fn new(c: MatchCriterion) -> Self {
        Self {
            criterion: c,
            history: BTreeMap::new(),
            pair_frames: BTreeMap::new(),
            summary: MotSummary::default(),
            distance_sum: 0.0,
            dist: Vec::new(),
            solver: Assignment::new(),
            solution: Vec::new(),
            gt_ids: Vec::new(),
            hyp_ids: Vec::new(),
        }
    }

    /// Adds one frame: ground truth and hypotheses. Pairs of different classes never match.
    pub fn add_frame(&mut self, gt: &[EvalObject], hyp: &[EvalObject]) {
        let mut dist = std::mem::take(&mut self.dist);
        dist.clear();
        for g in gt {
            for h in hyp {
                let d = if g.class == h.class {
                    self.criterion.distance(&g.bbox, &h.bbox)
                } else {
                    None
                };
                dist.push(d.unwrap_or(f64::NAN));
            }
        }
        self.gt_ids.clear();
        self.gt_ids.extend(gt.iter().map(|g| g.id));
        self.hyp_ids.clear();
        self.hyp_ids.extend(hyp.iter().map(|h| h.id));
        let (gi, hi) = (
            std::mem::take(&mut self.gt_ids),
            std::mem::take(&mut self.hyp_ids),
        );
        self.add_frame_distances(&gi, &hi, &dist);
        self.gt_ids = gi;
        self.hyp_ids = hi;
        self.dist = dist;
    }

    /// Adds one frame from ids and a row-major `gt x hyp` distance matrix in which NaN marks a
    /// pair outside the gate. Ids must be unique within the frame.
    pub fn add_frame_distances(&mut self, gt_ids: &[u128], hyp_ids: &[u128], dist: &[f64]) {
        let (ng, nh) = (gt_ids.len(), hyp_ids.len());
        let s = &mut self.summary;
        s.num_frames += 1;
        s.num_gt += ng as u64;
        s.num_hyp += nh as u64;
        for (r, g) in gt_ids.iter().enumerate() {
            for (c, h) in hyp_ids.iter().enumerate() {
                if !dist[r * nh + c].is_nan() {
                    *self.pair_frames.entry((*g, *h)).or_insert(0) += 1;
                }
            }
        }
        let mut gt_match: Vec<Option<usize>> = vec![None; ng];
        let mut hyp_taken = vec![false; nh];
        // 1. Keep last frame's matches that are still valid.
        for (r, g) in gt_ids.iter().enumerate() {
            let Some(last) = self.history.get(g).and_then(|h| h.last_match) else {
                continue;
            };
            if let Some(c) = hyp_ids.iter().position(|h| *h == last)
                && !hyp_taken[c]
                && !dist[r * nh + c].is_nan()
            {
                gt_match[r] = Some(c);
                hyp_taken[c] = true;
            }
        }
        // 2. Min-cost assignment of the rest.
        let rows: Vec<usize> = (0..ng).filter(|&r| gt_match[r].is_none()).collect();
        let cols: Vec<usize> = (0..nh).filter(|&c| !hyp_taken[c]).collect();
        if !rows.is_empty() && !cols.is_empty() {
            let mut cost = vec![INFEASIBLE; rows.len() * cols.len()];
            for (i, &r) in rows.iter().enumerate() {
                for (j, &c) in cols.iter().enumerate() {
                    let d = dist[r * nh + c];
                    if !d.is_nan() {
                        cost[i * cols.len() + j] = d;
                    }
                }
            }
            self.solver
                .solve(&cost, rows.len(), cols.len(), &mut self.solution);
            for (i, sol) in self.solution.iter().enumerate() {
                if let Some(j) = *sol
                    && cost[i * cols.len() + j] < INFEASIBLE
                {
                    let (r, c) = (rows[i], cols[j]);
                    gt_match[r] = Some(c);
                    hyp_taken[c] = true;
                    let h = self.history.entry(gt_ids[r]).or_default();
                    if h.last_match.is_some_and(|l| l != hyp_ids[c]) {
                        self.summary.id_switches += 1;
                    }
                }
            }
        }
        // 3. Events.
        for (r, g) in gt_ids.iter().enumerate() {
            let h = self.history.entry(*g).or_default();
            match gt_match[r] {
                Some(c) => {
                    self.summary.num_matches += 1;
                    self.distance_sum += dist[r * nh + c];
                    if h.tracked_before && h.missed_since_tracked {
                        self.summary.fragmentations += 1;
                    }
                    h.tracked_before = true;
                    h.missed_since_tracked = false;
                    h.last_match = Some(hyp_ids[c]);
                }
                None => {
                    self.summary.misses += 1;
                    if h.tracked_before {
                        h.missed_since_tracked = true;
                    }
                }
            }
        }
        self.summary.false_positives += hyp_taken.iter().filter(|t| !**t).count() as u64;
    }

    /// The metrics so far.
    pub fn summary(&self) -> MotSummary {
        let mut s = self.summary;
        let ratio = |a: f64, b: u64| if b > 0 { a / b as f64 } else { 0.0 };
        s.mota = if s.num_gt > 0 {
            1.0 - (s.misses + s.false_positives + s.id_switches) as f64 / s.num_gt as f64
        } else {
            0.0
        };
        let mean_distance = ratio(self.distance_sum, s.num_matches);
        s.motp = match self.criterion {
            MatchCriterion::Iou3d(_) => {
                if s.num_matches > 0 {
                    1.0 - mean_distance
                } else {
                    0.0
                }
            }
            MatchCriterion::CenterDistance(_) => mean_distance,
        };
        s.precision = ratio(s.num_matches as f64, s.num_hyp);
        s.recall = ratio(s.num_matches as f64, s.num_gt);
        let idtp = self.idtp() as f64;
        s.idp = ratio(idtp, s.num_hyp);
        s.idr = ratio(idtp, s.num_gt);
        s.idf1 = ratio(2.0 * idtp, s.num_gt + s.num_hyp);
        s
    }

    /// Identity true positives: the best one-to-one id assignment, solved per connected
    /// component of the co-occurrence graph.
    fn idtp(&self) -> u64 {
        let gt_index: BTreeMap<u128, usize> = self
            .history
            .keys()
            .enumerate()
            .map(|(i, k)| (*k, i))
            .collect();
        let mut hyp_index: BTreeMap<u128, usize> = BTreeMap::new();
        for (_, h) in self.pair_frames.keys() {
            let n = hyp_index.len();
            hyp_index.entry(*h).or_insert(n);
        }
        let ng = gt_index.len();
        let mut parent: Vec<usize> = (0..ng + hyp_index.len()).collect();
        fn find(p: &mut [usize], mut i: usize) -> usize {
            while p[i] != i {
                p[i] = p[p[i]];
                i = p[i];
            }
            i
        }
        let edges: Vec<(usize, usize, u64)> = self
            .pair_frames
            .iter()
            .filter_map(|((g, h), n)| Some((*gt_index.get(g)?, ng + *hyp_index.get(h)?, *n)))
            .collect();
        for &(g, h, _) in &edges {
            let (a, b) = (find(&mut parent, g), find(&mut parent, h));
            if a != b {
                parent[a] = b;
            }
        }
        let mut comps: BTreeMap<usize, Vec<(usize, usize, u64)>> = BTreeMap::new();
        for &e in &edges {
            let root = find(&mut parent, e.0);
            comps.entry(root).or_default().push(e);
        }
        let mut solver = Assignment::new();
        let mut sol = Vec::new();
        let mut total = 0u64;
        for comp in comps.values() {
            let mut rows: Vec<usize> = comp.iter().map(|e| e.0).collect();
            let mut cols: Vec<usize> = comp.iter().map(|e| e.1).collect();
            rows.sort_unstable();
            rows.dedup();
            cols.sort_unstable();
            cols.dedup();
            let mut cost = vec![0.0; rows.len() * cols.len()];
            for &(g, h, n) in comp {
                let (Ok(r), Ok(c)) = (rows.binary_search(&g), cols.binary_search(&h)) else {
                    continue;
                };
                cost[r * cols.len() + c] = -(n as f64);
            }
            solver.solve(&cost, rows.len(), cols.len(), &mut sol);
            for (r, s) in sol.iter().enumerate() {
                if let Some(c) = *s {
                    total += (-cost[r * cols.len() + c]).round() as u64;
                }
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Vector3;

    fn obj(id: u128, x: f64) -> EvalObject {
        EvalObject {
            id,
            class: ObjectClass::Car,
            bbox: Box3::new(Vector3::new(x, 0.0, 0.0), Vector3::new(4.0, 2.0, 1.5), 0.0),
            score: 1.0,
        }
    }

    #[test]
    fn perfect_tracking_scores_one() {
        let mut acc = MotAccumulator::new(MatchCriterion::Iou3d(0.25));
        for k in 0..10 {
            let g = [obj(1, k as f64), obj(2, 20.0 + k as f64)];
            let h = [obj(11, k as f64), obj(12, 20.0 + k as f64)];
            acc.add_frame(&g, &h);
        }
        let s = acc.summary();
        assert_eq!(
            (s.mota, s.idf1, s.id_switches, s.num_matches),
            (1.0, 1.0, 0, 20)
        );
        assert!((s.motp - 1.0).abs() < 1e-9);
    }

    #[test]
    fn switch_miss_and_fragmentation_are_counted() {
        let mut acc = MotAccumulator::new(MatchCriterion::CenterDistance(1.0));
        acc.add_frame(&[obj(1, 0.0)], &[obj(10, 0.0)]);
        acc.add_frame(&[obj(1, 0.0)], &[]); // miss
        acc.add_frame(&[obj(1, 0.0)], &[obj(11, 0.2), obj(12, 50.0)]); // switch, fragment, FP
        let s = acc.summary();
        assert_eq!(s.id_switches, 1);
        assert_eq!(s.fragmentations, 1);
        assert_eq!(s.misses, 1);
        assert_eq!(s.false_positives, 1);
        assert!((s.mota - (1.0 - 3.0 / 3.0)).abs() < 1e-12);
        assert!((s.motp - 0.1).abs() < 1e-12);
        // IDTP = 1 (id 1 with either 10 or 11): IDF1 = 2 / (3 + 3).
        assert!((s.idf1 - 2.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn previous_match_is_kept_while_valid() {
        let mut acc = MotAccumulator::new(MatchCriterion::CenterDistance(2.0));
        acc.add_frame(&[obj(1, 0.0)], &[obj(10, 0.0)]);
        // Hypothesis 11 is closer now, but 10 is still within the gate: no switch.
        acc.add_frame(&[obj(1, 0.0)], &[obj(10, 1.5), obj(11, 0.0)]);
        assert_eq!(acc.summary().id_switches, 0);
    }
}
