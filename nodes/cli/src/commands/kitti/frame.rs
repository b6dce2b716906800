//! `fusionrt kitti frame`: the whole single-frame pipeline (lidar, camera, fusion) on one KITTI frame.
//!
//! Reads a velodyne scan, the left colour image and the frame's calibration; runs the runtime
//! graph (lidar, camera model, fusion) on that one frame, deterministically; prints the objects in the
//! lidar frame (class, score, center, size, yaw). With labels it scores the frame: recall with
//! the right class for labelled Car, Pedestrian and Cyclist objects within `--max-range-m`
//! (KITTI labels only objects visible in image 2, so every counted object is inside the
//! camera's field of view), and the BEV center error of the matches.

use super::overlay;
use crate::exit::bad_input;
use anyhow::Context;
use clap::Args;
use fusionrt_camera::load_image_file;
use fusionrt_core::assignment::Assignment;
use fusionrt_core::{BBox2, Box3, Detection2D, FusedObject, ObjectClass};
use fusionrt_fusion::FusionReport;
use fusionrt_kitti::calib::KittiCalib;
use fusionrt_kitti::object::{ObjectLabel, read_labels};
use fusionrt_kitti::sequence::{FrameFiles, SensorSequence};
use fusionrt_kitti::tracking::LabelType;
use fusionrt_kitti::velodyne::read_velodyne;
use fusionrt_runtime::config::Preset;
use fusionrt_runtime::{
    CameraMode, Graph, Output, PipelineConfig, Results, RunOptions, RunSummary, Sink, SinkError,
    run_deterministic,
};
use fusionrt_sources::KittiSource;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Arguments of `fusionrt kitti frame`.
///
/// Example: `fusionrt kitti frame --velodyne velodyne/000000.bin --image image_2/000000.png
/// --calib calib/000000.txt --labels label_2/000000.txt --overlay 000000_fused.png`
#[derive(Debug, Args)]
pub struct KittiFrameArgs {
    /// Velodyne scan (`NNNNNN.bin`, float32 x, y, z, reflectance).
    #[arg(long)]
    velodyne: PathBuf,
    /// Left colour image (`image_2/NNNNNN.png`).
    #[arg(long)]
    image: PathBuf,
    /// Calibration file (`calib/NNNNNN.txt`: P2, R0_rect, Tr_velo_to_cam).
    #[arg(long)]
    calib: PathBuf,
    /// Labels (`label_2/NNNNNN.txt`): print recall with the right class and BEV center error.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Write the objects (and the score, with labels) as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Draw projected 3D boxes, 2D detections and labels on the image, with a legend, written
    /// here as PNG.
    #[arg(long)]
    overlay: Option<PathBuf>,
    /// Pipeline config (YAML with optional sections `lidar`, `camera`, `fusion`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Only labels within this BEV range of the lidar are scored, m.
    #[arg(long, default_value_t = 50.0)]
    max_range_m: f64,
}

/// `--max-range-m` must be a finite, positive distance.
fn check_max_range_m(v: f64) -> anyhow::Result<()> {
    if v.is_finite() && v > 0.0 && v <= 1000.0 {
        Ok(())
    } else {
        Err(bad_input(anyhow::anyhow!(
            "--max-range-m {v}: must be a finite distance in (0, 1000] m"
        )))
    }
}

/// One object as printed and written to JSON.
#[derive(Debug, Serialize)]
struct ObjectOut {
    class: ObjectClass,
    score: f32,
    center_m: [f64; 3],
    size_m: [f64; 3],
    yaw_rad: f64,
    lidar: bool,
    cameras: Vec<usize>,
    camera_box: Option<BBox2>,
}

impl ObjectOut {
    fn new(o: &FusedObject) -> Self {
        Self {
            class: o.class,
            score: o.score,
            center_m: o.bbox.center.into(),
            size_m: o.bbox.size.into(),
            yaw_rad: o.bbox.yaw_rad,
            lidar: o.support.lidar,
            cameras: (0..8)
                .filter(|i| o.support.camera_mask & (1 << i) != 0)
                .collect(),
            camera_box: o.camera_box.map(|(_, b)| b),
        }
    }
}

/// Scores per label class.
#[derive(Debug, Default, Serialize)]
struct ClassScore {
    label: &'static str,
    /// Counted labels.
    labelled: usize,
    /// Found with the right class.
    found: usize,
    /// Found by any output object (any class, `unknown` included).
    found_any_class: usize,
}

/// The frame's score against its labels.
#[derive(Debug, Default, Serialize)]
struct FrameScore {
    max_range_m: f64,
    classes: Vec<ClassScore>,
    /// BEV center errors of the right-class matches, m.
    bev_errors_m: Vec<f64>,
    median_bev_error_m: Option<f64>,
}

