//! `fusionrt kitti lidar`: the lidar stage on one KITTI scan, with recall against labels.
//!
//! Writes the obstacles in the lidar frame as JSON (center `[x, y, z]` m, size `[l, w, h]` m,
//! yaw rad, points, score). With `--calib` and `--labels`, prints the recall of the labelled
//! Car, Pedestrian and Cyclist objects within 50 m (an obstacle center within 1 m, bird's-eye
//! view) and the number of obstacles that match no labelled object.

use crate::commands::detect::refuse_to_overwrite;
use crate::exit::bad_input;
use anyhow::Context;
use clap::Args;
use fusionrt_core::Obstacle3D;
use fusionrt_kitti::tracking::LabelType;
use fusionrt_kitti::{KittiCalib, read_labels, read_velodyne};
use fusionrt_lidar::recall::{BevRecall, bev_recall};
use fusionrt_lidar::{LidarConfig, LidarDetector, LidarStats};
use nalgebra::Point3;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Labels farther than this (BEV, from the lidar) are not scored, m.
const EVAL_RANGE_M: f64 = 50.0;
/// A label is found when an obstacle center lies this close (BEV), m.
const MATCH_RADIUS_M: f64 = 1.0;

/// Arguments of `fusionrt kitti lidar`.
///
/// Example: `fusionrt kitti lidar --velodyne velodyne/000001.bin --calib calib/000001.txt
/// --labels label_2/000001.txt --out obstacles.json`
#[derive(Debug, Args)]
pub struct KittiLidarArgs {
    /// KITTI velodyne scan (`.bin`, float32 x, y, z, reflectance).
    #[arg(long)]
    velodyne: PathBuf,
    /// KITTI calibration file of the frame (needed with `--labels`).
    #[arg(long)]
    calib: Option<PathBuf>,
    /// KITTI object label file of the frame: prints recall.
    #[arg(long, requires = "calib")]
    labels: Option<PathBuf>,
    /// Write the obstacles as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Lidar stage configuration (YAML, the keys of `LidarConfig`); defaults otherwise.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// One obstacle in the JSON output.
#[derive(Debug, Serialize)]
struct ObstacleJson {
    center: [f64; 3],
    size: [f64; 3],
    yaw: f64,
    points: u32,
    score: f32,
}

/// Per-class recall in the JSON output.
#[derive(Debug, Serialize)]
struct ClassRecall {
    class: &'static str,
    labels: usize,
    found: usize,
}

/// The JSON document.
#[derive(Debug, Serialize)]
struct Output {
    velodyne: String,
    frame_id: String,
    points: usize,
    process_ms: f64,
    stats: StatsJson,
    objects: Vec<ObstacleJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recall: Option<RecallJson>,
}

/// Recall summary in the JSON output.
#[derive(Debug, Serialize)]
struct RecallJson {
    range_m: f64,
    radius_m: f64,
    by_class: Vec<ClassRecall>,
    labels: usize,
    found: usize,
    recall: f64,
    unmatched_obstacles: usize,
    unmatched_obstacles_in_camera_view: usize,
}

/// [`LidarStats`] as JSON.
#[derive(Debug, Serialize)]
struct StatsJson {
    input_points: usize,
    non_finite: usize,
    cropped: usize,
    ground: usize,
    non_ground: usize,
    too_high: usize,
    clusters: usize,
    rejected_few_points: usize,
    rejected_size: usize,
    obstacles: usize,
}

impl From<&LidarStats> for StatsJson {
    fn from(s: &LidarStats) -> Self {
        Self {
            input_points: s.input_points,
            non_finite: s.non_finite,
            cropped: s.cropped,
            ground: s.ground,
            non_ground: s.non_ground,
            too_high: s.too_high,
            clusters: s.clusters,
            rejected_few_points: s.rejected_few_points,
            rejected_size: s.rejected_size,
            obstacles: s.obstacles,
        }
    }
}

impl KittiLidarArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        let cfg: LidarConfig = match &self.config {
            Some(path) => fusionrt_core::config::load_validated(path).map_err(bad_input)?,
            None => LidarConfig::default(),
        };
        if let Some(out) = &self.out {
            refuse_to_overwrite(out, &[&self.velodyne])?;
        }
        let mut detector = LidarDetector::try_new(&cfg).map_err(bad_input)?;
        let cloud = read_velodyne(&self.velodyne).map_err(bad_input)?;
        let calib = match &self.calib {
            Some(path) => Some(KittiCalib::read(path).map_err(bad_input)?),
            None => None,
        };
        let mut obstacles: Vec<Obstacle3D> = Vec::new();
        let t0 = Instant::now();
        let stats = detector.process(&cloud, &mut obstacles);
        let process_ms = t0.elapsed().as_secs_f64() * 1e3;
        println!(
            "{}: {} points, {} ground, {} clusters, {} obstacles in {process_ms:.2} ms",
            self.velodyne.display(),
            stats.input_points,
            stats.ground,
            stats.clusters,
            stats.obstacles
        );
        if stats.non_finite > 0 {
            println!("skipped {} non-finite points", stats.non_finite);
        }
        let recall = match (&self.labels, &calib) {
            (Some(path), Some(calib)) => Some(score(path, calib, &obstacles)?),
            _ => None,
        };
        if let Some(path) = &self.out {
            let doc = Output {
                velodyne: self.velodyne.display().to_string(),
                frame_id: cloud.frame_id.clone(),
                points: cloud.len(),
                process_ms,
                stats: StatsJson::from(&stats),
                objects: obstacles
                    .iter()
                    .map(|o| ObstacleJson {
                        center: o.bbox.center.into(),
                        size: o.bbox.size.into(),
                        yaw: o.bbox.yaw_rad,
                        points: o.num_points,
                        score: o.score,
                    })
                    .collect(),
                recall,
            };
            let text = serde_json::to_string_pretty(&doc)?;
            std::fs::write(path, text + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
        }
        Ok(())
    }
}

