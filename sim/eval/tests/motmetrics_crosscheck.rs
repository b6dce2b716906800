//! Cross-check of [`MotAccumulator`] against py-motmetrics on the same distance matrices.
//!
//! The Python side runs in the project's `.venv` (created by `scripts/venv`, which installs
//! `motmetrics` from scripts/requirements-test.txt). Without that interpreter or package the test
//! prints why and skips, as the real-data tests do without FUSIONRT_DATA.

use fusionrt_eval::{MatchCriterion, MotAccumulator};
use std::path::PathBuf;
use std::process::Command;

const SCRIPT: &str = r#"
import json, sys
import numpy as np
import motmetrics as mm
frames = json.load(open(sys.argv[1]))
acc = mm.MOTAccumulator(auto_id=True)
for f in frames:
    d = np.array([np.nan if v is None else v for v in f["dist"]], dtype=float)
    acc.update(f["gt"], f["hyp"], d.reshape(len(f["gt"]), len(f["hyp"])))
names = ["mota", "motp", "num_switches", "num_fragmentations", "num_false_positives",
         "num_misses", "num_matches", "num_objects", "idf1", "idp", "idr"]
s = mm.metrics.create().compute(acc, metrics=names, name="a")
print(json.dumps({k: float(s[k].iloc[0]) for k in names}))
"#;

fn python() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let py = root.join(".venv/bin/python");
    if !py.exists() {
        println!("skipped: {} not found (run scripts/venv)", py.display());
        return None;
    }
    let ok = Command::new(&py)
        .args(["-c", "import motmetrics"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("skipped: motmetrics is not installed in .venv (run scripts/venv)");
        return None;
    }
    Some(py)
}

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

/// Ground-truth ids, hypothesis ids, and the row-major distances (`None` outside the gate).
type Frame = (Vec<u128>, Vec<u128>, Vec<Option<f64>>);

/// A scene with id swaps, misses, false positives and gaps, as frames of (gt ids, hyp ids,
/// distances with `None` outside the 1 m gate).
fn scene(seed: u64) -> Vec<Frame> {
    let mut rng = Lcg(seed);
    let mut frames = Vec::new();
    let n_obj = 8;
    let mut hyp_of: Vec<u128> = (0..n_obj).map(|i| 100 + i as u128).collect();
    let mut next_hyp = 200u128;
    for k in 0..120 {
        let mut gt = Vec::new();
        let mut gpos = Vec::new();
        let mut hyp = Vec::new();
        let mut hpos = Vec::new();
        for (i, hyp_i) in hyp_of.iter_mut().enumerate() {
            // Objects on a line, some crossing each other; some absent for a while.
            if (i + k / 30) % 7 == 6 {
                continue;
            }
            let x = i as f64 * 1.5
                + if i % 2 == 0 {
                    0.02 * k as f64
                } else {
                    -0.02 * k as f64
                };
            gt.push(i as u128 + 1);
            gpos.push(x);
            if rng.next() < 0.03 {
                *hyp_i = next_hyp;
                next_hyp += 1;
            }
            if rng.next() < 0.85 {
                hyp.push(*hyp_i);
                hpos.push(x + 0.6 * (rng.next() - 0.5));
            }
        }
        if rng.next() < 0.3 {
            hyp.push(900 + k as u128);
            hpos.push(rng.next() * 12.0);
        }
        let mut dist = Vec::new();
        for g in &gpos {
            for h in &hpos {
                let d: f64 = (g - h).abs();
                dist.push((d <= 1.0).then_some(d));
            }
        }
        frames.push((gt, hyp, dist));
    }
    frames
}

#[test]
fn clear_mot_matches_motmetrics() {
    let Some(py) = python() else {
        return;
    };
    for seed in [1u64, 2, 3] {
        let frames = scene(seed);
        let mut acc = MotAccumulator::new(MatchCriterion::CenterDistance(1.0));
        let mut json = Vec::new();
        for (gt, hyp, dist) in &frames {
            let d: Vec<f64> = dist.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
            acc.add_frame_distances(gt, hyp, &d);
            json.push(serde_json::json!({
                "gt": gt.iter().map(|v| *v as u64).collect::<Vec<_>>(),
                "hyp": hyp.iter().map(|v| *v as u64).collect::<Vec<_>>(),
                "dist": dist,
            }));
        }
        let path = std::env::temp_dir().join(format!(
            "fusionrt-motmetrics-{}-{seed}.json",
            std::process::id()
        ));
        std::fs::write(&path, serde_json::to_string(&json).unwrap()).unwrap();
        let out = Command::new(&py)
            .arg("-c")
            .arg(SCRIPT)
            .arg(&path)
            .output()
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let s = acc.summary();
        let get = |k: &str| r[k].as_f64().unwrap();
        println!("seed {seed}: ours {s:?}\nmotmetrics {r}");
        assert_eq!(s.id_switches as f64, get("num_switches"), "seed {seed}");
        assert_eq!(
            s.fragmentations as f64,
            get("num_fragmentations"),
            "seed {seed}"
        );
        assert_eq!(
            s.false_positives as f64,
            get("num_false_positives"),
            "seed {seed}"
        );
        assert_eq!(s.misses as f64, get("num_misses"), "seed {seed}");
        // motmetrics counts a switch apart from its matches; ours includes switches.
        assert_eq!(
            (s.num_matches - s.id_switches) as f64,
            get("num_matches"),
            "seed {seed}"
        );
        assert_eq!(s.num_gt as f64, get("num_objects"), "seed {seed}");
        assert!((s.mota - get("mota")).abs() < 1e-9, "seed {seed}");
        assert!((s.motp - get("motp")).abs() < 1e-9, "seed {seed}");
        assert!((s.idf1 - get("idf1")).abs() < 1e-9, "seed {seed}");
        assert!((s.idp - get("idp")).abs() < 1e-9, "seed {seed}");
        assert!((s.idr - get("idr")).abs() < 1e-9, "seed {seed}");
    }
}
