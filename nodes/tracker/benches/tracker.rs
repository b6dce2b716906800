//! Tracker cost per frame: 500 objects (cars, pedestrians, cyclists) in steady state, each
//! detected with position noise, so that association, update and publishing all run.

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use fusionrt_core::{Box3, ClassProbs, FusedObject, ObjectClass, SensorSupport};
use fusionrt_tracker::{Tracker, TrackerConfig};
use nalgebra::Vector3;
use std::hint::black_box;

const FRAME_NS: i64 = 100_000_000;

/// Deterministic noise in [-0.5, 0.5).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
    }
}

/// Frame `k` of a scene with `n` objects on a grid of lanes, moving at class-typical speeds.
fn frame(n: usize, k: i64, rng: &mut Lcg, out: &mut Vec<FusedObject>) {
    out.clear();
    for i in 0..n {
        let class = match i % 5 {
            0..=2 => ObjectClass::Car,
            3 => ObjectClass::Pedestrian,
            _ => ObjectClass::Bicycle,
        };
        let (size, speed) = match class {
            ObjectClass::Car => (Vector3::new(4.2, 1.8, 1.5), 10.0),
            ObjectClass::Pedestrian => (Vector3::new(0.8, 0.6, 1.7), 1.4),
            _ => (Vector3::new(1.8, 0.6, 1.7), 5.0),
        };
        let lane = (i / 25) as f64;
        let x0 = (i % 25) as f64 * 12.0;
        let t = k as f64 * 0.1;
        let center = Vector3::new(
            x0 + speed * t + 0.2 * rng.next(),
            lane * 4.0 + 0.2 * rng.next(),
            0.8,
        );
        out.push(FusedObject {
            bbox: Box3::new(center, size, 0.05 * rng.next()),
            class,
            class_probs: ClassProbs::one_hot(class),
            score: 0.8,
            support: SensorSupport::default(),
            camera_box: None,
        });
    }
}

fn bench_500(c: &mut Criterion) {
    let cfg = TrackerConfig::default();
    let mut tracker = Tracker::new(&cfg, 1);
    let mut rng = Lcg(42);
    let mut dets = Vec::with_capacity(500);
    let mut out = Vec::with_capacity(600);
    let mut k = 0i64;
    // Warm up: tracks confirmed, buffers grown.
    for _ in 0..10 {
        frame(500, k, &mut rng, &mut dets);
        tracker.update(k * FRAME_NS, &dets, &mut out);
        k += 1;
    }
    assert_eq!(out.len(), 500, "warm-up should confirm every object");
    c.bench_function("tracker_update_500_objects", |b| {
        b.iter_batched_ref(
            || {
                frame(500, k, &mut rng, &mut dets);
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
