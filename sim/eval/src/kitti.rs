//! KITTI 3D MOT evaluation under the AB3DMOT protocol (its `scripts/KITTI/evaluate.py`, a 3D
//! IoU version of the KITTI tracking devkit), plus HOTA.
//!
//! Per class, per sequence and frame: ground truth and hypotheses are matched by the Hungarian
//! method on `1 - IoU3d` with a gate `IoU >= min_overlap` (0.25 by default). Ignore rules:
//! - ground truth of a neighbouring class (Van for Car, Person_sitting for Pedestrian), or
//!   truncated above 0, or occluded above 2, is ignored: unmatched it is no miss, matched it is
//!   no true positive for MOTA (it still counts in MOTP and recall, as in the devkit);
//! - an unmatched hypothesis of a neighbouring class, at most 25 px tall, or covered more than
//!   half by a DontCare region is ignored (no false positive).
//!
//! Hypothesis scores are replaced by the mean score of their track in the sequence, and tracks
//! whose mean is below a threshold are dropped. The thresholds are those of the devkit's
//! `getThresholds` (40 recall steps over the matched scores); sAMOTA and AMOTA are the sums of
//! sMOTA and MOTA over them divided by 40; MOTA, MOTP, IDS and FRAG are reported at the threshold
//! of best MOTA, as AB3DMOT does. Id switches and fragmentations follow the devkit's trajectory
//! rules (including `truncation`-ignored frames resetting the last id).
//!
//! Two behaviours of the reference script are reproduced on purpose, because the published
//! AB3DMOT figures were computed with them (`PassState` carries them from pass to pass):
//! - each pass overwrites every hypothesis score with its track's mean and the next pass averages
//!   those means again, so a mean can drift by an ulp, and a track whose mean *is* the threshold
//!   is then dropped about half of the time;
//! - a hypothesis matched in any earlier pass is never ignored again (its `valid` flag is never
//!   reset), so unmatched later it counts as a false positive even when small or in DontCare.
//!
//! Checked against `scripts/KITTI/evaluate.py` of xinshuoweng/AB3DMOT (commit 61f3bd7): the same
//! sAMOTA, MOTA, MOTP, IDS, FRAG, TP, FP and FN for every class on the 21 KITTI training
//! sequences.
//!
//! HOTA (Luiten et al. 2021, TrackEval's algorithm) is computed on 3D IoU over the same data at
//! the best-MOTA threshold, after removing ignored ground truth, the hypotheses matched to it and
//! the ignored hypotheses (TrackEval's KITTI preprocessing, with the 3D IoU gate instead of 2D).
//!
//! For finding where the errors are: `samota_ceiling` (the most sAMOTA the hypotheses could
//! score, from the recall they reach); with `explain`, the outcome of every hypothesis and
//! ground-truth object at the best threshold ([`MatchRecord`]), where false positives sit in
//! their tracks ([`FalsePositiveBreakdown`]) and the MOTA of an oracle track selection
//! ([`oracle_mota`]).

use crate::hota::{HotaAccumulator, HotaSummary};
use fusionrt_core::assignment::Assignment;
use fusionrt_core::iou3d::iou_3d;
use fusionrt_core::{BBox2, Box3};
use serde::Serialize;
use std::collections::BTreeMap;

const MAX_COST: f64 = 1e9;
/// Recall sample points of the AB3DMOT devkit (40 intervals).
const NUM_SAMPLE_PTS: f64 = 41.0;

/// Devkit parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct KittiEvalParams {
    /// Minimum 3D IoU of a match.
    pub min_overlap: f64,
    /// Ground truth truncated more than this is ignored.
    pub max_truncation: i32,
    /// Ground truth occluded more than this is ignored.
    pub max_occlusion: i32,
    /// Unmatched hypotheses at most this tall (px) are ignored.
    pub min_height_px: f64,
}

impl Default for KittiEvalParams {
    fn default() -> Self {
        Self {
            min_overlap: 0.25,
            max_truncation: 0,
            max_occlusion: 2,
            min_height_px: 25.0,
        }
    }
}

/// A ground-truth object of the evaluated class or of its neighbouring class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KittiGt {
    /// Track id.
    pub track_id: i64,
    /// True for the neighbouring class (Van for Car, Person_sitting for Pedestrian).
    pub neighbour: bool,
    /// Truncation level.
    pub truncation: i32,
    /// Occlusion level.
    pub occlusion: i32,
    /// 3D box (any right-handed frame, the same for hypotheses).
    pub bbox: Box3,
}

/// A hypothesis (tracker output) of the evaluated class or of its neighbouring class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KittiHyp {
    /// Track id.
    pub track_id: i64,
    /// True for the neighbouring class.
    pub neighbour: bool,
    /// 2D box, px.
    pub bbox2: BBox2,
    /// 3D box.
    pub bbox: Box3,
    /// Score.
    pub score: f64,
}

/// One frame of one class.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KittiFrame {
    /// Ground truth.
    pub gt: Vec<KittiGt>,
    /// DontCare regions, px.
    pub dont_care: Vec<BBox2>,
    /// Hypotheses.
    pub hyp: Vec<KittiHyp>,
}

