//! Camera models and extrinsics.
//!
//! A camera is a pinhole model (intrinsics `K`, optional lens distortion) in its optical frame
//! (z forward, x right, y down, as ROS optical frames), plus the rigid transform
//! `camera_from_lidar` that takes lidar-frame points into that optical frame.

use crate::image::CameraInfo;
use nalgebra::{Isometry3, Matrix3, Point3, Quaternion, Translation3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a calibration is unusable. Messages name the camera and the offending field.
#[derive(Debug, Error, PartialEq)]
pub enum CalibError {
    /// A matrix or coefficient holds NaN or infinity.
    #[error("camera `{camera}`: {field} is not finite")]
    NonFinite {
        /// Camera name.
        camera: String,
        /// The field, e.g. `K`, `D`, `camera_from_lidar`.
        field: &'static str,
    },
    /// Intrinsics that cannot project: non-positive focal length, singular K, zero size.
    #[error("camera `{camera}`: {field} is singular or degenerate ({detail})")]
    Singular {
        /// Camera name.
        camera: String,
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A rotation matrix that is not orthonormal, or a quaternion far from unit length.
    #[error("camera `{camera}`: {field} is not a rotation ({detail})")]
    NotARotation {
        /// Camera name.
        camera: String,
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A distortion model fusionrt does not implement, or the wrong number of coefficients.
    #[error(
        "camera `{camera}`: distortion model `{model}` with {count} coefficients is not supported (plumb_bob: 5, equidistant: 4, or none)"
    )]
    UnsupportedDistortion {
        /// Camera name.
        camera: String,
        /// The model string.
        model: String,
        /// Number of coefficients given.
        count: usize,
    },
}

/// Which images a `CameraInfo` is used with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageKind {
    /// Raw (distorted) images: project with `K` and `D`.
    Raw,
    /// Rectified images: rotate by `R`, project with `P` (no distortion).
    Rectified,
}

/// A rigid transform as written in YAML extrinsics files: `target_from_source`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RigidTransform {
    /// Translation `[x, y, z]`, m.
    pub translation_m: [f64; 3],
    /// Rotation as a quaternion `[x, y, z, w]` (the `geometry_msgs/Quaternion` order).
    pub rotation_xyzw: [f64; 4],
}

impl RigidTransform {
    /// The isometry, after checking that all values are finite and the quaternion is unit
    /// length within 1e-3 (it is then renormalized). `camera` names the owner in errors.
    pub fn to_isometry(&self, camera: &str) -> Result<Isometry3<f64>, CalibError> {
        let field = "extrinsics";
        if !self
            .translation_m
            .iter()
            .chain(self.rotation_xyzw.iter())
            .all(|v| v.is_finite())
        {
            return Err(CalibError::NonFinite {
                camera: camera.to_string(),
                field,
            });
        }
        let [x, y, z, w] = self.rotation_xyzw;
        let q = Quaternion::new(w, x, y, z);
        let norm = q.norm();
        if (norm - 1.0).abs() > 1e-3 {
            return Err(CalibError::NotARotation {
                camera: camera.to_string(),
                field,
                detail: format!("quaternion norm {norm:.6}, expected 1"),
            });
        }
        let [tx, ty, tz] = self.translation_m;
        Ok(Isometry3::from_parts(
            Translation3::new(tx, ty, tz),
            UnitQuaternion::from_quaternion(q),
        ))
    }
}

/// Checks that a row-major 3x3 matrix is a rotation (orthonormal, determinant +1) within 1e-3.
fn rotation_from_rows(
    camera: &str,
    field: &'static str,
    m: &Matrix3<f64>,
) -> Result<UnitQuaternion<f64>, CalibError> {
    if !m.iter().all(|v| v.is_finite()) {
        return Err(CalibError::NonFinite {
            camera: camera.to_string(),
            field,
        });
    }
    let ortho_err = (m.transpose() * m - Matrix3::identity()).abs().max();
    let det = m.determinant();
    if ortho_err > 1e-3 || (det - 1.0).abs() > 1e-3 {
        return Err(CalibError::NotARotation {
            camera: camera.to_string(),
            field,
            detail: format!("|R^T R - I| = {ortho_err:.2e}, det = {det:.6}"),
        });
    }
    Ok(UnitQuaternion::from_matrix(m))
}

