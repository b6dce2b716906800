//! KITTI tracking files: sequence maps, PointRCNN detection files (as shipped with AB3DMOT),
//! label / result files, and the camera <-> REP-103 box conversion used at this edge.
//!
//! Formats:
//! - seqmap: `NNNN empty FIRST LAST` per line; the frame count is `LAST - FIRST + 1` as in the
//!   KITTI / AB3DMOT devkit.
//! - detections: comma separated, 15 columns:
//!   `frame,type(1=Pedestrian,2=Car,3=Cyclist),x1,y1,x2,y2,score,h,w,l,x,y,z,ry,alpha`.
//! - labels (17 columns) and results (18, with a score), space separated:
//!   `frame track_id type truncated occluded alpha x1 y1 x2 y2 h w l x y z ry [score]`.
//!
//! Boxes in KITTI files are in rectified camera coordinates (x right, y down, z forward), with
//! the *bottom* center and `ry` about camera +y. [`CamBox::to_box3`] converts to the REP-103 frame
//! the algorithms use (x forward = z_cam, y left = -x_cam, z up = -y_cam, geometric center,
//! yaw = -ry - pi/2), and [`CamBox::from_box3`] converts back exactly.
//!
//! Bad input (wrong column count, unparsable or non-finite numbers, negative sizes, positions
//! beyond [`MAX_COORDINATE_M`] or sizes beyond [`MAX_SIZE_M`], frames out of order) is an error
//! that names the file and the line. An empty detection file is valid: the
//! sequence simply has no detections of that class.

use fusionrt_core::geometry::wrap_angle;
use fusionrt_core::{BBox2, Box3, ObjectClass};
use nalgebra::{Matrix3x4, Vector3};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Errors reading or writing KITTI tracking files.
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is malformed.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// One sequence of a seqmap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeqEntry {
    /// Sequence name, e.g. `0004`.
    pub name: String,
    /// Number of frames (`LAST - FIRST + 1`).
    pub num_frames: u32,
}

/// A 3D box as written in KITTI files: camera coordinates, bottom center, `ry` about camera y.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CamBox {
    /// Height, m.
    pub h: f64,
    /// Width, m.
    pub w: f64,
    /// Length, m.
    pub l: f64,
    /// Bottom center x (right), m.
    pub x: f64,
    /// Bottom center y (down), m.
    pub y: f64,
    /// Bottom center z (forward), m.
    pub z: f64,
    /// Rotation about camera y, rad.
    pub ry: f64,
}

impl CamBox {
    /// The box in the REP-103 frame (x forward, y left, z up), geometric center.
    pub fn to_box3(&self) -> Box3 {
        Box3::new(
            Vector3::new(self.z, -self.x, 0.5 * self.h - self.y),
            Vector3::new(self.l, self.w, self.h),
            wrap_angle(-self.ry - std::f64::consts::FRAC_PI_2),
        )
    }

    /// The eight corners in camera coordinates: bottom face first (y = `self.y`), then top.
    pub fn corners(&self) -> [Vector3<f64>; 8] {
        let (s, c) = self.ry.sin_cos();
        let (hl, hw) = (0.5 * self.l, 0.5 * self.w);
        let mut out = [Vector3::zeros(); 8];
        for (i, (dx, dy, dz)) in [
            (hl, 0.0, hw),
            (hl, 0.0, -hw),
            (-hl, 0.0, -hw),
            (-hl, 0.0, hw),
            (hl, -self.h, hw),
            (hl, -self.h, -hw),
            (-hl, -self.h, -hw),
            (-hl, -self.h, hw),
        ]
        .into_iter()
        .enumerate()
        {
            // Rotation about camera y by ry (KITTI's convention).
            out[i] = Vector3::new(
                self.x + c * dx + s * dz,
                self.y + dy,
                self.z - s * dx + c * dz,
            );
        }
        out
    }

