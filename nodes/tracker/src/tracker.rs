//! The multi-object tracker: prediction, gated optimal association, update and life cycle.
//!
//! Per frame ([`Tracker::update`]):
//! 0. a detection whose class yields to another (`yield_to`) is dropped when a higher-scoring
//!    detection of that class lies within `yield_distance_m`: cross-class duplicates;
//! 1. every track is predicted to the frame's stamp with its class's motion model;
//! 2. detections are associated in two passes (confidence-aware, as in ByteTrack): first those
//!    scoring at least `high_score`, then the rest against the tracks still unmatched. In each
//!    pass, only pairs of the same class whose centers lie within `max_center_distance_m` are
//!    scored; pairs that pass the class's gate (GIoU, IoU, center distance or Mahalanobis) form
//!    a sparse bipartite graph whose connected components are solved one by one with the
//!    Hungarian method, so cost is near linear in the number of objects;
//! 3. matched tracks are updated; unmatched detections of high enough score start tentative
//!    tracks; tentative tracks are confirmed after `min_hits` hits and deleted after
//!    `tentative_max_misses` misses; confirmed tracks coast without detections and are deleted
//!    after `max_coast_s`.
//!
//! Track ids are 128-bit: the high 64 bits derive from the seed, the low 64 count tracks.

use crate::config::{AssociationMetric, ClassParams, ScoreSource, TrackerConfig};
use crate::filter::ObjectFilter;
use fusionrt_core::assignment::Assignment;
use fusionrt_core::iou3d::OverlapBox;
use fusionrt_core::objects::NUM_CLASSES;
use fusionrt_core::{
    BBox2, Box3, ClassProbs, FusedObject, ObjectClass, Track, TrackId, TrackState, nanos_to_secs,
};
use nalgebra::{Matrix6, Vector3, Vector4};

/// The factor a track's published score builds up by with its hits (`score_ramp_hits`).
fn score_ramp(p: &ClassParams, hits: u32) -> f32 {
    if p.score_ramp_hits > 0.0 {
        (1.0 - (-f64::from(hits) / p.score_ramp_hits).exp()) as f32
    } else {
        1.0
    }
}

/// Cost given to pairs outside the gate in a component's dense matrix.
const INFEASIBLE: f64 = 1e6;

/// One live track.
#[derive(Clone, Debug)]
struct TrackSlot {
    id: TrackId,
    class: ObjectClass,
    class_probs: ClassProbs,
    filter: ObjectFilter,
    size: Vector3<f64>,
    hits: u32,
    misses: u32,
    confirmed: bool,
    existence: f32,
    score: f32,
    camera_box: Option<(usize, BBox2)>,
    /// The box of the detection matched in the latest frame.
    detection_box: Box3,
    first_stamp_ns: i64,
    last_update_ns: i64,
    stamp_ns: i64,
}

impl TrackSlot {
    fn bbox(&self) -> Box3 {
        Box3::new(self.filter.position(), self.size, self.filter.yaw())
    }
}

/// The multi-object tracker stage.
#[derive(Debug)]
pub struct Tracker {
    cfg: TrackerConfig,
    id_high: u128,
    next_id: u64,
    tracks: Vec<TrackSlot>,
    // Per-frame scratch, reused.
    pairs: Vec<(usize, usize, f64)>,
    det_match: Vec<Option<usize>>,
    trk_match: Vec<Option<usize>>,
    order: Vec<usize>,
    parent: Vec<usize>,
    comp_pairs: Vec<(usize, usize, usize, f64)>,
    rows: Vec<usize>,
    cols: Vec<usize>,
    cost: Vec<f64>,
    solution: Vec<Option<usize>>,
    solver: Assignment,
    pass_dets: Vec<usize>,
    /// Per detection: dropped as a cross-class duplicate this frame.
    yielded: Vec<bool>,
    det_boxes: Vec<OverlapBox>,
    trk_boxes: Vec<OverlapBox>,
    last_stamp_ns: Option<i64>,
    skipped_invalid: u64,
}

/// SplitMix64: spreads a seed over 64 bits.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

