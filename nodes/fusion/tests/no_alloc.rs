//! Fusion allocates nothing per sweep in steady state: a counting global allocator watches
//! `LateFusion::process` on the `urban` scenario's sweeps (lidar obstacles and the simulated
//! cameras' detections), replayed after a warm-up pass over the same sweeps.

use fusionrt_core::{CameraDetections, FusedObject, Obstacle3D};
use fusionrt_fusion::{FusionConfig, LateFusion};
use fusionrt_lidar::{LidarConfig, LidarDetector};
use fusionrt_scenario::{Simulator, load_scenario};
use fusionrt_testkit::{CountingAllocator, allocations};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn process_allocates_nothing_in_steady_state() {
    let spec = load_scenario("urban").unwrap();
    let mut sim = Simulator::new(&spec, 5).unwrap();
    let mut lidar = LidarDetector::new(&LidarConfig::default());
    let mut frame = sim.new_frame();
    let mut sweeps: Vec<(i64, Vec<Obstacle3D>, Vec<CameraDetections>)> = Vec::new();
    for _ in 0..40 {
        sim.step(&mut frame);
        let mut obstacles = Vec::new();
        lidar.process(&frame.cloud, &mut obstacles);
        sweeps.push((frame.stamp_ns, obstacles, frame.detections.clone()));
    }
    let cameras = sim.cameras().to_vec();
    let mut fusion = LateFusion::new(&FusionConfig::default());
    let mut out: Vec<FusedObject> = Vec::new();
    for (stamp, obstacles, detections) in &sweeps {
        fusion.process(*stamp, obstacles, &cameras, detections, &mut out);
    }
    let before = allocations();
    let mut with_camera = 0;
    for (stamp, obstacles, detections) in &sweeps {
        fusion.process(*stamp, obstacles, &cameras, detections, &mut out);
        with_camera += out.iter().filter(|o| o.support.has_camera()).count();
    }
    let after = allocations();
    assert!(with_camera > 0, "the cameras took part");
    assert_eq!(after - before, 0, "allocations during steady-state sweeps");
}
