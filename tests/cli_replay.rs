//! End-to-end tests of `fusionrt replay` and of `fusionrt convert kitti` against independent
//! tools: bags written by PyPI `rosbags` from the KITTI drive 0052 frames (mcap and sqlite3, raw
//! Image and CompressedImage) replay into an output.mcap that `rosbags` and `mcap` +
//! `mcap-ros2-support` decode message by message; the tracks equal `kitti run` on the same
//! frames; two replays give byte-identical output.mcap; the real Luminar bag replays lidar-only
//! from both storages; `convert kitti` bags read back with `rosbags`. The Python side is
//! `tests/replay_bags.py` (in .venv from scripts/requirements-test.txt). Tests skip with a
//! printed reason without FUSIONRT_DATA, .venv or (for the camera model) ORT_DYLIB_PATH.

#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::{assert_bad_input, fusionrt, scratch};
use std::path::{Path, PathBuf};
use std::process::Command;

const DRIVE: &str = "kitti_raw/2011_09_26_drive_0052_sync";

fn data() -> Option<PathBuf> {
    let data = std::env::var_os("FUSIONRT_DATA");
    if data.is_none() {
        println!("skipped: FUSIONRT_DATA is not set");
    }
    data.map(PathBuf::from)
}

fn python() -> Option<PathBuf> {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    if py.is_file() {
        Some(py)
    } else {
        println!("skipped: {} is absent (run scripts/venv)", py.display());
        None
    }
}

/// Runs `tests/replay_bags.py` and returns its JSON.
fn py(python: &Path, args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/replay_bags.py");
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replay_bags.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn run_ok(args: &[&str]) -> std::process::Output {
    let out = fusionrt(args);
    assert!(
        out.status.success(),
        "fusionrt {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn replay(bag: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "replay",
        bag.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_ok(&args);
    serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap()
}

/// Writes a bag of drive 0052 with rosbags.
fn rosbags_bag(python: &Path, drive: &Path, dir: &Path, storage: &str, images: &str) -> PathBuf {
    let bag = dir.join(format!("{storage}_{images}"));
    let _ = std::fs::remove_dir_all(&bag);
    py(
        python,
        &[
            "write",
            drive.to_str().unwrap(),
            bag.to_str().unwrap(),
            storage,
            images,
        ],
    );
    bag
}

/// Writes a bag of drive 0052 with `fusionrt convert kitti` (no Python needed).
fn converted_bag(drive: &Path, bag: &Path, storage: &str, compressed_images: bool) -> PathBuf {
    let _ = std::fs::remove_dir_all(bag);
    let mut args = vec![
        "convert",
        "kitti",
        "--kitti-raw",
        drive.to_str().unwrap(),
        "--out",
        bag.to_str().unwrap(),
        "--storage",
        storage,
    ];
    if compressed_images {
        args.push("--compressed-images");
    }
    run_ok(&args);
    bag.to_path_buf()
}

/// `fusionrt kitti run` on a raw drive with the given camera mode, into `out`.
fn kitti_run(drive: &Path, out: &Path, camera: &str) {
    run_ok(&[
        "kitti",
        "run",
        "--kitti-raw",
        drive.to_str().unwrap(),
        "--camera",
        camera,
        "--out",
        out.to_str().unwrap(),
    ]);
}

const LIDAR: &str = "/sensing/lidar/pointcloud";
const IMAGE: &str = "/sensing/camera/camera0/image_raw";
const CAMERA_INFO: &str = "/sensing/camera/camera0/camera_info";

/// The stamps of a tracks.jsonl.
fn stamps(tracks: &[serde_json::Value]) -> Vec<i64> {
    tracks
        .iter()
        .map(|l| l["stamp_ns"].as_i64().unwrap())
        .collect()
}

/// `(topic, count)` of each topic `fusionrt bag info` lists for `bag`.
fn bag_topics(bag: &Path) -> Vec<(String, u64)> {
    let out = run_ok(&["bag", "info", bag.to_str().unwrap()]);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let rest = &l[l.find("Topic: ")? + 7..];
            let name = rest.split_whitespace().next()?.to_string();
            let count = rest.split("Count: ").nth(1)?.split_whitespace().next()?;
            Some((name, count.parse().ok()?))
        })
        .collect()
}