impl Tracker {
    /// A tracker with no tracks. Distinct `id_seed`s give disjoint track ids.
    pub fn new(cfg: &TrackerConfig, id_seed: u64) -> Self {
        Self {
            cfg: cfg.clone(),
            id_high: u128::from(splitmix64(id_seed)) << 64,
            next_id: 1,
            tracks: Vec::with_capacity(256),
            pairs: Vec::with_capacity(1024),
            det_match: Vec::with_capacity(256),
            trk_match: Vec::with_capacity(256),
            order: Vec::with_capacity(256),
            parent: Vec::with_capacity(512),
            comp_pairs: Vec::with_capacity(1024),
            rows: Vec::with_capacity(64),
            cols: Vec::with_capacity(64),
            cost: Vec::with_capacity(4096),
            solution: Vec::with_capacity(64),
            solver: Assignment::new(),
            pass_dets: Vec::with_capacity(256),
            yielded: Vec::with_capacity(256),
            det_boxes: Vec::with_capacity(256),
            trk_boxes: Vec::with_capacity(256),
            last_stamp_ns: None,
            skipped_invalid: 0,
        }
    }

    /// Number of live tracks (all states).
    pub fn num_tracks(&self) -> usize {
        self.tracks.len()
    }

    /// Detections skipped so far because their box was invalid (non-finite or negative size).
    pub fn skipped_invalid(&self) -> u64 {
        self.skipped_invalid
    }

    /// Processes the detections of one frame taken at `stamp_ns` and writes the published tracks
    /// to `out` (cleared first). Detections with an invalid box are skipped and counted. A stamp
    /// older than the previous frame's is treated as the same instant (no prediction).
    pub fn update(&mut self, stamp_ns: i64, detections: &[FusedObject], out: &mut Vec<Track>) {
        out.clear();
        let stamp_ns = match self.last_stamp_ns {
            Some(last) if stamp_ns < last => {
                tracing::warn!(
                    stamp_ns,
                    last,
                    "tracker: stamp went backwards; not predicting"
                );
                last
            }
            _ => stamp_ns,
        };
        self.last_stamp_ns = Some(stamp_ns);

        // 0. Cross-class duplicates.
        self.mark_yielded(detections);

        // 1. Predict.
        for t in &mut self.tracks {
            let dt = nanos_to_secs(stamp_ns - t.stamp_ns);
            t.filter.predict(self.cfg.class(t.class), dt);
            t.stamp_ns = stamp_ns;
        }

        // 2. Associate in two passes, on boxes prepared once per frame.
        self.det_boxes.clear();
        self.det_boxes
            .extend(detections.iter().map(|d| OverlapBox::new(&d.bbox)));
        self.trk_boxes.clear();
        self.trk_boxes
            .extend(self.tracks.iter().map(|t| OverlapBox::new(&t.bbox())));
        self.det_match.clear();
        self.det_match.resize(detections.len(), None);
        self.trk_match.clear();
        self.trk_match.resize(self.tracks.len(), None);
        for high in [true, false] {
            self.pass_dets.clear();
            for (i, d) in detections.iter().enumerate() {
                if !d.bbox.is_valid() || !d.score.is_finite() || self.yielded[i] {
                    continue;
                }
                let p = self.cfg.class(d.class);
                if (d.score >= p.high_score) == high {
                    self.pass_dets.push(i);
                }
            }
            self.associate(detections);
        }

        // 3. Update matched tracks, age the others.
        for ti in 0..self.tracks.len() {
            let t = &mut self.tracks[ti];
            let p = self.cfg.class(t.class);
            match self.trk_match[ti] {
                Some(di) => {
                    let d = &detections[di];
                    let pose = Vector4::new(
                        d.bbox.center.x,
                        d.bbox.center.y,
                        d.bbox.center.z,
                        d.bbox.yaw_rad,
                    );
                    t.filter.update(p, &pose);
                    t.hits += 1;
                    t.misses = 0;
                    let gain = (1.0 / f64::from(t.hits)).max(p.size_gain);
                    t.size += (d.bbox.size - t.size) * gain;
                    t.score = d.score;
                    t.camera_box = d.camera_box;
                    t.detection_box = d.bbox;
                    t.last_update_ns = stamp_ns;
                    let pd = p.detection_probability * d.score.clamp(0.0, 1.0);
                    t.existence = t.existence + (1.0 - t.existence) * pd;
                    for k in 0..NUM_CLASSES {
                        t.class_probs.0[k] = 0.7 * t.class_probs.0[k] + 0.3 * d.class_probs.0[k];
                    }
                    if t.hits >= p.min_hits {
                        t.confirmed = true;
                    }
                }
                None => {
                    t.misses += 1;
                    let pd = p.detection_probability;
                    // Bayes: P(exists | missed) with miss probability 1 - pd.
                    t.existence = t.existence * (1.0 - pd)
                        / (t.existence * (1.0 - pd) + (1.0 - t.existence)).max(1e-6);
                }
            }
        }

        // Deletion.
        self.tracks.retain(|t| {
            let p = self.cfg.class(t.class);
            if t.confirmed {
                nanos_to_secs(stamp_ns - t.last_update_ns) <= p.max_coast_s + 1e-9
            } else {
                t.misses < p.tentative_max_misses.max(1)
            }
        });

        // Births.
        for (di, d) in detections.iter().enumerate() {
            if self.det_match[di].is_some() || self.yielded[di] {
                continue;
            }
            if !d.bbox.is_valid() || !d.score.is_finite() {
                self.skipped_invalid += 1;
                continue;
            }
            let p = self.cfg.class(d.class);
            if d.score < p.new_track_min_score {
                continue;
            }
            let pose = Vector4::new(
                d.bbox.center.x,
                d.bbox.center.y,
                d.bbox.center.z,
                d.bbox.yaw_rad,
            );
            let id = TrackId(self.id_high | u128::from(self.next_id));
            self.next_id += 1;
            self.tracks.push(TrackSlot {
                id,
                class: d.class,
                class_probs: d.class_probs,
                filter: ObjectFilter::new(p, pose, d.bbox.size.x),
                size: d.bbox.size,
                hits: 1,
                misses: 0,
                confirmed: p.min_hits <= 1,
                existence: (p.detection_probability * d.score.clamp(0.0, 1.0)).max(0.01),
                score: d.score,
                camera_box: d.camera_box,
                detection_box: d.bbox,
                first_stamp_ns: stamp_ns,
                last_update_ns: stamp_ns,
                stamp_ns,
            });
        }

        // 4. Publish.
        for t in &self.tracks {
            let p = self.cfg.class(t.class);
            let since = nanos_to_secs(stamp_ns - t.last_update_ns);
            let state = if !t.confirmed {
                if !p.publish_tentative {
                    continue;
                }
                TrackState::Tentative
            } else if t.misses == 0 {
                TrackState::Confirmed
            } else {
                if since > p.publish_coast_s + 1e-9 {
                    continue;
                }
                TrackState::Coasting
            };
            out.push(self.to_track(t, state));
        }
    }

