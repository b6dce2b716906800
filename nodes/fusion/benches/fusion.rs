//! Fusion step cost: 100 lidar clusters x 50 detections per camera x 6 cameras.
//!
//! Six 1920 x 1080 pinhole cameras around the vehicle (60 degrees apart, 70 degree field of
//! view); clusters scattered 5-60 m around; each camera's 50 detections are the projections of
//! the clusters it sees (jittered) padded with random boxes.

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use fusionrt_core::{
    BBox2, Box3, CameraCalib, CameraDetections, CameraModel, Detection2D, ObjectClass, Obstacle3D,
};
use fusionrt_fusion::{FusionConfig, LateFusion, Projector};
use nalgebra::{Isometry3, Matrix3, Translation3, UnitQuaternion, Vector3};
use std::hint::black_box;

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64) / ((1u64 << 53) as f64)
    }
}

fn camera(i: usize) -> CameraCalib {
    let yaw = i as f64 * std::f64::consts::FRAC_PI_3;
    // Lidar -> camera body (rotate by -yaw about z) -> optical axes.
    let body_from_lidar = UnitQuaternion::from_axis_angle(&Vector3::z_axis(), -yaw);
    let optical_from_body =
        UnitQuaternion::from_matrix(&Matrix3::new(0.0, -1.0, 0.0, 0.0, 0.0, -1.0, 1.0, 0.0, 0.0));
    let f = 960.0 / (35f64.to_radians()).tan();
    CameraCalib {
        name: format!("cam{i}"),
        frame_id: format!("cam{i}_optical"),
        model: CameraModel::pinhole(1920, 1080, f, f, 960.0, 540.0),
        camera_from_lidar: Isometry3::from_parts(
            Translation3::new(0.0, 0.3, -0.2),
            optical_from_body * body_from_lidar,
        ),
    }
}

fn bench_fusion(c: &mut Criterion) {
    let mut rng = Lcg(7);
    let obstacles: Vec<Obstacle3D> = (0..100)
        .map(|_| {
            let r = 5.0 + 55.0 * rng.next();
            let a = std::f64::consts::TAU * rng.next();
            let ped = rng.next() < 0.3;
            let size = if ped {
                Vector3::new(0.7, 0.7, 1.7)
            } else {
                Vector3::new(4.2, 1.8, 1.5)
            };
            Obstacle3D {
                bbox: Box3::new(
                    Vector3::new(r * a.cos(), r * a.sin(), -0.9),
                    size,
                    std::f64::consts::PI * (2.0 * rng.next() - 1.0),
                ),
                num_points: 100,
                score: 0.6,
                class_probs: Default::default(),
            }
        })
        .collect();
    let cameras: Vec<CameraCalib> = (0..6).map(camera).collect();
    let frames: Vec<CameraDetections> = cameras
        .iter()
        .enumerate()
        .map(|(ci, cam)| {
            let p = Projector::new(cam, 0.3);
            let mut detections: Vec<Detection2D> = obstacles
                .iter()
                .filter_map(|o| p.box_roi(&o.bbox).map(|roi| (o, roi)))
                .map(|(o, roi)| {
                    let j = 4.0 * (rng.next() as f32 - 0.5);
                    Detection2D {
                        bbox: BBox2::new(roi.x1 + j, roi.y1 - j, roi.x2 - j, roi.y2 + j),
                        class: if o.bbox.size.x < 1.0 {
                            ObjectClass::Pedestrian
                        } else {
                            ObjectClass::Car
                        },
                        source_class_id: 0,
                        score: 0.5 + 0.5 * rng.next() as f32,
                    }
                })
                .take(50)
                .collect();
            while detections.len() < 50 {
                let (x, y) = (1800.0 * rng.next() as f32, 1000.0 * rng.next() as f32);
                let (w, h) = (
                    20.0 + 200.0 * rng.next() as f32,
                    20.0 + 150.0 * rng.next() as f32,
                );
                detections.push(Detection2D {
                    bbox: BBox2::new(x, y, x + w, y + h),
                    class: ObjectClass::Car,
                    source_class_id: 2,
                    score: 0.4 + 0.6 * rng.next() as f32,
                });
            }
            CameraDetections {
                camera_index: ci,
                stamp_ns: 1_000_000 * ci as i64,
                detections,
            }
        })
        .collect();
    let mut fusion = LateFusion::new(&FusionConfig::default());
    let mut out = Vec::with_capacity(128);
    let report = fusion.process(0, &obstacles, &cameras, &frames, &mut out);
    eprintln!("bench scene: {report}");
    c.bench_function("fusion_100_clusters_50_dets_6_cameras", |b| {
        b.iter(|| {
            fusion.process(
                black_box(0),
                black_box(&obstacles),
                black_box(&cameras),
                black_box(&frames),
                &mut out,
            )
        })
    });
}

criterion_group!(benches, bench_fusion);
criterion_main!(benches);
