//! The camera detector: an ONNX Runtime session on the configured execution providers, with
//! pre-processing, decoding, NMS and class mapping around it.

use crate::card::{InstalledModel, find_card};
use crate::classes::{nms_groups, perception_class};
use crate::config::{CameraConfig, Provider};
use crate::decode::{Candidate, Decoder, OutputView};
use crate::error::CameraError;
use crate::nms::nms;
use crate::preprocess::Preprocessor;
use fusionrt_core::image::Image;
use fusionrt_core::{Detection2D, ObjectClass};
use ort::ep;
use ort::session::Session;
use ort::value::TensorRef;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Time spent in each step of one [`CameraDetector::detect`] call.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DetectTimings {
    /// Encoding conversion, resampling and normalisation into the input tensors.
    pub preprocess: Duration,
    /// Model runs (one per region).
    pub inference: Duration,
    /// Decoding, NMS and class mapping.
    pub postprocess: Duration,
    /// Model runs made (the region count).
    pub passes: u32,
}

/// Images to 2D detections with a model from its card.
#[derive(Debug)]
pub struct CameraDetector {
    session: Session,
    model: InstalledModel,
    provider: Provider,
    input_name: String,
    pre: Preprocessor,
    decoder: Decoder,
    /// Perception class per model class (`None`: dropped).
    class_map: Vec<Option<ObjectClass>>,
    groups: Vec<u32>,
    cfg: CameraConfig,
    input: Vec<f32>,
    cands: Vec<Candidate>,
    scratch: Vec<bool>,
    shapes: Vec<Vec<i64>>,
}

impl CameraDetector {
    /// Loads ONNX Runtime and the model, checks the model against its card (SHA-256, input
    /// shape), opens a session on the first execution provider that works (logging why each
    /// one before it did not) and warms it up.
    pub fn new(cfg: &CameraConfig) -> Result<Self, CameraError> {
        if !(0.0..=1.0).contains(&cfg.score_threshold) || !(0.0..=1.0).contains(&cfg.nms_iou) {
            return Err(CameraError::Config(
                "score_threshold and nms_iou must lie in [0, 1]".into(),
            ));
        }
        if cfg.providers.is_empty() {
            return Err(CameraError::Config(
                "providers must name at least one execution provider".into(),
            ));
        }
        let card_path = find_card(&cfg.model, cfg.models_dir.as_deref())?;
        let model = InstalledModel::load(&card_path)?;
        let bytes = model.read_verified()?;
        let env = crate::ortlib::environment(cfg.onnxruntime_path.as_deref())?;
        let (session, provider) = open_session(env, cfg, &model, &bytes)?;
        let input_name = check_input(&session, &model)?;
        let class_map = model
            .card
            .classes
            .iter()
            .map(|c| perception_class(c).or(cfg.keep_unmapped.then_some(ObjectClass::Unknown)))
            .collect();
        let mut detector = Self {
            session,
            pre: Preprocessor::new(&model.card.input, cfg.tiles),
            decoder: Decoder::new(&model.card, cfg.decoder),
            groups: nms_groups(&model.card.classes),
            class_map,
            model,
            provider,
            input_name,
            cfg: cfg.clone(),
            input: Vec::new(),
            cands: Vec::new(),
            scratch: Vec::new(),
            shapes: Vec::new(),
        };
        detector.warm_up()?;
        Ok(detector)
    }

    /// The execution provider the session runs on.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The tile count in use (see [`CameraConfig::tiles`]).
    pub fn tiles(&self) -> u32 {
        self.pre.tiles()
    }

    /// Changes the tile count from the next image on: the runtime's degrade policy trades
    /// tiles (model passes) for time.
    pub fn set_tiles(&mut self, tiles: u32) {
        self.pre.set_tiles(tiles);
    }

    /// The model in use.
    pub fn model(&self) -> &InstalledModel {
        &self.model
    }

