//! End-to-end tests of the runtime graph's commands: `kitti run` (deterministic, real data),
//! `bench pipeline` (real-time executor) and Ctrl-C. Real data from FUSIONRT_DATA; the camera
//! model needs ONNX Runtime (ORT_DYLIB_PATH, set by scripts/test).

#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::{assert_bad_input, fusionrt, scratch};
use std::path::{Path, PathBuf};

fn data() -> Option<PathBuf> {
    let data = std::env::var_os("FUSIONRT_DATA");
    if data.is_none() {
        println!("skipped: FUSIONRT_DATA is not set");
    }
    data.map(PathBuf::from)
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn kitti_run(args: &[&str], out: &Path) -> std::process::Output {
    let mut all = vec!["kitti", "run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let run = fusionrt(&all);
    assert!(run.status.success(), "{run:?}");
    run
}

#[test]
fn kitti_run_twice_on_a_real_drive_with_the_camera_model_gives_identical_files() {
    let Some(data) = data() else { return };
    if std::env::var_os("ORT_DYLIB_PATH").is_none() {
        println!("skipped: ORT_DYLIB_PATH is not set (scripts/test sets it)");
        return;
    }
    let drive = data.join("kitti_raw/2011_09_26_drive_0052_sync");
    let root = scratch("kitti-run-twice");
    let (a, b) = (root.join("a"), root.join("b"));
    for out in [&a, &b] {
        kitti_run(
            &["--kitti-raw", drive.to_str().unwrap(), "--camera", "model"],
            out,
        );
    }
    let name = "2011_09_26_drive_0052_sync.txt";
    for file in [name, "tracks.jsonl"] {
        let (x, y) = (
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
        );
        assert!(!x.is_empty(), "{file} is empty");
        assert!(x == y, "{file} differs between two runs");
    }
    let r = report(&a);
    assert_eq!(r["results"], report(&b)["results"]);
    let t = &r["timings"];
    assert_eq!(t["sweeps_published"], 20);
    assert_eq!(
        t["cameras"][0]["processed"], 20,
        "every image through the model"
    );
    assert!(t["drops"].as_object().unwrap().is_empty(), "{t}");
    // Cars in the camera's view of a dense street: the results carry KITTI rows.
    let rows = std::fs::read_to_string(a.join(name)).unwrap();
    assert!(
        rows.lines().any(|l| l.split(' ').nth(2) == Some("Car")),
        "{rows}"
    );
}

#[test]
fn kitti_run_lidar_only_on_tracking_scans_writes_results_that_kitti_eval_scores() {
    let Some(data) = data() else { return };
    let root = data.join("kitti_tracking");
    let out = scratch("kitti-run-tracking");
    let run = kitti_run(
        &[
            "--kitti-tracking",
            root.to_str().unwrap(),
            "--seq",
            "0000",
            "--camera",
            "none",
        ],
        &out,
    );
    println!("{}", String::from_utf8_lossy(&run.stdout));
    let r = report(&out);
    assert_eq!(r["timings"]["sweeps_published"], 39);
    assert_eq!(r["settings"]["camera"], "none");
    let lines = std::fs::read_to_string(out.join("tracks.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 39);
    // Frame numbers and stamps follow the file names (every 4th frame, 10 Hz).
    let second: serde_json::Value = serde_json::from_str(lines.lines().nth(1).unwrap()).unwrap();
    assert_eq!(second["stamp_ns"], 400_000_000);
    let seqmap = out.join("seqmap");
    std::fs::write(&seqmap, "0000 empty 000000 000153\n").unwrap();
    let eval = fusionrt(&[
        "kitti",
        "eval",
        "--results",
        out.to_str().unwrap(),
        "--labels",
        root.join("labels").to_str().unwrap(),
        "--seqmap",
        seqmap.to_str().unwrap(),
    ]);
    assert!(eval.status.success(), "{eval:?}");
}

#[test]
fn kitti_run_names_what_is_missing() {
    let out = scratch("kitti-run-missing");
    let o = out.to_str().unwrap();
    assert_bad_input(&fusionrt(&["kitti", "run", "--out", o]), "--kitti-raw");
    assert_bad_input(
        &fusionrt(&["kitti", "run", "--kitti-raw", "/no/such/drive", "--out", o]),
        "/no/such/drive/velodyne_points/data",
    );
}

#[test]
fn bench_pipeline_as_fast_as_possible_publishes_every_sweep_and_reports_latency() {
    let out = scratch("bench-pipeline-max");
    let run = fusionrt(&[
        "bench",
        "pipeline",
        "--scenario",
        "urban",
        "--max",
        "--frames",
        "25",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{run:?}");
    let t = &report(&out)["timings"];
    assert_eq!(t["sweeps_in"], 25);
    assert_eq!(t["sweeps_published"], 25);
    assert_eq!(t["end_to_end"]["count"], 25);
    assert!(t["end_to_end"]["p99_ms"].as_f64().unwrap() > 0.0);
    assert!(t["drops"].as_object().unwrap().is_empty(), "{t}");
    assert!(t["peak_rss_mb"].as_f64().unwrap() > 0.0);
    let names: Vec<&str> = t["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["fusion", "lidar", "tracker"]);
}

#[test]
fn bench_pipeline_refuses_absurd_rates() {
    let out = scratch("bench-pipeline-rate");
    let o = out.to_str().unwrap();
    for rate in ["0", "nan", "-5", "1e9"] {
        let run = fusionrt(&["bench", "pipeline", "--rate", rate, "--out", o]);
        assert_bad_input(&run, "--rate");
    }
}

#[test]
fn bench_lidar_refuses_zero_and_absurd_counts() {
    for (flag, value) in [
        ("--iterations", "0"),
        ("--iterations", "1000000000"),
        ("--sizes", "0"),
        ("--sizes", "1000,-5"),
        ("--sizes", "1e30"),
        ("--peer-runs", "0"),
        ("--peer-runs", "nan"),
    ] {
        // Refused while the arguments are parsed: clap's message (with its usage hint) names
        // the flag, exit status 2, nothing run.
        let run = fusionrt(&["bench", "lidar", flag, value]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(
            stderr.contains(flag) && !stderr.contains("panicked"),
            "{stderr}"
        );
        assert!(run.stdout.is_empty(), "{flag} {value} ran");
    }
}

#[test]
fn ctrl_c_ends_a_paced_run_cleanly_with_complete_records() {
    let out = scratch("bench-pipeline-ctrl-c");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_fusionrt"))
        .args([
            "bench",
            "pipeline",
            "--scenario",
            "urban",
            "--rate",
            "10",
            "--frames",
            "600",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success(), "{done:?}");
    let r = report(&out);
    assert_eq!(r["interrupted"], true);
    let published = r["timings"]["sweeps_published"].as_u64().unwrap();
    assert!(published > 0 && published < 600, "{published}");
    let lines = std::fs::read_to_string(out.join("tracks.jsonl")).unwrap();
    assert_eq!(lines.lines().count() as u64, published);
    for line in lines.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
}