/// Lens distortion of a camera.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "model")]
pub enum Distortion {
    /// Rectified or ideal images.
    #[default]
    None,
    /// Brown-Conrady (`plumb_bob`): k1, k2, p1, p2, k3.
    PlumbBob {
        /// Coefficients k1, k2, p1, p2, k3.
        coeffs: [f64; 5],
    },
    /// Fisheye (`equidistant`): k1..k4.
    Equidistant {
        /// Coefficients k1, k2, k3, k4.
        coeffs: [f64; 4],
    },
}

/// A pinhole camera model with optional distortion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CameraModel {
    /// Image width, px.
    pub width: u32,
    /// Image height, px.
    pub height: u32,
    /// Intrinsic matrix `[fx 0 cx; 0 fy cy; 0 0 1]`.
    pub k: Matrix3<f64>,
    /// Lens distortion.
    pub distortion: Distortion,
}

impl CameraModel {
    /// An undistorted pinhole camera.
    pub fn pinhole(width: u32, height: u32, fx: f64, fy: f64, cx: f64, cy: f64) -> Self {
        Self {
            width,
            height,
            k: Matrix3::new(fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0),
            distortion: Distortion::None,
        }
    }

    /// Projects a point in the optical frame to pixels; `None` when it is closer than
    /// `near_m` in front of the camera (or behind it).
    pub fn project(&self, p_camera: &Point3<f64>, near_m: f64) -> Option<[f64; 2]> {
        if p_camera.z < near_m {
            return None;
        }
        let (xd, yd) = self.distort(p_camera.x / p_camera.z, p_camera.y / p_camera.z);
        Some(self.pixel_from_distorted(xd, yd))
    }