    fn warm_up(&mut self) -> Result<(), CameraError> {
        let input = &self.model.card.input;
        let blank = Image {
            stamp_ns: 0,
            frame_id: "warm-up".into(),
            width: input.width,
            height: input.height,
            encoding: fusionrt_core::image::Encoding::Mono8,
            step: input.width,
            data: vec![0; (input.width * input.height) as usize],
        };
        let tiles = std::mem::replace(&mut self.pre, Preprocessor::new(input, 0));
        let mut out = Vec::new();
        let result = (0..self.cfg.warmup_runs.max(1))
            .try_for_each(|_| self.detect(&blank, &mut out).map(|_| ()));
        self.pre = tiles;
        result
    }

    /// Detects objects in `image`: `out` is cleared and filled with detections in image
    /// pixels, best first. Bad images (inconsistent step or length, odd YUV width) are errors.
    pub fn detect(
        &mut self,
        image: &Image,
        out: &mut Vec<Detection2D>,
    ) -> Result<DetectTimings, CameraError> {
        let _span = tracing::debug_span!("camera_detect", frame = %image.frame_id, stamp_ns = image.stamp_ns).entered();
        out.clear();
        let t0 = Instant::now();
        let regions = self.pre.run(image, &mut self.input)?.to_vec();
        let mut timings = DetectTimings {
            preprocess: t0.elapsed(),
            passes: regions.len() as u32,
            ..DetectTimings::default()
        };
        let len = self.pre.input_len();
        let (w, h) = (
            self.model.card.input.width as usize,
            self.model.card.input.height as usize,
        );
        self.cands.clear();
        for (k, region) in regions.iter().enumerate() {
            let t = Instant::now();
            let tensor = TensorRef::from_array_view((
                [1usize, 3, h, w],
                &self.input[k * len..(k + 1) * len],
            ))
            .map_err(CameraError::ort("creating the input tensor"))?;
            let outputs = self
                .session
                .run(ort::inputs![self.input_name.as_str() => tensor])
                .map_err(CameraError::ort("running the model"))?;
            timings.inference += t.elapsed();
            let t = Instant::now();
            let mut views: Vec<OutputView<'_>> = Vec::with_capacity(outputs.len());
            self.shapes.clear();
            let mut datas = Vec::with_capacity(outputs.len());
            for o in 0..outputs.len() {
                let (shape, data) = outputs[o]
                    .try_extract_tensor::<f32>()
                    .map_err(CameraError::ort("reading an output as f32"))?;
                self.shapes.push(shape.to_vec());
                datas.push(data);
            }
            for (shape, data) in self.shapes.iter().zip(datas) {
                views.push((shape.as_slice(), data));
            }
            self.decoder.decode(
                &views,
                region,
                image.width,
                image.height,
                self.cfg.score_threshold,
                &mut self.cands,
            )?;
            timings.postprocess += t.elapsed();
        }
        let t = Instant::now();
        let class_map = &self.class_map;
        self.cands.retain(|c| {
            class_map
                .get(c.class_id as usize)
                .is_some_and(Option::is_some)
        });
        nms(
            &mut self.cands,
            &self.groups,
            self.cfg.nms_iou,
            self.cfg.seam_containment,
            &mut self.scratch,
        );
        for c in self.cands.iter().take(self.cfg.max_detections) {
            if let Some(Some(class)) = self.class_map.get(c.class_id as usize) {
                out.push(Detection2D {
                    bbox: c.bbox,
                    class: *class,
                    source_class_id: c.class_id as u16,
                    score: c.score,
                });
            }
        }
        timings.postprocess += t.elapsed();
        Ok(timings)
    }

    /// The model's name for a detection's source class.
    pub fn class_name(&self, source_class_id: u16) -> &str {
        self.model
            .card
            .classes
            .get(source_class_id as usize)
            .map_or("?", String::as_str)
    }
}

