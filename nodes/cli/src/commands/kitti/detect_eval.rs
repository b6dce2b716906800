//! `fusionrt kitti detect-eval`: the lidar stage scored KITTI object-style on many frames.
//!
//! Frames come from a KITTI object folder (`velodyne/`, `calib/`, `label_2/`, every scan that
//! has a label file) and/or a KITTI tracking sequence (`velodyne/NNNN/`, `calib/NNNN.txt`,
//! `labels/NNNN.txt`, every scan present). Each scan goes through the lidar stage; its obstacles
//! (with the lidar classifier's class) are scored with [`fusionrt_eval::detection`]: recall of
//! labelled Car, Van, Truck, Pedestrian and Cyclist within `--max-range-m` at `--radius-m` BEV
//! centre distance (one to one), precision over the obstacles within range in camera 2's view
//! and outside DontCare regions (KITTI labels only that view), unmatched obstacles per frame,
//! class-correct recall and precision per class group, BEV centre error, and the stage's time.
//!
//! With `--camera model` the whole single-frame pipeline runs instead (lidar, camera model,
//! fusion: [`super::frame::run_frame`]) on every frame that has a camera image, and the fused
//! objects with their classes are scored the same way: class recall and precision of fusion.
//!
//! Example: `fusionrt kitti detect-eval --kitti-object $FUSIONRT_DATA/kitti_object
//! --kitti-tracking $FUSIONRT_DATA/kitti_tracking --seq 0000 --out detect_eval.json`

