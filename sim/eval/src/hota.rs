//! HOTA (Luiten et al., IJCV 2021) with TrackEval's algorithm, on any similarity (here 3D IoU).
//!
//! Per sequence: a global alignment score between each ground-truth id and hypothesis id from
//! their summed per-frame similarities; per frame, the Hungarian method maximises alignment x
//! similarity; for each localisation threshold alpha in 0.05..0.95 the matches above alpha give
//! TP / FN / FP (DetA) and per-pair match counts (AssA). Sequences are combined as in TrackEval:
//! counts summed, AssA weighted by TP.

use fusionrt_core::assignment::Assignment;
use serde::Serialize;
use std::collections::BTreeMap;

/// Number of alpha thresholds.
const NUM_ALPHAS: usize = 19;

fn alpha(i: usize) -> f64 {
    0.05 + 0.05 * i as f64
}

/// HOTA and its parts, averaged over the alphas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct HotaSummary {
    /// HOTA = sqrt(DetA * AssA), averaged over alphas.
    pub hota: f64,
    /// Detection accuracy.
    pub deta: f64,
    /// Association accuracy.
    pub assa: f64,
    /// Localisation accuracy (mean similarity of matches).
    pub loca: f64,
}

#[derive(Debug, Default)]
struct SeqFrame {
    gt: Vec<usize>,
    hyp: Vec<usize>,
    sim: Vec<f64>,
}

/// Accumulates HOTA over sequences of frames.
#[derive(Debug, Default)]
pub struct HotaAccumulator {
    frames: Vec<SeqFrame>,
    gt_index: BTreeMap<i64, usize>,
    hyp_index: BTreeMap<i64, usize>,
    tp: [f64; NUM_ALPHAS],
    fn_: [f64; NUM_ALPHAS],
    fp: [f64; NUM_ALPHAS],
    assa_weighted: [f64; NUM_ALPHAS],
    loca_sum: [f64; NUM_ALPHAS],
}

