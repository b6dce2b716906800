//! `fusionrt bench camera`: benchmarks camera pre-processing, inference and post-processing.

use crate::commands::detect::{CameraModelArgs, classify};
use crate::commands::runner::progress_bar_of;
use crate::exit::bad_input;
use clap::Args;
use fusionrt_camera::{CameraDetector, load_image_file};
use std::path::PathBuf;

/// Arguments of `fusionrt bench camera`.
///
/// Example: `fusionrt bench camera --tiles 4 --threads 2 --repeat 20` (images default to the
/// KITTI images under `$FUSIONRT_DATA/kitti_object/image_2`).
#[derive(Debug, Args)]
pub struct BenchCameraArgs {
    /// PNG or JPEG images (default: `$FUSIONRT_DATA/kitti_object/image_2/*.png`).
    images: Vec<PathBuf>,
    #[command(flatten)]
    camera: CameraModelArgs,
    /// Timed runs per image (after one warm-up run).
    #[arg(long, default_value_t = 10)]
    repeat: usize,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

impl BenchCameraArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        let mut images = self.images;
        if images.is_empty() {
            let data = std::env::var_os("FUSIONRT_DATA").ok_or_else(|| {
                bad_input(anyhow::anyhow!(
                    "no images given and FUSIONRT_DATA is unset"
                ))
            })?;
            let dir = PathBuf::from(data).join("kitti_object/image_2");
            let entries = std::fs::read_dir(&dir)
                .map_err(|e| bad_input(anyhow::anyhow!("{}: {e}", dir.display())))?;
            images = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "png"))
                .collect();
            images.sort();
        }
        if !(1..=10_000).contains(&self.repeat) {
            return Err(bad_input(anyhow::anyhow!(
                "--repeat {}: not in 1..=10000",
                self.repeat
            )));
        }
        let cfg = self.camera.camera_config()?;
        let mut detector = CameraDetector::new(&cfg).map_err(classify)?;
        let mut dets = Vec::new();
        let (mut pre, mut inf, mut post, mut total) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        println!(
            "# model {} on {}, tiles {}, intra threads {}, {} runs per image",
            detector.model().card.name,
            detector.provider().name(),
            cfg.tiles,
            cfg.intra_threads,
            self.repeat
        );
        let bar = progress_bar_of(
            Some((images.len() * self.repeat) as u64),
            "bench camera",
            "runs",
        );
        for path in &images {
            let image = load_image_file(path).map_err(classify)?;
            detector.detect(&image, &mut dets).map_err(classify)?;
            for _ in 0..self.repeat {
                bar.inc(1);
                let start = std::time::Instant::now();
                let t = detector.detect(&image, &mut dets).map_err(classify)?;
                total.push(start.elapsed().as_secs_f64() * 1e3);
                pre.push(t.preprocess.as_secs_f64() * 1e3);
                inf.push(t.inference.as_secs_f64() * 1e3);
                post.push(t.postprocess.as_secs_f64() * 1e3);
            }
        }
        bar.finish_and_clear();
        let (p, i, q, t) = (
            median(&mut pre),
            median(&mut inf),
            median(&mut post),
            median(&mut total),
        );
        println!(
            "median over {} images x {} runs: pre {p:.2} ms  inference {i:.1} ms  post {q:.2} ms  detect {t:.1} ms  (pre+post = {:.1}% of inference)",
            images.len(),
            self.repeat.max(1),
            (p + q) / i * 100.0
        );
        Ok(())
    }
}
