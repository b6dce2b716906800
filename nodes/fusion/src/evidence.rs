//! The evidence a detection needs before it lends its class to a cluster: depth consistency,
//! no nearer occluder that explains it, and a cluster that is more than background.
//!
//! The rules and their keys are documented on [`EvidenceConfig`]; [`check`] applies them to
//! one gated cluster-detection pair, given every cluster's image ROI and depth in the camera.

use crate::config::EvidenceConfig;
use fusionrt_core::{BBox2, CameraCalib, ObjectClass, Obstacle3D};
use nalgebra::Point3;

/// Why a pair was refused as a primary match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// The box's size at the cluster's depth does not fit the class or the cluster.
    Depth,
    /// A nearer cluster covers the box and explains it.
    Occluded,
    /// The cluster covers too little of the box or holds too few points for it.
    Background,
}

/// What the rules need of a camera: focal lengths and image size, px.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View {
    fx: f64,
    fy: f64,
    width: f32,
    height: f32,
}

impl View {
    pub(crate) fn new(calib: &CameraCalib) -> Self {
        Self {
            fx: calib.model.k[(0, 0)],
            fy: calib.model.k[(1, 1)],
            width: calib.model.width as f32,
            height: calib.model.height as f32,
        }
    }
}

/// How far a cluster's box lies along a camera's optical axis, m.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Depth {
    /// Nearest corner.
    pub near_m: f64,
    /// Centre.
    pub center_m: f64,
    /// Farthest corner.
    pub far_m: f64,
}

impl Depth {
    /// The depths of a lidar-frame box in `calib`'s camera.
    pub(crate) fn of(calib: &CameraCalib, obstacle: &Obstacle3D) -> Self {
        let b = &obstacle.bbox;
        let (near_m, far_m) = b
            .corners()
            .iter()
            .map(|c| (calib.camera_from_lidar * c).z)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), z| {
                (lo.min(z), hi.max(z))
            });
        Self {
            near_m,
            center_m: (calib.camera_from_lidar * Point3::from(b.center)).z,
            far_m,
        }
    }
}

/// Every cluster as one camera sees it (indexed alike).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clusters<'a> {
    pub obstacles: &'a [Obstacle3D],
    /// Image ROI, `None` when not in view.
    pub rois: &'a [Option<BBox2>],
    pub depths: &'a [Depth],
}

/// Rule 1: `det` of `class` fits an object somewhere between the depths of `depth` (and a
/// cluster `cluster_height_m` tall, when given). Depths are clamped to `near_m`. A `truncated`
/// box (cut by the image border) is only checked for being too large.
#[allow(clippy::too_many_arguments)]
fn depth_consistent(
    cfg: &EvidenceConfig,
    view: &View,
    det: &BBox2,
    class: ObjectClass,
    depth: &Depth,
    near_m: f64,
    truncated: bool,
    cluster_height_m: Option<f64>,
) -> bool {
    let Some((height_m, max_width_m)) = cfg.class_size_m(class) else {
        return true;
    };
    let r = cfg.max_size_ratio;
    // Smallest size the box can have: at the box's nearest depth; largest: at its farthest.
    let z_near = depth.near_m.max(near_m);
    let z_far = depth.far_m.max(near_m);
    let (h_px, w_px) = (f64::from(det.height()), f64::from(det.width()));
    if h_px * z_near / view.fy > r * height_m || w_px * z_near / view.fx > r * max_width_m {
        return false;
    }
    if truncated {
        return true;
    }
    let tallest_m = h_px * z_far / view.fy;
    tallest_m * r >= height_m && cluster_height_m.is_none_or(|h| h <= r * tallest_m)
}

/// Whether `b` reaches within `margin` px of the image border.
fn at_border(b: &BBox2, view: &View, margin: f32) -> bool {
    b.x1 <= margin || b.y1 <= margin || b.x2 >= view.width - margin || b.y2 >= view.height - margin
}

