//! `fusionrt bench tracker`: benchmarks the tracker.
//!
//! In-process, one thread: frames per second of [`Tracker::update`] over all frames of the KITTI
//! tracking sequences (PointRCNN detections, the KITTI-tuned config; file reading excluded), best
//! and median of `--iterations` runs; then the time per frame with `--objects` objects per frame
//! (a synthetic steady-state scene of cars, pedestrians and cyclists on lanes), median and 99th
//! percentile.
//!
//! Example: `fusionrt bench tracker --data ../shared/data/kitti_tracking --objects 500`

use crate::commands::kitti::track::{SequenceInput, kitti_config, load_sequence, track_sequence};
use crate::exit::bad_input;
use clap::Args;
use fusionrt_kitti::tracking::read_seqmap;
use fusionrt_tracker::synthetic::SyntheticScene;
use fusionrt_tracker::{Tracker, TrackerConfig};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Arguments of `fusionrt bench tracker`.
#[derive(Debug, Args)]
pub struct BenchTrackerArgs {
    /// KITTI tracking folder with `detections/` and `seqmap.train` (default:
    /// `$FUSIONRT_DATA/kitti_tracking`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Timed runs over all sequences.
    #[arg(long, default_value_t = 20)]
    iterations: usize,
    /// Objects per frame in the synthetic scene.
    #[arg(long, default_value_t = 500)]
    objects: usize,
    /// Timed synthetic frames.
    #[arg(long, default_value_t = 2000)]
    frames: usize,
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

impl BenchTrackerArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        if self.iterations == 0 || self.frames == 0 {
            return Err(bad_input(anyhow::anyhow!(
                "--iterations and --frames must be at least 1"
            )));
        }
        let data = match self.data.clone() {
            Some(d) => Some(d),
            None => {
                std::env::var_os("FUSIONRT_DATA").map(|d| PathBuf::from(d).join("kitti_tracking"))
            }
        };
        match data {
            Some(dir) => self.bench_kitti(&dir)?,
            None => println!("kitti: skipped (no --data and FUSIONRT_DATA unset)"),
        }
        self.bench_synthetic();
        Ok(())
    }

    fn bench_kitti(&self, dir: &std::path::Path) -> anyhow::Result<()> {
        let seqs = read_seqmap(&dir.join("seqmap.train")).map_err(bad_input)?;
        let inputs: Vec<SequenceInput> = seqs
            .iter()
            .map(|s| load_sequence(&dir.join("detections"), s))
            .collect::<anyhow::Result<_>>()?;
        let frames: usize = inputs.iter().map(|i| i.frames.len()).sum();
        let cfg = kitti_config();
        let mut fps = Vec::with_capacity(self.iterations);
        let mut published = 0usize;
        for _ in 0..self.iterations {
            let mut busy = Duration::ZERO;
            published = 0;
            for input in &inputs {
                busy += track_sequence(&cfg, 0, input, |_, t| published += t.len());
            }
            fps.push(frames as f64 / busy.as_secs_f64().max(1e-12));
        }
        fps.sort_by(f64::total_cmp);
        println!(
            "kitti: {} sequences, {frames} frames, {published} published tracks: {:.0} frames/s median, {:.0} best (one core, {} runs)",
            inputs.len(),
            fps[fps.len() / 2],
            fps[fps.len() - 1],
            self.iterations
        );
        Ok(())
    }

    fn bench_synthetic(&self) {
        let cfg = TrackerConfig::default();
        let mut tracker = Tracker::new(&cfg, 1);
        let mut scene = SyntheticScene::new(42);
        let mut dets = Vec::with_capacity(self.objects);
        let mut out = Vec::with_capacity(self.objects + 64);
        let warmup = 20;
        let mut times = Vec::with_capacity(self.frames);
        for k in 0..warmup + self.frames {
            scene.frame(self.objects, k as u64, &mut dets);
            let t0 = Instant::now();
            tracker.update(k as i64 * 100_000_000, &dets, &mut out);
            let dt = t0.elapsed();
            if k >= warmup {
                times.push(dt);
            }
        }
        times.sort();
        println!(
            "synthetic: {} objects/frame, {} tracks published: {:.3} ms median, {:.3} ms p99 per frame",
            self.objects,
            out.len(),
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3
        );
    }
}
