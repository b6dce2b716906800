//! The camera stage's configuration (the `camera:` section of the fusionrt YAML config).

use crate::card::DecoderKind;
use fusionrt_core::config::{Check, Validate};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// An ONNX Runtime execution provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// NVIDIA TensorRT (engines built ahead of time by `fusionrt models build-engine`).
    Tensorrt,
    /// NVIDIA CUDA.
    Cuda,
    /// The CPU (always available).
    Cpu,
}

impl Provider {
    /// The lower-case name used in config and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tensorrt => "tensorrt",
            Self::Cuda => "cuda",
            Self::Cpu => "cpu",
        }
    }
}

/// TensorRT options a vehicle needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TensorRtOptions {
    /// Build and run in FP16.
    pub fp16: bool,
    /// Where built engines are kept (`fusionrt models build-engine` writes them).
    pub engine_cache_dir: PathBuf,
    /// Keep a TensorRT timing cache in the engine cache directory (faster rebuilds).
    pub timing_cache: bool,
    /// Builder workspace limit, bytes.
    pub workspace_size_bytes: usize,
    /// GPU index.
    pub device_id: i32,
    /// Allow building an engine at start when the cache has none (minutes). Off on a vehicle:
    /// without a prebuilt engine the stage falls back to the next provider and says why.
    pub build_at_start: bool,
}

impl Default for TensorRtOptions {
    fn default() -> Self {
        Self {
            fp16: true,
            engine_cache_dir: PathBuf::from("trt_engines"),
            timing_cache: true,
            workspace_size_bytes: 1 << 30,
            device_id: 0,
            build_at_start: false,
        }
    }
}

/// Configuration of the camera stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CameraConfig {
    /// Model: a card name in the models folder (`nanodet`), a card path or an ONNX path with
    /// its card beside it.
    pub model: String,
    /// Folder of model cards (default: `FUSIONRT_MODELS`, else `models/` found upward from
    /// the current directory or the executable).
    pub models_dir: Option<PathBuf>,
    /// Overrides the card's decoder.
    pub decoder: Option<DecoderKind>,
    /// ONNX Runtime library (default: `ORT_DYLIB_PATH`, else the `.venv` from scripts/setup).
    pub onnxruntime_path: Option<PathBuf>,
    /// Execution providers in order of preference; each that fails falls back to the next.
    pub providers: Vec<Provider>,
    /// TensorRT options.
    pub tensorrt: TensorRtOptions,
    /// CUDA device index.
    pub cuda_device_id: i32,
    /// ONNX Runtime intra-op threads (0: ONNX Runtime's default, one per core).
    pub intra_threads: usize,
    /// Square tiles across the image width, one model pass each: 0 squashes the whole image
    /// into the input, 1 letterboxes it (aspect kept), K >= 2 spreads K squares over the
    /// width (4 suits 1242 x 375 KITTI images). Latency grows with the tile count.
    pub tiles: u32,
    /// Minimum class score kept.
    pub score_threshold: f32,
    /// IoU above which class-wise NMS suppresses a box.
    pub nms_iou: f32,
    /// Share of a box cut off at a tile seam lying inside another box of the same class
    /// group above which it is taken as the same object.
    pub seam_containment: f32,
    /// Keep detections whose class maps to no perception class (as `unknown`).
    pub keep_unmapped: bool,
    /// Model runs on a blank input at start, so that the first frame is not slow.
    pub warmup_runs: u32,
    /// Most detections per image, best scores first.
    pub max_detections: usize,
}

impl Default for CameraConfig {
    fn default() -> Self {
        Self {
            model: "nanodet".into(),
            models_dir: None,
            decoder: None,
            onnxruntime_path: None,
            providers: vec![Provider::Cpu],
            tensorrt: TensorRtOptions::default(),
            cuda_device_id: 0,
            intra_threads: 2,
            tiles: 4,
            score_threshold: 0.35,
            nms_iou: 0.6,
            seam_containment: 0.7,
            keep_unmapped: false,
            warmup_runs: 1,
            max_detections: 200,
        }
    }
}

/// Most square tiles across an image (one model pass each).
pub const MAX_TILES: u32 = 16;
/// Most ONNX Runtime intra-op threads.
pub const MAX_THREADS: usize = 256;

impl Validate for TensorRtOptions {
    fn validate(&self, c: &mut Check) {
        c.count(
            "workspace_size_bytes",
            self.workspace_size_bytes,
            1 << 20,
            1 << 40,
        );
        c.count("device_id", self.device_id, 0, 64);
    }
}

impl Validate for CameraConfig {
    fn validate(&self, c: &mut Check) {
        c.rule(!self.model.trim().is_empty(), "model", || "is empty".into());
        c.rule(!self.providers.is_empty(), "providers", || {
            "is empty: name at least one execution provider (cpu)".into()
        });
        c.count("providers", self.providers.len(), 1, 8);
        c.section("tensorrt", &self.tensorrt);
        c.count("cuda_device_id", self.cuda_device_id, 0, 64);
        c.count("intra_threads", self.intra_threads, 0, MAX_THREADS as i128);
        c.count("tiles", self.tiles, 0, MAX_TILES.into());
        c.fraction("score_threshold", self.score_threshold);
        c.fraction("nms_iou", self.nms_iou);
        c.fraction("seam_containment", self.seam_containment);
        c.count("warmup_runs", self.warmup_runs, 0, 100);
        c.count("max_detections", self.max_detections, 1, 100_000);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_sets_providers_and_rejects_unknown_keys() {
        let cfg: CameraConfig = fusionrt_core::config::parse_yaml(
            "providers: [tensorrt, cuda, cpu]\ntensorrt: {fp16: false, device_id: 1}\ntiles: 3\n",
            "test",
        )
        .unwrap();
        assert_eq!(
            cfg.providers,
            vec![Provider::Tensorrt, Provider::Cuda, Provider::Cpu]
        );
        assert!(!cfg.tensorrt.fp16);
        assert_eq!(cfg.tensorrt.device_id, 1);
        assert_eq!(cfg.tiles, 3);
        assert_eq!(cfg.model, "nanodet");
        let err = fusionrt_core::config::parse_yaml::<CameraConfig>("tilez: 3\n", "cam.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("tilez") && err.contains("cam.yaml"), "{err}");
    }

    #[test]
    fn absurd_values_are_named() {
        assert!(fusionrt_core::config::validate(&CameraConfig::default(), "d").is_ok());
        for (text, key) in [
            ("warmup_runs: 4000000000", "warmup_runs"),
            ("tiles: 100000", "tiles"),
            ("intra_threads: 100000", "intra_threads"),
            ("providers: []", "providers"),
        ] {
            let doc = fusionrt_core::config::YamlDoc::parse(text, "c.yaml").unwrap();
            let cfg: CameraConfig = doc.deserialize().unwrap();
            let err = doc.check(&cfg).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("c.yaml:1:1: key `{key}`")),
                "{err}"
            );
        }
    }
}
