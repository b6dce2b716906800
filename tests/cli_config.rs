//! End-to-end tests of config loading and bad input: every case exits 2 with one line naming
//! what was wrong and where (file, key, line and column for config files), fast, and leaves
//! no partial output behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::{assert_bad_input, fusionrt, scratch};
use std::path::Path;
use std::time::Instant;

fn sim_with_config(dir: &Path, name: &str, text: &str) -> std::process::Output {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    fusionrt(&[
        "sim",
        "--frames",
        "2",
        "--out",
        dir.join("out").to_str().unwrap(),
        "--config",
        path.to_str().unwrap(),
    ])
}

#[test]
fn bad_pipeline_config_values_exit_2_naming_file_key_line_and_column() {
    let dir = scratch("cli_config_values");
    for (value, key) in [
        ("lidar:\n  cluster_cell_m: 0\n", "lidar.cluster_cell_m"),
        ("lidar:\n  cluster_cell_m: 1e20\n", "lidar.cluster_cell_m"),
        ("lidar:\n  cluster_cell_m: .nan\n", "lidar.cluster_cell_m"),
        ("lidar:\n  ground_sectors: 0\n", "lidar.ground_sectors"),
        (
            "lidar:\n  ground_bin_growth: 0\n",
            "lidar.ground_bin_growth",
        ),
        ("lidar:\n  max_range_m: 1e30\n", "lidar.max_range_m"),
        (
            "lidar:\n  expected_points: 1000000000000000\n",
            "lidar.expected_points",
        ),
        (
            "lidar:\n  max_obstacles: 1000000000000\n",
            "lidar.max_obstacles",
        ),
        ("lidar:\n  max_rnge_m: 60\n", "lidar.max_rnge_m"),
        ("runtime:\n  queue_depth: 0\n", "runtime.queue_depth"),
    ] {
        let t = Instant::now();
        let out = sim_with_config(&dir, "bad.yaml", value);
        assert_bad_input(&out, &format!("bad.yaml:2:3: key `{key}`"));
        assert!(
            t.elapsed().as_secs_f64() < 20.0,
            "{value}: {:?}",
            t.elapsed()
        );
    }
    // The ROS 2 parameter form, with a node name, locates the key in the file.
    let out = sim_with_config(
        &dir,
        "ros.yaml",
        "fusionrt:\n  ros__parameters:\n    tracker:\n      car:\n        gate: .nan\n",
    );
    assert_bad_input(&out, "ros.yaml:5:9: key `tracker.car.gate`");
}

#[test]
fn hostile_config_files_are_rejected_fast() {
    let dir = scratch("cli_config_hostile");
    let t = Instant::now();
    let out = sim_with_config(&dir, "deep.yaml", &"[".repeat(200_000));
    assert_bad_input(&out, "deep.yaml:1:");
    let mut nested = String::new();
    for i in 0..300 {
        nested.push_str(&" ".repeat(i));
        nested.push_str("k:\n");
    }
    let out = sim_with_config(&dir, "nested.yaml", &nested);
    assert_bad_input(&out, "nested deeper than 32 levels");
    let out = fusionrt(&["sim", "--config", "/dev/zero"]);
    assert_bad_input(&out, "a config file may have at most 1048576");
    assert!(t.elapsed().as_secs_f64() < 10.0, "{:?}", t.elapsed());
}

#[test]
fn detect_refuses_absurd_flags_and_bad_outputs_before_writing() {
    let dir = scratch("cli_detect_bad");
    let image = dir.join("a.png");
    image::RgbImage::new(8, 8).save(&image).unwrap();
    let bad = dir.join("b.png");
    std::fs::write(&bad, b"not a png").unwrap();
    let img = image.to_str().unwrap();
    let out = fusionrt(&["detect", img, "--tiles", "100000"]);
    assert_bad_input(&out, "key `tiles`: 100000 is not in 0..=16");
    let out = fusionrt(&["detect", img, "--threads", "100000"]);
    assert_bad_input(&out, "key `intra_threads`");
    let out = fusionrt(&[
        "detect",
        img,
        "--overlay",
        dir.join("x.bmp").to_str().unwrap(),
    ]);
    assert_bad_input(&out, "x.bmp");
    let out = fusionrt(&["detect", img, "--out", img]);
    assert_bad_input(&out, "refusing to write");
    // A bad second image: nothing written, not even the first overlay.
    let json = dir.join("det.json");
    let overlay = dir.join("ov.jpg");
    let out = fusionrt(&[
        "detect",
        img,
        bad.to_str().unwrap(),
        "--out",
        json.to_str().unwrap(),
        "--overlay",
        overlay.to_str().unwrap(),
    ]);
    assert_bad_input(&out, "b.png");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn kitti_inputs_out_of_bounds_exit_2() {
    let dir = scratch("cli_kitti_bad");
    let scan = dir.join("scan.bin");
    let bytes: Vec<u8> = [1.0f32, 2.0, 0.5, 0.1]
        .iter()
        .cycle()
        .take(4 * 64)
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(&scan, &bytes).unwrap();
    let s = scan.to_str().unwrap();
    let out = fusionrt(&["kitti", "lidar", "--velodyne", s, "--out", s]);
    assert_bad_input(&out, "refusing to write");
    assert_eq!(
        std::fs::read(&scan).unwrap(),
        bytes,
        "the scan was overwritten"
    );
    let out = fusionrt(&["kitti", "lidar", "--velodyne", "/dev/zero"]);
    assert_bad_input(&out, "/dev/zero: more than 4194304 points");
    for v in ["nan", "inf", "0"] {
        let out = fusionrt(&[
            "kitti",
            "frame",
            "--velodyne",
            s,
            "--calib",
            s,
            "--image",
            s,
            "--max-range-m",
            v,
        ]);
        assert_bad_input(&out, "--max-range-m");
    }
    let seqmap = dir.join("seqmap");
    std::fs::write(&seqmap, "0000 empty 000000 999999999\n").unwrap();
    let out = fusionrt(&[
        "kitti",
        "track",
        "--detections",
        dir.to_str().unwrap(),
        "--seqmap",
        seqmap.to_str().unwrap(),
        "--out",
        dir.join("res").to_str().unwrap(),
        "--no-calib",
    ]);
    assert_bad_input(&out, "seqmap:1: 1000000000 frames is more than 100000");
}