/// Everything written to `--out`.
#[derive(Debug, Serialize)]
struct FrameOut<'a> {
    objects: Vec<ObjectOut>,
    detections: &'a [Detection2D],
    report: &'a FusionReport,
    timings_ms: Timings,
    score: Option<&'a FrameScore>,
}

/// Stage costs of the run, ms.
#[derive(Clone, Copy, Debug, Default, Serialize)]
struct Timings {
    lidar: f64,
    camera: f64,
    fusion: f64,
}

impl KittiFrameArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        check_max_range_m(self.max_range_m)?;
        let config =
            PipelineConfig::load(self.config.as_deref(), Preset::Default).map_err(bad_input)?;
        // Read every input first: a bad file is an error here, not a skipped frame.
        let cloud = read_velodyne(&self.velodyne).map_err(bad_input)?;
        let kitti = KittiCalib::read(&self.calib).map_err(bad_input)?;
        let image = load_image_file(&self.image).map_err(bad_input)?;
        let camera = kitti
            .camera_calib_sized("P2", image.width, image.height)
            .map_err(bad_input)?;
        let labels = match &self.labels {
            Some(path) => Some(read_labels(path).map_err(bad_input)?),
            None => None,
        };

        let (output, summary) = run_frame(&config, &self.calib, &self.velodyne, &self.image)?;
        let fused = output.fused;
        let detections = output
            .camera_frames
            .into_iter()
            .next()
            .map(|f| f.detections)
            .unwrap_or_default();
        let report = output.fusion_report;
        let stage_ms = |name: &str| {
            summary
                .metrics
                .stages
                .iter()
                .find(|s| s.stage == name)
                .map_or(0.0, |s| s.processing.max_ms)
        };
        let timings = Timings {
            lidar: stage_ms("lidar"),
            camera: stage_ms("camera0"),
            fusion: stage_ms("fusion"),
        };
        let obstacles = report.obstacles;

        println!(
            "{} points, {} lidar obstacles, {} detections; lidar {:.1} ms, camera {:.1} ms, fusion {:.3} ms",
            cloud.len(),
            obstacles,
            detections.len(),
            timings.lidar,
            timings.camera,
            timings.fusion
        );
        println!("fusion: {report}");
        println!(
            "{:<10} {:>5} {:>8} {:>8} {:>7} {:>5} {:>5} {:>5} {:>7}",
            "class", "score", "x_m", "y_m", "z_m", "l_m", "w_m", "h_m", "yaw_rad"
        );
        for o in &fused {
            let (c, s) = (o.bbox.center, o.bbox.size);
            println!(
                "{:<10} {:>5.2} {:>8.2} {:>8.2} {:>7.2} {:>5.2} {:>5.2} {:>5.2} {:>7.2}",
                o.class.name(),
                o.score,
                c.x,
                c.y,
                c.z,
                s.x,
                s.y,
                s.z,
                o.bbox.yaw_rad
            );
        }

        let score = labels
            .as_ref()
            .map(|labels| score_frame(labels, &kitti, &fused, self.max_range_m));
        if let Some(score) = &score {
            print_score(score);
        }
        if let Some(path) = &self.overlay {
            let label_boxes: Vec<BBox2> = labels
                .iter()
                .flatten()
                .filter(|l| counted_class(l.kind).is_some())
                .map(|l| l.bbox)
                .collect();
            let scene = overlay::Scene {
                image: &image,
                camera: &camera,
                fused: &fused,
                track_ids: &[],
                detections: &detections,
                label_boxes: &label_boxes,
            };
            overlay::write(&scene, path)?;
            println!("overlay written to {}", path.display());
        }
        if let Some(path) = &self.out {
            let out = FrameOut {
                objects: fused.iter().map(ObjectOut::new).collect(),
                detections: &detections,
                report: &report,
                timings_ms: timings,
                score: score.as_ref(),
            };
            let text = serde_json::to_string_pretty(&out)?;
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }
}

/// Runs the pipeline graph on one KITTI frame (lidar, camera model, fusion, and the tracker,
/// which publishes nothing from a single sweep), deterministically: its output and summary.
pub(super) fn run_frame(
    config: &PipelineConfig,
    calib: &Path,
    velodyne: &Path,
    image: &Path,
) -> anyhow::Result<(Output, RunSummary)> {
    let sequence = SensorSequence {
        name: "frame".into(),
        calib: calib.to_path_buf(),
        frames: vec![FrameFiles {
            number: 0,
            velodyne: velodyne.to_path_buf(),
            image: Some(image.to_path_buf()),
        }],
    };
    let mut source = KittiSource::new(sequence, true).map_err(bad_input)?;
    let graph = Graph::new(config, CameraMode::Model, 1, 0).context("starting the pipeline")?;
    let last = Arc::new(Mutex::new(None));
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(LastOutput(last.clone()))];
    let summary = run_deterministic(graph, &mut source, &mut sinks, &RunOptions::default())?;
    let output = last
        .lock()
        .ok()
        .and_then(|mut o| o.take())
        .ok_or_else(|| anyhow::anyhow!("the pipeline published nothing for the frame"))?;
    Ok((output, summary))
}

