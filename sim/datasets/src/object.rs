//! KITTI object detection labels (`label_2/NNNNNN.txt`).
//!
//! One object per line, 15 space-separated columns (16 in result files, the last a score):
//! `type truncated occluded alpha x1 y1 x2 y2 h w l x y z ry`. The 3D box is in rectified camera
//! coordinates (x right, y down, z forward) with the *bottom* center and `ry` about camera +y.
//! [`ObjectLabel::box_in_lidar`] converts it to a core [`Box3`] in the velodyne frame (geometric
//! center, yaw about +z) with the frame's calibration. `DontCare` lines carry only a 2D box.

use crate::KittiError;
use crate::calib::KittiCalib;
use crate::tracking::{LabelType, MAX_COORDINATE_M, MAX_SIZE_M};
use fusionrt_core::geometry::wrap_angle;
use fusionrt_core::{BBox2, Box3};
use nalgebra::{Point3, Vector3};
use std::path::Path;

/// One labelled object.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ObjectLabel {
    /// Object type.
    pub kind: LabelType,
    /// Truncation in `[0, 1]` (-1 for DontCare).
    pub truncated: f64,
    /// Occlusion level 0..3 (-1 for DontCare).
    pub occluded: i32,
    /// Observation angle, rad.
    pub alpha: f64,
    /// 2D box in the left colour image, px.
    pub bbox: BBox2,
    /// Height, m.
    pub h: f64,
    /// Width, m.
    pub w: f64,
    /// Length, m.
    pub l: f64,
    /// Bottom center in rectified camera coordinates, m.
    pub location: [f64; 3],
    /// Rotation about camera +y, rad.
    pub ry: f64,
    /// Detection score (result files only).
    pub score: Option<f64>,
}

impl ObjectLabel {
    /// The 3D box in the velodyne frame: geometric center, size `[l, w, h]`, yaw about +z.
    pub fn box_in_lidar(&self, calib: &KittiCalib) -> Box3 {
        let [x, y, z] = self.location;
        let center = calib.velo_from_rect(&Point3::new(x, y - 0.5 * self.h, z));
        // The object's heading (its local x axis) in camera coordinates.
        let heading =
            calib.velo_from_rect_vector(&Vector3::new(self.ry.cos(), 0.0, -self.ry.sin()));
        Box3::new(
            center.coords,
            Vector3::new(self.l, self.w, self.h),
            wrap_angle(heading.y.atan2(heading.x)),
        )
    }

    /// The object of one KITTI tracking label line (same columns after frame and track id).
    pub fn from_tracking_row(row: &crate::tracking::TrackingRow) -> Self {
        Self {
            kind: row.kind,
            truncated: f64::from(row.truncated),
            occluded: row.occluded,
            alpha: row.alpha,
            bbox: row.bbox2,
            h: row.cam.h,
            w: row.cam.w,
            l: row.cam.l,
            location: [row.cam.x, row.cam.y, row.cam.z],
            ry: row.cam.ry,
            score: row.score,
        }
    }

    /// The eight box corners in rectified camera coordinates (bottom four, then top four).
    pub fn corners_rect(&self) -> [Point3<f64>; 8] {
        let (s, c) = self.ry.sin_cos();
        let [x, y, z] = self.location;
        let (hl, hw) = (0.5 * self.l, 0.5 * self.w);
        let local = [[hl, hw], [-hl, hw], [-hl, -hw], [hl, -hw]];
        std::array::from_fn(|i| {
            let [lx, lz] = local[i % 4];
            let dy = if i < 4 { 0.0 } else { -self.h };
            // Rotation about +y: x' = c x + s z, z' = -s x + c z.
            Point3::new(x + c * lx + s * lz, y + dy, z - s * lx + c * lz)
        })
    }
}

/// Reads a label (or result) file.
pub fn read_labels(path: &Path) -> Result<Vec<ObjectLabel>, KittiError> {
    let text = std::fs::read_to_string(path).map_err(|source| KittiError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_labels(path, &text)
}

/// Parses the text of a label file; `path` names it in errors.
pub fn parse_labels(path: &Path, text: &str) -> Result<Vec<ObjectLabel>, KittiError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(parse_line(path, i + 1, line)?);
    }
    Ok(out)
}