/// The tracks of a tracks.jsonl, one line per sweep.
fn tracks(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("tracks.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn rosbags_bags_replay_to_an_mcap_both_readers_decode_with_kitti_runs_tracks() {
    let (Some(data), Some(python)) = (data(), python()) else {
        return;
    };
    let drive = data.join(DRIVE);
    let root = scratch("replay-rosbags");
    let kitti = root.join("kitti_none");
    kitti_run(&drive, &kitti, "none");
    let expected = tracks(&kitti);
    assert_eq!(expected.len(), 20);
    for (storage, images) in [
        ("mcap", "raw"),
        ("sqlite3", "compressed"),
        ("mcap", "compressed"),
        ("sqlite3", "raw"),
    ] {
        let bag = rosbags_bag(&python, &drive, &root, storage, images);
        let out = root.join(format!("out_{storage}_{images}"));
        let report = replay(&bag, &out, &["--camera", "none"]);
        assert_eq!(report["timings"]["sweeps_published"], 20, "{report}");
        assert_eq!(
            tracks(&out),
            expected,
            "{storage}/{images}: replay's tracks differ from kitti run's"
        );
        let roles = &report["settings"]["roles"];
        assert_eq!(roles["lidar"], "/sensing/lidar/pointcloud");
        assert_eq!(roles["cameras"].as_array().unwrap().len(), 1, "{roles}");
        let summary = py(
            &python,
            &["read-output", out.join("output.mcap").to_str().unwrap()],
        );
        for reader in ["rosbags", "mcap"] {
            for topic in [
                "/perception/object_recognition/tracking/objects",
                "/perception/object_recognition/detection/objects",
                "/fusionrt/markers",
                "/diagnostics",
            ] {
                assert_eq!(summary[reader][topic], 20, "{reader} {topic}: {summary}");
            }
        }
        assert_eq!(
            summary["schemas"]["/perception/object_recognition/tracking/objects"],
            serde_json::json!([
                "autoware_perception_msgs/msg/TrackedObjects",
                "ros2msg",
                "cdr"
            ])
        );
        // The tracks inside output.mcap are those of tracks.jsonl, stamped with the sweeps.
        let inside = summary["tracks"].as_array().unwrap();
        for (line, msg) in expected.iter().zip(inside) {
            assert_eq!(line["stamp_ns"], msg["stamp_ns"]);
            // tracks.jsonl writes ids as 32 hex digits; the UUID bytes are big-endian.
            let ids: Vec<&str> = line["tracks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap())
                .collect();
            let mcap_ids: Vec<&str> = msg["tracks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap())
                .collect();
            assert_eq!(ids, mcap_ids);
        }
    }
}

#[test]
fn replay_with_the_camera_model_matches_kitti_run_with_it() {
    let (Some(data), Some(python)) = (data(), python()) else {
        return;
    };
    if std::env::var_os("ORT_DYLIB_PATH").is_none() {
        println!("skipped: ORT_DYLIB_PATH is not set (scripts/test sets it)");
        return;
    }
    let drive = data.join(DRIVE);
    let root = scratch("replay-camera");
    let kitti = root.join("kitti_model");
    kitti_run(&drive, &kitti, "model");
    let bag = rosbags_bag(&python, &drive, &root, "mcap", "compressed");
    let out = root.join("out");
    let report = replay(&bag, &out, &["--camera", "model"]);
    assert_eq!(report["timings"]["cameras"][0]["processed"], 20, "{report}");
    let (ours, theirs) = (tracks(&out), tracks(&kitti));
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(&theirs) {
        let key = |v: &serde_json::Value| -> Vec<(String, String)> {
            v["tracks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| (t["id"].to_string(), t["class"].to_string()))
                .collect()
        };
        assert_eq!(key(a), key(b), "ids and classes per sweep");
        for (x, y) in a["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .zip(b["tracks"].as_array().unwrap())
        {
            for field in ["center_m", "size_m"] {
                for k in 0..3 {
                    let (p, q) = (x[field][k].as_f64().unwrap(), y[field][k].as_f64().unwrap());
                    assert!((p - q).abs() < 1e-6, "{field}: {p} vs {q}");
                }
            }
        }
    }
    let r = &report["results"];
    assert!(r["mcap_sweeps"] == 20, "{r}");
}

#[test]
fn two_replays_give_byte_identical_output_mcap() {
    let (Some(data), Some(python)) = (data(), python()) else {
        return;
    };
    let drive = data.join(DRIVE);
    let root = scratch("replay-twice");
    let bag = rosbags_bag(&python, &drive, &root, "mcap", "raw");
    let (a, b) = (root.join("a"), root.join("b"));
    for out in [&a, &b] {
        let report = replay(&bag, out, &["--camera", "none", "--record-inputs"]);
        // 20 clouds, the /tf_static message; images are not read lidar-only.
        assert_eq!(report["results"]["mcap_inputs_recorded"], 21, "{report}");
    }
    for file in ["output.mcap", "tracks.jsonl"] {
        let (x, y) = (
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
        );
        assert!(x.len() > 1000, "{file}: {} bytes", x.len());
        assert!(x == y, "{file} differs between two replays");
    }
    let summary = py(
        &python,
        &["read-output", a.join("output.mcap").to_str().unwrap()],
    );
    assert_eq!(summary["rosbags"]["/sensing/lidar/pointcloud"], 20);
    assert_eq!(summary["mcap"]["/tf_static"], 1);
    // A window and a topic selection: lidar and TF only, from 0.5 s for 1 s.
    let w = root.join("window");
    let report = replay(
        &bag,
        &w,
        &[
            "--topics",
            "/sensing/lidar/pointcloud",
            "/tf_static",
            "--start-offset",
            "0.5",
            "--duration",
            "1",
        ],
    );
    assert_eq!(report["timings"]["sweeps_published"], 10, "{report}");
    assert_eq!(report["settings"]["camera"], "none");
}

#[test]
fn the_luminar_bag_replays_lidar_only_from_both_storages() {
    let Some(data) = data() else { return };
    for name in ["embag_luminar_mcap", "embag_luminar_db3"] {
        let bag = data.join("rosbag2").join(name);
        let out = scratch(&format!("replay-{name}"));
        let report = replay(&bag, &out, &[]);
        let sweeps = report["timings"]["sweeps_published"].as_u64().unwrap();
        assert!(sweeps > 0, "{name}: {report}");
        assert_eq!(report["results"]["mcap_sweeps"], sweeps);
        assert_eq!(report["settings"]["camera"], "none");
        assert!(report["settings"]["roles"]["lidar"].is_string());
    }
}

#[test]
fn convert_kitti_bags_read_back_with_rosbags() {
    let (Some(data), Some(python)) = (data(), python()) else {
        return;
    };
    let drive = data.join(DRIVE);
    let root = scratch("convert-readback");
    for (storage, compressed) in [("mcap", false), ("sqlite3", true)] {
        let bag = converted_bag(
            &drive,
            &root.join(format!("{storage}_{compressed}")),
            storage,
            compressed,
        );
        let r = py(
            &python,
            &[
                "read-convert",
                bag.to_str().unwrap(),
                drive.to_str().unwrap(),
            ],
        );
        let image_topic = if compressed {
            "/sensing/camera/camera0/image_raw/compressed"
        } else {
            "/sensing/camera/camera0/image_raw"
        };
        let image_type = if compressed {
            "sensor_msgs/msg/CompressedImage"
        } else {
            "sensor_msgs/msg/Image"
        };
        assert_eq!(r["types"][image_topic], image_type, "{r}");
        assert_eq!(
            r["types"]["/sensing/lidar/pointcloud"],
            "sensor_msgs/msg/PointCloud2"
        );
        assert_eq!(r["types"]["/tf_static"], "tf2_msgs/msg/TFMessage");
        for (topic, n) in [
            ("/sensing/lidar/pointcloud", 20),
            (image_topic, 20),
            ("/sensing/camera/camera0/camera_info", 20),
            ("/tf_static", 1),
        ] {
            assert_eq!(r["counts"][topic], n, "{topic}: {r}");
        }
        assert_eq!(r["stamps_ok"], true, "{r}");
        assert_eq!(r["cloud_bytes_equal"], true, "{r}");
        assert_eq!(r["image_bytes_equal"], true, "{r}");
        // And the converted bag replays like the rosbags one.
        let report = replay(
            &bag,
            &root.join(format!("replay_{storage}")),
            &["--camera", "none"],
        );
        assert_eq!(report["timings"]["sweeps_published"], 20);
    }
}

#[test]
fn bad_replay_input_is_one_line_and_exit_2() {
    let root = scratch("replay-bad");
    let missing = root.join("no_such_bag");
    let out = root.join("out");
    let o = out.to_str().unwrap();
    assert_bad_input(
        &fusionrt(&["replay", missing.to_str().unwrap(), "--out", o]),
        "no_such_bag",
    );
    let garbage = root.join("garbage.mcap");
    std::fs::write(&garbage, b"not an mcap file at all").unwrap();
    assert_bad_input(
        &fusionrt(&["replay", garbage.to_str().unwrap(), "--out", o]),
        "garbage.mcap",
    );
    for (flag, value, needle) in [
        ("--rate", "0", "--rate"),
        ("--remap", "/a", "--remap"),
        ("--start-offset", "-1", "--start-offset"),
    ] {
        assert_bad_input(
            &fusionrt(&["replay", missing.to_str().unwrap(), flag, value, "--out", o]),
            needle,
        );
    }
}

#[test]
fn rate_plays_on_the_real_time_executor_and_drops_only_stale_sweeps() {
    let Some(data) = data() else { return };
    let root = scratch("replay-rate");
    let bag = converted_bag(&data.join(DRIVE), &root.join("bag"), "mcap", false);
    let fast = root.join("max");
    let report = replay(&bag, &fast, &["--topics", LIDAR, "/tf_static"]);
    assert_eq!(report["executor"], "deterministic");
    let expected = tracks(&fast);
    assert_eq!(expected.len(), 20);
    // 4x real time: 2 s of data in about 0.5 s (not asserted: the machine may be loaded).
    let paced = root.join("rate");
    let report = replay(
        &bag,
        &paced,
        &["--rate", "4", "--topics", LIDAR, "/tf_static"],
    );
    assert_eq!(report["executor"], "realtime", "{report}");
    assert_eq!(report["settings"]["rate"], 4.0);
    let t = &report["timings"];
    assert_eq!(t["sweeps_in"], 20, "{t}");
    let published = t["sweeps_published"].as_u64().unwrap();
    let stale = t["drops"]["lidar_stale"].as_u64().unwrap_or(0);
    // Latest wins: a sweep still waiting when the next arrives is dropped and counted.
    assert_eq!(published + stale, 20, "{t}");
    let got = tracks(&paced);
    assert_eq!(got.len() as u64, published);
    let all = stamps(&expected);
    let played = stamps(&got);
    assert!(played.windows(2).all(|w| w[0] < w[1]), "{played:?}");
    assert!(
        played.iter().all(|s| all.contains(s)),
        "{played:?} not in {all:?}"
    );
    if stale == 0 {
        // Nothing dropped: the same sweeps in the same order give the same tracks.
        assert_eq!(got, expected);
    }
}

#[test]
fn exclude_topics_leaves_a_camera_without_camera_info_unused() {
    let Some(data) = data() else { return };
    let root = scratch("replay-exclude");
    let bag = converted_bag(&data.join(DRIVE), &root.join("bag"), "sqlite3", true);
    let lidar_only = root.join("lidar_only");
    replay(&bag, &lidar_only, &["--camera", "none"]);
    let out = root.join("out");
    let report = replay(&bag, &out, &["--exclude-topics", CAMERA_INFO]);
    // Without its CameraInfo the image topic is no camera: `auto` plays lidar only.
    assert_eq!(report["settings"]["camera"], "none", "{report}");
    let roles = &report["settings"]["roles"];
    assert_eq!(roles["cameras"], serde_json::json!([]));
    let reason = roles["unused"][format!("{IMAGE}/compressed")]
        .as_str()
        .unwrap();
    assert!(reason.contains("without CameraInfo"), "{roles}");
    assert_eq!(tracks(&out), tracks(&lidar_only));
    // Excluding the lidar leaves nothing to replay: one line, exit 2.
    let o = root.join("none");
    assert_bad_input(
        &fusionrt(&[
            "replay",
            bag.to_str().unwrap(),
            "--exclude-topics",
            LIDAR,
            "--out",
            o.to_str().unwrap(),
        ]),
        "no PointCloud2 topic",
    );
}

#[test]
fn remap_renames_the_recorded_inputs() {
    let Some(data) = data() else { return };
    let root = scratch("replay-remap");
    let bag = converted_bag(&data.join(DRIVE), &root.join("bag"), "mcap", false);
    let out = root.join("out");
    let report = replay(
        &bag,
        &out,
        &[
            "--camera",
            "none",
            "--record-inputs",
            "--remap",
            &format!("{LIDAR}:=/lidar/points"),
            "--remap",
            "/tf_static:=/vehicle/tf_static",
        ],
    );
    assert_eq!(report["timings"]["sweeps_published"], 20);
    let topics = bag_topics(&out.join("output.mcap"));
    assert!(topics.contains(&("/lidar/points".into(), 20)), "{topics:?}");
    assert!(
        topics.contains(&("/vehicle/tf_static".into(), 1)),
        "{topics:?}"
    );
    assert!(!topics.iter().any(|(t, _)| t == LIDAR), "{topics:?}");
    // The remapped recording replays: its lidar is found by type under the new name.
    let again = root.join("again");
    let report = replay(&out.join("output.mcap"), &again, &[]);
    assert_eq!(report["settings"]["roles"]["lidar"], "/lidar/points");
    assert_eq!(tracks(&again), tracks(&out));
}

#[test]
fn start_offset_and_duration_select_a_window_of_sweeps() {
    let Some(data) = data() else { return };
    let root = scratch("replay-window");
    let bag = converted_bag(&data.join(DRIVE), &root.join("bag"), "sqlite3", false);
    let all = root.join("all");
    replay(&bag, &all, &["--camera", "none"]);
    let every = stamps(&tracks(&all));
    assert_eq!(every.len(), 20);
    // Sweeps every 0.1 s from the bag's first message: the offset skips 7, the duration
    // keeps 5 (receive stamps in [0.7 s, 1.2 s)).
    for (extra, first, count) in [
        (&["--start-offset", "0.7"][..], 7, 13),
        (&["--duration", "0.35"][..], 0, 4),
        (&["--start-offset", "0.7", "--duration", "0.5"][..], 7, 5),
        (&["--start-offset", "5"][..], 20, 0),
    ] {
        let out = root.join("w");
        let mut args = vec!["--camera", "none"];
        args.extend_from_slice(extra);
        let report = replay(&bag, &out, &args);
        assert_eq!(
            report["timings"]["sweeps_published"], count,
            "{extra:?}: {report}"
        );
        assert_eq!(
            stamps(&tracks(&out)),
            every[first..first + count],
            "{extra:?}"
        );
    }
}

/// Writes a lone .mcap file the way odd real recordings are: the first `n` KITTI scans of drive
/// 0052 on `/points` (scan 3 with a width that disagrees with its data, scan 6 recorded after
/// scan 5 with an older stamp), raw packets of an unknown type, a `/tf_static` with an empty
/// serialization format. Written with the `mcap` crate directly: fusionrt's writer refuses
/// types it has no definition for.
fn odd_bag(drive: &Path, path: &Path, n: usize) {
    use fusionrt_bag::RosMessage;
    let mut w = mcap::WriteOptions::new()
        .profile("ros2")
        .create(std::io::BufWriter::new(
            std::fs::File::create(path).unwrap(),
        ))
        .unwrap();
    let meta = Default::default();
    let def = fusionrt_bag::schema::definition("sensor_msgs/msg/PointCloud2").unwrap();
    let cloud_schema = w
        .add_schema("sensor_msgs/msg/PointCloud2", "ros2msg", def.as_bytes())
        .unwrap();
    let points = w
        .add_channel(cloud_schema, "/points", "cdr", &meta)
        .unwrap();
    let scan_schema = w
        .add_schema(
            "velodyne_msgs/msg/VelodyneScan",
            "ros2msg",
            b"uint8[] packets",
        )
        .unwrap();
    let packets = w
        .add_channel(scan_schema, "/velodyne_packets", "cdr", &meta)
        .unwrap();
    let def = fusionrt_bag::schema::definition("tf2_msgs/msg/TFMessage").unwrap();
    let tf_schema = w
        .add_schema("tf2_msgs/msg/TFMessage", "ros2msg", def.as_bytes())
        .unwrap();
    let tf = w.add_channel(tf_schema, "/tf_static", "", &meta).unwrap();
    let write =
        |w: &mut mcap::Writer<_>, channel_id: u16, sequence: u32, stamp_ns: u64, data: &[u8]| {
            let header = mcap::records::MessageHeader {
                channel_id,
                sequence,
                log_time: stamp_ns,
                publish_time: stamp_ns,
            };
            w.write_to_known_channel(&header, data).unwrap();
        };
    write(&mut w, tf, 0, 0, &[0, 1, 0, 0, 0, 0, 0, 0]);
    for i in 0..n {
        let scan = drive.join(format!("velodyne_points/data/{i:010}.bin"));
        let mut cloud = fusionrt_kitti::velodyne::read_velodyne(&scan).unwrap();
        // Scan 6 is stamped (and recorded) before scan 5.
        let stamp_ns = if i == 6 {
            450_000_000
        } else {
            100_000_000 * i as i64 + 1
        };
        cloud.stamp_ns = stamp_ns;
        cloud.frame_id = "velodyne".into();
        let mut msg = cloud.to_pointcloud2();
        if i == 3 {
            msg.width += 1; // claims a point its data does not hold
            msg.row_step += msg.point_step;
        }
        write(&mut w, points, i as u32, stamp_ns as u64, &msg.to_cdr());
        let packet: Vec<u8> = (0..1206u32).map(|b| (b * 31 + i as u32) as u8).collect();
        write(&mut w, packets, i as u32, stamp_ns as u64 + 5, &packet);
    }
    w.finish().unwrap();
}

#[test]
fn odd_bags_skip_and_count_what_they_cannot_use_and_replay_the_rest() {
    let Some(data) = data() else { return };
    let root = scratch("replay-odd");
    let bag = root.join("odd.mcap");
    odd_bag(&data.join(DRIVE), &bag, 10);
    let bytes = std::fs::read(&bag).unwrap();
    // The same file cut inside its summary: no index, read linearly to the break.
    let cut = root.join("cut.mcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 200]).unwrap();
    for (file, file_errors) in [(&bag, 0), (&cut, 1)] {
        let out = root.join("out");
        let args = [
            "replay",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        let o = fusionrt(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        // 10 scans: the bad one and the late one are skipped, the other 8 replayed.
        assert_eq!(report["timings"]["sweeps_published"], 8, "{report}");
        let bag_stats = &report["results"]["bag"];
        assert_eq!(
            bag_stats["skipped_by_reason"]["lidar_bad_input"], 1,
            "{bag_stats}"
        );
        assert_eq!(
            bag_stats["skipped_by_reason"]["lidar_out_of_order"], 1,
            "{bag_stats}"
        );
        assert_eq!(bag_stats["out_of_order"], 1, "{bag_stats}");
        assert_eq!(
            bag_stats["skipped_by_topic"]["/points"]["malformed"], 1,
            "{bag_stats}"
        );
        if file_errors == 0 {
            // The intact file lists its topics from its summary, the non-CDR one included;
            // the cut one is scanned, which sees only what it can read.
            let not_cdr = &bag_stats["skipped_by_topic"]["/tf_static"]["not_cdr"];
            assert_eq!(not_cdr, 1, "{bag_stats}");
        }
        let errors = bag_stats["file_errors"].as_array().unwrap();
        assert_eq!(errors.len(), file_errors, "{bag_stats}");
        if file_errors > 0 {
            assert!(
                errors[0].as_str().unwrap().contains("cut.mcap"),
                "{errors:?}"
            );
        }
        let unused = &report["settings"]["roles"]["unused"];
        assert!(
            unused["/velodyne_packets"]
                .as_str()
                .unwrap()
                .contains("velodyne_msgs/msg/VelodyneScan"),
            "{unused}"
        );
        // One warning for the packet topic, not one per message.
        assert_eq!(stderr.matches("/velodyne_packets").count(), 1, "{stderr}");
        let t = tracks(&out);
        let played = stamps(&t);
        assert_eq!(played.len(), 8);
        assert!(!played.contains(&300_000_001) && !played.contains(&450_000_000));
    }
}

#[test]
fn a_camera_without_a_tf_path_is_warned_once_and_the_lidar_replays() {
    let Some(data) = data() else { return };
    if std::env::var_os("ORT_DYLIB_PATH").is_none() {
        println!("skipped: ORT_DYLIB_PATH is not set (scripts/test sets it)");
        return;
    }
    let root = scratch("replay-no-tf");
    let bag = converted_bag(&data.join(DRIVE), &root.join("bag"), "mcap", true);
    let lidar_only = root.join("lidar_only");
    replay(
        &bag,
        &lidar_only,
        &["--camera", "none", "--duration", "0.25"],
    );
    let out = root.join("out");
    let args = [
        "replay",
        bag.to_str().unwrap(),
        "--exclude-topics",
        "/tf_static",
        "--camera",
        "model",
        "--duration",
        "0.25",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = fusionrt(&args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    // No extrinsics: one warning for the camera, not one per image.
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("camera not calibrated"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("no transform from `velodyne` to `camera0`"),
        "{stderr}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["timings"]["sweeps_published"], 3, "{report}");
    assert_eq!(report["timings"]["cameras"][0]["images_in"], 3, "{report}");
    // Images the graph cannot place are never fused: the tracks are the lidar's.
    assert_eq!(tracks(&out), tracks(&lidar_only));
}

#[test]
fn a_slice_of_a_tracking_sequence_replays_to_kitti_results_of_its_frames() {
    let Some(data) = data() else { return };
    let root = scratch("replay-slice");
    let seq = data.join("kitti_tracking");
    let calib = seq.join("calib/0000.txt");
    let bag = root.join("slice");
    let _ = std::fs::remove_dir_all(&bag);
    let (s, b) = (seq.to_str().unwrap(), bag.to_str().unwrap());
    run_ok(&[
        "convert",
        "kitti",
        "--kitti-tracking",
        s,
        "--seq",
        "0000",
        "--frames",
        "40..80",
        "--out",
        b,
    ]);
    let config = root.join("lidar-classes.yaml");
    std::fs::write(&config, "fusion:\n  lidar_only_classes: true\n").unwrap();
    let out = root.join("out");
    let report = replay(
        &bag,
        &out,
        &[
            "--camera",
            "none",
            "--config",
            config.to_str().unwrap(),
            "--kitti-results",
            "0000",
            "--kitti-calib",
            calib.to_str().unwrap(),
        ],
    );
    // Scans 000040, 000044, ... 000076: the slice keeps the sequence's frame numbers.
    let stamps: Vec<i64> = tracks(&out)
        .iter()
        .map(|t| t["stamp_ns"].as_i64().unwrap())
        .collect();
    assert_eq!(
        stamps,
        (40..80)
            .step_by(4)
            .map(|f| f * 100_000_000)
            .collect::<Vec<_>>()
    );
    let rows = std::fs::read_to_string(out.join("kitti/0000.txt")).unwrap();
    let frames: Vec<u32> = rows
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert!(!frames.is_empty());
    assert!(
        frames.iter().all(|f| (40..80).contains(f) && f % 4 == 0),
        "{frames:?}"
    );
    assert_eq!(report["results"]["kitti_result_rows"], frames.len());
    // The latency histograms travel with the report, for fleet-wide merging.
    assert!(
        report["timings"]["end_to_end"]["hdr_v2"]
            .as_str()
            .unwrap()
            .len()
            > 20
    );
    // Bad slices and a calibration that is not there are bad input.
    assert_bad_input(
        &fusionrt(&[
            "convert",
            "kitti",
            "--kitti-tracking",
            s,
            "--seq",
            "0000",
            "--frames",
            "160..200",
            "--out",
            b,
        ]),
        "160..200",
    );
    assert_bad_input(
        &fusionrt(&[
            "replay",
            b,
            "--kitti-results",
            "0000",
            "--kitti-calib",
            "/no/calib.txt",
            "--out",
            out.to_str().unwrap(),
        ]),
        "/no/calib.txt",
    );
}