    /// Marks the detections that yield to a higher-scoring detection of another class nearby.
    fn mark_yielded(&mut self, detections: &[FusedObject]) {
        self.yielded.clear();
        self.yielded.resize(detections.len(), false);
        for (i, d) in detections.iter().enumerate() {
            let p = self.cfg.class(d.class);
            if p.yield_to.is_empty() || !d.bbox.is_valid() || !d.score.is_finite() {
                continue;
            }
            let max_d2 = p.yield_distance_m * p.yield_distance_m;
            self.yielded[i] = detections.iter().any(|o| {
                p.yield_to.contains(&o.class)
                    && o.bbox.is_valid()
                    && o.score > d.score
                    && (o.bbox.center.xy() - d.bbox.center.xy()).norm_squared() <= max_d2
            });
        }
    }

    fn to_track(&self, t: &TrackSlot, state: TrackState) -> Track {
        let p = self.cfg.class(t.class);
        let mut pose_cov = Matrix6::zeros();
        for (r, i) in [(0, 0), (1, 1), (2, 2), (5, 3)] {
            for (c, j) in [(0, 0), (1, 1), (2, 2), (5, 3)] {
                pose_cov[(r, c)] = t.filter.p[(i, j)];
            }
        }
        let tv = t.filter.twist_variances();
        let mut twist_cov = Matrix6::zeros();
        twist_cov[(0, 0)] = tv[0];
        twist_cov[(1, 1)] = tv[1];
        twist_cov[(2, 2)] = tv[2];
        twist_cov[(5, 5)] = tv[3];
        let det = t.score * p.coast_score_factor.powi(t.misses.min(64) as i32);
        let score = match p.score_source {
            ScoreSource::Detection => det,
            ScoreSource::Existence => t.existence,
            ScoreSource::Product => det * t.existence,
        } * score_ramp(p, t.hits);
        Track {
            id: t.id,
            state,
            class: t.class,
            class_probs: t.class_probs,
            existence_probability: t.existence,
            bbox: if p.publish_detection_box && t.misses == 0 {
                t.detection_box
            } else {
                t.bbox()
            },
            velocity_mps: t.filter.velocity(),
            yaw_rate_rps: t.filter.yaw_rate(),
            pose_covariance: pose_cov,
            twist_covariance: twist_cov,
            age_ns: t.stamp_ns - t.first_stamp_ns,
            hits: t.hits,
            frames_since_update: t.misses,
            score,
            camera_box: t.camera_box,
            stamp_ns: t.stamp_ns,
        }
    }