/// Scores the obstacles against the frame's labels and prints the result.
fn score(
    labels_path: &Path,
    calib: &KittiCalib,
    obstacles: &[Obstacle3D],
) -> anyhow::Result<RecallJson> {
    let labels = read_labels(labels_path).map_err(bad_input)?;
    let camera = calib.camera_calib("P2").map_err(bad_input)?;
    let mut by_class = Vec::new();
    let mut total = BevRecall::default();
    let mut all_labelled = Vec::new();
    for (kind, name) in [
        (LabelType::Car, "Car"),
        (LabelType::Pedestrian, "Pedestrian"),
        (LabelType::Cyclist, "Cyclist"),
    ] {
        let boxes: Vec<_> = labels
            .iter()
            .filter(|l| l.kind == kind)
            .map(|l| l.box_in_lidar(calib))
            .filter(|b| b.center.xy().norm() <= EVAL_RANGE_M)
            .collect();
        let r = bev_recall(&boxes, obstacles, MATCH_RADIUS_M);
        by_class.push(ClassRecall {
            class: name,
            labels: r.labels,
            found: r.found,
        });
        total.labels += r.labels;
        total.found += r.found;
    }
    // Unmatched: obstacles near no labelled object of any type (DontCare has no 3D box).
    all_labelled.extend(
        labels
            .iter()
            .filter(|l| l.kind != LabelType::DontCare)
            .map(|l| l.box_in_lidar(calib)),
    );
    let unmatched: Vec<&Obstacle3D> = obstacles
        .iter()
        .filter(|o| {
            !all_labelled
                .iter()
                .any(|l| l.bev_distance(&o.bbox) <= MATCH_RADIUS_M)
        })
        .collect();
    // KITTI labels only objects in the left camera's view: count unmatched ones there too.
    let in_view = unmatched
        .iter()
        .filter(|o| o.bbox.center.xy().norm() <= EVAL_RANGE_M)
        .filter(|o| {
            camera
                .project_lidar_point(&Point3::from(o.bbox.center), 0.5)
                .is_some_and(|uv| camera.model.contains(uv))
        })
        .count();
    for c in &by_class {
        println!(
            "{:<10} {} / {} found within {EVAL_RANGE_M} m",
            c.class, c.found, c.labels
        );
    }
    println!(
        "recall {:.3} ({} / {}) at {MATCH_RADIUS_M} m BEV; unmatched obstacles: {} ({} within {EVAL_RANGE_M} m in the camera view)",
        total.recall(),
        total.found,
        total.labels,
        unmatched.len(),
        in_view
    );
    Ok(RecallJson {
        range_m: EVAL_RANGE_M,
        radius_m: MATCH_RADIUS_M,
        by_class,
        labels: total.labels,
        found: total.found,
        recall: total.recall(),
        unmatched_obstacles: unmatched.len(),
        unmatched_obstacles_in_camera_view: in_view,
    })
}