/// Keeps the last output of the graph.
struct LastOutput(Arc<Mutex<Option<Output>>>);

impl Sink for LastOutput {
    fn publish(&mut self, output: &Output) -> Result<(), SinkError> {
        if let Ok(mut last) = self.0.lock() {
            *last = Some(output.clone());
        }
        Ok(())
    }

    fn finish(&mut self, _results: &mut Results) -> Result<(), SinkError> {
        Ok(())
    }
}

/// The output class a counted label must get, `None` for labels not counted.
fn counted_class(kind: LabelType) -> Option<ObjectClass> {
    match kind {
        LabelType::Car => Some(ObjectClass::Car),
        LabelType::Pedestrian => Some(ObjectClass::Pedestrian),
        LabelType::Cyclist => Some(ObjectClass::Bicycle),
        _ => None,
    }
}

/// Largest BEV center distance for a match: half the label's length, at least 1 m.
fn match_radius_m(label: &Box3) -> f64 {
    (0.5 * label.size.x).max(1.0)
}

/// Matches counted labels to output objects by BEV center distance (optimal assignment
/// within [`match_radius_m`]), once requiring the right class and once any class.
fn score_frame(
    labels: &[ObjectLabel],
    kitti: &KittiCalib,
    fused: &[FusedObject],
    max_range_m: f64,
) -> FrameScore {
    let mut score = FrameScore {
        max_range_m,
        ..FrameScore::default()
    };
    let mut solver = Assignment::new();
    let mut row_to_col = Vec::new();
    for (name, kind) in [
        ("Car", LabelType::Car),
        ("Pedestrian", LabelType::Pedestrian),
        ("Cyclist", LabelType::Cyclist),
    ] {
        let Some(class) = counted_class(kind) else {
            continue;
        };
        let gt: Vec<Box3> = labels
            .iter()
            .filter(|l| l.kind == kind)
            .map(|l| l.box_in_lidar(kitti))
            .filter(|b| b.center.xy().norm() <= max_range_m)
            .collect();
        let mut cs = ClassScore {
            label: name,
            labelled: gt.len(),
            ..ClassScore::default()
        };
        for right_class in [true, false] {
            let cands: Vec<&FusedObject> = fused
                .iter()
                .filter(|o| !right_class || o.class == class)
                .collect();
            let (rows, cols) = (gt.len(), cands.len());
            let big = 1e6;
            let cost: Vec<f64> = gt
                .iter()
                .flat_map(|g| {
                    cands.iter().map(move |o| {
                        let d = g.bev_distance(&o.bbox);
                        if d <= match_radius_m(g) { d } else { big }
                    })
                })
                .collect();
            solver.solve(&cost, rows, cols, &mut row_to_col);
            for (r, c) in row_to_col.iter().enumerate() {
                if let Some(c) = *c
                    && cost[r * cols + c] < big
                {
                    if right_class {
                        cs.found += 1;
                        score.bev_errors_m.push(cost[r * cols + c]);
                    } else {
                        cs.found_any_class += 1;
                    }
                }
            }
        }
        score.classes.push(cs);
    }
    let mut e = score.bev_errors_m.clone();
    e.sort_by(f64::total_cmp);
    score.median_bev_error_m = (!e.is_empty()).then(|| {
        let m = e.len() / 2;
        if e.len() % 2 == 1 {
            e[m]
        } else {
            0.5 * (e[m - 1] + e[m])
        }
    });
    score
}

fn print_score(score: &FrameScore) {
    println!(
        "labels within {:.0} m (KITTI labels only objects visible in image 2):",
        score.max_range_m
    );
    let (mut total, mut found) = (0, 0);
    for c in &score.classes {
        total += c.labelled;
        found += c.found;
        println!(
            "  {:<10} {:>3} labelled, {:>3} found with the right class, {:>3} found with any class",
            c.label, c.labelled, c.found, c.found_any_class
        );
    }
    if total > 0 {
        println!(
            "  recall with the right class: {found}/{total} = {:.1}%",
            100.0 * found as f64 / total as f64
        );
    }
    match score.median_bev_error_m {
        Some(m) => println!("  median BEV center error: {m:.2} m"),
        None => println!("  median BEV center error: n/a (no matches)"),
    }
}
