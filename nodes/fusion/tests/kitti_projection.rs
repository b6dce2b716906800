//! Projection accuracy on real KITTI frames (`$FUSIONRT_DATA/kitti_object`): label boxes and
//! lidar points projected with the frame's calibration land on the labelled objects.
//! Skips with a printed reason when `FUSIONRT_DATA` is unset.

use fusionrt_core::{BBox2, Box3};
use fusionrt_fusion::Projector;
use fusionrt_kitti::calib::KittiCalib;
use fusionrt_kitti::object::read_labels;
use fusionrt_kitti::tracking::LabelType;
use fusionrt_kitti::velodyne::read_velodyne;
use nalgebra::{Point3, Vector3};
use std::path::PathBuf;

fn kitti_dir() -> Option<PathBuf> {
    match std::env::var_os("FUSIONRT_DATA") {
        Some(d) => Some(PathBuf::from(d).join("kitti_object")),
        None => {
            println!("skipped: FUSIONRT_DATA is not set (CI sets it to ../shared/data)");
            None
        }
    }
}

/// The PNG's width and height from its IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    let be = |o: usize| u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
    (be(16), be(20))
}

fn inside(b: &Box3, p: &Point3<f64>) -> bool {
    let d = p.coords - b.center;
    let (s, c) = b.yaw_rad.sin_cos();
    let local = Vector3::new(c * d.x + s * d.y, -s * d.x + c * d.y, d.z);
    local.x.abs() <= 0.5 * b.size.x
        && local.y.abs() <= 0.5 * b.size.y
        && local.z.abs() <= 0.5 * b.size.z
}

#[test]
fn label_corners_and_lidar_points_land_on_the_labelled_objects() {
    let Some(dir) = kitti_dir() else { return };
    let mut checked = 0;
    for frame in ["000000", "000001"] {
        let calib = KittiCalib::read(&dir.join(format!("calib/{frame}.txt"))).unwrap();
        let png = std::fs::read(dir.join(format!("image_2/{frame}.png"))).unwrap();
        let (w, h) = png_size(&png);
        let camera = calib.camera_calib_sized("P2", w, h).unwrap();
        let projector = Projector::new(&camera, 0.3);
        let labels = read_labels(&dir.join(format!("label_2/{frame}.txt"))).unwrap();
        let cloud = read_velodyne(&dir.join(format!("velodyne/{frame}.bin"))).unwrap();
        for label in labels.iter().filter(|l| l.kind != LabelType::DontCare) {
            let b = label.box_in_lidar(&calib);
            let roi = projector.box_roi(&b).unwrap();
            // KITTI's 2D boxes are drawn around the object's pixels, its 3D box encloses the
            // object: the projected box is close to, and a little larger than, the 2D box.
            let iou = roi.iou(&label.bbox);
            println!(
                "{frame} {:?}: projected {roi:?} label {:?} IoU {iou:.3}",
                label.kind, label.bbox
            );
            assert!(iou > 0.7, "{frame} {:?}: IoU {iou}", label.kind);
            let margin = 3.0;
            let grown = BBox2::new(
                label.bbox.x1 - margin,
                label.bbox.y1 - margin,
                label.bbox.x2 + margin,
                label.bbox.y2 + margin,
            );
            assert!(grown.intersection(&roi) / roi.area() > 0.8);

            // Lidar points inside the labelled 3D box project inside its 2D box.
            let (mut n, mut hits) = (0, 0);
            for i in 0..cloud.len() {
                let p = Point3::new(
                    f64::from(cloud.x[i]),
                    f64::from(cloud.y[i]),
                    f64::from(cloud.z[i]),
                );
                if !inside(&b, &p) {
                    continue;
                }
                n += 1;
                if let Some([u, v]) = camera.project_lidar_point(&p, 0.3) {
                    let (u, v) = (u as f32, v as f32);
                    hits += usize::from(
                        u >= grown.x1 && u <= grown.x2 && v >= grown.y1 && v <= grown.y2,
                    );
                }
            }
            println!("  {hits}/{n} lidar points in the 3D box project into the 2D box");
            assert!(n >= 5, "{frame} {:?}: only {n} points", label.kind);
            assert!(
                hits as f64 >= 0.95 * n as f64,
                "{frame} {:?}: {hits}/{n}",
                label.kind
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 4, "labelled objects in frames 000000 and 000001");
}
