//! The lidar stage allocates nothing per frame in steady state: a counting global allocator
//! watches `process` on synthetic sweeps (and on a real KITTI scan with `FUSIONRT_DATA`).

use fusionrt_core::{Obstacle3D, PointCloud};
use fusionrt_lidar::synthetic::{SceneSpec, generate};
use fusionrt_lidar::{LidarConfig, LidarDetector};
use fusionrt_testkit::{CountingAllocator, allocations};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn process_allocates_nothing_in_steady_state() {
    let mut clouds: Vec<PointCloud> = [30_000usize, 120_000, 60_000]
        .iter()
        .enumerate()
        .map(|(i, &points)| {
            generate(&SceneSpec {
                points,
                seed: 11 + i as u64,
                ..SceneSpec::default()
            })
            .cloud
        })
        .collect();
    if let Some(root) = std::env::var_os("FUSIONRT_DATA") {
        let path = std::path::PathBuf::from(root).join("kitti_object/velodyne/000001.bin");
        clouds.push(fusionrt_kitti::read_velodyne(&path).unwrap());
    } else {
        eprintln!("KITTI scan skipped: FUSIONRT_DATA is not set");
    }
    let mut det = LidarDetector::new(&LidarConfig::default());
    let mut out: Vec<Obstacle3D> = Vec::new();
    // Warm-up: buffers grow to the largest frame.
    for cloud in &clouds {
        det.process(cloud, &mut out);
    }
    let before = allocations();
    let mut obstacles = 0;
    for _ in 0..3 {
        for cloud in &clouds {
            obstacles += det.process(cloud, &mut out).obstacles;
        }
    }
    let after = allocations();
    assert!(obstacles > 0);
    assert_eq!(after - before, 0, "allocations during steady-state frames");
}