    /// The box as seen by a rectified camera with projection `p` (KITTI `P2`) in an image of
    /// `width` x `height` px: the projected corners' bounding box clipped to the image, or
    /// `None` when the box's centre is behind the camera or projects outside the image
    /// (KITTI labels only objects in the camera's view). Corners closer than 0.1 m in depth
    /// are left out.
    pub fn image_box(&self, p: &Matrix3x4<f64>, width: u32, height: u32) -> Option<BBox2> {
        let (w, h) = (f64::from(width), f64::from(height));
        let project = |v: &Vector3<f64>| {
            let q = p * v.push(1.0);
            (q.z > 0.1).then(|| (q.x / q.z, q.y / q.z))
        };
        let centre = Vector3::new(self.x, self.y - 0.5 * self.h, self.z);
        let (u, v) = project(&centre)?;
        if !(0.0..=w).contains(&u) || !(0.0..=h).contains(&v) {
            return None;
        }
        let (mut x1, mut y1, mut x2, mut y2) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for corner in self.corners() {
            if let Some((u, v)) = project(&corner) {
                x1 = x1.min(u);
                y1 = y1.min(v);
                x2 = x2.max(u);
                y2 = y2.max(v);
            }
        }
        Some(BBox2::new(
            x1.clamp(0.0, w) as f32,
            y1.clamp(0.0, h) as f32,
            x2.clamp(0.0, w) as f32,
            y2.clamp(0.0, h) as f32,
        ))
    }

    /// The inverse of [`CamBox::to_box3`].
    pub fn from_box3(b: &Box3) -> Self {
        let h = b.size.z;
        Self {
            h,
            w: b.size.y,
            l: b.size.x,
            x: -b.center.y,
            y: 0.5 * h - b.center.z,
            z: b.center.x,
            ry: wrap_angle(-b.yaw_rad - std::f64::consts::FRAC_PI_2),
        }
    }
}

/// One PointRCNN detection line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackingDetection {
    /// Frame index.
    pub frame: u32,
    /// Class (car, pedestrian or bicycle = cyclist).
    pub class: ObjectClass,
    /// 2D box in the left color image, px.
    pub bbox2: BBox2,
    /// Raw detector score (PointRCNN: a logit, any real number).
    pub score: f64,
    /// 3D box in camera coordinates.
    pub cam: CamBox,
    /// Observation angle, rad.
    pub alpha: f64,
}

/// Object types in KITTI labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LabelType {
    /// Car.
    Car,
    /// Van (a neighbouring class of car: ignored, not counted, for car evaluation).
    Van,
    /// Truck.
    Truck,
    /// Pedestrian.
    Pedestrian,
    /// Seated person (a neighbouring class of pedestrian).
    PersonSitting,
    /// A person who is neither walking nor seated (in some KITTI tracking labels, e.g. sequence
    /// 0013; outside every evaluated class, like Misc).
    Person,
    /// Cyclist.
    Cyclist,
    /// Tram.
    Tram,
    /// Miscellaneous.
    Misc,
    /// Region to ignore (2D box only).
    DontCare,
}

impl LabelType {
    /// Parses a KITTI type name (case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "car" => Self::Car,
            "van" => Self::Van,
            "truck" => Self::Truck,
            "pedestrian" => Self::Pedestrian,
            "person_sitting" => Self::PersonSitting,
            "person" => Self::Person,
            "cyclist" => Self::Cyclist,
            "tram" => Self::Tram,
            "misc" => Self::Misc,
            "dontcare" => Self::DontCare,
            _ => return None,
        })
    }

    /// The KITTI spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Car => "Car",
            Self::Van => "Van",
            Self::Truck => "Truck",
            Self::Pedestrian => "Pedestrian",
            Self::PersonSitting => "Person_sitting",
            Self::Person => "Person",
            Self::Cyclist => "Cyclist",
            Self::Tram => "Tram",
            Self::Misc => "Misc",
            Self::DontCare => "DontCare",
        }
    }

    /// The KITTI type of a perception class, if KITTI tracking evaluates it.
    pub fn from_class(class: ObjectClass) -> Option<Self> {
        match class {
            ObjectClass::Car => Some(Self::Car),
            ObjectClass::Pedestrian => Some(Self::Pedestrian),
            ObjectClass::Bicycle => Some(Self::Cyclist),
            _ => None,
        }
    }
}

/// One line of a KITTI tracking label or result file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackingRow {
    /// Frame index.
    pub frame: u32,
    /// Track id (-1 for DontCare and ignored labels).
    pub track_id: i64,
    /// Object type.
    pub kind: LabelType,
    /// Truncation level (0, 1, 2; -1 when unknown).
    pub truncated: i32,
    /// Occlusion level (0..3; -1 when unknown).
    pub occluded: i32,
    /// Observation angle, rad.
    pub alpha: f64,
    /// 2D box, px.
    pub bbox2: BBox2,
    /// 3D box in camera coordinates.
    pub cam: CamBox,
    /// Score (results only).
    pub score: Option<f64>,
}

