//! `fusionrt kitti track`: tracks KITTI tracking detections and writes KITTI result files.
//!
//! Example:
//! ```text
//! fusionrt kitti track --detections ../shared/data/kitti_tracking/detections \
//!     --seqmap ../shared/data/kitti_tracking/seqmap.train \
//!     --out /tmp/kitti_results
//! ```
//! Reads `DIR/pointrcnn_{Car,Pedestrian,Cyclist}/NNNN.txt` for each sequence of the seqmap,
//! converts the boxes from camera coordinates to REP-103 at this edge, runs one [`Tracker`] per
//! sequence over all frames (10 Hz stamps), and writes `OUT/NNNN.txt` with all classes. Prints
//! the frames per second of the tracking alone (reading and writing excluded). With a
//! calibration (`--calib`, or `calib/` beside the detections folder), only tracks in the left
//! colour camera's view are written, with their projected 2D boxes.
//!
//! Detector scores (PointRCNN logits) become probabilities with a sigmoid; the result files
//! carry the track score as log-odds ([`result_score`]). A missing detection
//! file is an error; an empty one means no detections of that class.

use crate::commands::runner::progress_bar_of;
use crate::exit::bad_input;
use anyhow::Context as _;
use clap::Args;
use fusionrt_core::{ClassProbs, FusedObject, SensorSupport, Track};
use fusionrt_kitti::calib::{KITTI_IMAGE_SIZE, KittiCalib};
use fusionrt_kitti::tracking::{
    CamBox, ResultRows, SeqEntry, read_detections, read_seqmap, write_results,
};
use fusionrt_runtime::PipelineConfig;
use fusionrt_runtime::config::Preset;
use fusionrt_tracker::{Tracker, TrackerConfig};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// KITTI frame period, ns (10 Hz).
pub(crate) const KITTI_FRAME_NS: i64 = 100_000_000;