/// One sequence of one class.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KittiSequence {
    /// Frames in order.
    pub frames: Vec<KittiFrame>,
}

/// CLEAR MOT counts at one score threshold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ClearMot {
    /// MOTA.
    pub mota: f64,
    /// MOTP (mean 3D IoU of the true positives).
    pub motp: f64,
    /// sMOTA at the recall of the threshold.
    pub smota: f64,
    /// True positives, ignored ones included, as the KITTI devkit and AB3DMOT count them (their
    /// recall and precision use this count).
    pub tp: u64,
    /// Of `tp`, the matches of ignored ground truth (a neighbouring class such as Van for Car, or
    /// too occluded or truncated): they count neither way in MOTA, whose ground truth is
    /// `tp - ignored_tp + fn_` (the devkit's "Ignored True Positives").
    pub ignored_tp: u64,
    /// False positives.
    pub fp: u64,
    /// Misses.
    pub fn_: u64,
    /// Id switches.
    pub id_switches: u64,
    /// Fragmentations.
    pub fragmentations: u64,
    /// Ground truth counted (ignored excluded).
    pub num_gt: u64,
    /// Recall, `tp / (tp + fn)`.
    pub recall: f64,
    /// Precision, `tp / (tp + fp)`.
    pub precision: f64,
    /// Mostly tracked share of trajectories.
    pub mt: f64,
    /// Mostly lost share of trajectories.
    pub ml: f64,
}

/// Evaluation result of one class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct KittiClassResult {
    /// Scaled AMOTA (AB3DMOT).
    pub samota: f64,
    /// Average MOTA over the recall thresholds.
    pub amota: f64,
    /// Average MOTP over the recall thresholds.
    pub amotp: f64,
    /// The most sAMOTA these hypotheses could score, whatever their scores: one per recall step
    /// that the hypotheses reach (each sMOTA is at most 1), over the 40 steps. The devkit places
    /// a step at the nearest match, so the bound is about `round(40 r) / 40` for a recall `r`
    /// with every hypothesis kept.
    pub samota_ceiling: f64,
    /// CLEAR MOT with every hypothesis kept (no score threshold): its `recall` is the most any
    /// threshold can reach.
    pub unthresholded: ClearMot,
    /// CLEAR MOT at the threshold of best MOTA.
    pub best: ClearMot,
    /// That threshold.
    pub best_threshold: f64,
    /// HOTA at that threshold.
    pub hota: HotaSummary,
    /// With `explain` only: the MOTA of publishing exactly the tracks that have more true than
    /// false positives with every hypothesis kept (id switches left out). What a perfect track
    /// score could reach with these tracks; see [`oracle_mota`].
    pub oracle_mota: Option<f64>,
}

/// What became of one hypothesis or one ground-truth object in the pass at the threshold of
/// best MOTA (`evaluate_class` with `explain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// Hypothesis matched to counted ground truth.
    TruePositive,
    /// Hypothesis matched to ignored ground truth (no true positive for MOTA, no error).
    IgnoredMatch,
    /// Unmatched hypothesis counted as an error.
    FalsePositive,
    /// Unmatched hypothesis that is ignored (neighbouring class, too small, in DontCare).
    IgnoredHypothesis,
    /// Hypothesis of a track whose mean score is below the threshold.
    BelowThreshold,
    /// Counted ground truth without a match.
    Miss,
    /// Ignored ground truth without a match.
    IgnoredMiss,
}

/// One line of an explained evaluation: a hypothesis or a ground-truth object and its outcome.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MatchRecord {
    /// Index of the sequence in the evaluated slice.
    pub sequence: usize,
    /// Frame.
    pub frame: usize,
    /// Outcome.
    pub outcome: Outcome,
    /// Track id of the hypothesis, if one is involved.
    pub track_id: Option<i64>,
    /// Mean score of that hypothesis's track.
    pub track_score: Option<f64>,
    /// Track id of the ground truth, if one is involved.
    pub gt_id: Option<i64>,
    /// 3D IoU of the match (0 when unmatched).
    pub iou: f64,
}

/// The MOTA of an oracle track selection, from the records of a pass that kept every hypothesis:
/// each track is published whole when it has more true than false positives, else left out
/// (its true positives become misses). Errors are the misses plus, per track, the smaller of its
/// true and false positive counts; id switches are left out. Removing a track could let another
/// match in its place, so this is an estimate, not a bound.
pub fn oracle_mota(records: &[MatchRecord], num_gt: u64) -> f64 {
    let mut per_track: BTreeMap<(usize, i64), (u64, u64)> = BTreeMap::new();
    let mut misses = 0u64;
    for r in records {
        match (r.outcome, r.track_id) {
            (Outcome::TruePositive, Some(id)) => {
                per_track.entry((r.sequence, id)).or_default().0 += 1
            }
            (Outcome::FalsePositive, Some(id)) => {
                per_track.entry((r.sequence, id)).or_default().1 += 1;
            }
            (Outcome::Miss, _) => misses += 1,
            _ => {}
        }
    }
    let errors = misses + per_track.values().map(|&(tp, fp)| tp.min(fp)).sum::<u64>();
    1.0 - errors as f64 / num_gt.max(1) as f64
}

