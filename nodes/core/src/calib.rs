//! Camera models and extrinsics.
//!
//! A camera is a pinhole model (intrinsics `K`, optional lens distortion) in its optical frame
//! (z forward, x right, y down, as ROS optical frames), plus the rigid transform
//! `camera_from_lidar` that takes lidar-frame points into that optical frame.

use nalgebra::{Isometry3, Matrix3, Point3};
use serde::{Deserialize, Serialize};

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
        let xn = p_camera.x / p_camera.z;
        let yn = p_camera.y / p_camera.z;
        let (xd, yd) = match self.distortion {
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
        };
        let k = &self.k;
        Some([
            k[(0, 0)] * xd + k[(0, 1)] * yd + k[(0, 2)],
            k[(1, 1)] * yd + k[(1, 2)],
        ])
    }

    /// True when the pixel lies inside the image.
    pub fn contains(&self, uv: [f64; 2]) -> bool {
        uv[0] >= 0.0 && uv[1] >= 0.0 && uv[0] < self.width as f64 && uv[1] < self.height as f64
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
}
