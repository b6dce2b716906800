//! `fusionrt detect`: runs the camera model on images and prints detections.
//!
//! Every input is checked before anything is written: the config and flags, the output paths
//! (an output may not be one of the inputs; an overlay is `.png` or `.jpg`), and all images are
//! decoded first, so a bad image later in the list leaves no overlay and no JSON behind.
//! Overlays and the JSON are written to a temporary file and renamed.

use crate::exit::bad_input;
use anyhow::Context;
use clap::Args;
use fusionrt_camera::{
    CameraConfig, CameraDetector, CameraError, load_image_file, overlay_format, write_overlay,
};
use fusionrt_core::Detection2D;
use std::path::{Path, PathBuf};

/// Arguments of `fusionrt detect`.
///
/// Example: `fusionrt detect ../shared/data/kitti_object/image_2/000000.png --out det.json
/// --overlay det.png`
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// PNG or JPEG images.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    #[command(flatten)]
    camera: CameraModelArgs,
    /// Minimum score.
    #[arg(long)]
    score: Option<f32>,
    /// Write the detections as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Draw the detections on the image and write it here, PNG or JPEG by the extension
    /// (`.png`, `.jpg`, `.jpeg`); with several images, the image index is added before the
    /// extension.
    #[arg(long)]
    overlay: Option<PathBuf>,
}

/// The camera config from an optional YAML file (`CameraConfig` keys, every value checked),
/// else the defaults.
pub fn load_camera_config(path: Option<&Path>) -> anyhow::Result<CameraConfig> {
    match path {
        Some(p) => fusionrt_core::config::load_validated(p).map_err(bad_input),
        None => Ok(CameraConfig::default()),
    }
}

/// Refuses to write `out` when it is one of the `inputs` (the same file under any name):
/// a command never overwrites what it reads. Shared by the commands that write files.
pub fn refuse_to_overwrite(out: &Path, inputs: &[&Path]) -> anyhow::Result<()> {
    let Ok(out_real) = out.canonicalize() else {
        return Ok(()); // does not exist yet
    };
    for input in inputs {
        if input.canonicalize().is_ok_and(|p| p == out_real) {
            return Err(bad_input(anyhow::anyhow!(
                "refusing to write {}: it is the input {}",
                out.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// Writes `text` to a temporary file beside `path` and renames it over `path`.
pub fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.with_context(|| format!("writing {}", path.display()))
}

/// The camera model flags shared by `detect` and `bench camera`.
#[derive(Debug, Args)]
pub struct CameraModelArgs {
    /// Model: a card name (`nanodet`), a card path (.yaml) or an ONNX path with its card beside it.
    #[arg(long)]
    model: Option<String>,
    /// Camera config YAML (the `CameraConfig` keys); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Square tiles across the image width (0: squash the whole image, 1: letterbox).
    #[arg(long)]
    tiles: Option<u32>,
    /// ONNX Runtime intra-op threads.
    #[arg(long)]
    threads: Option<usize>,
}

impl CameraModelArgs {
    /// Loads the camera config from the optional YAML file and applies the flags.
    pub fn camera_config(&self) -> anyhow::Result<CameraConfig> {
        let mut cfg = load_camera_config(self.config.as_deref())?;
        if let Some(m) = &self.model {
            cfg.model.clone_from(m);
        }
        if let Some(t) = self.tiles {
            cfg.tiles = t;
        }
        if let Some(t) = self.threads {
            cfg.intra_threads = t;
        }
        fusionrt_core::config::validate(&cfg, "camera config with the command-line flags")
            .map_err(bad_input)?;
        Ok(cfg)
    }
}

/// Classifies a camera error: bad model files and images are bad input (exit 2).
pub fn classify(err: CameraError) -> anyhow::Error {
    match err {
        CameraError::ModelNotFound { .. }
        | CameraError::Card(_)
        | CameraError::Io { .. }
        | CameraError::Checksum { .. }
        | CameraError::ModelMismatch { .. }
        | CameraError::Config(_)
        | CameraError::Image(_)
        | CameraError::Decode { .. }
        | CameraError::UnsupportedFormat(_)
        | CameraError::OrtLibraryNotFound { .. } => bad_input(err),
        other => anyhow::Error::new(other),
    }
}

fn overlay_path(base: &Path, index: usize, count: usize) -> PathBuf {
    if count == 1 {
        return base.to_path_buf();
    }
    let stem = base
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("overlay");
    let ext = base.extension().and_then(|s| s.to_str()).unwrap_or("png");
    base.with_file_name(format!("{stem}_{index}.{ext}"))
}

impl DetectArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        if let Some(s) = self.score
            && !(0.0..=1.0).contains(&s)
        {
            return Err(bad_input(anyhow::anyhow!("--score {s}: not in [0, 1]")));
        }
        let mut cfg = self.camera.camera_config()?;
        if let Some(s) = self.score {
            cfg.score_threshold = s;
        }
        let inputs: Vec<&Path> = self.images.iter().map(PathBuf::as_path).collect();
        if let Some(out) = &self.out {
            refuse_to_overwrite(out, &inputs)?;
        }
        if let Some(base) = &self.overlay {
            overlay_format(base).map_err(classify)?;
            for i in 0..self.images.len() {
                refuse_to_overwrite(&overlay_path(base, i, self.images.len()), &inputs)?;
            }
        }
        let images = self
            .images
            .iter()
            .map(|path| load_image_file(path).map_err(classify))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut detector = CameraDetector::new(&cfg).map_err(classify)?;
        let mut dets: Vec<Detection2D> = Vec::new();
        let mut report = Vec::new();
        for (i, (path, image)) in self.images.iter().zip(&images).enumerate() {
            let t = detector.detect(image, &mut dets).map_err(classify)?;
            println!(
                "{}: {} detections ({} passes; pre {:.1} ms, inference {:.1} ms, post {:.1} ms)",
                path.display(),
                dets.len(),
                t.passes,
                t.preprocess.as_secs_f64() * 1e3,
                t.inference.as_secs_f64() * 1e3,
                t.postprocess.as_secs_f64() * 1e3
            );
            let mut objects = Vec::new();
            for d in &dets {
                let b = d.bbox;
                println!(
                    "  {:<10} {:.3}  [{:.1}, {:.1}, {:.1}, {:.1}]  ({})",
                    d.class.name(),
                    d.score,
                    b.x1,
                    b.y1,
                    b.x2,
                    b.y2,
                    detector.class_name(d.source_class_id)
                );
                objects.push(serde_json::json!({
                    "class": d.class.name(),
                    "model_class": detector.class_name(d.source_class_id),
                    "score": d.score,
                    "box": [b.x1, b.y1, b.x2, b.y2],
                }));
            }
            report.push(serde_json::json!({
                "image": path.display().to_string(),
                "width": image.width,
                "height": image.height,
                "objects": objects,
                "timings_ms": {
                    "pre": t.preprocess.as_secs_f64() * 1e3,
                    "inference": t.inference.as_secs_f64() * 1e3,
                    "post": t.postprocess.as_secs_f64() * 1e3,
                },
            }));
            if let Some(base) = &self.overlay {
                let out = overlay_path(base, i, self.images.len());
                write_overlay(image, &dets, &out)
                    .with_context(|| format!("writing overlay {}", out.display()))?;
            }
        }
        if let Some(out) = &self.out {
            let json = serde_json::json!({
                "model": detector.model().card.name,
                "provider": detector.provider().name(),
                "tiles": cfg.tiles,
                "images": report,
            });
            write_atomically(out, &serde_json::to_string_pretty(&json)?)?;
        }
        Ok(())
    }
}
