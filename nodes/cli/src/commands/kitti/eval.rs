//! `fusionrt kitti eval`: scores KITTI tracking results: CLEAR MOT, sAMOTA/AMOTA, HOTA.
//!
//! Example:
//! ```text
//! fusionrt kitti eval --results /tmp/kitti_results \
//!     --labels ../shared/data/kitti_tracking/labels \
//!     --seqmap ../shared/data/kitti_tracking/seqmap.train --iou 0.25
//! ```
//! Follows the AB3DMOT KITTI 3D MOT protocol per class (Car, Pedestrian, Cyclist); see
//! `fusionrt_eval::kitti` for the rules. Labels with track id -1 are ignored (DontCare rows
//! become ignore regions). Prints one table row per class (percentages); `--json` writes all
//! numbers. `R(all)` is the recall with every hypothesis kept, the most any score threshold
//! can reach (and so a bound on MOTA); `sAMOTA≤` is the most sAMOTA these hypotheses could
//! score, one per 1/40 recall step they reach. `--explain FILE` writes what became of every
//! hypothesis and ground-truth object at the threshold of best MOTA (true or false positive,
//! ignored, below threshold, miss), for finding where the errors are, and prints where the
//! false positives sit in their tracks: in false tracks, before a track's first match (often an
//! object whose labels start later), after its last match, or between matches; and the MOTA
//! of an oracle that publishes exactly the tracks with more true than false positives (what a
//! perfect track score could reach with these tracks).
//!
//! `--frame-step N` scores only frames whose number is a multiple of N (labels and results of
//! other frames are left out, as if the sequence had only those frames). Use it when only every
//! Nth frame has a scan, e.g. the 39 scans of tracking sequence 0000 in `../shared/data`
//! (`--frame-step 4`): without it every frame without a scan counts its labels as misses.

use crate::exit::bad_input;
use clap::Args;
use fusionrt_eval::kitti::{
    FalsePositiveBreakdown, KittiClassResult, KittiEvalParams, KittiFrame, KittiGt, KittiHyp,
    KittiSequence, evaluate_class,
};
use fusionrt_kitti::tracking::{LabelType, TrackingRow, read_seqmap, read_tracking_file};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Arguments of `fusionrt kitti eval`.
#[derive(Debug, Args)]
pub struct KittiEvalArgs {
    /// Folder with the result files NNNN.txt (18 columns, with score).
    #[arg(long)]
    results: PathBuf,
    /// Folder with the label files NNNN.txt.
    #[arg(long)]
    labels: PathBuf,
    /// Seqmap file listing the sequences.
    #[arg(long)]
    seqmap: PathBuf,
    /// Minimum 3D IoU of a match.
    #[arg(long, default_value_t = 0.25)]
    iou: f64,
    /// Also write the full results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also write the outcome of every hypothesis and ground-truth object at the threshold of
    /// best MOTA to this file, one per line: class sequence frame outcome track_id track_score
    /// gt_id iou (`-` where none). Outcomes: TruePositive, IgnoredMatch, FalsePositive,
    /// IgnoredHypothesis, BelowThreshold, Miss, IgnoredMiss.
    #[arg(long)]
    explain: Option<PathBuf>,
    /// Score only frames whose number is a multiple of this (1: every frame).
    #[arg(long, default_value_t = 1)]
    frame_step: u32,
}

/// The evaluated classes and their neighbouring (ignored) classes.
const CLASSES: [(&str, LabelType, Option<LabelType>); 3] = [
    ("Car", LabelType::Car, Some(LabelType::Van)),
    (
        "Pedestrian",
        LabelType::Pedestrian,
        Some(LabelType::PersonSitting),
    ),
    ("Cyclist", LabelType::Cyclist, None),
];

fn frame_mut(frames: &mut Vec<KittiFrame>, frame: u32) -> &mut KittiFrame {
    let i = frame as usize;
    if i >= frames.len() {
        frames.resize(i + 1, KittiFrame::default());
    }
    &mut frames[i]
}

/// Builds the per-class sequence of one pair of label and result files.
fn build(
    labels: &[TrackingRow],
    results: &[TrackingRow],
    num_frames: u32,
    class: LabelType,
    neighbour: Option<LabelType>,
    frame_step: u32,
) -> KittiSequence {
    let mut frames = vec![KittiFrame::default(); num_frames as usize];
    for r in labels {
        if r.kind == LabelType::DontCare {
            frame_mut(&mut frames, r.frame).dont_care.push(r.bbox2);
            continue;
        }
        let is_neighbour = Some(r.kind) == neighbour;
        if (r.kind != class && !is_neighbour) || r.track_id == -1 {
            continue;
        }
        frame_mut(&mut frames, r.frame).gt.push(KittiGt {
            track_id: r.track_id,
            neighbour: is_neighbour,
            truncation: r.truncated,
            occlusion: r.occluded,
            bbox: r.cam.to_box3(),
        });
    }
    for r in results {
        let is_neighbour = Some(r.kind) == neighbour;
        if r.kind != class && !is_neighbour {
            continue;
        }
        frame_mut(&mut frames, r.frame).hyp.push(KittiHyp {
            track_id: r.track_id,
            neighbour: is_neighbour,
            bbox2: r.bbox2,
            bbox: r.cam.to_box3(),
            score: r.score.unwrap_or(-1.0),
        });
    }
    if frame_step > 1 {
        frames = frames.into_iter().step_by(frame_step as usize).collect();
    }
    KittiSequence { frames }
}

