//! End-to-end tests of `fusionrt kitti track`, `kitti eval`, `kitti detect-eval` (lidar, and fused
//! classes with `--camera model`) and `kitti run --overlays`: a real sequence when
//! FUSIONRT_DATA is set, and one-line errors (exit code 2) naming file and line for bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::{assert_bad_input, fusionrt, scratch};
use std::path::{Path, PathBuf};

/// A real PointRCNN detection line (sequence 0000, frame 0, a car).
const CAR_LINE: &str = "0,2,298.3125,165.1800,458.2292,293.4391,8.2981,1.9605,1.8137,4.7549,\
-4.5720,1.8435,13.5308,-2.1125,-1.7867";

/// Writes a detection folder with one sequence `0000` whose Car file holds `car` and whose
/// other files are empty, and a seqmap with `frames` frames; returns (detections, seqmap).
fn detections(name: &str, car: &str, frames: u32) -> (PathBuf, PathBuf) {
    let root = scratch(name);
    let dets = root.join("detections");
    for class in ["Car", "Pedestrian", "Cyclist"] {
        let dir = dets.join(format!("pointrcnn_{class}"));
        std::fs::create_dir_all(&dir).unwrap();
        let text = if class == "Car" { car } else { "" };
        std::fs::write(dir.join("0000.txt"), text).unwrap();
    }
    let seqmap = root.join("seqmap");
    std::fs::write(&seqmap, format!("0000 empty 000000 {:06}\n", frames - 1)).unwrap();
    (dets, seqmap)
}

fn track(dets: &Path, seqmap: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "kitti",
        "track",
        "--detections",
        dets.to_str().unwrap(),
        "--seqmap",
        seqmap.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    fusionrt(&args)
}

/// `$FUSIONRT_DATA/kitti_tracking`, or `None` (and a note that the test is skipped) without it.
fn kitti_tracking_data() -> Option<PathBuf> {
    let data = std::env::var_os("FUSIONRT_DATA");
    if data.is_none() {
        println!("skipped: FUSIONRT_DATA is not set");
    }
    Some(PathBuf::from(data?).join("kitti_tracking"))
}