    /// Applies the lens distortion to normalized image coordinates `(x/z, y/z)`.
    pub fn distort(&self, xn: f64, yn: f64) -> (f64, f64) {
        match self.distortion {
            Distortion::None => (xn, yn),
            Distortion::PlumbBob {
                coeffs: [k1, k2, p1, p2, k3],
            } => {
                let r2 = xn * xn + yn * yn;
                let radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3));
                (
                    xn * radial + 2.0 * p1 * xn * yn + p2 * (r2 + 2.0 * xn * xn),
                    yn * radial + p1 * (r2 + 2.0 * yn * yn) + 2.0 * p2 * xn * yn,
                )
            }
            Distortion::Equidistant {
                coeffs: [k1, k2, k3, k4],
            } => {
                let r = (xn * xn + yn * yn).sqrt();
                if r < 1e-12 {
                    (xn, yn)
                } else {
                    let theta = r.atan();
                    let t2 = theta * theta;
                    let theta_d = theta * (1.0 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))));
                    (xn * theta_d / r, yn * theta_d / r)
                }
            }
        }
    }

    /// Pixels from distorted normalized coordinates (applies `K`, skew included).
    pub fn pixel_from_distorted(&self, xd: f64, yd: f64) -> [f64; 2] {
        let k = &self.k;
        [
            k[(0, 0)] * xd + k[(0, 1)] * yd + k[(0, 2)],
            k[(1, 1)] * yd + k[(1, 2)],
        ]
    }

    /// The largest normalized radius `r = |(x/z, y/z)|` up to which the radial distortion is
    /// monotonic (`f64::INFINITY` without distortion). Beyond it a polynomial lens model folds
    /// back and would put far off-axis points inside the image; callers clamp rays to it.
    pub fn max_monotonic_radius(&self) -> f64 {
        if matches!(self.distortion, Distortion::None) {
            return f64::INFINITY;
        }
        // Distorted radius along the +x ray, sampled on a geometric grid up to r = 1000
        // (89.94 degrees off axis).
        let mut prev = 0.0;
        let mut r = 1e-3;
        while r < 1e3 {
            let (xd, _) = self.distort(r, 0.0);
            if !xd.is_finite() || xd <= prev {
                return r / 1.02;
            }
            prev = xd;
            r *= 1.02;
        }
        f64::INFINITY
    }

    /// Checks that the model can project: finite values, positive focal lengths and image
    /// size, a non-singular `K`. `camera` names the owner in errors.
    pub fn validate(&self, camera: &str) -> Result<(), CalibError> {
        if !self.k.iter().all(|v| v.is_finite()) {
            return Err(CalibError::NonFinite {
                camera: camera.to_string(),
                field: "K",
            });
        }
        let coeffs_finite = match &self.distortion {
            Distortion::None => true,
            Distortion::PlumbBob { coeffs } => coeffs.iter().all(|v| v.is_finite()),
            Distortion::Equidistant { coeffs } => coeffs.iter().all(|v| v.is_finite()),
        };
        if !coeffs_finite {
            return Err(CalibError::NonFinite {
                camera: camera.to_string(),
                field: "D",
            });
        }
        let singular = |detail: String| CalibError::Singular {
            camera: camera.to_string(),
            field: "K",
            detail,
        };
        if self.width == 0 || self.height == 0 {
            return Err(singular(format!(
                "image size {} x {}",
                self.width, self.height
            )));
        }
        let (fx, fy) = (self.k[(0, 0)], self.k[(1, 1)]);
        if fx <= 0.0 || fy <= 0.0 {
            return Err(singular(format!("fx = {fx}, fy = {fy}")));
        }
        let bottom = [
            self.k[(1, 0)],
            self.k[(2, 0)],
            self.k[(2, 1)],
            self.k[(2, 2)],
        ];
        if bottom != [0.0, 0.0, 0.0, 1.0] {
            return Err(singular(format!(
                "expected [fx s cx; 0 fy cy; 0 0 1], got bottom entries {bottom:?}"
            )));
        }
        Ok(())
    }

    /// True when the pixel lies inside the image.
    pub fn contains(&self, uv: [f64; 2]) -> bool {
        uv[0] >= 0.0 && uv[1] >= 0.0 && uv[0] < self.width as f64 && uv[1] < self.height as f64
    }
}

/// The part of the segment `p`-`q` (optical frame) at depth `z >= near_m`: ends behind the near
/// plane are moved onto it. `None` when the whole segment is nearer than `near_m`.
pub fn clip_segment_to_near_plane(
    p: Point3<f64>,
    q: Point3<f64>,
    near_m: f64,
) -> Option<(Point3<f64>, Point3<f64>)> {
    match (p.z >= near_m, q.z >= near_m) {
        (true, true) => Some((p, q)),
        (false, false) => None,
        (p_in_front, _) => {
            let t = (near_m - p.z) / (q.z - p.z);
            let mut cut = p + (q - p) * t;
            cut.z = near_m;
            Some(if p_in_front { (p, cut) } else { (cut, q) })
        }
    }
}

/// One calibrated camera: its model and where it sits relative to the lidar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CameraCalib {
    /// Camera name, e.g. `front` (used in config, diagnostics and sensor support flags).
    pub name: String,
    /// The optical frame, e.g. `camera_front_optical`.
    pub frame_id: String,
    /// Intrinsics and distortion.
    pub model: CameraModel,
    /// Transform from the lidar frame into this camera's optical frame.
    pub camera_from_lidar: Isometry3<f64>,
}

