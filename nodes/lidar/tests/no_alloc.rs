//! The lidar stage allocates nothing per frame in steady state: a counting global allocator
//! watches `process` on synthetic sweeps (and on a real KITTI scan with `FUSIONRT_DATA`).
//!
//! A global allocator is an `unsafe` trait: allowed in this test crate only.
#![allow(unsafe_code)]

use fusionrt_core::{Obstacle3D, PointCloud};
use fusionrt_lidar::synthetic::{SceneSpec, generate};
use fusionrt_lidar::{LidarConfig, LidarDetector};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let mut obstacles = 0;
    for _ in 0..3 {
        for cloud in &clouds {
            obstacles += det.process(cloud, &mut out).obstacles;
        }
    }
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    assert!(obstacles > 0);
    assert_eq!(after - before, 0, "allocations during steady-state frames");
}