use super::frame::run_frame;
use crate::commands::detect::refuse_to_overwrite;
use crate::exit::bad_input;
use anyhow::Context;
use clap::Args;
use fusionrt_core::{BBox2, Box3, CameraCalib, ObjectClass, Obstacle3D, PointCloud};
use fusionrt_eval::detection::{
    DetectionAccumulator, DetectionEvalParams, DetectionSummary, EvalDetection, EvalLabel,
    SCORED_TYPES,
};
use fusionrt_kitti::object::ObjectLabel;
use fusionrt_kitti::tracking::{LabelType, read_tracking_file};
use fusionrt_kitti::{KittiCalib, read_labels, read_velodyne_into};
use fusionrt_lidar::{LidarConfig, LidarDetector};
use fusionrt_runtime::PipelineConfig;
use fusionrt_runtime::config::Preset;
use nalgebra::Point3;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `fusionrt kitti detect-eval`.
#[derive(Debug, Args)]
pub struct KittiDetectEvalArgs {
    /// KITTI object folder (`velodyne/`, `calib/`, `label_2/`): every scan with a label file.
    #[arg(long, required_unless_present = "kitti_tracking")]
    kitti_object: Option<PathBuf>,
    /// KITTI tracking folder (`velodyne/NNNN/`, `calib/NNNN.txt`, `labels/NNNN.txt`).
    #[arg(long, requires = "seq")]
    kitti_tracking: Option<PathBuf>,
    /// Tracking sequence, e.g. 0000 (with `--kitti-tracking`).
    #[arg(long)]
    seq: Option<String>,
    /// Lidar stage configuration (YAML, the keys of `LidarConfig`); defaults otherwise. With
    /// `--camera model`, the pipeline config (sections `lidar`, `camera`, `fusion`, ...).
    #[arg(long)]
    config: Option<PathBuf>,
    /// `none` scores the lidar stage's obstacles; `model` runs lidar, camera model and fusion on
    /// every frame with an image (`image_2/NAME.png` of the object folder; tracking frames
    /// without images are an error) and scores the fused objects.
    #[arg(long, default_value = "none", value_parser = ["none", "model"])]
    camera: String,
    /// Labels farther than this (BEV) are not scored, m.
    #[arg(long, default_value_t = 50.0)]
    max_range_m: f64,
    /// A label is found by an obstacle whose BEV centre lies this close, m.
    #[arg(long, default_value_t = 1.0)]
    radius_m: f64,
    /// Write the summary (and each obstacle with the label it matched) as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// One frame to score.
struct FrameInput {
    name: String,
    velodyne: PathBuf,
    image: Option<PathBuf>,
    calib: PathBuf,
    labels: Vec<ObjectLabel>,
}

/// One obstacle in the JSON output, with what it matched.
#[derive(Debug, Serialize)]
struct ObstacleRecord {
    frame: String,
    center_m: [f64; 3],
    size_m: [f64; 3],
    yaw_rad: f64,
    /// Lidar points (`null` for fused objects).
    points: Option<u32>,
    /// Supported by a camera (fused); always false without `--camera model`.
    fused: bool,
    class: &'static str,
    class_probability: f32,
    scored: bool,
    matched: Option<&'static str>,
}

/// A scored label that no obstacle matched, with the nearest obstacle.
#[derive(Debug, Serialize)]
struct MissRecord {
    frame: String,
    kind: &'static str,
    center_m: [f64; 3],
    size_m: [f64; 3],
    nearest_obstacle_m: Option<f64>,
}

/// The JSON document.
#[derive(Debug, Serialize)]
struct Report {
    summary: DetectionSummary,
    camera: &'static str,
    lidar_median_ms: f64,
    lidar_max_ms: f64,
    obstacles: Vec<ObstacleRecord>,
    missed: Vec<MissRecord>,
}

fn check_distance(name: &str, v: f64) -> anyhow::Result<()> {
    if v.is_finite() && v > 0.0 && v <= 1000.0 {
        Ok(())
    } else {
        Err(bad_input(anyhow::anyhow!(
            "{name} {v}: must be a finite distance in (0, 1000] m"
        )))
    }
}

impl KittiDetectEvalArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        check_distance("--max-range-m", self.max_range_m)?;
        check_distance("--radius-m", self.radius_m)?;
        let with_camera = self.camera == "model";
        let pipeline = if with_camera {
            Some(PipelineConfig::load(self.config.as_deref(), Preset::Default).map_err(bad_input)?)
        } else {
            None
        };
        let cfg: LidarConfig = match (&pipeline, &self.config) {
            (Some(p), _) => p.lidar.clone(),
            (None, Some(path)) => fusionrt_core::config::load_validated(path).map_err(bad_input)?,
            (None, None) => LidarConfig::default(),
        };
        let mut frames = Vec::new();
        if let Some(dir) = &self.kitti_object {
            frames.extend(object_frames(dir)?);
        }
        if let (Some(root), Some(seq)) = (&self.kitti_tracking, &self.seq) {
            frames.extend(tracking_frames(root, seq)?);
        }
        if frames.is_empty() {
            return Err(bad_input(anyhow::anyhow!("no labelled scans found")));
        }
        if with_camera && let Some(f) = frames.iter().find(|f| f.image.is_none()) {
            return Err(bad_input(anyhow::anyhow!(
                "--camera model: frame {} has no camera image",
                f.name
            )));
        }
        if let Some(out) = &self.out {
            let inputs: Vec<&Path> = frames.iter().map(|f| f.velodyne.as_path()).collect();
            refuse_to_overwrite(out, &inputs)?;
        }
        let params = DetectionEvalParams {
            range_m: self.max_range_m,
            radius_m: self.radius_m,
        };
        let mut detector = LidarDetector::try_new(&cfg).map_err(bad_input)?;
        let mut acc = DetectionAccumulator::new(params);
        let mut cloud = PointCloud::default();
        let mut bytes = Vec::new();
        let mut obstacles: Vec<Obstacle3D> = Vec::new();
        let mut times_ms = Vec::with_capacity(frames.len());
        let mut records = Vec::new();
        let mut missed = Vec::new();
        let mut calibs: BTreeMap<PathBuf, (KittiCalib, CameraCalib)> = BTreeMap::new();
        for frame in &frames {
            if !calibs.contains_key(&frame.calib) {
                let calib = KittiCalib::read(&frame.calib).map_err(bad_input)?;
                let camera = calib.camera_calib("P2").map_err(bad_input)?;
                calibs.insert(frame.calib.clone(), (calib, camera));
            }
            let Some((calib, camera)) = calibs.get(&frame.calib) else {
                continue;
            };
            // (box, class, class probability, lidar points, fused) of every object scored.
            let objects: Vec<(Box3, ObjectClass, f32, Option<u32>, bool)> =
                match (&pipeline, &frame.image) {
                    (Some(config), Some(image)) => {
                        let (output, summary) =
                            run_frame(config, &frame.calib, &frame.velodyne, image)?;
                        times_ms.push(
                            summary
                                .metrics
                                .stages
                                .iter()
                                .find(|s| s.stage == "lidar")
                                .map_or(0.0, |s| s.processing.max_ms),
                        );
                        output
                            .fused
                            .iter()
                            .map(|o| {
                                let p = o.class_probs.get(o.class);
                                (o.bbox, o.class, p, None, o.support.has_camera())
                            })
                            .collect()
                    }
                    _ => {
                        read_velodyne_into(&frame.velodyne, &mut cloud, &mut bytes)
                            .map_err(bad_input)?;
                        let t0 = Instant::now();
                        detector.process(&cloud, &mut obstacles);
                        times_ms.push(t0.elapsed().as_secs_f64() * 1e3);
                        obstacles
                            .iter()
                            .map(|o| {
                                let (class, p) = o.class_probs.argmax();
                                (o.bbox, class, p, Some(o.num_points), false)
                            })
                            .collect()
                    }
                };
            let labels: Vec<EvalLabel> = frame
                .labels
                .iter()
                .filter(|l| l.kind != LabelType::DontCare)
                .map(|l| EvalLabel {
                    bbox: l.box_in_lidar(calib),
                    scored_type: SCORED_TYPES.iter().position(|t| *t == l.kind.name()),
                })
                .collect();
            let dont_care: Vec<BBox2> = frame
                .labels
                .iter()
                .filter(|l| l.kind == LabelType::DontCare)
                .map(|l| l.bbox)
                .collect();
            let detections: Vec<EvalDetection> = objects
                .iter()
                .map(|(bbox, class, ..)| EvalDetection {
                    bbox: *bbox,
                    class: *class,
                    scored: is_scored(bbox, camera, &dont_care, self.max_range_m),
                })
                .collect();
            acc.add_frame(&labels, &detections);
            if self.out.is_some() {
                for (li, l) in labels.iter().enumerate() {
                    let Some(t) = l.scored_type else { continue };
                    if l.bbox.center.xy().norm() > self.max_range_m
                        || acc.last_matches().contains(&Some(li))
                    {
                        continue;
                    }
                    missed.push(MissRecord {
                        frame: frame.name.clone(),
                        kind: SCORED_TYPES[t],
                        center_m: l.bbox.center.into(),
                        size_m: l.bbox.size.into(),
                        nearest_obstacle_m: objects
                            .iter()
                            .map(|o| o.0.bev_distance(&l.bbox))
                            .min_by(f64::total_cmp),
                    });
                }
                for ((o, d), m) in objects.iter().zip(&detections).zip(acc.last_matches()) {
                    let (bbox, class, p, points, fused) = *o;
                    records.push(ObstacleRecord {
                        frame: frame.name.clone(),
                        center_m: bbox.center.into(),
                        size_m: bbox.size.into(),
                        yaw_rad: bbox.yaw_rad,
                        points,
                        fused,
                        class: class.name(),
                        class_probability: p,
                        scored: d.scored,
                        matched: m.map(|li| {
                            labels[li]
                                .scored_type
                                .map_or("unscored", |t| SCORED_TYPES[t])
                        }),
                    });
                }
            }
        }
        let summary = acc.summary();
        times_ms.sort_by(f64::total_cmp);
        let median = times_ms[times_ms.len() / 2];
        let max = times_ms.last().copied().unwrap_or(0.0);
        if with_camera {
            println!("camera model and fusion: the fused objects are scored");
        }
        print_summary(&summary, median, max);
        if let Some(path) = &self.out {
            let doc = Report {
                summary,
                camera: if with_camera { "model" } else { "none" },
                lidar_median_ms: median,
                lidar_max_ms: max,
                obstacles: records,
                missed,
            };
            let text = serde_json::to_string_pretty(&doc)?;
            std::fs::write(path, text + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
        }
        Ok(())
    }
}