impl CameraCalib {
    /// Builds a calibration from a `sensor_msgs/CameraInfo` and the lidar-to-camera extrinsics
    /// (from TF or a YAML file), validating both.
    ///
    /// With [`ImageKind::Raw`], `K` and `D` (`plumb_bob` with 5 coefficients, `equidistant`
    /// with 4, or none/empty with all-zero `D`) are used. With [`ImageKind::Rectified`], points
    /// are rotated by `R` and projected with `P` (its fourth column, the stereo baseline term,
    /// becomes a translation), without distortion.
    pub fn from_camera_info(
        name: &str,
        info: &CameraInfo,
        camera_from_lidar: Isometry3<f64>,
        kind: ImageKind,
    ) -> Result<Self, CalibError> {
        let camera_from_lidar = match kind {
            ImageKind::Raw => camera_from_lidar,
            ImageKind::Rectified => {
                let r = Matrix3::from_row_slice(&info.r);
                // An all-zero R (monocular drivers often leave it unset) means identity.
                let rect_from_camera = if r.iter().all(|v| *v == 0.0) {
                    UnitQuaternion::identity()
                } else {
                    rotation_from_rows(name, "R", &r)?
                };
                let p = &info.p;
                if !p.iter().all(|v| v.is_finite()) {
                    return Err(CalibError::NonFinite {
                        camera: name.to_string(),
                        field: "P",
                    });
                }
                let (fx, fy) = (p[0], p[5]);
                if fx <= 0.0 || fy <= 0.0 {
                    return Err(CalibError::Singular {
                        camera: name.to_string(),
                        field: "P",
                        detail: format!("fx = {fx}, fy = {fy}"),
                    });
                }
                // P = K' [I | t]: t = K'^-1 * P[:, 3] (K' upper triangular).
                let tz = p[11];
                let ty = (p[7] - p[6] * tz) / fy;
                let tx = (p[3] - p[1] * ty - p[2] * tz) / fx;
                Isometry3::from_parts(
                    Translation3::from(Vector3::new(tx, ty, tz)),
                    rect_from_camera,
                ) * camera_from_lidar
            }
        };
        let (k, distortion) = match kind {
            ImageKind::Raw => {
                let d = &info.d;
                let distortion = match (info.distortion_model.as_str(), d.len()) {
                    ("plumb_bob", 5) => Distortion::PlumbBob {
                        coeffs: [d[0], d[1], d[2], d[3], d[4]],
                    },
                    ("equidistant", 4) => Distortion::Equidistant {
                        coeffs: [d[0], d[1], d[2], d[3]],
                    },
                    ("" | "plumb_bob" | "none", _) if d.iter().all(|v| *v == 0.0) => {
                        Distortion::None
                    }
                    (model, count) => {
                        return Err(CalibError::UnsupportedDistortion {
                            camera: name.to_string(),
                            model: model.to_string(),
                            count,
                        });
                    }
                };
                (Matrix3::from_row_slice(&info.k), distortion)
            }
            ImageKind::Rectified => {
                let p = &info.p;
                (
                    Matrix3::new(p[0], p[1], p[2], p[4], p[5], p[6], p[8], p[9], p[10]),
                    Distortion::None,
                )
            }
        };
        let calib = Self {
            name: name.to_string(),
            frame_id: info.frame_id.clone(),
            model: CameraModel {
                width: info.width,
                height: info.height,
                k,
                distortion,
            },
            camera_from_lidar,
        };
        calib.validate()?;
        Ok(calib)
    }

    /// Checks intrinsics ([`CameraModel::validate`]) and that the extrinsics are finite.
    pub fn validate(&self) -> Result<(), CalibError> {
        self.model.validate(&self.name)?;
        let t = &self.camera_from_lidar.translation.vector;
        let q = self.camera_from_lidar.rotation.quaternion();
        if !t.iter().chain(q.coords.iter()).all(|v| v.is_finite()) {
            return Err(CalibError::NonFinite {
                camera: self.name.clone(),
                field: "camera_from_lidar",
            });
        }
        if (q.norm() - 1.0).abs() > 1e-6 {
            return Err(CalibError::NotARotation {
                camera: self.name.clone(),
                field: "camera_from_lidar",
                detail: format!("quaternion norm {:.6}", q.norm()),
            });
        }
        Ok(())
    }

