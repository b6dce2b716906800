//! Interop with the independent PyPI `rosbags` 0.11.9 (in `.venv`, from
//! scripts/requirements-test.txt): fusionrt-bag reads the bags it writes (mcap, mcap with zstd
//! chunks, sqlite3, sqlite3 zstd per file and per message), and it reads back with the
//! definitions embedded in the bag what fusionrt-bag writes. The Python side is
//! `tests/rosbags_io.py`. Skips with a printed reason when `.venv/bin/python` is absent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use fusionrt_bag::msgs::outputs::{
    DetectedObject, DetectedObjectKinematics, DetectedObjects, DiagnosticArray, DiagnosticStatus,
    Marker, MarkerArray, ObjectClassification, PoseWithCovariance, Shape, TrackedObject,
    TrackedObjectKinematics, TrackedObjects,
};
use fusionrt_bag::msgs::sensor::CompressedImage;
use fusionrt_bag::msgs::state::{TfMessage, TransformStamped};
use fusionrt_bag::{BagReader, BagWriter, Decoded, Storage};
use fusionrt_core::PointCloud;
use fusionrt_core::calib::RigidTransform;
use fusionrt_core::image::{CameraInfo, Encoding, Image};
use fusionrt_core::tf::StaticTransform;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> Option<PathBuf> {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    if py.is_file() {
        Some(py)
    } else {
        eprintln!("skipped: {} is absent (run scripts/venv)", py.display());
        None
    }
}

