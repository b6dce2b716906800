//! `fusionrt kitti frame`: the whole single-frame pipeline (lidar, camera, fusion) on one KITTI frame.
//!
//! Reads a velodyne scan, the left colour image and the frame's calibration; runs the runtime
//! graph (lidar, camera model, fusion) on that one frame, deterministically; prints the objects in the
//! lidar frame (class, score, center, size, yaw). With labels it scores the frame: recall with
//! the right class for labelled Car, Pedestrian and Cyclist objects within `--max-range-m`
//! (KITTI labels only objects visible in image 2, so every counted object is inside the
//! camera's field of view), and the BEV center error of the matches.

use crate::exit::bad_input;
use anyhow::Context;
use clap::Args;
use fusionrt_camera::load_image_file;
use fusionrt_core::assignment::Assignment;
use fusionrt_core::calib::clip_segment_to_near_plane;
use fusionrt_core::image::{Encoding, Image};
use fusionrt_core::{BBox2, Box3, CameraCalib, Detection2D, FusedObject, ObjectClass};
use fusionrt_fusion::FusionReport;
use fusionrt_kitti::calib::KittiCalib;
use fusionrt_kitti::object::{ObjectLabel, read_labels};
use fusionrt_kitti::sequence::{FrameFiles, SensorSequence};
use fusionrt_kitti::tracking::LabelType;
use fusionrt_kitti::velodyne::read_velodyne;
use fusionrt_runtime::config::Preset;
use fusionrt_runtime::{
    CameraMode, Graph, Output, PipelineConfig, Results, RunOptions, Sink, SinkError,
    run_deterministic,
};
use fusionrt_sources::KittiSource;
use nalgebra::Point3;
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
    /// Draw projected 3D boxes and 2D detections on the image, written here as PNG.
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

        // The pipeline graph on this one frame: lidar, camera model, fusion (and the tracker,
        // which publishes nothing from a single sweep).
        let sequence = SensorSequence {
            name: "frame".into(),
            calib: self.calib.clone(),
            frames: vec![FrameFiles {
                number: 0,
                velodyne: self.velodyne.clone(),
                image: Some(self.image.clone()),
            }],
        };
        let mut source = KittiSource::new(sequence, true).map_err(bad_input)?;
        let graph =
            Graph::new(&config, CameraMode::Model, 1, 0).context("starting the pipeline")?;
        let last = Arc::new(Mutex::new(None));
        let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(LastOutput(last.clone()))];
        let summary = run_deterministic(graph, &mut source, &mut sinks, &RunOptions::default())?;
        let output = last
            .lock()
            .ok()
            .and_then(|mut o| o.take())
            .ok_or_else(|| anyhow::anyhow!("the pipeline published nothing for the frame"))?;
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
            draw_overlay(&image, &camera, &fused, &detections, &label_boxes, path)?;
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

/// Colour of an object class in the overlay.
fn class_colour(class: ObjectClass) -> [u8; 3] {
    match class {
        ObjectClass::Car | ObjectClass::Truck | ObjectClass::Bus => [0, 255, 0],
        ObjectClass::Pedestrian => [255, 40, 40],
        ObjectClass::Bicycle | ObjectClass::Motorcycle => [255, 220, 0],
        ObjectClass::Unknown => [150, 150, 150],
    }
}

/// Draws label 2D boxes (white), 2D detections (class colour, dimmed) and the fused objects'
/// 3D boxes with a heading tick (class colour; lidar-only `unknown` in grey) and writes a PNG.
fn draw_overlay(
    image: &Image,
    camera: &CameraCalib,
    fused: &[FusedObject],
    detections: &[Detection2D],
    label_boxes: &[BBox2],
    path: &Path,
) -> anyhow::Result<()> {
    let mut canvas = to_rgb(image).map_err(bad_input)?;
    let near_m = 0.3;
    for b in label_boxes {
        draw_rect(&mut canvas, b, [255, 255, 255]);
    }
    for d in detections {
        let [r, g, b] = class_colour(d.class);
        draw_rect(&mut canvas, &d.bbox, [r / 2 + 60, g / 2 + 60, b / 2 + 60]);
    }
    for o in fused {
        draw_box3(&mut canvas, camera, &o.bbox, near_m, class_colour(o.class));
    }
    canvas
        .save(path)
        .with_context(|| format!("writing overlay {}", path.display()))?;
    Ok(())
}

