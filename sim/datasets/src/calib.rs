//! KITTI calibration files (object and tracking benchmarks).
//!
//! Each line is `KEY: v1 v2 ...` (tracking files omit the colon). Keys read:
//! `P0..P3` (3x4 projection of each rectified camera), `R0_rect` or `R_rect` (3x3 rectifying
//! rotation of camera 0), `Tr_velo_to_cam` or `Tr_velo_cam` (3x4, velodyne to camera 0), and the
//! optional `Tr_imu_to_velo` or `Tr_imu_velo` (3x4). Other keys are ignored.
//!
//! A rectified camera point is `x_rect = R0_rect * Tr_velo_to_cam * x_velo`; camera `i` projects
//! it with `P_i`. Errors name the file, the line and the key; non-finite values and singular
//! matrices are rejected.

use crate::KittiError;
use fusionrt_core::calib::{CameraCalib, CameraModel};
use nalgebra::{
    Isometry3, Matrix3, Matrix3x4, Matrix4, Point3, Rotation3, Translation3, UnitQuaternion,
    Vector3,
};
use std::path::{Path, PathBuf};

/// Image size of the KITTI colour cameras, px (most frames; a few are 1241 x 376 or 1224 x 370).
pub const KITTI_IMAGE_SIZE: (u32, u32) = (1242, 375);

/// A parsed KITTI calibration file.
#[derive(Clone, Debug, PartialEq)]
pub struct KittiCalib {
    /// The file it came from (for error messages).
    pub path: PathBuf,
    /// Projection matrices `P0..P3` of the rectified cameras (`None` when absent; `P2` is
    /// required).
    pub p: [Option<Matrix3x4<f64>>; 4],
    /// Rectifying rotation of camera 0.
    pub r0_rect: Matrix3<f64>,
    /// Velodyne to (unrectified) camera 0.
    pub tr_velo_to_cam: Matrix3x4<f64>,
    /// IMU to velodyne, when given.
    pub tr_imu_to_velo: Option<Matrix3x4<f64>>,
    /// `R0_rect * Tr_velo_to_cam` as a 4x4 homogeneous matrix.
    rect_from_velo: Matrix4<f64>,
    /// Its inverse.
    velo_from_rect: Matrix4<f64>,
}

fn homogeneous(m: &Matrix3x4<f64>) -> Matrix4<f64> {
    let mut h = Matrix4::identity();
    h.fixed_view_mut::<3, 4>(0, 0).copy_from(m);
    h
}

/// One `KEY: values` entry with its line number.
struct Entry<'a> {
    line: usize,
    key: &'a str,
    values: &'a str,
}