    /// Projects a lidar-frame point into this camera's pixels (`None` behind the near plane).
    pub fn project_lidar_point(&self, p_lidar: &Point3<f64>, near_m: f64) -> Option<[f64; 2]> {
        self.model
            .project(&(self.camera_from_lidar * p_lidar), near_m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Translation3, UnitQuaternion, Vector3};

    #[test]
    fn segments_are_cut_at_the_near_plane() {
        let (p, q) = (Point3::new(0.0, 0.0, -1.0), Point3::new(2.0, 0.0, 3.0));
        let (a, b) = clip_segment_to_near_plane(p, q, 1.0).unwrap();
        assert!((a - Point3::new(1.0, 0.0, 1.0)).norm() < 1e-12 && b == q);
        let (a, b) = clip_segment_to_near_plane(q, p, 1.0).unwrap();
        assert!(a == q && (b - Point3::new(1.0, 0.0, 1.0)).norm() < 1e-12);
        assert!(clip_segment_to_near_plane(p, Point3::new(0.0, 0.0, 0.5), 1.0).is_none());
    }

    #[test]
    fn pinhole_projects_the_principal_ray_to_the_principal_point() {
        let m = CameraModel::pinhole(640, 480, 500.0, 500.0, 320.0, 240.0);
        let uv = m.project(&Point3::new(0.0, 0.0, 10.0), 0.1).unwrap();
        assert_eq!(uv, [320.0, 240.0]);
        let uv = m.project(&Point3::new(1.0, -0.5, 10.0), 0.1).unwrap();
        assert_eq!(uv, [370.0, 215.0]);
        assert!(m.project(&Point3::new(0.0, 0.0, -1.0), 0.1).is_none());
    }

    #[test]
    fn forward_lidar_point_lands_in_front_camera_center() {
        // Optical frame: z forward (= lidar x), x right (= -lidar y), y down (= -lidar z).
        let rot = UnitQuaternion::from_matrix(&Matrix3::new(
            0.0, -1.0, 0.0, 0.0, 0.0, -1.0, 1.0, 0.0, 0.0,
        ));
        let cam = CameraCalib {
            name: "front".into(),
            frame_id: "cam".into(),
            model: CameraModel::pinhole(640, 480, 500.0, 500.0, 320.0, 240.0),
            camera_from_lidar: Isometry3::from_parts(Translation3::identity(), rot),
        };
        let uv = cam
            .project_lidar_point(&Point3::new(20.0, 0.0, 0.0), 0.1)
            .unwrap();
        assert!((uv[0] - 320.0).abs() < 1e-9 && (uv[1] - 240.0).abs() < 1e-9);
        // A point to the left (+y) lands left in the image (smaller u), above (+z) smaller v.
        let uv = cam
            .project_lidar_point(&Point3::new(20.0, 2.0, 1.0), 0.1)
            .unwrap();
        assert!(uv[0] < 320.0 && uv[1] < 240.0);
        let _ = Vector3::<f64>::zeros();
    }

    fn info(model: &str, d: Vec<f64>) -> CameraInfo {
        CameraInfo {
            stamp_ns: 0,
            frame_id: "cam_optical".into(),
            width: 640,
            height: 480,
            distortion_model: model.into(),
            d,
            k: [500.0, 0.0, 320.0, 0.0, 510.0, 240.0, 0.0, 0.0, 1.0],
            r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            p: [
                400.0, 0.0, 300.0, -40.0, 0.0, 400.0, 200.0, 0.0, 0.0, 0.0, 1.0, 0.0,
            ],
        }
    }

    #[test]
    fn camera_info_raw_takes_k_and_d() {
        let c = CameraCalib::from_camera_info(
            "front",
            &info("plumb_bob", vec![-0.3, 0.1, 0.001, 0.0, 0.0]),
            Isometry3::identity(),
            ImageKind::Raw,
        )
        .unwrap();
        assert_eq!(c.model.k[(1, 1)], 510.0);
        assert!(matches!(c.model.distortion, Distortion::PlumbBob { .. }));
        let c = CameraCalib::from_camera_info(
            "fish",
            &info("equidistant", vec![0.1, 0.0, 0.0, 0.0]),
            Isometry3::identity(),
            ImageKind::Raw,
        )
        .unwrap();
        assert!(matches!(c.model.distortion, Distortion::Equidistant { .. }));
    }

    #[test]
    fn camera_info_rectified_reproduces_p_times_r() {
        let mut ci = info("plumb_bob", vec![-0.3, 0.1, 0.0, 0.0, 0.0]);
        let a = 0.1f64;
        ci.r = [a.cos(), 0.0, a.sin(), 0.0, 1.0, 0.0, -a.sin(), 0.0, a.cos()];
        let c = CameraCalib::from_camera_info(
            "right",
            &ci,
            Isometry3::identity(),
            ImageKind::Rectified,
        )
        .unwrap();
        let x = Vector3::new(0.7, -0.4, 9.0);
        let r = Matrix3::from_row_slice(&ci.r);
        let p = nalgebra::Matrix3x4::from_row_slice(&ci.p);
        let h = p * (r * x).push(1.0);
        let want = [h.x / h.z, h.y / h.z];
        let got = c.project_lidar_point(&Point3::from(x), 0.1).unwrap();
        assert!(
            (got[0] - want[0]).abs() < 1e-9 && (got[1] - want[1]).abs() < 1e-9,
            "{got:?} {want:?}"
        );
    }

    #[test]
    fn bad_calibrations_are_named() {
        let mut ci = info("plumb_bob", vec![0.0; 5]);
        ci.k[0] = f64::NAN;
        let err = CameraCalib::from_camera_info("left", &ci, Isometry3::identity(), ImageKind::Raw)
            .unwrap_err();
        assert_eq!(err.to_string(), "camera `left`: K is not finite");
        let mut ci = info("plumb_bob", vec![0.0; 5]);
        ci.k[4] = 0.0;
        assert!(matches!(
            CameraCalib::from_camera_info("left", &ci, Isometry3::identity(), ImageKind::Raw),
            Err(CalibError::Singular { .. })
        ));
        let ci = info("rational_polynomial", vec![0.1; 8]);
        assert!(matches!(
            CameraCalib::from_camera_info("left", &ci, Isometry3::identity(), ImageKind::Raw),
            Err(CalibError::UnsupportedDistortion { count: 8, .. })
        ));
        let mut ci = info("", vec![]);
        ci.r = [2.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        assert!(matches!(
            CameraCalib::from_camera_info("left", &ci, Isometry3::identity(), ImageKind::Rectified),
            Err(CalibError::NotARotation { field: "R", .. })
        ));
        let t = RigidTransform {
            translation_m: [0.0, f64::INFINITY, 0.0],
            rotation_xyzw: [0.0, 0.0, 0.0, 1.0],
        };
        assert!(matches!(
            t.to_isometry("x"),
            Err(CalibError::NonFinite { .. })
        ));
        let t = RigidTransform {
            translation_m: [0.0; 3],
            rotation_xyzw: [0.0, 0.0, 0.0, 0.5],
        };
        assert!(matches!(
            t.to_isometry("x"),
            Err(CalibError::NotARotation { .. })
        ));
    }

    #[test]
    fn monotonic_radius_bounds_a_folding_lens() {
        let mut m = CameraModel::pinhole(640, 480, 500.0, 500.0, 320.0, 240.0);
        assert_eq!(m.max_monotonic_radius(), f64::INFINITY);
        // r (1 - 0.3 r^2) peaks at r = 1/sqrt(0.9).
        m.distortion = Distortion::PlumbBob {
            coeffs: [-0.3, 0.0, 0.0, 0.0, 0.0],
        };
        let r = m.max_monotonic_radius();
        assert!((r - 1.0 / 0.9f64.sqrt()).abs() < 0.03, "{r}");
    }
}
