//! Criterion benchmark of the lidar stage: real KITTI scans (with `FUSIONRT_DATA`) and synthetic
//! sweeps of 30k, 120k, 500k and 2M points.

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fusionrt_lidar::synthetic::{SceneSpec, generate};
use fusionrt_lidar::{LidarConfig, LidarDetector};
use std::hint::black_box;
use std::path::PathBuf;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("lidar");
    let mut det = LidarDetector::new(&LidarConfig::default());
    let mut out = Vec::new();
    if let Some(root) = std::env::var_os("FUSIONRT_DATA") {
        for frame in ["000000", "000001"] {
            let path = PathBuf::from(&root).join(format!("kitti_object/velodyne/{frame}.bin"));
            let Ok(cloud) = fusionrt_kitti::read_velodyne(&path) else {
                eprintln!("skipped {}: unreadable", path.display());
                continue;
            };
            group.throughput(Throughput::Elements(cloud.len() as u64));
            group.bench_function(BenchmarkId::new("kitti", frame), |b| {
                b.iter(|| black_box(det.process(black_box(&cloud), &mut out)))
            });
        }
    } else {
        eprintln!("KITTI scans skipped: FUSIONRT_DATA is not set");
    }
    for points in [30_000usize, 120_000, 500_000, 2_000_000] {
        let scene = generate(&SceneSpec {
            points,
            ..SceneSpec::default()
        });
        group.throughput(Throughput::Elements(scene.cloud.len() as u64));
        if points >= 500_000 {
            group.sample_size(20);
        }
        group.bench_function(BenchmarkId::new("synthetic", points), |b| {
            b.iter(|| black_box(det.process(black_box(&scene.cloud), &mut out)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
