//! The graph's outputs as Foxglove's own message schemas (what Foxglove renders natively):
//! the sweep as a `foxglove.PointCloud`, tracks and fused objects as `foxglove.SceneUpdate`
//! (boxes in class colours, labels, velocity arrows), camera images as `foxglove.RawImage`,
//! 2D detections as `foxglove.ImageAnnotations`, the lidar pose as `foxglove.FrameTransforms`.
//!
//! Pure functions of the data: no server, no clock.

use foxglove::messages::{
    ArrowPrimitive, Color, CubePrimitive, FrameTransform, FrameTransforms, ImageAnnotations,
    PackedElementField, Point2, PointCloud, PointsAnnotation, Pose, Quaternion, RawImage,
    SceneEntity, SceneEntityDeletion, SceneUpdate, TextAnnotation, TextPrimitive, Timestamp,
    Vector3, packed_element_field::NumericType, points_annotation, scene_entity_deletion,
};
use fusionrt_core::image::Image;
use fusionrt_core::{Box3, CameraDetections, FusedObject, Track, TrackState};
use nalgebra::{Isometry3, UnitQuaternion};

/// Speeds below this draw no arrow, m/s.
const MIN_ARROW_SPEED_MPS: f64 = 0.2;

/// A stamp in ns as a Foxglove timestamp (stamps before 1970 are clamped to 0).
pub fn timestamp(stamp_ns: i64) -> Timestamp {
    let ns = stamp_ns.max(0);
    Timestamp::new(
        u32::try_from(ns / 1_000_000_000).unwrap_or(u32::MAX),
        (ns % 1_000_000_000) as u32,
    )
}

fn colour([r, g, b, a]: [f32; 4]) -> Color {
    Color {
        r: r.into(),
        g: g.into(),
        b: b.into(),
        a: a.into(),
    }
}

fn quaternion(q: &UnitQuaternion<f64>) -> Quaternion {
    Quaternion {
        x: q.i,
        y: q.j,
        z: q.k,
        w: q.w,
    }
}

fn pose(position_m: [f64; 3], orientation: &UnitQuaternion<f64>) -> Pose {
    let [x, y, z] = position_m;
    Pose {
        position: Some(Vector3 { x, y, z }),
        orientation: Some(quaternion(orientation)),
    }
}

fn cube(b: &Box3, rgba: [f32; 4]) -> CubePrimitive {
    CubePrimitive {
        pose: Some(pose(
            b.center.into(),
            &UnitQuaternion::from_euler_angles(0.0, 0.0, b.yaw_rad),
        )),
        size: Some(Vector3 {
            x: b.size.x,
            y: b.size.y,
            z: b.size.z,
        }),
        color: Some(colour(rgba)),
    }
}

/// A label floating half a metre above the box.
fn label(b: &Box3, text: String) -> TextPrimitive {
    TextPrimitive {
        pose: Some(pose(
            [b.center.x, b.center.y, b.center.z + 0.5 * b.size.z + 0.5],
            &UnitQuaternion::identity(),
        )),
        billboard: true,
        font_size: 14.0,
        scale_invariant: true,
        color: Some(colour([1.0, 1.0, 1.0, 1.0])),
        text,
    }
}

/// An arrow from the box's centre along its velocity, one second long.
fn velocity_arrow(b: &Box3, v: &nalgebra::Vector3<f64>, rgba: [f32; 4]) -> Option<ArrowPrimitive> {
    let speed = v.norm();
    if speed < MIN_ARROW_SPEED_MPS {
        return None;
    }
    let yaw = v.y.atan2(v.x);
    let pitch = -v.z.atan2(v.x.hypot(v.y));
    let head_length = (0.3 * speed).min(1.0);
    Some(ArrowPrimitive {
        pose: Some(pose(
            b.center.into(),
            &UnitQuaternion::from_euler_angles(0.0, pitch, yaw),
        )),
        shaft_length: (speed - head_length).max(0.0),
        shaft_diameter: 0.15,
        head_length,
        head_diameter: 0.4,
        color: Some(colour([rgba[0], rgba[1], rgba[2], 1.0])),
    })
}

/// Every entity of the topic stamped before `stamp_ns` goes before the new ones are drawn.
fn delete_older(stamp_ns: i64) -> Vec<SceneEntityDeletion> {
    vec![SceneEntityDeletion {
        timestamp: Some(timestamp(stamp_ns)),
        r#type: scene_entity_deletion::Type::All.into(),
        id: String::new(),
    }]
}