/// Applies the three rules to the pair (cluster `k`, detection box `det` of `class`);
/// `merge_radius_m` is the class's fragment radius (a nearer cluster that close may be part of
/// the same object, not an occluder).
#[allow(clippy::too_many_arguments)]
pub(crate) fn check(
    cfg: &EvidenceConfig,
    view: &View,
    near_m: f64,
    det: &BBox2,
    class: ObjectClass,
    merge_radius_m: f64,
    k: usize,
    clusters: &Clusters<'_>,
) -> Result<(), Rejection> {
    let Some(roi) = clusters.rois[k] else {
        return Err(Rejection::Background);
    };
    let depth = &clusters.depths[k];
    let cluster = &clusters.obstacles[k];
    let margin = cfg.truncation_margin_px;
    let truncated = at_border(det, view, margin) || at_border(&roi, view, margin);
    if !depth_consistent(
        cfg,
        view,
        det,
        class,
        depth,
        near_m,
        truncated,
        Some(cluster.bbox.size.z),
    ) {
        return Err(Rejection::Depth);
    }
    let occluded = (0..clusters.obstacles.len()).any(|i| {
        let d = &clusters.depths[i];
        i != k
            && d.center_m <= depth.center_m - cfg.occluder_min_gap_m
            && clusters.obstacles[i].bbox.bev_distance(&cluster.bbox) > merge_radius_m
            && clusters.rois[i].is_some_and(|r| {
                r.iou(det) >= cfg.occluder_min_iou
                    && depth_consistent(
                        cfg,
                        view,
                        det,
                        class,
                        d,
                        near_m,
                        at_border(det, view, margin) || at_border(&r, view, margin),
                        None,
                    )
            })
    });
    if occluded {
        return Err(Rejection::Occluded);
    }
    let solid_angle_sr = f64::from(det.width()) * f64::from(det.height()) / (view.fx * view.fy);
    let expected_points = cfg.lidar_points_per_sr * solid_angle_sr;
    if roi.intersection(det) < cfg.min_box_coverage * det.area()
        || f64::from(cluster.num_points) < cfg.min_point_fill * expected_points
    {
        return Err(Rejection::Background);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Projector;
    use crate::project::tests::front_camera;
    use fusionrt_core::{Box3, ClassProbs};
    use nalgebra::Vector3;

    /// The front camera (500 px focal length, 1000 x 500 px) and its near plane.
    const NEAR_M: f64 = 0.3;

    fn obstacle(x: f64, y: f64, l: f64, w: f64, h: f64, points: u32) -> Obstacle3D {
        Obstacle3D {
            bbox: Box3::new(Vector3::new(x, y, 0.0), Vector3::new(l, w, h), 0.0),
            num_points: points,
            score: 0.7,
            class_probs: ClassProbs::default(),
        }
    }

    /// Runs [`check`] for cluster `k` of `obstacles` against `det`, as fusion does.
    fn run(
        cfg: &EvidenceConfig,
        det: &BBox2,
        class: ObjectClass,
        k: usize,
        obstacles: &[Obstacle3D],
    ) -> Result<(), Rejection> {
        let cam = front_camera();
        let p = Projector::new(&cam, NEAR_M);
        let rois: Vec<_> = obstacles.iter().map(|o| p.box_roi(&o.bbox)).collect();
        let depths: Vec<_> = obstacles.iter().map(|o| Depth::of(&cam, o)).collect();
        let clusters = Clusters {
            obstacles,
            rois: &rois,
            depths: &depths,
        };
        let merge_radius_m = crate::FusionConfig::default().gate(class).merge_radius_m;
        check(
            cfg,
            &View::new(&cam),
            NEAR_M,
            det,
            class,
            merge_radius_m,
            k,
            &clusters,
        )
    }

    /// The ROI of `o` in the front camera: what a detector would draw around it.
    fn box_of(o: &Obstacle3D) -> BBox2 {
        let cam = front_camera();
        Projector::new(&cam, NEAR_M).box_roi(&o.bbox).unwrap()
    }

    #[test]
    fn a_car_box_keeps_its_cluster_and_refuses_one_at_the_wrong_depth() {
        let cfg = EvidenceConfig::default();
        // A car 1.5 m tall at 15 m, with the returns of a real car (about 40 000 / sr).
        let car = obstacle(15.0, 0.0, 4.0, 1.8, 1.5, 300);
        let det = box_of(&car);
        assert_eq!(run(&cfg, &det, ObjectClass::Car, 0, &[car]), Ok(()));
        // The same box on a cluster three times as far: the box would be a 4.5 m tall car.
        let far = obstacle(45.0, 0.0, 4.0, 1.8, 1.5, 300);
        assert_eq!(
            run(&cfg, &det, ObjectClass::Car, 0, &[far]),
            Err(Rejection::Depth)
        );
        // ... or on a post three times as near: a car 0.6 m tall.
        let near = obstacle(5.0, 0.0, 1.0, 1.0, 1.5, 300);
        assert_eq!(
            run(&cfg, &det, ObjectClass::Car, 0, &[near]),
            Err(Rejection::Depth)
        );
        // A person box on a cluster three times the person's height at its depth (a tree).
        let person = obstacle(10.0, 0.0, 0.6, 0.6, 1.7, 100);
        let tree = obstacle(10.0, 0.0, 0.6, 0.6, 5.5, 300);
        assert_eq!(
            run(&cfg, &box_of(&person), ObjectClass::Pedestrian, 0, &[tree]),
            Err(Rejection::Depth)
        );
        // A car low in the image: its box, cut by the bottom edge, is 20 px tall (0.6 m at
        // 15 m) and only checked for being too large; the same box clear of the edge is not.
        let mut low = car;
        low.bbox.center.z = -5.5;
        let cut = BBox2::new(det.x1, 480.0, det.x2, 500.0);
        assert_eq!(run(&cfg, &cut, ObjectClass::Car, 0, &[low]), Ok(()));
        let clear = BBox2::new(det.x1, 460.0, det.x2, 480.0);
        assert_eq!(
            run(&cfg, &clear, ObjectClass::Car, 0, &[low]),
            Err(Rejection::Depth)
        );
    }

    #[test]
    fn a_nearer_object_covering_the_box_explains_it() {
        let cfg = EvidenceConfig::default();
        // A car at 10 m covers the box; a hedge 1.6 m tall at 15 m shows through it (the box
        // would fit a car at 15 m too).
        let near_car = obstacle(10.0, 0.0, 4.0, 1.8, 1.5, 600);
        let behind = obstacle(15.0, 0.3, 0.5, 2.5, 1.6, 300);
        let det = box_of(&near_car);
        assert_eq!(
            run(&cfg, &det, ObjectClass::Car, 1, &[near_car, behind]),
            Err(Rejection::Occluded)
        );
        // The near car itself keeps it.
        assert_eq!(
            run(&cfg, &det, ObjectClass::Car, 0, &[near_car, behind]),
            Ok(())
        );
        // A far car's own small box, inside the near car's ROI, is not explained by the near
        // car: at its depth that box would be a 0.5 m tall car.
        let far_car = obstacle(30.0, 1.0, 4.0, 1.8, 1.5, 200);
        let far_det = box_of(&far_car);
        assert_eq!(
            run(&cfg, &far_det, ObjectClass::Car, 1, &[near_car, far_car]),
            Ok(())
        );
        // The front half of a long truck, 3 m nearer than its rear half, is a fragment of the
        // same object (within the vehicle merge radius), not an occluder of the rear.
        let front = obstacle(9.0, 0.0, 3.0, 2.4, 3.0, 800);
        let rear = obstacle(12.0, 0.0, 3.0, 2.4, 3.0, 800);
        let truck = box_of(&front).union_box(&box_of(&rear));
        assert_eq!(
            run(&cfg, &truck, ObjectClass::Truck, 1, &[front, rear]),
            Ok(())
        );
    }

    #[test]
    fn background_inside_the_box_does_not_take_its_class() {
        let cfg = EvidenceConfig::default();
        // A car box at 20 m whose only cluster is a thin pole at the same depth: it covers a
        // sliver of the box.
        let car = obstacle(20.0, 0.0, 4.0, 1.8, 1.5, 300);
        let det = box_of(&car);
        let pole = obstacle(20.0, 0.6, 0.1, 0.1, 1.5, 30);
        assert_eq!(
            run(&cfg, &det, ObjectClass::Car, 0, &[pole]),
            Err(Rejection::Background)
        );
        // A cluster of the car's size that caught only 3 returns (a box of this solid angle
        // expects about 330): fragments of the ground or spray, not the car.
        let sparse = obstacle(20.0, 0.0, 4.0, 1.8, 1.5, 3);
        assert_eq!(
            run(&cfg, &det, ObjectClass::Car, 0, &[sparse]),
            Err(Rejection::Background)
        );
        let dense = obstacle(20.0, 0.0, 4.0, 1.8, 1.5, 60);
        assert_eq!(run(&cfg, &det, ObjectClass::Car, 0, &[dense]), Ok(()));
    }
}