fn to_rgb(image: &Image) -> anyhow::Result<image::RgbImage> {
    image.validate()?;
    let bpp = image.encoding.bytes_per_pixel() as usize;
    let mut rgb = image::RgbImage::new(image.width, image.height);
    for y in 0..image.height {
        let row = &image.data[y as usize * image.step as usize..];
        for x in 0..image.width {
            let p = &row[x as usize * bpp..x as usize * bpp + bpp];
            let px = match image.encoding {
                Encoding::Rgb8 | Encoding::Rgba8 => [p[0], p[1], p[2]],
                Encoding::Bgr8 | Encoding::Bgra8 => [p[2], p[1], p[0]],
                Encoding::Mono8 => [p[0], p[0], p[0]],
                Encoding::Uyvy | Encoding::Yuyv => anyhow::bail!(
                    "overlay: {} images are not drawn, convert to rgb8",
                    image.encoding.ros_name()
                ),
            };
            rgb.put_pixel(x, y, image::Rgb(px));
        }
    }
    Ok(rgb)
}

fn put(canvas: &mut image::RgbImage, x: i64, y: i64, c: [u8; 3]) {
    if x >= 0 && y >= 0 && (x as u32) < canvas.width() && (y as u32) < canvas.height() {
        canvas.put_pixel(x as u32, y as u32, image::Rgb(c));
    }
}

/// A line, 2 px wide, clipped to a generous window around the image.
fn draw_line(canvas: &mut image::RgbImage, a: [f64; 2], b: [f64; 2], c: [u8; 3]) {
    let lim = 4.0 * f64::from(canvas.width().max(canvas.height()));
    if !a
        .iter()
        .chain(b.iter())
        .all(|v| v.is_finite() && v.abs() < lim)
    {
        return;
    }
    let steps = (b[0] - a[0]).abs().max((b[1] - a[1]).abs()).ceil().max(1.0) as usize;
    for i in 0..=steps {
        let t = i as f64 / steps as f64;
        let x = (a[0] + (b[0] - a[0]) * t).round() as i64;
        let y = (a[1] + (b[1] - a[1]) * t).round() as i64;
        put(canvas, x, y, c);
        put(canvas, x + 1, y, c);
        put(canvas, x, y + 1, c);
    }
}

fn draw_rect(canvas: &mut image::RgbImage, b: &BBox2, c: [u8; 3]) {
    let (x1, y1, x2, y2) = (
        f64::from(b.x1),
        f64::from(b.y1),
        f64::from(b.x2),
        f64::from(b.y2),
    );
    draw_line(canvas, [x1, y1], [x2, y1], c);
    draw_line(canvas, [x2, y1], [x2, y2], c);
    draw_line(canvas, [x2, y2], [x1, y2], c);
    draw_line(canvas, [x1, y2], [x1, y1], c);
}

/// The 12 edges of a box as projected line segments, each clipped at the near plane.
fn draw_box3(
    canvas: &mut image::RgbImage,
    camera: &CameraCalib,
    b: &Box3,
    near_m: f64,
    c: [u8; 3],
) {
    let corners = b.corners().map(|p| camera.camera_from_lidar * p);
    for (i, j) in Box3::EDGES {
        let Some((p, q)) = clip_segment_to_near_plane(corners[i], corners[j], near_m) else {
            continue;
        };
        if let (Some(a), Some(bq)) = (camera.model.project(&p, 0.0), camera.model.project(&q, 0.0))
        {
            draw_line(canvas, a, bq, c);
        }
    }
    // Heading: a line from the box center to the middle of its front face.
    let front = Point3::from(
        b.center + nalgebra::Vector3::new(b.yaw_rad.cos(), b.yaw_rad.sin(), 0.0) * (0.5 * b.size.x),
    );
    let center = Point3::from(b.center);
    if let (Some(a), Some(f)) = (
        camera.project_lidar_point(&center, near_m),
        camera.project_lidar_point(&front, near_m),
    ) {
        draw_line(canvas, a, f, c);
    }
}