    /// Cost of a detection-track pair under the class's metric, or `None` outside the gate.
    /// `db` and `tb` are the prepared boxes of `d` and `t`.
    fn pair_cost(
        p: &ClassParams,
        d: &FusedObject,
        t: &TrackSlot,
        db: &OverlapBox,
        tb: &OverlapBox,
    ) -> Option<f64> {
        match p.association {
            AssociationMetric::Giou3d => {
                let g = db.giou(tb);
                (g >= p.gate).then_some(1.0 - g)
            }
            AssociationMetric::Iou3d => {
                let g = db.iou(tb);
                (g >= p.gate && g > 0.0).then_some(1.0 - g)
            }
            AssociationMetric::CenterDistance => {
                let dist = (d.bbox.center - t.filter.position()).norm();
                (dist <= p.gate).then_some(dist)
            }
            AssociationMetric::Mahalanobis => {
                let m = t.filter.mahalanobis_sq(p, &d.bbox.center);
                (m <= p.gate).then_some(m)
            }
        }
    }

    /// Associates the detections in `pass_dets` with the tracks not yet matched.
    fn associate(&mut self, detections: &[FusedObject]) {
        // Tracks sorted by x for a sweep over the pre-gate window.
        self.order.clear();
        self.order
            .extend((0..self.tracks.len()).filter(|&ti| self.trk_match[ti].is_none()));
        let tracks = &self.tracks;
        self.order
            .sort_unstable_by(|&a, &b| tracks[a].filter.x[0].total_cmp(&tracks[b].filter.x[0]));

        self.pairs.clear();
        for &di in &self.pass_dets {
            let d = &detections[di];
            let p = self.cfg.class(d.class);
            let r = p.max_center_distance_m;
            let lo = d.bbox.center.x - r;
            let start = self
                .order
                .partition_point(|&ti| tracks[ti].filter.x[0] < lo);
            for &ti in &self.order[start..] {
                let t = &tracks[ti];
                if t.filter.x[0] > d.bbox.center.x + r {
                    break;
                }
                if t.class != d.class {
                    continue;
                }
                let dxy_sq = (t.filter.position().xy() - d.bbox.center.xy()).norm_squared();
                if dxy_sq > r * r {
                    continue;
                }
                if let Some(c) = Self::pair_cost(p, d, t, &self.det_boxes[di], &self.trk_boxes[ti])
                {
                    self.pairs.push((di, ti, c));
                }
            }
        }
        if self.pairs.is_empty() {
            return;
        }

        // Connected components: nodes are detections (0..n_det) then tracks.
        let n_det = detections.len();
        let n = n_det + self.tracks.len();
        self.parent.clear();
        self.parent.extend(0..n);
        for &(di, ti, _) in &self.pairs {
            let a = find(&mut self.parent, di);
            let b = find(&mut self.parent, n_det + ti);
            if a != b {
                self.parent[a] = b;
            }
        }
        self.comp_pairs.clear();
        for &(di, ti, c) in &self.pairs {
            let root = find(&mut self.parent, di);
            self.comp_pairs.push((root, di, ti, c));
        }
        self.comp_pairs
            .sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));

        let mut start = 0;
        while start < self.comp_pairs.len() {
            let root = self.comp_pairs[start].0;
            let mut end = start;
            while end < self.comp_pairs.len() && self.comp_pairs[end].0 == root {
                end += 1;
            }
            let comp = &self.comp_pairs[start..end];
            if comp.len() == 1 {
                let (_, di, ti, _) = comp[0];
                self.det_match[di] = Some(ti);
                self.trk_match[ti] = Some(di);
            } else {
                self.rows.clear();
                self.cols.clear();
                for &(_, di, ti, _) in comp {
                    if !self.rows.contains(&di) {
                        self.rows.push(di);
                    }
                    if !self.cols.contains(&ti) {
                        self.cols.push(ti);
                    }
                }
                self.cols.sort_unstable();
                let (nr, nc) = (self.rows.len(), self.cols.len());
                self.cost.clear();
                self.cost.resize(nr * nc, INFEASIBLE);
                for &(_, di, ti, c) in comp {
                    let r = self.rows.iter().position(|&x| x == di).unwrap_or(0);
                    let k = self.cols.iter().position(|&x| x == ti).unwrap_or(0);
                    self.cost[r * nc + k] = c;
                }
                self.solver.solve(&self.cost, nr, nc, &mut self.solution);
                for (r, sol) in self.solution.iter().enumerate() {
                    if let Some(k) = *sol
                        && self.cost[r * nc + k] < INFEASIBLE
                    {
                        let (di, ti) = (self.rows[r], self.cols[k]);
                        self.det_match[di] = Some(ti);
                        self.trk_match[ti] = Some(di);
                    }
                }
            }
            start = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MotionModelKind;
    use fusionrt_core::SensorSupport;

    fn det(class: ObjectClass, x: f64, y: f64, score: f32) -> FusedObject {
        let size = match class {
            ObjectClass::Pedestrian => Vector3::new(0.8, 0.6, 1.7),
            _ => Vector3::new(4.0, 1.8, 1.5),
        };
        FusedObject {
            bbox: Box3::new(Vector3::new(x, y, 0.8), size, 0.0),
            class,
            class_probs: ClassProbs::one_hot(class),
            score,
            support: SensorSupport::default(),
            camera_box: None,
        }
    }

    const DT_NS: i64 = 100_000_000;

    #[test]
    fn crossing_targets_keep_their_ids() {
        let cfg = TrackerConfig::default();
        let mut trk = Tracker::new(&cfg, 7);
        let mut out = Vec::new();
        let mut ids_a = Vec::new();
        let mut ids_b = Vec::new();
        for k in 0..40 {
            let t = k as f64 * 0.1;
            // Two cars on parallel lanes 3.5 m apart, one overtaking the other.
            let a = det(ObjectClass::Car, 10.0 * t, 0.0, 0.9);
            let b = det(ObjectClass::Car, 5.0 + 6.0 * t, 3.5, 0.9);
            trk.update(k * DT_NS, &[a, b], &mut out);
            if k >= 3 {
                assert_eq!(out.len(), 2, "frame {k}");
                let ta = out.iter().find(|t| t.bbox.center.y < 1.75).map(|t| t.id);
                let tb = out.iter().find(|t| t.bbox.center.y > 1.75).map(|t| t.id);
                ids_a.push(ta);
                ids_b.push(tb);
            }
        }
        assert!(ids_a.iter().all(|i| *i == ids_a[0] && i.is_some()));
        assert!(ids_b.iter().all(|i| *i == ids_b[0] && i.is_some()));
        assert_ne!(ids_a[0], ids_b[0]);
        let last = out
            .iter()
            .find(|t| t.bbox.center.y < 1.75)
            .map(|t| t.velocity_mps.x);
        assert!(last.is_some_and(|v| (v - 10.0).abs() < 0.5), "{last:?}");
    }

    #[test]
    fn publishes_the_matched_detection_box_when_asked_and_the_filtered_one_otherwise() {
        let mut out = Vec::new();
        let mut published = Vec::new();
        for use_detection in [false, true] {
            let mut cfg = TrackerConfig::default();
            cfg.car.min_hits = 1;
            cfg.car.publish_detection_box = use_detection;
            let mut trk = Tracker::new(&cfg, 1);
            for k in 0..5 {
                trk.update(
                    k * DT_NS,
                    &[det(ObjectClass::Car, 10.0, 0.0, 0.9)],
                    &mut out,
                );
            }
            // A jump of 0.5 m: the filter moves part of the way, the detection all of it.
            trk.update(
                5 * DT_NS,
                &[det(ObjectClass::Car, 10.5, 0.0, 0.9)],
                &mut out,
            );
            assert_eq!(out.len(), 1);
            published.push(out[0].bbox.center.x);
        }
        assert!(published[0] > 10.0 && published[0] < 10.45, "{published:?}");
        assert!((published[1] - 10.5).abs() < 1e-12, "{published:?}");
    }

    #[test]
    fn life_cycle_tentative_confirmed_coasting_deleted() {
        let mut cfg = TrackerConfig::default();
        cfg.car.publish_tentative = true;
        cfg.car.publish_coast_s = 0.15;
        cfg.car.max_coast_s = 0.25;
        cfg.car.min_hits = 3;
        let mut trk = Tracker::new(&cfg, 1);
        let mut out = Vec::new();
        let d = [det(ObjectClass::Car, 10.0, 0.0, 0.9)];
        let mut states = Vec::new();
        for k in 0..3 {
            trk.update(k * DT_NS, &d, &mut out);
            states.push(out[0].state);
        }
        assert_eq!(
            states,
            [
                TrackState::Tentative,
                TrackState::Tentative,
                TrackState::Confirmed
            ]
        );
        let id = out[0].id;
        trk.update(3 * DT_NS, &[], &mut out);
        assert_eq!(out[0].state, TrackState::Coasting);
        assert_eq!(out[0].id, id);
        assert!(out[0].score < 0.9);
        trk.update(4 * DT_NS, &[], &mut out);
        assert!(out.is_empty(), "not published after publish_coast_s");
        assert_eq!(trk.num_tracks(), 1);
        trk.update(5 * DT_NS, &[], &mut out);
        trk.update(6 * DT_NS, &[], &mut out);
        assert_eq!(trk.num_tracks(), 0, "deleted after max_coast_s");
        // Back again: a new id.
        for k in 7..10 {
            trk.update(k * DT_NS, &d, &mut out);
        }
        assert!(out[0].id != id);
        assert!(out[0].existence_probability > 0.5);
        assert_eq!(out[0].age_ns, 2 * DT_NS);
    }

    #[test]
    fn the_published_score_builds_up_with_the_hits() {
        let mut cfg = TrackerConfig::default();
        cfg.car.min_hits = 1;
        cfg.car.score_ramp_hits = 3.0;
        let mut trk = Tracker::new(&cfg, 1);
        let mut out = Vec::new();
        let d = [det(ObjectClass::Car, 10.0, 0.0, 0.8)];
        let mut scores = Vec::new();
        for k in 0..9 {
            trk.update(k * DT_NS, &d, &mut out);
            scores.push(out[0].score);
        }
        // 1 - exp(-1/3) of the detection's score at the first hit, 0.63 of it at the third,
        // 0.95 at the ninth.
        assert!((scores[0] - 0.8 * 0.2835).abs() < 1e-3, "{scores:?}");
        assert!((scores[2] - 0.8 * 0.6321).abs() < 1e-3, "{scores:?}");
        assert!((scores[8] - 0.8 * 0.9502).abs() < 1e-3, "{scores:?}");
        assert!(scores.windows(2).all(|w| w[1] > w[0]), "{scores:?}");
        // Off: the detection's score from the first hit.
        cfg.car.score_ramp_hits = 0.0;
        let mut trk = Tracker::new(&cfg, 1);
        trk.update(0, &d, &mut out);
        assert_eq!(out[0].score, 0.8);
    }

    #[test]
    fn classes_never_mix_and_ids_depend_on_seed() {
        let cfg = TrackerConfig::default();
        let mut a = Tracker::new(&cfg, 1);
        let mut b = Tracker::new(&cfg, 2);
        let mut out_a = Vec::new();
        let mut out_b = Vec::new();
        for k in 0..5 {
            let dets = [
                det(ObjectClass::Car, 10.0, 0.0, 0.9),
                det(ObjectClass::Pedestrian, 10.0, 0.0, 0.9),
            ];
            a.update(k * DT_NS, &dets, &mut out_a);
            b.update(k * DT_NS, &dets, &mut out_b);
        }
        assert_eq!(out_a.len(), 2);
        assert_ne!(out_a[0].id, out_a[1].id);
        assert!(out_a.iter().all(|t| out_b.iter().all(|u| u.id != t.id)));
    }

    #[test]
    fn a_pedestrian_detection_yields_to_a_higher_scoring_cyclist_at_the_same_place() {
        let mut cfg = TrackerConfig::default();
        cfg.pedestrian.min_hits = 1;
        cfg.bicycle.min_hits = 1;
        cfg.pedestrian.yield_to = vec![ObjectClass::Bicycle];
        // The classes published after one frame with a pedestrian and a cyclist detection,
        // each given as (x, y, score).
        let published = |ped: (f64, f64, f32), cyc: (f64, f64, f32)| {
            let mut trk = Tracker::new(&cfg, 1);
            let mut out = Vec::new();
            let dets = [
                det(ObjectClass::Pedestrian, ped.0, ped.1, ped.2),
                det(ObjectClass::Bicycle, cyc.0, cyc.1, cyc.2),
            ];
            trk.update(0, &dets, &mut out);
            let mut c: Vec<ObjectClass> = out.iter().map(|t| t.class).collect();
            c.sort();
            c
        };
        let both = [ObjectClass::Pedestrian, ObjectClass::Bicycle];
        // A rider seen by both detectors, the cyclist scoring higher: one cyclist track.
        assert_eq!(
            published((10.0, 0.0, 0.6), (10.3, 0.2, 0.8)),
            [ObjectClass::Bicycle]
        );
        // The pedestrian scoring higher: both kept (cyclists are not set to yield).
        assert_eq!(published((10.0, 0.0, 0.9), (10.3, 0.2, 0.8)), both);
        // Farther apart than yield_distance_m: both kept.
        assert_eq!(published((10.0, 0.0, 0.6), (10.0, 1.5, 0.8)), both);
    }

    #[test]
    fn bad_boxes_and_stamps_do_not_panic() {
        let mut cfg = TrackerConfig::default();
        for m in [MotionModelKind::Ctrv, MotionModelKind::Bicycle] {
            cfg.car.motion_model = m;
            let mut trk = Tracker::new(&cfg, 3);
            let mut out = Vec::new();
            let mut bad = det(ObjectClass::Car, f64::NAN, 0.0, 0.9);
            trk.update(0, &[bad], &mut out);
            bad.bbox.size.x = -1.0;
            bad.bbox.center.x = 1.0;
            trk.update(DT_NS, &[bad], &mut out);
            assert_eq!(trk.skipped_invalid(), 2);
            trk.update(5 * DT_NS, &[det(ObjectClass::Car, 1.0, 0.0, 0.9)], &mut out);
            trk.update(2 * DT_NS, &[det(ObjectClass::Car, 1.0, 0.0, 0.9)], &mut out);
            assert_eq!(trk.num_tracks(), 1);
        }
    }

    #[test]
    fn many_objects_in_dense_clusters_match_one_to_one() {
        let cfg = TrackerConfig::default();
        let mut trk = Tracker::new(&cfg, 5);
        let mut out = Vec::new();
        // A 20x25 grid of cars, 5 m apart: 500 objects, each moving 1 m per frame.
        for k in 0..6 {
            let dets: Vec<FusedObject> = (0..500)
                .map(|i| {
                    det(
                        ObjectClass::Car,
                        (i % 20) as f64 * 6.0 + k as f64,
                        (i / 20) as f64 * 3.0,
                        0.9,
                    )
                })
                .collect();
            trk.update(k * DT_NS, &dets, &mut out);
        }
        assert_eq!(out.len(), 500);
        assert_eq!(trk.num_tracks(), 500);
    }
}