impl HotaAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ends the current sequence (if any) and starts a new one: ids are per sequence.
    pub fn start_sequence(&mut self) {
        self.finish_sequence();
    }

    /// Adds a frame: ids of ground truth and hypotheses and the row-major similarity matrix.
    pub fn add_frame(&mut self, gt_ids: &[i64], hyp_ids: &[i64], sim: &[f64]) {
        let mut f = SeqFrame::default();
        for g in gt_ids {
            let n = self.gt_index.len();
            f.gt.push(*self.gt_index.entry(*g).or_insert(n));
        }
        for h in hyp_ids {
            let n = self.hyp_index.len();
            f.hyp.push(*self.hyp_index.entry(*h).or_insert(n));
        }
        f.sim = sim.to_vec();
        self.frames.push(f);
    }

    fn finish_sequence(&mut self) {
        if self.frames.is_empty() {
            self.gt_index.clear();
            self.hyp_index.clear();
            return;
        }
        let (ng, nh) = (self.gt_index.len(), self.hyp_index.len());
        let mut potential = vec![0.0; ng * nh];
        let mut gt_count = vec![0.0; ng];
        let mut hyp_count = vec![0.0; nh];
        for f in &self.frames {
            let (r, c) = (f.gt.len(), f.hyp.len());
            for &g in &f.gt {
                gt_count[g] += 1.0;
            }
            for &h in &f.hyp {
                hyp_count[h] += 1.0;
            }
            if r == 0 || c == 0 {
                continue;
            }
            let row_sum: Vec<f64> = (0..r)
                .map(|i| f.sim[i * c..(i + 1) * c].iter().sum())
                .collect();
            let col_sum: Vec<f64> = (0..c)
                .map(|j| (0..r).map(|i| f.sim[i * c + j]).sum())
                .collect();
            for i in 0..r {
                for j in 0..c {
                    let s = f.sim[i * c + j];
                    let denom = row_sum[i] + col_sum[j] - s;
                    if denom > f64::EPSILON {
                        potential[f.gt[i] * nh + f.hyp[j]] += s / denom;
                    }
                }
            }
        }
        let mut global = vec![0.0; ng * nh];
        for g in 0..ng {
            for h in 0..nh {
                let p = potential[g * nh + h];
                global[g * nh + h] = p / (gt_count[g] + hyp_count[h] - p);
            }
        }
        let mut matches = vec![[0.0; NUM_ALPHAS]; 0];
        matches.resize(ng * nh, [0.0; NUM_ALPHAS]);
        let mut tp = [0.0; NUM_ALPHAS];
        let mut fn_ = [0.0; NUM_ALPHAS];
        let mut fp = [0.0; NUM_ALPHAS];
        let mut loca = [0.0; NUM_ALPHAS];
        let mut solver = Assignment::new();
        let mut sol = Vec::new();
        for f in &self.frames {
            let (r, c) = (f.gt.len(), f.hyp.len());
            let mut matched: Vec<(usize, usize, f64)> = Vec::new();
            if r > 0 && c > 0 {
                let cost: Vec<f64> = (0..r * c)
                    .map(|k| -(global[f.gt[k / c] * nh + f.hyp[k % c]] * f.sim[k]))
                    .collect();
                solver.solve(&cost, r, c, &mut sol);
                for (i, s) in sol.iter().enumerate() {
                    if let Some(j) = *s {
                        matched.push((f.gt[i], f.hyp[j], f.sim[i * c + j]));
                    }
                }
            }
            for a in 0..NUM_ALPHAS {
                let mut n = 0.0;
                for &(g, h, s) in &matched {
                    if s >= alpha(a) - f64::EPSILON {
                        n += 1.0;
                        matches[g * nh + h][a] += 1.0;
                        loca[a] += s;
                    }
                }
                tp[a] += n;
                fn_[a] += r as f64 - n;
                fp[a] += c as f64 - n;
            }
        }
        for a in 0..NUM_ALPHAS {
            let mut ass = 0.0;
            for g in 0..ng {
                for h in 0..nh {
                    let m = matches[g * nh + h][a];
                    if m > 0.0 {
                        ass += m * m / (gt_count[g] + hyp_count[h] - m);
                    }
                }
            }
            // AssA of the sequence = ass / tp; weighted by tp when combining.
            self.assa_weighted[a] += ass;
            self.tp[a] += tp[a];
            self.fn_[a] += fn_[a];
            self.fp[a] += fp[a];
            self.loca_sum[a] += loca[a];
        }
        self.frames.clear();
        self.gt_index.clear();
        self.hyp_index.clear();
    }

    /// HOTA over everything added (closes the current sequence).
    pub fn summary(&mut self) -> HotaSummary {
        self.finish_sequence();
        let mut s = HotaSummary::default();
        for a in 0..NUM_ALPHAS {
            let tp = self.tp[a];
            let deta = tp / (tp + self.fn_[a] + self.fp[a]).max(1.0);
            let assa = if tp > 0.0 {
                self.assa_weighted[a] / tp
            } else {
                0.0
            };
            let loca = if tp > 0.0 { self.loca_sum[a] / tp } else { 0.0 };
            s.hota += (deta * assa).sqrt();
            s.deta += deta;
            s.assa += assa;
            s.loca += loca;
        }
        let n = NUM_ALPHAS as f64;
        s.hota /= n;
        s.deta /= n;
        s.assa /= n;
        s.loca /= n;
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_and_half_association() {
        let mut acc = HotaAccumulator::new();
        acc.start_sequence();
        for _ in 0..4 {
            acc.add_frame(&[1], &[7], &[1.0]);
        }
        let s = acc.summary();
        assert!((s.hota - 1.0).abs() < 1e-12);

        // One object tracked by two ids, two frames each: DetA 1, AssA 0.5.
        let mut acc = HotaAccumulator::new();
        acc.start_sequence();
        acc.add_frame(&[1], &[7], &[1.0]);
        acc.add_frame(&[1], &[7], &[1.0]);
        acc.add_frame(&[1], &[8], &[1.0]);
        acc.add_frame(&[1], &[8], &[1.0]);
        let s = acc.summary();
        assert!((s.deta - 1.0).abs() < 1e-12);
        assert!((s.assa - 0.5).abs() < 1e-12);
        assert!((s.hota - 0.5f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn low_similarity_counts_only_at_low_alpha() {
        let mut acc = HotaAccumulator::new();
        acc.add_frame(&[1], &[7], &[0.5]);
        let s = acc.summary();
        // Matched for alphas 0.05..0.5 (10 of 19).
        assert!((s.deta - 10.0 / 19.0).abs() < 1e-9, "{s:?}");
    }
}
