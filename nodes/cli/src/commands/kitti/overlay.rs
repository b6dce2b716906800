//! Overlays of the fused objects on a camera image, with a legend: `kitti frame --overlay` and
//! `kitti run --overlays DIR` (one PNG per sweep).
//!
//! Each fused object is its projected 3D box with a heading tick in its class colour: solid
//! (2 px) when a camera supports it, dashed (1 px) when only the lidar does; classified objects
//! carry a tag `CLASS SCORE #TRACK` (the track published nearest to the object, within 2 m;
//! `L` instead of a score for a lidar-only class) on the detection box that lent the class. The camera's 2D detections are thin, dimmed
//! rectangles; labels, when given, white rectangles. Text is a built-in 5 x 7 pixel font (upper
//! case, digits and a few signs), so no font file is needed.

use crate::exit::bad_input;
use anyhow::Context;
use fusionrt_core::calib::clip_segment_to_near_plane;
use fusionrt_core::image::{Encoding, Image};
use fusionrt_core::{BBox2, Box3, CameraCalib, Detection2D, FusedObject, ObjectClass, TrackId};
use fusionrt_runtime::{Output, Results, Sink, SinkError};
use nalgebra::Point3;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Near plane for drawing, m.
const NEAR_M: f64 = 0.3;
/// A fused object takes the id of the nearest published track within this BEV distance, m.
const TRACK_MATCH_M: f64 = 2.0;
/// Text is drawn at this many pixels per font pixel.
const TEXT_SCALE: i64 = 2;

/// Colour of an object class.
fn class_colour(class: ObjectClass) -> [u8; 3] {
    match class {
        ObjectClass::Car | ObjectClass::Truck | ObjectClass::Bus => [0, 255, 0],
        ObjectClass::Pedestrian => [255, 40, 40],
        ObjectClass::Bicycle | ObjectClass::Motorcycle => [255, 220, 0],
        ObjectClass::Unknown => [150, 150, 150],
    }
}

/// What one overlay shows.
pub(crate) struct Scene<'a> {
    pub image: &'a Image,
    pub camera: &'a CameraCalib,
    pub fused: &'a [FusedObject],
    /// Per fused object, the short id of its track (if any).
    pub track_ids: &'a [Option<u32>],
    pub detections: &'a [Detection2D],
    pub label_boxes: &'a [BBox2],
}

/// Draws `scene` and writes it to `path` as PNG.
pub(crate) fn write(scene: &Scene<'_>, path: &Path) -> anyhow::Result<()> {
    let mut canvas = to_rgb(scene.image).map_err(bad_input)?;
    for b in scene.label_boxes {
        draw_rect(&mut canvas, b, [255, 255, 255]);
    }
    for d in scene.detections {
        let [r, g, b] = class_colour(d.class);
        draw_rect(&mut canvas, &d.bbox, [r / 2 + 60, g / 2 + 60, b / 2 + 60]);
    }
    for (i, o) in scene.fused.iter().enumerate() {
        let fused = o.support.has_camera();
        let colour = class_colour(o.class);
        draw_box3(&mut canvas, scene.camera, &o.bbox, colour, fused);
        if o.class == ObjectClass::Unknown {
            continue;
        }
        // The tag sits on the detection box that lent the class, else on the projected box.
        let anchor = match o.camera_box {
            Some((0, b)) => Some([b.x1 as i64, b.y1 as i64]),
            _ => top_left(scene.camera, &o.bbox),
        };
        let Some([u, v]) = anchor else {
            continue;
        };
        let mut tag = o.class.name().to_uppercase();
        if fused {
            tag.push_str(&format!(" {:.2}", o.score));
        } else {
            tag.push_str(" L");
        }
        if let Some(Some(id)) = scene.track_ids.get(i) {
            tag.push_str(&format!(" #{id}"));
        }
        let y = v - 8 * TEXT_SCALE - 2;
        draw_text(&mut canvas, u, y.max(0), &tag, colour);
    }
    draw_legend(&mut canvas);
    canvas
        .save(path)
        .with_context(|| format!("writing overlay {}", path.display()))?;
    Ok(())
}