/// Arguments of `fusionrt kitti track`.
#[derive(Debug, Args)]
pub struct KittiTrackArgs {
    /// Folder with pointrcnn_{Car,Pedestrian,Cyclist}/NNNN.txt detection files.
    #[arg(long)]
    detections: PathBuf,
    /// Seqmap file listing the sequences (`NNNN empty FIRST LAST`).
    #[arg(long)]
    seqmap: PathBuf,
    /// Output folder for the KITTI result files (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Folder with the per-sequence calibration files NNNN.txt (P2 is used). With it, each
    /// result's 2D box is its 3D box projected into the left colour image, and tracks whose
    /// centre lies outside that image are left out, as KITTI labels only what the camera sees.
    /// Default: `calib/` beside the detections folder, when it exists (the KITTI layout).
    #[arg(long)]
    calib: Option<PathBuf>,
    /// Use no calibration: the 2D box is the last matched detection's and every track is
    /// written, in view or not.
    #[arg(long, conflicts_with = "calib")]
    no_calib: bool,
    /// Pipeline config (YAML, plain or ROS 2 parameter form); its `tracker` section is used.
    /// It starts from the `kitti` preset (the KITTI-tuned tracker, launch/kitti_tracking.yaml)
    /// unless it names another with `preset:`, and overrides only the keys it names.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seed of the 128-bit track ids.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Tracker parameters tuned on the 10 KITTI training sequences in ../shared/data.
pub(crate) fn kitti_config() -> TrackerConfig {
    TrackerConfig::kitti_pointrcnn()
}

/// The detections of one sequence, per frame, ready for the tracker.
pub(crate) struct SequenceInput {
    /// Detections per frame.
    pub frames: Vec<Vec<FusedObject>>,
}

fn sigmoid(x: f64) -> f32 {
    (1.0 / (1.0 + (-x).exp())) as f32
}

/// Reads the detection files of one sequence.
pub(crate) fn load_sequence(dir: &Path, seq: &SeqEntry) -> anyhow::Result<SequenceInput> {
    let mut frames: Vec<Vec<FusedObject>> = vec![Vec::new(); seq.num_frames as usize];
    for class in ["Car", "Pedestrian", "Cyclist"] {
        let path = dir
            .join(format!("pointrcnn_{class}"))
            .join(format!("{}.txt", seq.name));
        let dets = read_detections(&path).map_err(bad_input)?;
        for d in dets {
            let idx = d.frame as usize;
            if idx >= frames.len() {
                return Err(bad_input(anyhow::anyhow!(
                    "{}: frame {} is beyond the {} frames the seqmap gives sequence {}",
                    path.display(),
                    d.frame,
                    seq.num_frames,
                    seq.name
                )));
            }
            frames[idx].push(FusedObject {
                bbox: d.cam.to_box3(),
                class: d.class,
                class_probs: ClassProbs::one_hot(d.class),
                score: sigmoid(d.score),
                support: SensorSupport {
                    lidar: true,
                    camera_mask: 0,
                },
                camera_box: Some((0, d.bbox2)),
            });
        }
    }
    Ok(SequenceInput { frames })
}

/// Runs the tracker over one sequence; returns the tracks of each frame and the time spent in
/// [`Tracker::update`].
pub(crate) fn track_sequence(
    cfg: &TrackerConfig,
    seed: u64,
    input: &SequenceInput,
    mut sink: impl FnMut(u32, &[Track]),
) -> Duration {
    let mut tracker = Tracker::new(cfg, seed);
    let mut out = Vec::with_capacity(64);
    let mut busy = Duration::ZERO;
    for (frame, dets) in input.frames.iter().enumerate() {
        let t0 = Instant::now();
        tracker.update(frame as i64 * KITTI_FRAME_NS, dets, &mut out);
        busy += t0.elapsed();
        sink(frame as u32, &out);
    }
    busy
}

/// Loads the tracker config: the pipeline config file's `tracker` section on top of the
/// `kitti` preset (or the file's own `preset:`), else the KITTI defaults.
pub(crate) fn load_config(path: Option<&Path>) -> anyhow::Result<TrackerConfig> {
    let config = PipelineConfig::load(path, Preset::Kitti).map_err(bad_input)?;
    Ok(config.tracker)
}

impl KittiTrackArgs {
    /// The calibration folder: `--calib`, else `calib/` beside the detections when present.
    fn calib_dir(&self) -> Option<PathBuf> {
        if self.no_calib {
            return None;
        }
        self.calib.clone().or_else(|| {
            let beside = self.detections.parent()?.join("calib");
            beside.is_dir().then(|| {
                println!("using the calibration in {}", beside.display());
                beside
            })
        })
    }

    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        let cfg = load_config(self.config.as_deref())?;
        let calib_dir = self.calib_dir();
        let seqs = read_seqmap(&self.seqmap).map_err(bad_input)?;
        std::fs::create_dir_all(&self.out)
            .with_context(|| format!("creating {}", self.out.display()))?;
        let mut busy = Duration::ZERO;
        let mut frames = 0usize;
        let mut objects = 0usize;
        let bar = progress_bar_of(Some(seqs.len() as u64), "kitti track", "sequences");
        for seq in &seqs {
            bar.inc(1);
            let input = load_sequence(&self.detections, seq)?;
            frames += input.frames.len();
            objects += input.frames.iter().map(Vec::len).sum::<usize>();
            let p2 = match &calib_dir {
                Some(dir) => {
                    let calib = KittiCalib::read(&dir.join(format!("{}.txt", seq.name)))
                        .map_err(bad_input)?;
                    calib.p[2]
                }
                None => None,
            };
            let mut rows = ResultRows::new(p2, KITTI_IMAGE_SIZE);
            busy += track_sequence(&cfg, self.seed, &input, |f, tracks| {
                for t in tracks {
                    rows.add(f, t, CamBox::from_box3(&t.bbox));
                }
            });
            let path = self.out.join(format!("{}.txt", seq.name));
            write_results(&path, rows.rows())?;
        }
        bar.finish_and_clear();
        let secs = busy.as_secs_f64().max(1e-12);
        println!(
            "tracked {} sequences, {frames} frames, {objects} detections in {:.1} ms of tracking: {:.0} frames/s",
            seqs.len(),
            secs * 1e3,
            frames as f64 / secs
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_kitti_yaml_is_the_default_config() {
        let shipped = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../launch/kitti_tracking.yaml"
        ));
        assert_eq!(load_config(Some(shipped)).unwrap(), kitti_config());
        assert_eq!(load_config(None).unwrap(), kitti_config());
    }

    #[test]
    fn a_partial_tracker_file_keeps_the_other_kitti_values() {
        let dir = std::env::temp_dir().join(format!("fusionrt-track-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("partial.yaml");
        std::fs::write(&path, "tracker:\n  car:\n    max_coast_s: 0.5\n").unwrap();
        let cfg = load_config(Some(&path)).unwrap();
        let mut want = kitti_config();
        want.car.max_coast_s = 0.5;
        assert_eq!(cfg, want);
        std::fs::write(&path, "tracker:\n  car:\n    min_hits: 0\n").unwrap();
        let err = load_config(Some(&path)).unwrap_err();
        assert_eq!(crate::exit::code_for(&err), 2, "{err:#}");
        assert!(
            err.to_string().contains(":3:5: key `tracker.car.min_hits`"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