/// Where the false positives of an explained evaluation sit within their tracks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FalsePositiveBreakdown {
    /// In tracks never matched to ground truth (false tracks).
    pub false_tracks: u64,
    /// Before a track's first match: often an object the labels start later.
    pub before_first_match: u64,
    /// After a track's last match: the track outlived its object.
    pub after_last_match: u64,
    /// Between two matches of a track (localisation or an id taken over).
    pub between_matches: u64,
}

impl FalsePositiveBreakdown {
    /// Sorts the false positives of `records` (one class) by their place in their track.
    pub fn of(records: &[MatchRecord]) -> Self {
        // Per (sequence, track): frames of its matches.
        let mut matched: BTreeMap<(usize, i64), (usize, usize)> = BTreeMap::new();
        for r in records {
            if let (Outcome::TruePositive | Outcome::IgnoredMatch, Some(id)) =
                (r.outcome, r.track_id)
            {
                let e = matched
                    .entry((r.sequence, id))
                    .or_insert((r.frame, r.frame));
                e.0 = e.0.min(r.frame);
                e.1 = e.1.max(r.frame);
            }
        }
        let mut b = Self::default();
        for r in records
            .iter()
            .filter(|r| r.outcome == Outcome::FalsePositive)
        {
            match r.track_id.and_then(|id| matched.get(&(r.sequence, id))) {
                None => b.false_tracks += 1,
                Some((first, _)) if r.frame < *first => b.before_first_match += 1,
                Some((_, last)) if r.frame > *last => b.after_last_match += 1,
                Some(_) => b.between_matches += 1,
            }
        }
        b
    }
}

struct Pass {
    stats: ClearMot,
    scores: Vec<f64>,
}

/// What the reference evaluator carries from one pass to the next, per sequence, frame and
/// hypothesis: the current score (the track mean of the previous pass) and whether the
/// hypothesis was ever matched.
struct PassState {
    scores: Vec<Vec<Vec<f64>>>,
    matched: Vec<Vec<Vec<bool>>>,
}

impl PassState {
    fn new(seqs: &[KittiSequence]) -> Self {
        let scores = seqs
            .iter()
            .map(|s| {
                s.frames
                    .iter()
                    .map(|f| f.hyp.iter().map(|h| h.score).collect())
                    .collect()
            })
            .collect();
        let matched = seqs
            .iter()
            .map(|s| s.frames.iter().map(|f| vec![false; f.hyp.len()]).collect())
            .collect();
        Self { scores, matched }
    }

    /// Replaces every score of sequence `seq` by its track's mean, summed in frame order as
    /// the reference does, and returns the means by track id.
    fn average_tracks(&mut self, seq_idx: usize, seq: &KittiSequence) -> BTreeMap<i64, f64> {
        let mut sums: BTreeMap<i64, (f64, u64)> = BTreeMap::new();
        for (f, scores) in seq.frames.iter().zip(&self.scores[seq_idx]) {
            for (h, s) in f.hyp.iter().zip(scores) {
                let e = sums.entry(h.track_id).or_insert((0.0, 0));
                e.0 += s;
                e.1 += 1;
            }
        }
        let means: BTreeMap<i64, f64> = sums
            .into_iter()
            .map(|(id, (sum, n))| (id, sum / n as f64))
            .collect();
        for (f, scores) in seq.frames.iter().zip(&mut self.scores[seq_idx]) {
            for (h, s) in f.hyp.iter().zip(scores.iter_mut()) {
                *s = means[&h.track_id];
            }
        }
        means
    }
}

/// Evaluates one class over sequences. With `explain`, also records the outcome of every
/// hypothesis and ground-truth object at the threshold of best MOTA.
pub fn evaluate_class(
    seqs: &[KittiSequence],
    params: &KittiEvalParams,
    explain: Option<&mut Vec<MatchRecord>>,
) -> KittiClassResult {
    let mut state = PassState::new(seqs);
    let mut all_kept = Vec::new();
    let first = run(
        seqs,
        params,
        -10000.0,
        1.0,
        &mut state,
        None,
        explain.is_some().then_some(&mut all_kept),
    );
    let num_gt = first.stats.tp + first.stats.fn_;
    let (thresholds, recalls) = get_thresholds(&first.scores, num_gt);
    let mut result = KittiClassResult {
        unthresholded: first.stats,
        oracle_mota: explain
            .is_some()
            .then(|| oracle_mota(&all_kept, first.stats.num_gt)),
        ..KittiClassResult::default()
    };
    let (mut best_mota, mut best_threshold) = (0.0, -10000.0);
    for (t, r) in thresholds.iter().zip(&recalls) {
        let p = run(seqs, params, *t, *r, &mut state, None, None);
        result.samota += p.stats.smota;
        result.amota += p.stats.mota;
        result.amotp += p.stats.motp;
        if p.stats.mota > best_mota {
            best_mota = p.stats.mota;
            best_threshold = *t;
        }
    }
    let n = NUM_SAMPLE_PTS - 1.0;
    result.samota_ceiling = thresholds.len() as f64 / n;
    result.samota /= n;
    result.amota /= n;
    result.amotp /= n;
    let mut hota = HotaAccumulator::new();
    result.best = run(
        seqs,
        params,
        best_threshold,
        1.0,
        &mut state,
        Some(&mut hota),
        explain,
    )
    .stats;
    result.best_threshold = best_threshold;
    result.hota = hota.summary();
    result
}