/// Checks the session's input against the card; returns the input name.
fn check_input(session: &Session, model: &InstalledModel) -> Result<String, CameraError> {
    let spec = &model.card.input;
    let mismatch = |reason: String| CameraError::ModelMismatch {
        path: model.model_path.clone(),
        reason,
    };
    let [input] = session.inputs() else {
        return Err(mismatch(format!(
            "{} inputs, expected 1",
            session.inputs().len()
        )));
    };
    if input.name() != spec.name {
        return Err(mismatch(format!(
            "input is named `{}`, the card says `{}`",
            input.name(),
            spec.name
        )));
    }
    let want = [1, 3, i64::from(spec.height), i64::from(spec.width)];
    let shape = input
        .dtype()
        .tensor_shape()
        .map(|s| s.to_vec())
        .unwrap_or_default();
    let fits = shape.len() == 4 && shape.iter().zip(want).all(|(&d, w)| d == w || d < 0);
    if !fits {
        return Err(mismatch(format!(
            "input shape {shape:?}, the card says {want:?}"
        )));
    }
    Ok(input.name().to_string())
}

/// The TensorRT engine cache prefix of a model (name and checksum, so a changed model never
/// loads a stale engine).
pub fn engine_prefix(model: &InstalledModel) -> String {
    format!("{}_{}", model.card.name, &model.card.sha256[..12])
}

/// Whether the engine cache holds an engine for `model`.
pub fn engine_cached(dir: &Path, model: &InstalledModel) -> bool {
    let prefix = engine_prefix(model);
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".engine"))
        })
    })
}

/// The TensorRT provider with the configured options.
pub fn tensorrt_provider(
    cfg: &CameraConfig,
    model: &InstalledModel,
) -> ep::ExecutionProviderDispatch {
    let trt = &cfg.tensorrt;
    let dir: PathBuf = trt.engine_cache_dir.clone();
    ep::TensorRT::default()
        .with_device_id(trt.device_id)
        .with_fp16(trt.fp16)
        .with_engine_cache(true)
        .with_engine_cache_path(dir.display())
        .with_engine_cache_prefix(engine_prefix(model))
        .with_timing_cache(trt.timing_cache)
        .with_timing_cache_path(dir.display())
        .with_max_workspace_size(trt.workspace_size_bytes)
        .build()
        .error_on_failure()
}

/// Opens a session on the first provider in `cfg.providers` that works; a provider that
/// does not is logged with the reason and the next one is tried.
fn open_session(
    env: &ort::environment::Environment,
    cfg: &CameraConfig,
    model: &InstalledModel,
    bytes: &[u8],
) -> Result<(Session, Provider), CameraError> {
    let mut reasons = Vec::new();
    for (i, &provider) in cfg.providers.iter().enumerate() {
        let next = cfg
            .providers
            .get(i + 1)
            .map_or("nothing (no provider left)", |p| p.name());
        match try_provider(env, cfg, model, bytes, provider, false) {
            Ok(session) => {
                tracing::info!(provider = provider.name(), model = %model.card.name, "camera model loaded");
                return Ok((session, provider));
            }
            Err(reason) => {
                tracing::warn!(
                    "camera: execution provider {} unavailable: {reason}; falling back to {next}",
                    provider.name()
                );
                reasons.push(format!("{}: {reason}", provider.name()));
            }
        }
    }
    Err(CameraError::Config(format!(
        "no execution provider works ({})",
        reasons.join("; ")
    )))
}