/// The legend, top left.
fn draw_legend(canvas: &mut image::RgbImage) {
    let lines: [(&str, [u8; 3]); 8] = [
        ("CAR TRUCK BUS", class_colour(ObjectClass::Car)),
        ("PEDESTRIAN", class_colour(ObjectClass::Pedestrian)),
        ("CYCLIST", class_colour(ObjectClass::Bicycle)),
        ("UNKNOWN", class_colour(ObjectClass::Unknown)),
        ("SOLID: FUSED  DASHED: LIDAR ONLY", [255, 255, 255]),
        ("TAG: CLASS SCORE #TRACK (L: LIDAR CLASS)", [255, 255, 255]),
        ("THIN: CAMERA DETECTION", [200, 200, 200]),
        ("WHITE BOX: LABEL", [255, 255, 255]),
    ];
    let line_h = 9 * TEXT_SCALE;
    let width = lines
        .iter()
        .map(|(t, _)| t.len() as i64 * 6 * TEXT_SCALE)
        .max()
        .unwrap_or(0)
        + 8;
    let height = lines.len() as i64 * line_h + 6;
    for y in 0..height {
        for x in 0..width {
            if let Some(p) = pixel_mut(canvas, x, y) {
                p.0 = p.0.map(|c| c / 4);
            }
        }
    }
    for (i, (text, colour)) in lines.iter().enumerate() {
        draw_text(canvas, 4, 4 + i as i64 * line_h, text, *colour);
    }
}

/// The top-left pixel of a box's projection (clipped at the near plane), if any part is ahead.
fn top_left(camera: &CameraCalib, b: &Box3) -> Option<[i64; 2]> {
    let corners = b.corners().map(|p| camera.camera_from_lidar * p);
    let mut lo = [f64::INFINITY; 2];
    for (i, j) in Box3::EDGES {
        let Some((p, q)) = clip_segment_to_near_plane(corners[i], corners[j], NEAR_M) else {
            continue;
        };
        for e in [p, q] {
            if let Some(uv) = camera.model.project(&e, 0.0) {
                lo = [lo[0].min(uv[0]), lo[1].min(uv[1])];
            }
        }
    }
    let w = f64::from(camera.model.width);
    let h = f64::from(camera.model.height);
    (lo[0].is_finite() && lo[1].is_finite()).then(|| {
        [
            lo[0].clamp(0.0, w - 1.0) as i64,
            lo[1].clamp(0.0, h - 1.0) as i64,
        ]
    })
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

fn pixel_mut(canvas: &mut image::RgbImage, x: i64, y: i64) -> Option<&mut image::Rgb<u8>> {
    (x >= 0 && y >= 0 && (x as u32) < canvas.width() && (y as u32) < canvas.height())
        .then(|| canvas.get_pixel_mut(x as u32, y as u32))
}

fn put(canvas: &mut image::RgbImage, x: i64, y: i64, c: [u8; 3]) {
    if let Some(p) = pixel_mut(canvas, x, y) {
        p.0 = c;
    }
}

/// A line, 2 px wide (`solid`) or 1 px wide and dashed, clipped to a generous window around
/// the image.
fn draw_line(canvas: &mut image::RgbImage, a: [f64; 2], b: [f64; 2], c: [u8; 3], solid: bool) {
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
        if !solid && (i / 5) % 2 == 1 {
            continue;
        }
        let t = i as f64 / steps as f64;
        let x = (a[0] + (b[0] - a[0]) * t).round() as i64;
        let y = (a[1] + (b[1] - a[1]) * t).round() as i64;
        put(canvas, x, y, c);
        if solid {
            put(canvas, x + 1, y, c);
            put(canvas, x, y + 1, c);
        }
    }
}

fn draw_rect(canvas: &mut image::RgbImage, b: &BBox2, c: [u8; 3]) {
    let (x1, y1, x2, y2) = (
        f64::from(b.x1),
        f64::from(b.y1),
        f64::from(b.x2),
        f64::from(b.y2),
    );
    draw_line(canvas, [x1, y1], [x2, y1], c, true);
    draw_line(canvas, [x2, y1], [x2, y2], c, true);
    draw_line(canvas, [x2, y2], [x1, y2], c, true);
    draw_line(canvas, [x1, y2], [x1, y1], c, true);
}