impl KittiCalib {
    /// Reads and validates a calibration file.
    pub fn read(path: &Path) -> Result<Self, KittiError> {
        let text = std::fs::read_to_string(path).map_err(|source| KittiError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses the text of a calibration file; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, KittiError> {
        let entries: Vec<Entry<'_>> = text
            .lines()
            .enumerate()
            .filter_map(|(i, line)| {
                let line_text = line.trim();
                if line_text.is_empty() {
                    return None;
                }
                let (key, values) = match line_text.split_once(':') {
                    Some((k, v)) => (k.trim(), v),
                    None => line_text
                        .split_once(char::is_whitespace)
                        .unwrap_or((line_text, "")),
                };
                Some(Entry {
                    line: i + 1,
                    key,
                    values,
                })
            })
            .collect();
        let err = |line: usize, key: &str, message: String| KittiError::CalibKey {
            path: path.to_path_buf(),
            line,
            key: key.to_string(),
            message,
        };
        let find = |names: &[&str]| entries.iter().find(|e| names.contains(&e.key));
        let numbers = |e: &Entry<'_>, count: usize| -> Result<Vec<f64>, KittiError> {
            let mut out = Vec::with_capacity(count);
            for tok in e.values.split_whitespace() {
                let v: f64 = tok
                    .parse()
                    .map_err(|_| err(e.line, e.key, format!("cannot parse `{tok}`")))?;
                if !v.is_finite() {
                    return Err(err(e.line, e.key, format!("value `{tok}` is not finite")));
                }
                out.push(v);
            }
            if out.len() != count {
                return Err(err(
                    e.line,
                    e.key,
                    format!("expected {count} values, found {}", out.len()),
                ));
            }
            Ok(out)
        };
        let required =
            |names: &[&str]| find(names).ok_or_else(|| err(0, names[0], "missing".to_string()));
        let mat34 = |e: &Entry<'_>| numbers(e, 12).map(|v| Matrix3x4::from_row_slice(&v));

        let mut p = [None; 4];
        for (i, slot) in p.iter_mut().enumerate() {
            let key = format!("P{i}");
            if let Some(e) = find(&[key.as_str()]) {
                let m = mat34(e)?;
                let k = m.fixed_view::<3, 3>(0, 0);
                if k[(0, 0)] <= 0.0 || k[(1, 1)] <= 0.0 || k.determinant().abs() < 1e-9 {
                    return Err(err(
                        e.line,
                        e.key,
                        format!(
                            "singular projection (fx = {}, fy = {})",
                            k[(0, 0)],
                            k[(1, 1)]
                        ),
                    ));
                }
                *slot = Some(m);
            }
        }
        if p[2].is_none() {
            return Err(err(0, "P2", "missing".to_string()));
        }
        let e = required(&["R0_rect", "R_rect"])?;
        let r0_rect = Matrix3::from_row_slice(&numbers(e, 9)?);
        check_rotation(&r0_rect).map_err(|m| err(e.line, e.key, m))?;
        let e = required(&["Tr_velo_to_cam", "Tr_velo_cam"])?;
        let tr_velo_to_cam = mat34(e)?;
        check_rotation(&tr_velo_to_cam.fixed_view::<3, 3>(0, 0).into_owned())
            .map_err(|m| err(e.line, e.key, m))?;
        let tr_imu_to_velo = match find(&["Tr_imu_to_velo", "Tr_imu_velo"]) {
            Some(e) => {
                let m = mat34(e)?;
                check_rotation(&m.fixed_view::<3, 3>(0, 0).into_owned())
                    .map_err(|msg| err(e.line, e.key, msg))?;
                Some(m)
            }
            None => None,
        };
        let mut r4 = Matrix4::identity();
        r4.fixed_view_mut::<3, 3>(0, 0).copy_from(&r0_rect);
        let rect_from_velo = r4 * homogeneous(&tr_velo_to_cam);
        let velo_from_rect = rect_from_velo.try_inverse().ok_or_else(|| {
            err(
                0,
                "Tr_velo_to_cam",
                "R0_rect * Tr_velo_to_cam is singular".to_string(),
            )
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            p,
            r0_rect,
            tr_velo_to_cam,
            tr_imu_to_velo,
            rect_from_velo,
            velo_from_rect,
        })
    }

    /// The 4x4 homogeneous transform from the velodyne frame to rectified camera coordinates.
    pub fn rect_from_velo_matrix(&self) -> &Matrix4<f64> {
        &self.rect_from_velo
    }

    /// A velodyne point in rectified camera coordinates (x right, y down, z forward).
    pub fn rect_from_velo(&self, p_velo: &Point3<f64>) -> Point3<f64> {
        self.rect_from_velo.transform_point(p_velo)
    }

    /// A box in the velodyne frame (geometric centre, yaw about +z) as KITTI writes boxes:
    /// rectified camera coordinates, bottom centre, rotation about camera y.
    pub fn cam_box_from_lidar(&self, b: &fusionrt_core::Box3) -> crate::tracking::CamBox {
        let c = self.rect_from_velo(&Point3::from(b.center));
        let heading = self.rect_from_velo.transform_vector(&Vector3::new(
            b.yaw_rad.cos(),
            b.yaw_rad.sin(),
            0.0,
        ));
        crate::tracking::CamBox {
            h: b.size.z,
            w: b.size.y,
            l: b.size.x,
            x: c.x,
            y: c.y + 0.5 * b.size.z,
            z: c.z,
            // A heading (cos ry, 0, -sin ry) in camera coordinates.
            ry: (-heading.z).atan2(heading.x),
        }
    }

    /// A rectified camera point in the velodyne frame.
    pub fn velo_from_rect(&self, p_rect: &Point3<f64>) -> Point3<f64> {
        self.velo_from_rect.transform_point(p_rect)
    }

    /// A direction in rectified camera coordinates rotated into the velodyne frame.
    pub fn velo_from_rect_vector(&self, v_rect: &Vector3<f64>) -> Vector3<f64> {
        self.velo_from_rect.transform_vector(v_rect)
    }

    /// The core calibration of camera `name` (`P2`, `image_2`, `cam2` or `2`) with the KITTI
    /// image size 1242 x 375: see [`KittiCalib::camera_calib_sized`].
    pub fn camera_calib(&self, name: &str) -> Result<CameraCalib, KittiError> {
        self.camera_calib_sized(name, KITTI_IMAGE_SIZE.0, KITTI_IMAGE_SIZE.1)
    }

    /// The core calibration of camera `name` for images of `width` x `height` px:
    /// `K = P[:, :3]`, `t = K^-1 P[:, 3]`, `camera_from_lidar = [I | t] * R0_rect *
    /// Tr_velo_to_cam` with its rotation orthonormalised.
    pub fn camera_calib_sized(
        &self,
        name: &str,
        width: u32,
        height: u32,
    ) -> Result<CameraCalib, KittiError> {
        let index = camera_index(name).ok_or_else(|| KittiError::CalibKey {
            path: self.path.clone(),
            line: 0,
            key: name.to_string(),
            message: "unknown camera (use P0..P3, image_0..image_3, cam0..cam3 or 0..3)"
                .to_string(),
        })?;
        let p = self.p[index].ok_or_else(|| KittiError::CalibKey {
            path: self.path.clone(),
            line: 0,
            key: format!("P{index}"),
            message: "missing".to_string(),
        })?;
        let k: Matrix3<f64> = p.fixed_view::<3, 3>(0, 0).into_owned();
        let t = k
            .try_inverse()
            .map(|k_inv| k_inv * p.column(3))
            .ok_or_else(|| KittiError::CalibKey {
                path: self.path.clone(),
                line: 0,
                key: format!("P{index}"),
                message: "singular intrinsics".to_string(),
            })?;
        let m = self.rect_from_velo;
        let rot = m.fixed_view::<3, 3>(0, 0).into_owned();
        let rotation = Rotation3::from_matrix_eps(&rot, 1e-12, 100, Rotation3::identity());
        let translation = m.fixed_view::<3, 1>(0, 3).into_owned() + t;
        let camera_from_lidar = Isometry3::from_parts(
            Translation3::from(translation),
            UnitQuaternion::from_rotation_matrix(&rotation),
        );
        let calib = CameraCalib {
            name: name.to_string(),
            frame_id: format!("camera_{index}_optical"),
            model: CameraModel::pinhole(width, height, k[(0, 0)], k[(1, 1)], k[(0, 2)], k[(1, 2)]),
            camera_from_lidar,
        };
        let mut calib = calib;
        calib.model.k[(0, 1)] = k[(0, 1)];
        calib.validate().map_err(|source| KittiError::Camera {
            path: self.path.clone(),
            source,
        })?;
        Ok(calib)
    }
}

/// Camera index from a name: `P2`, `image_2`, `cam2` or `2`.
fn camera_index(name: &str) -> Option<usize> {
    let digits = name
        .strip_prefix("image_")
        .or_else(|| name.strip_prefix("cam"))
        .or_else(|| name.strip_prefix('P'))
        .unwrap_or(name);
    match digits {
        "0" => Some(0),
        "1" => Some(1),
        "2" => Some(2),
        "3" => Some(3),
        _ => None,
    }
}

/// Checks that a matrix is close to a rotation (KITTI's are orthonormal to about 1e-5).
fn check_rotation(m: &Matrix3<f64>) -> Result<(), String> {
    let det = m.determinant();
    if det.abs() < 1e-6 {
        return Err(format!("singular matrix (determinant {det:.3e})"));
    }
    let ortho = (m.transpose() * m - Matrix3::identity()).abs().max();
    if ortho > 1e-2 || det < 0.0 {
        return Err(format!(
            "not a rotation (|R^T R - I| = {ortho:.2e}, determinant {det:.4})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALIB: &str = "\
P0: 7.070493e+02 0 6.040814e+02 0 0 7.070493e+02 1.805066e+02 0 0 0 1 0
P1: 7.070493e+02 0 6.040814e+02 -3.797842e+02 0 7.070493e+02 1.805066e+02 0 0 0 1 0
P2: 7.070493e+02 0 6.040814e+02 4.575831e+01 0 7.070493e+02 1.805066e+02 -3.454157e-01 0 0 1 4.981016e-03
P3: 7.070493e+02 0 6.040814e+02 -3.341081e+02 0 7.070493e+02 1.805066e+02 2.330660e+00 0 0 1 3.201153e-03
R0_rect: 9.999128e-01 1.009263e-02 -8.511932e-03 -1.012729e-02 9.999406e-01 -4.037671e-03 8.470675e-03 4.123522e-03 9.999556e-01
Tr_velo_to_cam: 6.927964e-03 -9.999722e-01 -2.757829e-03 -2.457729e-02 -1.162982e-03 2.749836e-03 -9.999955e-01 -6.127237e-02 9.999753e-01 6.931141e-03 -1.143899e-03 -3.321029e-01
Tr_imu_to_velo: 9.999976e-01 7.553071e-04 -2.035826e-03 -8.086759e-01 -7.854027e-04 9.998898e-01 -1.482298e-02 3.195559e-01 2.024406e-03 1.482454e-02 9.998881e-01 -7.997231e-01
";

    fn calib() -> KittiCalib {
        KittiCalib::parse(Path::new("calib.txt"), CALIB).unwrap()
    }

    #[test]
    fn transforms_round_trip_and_follow_the_axes() {
        let c = calib();
        let p = Point3::new(10.0, 2.0, -1.0);
        let r = c.rect_from_velo(&p);
        // Forward in the lidar is +z in the camera, left is -x, up is -y.
        assert!(r.z > 9.0 && r.x < -1.5 && r.y > 0.5, "{r}");
        let back = c.velo_from_rect(&r);
        assert!((back - p).norm() < 1e-9);
        assert!(c.tr_imu_to_velo.is_some());
    }

    #[test]
    fn camera_calib_reproduces_p2_projection() {
        let c = calib();
        let cam = c.camera_calib("P2").unwrap();
        assert_eq!((cam.model.width, cam.model.height), (1242, 375));
        let p2 = c.p[2].unwrap();
        for p in [
            Point3::new(10.0, 2.0, -1.0),
            Point3::new(40.0, -8.0, 0.5),
            Point3::new(6.0, 0.0, -1.7),
        ] {
            let h = p2 * c.rect_from_velo_matrix() * p.to_homogeneous();
            let want = [h.x / h.z, h.y / h.z];
            let got = cam.project_lidar_point(&p, 0.1).unwrap();
            // The orthonormalised rotation differs from R0_rect * Tr by ~1e-5.
            assert!(
                (got[0] - want[0]).abs() < 0.05 && (got[1] - want[1]).abs() < 0.05,
                "{got:?} {want:?}"
            );
        }
        assert_eq!(cam.frame_id, "camera_2_optical");
        assert!(c.camera_calib("image_2").is_ok() && c.camera_calib("3").is_ok());
        assert!(c.camera_calib("left").is_err());
    }

    #[test]
    fn tracking_spelling_without_colons_is_accepted() {
        let text = CALIB
            .replace("R0_rect:", "R_rect")
            .replace("Tr_velo_to_cam:", "Tr_velo_cam")
            .replace("Tr_imu_to_velo:", "Tr_imu_velo")
            .replace("P2:", "P2");
        let c = KittiCalib::parse(Path::new("0000.txt"), &text).unwrap();
        assert_eq!(
            c,
            KittiCalib {
                path: c.path.clone(),
                ..calib()
            }
        );
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let text = CALIB.replace("9.999406e-01", "nan");
        let msg = KittiCalib::parse(Path::new("c.txt"), &text)
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("c.txt:5: key `R0_rect`") && msg.contains("not finite"),
            "{msg}"
        );

        let text = CALIB.replace("R0_rect: 9.999128e-01 1.009263e-02", "R0_rect: 0 0");
        let text = text.replace("-1.012729e-02 9.999406e-01 -4.037671e-03", "0 0 0");
        let msg = KittiCalib::parse(Path::new("c.txt"), &text)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("R0_rect") && msg.contains("singular"), "{msg}");

        let text = CALIB.replace("Tr_velo_to_cam: 6.927964e-03 ", "Tr_velo_to_cam: ");
        let msg = KittiCalib::parse(Path::new("c.txt"), &text)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(":6: key `Tr_velo_to_cam`") && msg.contains("11"),
            "{msg}"
        );

        let text: String = CALIB
            .lines()
            .filter(|l| !l.starts_with("P2"))
            .map(|l| format!("{l}\n"))
            .collect();
        let msg = KittiCalib::parse(Path::new("c.txt"), &text)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("`P2`") && msg.contains("missing"), "{msg}");

        let text = CALIB.replace("P2: 7.070493e+02", "P2: 0");
        let msg = KittiCalib::parse(Path::new("c.txt"), &text)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(":3: key `P2`") && msg.contains("singular"),
            "{msg}"
        );
    }
}