fn run_py(py: &Path, verb: &str, path: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rosbags_io.py");
    let out = Command::new(py)
        .arg(script)
        .arg(verb)
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rosbags_io.py {verb} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fusionrt-interop-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn sha(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn reads_bags_written_by_rosbags() {
    let Some(py) = python() else { return };
    let dir = temp_dir("read");
    let manifest = run_py(&py, "write", &dir);
    let variants = manifest.as_object().unwrap();
    assert_eq!(variants.len(), 5);
    for (variant, expected) in variants {
        let mut reader = BagReader::open(&dir.join(variant)).unwrap();
        let (mut clouds, mut images, mut infos, mut tfs) = (Vec::new(), Vec::new(), 0, 0);
        let mut last_stamp = i64::MIN;
        while let Some((raw, decoded)) = reader.next_decoded().unwrap() {
            assert!(raw.stamp_ns >= last_stamp, "{variant}: out of order");
            last_stamp = raw.stamp_ns;
            match decoded {
                Decoded::PointCloud2(msg) => {
                    let mut cloud = PointCloud::default();
                    cloud.fill_from_pointcloud2(&msg).unwrap();
                    assert_eq!(cloud.len(), msg.width as usize);
                    assert_eq!(cloud.ring.len(), cloud.len());
                    clouds.push((msg.stamp_ns, msg.width, sha(&msg.data)));
                }
                Decoded::Image(img) => {
                    assert_eq!((img.encoding, img.step), (Encoding::Rgb8, 52));
                    images.push((img.stamp_ns, sha(&img.data)));
                }
                Decoded::CameraInfo(info) => {
                    assert_eq!(info.k[0], 100.0);
                    infos += 1;
                }
                Decoded::Tf(tf) => {
                    assert_eq!(tf.transforms[0].transform.child_frame, "velodyne");
                    assert_eq!(
                        tf.transforms[0].transform.parent_from_child.translation_m[2],
                        1.73
                    );
                    tfs += 1;
                }
                other => panic!("{variant}: unexpected {other:?}"),
            }
        }
        let want_clouds: Vec<(i64, u32, String)> = expected["clouds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["stamp_ns"].as_i64().unwrap(),
                    c["width"].as_u64().unwrap() as u32,
                    c["sha256"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(clouds, want_clouds, "{variant}");
        let want_images: Vec<(i64, String)> = expected["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["stamp_ns"].as_i64().unwrap(),
                    c["sha256"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(images, want_images, "{variant}");
        assert_eq!((infos, tfs), (5, 1), "{variant}");
        let stats = reader.stats();
        assert_eq!(stats.skipped["/chatter"].unknown_type, 5, "{variant}");
        assert_eq!(
            stats.skipped["/velodyne_packets"].unknown_type, 5,
            "{variant}"
        );
        assert!(
            stats.file_errors.is_empty(),
            "{variant}: {:?}",
            stats.file_errors
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

const T0_NS: i64 = 1_700_000_000_123_456_789;

fn stamp(i: i64) -> i64 {
    T0_NS + i * 100_000_000
}

fn write_everything(dir: &Path, storage: Storage) -> (Vec<String>, Vec<String>) {
    let mut w = BagWriter::create(dir, storage).unwrap();
    let t_cloud = w
        .add_topic("/sensing/lidar/pointcloud", "sensor_msgs/msg/PointCloud2")
        .unwrap();
    let t_img = w
        .add_topic("/sensing/camera/camera0/image_raw", "sensor_msgs/msg/Image")
        .unwrap();
    let t_cimg = w
        .add_topic(
            "/sensing/camera/camera0/image_raw/compressed",
            "sensor_msgs/msg/CompressedImage",
        )
        .unwrap();
    let t_info = w
        .add_topic(
            "/sensing/camera/camera0/camera_info",
            "sensor_msgs/msg/CameraInfo",
        )
        .unwrap();
    let t_tf = w.add_topic("/tf_static", "tf2_msgs/msg/TFMessage").unwrap();
    let t_tracks = w
        .add_topic(
            "/perception/object_recognition/tracking/objects",
            "autoware_perception_msgs/msg/TrackedObjects",
        )
        .unwrap();
    let t_dets = w
        .add_topic(
            "/perception/object_recognition/detection/objects",
            "autoware_perception_msgs/msg/DetectedObjects",
        )
        .unwrap();
    let t_markers = w
        .add_topic("/fusionrt/markers", "visualization_msgs/msg/MarkerArray")
        .unwrap();
    let t_diag = w
        .add_topic("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray")
        .unwrap();
    let tf = TfMessage {
        transforms: vec![TransformStamped {
            stamp_ns: T0_NS,
            transform: StaticTransform {
                parent_frame: "base_link".into(),
                child_frame: "velodyne".into(),
                parent_from_child: RigidTransform {
                    translation_m: [0.0, 0.0, 1.73],
                    rotation_xyzw: [0.0, 0.0, 0.0, 1.0],
                },
            },
        }],
    };
    w.write_msg(t_tf, T0_NS, &tf).unwrap();
    let (mut cloud_shas, mut image_shas) = (Vec::new(), Vec::new());
    for i in 0..3 {
        let mut cloud = PointCloud {
            stamp_ns: stamp(i),
            frame_id: "velodyne".into(),
            ..Default::default()
        };
        for k in 0..100 {
            cloud.push_xyzi(k as f32, -(k as f32) * 0.5, i as f32, 0.25 * k as f32);
        }
        let pc2 = cloud.to_pointcloud2();
        cloud_shas.push(sha(&pc2.data));
        w.write_msg(t_cloud, stamp(i), &pc2).unwrap();
        let img = Image {
            stamp_ns: stamp(i),
            frame_id: "camera0".into(),
            width: 5,
            height: 3,
            encoding: Encoding::Bgr8,
            step: 16,
            data: (0..48).map(|k| (k * 3 + i) as u8).collect(),
        };
        image_shas.push(sha(&img.data));
        w.write_msg(t_img, stamp(i), &img).unwrap();
        let cimg = CompressedImage {
            stamp_ns: stamp(i),
            frame_id: "camera0".into(),
            format: "png".into(),
            data: vec![0x89, b'P', b'N', b'G', i as u8],
        };
        w.write_msg(t_cimg, stamp(i), &cimg).unwrap();
        let info = CameraInfo {
            stamp_ns: stamp(i),
            frame_id: "camera0".into(),
            width: 5,
            height: 3,
            distortion_model: "plumb_bob".into(),
            d: vec![0.0; 5],
            k: [700.0, 0.0, 2.5, 0.0, 700.0, 1.5, 0.0, 0.0, 1.0],
            r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            p: [
                700.0, 0.0, 2.5, 0.0, 0.0, 700.0, 1.5, 0.0, 0.0, 0.0, 1.0, 0.0,
            ],
        };
        w.write_msg(t_info, stamp(i), &info).unwrap();
        let shape = Shape {
            shape_type: 0,
            footprint_m: vec![],
            dimensions_m: [4.5, 1.8, 1.6],
        };
        let pose = PoseWithCovariance {
            position_m: [10.0 + i as f64, 2.0, 0.8],
            ..Default::default()
        };
        let tracks = TrackedObjects {
            stamp_ns: stamp(i),
            frame_id: "base_link".into(),
            objects: vec![TrackedObject {
                object_id: [i as u8; 16],
                existence_probability: 0.75,
                classification: vec![ObjectClassification {
                    label: 1,
                    probability: 0.9,
                }],
                kinematics: TrackedObjectKinematics {
                    pose_with_covariance: pose,
                    ..Default::default()
                },
                shape: shape.clone(),
            }],
        };
        w.write_msg(t_tracks, stamp(i), &tracks).unwrap();
        let dets = DetectedObjects {
            stamp_ns: stamp(i),
            frame_id: "base_link".into(),
            objects: vec![DetectedObject {
                existence_probability: 0.5,
                classification: vec![ObjectClassification {
                    label: 7,
                    probability: 0.6,
                }],
                kinematics: DetectedObjectKinematics {
                    pose_with_covariance: pose,
                    ..Default::default()
                },
                shape,
            }],
        };
        w.write_msg(t_dets, stamp(i), &dets).unwrap();
        let markers = MarkerArray {
            markers: vec![Marker {
                stamp_ns: stamp(i),
                frame_id: "base_link".into(),
                ns: "tracks".into(),
                id: 3,
                marker_type: 9,
                action: 0,
                position_m: [10.0, 2.0, 2.0],
                orientation_xyzw: [0.0, 0.0, 0.0, 1.0],
                scale_m: [1.0, 1.0, 1.0],
                color_rgba: [0.0, 1.0, 0.0, 1.0],
                lifetime_ns: 100_000_000,
                frame_locked: false,
                points_m: vec![[0.0; 3], [1.0, 0.0, 0.0]],
                colors_rgba: vec![],
                text: "car 3".into(),
            }],
        };
        w.write_msg(t_markers, stamp(i), &markers).unwrap();
        let diag = DiagnosticArray {
            stamp_ns: stamp(i),
            frame_id: String::new(),
            status: vec![DiagnosticStatus {
                level: 0,
                name: "fusionrt: lidar".into(),
                message: "ok".into(),
                hardware_id: String::new(),
                values: vec![("processing_time_ms".into(), "2.5".into())],
            }],
        };
        w.write_msg(t_diag, stamp(i), &diag).unwrap();
    }
    w.finish().unwrap();
    (cloud_shas, image_shas)
}

#[test]
fn rosbags_reads_what_fusionrt_writes() {
    let Some(py) = python() else { return };
    for storage in [Storage::Mcap, Storage::Sqlite3] {
        let dir = temp_dir(storage.identifier());
        let (cloud_shas, image_shas) = write_everything(&dir, storage);
        let got = run_py(&py, "read", &dir);
        let topics = &got["topics"];
        let stamps: Vec<i64> = (0..3).map(stamp).collect();
        let expect_topic = |name: &str, type_name: &str, count: usize| -> &Value {
            let t = &topics[name];
            assert_eq!(t["type"], type_name, "{name}");
            let got_stamps: Vec<i64> = t["stamps_ns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_i64().unwrap())
                .collect();
            assert_eq!(got_stamps.len(), count, "{name}");
            if count == 3 {
                assert_eq!(got_stamps, stamps, "{name}");
            }
            &t["messages"]
        };
        let clouds = expect_topic(
            "/sensing/lidar/pointcloud",
            "sensor_msgs/msg/PointCloud2",
            3,
        );
        for (i, m) in clouds.as_array().unwrap().iter().enumerate() {
            assert_eq!(m["sha256"], cloud_shas[i].as_str());
            assert_eq!(m["header_stamp_ns"], stamps[i]);
            assert_eq!(m["width"], 100);
            assert_eq!(m["fields"], serde_json::json!(["x", "y", "z", "intensity"]));
        }
        let images = expect_topic(
            "/sensing/camera/camera0/image_raw",
            "sensor_msgs/msg/Image",
            3,
        );
        for (i, m) in images.as_array().unwrap().iter().enumerate() {
            assert_eq!(m["sha256"], image_shas[i].as_str());
            assert_eq!(
                (m["encoding"].as_str(), m["step"].as_u64()),
                (Some("bgr8"), Some(16))
            );
        }
        let c = expect_topic(
            "/sensing/camera/camera0/image_raw/compressed",
            "sensor_msgs/msg/CompressedImage",
            3,
        );
        assert_eq!(c[2]["sha256"], sha(&[0x89, b'P', b'N', b'G', 2]).as_str());
        let info = expect_topic(
            "/sensing/camera/camera0/camera_info",
            "sensor_msgs/msg/CameraInfo",
            3,
        );
        assert_eq!(info[0]["p"][0], 700.0);
        let tf = expect_topic("/tf_static", "tf2_msgs/msg/TFMessage", 1);
        assert_eq!(tf[0]["transforms"][0][1], "velodyne");
        assert_eq!(tf[0]["transforms"][0][2][2], 1.73);
        let tracks = expect_topic(
            "/perception/object_recognition/tracking/objects",
            "autoware_perception_msgs/msg/TrackedObjects",
            3,
        );
        let o = &tracks[2]["objects"][0];
        assert_eq!(o["uuid"], serde_json::json!([2u8; 16].to_vec()));
        assert_eq!(o["label"], 1);
        assert_eq!(o["position_m"], serde_json::json!([12.0, 2.0, 0.8]));
        assert_eq!(o["dimensions_m"], serde_json::json!([4.5, 1.8, 1.6]));
        let dets = expect_topic(
            "/perception/object_recognition/detection/objects",
            "autoware_perception_msgs/msg/DetectedObjects",
            3,
        );
        assert_eq!(dets[1]["objects"][0]["label"], 7);
        assert_eq!(dets[1]["objects"][0]["position_m"][0], 11.0);
        let markers = expect_topic("/fusionrt/markers", "visualization_msgs/msg/MarkerArray", 3);
        assert_eq!(
            markers[0]["markers"][0],
            serde_json::json!(["tracks", 3, 9, "car 3", 2])
        );
        let diag = expect_topic("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray", 3);
        assert_eq!(
            diag[0]["status"][0],
            serde_json::json!(["fusionrt: lidar", 0, [["processing_time_ms", "2.5"]]])
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