/// The 12 edges of a box as projected line segments, each clipped at the near plane, and a
/// heading tick from the centre to the middle of the front face.
fn draw_box3(
    canvas: &mut image::RgbImage,
    camera: &CameraCalib,
    b: &Box3,
    c: [u8; 3],
    solid: bool,
) {
    let corners = b.corners().map(|p| camera.camera_from_lidar * p);
    for (i, j) in Box3::EDGES {
        let Some((p, q)) = clip_segment_to_near_plane(corners[i], corners[j], NEAR_M) else {
            continue;
        };
        if let (Some(a), Some(bq)) = (camera.model.project(&p, 0.0), camera.model.project(&q, 0.0))
        {
            draw_line(canvas, a, bq, c, solid);
        }
    }
    let front = Point3::from(
        b.center + nalgebra::Vector3::new(b.yaw_rad.cos(), b.yaw_rad.sin(), 0.0) * (0.5 * b.size.x),
    );
    let center = Point3::from(b.center);
    if let (Some(a), Some(f)) = (
        camera.project_lidar_point(&center, NEAR_M),
        camera.project_lidar_point(&front, NEAR_M),
    ) {
        draw_line(canvas, a, f, c, solid);
    }
}

/// Rows of a 5 x 7 glyph, most significant of the low 5 bits leftmost; `None` for characters
/// the font lacks (drawn as blanks).
fn glyph(ch: char) -> Option<[u8; 7]> {
    Some(match ch {
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        '#' => [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F],
        _ => return None,
    })
}

/// Draws `text` (upper case) with its top-left corner at (`x`, `y`), on a dark backing.
fn draw_text(canvas: &mut image::RgbImage, x: i64, y: i64, text: &str, c: [u8; 3]) {
    let s = TEXT_SCALE;
    let width = text.chars().count() as i64 * 6 * s;
    for py in y - s..y + 8 * s {
        for px in x - s..x + width {
            if let Some(p) = pixel_mut(canvas, px, py) {
                p.0 = p.0.map(|v| v / 3);
            }
        }
    }
    for (i, ch) in text.chars().enumerate() {
        let Some(rows) = glyph(ch.to_ascii_uppercase()) else {
            continue;
        };
        let gx = x + i as i64 * 6 * s;
        for (r, bits) in rows.iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) != 0 {
                    for dy in 0..s {
                        for dx in 0..s {
                            put(canvas, gx + col * s + dx, y + r as i64 * s + dy, c);
                        }
                    }
                }
            }
        }
    }
}

/// Short ids (1, 2, ...) for track ids, in order of first appearance.
#[derive(Debug, Default)]
pub(crate) struct ShortIds(BTreeMap<TrackId, u32>);

impl ShortIds {
    /// For each fused object of `output`, the short id of the nearest published track within
    /// [`TRACK_MATCH_M`] (BEV, in the tracks' frame).
    pub(crate) fn for_output(&mut self, output: &Output) -> Vec<Option<u32>> {
        output
            .fused
            .iter()
            .map(|o| {
                let mut b = o.bbox;
                if let Some(pose) = output.world_from_lidar {
                    b.center = (pose * Point3::from(b.center)).coords;
                }
                let track = output
                    .tracks
                    .iter()
                    .map(|t| (t.bbox.bev_distance(&b), t.id))
                    .filter(|(d, _)| *d <= TRACK_MATCH_M)
                    .min_by(|a, b| a.0.total_cmp(&b.0))?;
                let next = self.0.len() as u32 + 1;
                Some(*self.0.entry(track.1).or_insert(next))
            })
            .collect()
    }
}

/// Writes one overlay per sweep of camera 0 (`NNNNNN.png`, the sweep's index) into a folder.
pub(crate) struct OverlaySink {
    dir: PathBuf,
    camera: CameraCalib,
    ids: ShortIds,
}

impl OverlaySink {
    /// A sink writing into `dir` (created if missing), drawing with `camera`.
    pub(crate) fn new(dir: &Path, camera: CameraCalib) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create overlay folder {}", dir.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            camera,
            ids: ShortIds::default(),
        })
    }
}

impl Sink for OverlaySink {
    fn publish(&mut self, output: &Output) -> Result<(), SinkError> {
        let track_ids = self.ids.for_output(output);
        let Some(Some(image)) = output.images.first() else {
            return Ok(());
        };
        let detections = output
            .camera_frames
            .iter()
            .filter(|f| f.camera_index == 0)
            .max_by_key(|f| f.stamp_ns)
            .map_or(&[][..], |f| &f.detections[..]);
        let path = self.dir.join(format!("{:06}.png", output.sweep));
        let scene = Scene {
            image: &image.data,
            camera: &self.camera,
            fused: &output.fused,
            track_ids: &track_ids,
            detections,
            label_boxes: &[],
        };
        write(&scene, &path).map_err(|e| SinkError {
            sink: path.display().to_string(),
            message: format!("{e:#}"),
        })
    }

    fn finish(&mut self, _results: &mut Results) -> Result<(), SinkError> {
        Ok(())
    }
}