/// An object counts for precision when it lies within range, its centre projects into
/// camera 2's image, and not into a DontCare region.
fn is_scored(bbox: &Box3, camera: &CameraCalib, dont_care: &[BBox2], range_m: f64) -> bool {
    if bbox.center.xy().norm() > range_m {
        return false;
    }
    match camera.project_lidar_point(&Point3::from(bbox.center), 0.5) {
        Some(uv) if camera.model.contains(uv) => !dont_care.iter().any(|b| {
            let (u, v) = (uv[0] as f32, uv[1] as f32);
            u >= b.x1 && u <= b.x2 && v >= b.y1 && v <= b.y2
        }),
        _ => false,
    }
}

fn print_summary(s: &DetectionSummary, median_ms: f64, max_ms: f64) {
    let pct = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{:.1}%", 100.0 * v));
    println!(
        "{} frames; labels within {} m, match at {} m BEV (one to one)",
        s.frames, s.params.range_m, s.params.radius_m
    );
    println!(
        "{:<11} {:>6} {:>6} {:>7} {:>9} {:>10}",
        "type", "labels", "found", "recall", "cls-recall", "centre-err"
    );
    for t in &s.by_type {
        println!(
            "{:<11} {:>6} {:>6} {:>7} {:>9} {:>10}",
            t.kind,
            t.counts.labels,
            t.counts.found,
            pct(t.recall),
            pct(t.class_recall),
            t.mean_center_error_m
                .map_or_else(|| "-".to_string(), |e| format!("{e:.2} m"))
        );
    }
    println!(
        "all         {:>6} {:>6} {:>7}            {:>10}",
        s.labels,
        s.found,
        pct(s.recall),
        s.mean_center_error_m
            .map_or_else(|| "-".to_string(), |e| format!("{e:.2} m"))
    );
    println!(
        "precision {} ({} / {} obstacles in the camera's view within range; {} on unscored labels); unmatched per frame {:.2}",
        pct(s.precision),
        s.true_positives,
        s.scored_detections,
        s.ignored_detections,
        s.false_positives_per_frame
    );
    for g in &s.by_group {
        println!(
            "class {:<10} recall {} ({} / {}), precision {} ({} / {})",
            format!("{:?}", g.group).to_lowercase(),
            pct(g.class_recall),
            g.found_class_correct,
            g.labels,
            pct(g.class_precision),
            g.counts.correct,
            g.counts.detections
        );
    }
    println!("lidar stage: median {median_ms:.2} ms, max {max_ms:.2} ms per scan");
}