/// The published tracks: per track one entity (id: the track id) with a box in its class
/// colour (faint while tentative), a label `<id> <class>` and a velocity arrow.
pub fn tracks_scene(stamp_ns: i64, frame_id: &str, tracks: &[Track]) -> SceneUpdate {
    let entities = tracks
        .iter()
        .map(|t| {
            let mut rgba = t.class.colour_rgba();
            if t.state == TrackState::Tentative {
                rgba[3] = 0.2;
            }
            SceneEntity {
                timestamp: Some(timestamp(stamp_ns)),
                frame_id: frame_id.to_string(),
                id: t.id.to_string(),
                cubes: vec![cube(&t.bbox, rgba)],
                texts: vec![label(
                    &t.bbox,
                    format!("{:08x} {}", t.id.0 as u32, t.class.name()),
                )],
                arrows: velocity_arrow(&t.bbox, &t.velocity_mps, rgba)
                    .into_iter()
                    .collect(),
                ..SceneEntity::default()
            }
        })
        .collect();
    SceneUpdate {
        deletions: delete_older(stamp_ns),
        entities,
    }
}

/// The fused objects the tracker was given: per object one entity (id: its index in the
/// sweep) with a faint box in its class colour and a label `<class> <score>[ +cam]`.
pub fn objects_scene(stamp_ns: i64, frame_id: &str, objects: &[FusedObject]) -> SceneUpdate {
    let entities = objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let mut rgba = o.class.colour_rgba();
            rgba[3] = 0.15;
            let camera = if o.support.has_camera() { " +cam" } else { "" };
            SceneEntity {
                timestamp: Some(timestamp(stamp_ns)),
                frame_id: frame_id.to_string(),
                id: i.to_string(),
                cubes: vec![cube(&o.bbox, rgba)],
                texts: vec![label(
                    &o.bbox,
                    format!("{} {:.2}{camera}", o.class.name(), o.score),
                )],
                ..SceneEntity::default()
            }
        })
        .collect();
    SceneUpdate {
        deletions: delete_older(stamp_ns),
        entities,
    }
}

/// The sweep: `x`, `y`, `z` (and `intensity` when the cloud has it) as little-endian f32.
pub fn point_cloud(stamp_ns: i64, frame_id: &str, cloud: &fusionrt_core::PointCloud) -> PointCloud {
    let with_intensity = cloud.intensity.len() == cloud.x.len();
    let mut names = vec!["x", "y", "z"];
    if with_intensity {
        names.push("intensity");
    }
    let stride = 4 * names.len();
    let mut data = Vec::with_capacity(stride * cloud.x.len());
    for i in 0..cloud.x.len() {
        data.extend_from_slice(&cloud.x[i].to_le_bytes());
        data.extend_from_slice(&cloud.y[i].to_le_bytes());
        data.extend_from_slice(&cloud.z[i].to_le_bytes());
        if with_intensity {
            data.extend_from_slice(&cloud.intensity[i].to_le_bytes());
        }
    }
    PointCloud {
        timestamp: Some(timestamp(stamp_ns)),
        frame_id: frame_id.to_string(),
        pose: Some(pose([0.0; 3], &UnitQuaternion::identity())),
        point_stride: stride as u32,
        fields: names
            .iter()
            .enumerate()
            .map(|(k, name)| PackedElementField {
                name: (*name).to_string(),
                offset: 4 * k as u32,
                r#type: NumericType::Float32.into(),
            })
            .collect(),
        data: data.into(),
    }
}

/// A camera image as it came (ROS encoding names are Foxglove's).
pub fn raw_image(stamp_ns: i64, frame_id: &str, image: &Image) -> RawImage {
    RawImage {
        timestamp: Some(timestamp(stamp_ns)),
        frame_id: frame_id.to_string(),
        width: image.width,
        height: image.height,
        encoding: image.encoding.ros_name().to_string(),
        step: image.step,
        data: foxglove::bytes::Bytes::copy_from_slice(&image.data),
    }
}

