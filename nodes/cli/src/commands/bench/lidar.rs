//! `fusionrt bench lidar`: benchmarks the lidar stage on real and synthetic clouds.
//!
//! In-process, one thread: the median and 90th percentile wall time of `LidarDetector::process`
//! per cloud, and nanoseconds per point (flat when cost grows linearly with the point count), on the
//! KITTI scans in `--data` and on synthetic sweeps of 30k, 120k, 500k and 2M points. With
//! `--peer`, also whole processes side by side on each KITTI scan:
//! `fusionrt kitti lidar --velodyne SCAN --out OUT` against `PEER SCAN OUT` (e.g. the PCL peer),
//! quoting the median wall times and their ratio twice: with the runs alternating, then in
//! blocks (every run of one side, then every run of the other). The two differ where a process
//! pays for the memory the previous one freed: on a virtual machine that hands freed pages back
//! to its host, the first touch of each fresh page after a memory-hungry peer costs a host fault.

use crate::exit::bad_input;
use anyhow::Context;
use clap::Args;
use fusionrt_core::PointCloud;
use fusionrt_lidar::synthetic::{SceneSpec, generate};
use fusionrt_lidar::{LidarConfig, LidarDetector, MAX_EXPECTED_POINTS};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Arguments of `fusionrt bench lidar`.
///
/// Example: `fusionrt bench lidar --data ../shared/data/kitti_object --peer "$(../shared/peers/build.sh)"`
#[derive(Debug, Args)]
pub struct BenchLidarArgs {
    /// KITTI object folder with `velodyne/*.bin` (default: `$FUSIONRT_DATA/kitti_object`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Timed runs per cloud (after 3 warm-up runs), 1 to 100000.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    iterations: u32,
    /// Synthetic sweep sizes, points, each 1 to 16777216 (the stage's largest sweep).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "30000,120000,500000,2000000",
        value_parser = clap::value_parser!(u32).range(1..=MAX_EXPECTED_POINTS as i64)
    )]
    sizes: Vec<u32>,
    /// A peer executable run as `PEER SCAN.bin OUT.json` side by side with this binary.
    #[arg(long)]
    peer: Option<PathBuf>,
    /// Whole-process runs per side with `--peer`, 1 to 1000.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    peer_runs: u32,
    /// Lidar stage configuration (YAML); defaults otherwise.
    #[arg(long)]
    config: Option<PathBuf>,
}

impl BenchLidarArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        let cfg: LidarConfig = match &self.config {
            Some(path) => fusionrt_core::config::load_yaml_file(path).map_err(bad_input)?,
            None => LidarConfig::default(),
        };
        let mut detector = LidarDetector::try_new(&cfg).map_err(bad_input)?;
        let data = self.data.clone().or_else(|| {
            std::env::var_os("FUSIONRT_DATA").map(|d| PathBuf::from(d).join("kitti_object"))
        });
        let mut scans = Vec::new();
        match &data {
            Some(dir) => {
                let vel = dir.join("velodyne");
                let entries = std::fs::read_dir(&vel)
                    .with_context(|| format!("reading {}", vel.display()))
                    .map_err(bad_input)?;
                for entry in entries {
                    let path = entry?.path();
                    if path.extension().is_some_and(|e| e == "bin") {
                        scans.push(path);
                    }
                }
                scans.sort();
            }
            None => println!("KITTI scans skipped: no --data and FUSIONRT_DATA is not set"),
        }
        println!(
            "{:<24} {:>9} {:>10} {:>10} {:>9} {:>8}",
            "cloud", "points", "median ms", "p90 ms", "ns/point", "objects"
        );
        for path in &scans {
            let cloud = fusionrt_kitti::read_velodyne(path).map_err(bad_input)?;
            let name = format!(
                "kitti {}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            self.time_cloud(&mut detector, &name, &cloud);
        }
        for &points in &self.sizes {
            let scene = generate(&SceneSpec {
                points: points as usize,
                ..SceneSpec::default()
            });
            self.time_cloud(&mut detector, &format!("synthetic {points}"), &scene.cloud);
        }
        if let Some(peer) = &self.peer {
            for path in &scans {
                self.side_by_side(peer, path)?;
            }
        }
        Ok(())
    }

    /// Times `process` on one cloud and prints a row.
    fn time_cloud(&self, detector: &mut LidarDetector, name: &str, cloud: &PointCloud) {
        let mut out = Vec::new();
        let mut objects = 0;
        for _ in 0..3 {
            objects = detector.process(cloud, &mut out).obstacles;
        }
        let mut ms: Vec<f64> = (0..self.iterations)
            .map(|_| {
                let t0 = Instant::now();
                std::hint::black_box(detector.process(std::hint::black_box(cloud), &mut out));
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        let median = median_of(&mut ms);
        let p90 = ms[(ms.len() * 9 / 10).min(ms.len() - 1)];
        println!(
            "{name:<24} {:>9} {median:>10.3} {p90:>10.3} {:>9.1} {objects:>8}",
            cloud.len(),
            median * 1e6 / cloud.len().max(1) as f64
        );
    }

    /// Whole processes: this binary's `kitti lidar` and the peer on one scan, alternating, then in blocks.
    fn side_by_side(&self, peer: &Path, scan: &Path) -> anyhow::Result<()> {
        let exe = std::env::current_exe().context("locating the fusionrt binary")?;
        let tmp = std::env::temp_dir();
        let ours_out = tmp.join(format!("fusionrt-bench-lidar-{}.json", std::process::id()));
        let peer_out = tmp.join(format!("fusionrt-bench-peer-{}.json", std::process::id()));
        let run = |cmd: &mut Command| -> anyhow::Result<f64> {
            let t0 = Instant::now();
            let status = cmd
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .with_context(|| format!("running {cmd:?}"))?;
            let ms = t0.elapsed().as_secs_f64() * 1e3;
            anyhow::ensure!(status.success(), "{cmd:?} failed: {status}");
            Ok(ms)
        };
        let mut ours_cmd = Command::new(&exe);
        ours_cmd
            .args(["kitti", "lidar", "--velodyne"])
            .arg(scan)
            .arg("--out")
            .arg(&ours_out);
        let mut peer_cmd = Command::new(peer);
        peer_cmd.arg(scan).arg(&peer_out);
        let runs = self.peer_runs;
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            ours.push(run(&mut ours_cmd)?);
            theirs.push(run(&mut peer_cmd)?);
        }
        let alternated = (median_of(&mut ours), median_of(&mut theirs));
        ours.clear();
        theirs.clear();
        for _ in 0..runs {
            ours.push(run(&mut ours_cmd)?);
        }
        for _ in 0..runs {
            theirs.push(run(&mut peer_cmd)?);
        }
        let blocks = (median_of(&mut ours), median_of(&mut theirs));
        let _ = std::fs::remove_file(&ours_out);
        let _ = std::fs::remove_file(&peer_out);
        println!(
            "side by side on {} ({runs} runs each, whole processes, medians):",
            scan.display()
        );
        for (how, (a, b)) in [("alternating", alternated), ("in blocks", blocks)] {
            println!(
                "  {how:<12} fusionrt {a:.1} ms, peer {b:.1} ms, peer / fusionrt = {:.1}x",
                b / a
            );
        }
        Ok(())
    }
}

/// Sorts and returns the median (the upper one for an even count); `v` must not be empty.
fn median_of(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