fn io_err(path: &Path, source: std::io::Error) -> TrackingError {
    TrackingError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn parse_err(path: &Path, line: usize, message: impl Into<String>) -> TrackingError {
    TrackingError::Parse {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

fn read_text(path: &Path) -> Result<String, TrackingError> {
    std::fs::read_to_string(path).map_err(|e| io_err(path, e))
}

fn num<T: std::str::FromStr>(
    path: &Path,
    line: usize,
    field: &str,
    text: &str,
) -> Result<T, TrackingError> {
    text.trim().parse::<T>().map_err(|_| {
        parse_err(
            path,
            line,
            format!("field `{field}`: cannot parse `{text}`"),
        )
    })
}

fn finite(path: &Path, line: usize, field: &str, text: &str) -> Result<f64, TrackingError> {
    let v: f64 = num(path, line, field, text)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(parse_err(
            path,
            line,
            format!("field `{field}` is not finite: `{text}`"),
        ))
    }
}

/// Largest accepted |x|, |y|, |z| of a box, m: no sensor sees 10 km, so larger is corrupt input.
pub const MAX_COORDINATE_M: f64 = 10_000.0;
/// Largest accepted box dimension, m.
pub const MAX_SIZE_M: f64 = 100.0;
/// Most frames a seqmap may give one sequence (about 2.8 hours at 10 Hz).
pub const MAX_SEQUENCE_FRAMES: u32 = 100_000;

/// A box position coordinate: finite and within [`MAX_COORDINATE_M`].
fn coordinate(path: &Path, line: usize, field: &str, text: &str) -> Result<f64, TrackingError> {
    let v = finite(path, line, field, text)?;
    if v.abs() > MAX_COORDINATE_M {
        return Err(parse_err(
            path,
            line,
            format!(
                "position `{field}` = {} m is beyond {MAX_COORDINATE_M} m",
                text.trim()
            ),
        ));
    }
    Ok(v)
}

fn frame_index(path: &Path, line: usize, text: &str) -> Result<u32, TrackingError> {
    // Frames are integers, but some writers print them as floats (`12.0`).
    let v = finite(path, line, "frame", text)?;
    if v < 0.0 || v.fract() != 0.0 || v > f64::from(u32::MAX) {
        return Err(parse_err(path, line, format!("bad frame index `{text}`")));
    }
    Ok(v as u32)
}

fn size(path: &Path, line: usize, field: &str, text: &str) -> Result<f64, TrackingError> {
    let v = finite(path, line, field, text)?;
    if v < 0.0 {
        return Err(parse_err(
            path,
            line,
            format!("negative size `{field}` = {v}"),
        ));
    }
    if v > MAX_SIZE_M {
        return Err(parse_err(
            path,
            line,
            format!(
                "size `{field}` = {} m is beyond {MAX_SIZE_M} m",
                text.trim()
            ),
        ));
    }
    Ok(v)
}

/// The non-blank lines of `text`, numbered from 1, split into fields by `split`.
fn numbered_fields<'a>(
    text: &'a str,
    split: fn(&'a str) -> Vec<&'a str>,
) -> impl Iterator<Item = (usize, Vec<&'a str>)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(move |(i, line)| (i + 1, split(line)))
}

fn whitespace_fields(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

fn comma_fields(line: &str) -> Vec<&str> {
    line.split(',').collect()
}

/// An error unless a line has one of the `allowed` column counts (`what` describes them).
fn expect_columns(
    path: &Path,
    line: usize,
    found: usize,
    allowed: &[usize],
    what: &str,
) -> Result<(), TrackingError> {
    if allowed.contains(&found) {
        Ok(())
    } else {
        Err(parse_err(
            path,
            line,
            format!("expected {what} columns, found {found}"),
        ))
    }
}

/// Reads a seqmap file.
pub fn read_seqmap(path: &Path) -> Result<Vec<SeqEntry>, TrackingError> {
    let text = read_text(path)?;
    let mut out = Vec::new();
    for (n, f) in numbered_fields(&text, whitespace_fields) {
        expect_columns(path, n, f.len(), &[4], "4")?;
        let first: u32 = num(path, n, "first frame", f[2])?;
        let last: u32 = num(path, n, "last frame", f[3])?;
        if last < first {
            return Err(parse_err(path, n, "last frame before first frame"));
        }
        if last - first >= MAX_SEQUENCE_FRAMES {
            return Err(parse_err(
                path,
                n,
                format!(
                    "{} frames is more than {MAX_SEQUENCE_FRAMES} (a KITTI sequence has at most about 1100)",
                    u64::from(last - first) + 1
                ),
            ));
        }
        if f[0].is_empty() || !f[0].chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(parse_err(path, n, format!("bad sequence name `{}`", f[0])));
        }
        out.push(SeqEntry {
            name: f[0].to_string(),
            num_frames: last - first + 1,
        });
    }
    if out.is_empty() {
        return Err(parse_err(path, 1, "the seqmap lists no sequence"));
    }
    Ok(out)
}

/// Reads a PointRCNN detection file (15 comma-separated columns); frames must not decrease.
pub fn read_detections(path: &Path) -> Result<Vec<TrackingDetection>, TrackingError> {
    let text = read_text(path)?;
    parse_detections(path, &text)
}

/// Parses the text of a detection file; `path` names it in errors.
pub fn parse_detections(path: &Path, text: &str) -> Result<Vec<TrackingDetection>, TrackingError> {
    let mut out = Vec::new();
    let mut last_frame = 0u32;
    for (n, f) in numbered_fields(text, comma_fields) {
        expect_columns(path, n, f.len(), &[15], "15 comma-separated")?;
        let frame = frame_index(path, n, f[0])?;
        if frame < last_frame {
            return Err(parse_err(
                path,
                n,
                format!("frame {frame} out of order (after frame {last_frame})"),
            ));
        }
        last_frame = frame;
        let class = match f[1].trim() {
            "1" => ObjectClass::Pedestrian,
            "2" => ObjectClass::Car,
            "3" => ObjectClass::Bicycle,
            other => {
                return Err(parse_err(
                    path,
                    n,
                    format!("unknown type `{other}` (1, 2 or 3)"),
                ));
            }
        };
        let bbox2 = BBox2::new(
            finite(path, n, "x1", f[2])? as f32,
            finite(path, n, "y1", f[3])? as f32,
            finite(path, n, "x2", f[4])? as f32,
            finite(path, n, "y2", f[5])? as f32,
        );
        if !bbox2.is_valid() {
            return Err(parse_err(path, n, "inverted 2D box"));
        }
        out.push(TrackingDetection {
            frame,
            class,
            bbox2,
            score: finite(path, n, "score", f[6])?,
            cam: CamBox {
                h: size(path, n, "h", f[7])?,
                w: size(path, n, "w", f[8])?,
                l: size(path, n, "l", f[9])?,
                x: coordinate(path, n, "x", f[10])?,
                y: coordinate(path, n, "y", f[11])?,
                z: coordinate(path, n, "z", f[12])?,
                ry: finite(path, n, "ry", f[13])?,
            },
            alpha: finite(path, n, "alpha", f[14])?,
        });
    }
    Ok(out)
}

/// Reads a KITTI tracking label (17 columns) or result (18 columns) file.
pub fn read_tracking_file(path: &Path) -> Result<Vec<TrackingRow>, TrackingError> {
    let text = read_text(path)?;
    parse_tracking_rows(path, &text)
}

/// Parses the text of a label or result file; `path` names it in errors.
pub fn parse_tracking_rows(path: &Path, text: &str) -> Result<Vec<TrackingRow>, TrackingError> {
    let mut out = Vec::new();
    for (n, f) in numbered_fields(text, whitespace_fields) {
        expect_columns(path, n, f.len(), &[17, 18], "17 or 18")?;
        let kind = LabelType::parse(f[2])
            .ok_or_else(|| parse_err(path, n, format!("unknown object type `{}`", f[2])))?;
        let track_id = finite(path, n, "track_id", f[1])?;
        if track_id.fract() != 0.0 {
            return Err(parse_err(path, n, format!("bad track id `{}`", f[1])));
        }
        let dont_care = kind == LabelType::DontCare;
        // DontCare rows carry -1 / -1000 placeholders for the 3D box.
        let dim = |field: &str, text: &str| -> Result<f64, TrackingError> {
            if dont_care {
                finite(path, n, field, text)
            } else {
                size(path, n, field, text)
            }
        };
        out.push(TrackingRow {
            frame: frame_index(path, n, f[0])?,
            track_id: track_id as i64,
            kind,
            truncated: finite(path, n, "truncated", f[3])? as i32,
            occluded: finite(path, n, "occluded", f[4])? as i32,
            alpha: finite(path, n, "alpha", f[5])?,
            bbox2: BBox2::new(
                finite(path, n, "x1", f[6])? as f32,
                finite(path, n, "y1", f[7])? as f32,
                finite(path, n, "x2", f[8])? as f32,
                finite(path, n, "y2", f[9])? as f32,
            ),
            cam: CamBox {
                h: dim("h", f[10])?,
                w: dim("w", f[11])?,
                l: dim("l", f[12])?,
                x: coordinate(path, n, "x", f[13])?,
                y: coordinate(path, n, "y", f[14])?,
                z: coordinate(path, n, "z", f[15])?,
                ry: finite(path, n, "ry", f[16])?,
            },
            score: if f.len() == 18 {
                Some(finite(path, n, "score", f[17])?)
            } else {
                None
            },
        });
    }
    Ok(out)
}

/// Appends one result line (18 columns, space separated) to `out`.
pub fn format_result_row(row: &TrackingRow, out: &mut String) {
    let c = &row.cam;
    let b = &row.bbox2;
    let _ = writeln!(
        out,
        "{} {} {} {} {} {:.6} {:.4} {:.4} {:.4} {:.4} {:.6} {:.6} {:.6} {:.6} {:.6} {:.6} {:.6} {:.6}",
        row.frame,
        row.track_id,
        row.kind.name(),
        row.truncated,
        row.occluded,
        row.alpha,
        b.x1,
        b.y1,
        b.x2,
        b.y2,
        c.h,
        c.w,
        c.l,
        c.x,
        c.y,
        c.z,
        c.ry,
        row.score.unwrap_or(-1.0),
    );
}

/// The score column of a result row for a track score that is a probability: its log-odds.
/// The evaluation averages a track's scores and sweeps thresholds over the means; probabilities
/// near 1, written with six decimals, would collapse to a few values and lose their order,
/// while log-odds keep it (as the raw detector logits in AB3DMOT's results do).
pub fn result_score(probability: f32) -> f64 {
    let p = f64::from(probability).clamp(1e-9, 1.0 - 1e-9);
    (p / (1.0 - p)).ln()
}

/// Writes result rows to `path`.
pub fn write_results(path: &Path, rows: &[TrackingRow]) -> Result<(), TrackingError> {
    let mut text = String::with_capacity(rows.len() * 120);
    for r in rows {
        format_result_row(r, &mut text);
    }
    std::fs::write(path, text).map_err(|e| io_err(path, e))
}

/// Turns published tracks into KITTI result rows: KITTI classes only, ids renumbered as small
/// integers in order of appearance, and, with the camera's projection `P2`, the 2D box the
/// projected 3D box and tracks outside the image left out (KITTI labels only what the camera
/// sees). Without `P2` the 2D box is the track's last camera box, and tracks without one are
/// left out.
#[derive(Debug, Default)]
pub struct ResultRows {
    p2: Option<Matrix3x4<f64>>,
    image_size: (u32, u32),
    ids: std::collections::BTreeMap<fusionrt_core::TrackId, i64>,
    rows: Vec<TrackingRow>,
}

impl ResultRows {
    /// Rows for a camera with projection `p2` and images of `image_size` (width, height) px.
    pub fn new(p2: Option<Matrix3x4<f64>>, image_size: (u32, u32)) -> Self {
        Self {
            p2,
            image_size,
            ..Self::default()
        }
    }

    /// Adds `track` at `frame`, its 3D box given in KITTI camera coordinates as `cam`.
    pub fn add(&mut self, frame: u32, track: &fusionrt_core::Track, cam: CamBox) {
        let Some(kind) = LabelType::from_class(track.class) else {
            return;
        };
        let bbox2 = match &self.p2 {
            Some(p) => cam.image_box(p, self.image_size.0, self.image_size.1),
            None => track.camera_box.map(|(_, b)| b),
        };
        let Some(bbox2) = bbox2 else {
            return;
        };
        let n = self.ids.len() as i64;
        let track_id = *self.ids.entry(track.id).or_insert(n);
        let alpha = wrap_angle(cam.ry - cam.x.atan2(cam.z));
        self.rows.push(TrackingRow {
            frame,
            track_id,
            kind,
            truncated: 0,
            occluded: 0,
            alpha,
            bbox2,
            cam,
            score: Some(result_score(track.score)),
        });
    }

    /// The rows so far.
    pub fn rows(&self) -> &[TrackingRow] {
        &self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_box_round_trips_through_rep103() {
        let c = CamBox {
            h: 1.5,
            w: 1.6,
            l: 3.9,
            x: -4.5,
            y: 1.8,
            z: 13.4,
            ry: -2.1,
        };
        let b = c.to_box3();
        assert!((b.center.x - 13.4).abs() < 1e-12);
        assert!((b.center.y - 4.5).abs() < 1e-12);
        assert!((b.center.z - (0.75 - 1.8)).abs() < 1e-12);
        let back = CamBox::from_box3(&b);
        for (a, e) in [
            (back.h, c.h),
            (back.w, c.w),
            (back.l, c.l),
            (back.x, c.x),
            (back.y, c.y),
            (back.z, c.z),
            (back.ry, c.ry),
        ] {
            assert!((a - e).abs() < 1e-12, "{a} vs {e}");
        }
    }

    #[test]
    fn image_box_projects_the_box_and_drops_it_outside_the_view() {
        // A KITTI-like P2: f = 721.5, principal point (609.6, 172.9).
        let p = Matrix3x4::new(
            721.5, 0.0, 609.6, 0.0, 0.0, 721.5, 172.9, 0.0, 0.0, 0.0, 1.0, 0.0,
        );
        let ahead = CamBox {
            h: 1.5,
            w: 1.6,
            l: 3.9,
            x: 0.0,
            y: 1.65,
            z: 20.0,
            ry: -std::f64::consts::FRAC_PI_2,
        };
        let b = ahead.image_box(&p, 1242, 375).unwrap();
        // Seen from behind: 1.6 m wide at 18.05 m (the near face) is 64 px.
        assert!(
            (f64::from(b.x2 - b.x1) - 721.5 * 1.6 / 18.05).abs() < 0.5,
            "{b:?}"
        );
        assert!(((b.x1 + b.x2) / 2.0 - 609.6).abs() < 0.5, "{b:?}");
        // Bottom at y = 1.65 m below the camera, 18.05 m away.
        assert!(
            (f64::from(b.y2) - (172.9 + 721.5 * 1.65 / 18.05)).abs() < 0.5,
            "{b:?}"
        );
        let beside = CamBox { x: 25.0, ..ahead };
        assert_eq!(beside.image_box(&p, 1242, 375), None);
        let behind = CamBox { z: -10.0, ..ahead };
        assert_eq!(behind.image_box(&p, 1242, 375), None);
        // Close and large: clipped to the image.
        let near = CamBox { z: 5.0, ..ahead };
        let b = near.image_box(&p, 1242, 375).unwrap();
        assert!(b.y2 <= 375.0 && b.x1 >= 0.0, "{b:?}");
    }

    #[test]
    fn result_scores_keep_the_order_of_probabilities_near_one() {
        let a = result_score(0.999_99);
        let b = result_score(0.999_999);
        assert!(b > a + 1.0, "{a} {b}");
        assert!(result_score(0.5).abs() < 1e-12);
        assert!(result_score(0.0).is_finite() && result_score(1.0).is_finite());
    }

    #[test]
    fn every_kitti_label_type_parses_and_round_trips() {
        for name in [
            "Car",
            "Van",
            "Truck",
            "Pedestrian",
            "Person_sitting",
            "Person",
            "Cyclist",
            "Tram",
            "Misc",
            "DontCare",
        ] {
            let t = LabelType::parse(name).unwrap_or_else(|| panic!("{name} did not parse"));
            assert_eq!(t.name(), name);
        }
        assert_eq!(LabelType::parse("Bus"), None);
    }

    #[test]
    fn heading_follows_ry() {
        // ry = 0: the object's length points along camera +x (to the right) = REP-103 -y.
        let b = CamBox {
            h: 1.0,
            w: 1.0,
            l: 4.0,
            x: 0.0,
            y: 0.0,
            z: 10.0,
            ry: 0.0,
        }
        .to_box3();
        let front = b.bev_corners()[0];
        assert!(front[1] < -1.9, "{front:?}");
        // ry = -pi/2: heading along camera +z (forward) = REP-103 +x, yaw 0.
        let b = CamBox {
            h: 1.0,
            w: 1.0,
            l: 4.0,
            x: 0.0,
            y: 0.0,
            z: 10.0,
            ry: -std::f64::consts::FRAC_PI_2,
        }
        .to_box3();
        assert!(b.yaw_rad.abs() < 1e-12);
    }

    #[test]
    fn parses_a_real_detection_line() {
        let text = "0,2,298.3125,165.1800,458.2292,293.4391,8.2981,1.9605,1.8137,4.7549,-4.5720,1.8435,13.5308,-2.1125,-1.7867\n";
        let d = parse_detections(Path::new("d.txt"), text).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].class, ObjectClass::Car);
        assert!((d[0].cam.l - 4.7549).abs() < 1e-12);
    }

    #[test]
    fn bad_detection_lines_name_file_and_line() {
        let ok = "0,2,1,1,2,2,0.5,1,1,1,0,0,5,0,0\n";
        let cases = [
            (
                format!("{ok}0,2,1,1,2,2,0.5,1,1,1,0,0,5,0\n"),
                "15 comma-separated",
            ),
            (
                format!("{ok}0,2,1,1,2,2,0.5,NaN,1,1,0,0,5,0,0\n"),
                "not finite",
            ),
            (
                format!("{ok}0,2,1,1,2,2,0.5,1,-1,1,0,0,5,0,0\n"),
                "negative size",
            ),
            (
                format!("3,2,1,1,2,2,0.5,1,1,1,0,0,5,0,0\n{ok}"),
                "out of order",
            ),
            (
                format!("{ok}0,7,1,1,2,2,0.5,1,1,1,0,0,5,0,0\n"),
                "unknown type",
            ),
            (
                format!("{ok}0,2,1,1,2,2,0.5,1,1,1,1e308,0,5,0,0\n"),
                "position `x` = 1e308 m is beyond 10000 m",
            ),
            (
                format!("{ok}0,2,1,1,2,2,0.5,1,1,400,0,0,5,0,0\n"),
                "size `l` = 400 m is beyond 100 m",
            ),
        ];
        for (text, what) in cases {
            let err = parse_detections(Path::new("seq/0001.txt"), &text)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("seq/0001.txt:2") && err.contains(what),
                "{err}"
            );
        }
        assert!(parse_detections(Path::new("e.txt"), "").unwrap().is_empty());
    }

    #[test]
    fn result_rows_round_trip() {
        let row = TrackingRow {
            frame: 3,
            track_id: 7,
            kind: LabelType::Cyclist,
            truncated: 0,
            occluded: 0,
            alpha: -1.5,
            bbox2: BBox2::new(10.0, 20.0, 30.0, 60.0),
            cam: CamBox {
                h: 1.7,
                w: 0.6,
                l: 1.8,
                x: 1.0,
                y: 1.5,
                z: 20.0,
                ry: 0.3,
            },
            score: Some(0.875),
        };
        let mut text = String::new();
        format_result_row(&row, &mut text);
        let back = parse_tracking_rows(Path::new("r.txt"), &text).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].kind, LabelType::Cyclist);
        assert_eq!(back[0].score, Some(0.875));
        assert!((back[0].cam.z - 20.0).abs() < 1e-9);
        let bad = parse_tracking_rows(Path::new("l.txt"), "0 1 Car 0 0\n").unwrap_err();
        assert!(bad.to_string().contains("l.txt:1"));
    }

    #[test]
    fn seqmap_counts_frames() {
        let dir = std::env::temp_dir().join(format!("fusionrt-seqmap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("seqmap");
        std::fs::write(&p, "0000 empty 000000 000154\n0002 empty 000000 000233\n").unwrap();
        let s = read_seqmap(&p).unwrap();
        assert_eq!(
            s[0],
            SeqEntry {
                name: "0000".into(),
                num_frames: 155
            }
        );
        std::fs::write(&p, "0000 empty 000000\n").unwrap();
        assert!(read_seqmap(&p).unwrap_err().to_string().contains(":1"));
        std::fs::write(&p, "0000 empty 0 10\n0001 empty 0 999999999\n").unwrap();
        let err = read_seqmap(&p).unwrap_err().to_string();
        assert!(
            err.contains(":2: 1000000000 frames is more than 100000"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
