//! Lidar boxes into camera images: the image ROI of an oriented 3D box.
//!
//! The eight corners go into the camera's optical frame; the box is clipped at a near plane in
//! front of the camera (each of the 12 edges that crosses it is cut there), so boxes that reach
//! behind the camera still give a sensible ROI; the remaining points are projected and their
//! bounding box is clipped to the image. Rays further off-axis than the lens model's monotonic
//! range are pulled back onto it, so a polynomial distortion cannot fold them into the image.

use fusionrt_core::calib::clip_segment_to_near_plane;
use fusionrt_core::{BBox2, Box3, CameraCalib};
use nalgebra::Point3;

/// A camera prepared for projecting many boxes: its calibration and lens limit.
#[derive(Clone, Copy, Debug)]
pub struct Projector<'a> {
    calib: &'a CameraCalib,
    near_m: f64,
    max_radius: f64,
}

impl<'a> Projector<'a> {
    /// Prepares `calib` (which should have passed [`CameraCalib::validate`]) with a near plane.
    pub fn new(calib: &'a CameraCalib, near_m: f64) -> Self {
        Self {
            calib,
            near_m,
            max_radius: calib.model.max_monotonic_radius(),
        }
    }

    /// Pixel of a point in the optical frame with `z >= near_m`.
    fn pixel(&self, p: &Point3<f64>) -> [f64; 2] {
        let mut xn = p.x / p.z;
        let mut yn = p.y / p.z;
        let r = (xn * xn + yn * yn).sqrt();
        if r > self.max_radius {
            let s = self.max_radius / r;
            xn *= s;
            yn *= s;
        }
        let (xd, yd) = self.calib.model.distort(xn, yn);
        self.calib.model.pixel_from_distorted(xd, yd)
    }

    /// The image ROI of a lidar-frame box, clipped to the image; `None` when no part of it is
    /// in front of the near plane and inside the image.
    pub fn box_roi(&self, bbox: &Box3) -> Option<BBox2> {
        let corners = bbox.corners().map(|c| self.calib.camera_from_lidar * c);
        let mut lo = [f64::INFINITY; 2];
        let mut hi = [f64::NEG_INFINITY; 2];
        let mut add = |uv: [f64; 2]| {
            for k in 0..2 {
                lo[k] = lo[k].min(uv[k]);
                hi[k] = hi[k].max(uv[k]);
            }
        };
        for (a, b) in Box3::EDGES {
            if let Some((p, q)) = clip_segment_to_near_plane(corners[a], corners[b], self.near_m) {
                add(self.pixel(&p));
                add(self.pixel(&q));
            }
        }
        if !(lo[0].is_finite() && lo[1].is_finite() && hi[0].is_finite() && hi[1].is_finite()) {
            return None;
        }
        let w = self.calib.model.width as f32;
        let h = self.calib.model.height as f32;
        let roi = BBox2::new(lo[0] as f32, lo[1] as f32, hi[0] as f32, hi[1] as f32).clamped(w, h);
        (roi.x2 > roi.x1 && roi.y2 > roi.y1).then_some(roi)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use fusionrt_core::CameraModel;
    use fusionrt_core::Distortion;
    use nalgebra::{Isometry3, Matrix3, Translation3, UnitQuaternion, Vector3};

    /// A front camera at the lidar origin: optical z = lidar x.
    pub fn front_camera() -> CameraCalib {
        let rot = UnitQuaternion::from_matrix(&Matrix3::new(
            0.0, -1.0, 0.0, 0.0, 0.0, -1.0, 1.0, 0.0, 0.0,
        ));
        CameraCalib {
            name: "front".into(),
            frame_id: "cam".into(),
            model: CameraModel::pinhole(1000, 500, 500.0, 500.0, 500.0, 250.0),
            camera_from_lidar: Isometry3::from_parts(Translation3::identity(), rot),
        }
    }

    #[test]
    fn box_ahead_projects_around_its_corners() {
        let cam = front_camera();
        let p = Projector::new(&cam, 0.3);
        let b = Box3::new(
            Vector3::new(10.0, 0.0, 0.0),
            Vector3::new(2.0, 2.0, 2.0),
            0.0,
        );
        let roi = p.box_roi(&b).unwrap();
        // Nearest face at x = 9: +-1 m -> +-55.6 px about the principal point.
        assert!((roi.x1 - (500.0 - 500.0 / 9.0)).abs() < 1e-3, "{roi:?}");
        assert!((roi.y2 - (250.0 + 500.0 / 9.0)).abs() < 1e-3, "{roi:?}");
        // Behind the camera: nothing.
        let behind = Box3::new(
            Vector3::new(-10.0, 0.0, 0.0),
            Vector3::new(2.0, 2.0, 2.0),
            0.0,
        );
        assert!(p.box_roi(&behind).is_none());
        // Far off to the side: outside the image.
        let side = Box3::new(
            Vector3::new(5.0, 40.0, 0.0),
            Vector3::new(2.0, 2.0, 2.0),
            0.0,
        );
        assert!(p.box_roi(&side).is_none());
    }

    #[test]
    fn box_straddling_the_camera_is_clipped_at_the_near_plane() {
        let cam = front_camera();
        let p = Projector::new(&cam, 0.5);
        // A long box from x = -5 to x = 5 to the right of the camera: the clipped part spans
        // from the near plane to x = 5, so it reaches the right image edge.
        let b = Box3::new(
            Vector3::new(0.0, -2.0, 0.0),
            Vector3::new(10.0, 1.0, 1.0),
            0.0,
        );
        let roi = p.box_roi(&b).unwrap();
        assert_eq!(roi.x2, 1000.0);
        // Its left edge is the far end: y = -1.5 at x = 5 -> u = 500 + 500 * 1.5 / 5 = 650.
        assert!((roi.x1 - 650.0).abs() < 1e-3, "{roi:?}");
    }

    #[test]
    fn folding_lens_cannot_pull_off_axis_points_into_the_image() {
        let mut cam = front_camera();
        cam.model.distortion = Distortion::PlumbBob {
            coeffs: [-0.1, 0.0, 0.0, 0.0, 0.0],
        };
        let p = Projector::new(&cam, 0.3);
        // Far off axis to the right (normalized radius 3.3, 73 degrees): the raw polynomial
        // folds it back into the left half of the image; clamped, it stays outside.
        let raw = cam
            .project_lidar_point(&Point3::new(1.0, -3.3, 0.0), 0.3)
            .unwrap();
        assert!(cam.model.contains(raw) && raw[0] < 500.0, "{raw:?}");
        let b = Box3::new(
            Vector3::new(1.0, -3.3, 0.0),
            Vector3::new(0.02, 0.02, 0.02),
            0.0,
        );
        assert!(p.box_roi(&b).is_none());
    }
}
