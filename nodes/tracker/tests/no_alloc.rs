//! The tracker allocates nothing per frame in steady state: a counting global allocator
//! watches `Tracker::update` on a synthetic scene of 200 moving objects once its tracks are
//! established.

use fusionrt_core::FusedObject;
use fusionrt_testkit::{CountingAllocator, allocations};
use fusionrt_tracker::synthetic::SyntheticScene;
use fusionrt_tracker::{Tracker, TrackerConfig};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn update_allocates_nothing_in_steady_state() {
    let mut scene = SyntheticScene::new(9);
    let frames: Vec<Vec<FusedObject>> = (0..120)
        .map(|k| {
            let mut out = Vec::new();
            scene.frame(200, k, &mut out);
            out
        })
        .collect();
    let mut tracker = Tracker::new(&TrackerConfig::default(), 1);
    let mut tracks = Vec::new();
    for (k, detections) in frames.iter().enumerate().take(60) {
        tracker.update(k as i64 * 100_000_000, detections, &mut tracks);
    }
    let before = allocations();
    let mut published = 0;
    for (k, detections) in frames.iter().enumerate().skip(60) {
        tracker.update(k as i64 * 100_000_000, detections, &mut tracks);
        published += tracks.len();
    }
    let after = allocations();
    assert!(published > 0);
    assert_eq!(after - before, 0, "allocations during steady-state frames");
}