/// A session on one provider, or why not. `build_engine` allows TensorRT to build an engine
/// when the cache has none (`fusionrt models build-engine`).
pub fn try_provider(
    env: &ort::environment::Environment,
    cfg: &CameraConfig,
    model: &InstalledModel,
    bytes: &[u8],
    provider: Provider,
    build_engine: bool,
) -> Result<Session, String> {
    use ort::ep::ExecutionProvider;
    let dispatch = match provider {
        Provider::Cpu => ep::CPU::default().build().error_on_failure(),
        Provider::Cuda => {
            if !ep::CUDA::is_available().unwrap_or(false) {
                return Err("this ONNX Runtime library was built without CUDA (CPU-only wheel; install onnxruntime-gpu, see scripts/setup)".into());
            }
            ep::CUDA::default()
                .with_device_id(cfg.cuda_device_id)
                .build()
                .error_on_failure()
        }
        Provider::Tensorrt => {
            if !ep::TensorRT::is_available().unwrap_or(false) {
                return Err("this ONNX Runtime library was built without TensorRT (CPU-only wheel; install onnxruntime-gpu with TensorRT, see scripts/setup)".into());
            }
            if !(build_engine
                || cfg.tensorrt.build_at_start
                || engine_cached(&cfg.tensorrt.engine_cache_dir, model))
            {
                return Err(format!(
                    "no prebuilt engine for {} in {} (run `fusionrt models build-engine`; building at start takes minutes)",
                    engine_prefix(model),
                    cfg.tensorrt.engine_cache_dir.display()
                ));
            }
            tensorrt_provider(cfg, model)
        }
    };
    let text = |e: ort::Error<ort::session::builder::SessionBuilder>| e.to_string();
    let mut builder = Session::builder(env)
        .map_err(|e| e.to_string())?
        .with_intra_threads(cfg.intra_threads)
        .map_err(text)?
        .with_inter_threads(1)
        .map_err(text)?
        .with_execution_providers([dispatch])
        .map_err(text)?;
    builder.commit_from_memory(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Provider;
    use fusionrt_core::BBox2;

    fn models_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
    }

    /// A config for the shipped model, or `None` (with the reason printed) when ONNX Runtime
    /// cannot be found.
    fn config() -> Option<CameraConfig> {
        if let Err(e) = crate::ortlib::resolve_library(None) {
            eprintln!("skipping: {e}");
            return None;
        }
        Some(CameraConfig {
            models_dir: Some(models_dir()),
            ..CameraConfig::default()
        })
    }

    #[test]
    fn unavailable_gpu_providers_fall_back_to_cpu() {
        let Some(mut cfg) = config() else { return };
        cfg.providers = vec![Provider::Tensorrt, Provider::Cuda, Provider::Cpu];
        let det = CameraDetector::new(&cfg).unwrap();
        assert_eq!(det.provider(), Provider::Cpu);
        cfg.providers = vec![Provider::Cuda];
        let err = CameraDetector::new(&cfg).unwrap_err().to_string();
        assert!(err.contains("cuda") && err.contains("CUDA"), "{err}");
    }

    #[test]
    fn a_model_that_does_not_match_its_card_is_rejected() {
        let Some(mut cfg) = config() else { return };
        let dir = std::env::temp_dir().join(format!("fusionrt-mismatch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let card = std::fs::read_to_string(models_dir().join("nanodet.yaml")).unwrap();
        let onnx = models_dir().join("nanodet.onnx");
        let card = card
            .replace("width: 416", "width: 320")
            .replace("file: nanodet.onnx", &format!("file: {}", onnx.display()));
        std::fs::write(dir.join("wrong.yaml"), card).unwrap();
        cfg.model = dir.join("wrong.yaml").display().to_string();
        let err = CameraDetector::new(&cfg).unwrap_err();
        assert!(matches!(err, CameraError::ModelMismatch { .. }), "{err}");
        assert!(err.to_string().contains("input shape"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn inconsistent_images_are_errors() {
        let Some(cfg) = config() else { return };
        let mut det = CameraDetector::new(&cfg).unwrap();
        let image = Image {
            stamp_ns: 0,
            frame_id: "cam".into(),
            width: 10,
            height: 10,
            encoding: fusionrt_core::image::Encoding::Rgb8,
            step: 30,
            data: vec![0; 299],
        };
        let err = det.detect(&image, &mut Vec::new()).unwrap_err().to_string();
        assert!(err.contains("expected step 30 x height 10 = 300"), "{err}");
    }

    /// KITTI label rows: (type, occluded, box).
    fn labels(path: &Path) -> Vec<(String, i32, BBox2)> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 15).then(|| {
                    let n = |i: usize| f[i].parse::<f32>().unwrap();
                    (
                        f[0].to_string(),
                        f[2].parse().unwrap(),
                        BBox2::new(n(4), n(5), n(6), n(7)),
                    )
                })
            })
            .collect()
    }

    /// Recall of labelled cars (>= 25 px tall, occluded <= 1) at IoU >= 0.5 on the KITTI
    /// images, and precision of vehicle detections (matching any labelled vehicle or DontCare
    /// region). Also scores every labelled road user that is not heavily occluded (>= 20 px),
    /// because the two KITTI images here hold only one car, 21.6 px tall.
    #[test]
    fn kitti_recall_and_precision() {
        let Some(data) = std::env::var_os("FUSIONRT_DATA") else {
            eprintln!("skipping: FUSIONRT_DATA is unset");
            return;
        };
        let Some(cfg) = config() else { return };
        let root = PathBuf::from(data).join("kitti_object");
        let mut det = CameraDetector::new(&cfg).unwrap();
        let mut out = Vec::new();
        let (mut cars, mut cars_found) = (0, 0);
        let (mut users, mut users_found) = (0, 0);
        let (mut vehicle_dets, mut vehicle_tp) = (0, 0);
        let mut images: Vec<PathBuf> = std::fs::read_dir(root.join("image_2"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        images.sort();
        for path in &images {
            let stem = path.file_stem().unwrap().to_str().unwrap();
            let gt = labels(&root.join("label_2").join(format!("{stem}.txt")));
            det.detect(&crate::load_image_file(path).unwrap(), &mut out)
                .unwrap();
            let matches = |want: &[ObjectClass], b: &BBox2| {
                out.iter()
                    .any(|d| want.contains(&d.class) && d.bbox.iou(b) >= 0.5)
            };
            let vehicles = [ObjectClass::Car, ObjectClass::Truck, ObjectClass::Bus];
            for (kind, occluded, b) in &gt {
                if *occluded > 1 {
                    continue;
                }
                if kind == "Car" && b.height() >= 25.0 {
                    cars += 1;
                    cars_found += usize::from(matches(&vehicles, b));
                }
                let want: &[ObjectClass] = match kind.as_str() {
                    "Car" | "Van" | "Truck" | "Tram" => &vehicles,
                    "Pedestrian" | "Person_sitting" => &[ObjectClass::Pedestrian],
                    "Cyclist" => &[ObjectClass::Bicycle, ObjectClass::Pedestrian],
                    _ => continue,
                };
                if b.height() >= 20.0 {
                    users += 1;
                    users_found += usize::from(matches(want, b));
                }
            }
            for d in out.iter().filter(|d| d.class.is_vehicle()) {
                vehicle_dets += 1;
                let hit = gt.iter().any(|(kind, _, b)| {
                    matches!(kind.as_str(), "Car" | "Van" | "Truck" | "Tram" | "DontCare")
                        && (d.bbox.iou(b) >= 0.5
                            || (kind == "DontCare"
                                && d.bbox.intersection(b) >= 0.5 * d.bbox.area()))
                });
                vehicle_tp += usize::from(hit);
            }
        }
        eprintln!(
            "KITTI {} images, tiles {}: cars >= 25 px, occluded <= 1: {cars_found}/{cars}; road users >= 20 px, occluded <= 1: {users_found}/{users}; vehicle precision {vehicle_tp}/{vehicle_dets}",
            images.len(),
            cfg.tiles
        );
        assert!(
            cars_found as f64 >= 0.7 * cars as f64,
            "car recall {cars_found}/{cars}"
        );
        assert!(users > 0);
        assert!(
            users_found as f64 >= 0.7 * users as f64,
            "recall {users_found}/{users}"
        );
    }
}