/// Runs `kitti eval` with `--json` and `--explain JSON.explain`, prints its table and returns
/// the JSON report.
fn eval_json(results: &Path, labels: &Path, seqmap: &Path, json: &Path) -> serde_json::Value {
    let explain = json.with_extension("explain");
    let eval = fusionrt(&[
        "kitti",
        "eval",
        "--results",
        results.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
        "--seqmap",
        seqmap.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--explain",
        explain.to_str().unwrap(),
    ]);
    assert!(eval.status.success(), "{eval:?}");
    println!("{}", String::from_utf8_lossy(&eval.stdout));
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

#[test]
fn bad_detection_lines_name_file_and_line() {
    let cases = [
        (
            "kitti-columns",
            format!("{CAR_LINE}\n0,2,1,2,3\n"),
            "0000.txt:2:",
        ),
        (
            "kitti-nan",
            CAR_LINE.replace(",1.9605,", ",NaN,"),
            "0000.txt:1:",
        ),
        (
            "kitti-negative",
            CAR_LINE.replace(",1.9605,", ",-1.6,"),
            "0000.txt:1:",
        ),
        (
            "kitti-order",
            format!("{}\n{CAR_LINE}\n", CAR_LINE.replacen("0,", "3,", 1)),
            "out of order",
        ),
    ];
    for (name, text, needle) in cases {
        let (dets, seqmap) = detections(name, &text, 10);
        let out = scratch(&format!("{name}-out"));
        let result = track(&dets, &seqmap, &out, &[]);
        assert_bad_input(&result, needle);
        assert_bad_input(&result, "pointrcnn_Car/0000.txt");
    }
}

#[test]
fn a_frame_beyond_the_seqmap_is_an_error() {
    let (dets, seqmap) = detections("kitti-beyond", &CAR_LINE.replacen("0,", "12,", 1), 10);
    let out = scratch("kitti-beyond-out");
    assert_bad_input(&track(&dets, &seqmap, &out, &[]), "beyond the 10 frames");
}

#[test]
fn an_empty_sequence_gives_an_empty_result_file() {
    let (dets, seqmap) = detections("kitti-empty", "", 5);
    let out = scratch("kitti-empty-out");
    let result = track(&dets, &seqmap, &out, &[]);
    assert!(result.status.success(), "{result:?}");
    assert_eq!(std::fs::read_to_string(out.join("0000.txt")).unwrap(), "");
}

#[test]
fn a_bad_calibration_file_is_named() {
    let (dets, seqmap) = detections("kitti-calib", CAR_LINE, 1);
    let calib = scratch("kitti-calib-dir");
    std::fs::write(calib.join("0000.txt"), "P2: 1 2 3\n").unwrap();
    let out = scratch("kitti-calib-out");
    let result = track(&dets, &seqmap, &out, &["--calib", calib.to_str().unwrap()]);
    assert_bad_input(&result, "0000.txt");
    assert_bad_input(&result, "P2");
}

#[test]
fn tracks_and_scores_a_real_sequence() {
    let Some(data) = kitti_tracking_data() else {
        return;
    };
    let root = scratch("kitti-real");
    // Sequence 0003: 145 frames, 363 labelled cars.
    let seqmap = root.join("seqmap");
    std::fs::write(&seqmap, "0003 empty 000000 000144\n").unwrap();
    let out = root.join("results");
    // The calibration beside the detections is found without --calib.
    let result = track(&data.join("detections"), &seqmap, &out, &[]);
    assert!(result.status.success(), "{result:?}");
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(stdout.contains("frames/s"), "{stdout}");
    assert!(stdout.contains("using the calibration in"), "{stdout}");
    let text = std::fs::read_to_string(out.join("0003.txt")).unwrap();
    let mut frames = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 18, "{line}");
        frames.push(f[0].parse::<u32>().unwrap());
        // The projected 2D box lies in the 1242 x 375 image.
        let b: Vec<f64> = f[6..10].iter().map(|v| v.parse().unwrap()).collect();
        assert!(
            b[0] >= 0.0 && b[2] <= 1242.0 && b[1] >= 0.0 && b[3] <= 375.0,
            "{line}"
        );
        assert!(b[0] <= b[2] && b[1] <= b[3], "{line}");
    }
    assert!(
        frames.windows(2).all(|w| w[0] <= w[1]),
        "rows sorted by frame"
    );
    assert!(frames.len() > 300, "{} rows", frames.len());
    let report = eval_json(&out, &data.join("labels"), &seqmap, &root.join("eval.json"));
    let car = &report["Car"];
    let mota = car["best"]["mota"].as_f64().unwrap();
    let samota = car["samota"].as_f64().unwrap();
    println!("0003 Car: sAMOTA {samota:.4} MOTA {mota:.4}");
    assert!(mota > 0.5 && samota > 0.5, "{car}");
    // No threshold recalls more than keeping every hypothesis.
    let recall_all = car["unthresholded"]["recall"].as_f64().unwrap();
    assert!(
        recall_all >= car["best"]["recall"].as_f64().unwrap(),
        "{car}"
    );
    assert!(
        car["samota"].as_f64() <= car["samota_ceiling"].as_f64(),
        "{car}"
    );
    // --explain: one line per outcome, adding up to the counts at the best threshold.
    let explained = std::fs::read_to_string(root.join("eval.explain")).unwrap();
    let count = |outcomes: &[&str]| {
        explained
            .lines()
            .filter(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                assert_eq!(f.len(), 8, "{l}");
                f[0] == "Car" && f[1] == "0003" && outcomes.contains(&f[3])
            })
            .count() as u64
    };
    let oracle = car["oracle_mota"].as_f64().unwrap();
    assert!(oracle > 0.5 && oracle <= 1.0, "{car}");
    let best = &car["best"];
    assert_eq!(count(&["FalsePositive"]), best["fp"].as_u64().unwrap());
    assert_eq!(count(&["Miss"]), best["fn_"].as_u64().unwrap());
    assert_eq!(
        count(&["TruePositive", "IgnoredMatch"]),
        best["tp"].as_u64().unwrap()
    );
    assert_eq!(
        count(&["IgnoredMatch"]),
        best["ignored_tp"].as_u64().unwrap()
    );

    // --no-calib writes every track, in view or not: more rows.
    let all = root.join("results-all");
    let result = track(&data.join("detections"), &seqmap, &all, &["--no-calib"]);
    assert!(result.status.success(), "{result:?}");
    let rows = std::fs::read_to_string(all.join("0003.txt"))
        .unwrap()
        .lines()
        .count();
    assert!(rows > frames.len(), "{rows} vs {}", frames.len());
}

/// Regression floors on the 10 KITTI sequences, a few points under the figures measured at
/// commit time (sAMOTA / MOTA: Car 91.8 / 84.8, Pedestrian 71.9 / 69.8, Cyclist 69.0 / 64.4).
/// The reference evaluator's re-averaged means can flip a whole track at a threshold for an
/// ulp, so sAMOTA moves in steps; the floors leave room for that.
#[test]
fn beats_floors_on_the_ten_kitti_sequences() {
    let Some(data) = kitti_tracking_data() else {
        return;
    };
    let root = scratch("kitti-ten");
    let out = root.join("results");
    let seqmap = data.join("seqmap.train");
    let result = track(&data.join("detections"), &seqmap, &out, &[]);
    assert!(result.status.success(), "{result:?}");
    let report = eval_json(&out, &data.join("labels"), &seqmap, &root.join("eval.json"));
    for (class, samota_floor, mota_floor) in [
        ("Car", 0.89, 0.82),
        ("Pedestrian", 0.67, 0.66),
        ("Cyclist", 0.64, 0.60),
    ] {
        let r = &report[class];
        let samota = r["samota"].as_f64().unwrap();
        let mota = r["best"]["mota"].as_f64().unwrap();
        assert!(samota > samota_floor, "{class} sAMOTA {samota}");
        assert!(mota > mota_floor, "{class} MOTA {mota}");
    }
}