fn parse_line(path: &Path, line: usize, text: &str) -> Result<ObjectLabel, KittiError> {
    let err = |message: String| KittiError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    };
    let cols: Vec<&str> = text.split_whitespace().collect();
    if cols.len() != 15 && cols.len() != 16 {
        return Err(err(format!(
            "expected 15 columns (16 with a score), found {}",
            cols.len()
        )));
    }
    const NAMES: [&str; 16] = [
        "type",
        "truncated",
        "occluded",
        "alpha",
        "x1",
        "y1",
        "x2",
        "y2",
        "h",
        "w",
        "l",
        "x",
        "y",
        "z",
        "ry",
        "score",
    ];
    let kind =
        LabelType::parse(cols[0]).ok_or_else(|| err(format!("unknown type `{}`", cols[0])))?;
    let mut v = [0.0f64; 16];
    for (j, tok) in cols.iter().enumerate().skip(1) {
        let x: f64 = tok
            .parse()
            .map_err(|_| err(format!("field `{}`: cannot parse `{tok}`", NAMES[j])))?;
        if !x.is_finite() {
            return Err(err(format!("field `{}` is not finite: `{tok}`", NAMES[j])));
        }
        v[j] = x;
    }
    if kind != LabelType::DontCare {
        for j in 8..11 {
            if v[j] < 0.0 {
                return Err(err(format!("negative size `{}` = {}", NAMES[j], v[j])));
            }
            if v[j] > MAX_SIZE_M {
                return Err(err(format!(
                    "size `{}` = {} m is beyond {MAX_SIZE_M} m",
                    NAMES[j], cols[j]
                )));
            }
        }
        for j in 11..14 {
            if v[j].abs() > MAX_COORDINATE_M {
                return Err(err(format!(
                    "position `{}` = {} m is beyond {MAX_COORDINATE_M} m",
                    NAMES[j], cols[j]
                )));
            }
        }
    }
    if v[2].fract() != 0.0 {
        return Err(err(format!(
            "field `occluded` is not an integer: `{}`",
            cols[2]
        )));
    }
    Ok(ObjectLabel {
        kind,
        truncated: v[1],
        occluded: v[2] as i32,
        alpha: v[3],
        bbox: BBox2::new(v[4] as f32, v[5] as f32, v[6] as f32, v[7] as f32),
        h: v[8],
        w: v[9],
        l: v[10],
        location: [v[11], v[12], v[13]],
        ry: v[14],
        score: (cols.len() == 16).then_some(v[15]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const LABELS: &str = "\
Truck 0.00 0 -1.57 599.41 156.40 629.75 189.25 2.85 2.63 12.34 0.47 1.49 69.44 -1.56
Car 0.00 0 1.85 387.63 181.54 423.81 203.12 1.67 1.87 3.69 -16.53 2.39 58.49 1.57

DontCare -1 -1 -10 503.89 169.71 590.61 190.13 -1 -1 -1 -1000 -1000 -1000 -10
";

    #[test]
    fn absurd_positions_and_sizes_are_errors() {
        let car =
            "Car 0.00 0 1.85 387.63 181.54 423.81 203.12 1.67 1.87 3.69 -16.53 2.39 58.49 1.57";
        let far = car.replace("58.49", "1e30");
        let err = parse_labels(Path::new("l.txt"), &far)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("l.txt:1: position `z` = 1e30 m is beyond"),
            "{err}"
        );
        let long = car.replace("3.69", "500");
        let err = parse_labels(Path::new("l.txt"), &long)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("l.txt:1: size `l` = 500 m is beyond"),
            "{err}"
        );
    }

    #[test]
    fn parses_labels() {
        let labels = parse_labels(Path::new("l.txt"), LABELS).unwrap();
        assert_eq!(labels.len(), 3);
        assert_eq!(labels[0].kind, LabelType::Truck);
        assert_eq!(labels[1].location, [-16.53, 2.39, 58.49]);
        assert_eq!(labels[1].bbox, BBox2::new(387.63, 181.54, 423.81, 203.12));
        assert_eq!(labels[2].kind, LabelType::DontCare);
        assert_eq!(labels[2].occluded, -1);
        assert!(labels[0].score.is_none());
    }

    #[test]
    fn errors_name_file_and_line() {
        let msg = parse_labels(Path::new("l.txt"), "Car 0 0 0 1 2 3\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "l.txt:1: expected 15 columns (16 with a score), found 7"
        );
        let text = LABELS.replace("2.39", "inf");
        let msg = parse_labels(Path::new("l.txt"), &text)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("l.txt:2: field `y` is not finite"), "{msg}");
        let text = LABELS.replace("Truck", "Spaceship");
        let msg = parse_labels(Path::new("l.txt"), &text)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("unknown type `Spaceship`"), "{msg}");
        let text = LABELS.replace("1.67 1.87", "1.67 -1.87");
        let msg = parse_labels(Path::new("l.txt"), &text)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("l.txt:2: negative size `w`"), "{msg}");
    }

    fn data_dir() -> Option<PathBuf> {
        match std::env::var_os("FUSIONRT_DATA") {
            Some(root) => Some(PathBuf::from(root).join("kitti_object")),
            None => {
                eprintln!("skipped: FUSIONRT_DATA is not set");
                None
            }
        }
    }

    /// `KittiCalib::cam_box_from_lidar` undoes `box_in_lidar`: the written box is the label's.
    #[test]
    fn lidar_boxes_go_back_to_the_labels_camera_boxes() {
        let Some(dir) = data_dir() else { return };
        let calib = KittiCalib::read(&dir.join("calib/000001.txt")).unwrap();
        let labels = read_labels(&dir.join("label_2/000001.txt")).unwrap();
        for label in labels.iter().filter(|l| l.kind != LabelType::DontCare) {
            let cam = calib.cam_box_from_lidar(&label.box_in_lidar(&calib));
            let [x, y, z] = label.location;
            for (got, want) in [(cam.x, x), (cam.y, y), (cam.z, z), (cam.l, label.l)] {
                assert!((got - want).abs() < 1e-6, "{got} vs {want}");
            }
            let dry = fusionrt_core::geometry::wrap_angle(cam.ry - label.ry);
            // R0_rect * Tr_velo_to_cam is orthonormal only to about 1e-4.
            assert!(dry.abs() < 1e-3, "ry {} vs {}", cam.ry, label.ry);
        }
    }

    /// The label's 3D box projected through `camera_calib("P2")` lands on its 2D box.
    #[test]
    fn projected_boxes_match_the_2d_labels() {
        let Some(dir) = data_dir() else { return };
        let mut checked = 0;
        for frame in ["000000", "000001"] {
            let calib = KittiCalib::read(&dir.join(format!("calib/{frame}.txt"))).unwrap();
            let cam = calib.camera_calib("P2").unwrap();
            let labels = read_labels(&dir.join(format!("label_2/{frame}.txt"))).unwrap();
            for label in labels.iter().filter(|l| l.kind != LabelType::DontCare) {
                let b = label.box_in_lidar(&calib);
                let uv: Vec<[f64; 2]> = b
                    .corners()
                    .iter()
                    .map(|p| cam.project_lidar_point(p, 0.1).unwrap())
                    .collect();
                let x1 = uv.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
                let x2 = uv.iter().map(|p| p[0]).fold(f64::NEG_INFINITY, f64::max);
                let y1 = uv.iter().map(|p| p[1]).fold(f64::INFINITY, f64::min);
                let y2 = uv.iter().map(|p| p[1]).fold(f64::NEG_INFINITY, f64::max);
                // Clip to the image as the 2D labels are.
                let (x1, x2) = (x1.clamp(0.0, 1241.0), x2.clamp(0.0, 1241.0));
                let (y1, y2) = (y1.clamp(0.0, 374.0), y2.clamp(0.0, 374.0));
                let bb = label.bbox;
                // Box corners outline a person or a cyclist more loosely than the tight 2D
                // box: edges within 4 px or 12% of the box size, centers within 5 px.
                let (bw, bh) = (f64::from(bb.width()), f64::from(bb.height()));
                let tol_x = (0.12 * bw).max(4.0);
                let tol_y = (0.12 * bh).max(4.0);
                let edges_ok = (x1 - f64::from(bb.x1)).abs() < tol_x
                    && (x2 - f64::from(bb.x2)).abs() < tol_x
                    && (y1 - f64::from(bb.y1)).abs() < tol_y
                    && (y2 - f64::from(bb.y2)).abs() < tol_y;
                let cx = 0.5 * (x1 + x2) - 0.5 * f64::from(bb.x1 + bb.x2);
                let cy = 0.5 * (y1 + y2) - 0.5 * f64::from(bb.y1 + bb.y2);
                assert!(
                    edges_ok && cx.abs() < 5.0 && cy.abs() < 5.0,
                    "{frame} {:?}: projected [{x1:.1} {y1:.1} {x2:.1} {y2:.1}] vs {bb:?}",
                    label.kind
                );
                // The lidar-frame box agrees with the rectified-frame corners.
                let rect: Vec<Point3<f64>> = label
                    .corners_rect()
                    .iter()
                    .map(|p| calib.velo_from_rect(p))
                    .collect();
                let mut lidar = b.corners().to_vec();
                for p in &rect {
                    let (k, dist) = lidar
                        .iter()
                        .enumerate()
                        .map(|(k, q)| (k, (q - p).norm()))
                        .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
                    // The camera's y axis is tilted ~0.5 degrees from the lidar's z: an upright
                    // box differs from the label's by under 1% of its length.
                    assert!(dist < 0.02 + 0.01 * label.l, "corner off by {dist}");
                    lidar.remove(k);
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 4);
    }
}
