//! Tracker cost per frame: 500 objects (cars, pedestrians, cyclists) in steady state, each
//! detected with position noise, so that association, update and publishing all run.

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use fusionrt_tracker::synthetic::SyntheticScene;
use fusionrt_tracker::{Tracker, TrackerConfig};
use std::hint::black_box;

const FRAME_NS: i64 = 100_000_000;

fn bench_500(c: &mut Criterion) {
    let cfg = TrackerConfig::default();
    let mut tracker = Tracker::new(&cfg, 1);
    let mut scene = SyntheticScene::new(42);
    let mut dets = Vec::with_capacity(500);
    let mut out = Vec::with_capacity(600);
    let mut k = 0i64;
    // Warm up: tracks confirmed, buffers grown.
    for _ in 0..10 {
        scene.frame(500, k as u64, &mut dets);
        tracker.update(k * FRAME_NS, &dets, &mut out);
        k += 1;
    }
    assert_eq!(out.len(), 500, "warm-up should confirm every object");
    c.bench_function("tracker_update_500_objects", |b| {
        b.iter_batched_ref(
            || {
                scene.frame(500, k as u64, &mut dets);
                k += 1;
                (k * FRAME_NS, dets.clone())
            },
            |(stamp, d)| tracker.update(black_box(*stamp), black_box(d), &mut out),
            criterion::BatchSize::SmallInput,
        );
    });
}

criterion_group!(benches, bench_500);
criterion_main!(benches);