#[test]
fn detect_eval_scores_the_lidar_on_real_scans() {
    let Some(tracking) = kitti_tracking_data() else {
        return;
    };
    let object = tracking.with_file_name("kitti_object");
    let out = scratch("detect_eval").join("detect_eval.json");
    let run = fusionrt(&[
        "kitti",
        "detect-eval",
        "--kitti-object",
        object.to_str().unwrap(),
        "--kitti-tracking",
        tracking.to_str().unwrap(),
        "--seq",
        "0000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{run:?}");
    let text = String::from_utf8_lossy(&run.stdout);
    println!("{text}");
    assert!(text.contains("precision"), "{text}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let s = &doc["summary"];
    assert_eq!(s["frames"], 41);
    let recall = s["recall"].as_f64().unwrap();
    let precision = s["precision"].as_f64().unwrap();
    // Floors a little under the figures in docs/PERCEPTION.md.
    assert!(recall >= 0.85, "recall {recall}");
    assert!(precision >= 0.15, "precision {precision}");
    assert!(s["mean_center_error_m"].as_f64().unwrap() < 0.4);
    assert_eq!(s["by_type"].as_array().unwrap().len(), 5);
    // Every obstacle is listed with what it matched.
    assert!(doc["obstacles"].as_array().unwrap().len() > 100);
}

#[test]
fn detect_eval_without_labelled_scans_is_bad_input() {
    let root = scratch("detect_eval_empty");
    std::fs::create_dir_all(root.join("velodyne")).unwrap();
    let run = fusionrt(&[
        "kitti",
        "detect-eval",
        "--kitti-object",
        root.to_str().unwrap(),
    ]);
    assert_bad_input(&run, "no labelled scans");
}

#[test]
fn fusion_scores_classes_on_the_object_frames_and_draws_drive_0052() {
    let Some(tracking) = kitti_tracking_data() else {
        return;
    };
    if std::env::var_os("ORT_DYLIB_PATH").is_none() {
        println!("skipped: ORT_DYLIB_PATH is not set (scripts/test sets it)");
        return;
    }
    let data = tracking.parent().unwrap().to_path_buf();
    let root = scratch("fusion_classes");
    std::fs::create_dir_all(&root).unwrap();
    // Class recall and precision of the fused objects on the two labelled object frames.
    let out = root.join("eval.json");
    let run = fusionrt(&[
        "kitti",
        "detect-eval",
        "--kitti-object",
        data.join("kitti_object").to_str().unwrap(),
        "--camera",
        "model",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{run:?}");
    println!("{}", String::from_utf8_lossy(&run.stdout));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(doc["camera"], "model");
    let s = &doc["summary"];
    assert_eq!(s["frames"], 2);
    // The pedestrian of 000000 and the cyclist of 000001, each found with its class, and
    // every object given either class is right (docs/PERCEPTION.md, section 4).
    for group in s["by_group"].as_array().unwrap() {
        if group["group"] == "vehicle" {
            continue;
        }
        assert_eq!(group["class_recall"], 1.0, "{group}");
        assert_eq!(group["class_precision"], 1.0, "{group}");
    }
    assert!(
        doc["obstacles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["fused"] == true)
    );

    // Drive 0052 with overlays: one PNG per sweep, and what fusion did in report.json.
    let out = root.join("drive");
    let overlays = root.join("overlays");
    let run = fusionrt(&[
        "kitti",
        "run",
        "--kitti-raw",
        data.join("kitti_raw/2011_09_26_drive_0052_sync")
            .to_str()
            .unwrap(),
        "--camera",
        "model",
        "--out",
        out.to_str().unwrap(),
        "--overlays",
        overlays.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{run:?}");
    assert_eq!(std::fs::read_dir(&overlays).unwrap().count(), 20);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let fusion = &report["results"]["fusion"];
    assert_eq!(fusion["sweeps"], 20, "{fusion}");
    assert!(
        fusion["classified"]["car"].as_u64().unwrap() > 100,
        "{fusion}"
    );
    // Pairs without evidence are refused in this dense traffic, for each reason.
    for reason in ["rejected_depth", "rejected_occluded", "rejected_background"] {
        assert!(fusion[reason].as_u64().unwrap() > 0, "{reason}: {fusion}");
    }
}
