//! The simulated 2D detector: ground-truth boxes projected into each camera, degraded the way
//! an image detector degrades.
//!
//! Each object's eight corners are clipped at the near plane and projected; the box is clipped
//! to the image. Objects the lidar sees mostly occluded (first-hit rays over rays through the
//! box: the lidar sits beside the cameras on the roof, so its visibility is the camera's to a
//! few per cent) or smaller than the minimum height are dropped. The rest are missed with a
//! probability that grows with occlusion and smallness, get pixel noise on every edge, a score
//! that falls with occlusion, and a small rate of class confusion; Poisson false positives are
//! added per image.

use crate::spec::DetectorSpec;
use fusionrt_core::calib::clip_segment_to_near_plane;
use fusionrt_core::{BBox2, Box3, CameraCalib, Detection2D, ObjectClass};
use nalgebra::Point3;
use rand::Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};
use rand_pcg::Pcg64;

/// COCO class index of a perception class (the id a COCO-trained detector would report).
pub fn coco_id(class: ObjectClass) -> u16 {
    match class {
        ObjectClass::Pedestrian => 0,
        ObjectClass::Bicycle => 1,
        ObjectClass::Car => 2,
        ObjectClass::Motorcycle => 3,
        ObjectClass::Bus => 5,
        ObjectClass::Truck => 7,
        ObjectClass::Unknown => u16::MAX,
    }
}

/// Projects a lidar-frame box into a camera: the tight image box of its near-plane-clipped
/// corners, clipped to the image; `None` when nothing of it lies in front of the camera or
/// inside the image.
pub fn project_box(cam: &CameraCalib, bbox_lidar: &Box3, near_m: f64) -> Option<BBox2> {
    let corners = bbox_lidar.corners().map(|p| cam.camera_from_lidar * p);
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    let mut add = |p: &Point3<f64>| {
        if let Some(uv) = cam.model.project(p, near_m) {
            for k in 0..2 {
                lo[k] = lo[k].min(uv[k]);
                hi[k] = hi[k].max(uv[k]);
            }
        }
    };
    for (i, j) in Box3::EDGES {
        if let Some((p, q)) = clip_segment_to_near_plane(corners[i], corners[j], near_m) {
            add(&p);
            add(&q);
        }
    }
    if !lo[0].is_finite() {
        return None;
    }
    let (w, h) = (cam.model.width as f32, cam.model.height as f32);
    let b = BBox2::new(lo[0] as f32, lo[1] as f32, hi[0] as f32, hi[1] as f32).clamped(w, h);
    (b.width() >= 1.0 && b.height() >= 1.0).then_some(b)
}

/// An object the detector may report.
#[derive(Clone, Copy, Debug)]
pub struct DetectorInput {
    /// True class.
    pub class: ObjectClass,
    /// Box in the lidar frame at the camera's exposure time.
    pub bbox_lidar: Box3,
    /// Visible fraction in `[0, 1]`.
    pub visible_fraction: f64,
}

/// The simulated detector with its own random stream.
#[derive(Clone, Debug)]
pub struct Detector {
    spec: DetectorSpec,
    rng: Pcg64,
}

impl Detector {
    /// A detector (validated spec).
    pub fn new(spec: &DetectorSpec, rng: Pcg64) -> Self {
        Self {
            spec: spec.clone(),
            rng,
        }
    }

    fn normal(&mut self) -> f64 {
        self.rng.sample(StandardNormal)
    }