/// The devkit's score thresholds and recalls (the first, zero-recall one dropped).
fn get_thresholds(scores: &[f64], num_gt: u64) -> (Vec<f64>, Vec<f64>) {
    let mut s = scores.to_vec();
    s.sort_by(|a, b| b.total_cmp(a));
    let mut current = 0.0;
    let mut thresholds = Vec::new();
    let mut recalls = Vec::new();
    let n = num_gt.max(1) as f64;
    for (i, score) in s.iter().enumerate() {
        let l = (i + 1) as f64 / n;
        let r = if i + 1 < s.len() {
            (i + 2) as f64 / n
        } else {
            l
        };
        if (r - current) < (current - l) && i + 1 < s.len() {
            continue;
        }
        thresholds.push(*score);
        recalls.push(current);
        current += 1.0 / (NUM_SAMPLE_PTS - 1.0);
    }
    if !thresholds.is_empty() {
        thresholds.remove(0);
        recalls.remove(0);
    }
    (thresholds, recalls)
}

/// The matching of one frame, for `explain`.
struct FrameOutcomes<'a> {
    sequence: usize,
    frame: usize,
    /// Kept hypotheses: index into the frame's hypotheses, mean score.
    hyp: &'a [(usize, f64)],
    gt_trk: &'a [Option<usize>],
    gt_ignored: &'a [bool],
    hyp_ignored: &'a [bool],
    /// IoU, ground truth major.
    iou: &'a [f64],
}

impl FrameOutcomes<'_> {
    fn record(&self, f: &KittiFrame, mean: &dyn Fn(i64) -> f64, out: &mut Vec<MatchRecord>) {
        let nt = self.hyp.len();
        let mut gt_of_hyp = vec![None; nt];
        for (r, m) in self.gt_trk.iter().enumerate() {
            if let Some(c) = *m {
                gt_of_hyp[c] = Some(r);
            }
        }
        let mut kept = vec![false; f.hyp.len()];
        for (c, (hi, score)) in self.hyp.iter().enumerate() {
            kept[*hi] = true;
            let (outcome, gt_id, iou) = match gt_of_hyp[c] {
                Some(r) if self.gt_ignored[r] => (
                    Outcome::IgnoredMatch,
                    Some(f.gt[r].track_id),
                    self.iou[r * nt + c],
                ),
                Some(r) => (
                    Outcome::TruePositive,
                    Some(f.gt[r].track_id),
                    self.iou[r * nt + c],
                ),
                None if self.hyp_ignored[c] => (Outcome::IgnoredHypothesis, None, 0.0),
                None => (Outcome::FalsePositive, None, 0.0),
            };
            out.push(MatchRecord {
                sequence: self.sequence,
                frame: self.frame,
                outcome,
                track_id: Some(f.hyp[*hi].track_id),
                track_score: Some(*score),
                gt_id,
                iou,
            });
        }
        for (h, _) in f.hyp.iter().zip(&kept).filter(|(_, k)| !**k) {
            out.push(MatchRecord {
                sequence: self.sequence,
                frame: self.frame,
                outcome: Outcome::BelowThreshold,
                track_id: Some(h.track_id),
                track_score: Some(mean(h.track_id)),
                gt_id: None,
                iou: 0.0,
            });
        }
        for (r, g) in f.gt.iter().enumerate() {
            if self.gt_trk[r].is_none() {
                out.push(MatchRecord {
                    sequence: self.sequence,
                    frame: self.frame,
                    outcome: if self.gt_ignored[r] {
                        Outcome::IgnoredMiss
                    } else {
                        Outcome::Miss
                    },
                    track_id: None,
                    track_score: None,
                    gt_id: Some(g.track_id),
                    iou: 0.0,
                });
            }
        }
    }
}

fn overlap_of_a(a: &BBox2, dc: &BBox2) -> f64 {
    let w = f64::from(a.x2.min(dc.x2) - a.x1.max(dc.x1));
    let h = f64::from(a.y2.min(dc.y2) - a.y1.max(dc.y1));
    if w <= 0.0 || h <= 0.0 {
        return 0.0;
    }
    let area = f64::from((a.x2 - a.x1) * (a.y2 - a.y1));
    if area > 0.0 { w * h / area } else { 0.0 }
}