/// Every scan of a KITTI object folder that has a label file.
fn object_frames(dir: &Path) -> anyhow::Result<Vec<FrameInput>> {
    let velodyne_dir = dir.join("velodyne");
    let mut names: Vec<String> = std::fs::read_dir(&velodyne_dir)
        .with_context(|| format!("reading {}", velodyne_dir.display()))
        .map_err(bad_input)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".bin").map(str::to_string)
        })
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let labels_path = dir.join("label_2").join(format!("{name}.txt"));
        if !labels_path.is_file() {
            continue;
        }
        let image = dir.join("image_2").join(format!("{name}.png"));
        out.push(FrameInput {
            labels: read_labels(&labels_path).map_err(bad_input)?,
            image: image.is_file().then_some(image),
            velodyne: velodyne_dir.join(format!("{name}.bin")),
            calib: dir.join("calib").join(format!("{name}.txt")),
            name: format!("object/{name}"),
        });
    }
    Ok(out)
}

/// Every scan of a tracking sequence, with the sequence's labels of that frame.
fn tracking_frames(root: &Path, seq: &str) -> anyhow::Result<Vec<FrameInput>> {
    let sequence =
        fusionrt_kitti::sequence::SensorSequence::kitti_tracking(root, seq).map_err(bad_input)?;
    let rows =
        read_tracking_file(&root.join("labels").join(format!("{seq}.txt"))).map_err(bad_input)?;
    let mut by_frame: BTreeMap<u32, Vec<ObjectLabel>> = BTreeMap::new();
    for row in &rows {
        by_frame
            .entry(row.frame)
            .or_default()
            .push(ObjectLabel::from_tracking_row(row));
    }
    Ok(sequence
        .frames
        .iter()
        .map(|f| FrameInput {
            name: format!("{seq}/{:06}", f.number),
            velodyne: f.velodyne.clone(),
            image: f.image.clone(),
            calib: sequence.calib.clone(),
            labels: by_frame.remove(&f.number).unwrap_or_default(),
        })
        .collect())
}