    /// Detects `objects` in one camera, replacing the contents of `out`.
    pub fn detect(
        &mut self,
        cam: &CameraCalib,
        objects: &[DetectorInput],
        out: &mut Vec<Detection2D>,
    ) {
        out.clear();
        let s = self.spec.clone();
        let (w, h) = (cam.model.width as f32, cam.model.height as f32);
        for obj in objects {
            let Some(b) = project_box(cam, &obj.bbox_lidar, s.near_plane_m) else {
                continue;
            };
            let vis = obj.visible_fraction.clamp(0.0, 1.0);
            let height = f64::from(b.height());
            // Draw every random number whatever the outcome, so one object's fate does not
            // shift the stream for the next.
            let u_miss: f64 = self.rng.random();
            let u_conf: f64 = self.rng.random();
            let noise = [self.normal(), self.normal(), self.normal(), self.normal()];
            let n_score = self.normal();
            if vis < s.min_visible_fraction || height < s.min_box_height_px {
                continue;
            }
            let small =
                ((2.0 * s.min_box_height_px - height) / s.min_box_height_px).clamp(0.0, 1.0);
            let p_miss =
                s.miss_prob + s.miss_prob_occluded * (1.0 - vis) + s.miss_prob_small * small;
            if u_miss < p_miss {
                continue;
            }
            let sx = s.position_noise_px + s.position_noise_rel * f64::from(b.width());
            let sy = s.position_noise_px + s.position_noise_rel * height;
            let x1 = f64::from(b.x1) + sx * noise[0];
            let y1 = f64::from(b.y1) + sy * noise[1];
            let x2 = f64::from(b.x2) + sx * noise[2];
            let y2 = f64::from(b.y2) + sy * noise[3];
            let bbox = BBox2::new(
                x1.min(x2) as f32,
                y1.min(y2) as f32,
                x1.max(x2) as f32,
                y1.max(y2) as f32,
            )
            .clamped(w, h);
            if bbox.width() < 1.0 || bbox.height() < 1.0 {
                continue;
            }
            let class = if u_conf < s.class_confusion_prob {
                match obj.class {
                    ObjectClass::Car => ObjectClass::Truck,
                    ObjectClass::Truck | ObjectClass::Bus => ObjectClass::Car,
                    ObjectClass::Bicycle => ObjectClass::Pedestrian,
                    other => other,
                }
            } else {
                obj.class
            };
            let score = (s.tp_score[0] + s.tp_score[1] * n_score - 0.3 * (1.0 - vis) - 0.1 * small)
                .clamp(0.05, 0.99);
            out.push(Detection2D {
                bbox,
                class,
                source_class_id: coco_id(class),
                score: score as f32,
            });
        }
        self.false_positives(w, h, out);
    }

    fn false_positives(&mut self, w: f32, h: f32, out: &mut Vec<Detection2D>) {
        let lambda = self.spec.false_positives_per_image;
        let n = match Poisson::new(lambda) {
            Ok(p) if lambda > 0.0 => p.sample(&mut self.rng) as u32,
            _ => 0,
        };
        for _ in 0..n {
            let pedestrian = self.rng.random_bool(0.4);
            let (class, aspect) = if pedestrian {
                (ObjectClass::Pedestrian, 0.4)
            } else {
                (ObjectClass::Car, 1.6)
            };
            let bh = self
                .rng
                .random_range(self.spec.min_box_height_px..4.0 * self.spec.min_box_height_px + 80.0)
                as f32;
            let bw = bh * aspect as f32;
            let cx = self.rng.random_range(0.0..f64::from(w)) as f32;
            // False positives sit around the horizon and below, where clutter is.
            let cy = self
                .rng
                .random_range(0.4 * f64::from(h)..0.8 * f64::from(h)) as f32;
            let bbox = BBox2::new(cx - 0.5 * bw, cy - 0.5 * bh, cx + 0.5 * bw, cy + 0.5 * bh)
                .clamped(w, h);
            let score =
                (self.spec.fp_score[0] + self.spec.fp_score[1] * self.normal()).clamp(0.05, 0.95);
            if bbox.width() >= 1.0 && bbox.height() >= 1.0 {
                out.push(Detection2D {
                    bbox,
                    class,
                    source_class_id: coco_id(class),
                    score: score as f32,
                });
            }
        }
    }
}