/// One camera frame's 2D detections: a box outline in its class colour and a label
/// `<class> <score>` at its top-left corner, stamped with the image's exposure.
pub fn image_annotations(frame: &CameraDetections) -> ImageAnnotations {
    let stamp = Some(timestamp(frame.stamp_ns));
    let mut out = ImageAnnotations {
        timestamp: stamp,
        ..ImageAnnotations::default()
    };
    for d in &frame.detections {
        let b = &d.bbox;
        let [r, g, bl, _] = d.class.colour_rgba();
        let (x1, y1, x2, y2) = (b.x1.into(), b.y1.into(), b.x2.into(), b.y2.into());
        out.points.push(PointsAnnotation {
            timestamp: stamp,
            r#type: points_annotation::Type::LineLoop.into(),
            points: [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
                .into_iter()
                .map(|(x, y)| Point2 { x, y })
                .collect(),
            outline_color: Some(colour([r, g, bl, 1.0])),
            thickness: 2.0,
            ..PointsAnnotation::default()
        });
        out.texts.push(TextAnnotation {
            timestamp: stamp,
            position: Some(Point2 { x: x1, y: y1 }),
            text: format!("{} {:.2}", d.class.name(), d.score),
            font_size: 14.0,
            text_color: Some(colour([1.0, 1.0, 1.0, 1.0])),
            background_color: Some(colour([r, g, bl, 0.7])),
            ..TextAnnotation::default()
        });
    }
    out
}

/// The lidar's pose in the tracks' frame, `world_from_lidar`, as the transform
/// `parent` (world) -> `child` (the lidar frame).
pub fn frame_transforms(
    stamp_ns: i64,
    parent: &str,
    child: &str,
    world_from_lidar: &Isometry3<f64>,
) -> FrameTransforms {
    let t = &world_from_lidar.translation.vector;
    FrameTransforms {
        transforms: vec![FrameTransform {
            timestamp: Some(timestamp(stamp_ns)),
            parent_frame_id: parent.to_string(),
            child_frame_id: child.to_string(),
            translation: Some(Vector3 {
                x: t.x,
                y: t.y,
                z: t.z,
            }),
            rotation: Some(quaternion(&world_from_lidar.rotation)),
        }],
    }
}

/// The newest detection frame of camera `camera` among those fusion was given.
pub fn newest_frame(frames: &[CameraDetections], camera: usize) -> Option<&CameraDetections> {
    frames
        .iter()
        .filter(|f| f.camera_index == camera)
        .max_by_key(|f| f.stamp_ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fusionrt_core::{BBox2, Detection2D, ObjectClass};

    fn f32_at(data: &[u8], at: usize) -> f32 {
        f32::from_le_bytes(data[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn point_cloud_packs_xyz_and_intensity_per_point() {
        let cloud = fusionrt_core::PointCloud {
            x: vec![1.0, 4.0],
            y: vec![2.0, 5.0],
            z: vec![3.0, 6.0],
            intensity: vec![0.5, 0.25],
            ..Default::default()
        };
        let msg = point_cloud(1_500_000_000, "velodyne", &cloud);
        assert_eq!(msg.point_stride, 16);
        assert_eq!(msg.data.len(), 32);
        let names: Vec<&str> = msg.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["x", "y", "z", "intensity"]);
        assert_eq!(f32_at(&msg.data, 16), 4.0);
        assert_eq!(f32_at(&msg.data, 28), 0.25);
        assert_eq!(msg.timestamp, Some(Timestamp::new(1, 500_000_000)));

        let bare = fusionrt_core::PointCloud {
            intensity: Vec::new(),
            ..cloud
        };
        let msg = point_cloud(0, "velodyne", &bare);
        assert_eq!((msg.point_stride, msg.fields.len()), (12, 3));
        assert_eq!(f32_at(&msg.data, 12 + 8), 6.0);
    }

    #[test]
    fn annotations_outline_each_box_with_a_label() {
        let frame = CameraDetections {
            camera_index: 0,
            stamp_ns: 42,
            detections: vec![Detection2D {
                bbox: BBox2 {
                    x1: 10.0,
                    y1: 20.0,
                    x2: 30.0,
                    y2: 60.0,
                },
                class: ObjectClass::Pedestrian,
                source_class_id: 0,
                score: 0.875,
            }],
        };
        let msg = image_annotations(&frame);
        assert_eq!(msg.points.len(), 1);
        let corners: Vec<(f64, f64)> = msg.points[0].points.iter().map(|p| (p.x, p.y)).collect();
        assert_eq!(
            corners,
            [(10.0, 20.0), (30.0, 20.0), (30.0, 60.0), (10.0, 60.0)]
        );
        assert_eq!(msg.texts[0].text, "pedestrian 0.88");
    }

    #[test]
    fn velocity_arrow_points_along_the_velocity() {
        let b = Box3 {
            center: nalgebra::Vector3::new(1.0, 2.0, 0.5),
            size: nalgebra::Vector3::new(4.0, 2.0, 1.5),
            yaw_rad: 0.0,
        };
        assert!(velocity_arrow(&b, &nalgebra::Vector3::zeros(), [1.0; 4]).is_none());
        let arrow = velocity_arrow(&b, &nalgebra::Vector3::new(0.0, 5.0, 0.0), [1.0; 4]).unwrap();
        let q = arrow.pose.unwrap().orientation.unwrap();
        let q = UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(q.w, q.x, q.y, q.z));
        let along = q * nalgebra::Vector3::x();
        assert!((along - nalgebra::Vector3::y()).norm() < 1e-9, "{along}");
        assert!((arrow.shaft_length + arrow.head_length - 5.0).abs() < 1e-9);
    }
}
