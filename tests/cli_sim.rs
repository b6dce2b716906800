//! End-to-end tests of `fusionrt sim`: the whole pipeline on the built-in scenarios,
//! determinism, and clear one-line errors (exit code 2) for bad input.

// Test helpers outside `#[test]` functions: a failed setup step should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::{assert_bad_input, fusionrt, scratch};
use std::path::Path;

fn results_of(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    report["results"].clone()
}

#[test]
fn same_seed_same_results_other_seed_other_results() {
    let a = scratch("sim-seed3-a");
    let b = scratch("sim-seed3-b");
    let c = scratch("sim-seed4");
    for (dir, seed) in [(&a, "3"), (&b, "3"), (&c, "4")] {
        let out = fusionrt(&[
            "sim",
            "--frames",
            "12",
            "--seed",
            seed,
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        for needle in [
            "MOTA",
            "IDF1",
            "ID switches",
            "lidar",
            "fusion",
            "tracker",
            "p99",
        ] {
            assert!(stdout.contains(needle), "missing `{needle}` in:\n{stdout}");
        }
    }
    assert_eq!(results_of(&a), results_of(&b));
    assert_eq!(
        std::fs::read(a.join("tracks.jsonl")).unwrap(),
        std::fs::read(b.join("tracks.jsonl")).unwrap()
    );
    assert_ne!(
        results_of(&a)["tracks_digest"],
        results_of(&c)["tracks_digest"]
    );
    // The pipeline produced tracks that match ground truth.
    let mot = &results_of(&a)["mot"];
    assert!(mot["num_gt"].as_u64().unwrap() > 0, "{mot}");
    assert!(mot["num_matches"].as_u64().unwrap() > 0, "{mot}");
}

#[test]
fn every_builtin_scenario_runs() {
    for name in ["urban", "highway", "crowded"] {
        let dir = scratch(&format!("sim-{name}"));
        let out = fusionrt(&[
            "sim",
            "--scenario",
            name,
            "--frames",
            "5",
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            results_of(&dir)["mot"]["num_gt"].as_u64().unwrap() > 0,
            "{name}"
        );
    }
}

#[test]
fn unknown_scenario_name_is_bad_input() {
    let out = fusionrt(&["sim", "--scenario", "moon_base"]);
    assert_bad_input(&out, "moon_base");
}

#[test]
fn scenario_yaml_with_wrong_type_or_unknown_key_is_bad_input() {
    let dir = scratch("bad-yaml");
    let urban = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../sim/scenarios/urban.yaml"
    ))
    .unwrap();

    let wrong_type = dir.join("wrong_type.yaml");
    let text = format!(
        "{}\ndefault_frames: lots\n",
        strip_key(&urban, "default_frames")
    );
    std::fs::write(&wrong_type, text).unwrap();
    let out = fusionrt(&["sim", "--scenario", wrong_type.to_str().unwrap()]);
    assert_bad_input(&out, "default_frames");
    assert_bad_input(&out, "wrong_type.yaml");

    let unknown = dir.join("unknown_key.yaml");
    std::fs::write(&unknown, format!("{urban}\nwarp_speed: 9\n")).unwrap();
    let out = fusionrt(&["sim", "--scenario", unknown.to_str().unwrap()]);
    assert_bad_input(&out, "warp_speed");
    assert_bad_input(&out, "unknown_key.yaml");

    let missing = dir.join("missing.yaml");
    let out = fusionrt(&["sim", "--scenario", missing.to_str().unwrap()]);
    assert_bad_input(&out, "missing.yaml");
}

#[test]
fn pipeline_config_with_unknown_key_is_bad_input() {
    let dir = scratch("bad-config");
    let config = dir.join("pipeline.yaml");
    std::fs::write(&config, "tracker:\n  max_age_secs_typo: 3\n").unwrap();
    let out = fusionrt(&["sim", "--frames", "1", "--config", config.to_str().unwrap()]);
    assert_bad_input(&out, "max_age_secs_typo");
}

#[test]
fn negative_frame_count_is_bad_input() {
    let out = fusionrt(&["sim", "--frames", "-5"]);
    assert_bad_input(&out, "--frames must be zero or a positive count, got -5");
}

fn strip_key(yaml: &str, key: &str) -> String {
    yaml.lines()
        .filter(|l| !l.starts_with(&format!("{key}:")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_closed_stdout_ends_the_process_without_a_panic() {
    // `bench tracker` prints with `println!` (without data, only its synthetic scene).
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fusionrt"))
        .args(["bench", "tracker", "--frames", "10", "--objects", "20"])
        .env_remove("FUSIONRT_DATA")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before the process writes (as `fusionrt ... | head -0` would).
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        matches!(out.status.code(), Some(0 | 141)),
        "{:?}: {stderr}",
        out.status
    );
}