/// One pass of the devkit's `compute3rdPartyMetrics` at a score threshold.
fn run(
    seqs: &[KittiSequence],
    params: &KittiEvalParams,
    threshold: f64,
    recall_thres: f64,
    state: &mut PassState,
    mut hota: Option<&mut HotaAccumulator>,
    mut explain: Option<&mut Vec<MatchRecord>>,
) -> Pass {
    let mut solver = Assignment::new();
    let mut sol = Vec::new();
    let mut st = ClearMot::default();
    let mut n_gt: i64 = 0;
    let mut total_iou = 0.0;
    let mut scores = Vec::new();
    let (mut mt, mut ml, mut n_traj) = (0u64, 0u64, 0u64);
    for (seq_idx, seq) in seqs.iter().enumerate() {
        // Mean score per track over the sequence; drop tracks below the threshold.
        let means = state.average_tracks(seq_idx, seq);
        let mean = |id: i64| means[&id];
        // Per ground-truth id: tracker id per frame (-1 none) and ignored flag.
        let mut traj: BTreeMap<i64, (Vec<i64>, Vec<bool>)> = BTreeMap::new();
        if let Some(h) = hota.as_deref_mut() {
            h.start_sequence();
        }
        for (f_idx, f) in seq.frames.iter().enumerate() {
            let ever_matched = &mut state.matched[seq_idx][f_idx];
            let hyp: Vec<(usize, f64)> = f
                .hyp
                .iter()
                .enumerate()
                .map(|(i, h)| (i, mean(h.track_id)))
                .filter(|(_, m)| *m >= threshold)
                .collect();
            let (ng, nt) = (f.gt.len(), hyp.len());
            n_gt += ng as i64;
            let mut cost = vec![MAX_COST; ng * nt];
            let mut iou = vec![0.0; ng * nt];
            for (r, g) in f.gt.iter().enumerate() {
                for (c, (hi, _)) in hyp.iter().enumerate() {
                    let v = iou_3d(&g.bbox, &f.hyp[*hi].bbox);
                    iou[r * nt + c] = v;
                    let cst = 1.0 - v;
                    if cst <= 1.0 - params.min_overlap {
                        cost[r * nt + c] = cst;
                    }
                }
            }
            let mut gt_trk: Vec<Option<usize>> = vec![None; ng];
            if ng > 0 && nt > 0 {
                solver.solve(&cost, ng, nt, &mut sol);
                for (r, s) in sol.iter().enumerate() {
                    if let Some(c) = *s
                        && cost[r * nt + c] < MAX_COST
                    {
                        gt_trk[r] = Some(c);
                        ever_matched[hyp[c].0] = true;
                        total_iou += 1.0 - cost[r * nt + c];
                        st.tp += 1;
                        scores.push(hyp[c].1);
                    }
                }
            }
            let mut tmptp = gt_trk.iter().filter(|m| m.is_some()).count() as i64;
            // Ignored hypotheses (only unmatched ones).
            let mut hyp_ignored = vec![false; nt];
            for (c, (hi, _)) in hyp.iter().enumerate() {
                if ever_matched[*hi] {
                    continue;
                }
                let h = &f.hyp[*hi];
                let height = f64::from((h.bbox2.y1 - h.bbox2.y2).abs());
                if h.neighbour || height <= params.min_height_px {
                    hyp_ignored[c] = true;
                    continue;
                }
                if f.dont_care.iter().any(|d| overlap_of_a(&h.bbox2, d) > 0.5) {
                    hyp_ignored[c] = true;
                }
            }
            let n_ignored_hyp = hyp_ignored.iter().filter(|x| **x).count() as i64;
            // Ignored ground truth.
            let (mut ignored_fn, mut ignored_tp) = (0i64, 0i64);
            let mut gt_ignored = vec![false; ng];
            for (r, g) in f.gt.iter().enumerate() {
                let ign = g.occlusion > params.max_occlusion
                    || g.truncation > params.max_truncation
                    || g.neighbour;
                gt_ignored[r] = ign;
                if ign {
                    if gt_trk[r].is_some() {
                        ignored_tp += 1;
                    } else {
                        ignored_fn += 1;
                    }
                }
                let e = traj.entry(g.track_id).or_default();
                e.0.push(gt_trk[r].map_or(-1, |c| f.hyp[hyp[c].0].track_id));
                e.1.push(ign);
            }
            tmptp -= ignored_tp;
            st.ignored_tp += ignored_tp as u64;
            n_gt -= ignored_fn + ignored_tp;
            let unmatched = gt_trk.iter().filter(|m| m.is_none()).count() as i64;
            st.fn_ += (unmatched - ignored_fn).max(0) as u64;
            st.fp += (nt as i64 - tmptp - n_ignored_hyp - ignored_tp).max(0) as u64;

            if let Some(records) = explain.as_deref_mut() {
                let ctx = FrameOutcomes {
                    sequence: seq_idx,
                    frame: f_idx,
                    hyp: &hyp,
                    gt_trk: &gt_trk,
                    gt_ignored: &gt_ignored,
                    hyp_ignored: &hyp_ignored,
                    iou: &iou,
                };
                ctx.record(f, &mean, records);
            }
            if let Some(h) = hota.as_deref_mut() {
                // TrackEval-style preprocessing: drop ignored ground truth, hypotheses matched
                // to it, and ignored hypotheses.
                let keep_gt: Vec<usize> = (0..ng).filter(|&r| !gt_ignored[r]).collect();
                let mut keep_hyp = vec![true; nt];
                for r in 0..ng {
                    if gt_ignored[r]
                        && let Some(c) = gt_trk[r]
                    {
                        keep_hyp[c] = false;
                    }
                }
                for c in 0..nt {
                    if hyp_ignored[c] {
                        keep_hyp[c] = false;
                    }
                }
                let keep_h: Vec<usize> = (0..nt).filter(|&c| keep_hyp[c]).collect();
                let gt_ids: Vec<i64> = keep_gt.iter().map(|&r| f.gt[r].track_id).collect();
                let hyp_ids: Vec<i64> = keep_h.iter().map(|&c| f.hyp[hyp[c].0].track_id).collect();
                let mut sim = Vec::with_capacity(keep_gt.len() * keep_h.len());
                for &r in &keep_gt {
                    for &c in &keep_h {
                        sim.push(iou[r * nt + c]);
                    }
                }
                h.add_frame(&gt_ids, &hyp_ids, &sim);
            }
        }
        // Trajectory rules of the devkit.
        for (g, ign) in traj.values() {
            if ign.iter().all(|x| *x) {
                continue;
            }
            n_traj += 1;
            if g.iter().all(|x| *x == -1) {
                ml += 1;
                continue;
            }
            let mut last_id = g[0];
            let mut tracked = u64::from(g[0] >= 0);
            let mut f = 0;
            for k in 1..g.len() {
                f = k;
                if ign[k] {
                    last_id = -1;
                    continue;
                }
                if last_id != g[k] && last_id != -1 && g[k] != -1 && g[k - 1] != -1 {
                    st.id_switches += 1;
                }
                if k + 1 < g.len()
                    && g[k - 1] != g[k]
                    && last_id != -1
                    && g[k] != -1
                    && g[k + 1] != -1
                {
                    st.fragmentations += 1;
                }
                if g[k] != -1 {
                    tracked += 1;
                    last_id = g[k];
                }
            }
            if g.len() > 1 && g[f - 1] != g[f] && last_id != -1 && g[f] != -1 && !ign[f] {
                st.fragmentations += 1;
            }
            let n_ign = ign.iter().filter(|x| **x).count();
            let ratio = tracked as f64 / (g.len() - n_ign) as f64;
            if ratio > 0.8 {
                mt += 1;
            } else if ratio < 0.2 {
                ml += 1;
            }
        }
    }
    if n_traj > 0 {
        st.mt = mt as f64 / n_traj as f64;
        st.ml = ml as f64 / n_traj as f64;
    }
    st.num_gt = n_gt.max(0) as u64;
    if st.tp + st.fp > 0 && st.tp + st.fn_ > 0 {
        st.recall = st.tp as f64 / (st.tp + st.fn_) as f64;
        st.precision = st.tp as f64 / (st.tp + st.fp) as f64;
    }
    let errors = (st.fn_ + st.fp + st.id_switches) as f64;
    if n_gt > 0 {
        let n = n_gt as f64;
        st.mota = 1.0 - errors / n;
        st.smota = (1.0 - (errors - (1.0 - recall_thres) * n) / (recall_thres * n)).clamp(0.0, 1.0);
    } else {
        st.mota = f64::NEG_INFINITY;
        st.smota = f64::NEG_INFINITY;
    }
    st.motp = if st.tp > 0 {
        total_iou / st.tp as f64
    } else {
        0.0
    };
    Pass { stats: st, scores }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Vector3;

    fn b3(x: f64) -> Box3 {
        Box3::new(Vector3::new(x, 0.0, 0.75), Vector3::new(4.0, 1.8, 1.5), 0.0)
    }

    fn gt(id: i64, x: f64) -> KittiGt {
        KittiGt {
            track_id: id,
            neighbour: false,
            truncation: 0,
            occlusion: 0,
            bbox: b3(x),
        }
    }

    fn hyp(id: i64, x: f64, score: f64) -> KittiHyp {
        KittiHyp {
            track_id: id,
            neighbour: false,
            bbox2: BBox2::new(100.0, 100.0, 200.0, 200.0),
            bbox: b3(x),
            score,
        }
    }

    /// One pass over fresh state with default parameters and no score threshold.
    fn first_pass(seqs: &[KittiSequence]) -> Pass {
        let mut state = PassState::new(seqs);
        run(
            seqs,
            &KittiEvalParams::default(),
            -1e4,
            1.0,
            &mut state,
            None,
            None,
        )
    }

    #[test]
    fn thresholds_follow_the_devkit() {
        // 4 gt, 4 matched scores: recall steps of 0.25 are coarser than 1/40.
        let (t, r) = get_thresholds(&[0.9, 0.8, 0.7, 0.6], 4);
        assert_eq!(t, vec![0.8, 0.7, 0.6]);
        assert!((r[0] - 1.0 / 40.0).abs() < 1e-12);
        assert_eq!(r.len(), 3);
    }

    /// Two ground-truth cars 20 m apart moving 0.5 m per frame, with the hypotheses that
    /// `hyps` gives for the first car's position in each frame.
    fn two_cars(frames: usize, hyps: impl Fn(f64) -> Vec<KittiHyp>) -> KittiSequence {
        let frames = (0..frames)
            .map(|k| {
                let x = 10.0 + k as f64 * 0.5;
                KittiFrame {
                    gt: vec![gt(0, x), gt(1, x + 20.0)],
                    dont_care: vec![],
                    hyp: hyps(x),
                }
            })
            .collect();
        KittiSequence { frames }
    }

    #[test]
    fn perfect_tracks_score_one_and_false_tracks_are_thresholded() {
        // Binary fractions: their means survive re-averaging exactly.
        let seq = two_cars(50, |x| {
            vec![
                hyp(5, x, 0.75),
                hyp(6, x + 20.0, 0.5),
                hyp(7, x + 40.0, 0.125),
            ]
        });
        let mut records = Vec::new();
        let r = evaluate_class(&[seq], &KittiEvalParams::default(), Some(&mut records));
        assert!((r.best.mota - 1.0).abs() < 1e-12, "{r:?}");
        assert_eq!(r.best.fp, 0);
        assert!(r.samota > 0.99, "{}", r.samota);
        assert!(r.samota <= r.samota_ceiling);
        assert!((r.hota.hota - 1.0).abs() < 1e-9);
        assert_eq!(r.oracle_mota, Some(1.0));
        // Explained: both true tracks matched in every frame, the false one thresholded away.
        let count = |o: Outcome| records.iter().filter(|r| r.outcome == o).count();
        assert_eq!(count(Outcome::TruePositive), 100);
        assert_eq!(count(Outcome::BelowThreshold), 50);
        assert_eq!(records.len(), 150);
        let below = records
            .iter()
            .find(|r| r.outcome == Outcome::BelowThreshold)
            .unwrap();
        assert_eq!((below.track_id, below.track_score), (Some(7), Some(0.125)));
        assert!(
            records
                .iter()
                .filter(|r| r.outcome == Outcome::TruePositive)
                .all(|r| r.iou > 0.99 && r.gt_id == Some(r.track_id.unwrap() - 5))
        );
    }

    #[test]
    fn samota_cannot_exceed_the_recall_the_hypotheses_reach() {
        // Two objects, only one ever tracked: recall 0.5, so at most 20 of the 40 steps.
        let seq = two_cars(40, |x| vec![hyp(5, x, 0.75)]);
        let r = evaluate_class(&[seq], &KittiEvalParams::default(), None);
        assert!(
            (r.samota_ceiling - 0.5).abs() < 1e-12,
            "{}",
            r.samota_ceiling
        );
        assert!(r.samota <= r.samota_ceiling + 1e-12, "{}", r.samota);
        assert!((r.best.mota - 0.5).abs() < 1e-12);
    }

    #[test]
    fn the_oracle_keeps_tracks_with_more_true_than_false_positives() {
        let rec = |outcome: Outcome, track: Option<i64>| MatchRecord {
            sequence: 0,
            frame: 0,
            outcome,
            track_id: track,
            track_score: None,
            gt_id: None,
            iou: 0.0,
        };
        use Outcome::{FalsePositive as Fp, Miss, TruePositive as Tp};
        // Track 1: 3 TP, 1 FP (kept: 1 error); track 2: 1 TP, 2 FP (left out: 1 error);
        // 2 misses. 4 errors over 6 ground-truth objects.
        let records = [
            rec(Tp, Some(1)),
            rec(Tp, Some(1)),
            rec(Tp, Some(1)),
            rec(Fp, Some(1)),
            rec(Tp, Some(2)),
            rec(Fp, Some(2)),
            rec(Fp, Some(2)),
            rec(Miss, None),
            rec(Miss, None),
        ];
        assert!((oracle_mota(&records, 6) - (1.0 - 4.0 / 6.0)).abs() < 1e-12);
    }

    #[test]
    fn false_positives_are_placed_within_their_tracks() {
        let rec = |frame: usize, outcome: Outcome, track: i64| MatchRecord {
            sequence: 0,
            frame,
            outcome,
            track_id: Some(track),
            track_score: Some(1.0),
            gt_id: None,
            iou: 0.0,
        };
        use Outcome::{FalsePositive as Fp, IgnoredMatch, TruePositive as Tp};
        let records = [
            rec(0, Fp, 1),
            rec(1, Fp, 1),
            rec(2, Tp, 1),
            rec(3, Fp, 1),
            rec(4, IgnoredMatch, 1),
            rec(5, Fp, 1),
            rec(0, Fp, 2),
            rec(1, Fp, 2),
        ];
        let b = FalsePositiveBreakdown::of(&records);
        assert_eq!(
            b,
            FalsePositiveBreakdown {
                false_tracks: 2,
                before_first_match: 2,
                after_last_match: 1,
                between_matches: 1,
            }
        );
    }

    #[test]
    fn explain_names_misses_false_positives_and_ignored() {
        let mut ignored = gt(1, 30.0);
        ignored.occlusion = 3;
        let mut small = hyp(8, 50.0, 0.9);
        small.bbox2 = BBox2::new(0.0, 0.0, 10.0, 20.0);
        let frame = KittiFrame {
            gt: vec![gt(0, 10.0), ignored, gt(2, 90.0)],
            dont_care: vec![],
            hyp: vec![hyp(5, 10.0, 0.9), hyp(6, 70.0, 0.9), small],
        };
        let seqs = [KittiSequence {
            frames: vec![frame],
        }];
        let mut records = Vec::new();
        evaluate_class(&seqs, &KittiEvalParams::default(), Some(&mut records));
        let mut got: Vec<(Outcome, Option<i64>, Option<i64>)> = records
            .iter()
            .map(|r| (r.outcome, r.track_id, r.gt_id))
            .collect();
        got.sort_by_key(|g| format!("{g:?}"));
        assert_eq!(
            got,
            vec![
                (Outcome::FalsePositive, Some(6), None),
                (Outcome::IgnoredHypothesis, Some(8), None),
                (Outcome::IgnoredMiss, None, Some(1)),
                (Outcome::Miss, None, Some(2)),
                (Outcome::TruePositive, Some(5), Some(0)),
            ]
        );
    }

    #[test]
    fn ignored_ground_truth_and_dont_care() {
        let mut g = gt(0, 10.0);
        g.truncation = 1;
        let mut small = hyp(8, 30.0, 0.9);
        small.bbox2 = BBox2::new(0.0, 0.0, 10.0, 20.0);
        let mut covered = hyp(9, 50.0, 0.9);
        covered.bbox2 = BBox2::new(500.0, 100.0, 540.0, 180.0);
        let frame = KittiFrame {
            gt: vec![g, gt(1, 70.0)],
            dont_care: vec![BBox2::new(490.0, 90.0, 560.0, 200.0)],
            hyp: vec![hyp(5, 10.0, 0.9), small, covered],
        };
        let seqs = [KittiSequence {
            frames: vec![frame],
        }];
        let p = first_pass(&seqs);
        // gt 0 ignored (matched: a TP that is an ignored TP, none for MOTA), gt 1 missed; all
        // hypotheses ignored or matched.
        assert_eq!(
            (
                p.stats.fp,
                p.stats.fn_,
                p.stats.num_gt,
                p.stats.tp,
                p.stats.ignored_tp
            ),
            (0, 1, 1, 1, 1)
        );
    }

    #[test]
    fn id_switch_and_fragmentation_follow_trajectory_rules() {
        let mut seq = KittiSequence::default();
        let ids = [5, 5, -1, 6, 6];
        for id in ids {
            let hyps = if id >= 0 {
                vec![hyp(id, 10.0, 1.0)]
            } else {
                vec![]
            };
            seq.frames.push(KittiFrame {
                gt: vec![gt(0, 10.0)],
                dont_care: vec![],
                hyp: hyps,
            });
        }
        let seqs = [seq];
        let p = first_pass(&seqs);
        // 5 5 -1 6 6: the gap hides the switch from the devkit's rule (g[f-1] == -1), but the
        // change of id after a gap is a fragmentation.
        assert_eq!(p.stats.id_switches, 0);
        assert_eq!(p.stats.fragmentations, 1);
        assert_eq!(p.stats.fn_, 1);
    }

    /// One ground truth followed by one track over frames with the given scores.
    fn followed(scores: &[f64]) -> Vec<KittiSequence> {
        let frames = scores
            .iter()
            .map(|&sc| KittiFrame {
                gt: vec![gt(0, 10.0)],
                dont_care: vec![],
                hyp: vec![hyp(3, 10.0, sc)],
            })
            .collect();
        vec![KittiSequence { frames }]
    }

    #[test]
    fn re_averaged_means_drift_as_in_the_reference() {
        // Python: sum(raw) / 6 = 0.6633333333333333, but the next pass averages six copies of
        // that and gets 0.6633333333333332, below the threshold: the track is dropped.
        let seqs = followed(&[0.75, 0.45, 0.25, 0.8, 0.83, 0.9]);
        let params = KittiEvalParams::default();
        let mut state = PassState::new(&seqs);
        let first = run(&seqs, &params, -1e4, 1.0, &mut state, None, None);
        assert_eq!(first.scores[0], 0.6633333333333333);
        let p = run(&seqs, &params, first.scores[0], 1.0, &mut state, None, None);
        assert_eq!((p.stats.tp, p.stats.fn_), (0, 6));
        // Means that survive re-averaging keep the track.
        let seqs = followed(&[0.9, 0.8, 0.7]);
        let mut state = PassState::new(&seqs);
        let first = run(&seqs, &params, -1e4, 1.0, &mut state, None, None);
        let p = run(&seqs, &params, first.scores[0], 1.0, &mut state, None, None);
        assert_eq!((p.stats.tp, p.stats.fn_), (3, 0));
    }

    #[test]
    fn a_hypothesis_once_matched_is_never_ignored_again() {
        // An unmatched hypothesis 20 px tall is ignored, unless an earlier pass matched it
        // (with other hypotheses present, the optimal assignment can change between passes).
        let mut small = hyp(8, 50.0, 0.9);
        small.bbox2 = BBox2::new(0.0, 0.0, 10.0, 20.0);
        let seqs = [KittiSequence {
            frames: vec![KittiFrame {
                gt: vec![gt(0, 10.0)],
                dont_care: vec![],
                hyp: vec![small],
            }],
        }];
        let params = KittiEvalParams::default();
        let mut state = PassState::new(&seqs);
        let p = run(&seqs, &params, -1e4, 1.0, &mut state, None, None);
        assert_eq!((p.stats.fp, p.stats.fn_), (0, 1));
        state.matched[0][0][0] = true;
        let p = run(&seqs, &params, -1e4, 1.0, &mut state, None, None);
        assert_eq!((p.stats.fp, p.stats.fn_), (1, 1));
    }
}