fn or_dash<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

impl KittiEvalArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        if self.frame_step == 0 {
            return Err(bad_input(anyhow::anyhow!(
                "--frame-step must be at least 1"
            )));
        }
        if !(self.iou > 0.0 && self.iou <= 1.0) {
            return Err(bad_input(anyhow::anyhow!(
                "--iou must be in (0, 1], got {}",
                self.iou
            )));
        }
        let seqs = read_seqmap(&self.seqmap).map_err(bad_input)?;
        let mut loaded = Vec::with_capacity(seqs.len());
        for s in &seqs {
            let labels = read_tracking_file(&self.labels.join(format!("{}.txt", s.name)))
                .map_err(bad_input)?;
            let results = read_tracking_file(&self.results.join(format!("{}.txt", s.name)))
                .map_err(bad_input)?;
            for (rows, dir) in [(&labels, &self.labels), (&results, &self.results)] {
                if let Some(r) = rows.iter().find(|r| r.frame >= s.num_frames) {
                    return Err(bad_input(anyhow::anyhow!(
                        "{}: frame {} is beyond the {} frames the seqmap gives sequence {}",
                        dir.join(format!("{}.txt", s.name)).display(),
                        r.frame,
                        s.num_frames,
                        s.name
                    )));
                }
            }
            loaded.push((labels, results, s.num_frames));
        }
        let params = KittiEvalParams {
            min_overlap: self.iou,
            ..KittiEvalParams::default()
        };
        let mut all: Vec<(&str, KittiClassResult)> = Vec::new();
        let mut explained = String::new();
        let mut breakdowns = Vec::new();
        println!(
            "{:<11} {:>7} {:>7} {:>7} {:>7} {:>7} {:>5} {:>5} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7}",
            "class",
            "sAMOTA",
            "AMOTA",
            "AMOTP",
            "MOTA",
            "MOTP",
            "IDS",
            "FRAG",
            "TP",
            "iTP",
            "FP",
            "FN",
            "HOTA",
            "DetA",
            "AssA",
            "R(all)",
            "sAMOTA≤"
        );
        for (name, class, neighbour) in CLASSES {
            let data: Vec<KittiSequence> = loaded
                .iter()
                .map(|(l, r, n)| build(l, r, *n, class, neighbour, self.frame_step))
                .collect();
            let mut records = Vec::new();
            let r = evaluate_class(
                &data,
                &params,
                self.explain.is_some().then_some(&mut records),
            );
            if self.explain.is_some() {
                breakdowns.push((name, FalsePositiveBreakdown::of(&records), r.oracle_mota));
            }
            for m in &records {
                writeln!(
                    explained,
                    "{name} {} {} {:?} {} {} {} {:.4}",
                    seqs[m.sequence].name,
                    m.frame * self.frame_step as usize,
                    m.outcome,
                    or_dash(m.track_id),
                    or_dash(m.track_score.map(|s| format!("{s:.6}"))),
                    or_dash(m.gt_id),
                    m.iou
                )?;
            }
            println!(
                "{:<11} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>5} {:>5} {:>6} {:>6} {:>6} {:>6} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2}",
                name,
                100.0 * r.samota,
                100.0 * r.amota,
                100.0 * r.amotp,
                100.0 * r.best.mota,
                100.0 * r.best.motp,
                r.best.id_switches,
                r.best.fragmentations,
                r.best.tp,
                r.best.ignored_tp,
                r.best.fp,
                r.best.fn_,
                100.0 * r.hota.hota,
                100.0 * r.hota.deta,
                100.0 * r.hota.assa,
                100.0 * r.unthresholded.recall,
                100.0 * r.samota_ceiling,
            );
            all.push((name, r));
        }
        if !breakdowns.is_empty() {
            println!(
                "false positives by their place in the track; MOTA of the oracle track selection:"
            );
            println!(
                "{:<11} {:>12} {:>12} {:>11} {:>8} {:>12}",
                "class", "false track", "before 1st", "after last", "between", "oracle MOTA"
            );
            for (name, b, oracle) in &breakdowns {
                println!(
                    "{:<11} {:>12} {:>12} {:>11} {:>8} {:>12.2}",
                    name,
                    b.false_tracks,
                    b.before_first_match,
                    b.after_last_match,
                    b.between_matches,
                    100.0 * oracle.unwrap_or(f64::NAN)
                );
            }
        }
        if let Some(path) = &self.explain {
            std::fs::write(path, explained)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        }
        if let Some(path) = &self.json {
            let map: std::collections::BTreeMap<&str, &KittiClassResult> =
                all.iter().map(|(n, r)| (*n, r)).collect();
            let text = serde_json::to_string_pretty(&map)?;
            std::fs::write(path, text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        }
        Ok(())
    }
}
