//! Cost of one simulated frame (world step, lidar sweep, detector, ground truth) per built-in
//! scenario. Run: `cargo bench -p fusionrt-scenario --bench simulate`.

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use fusionrt_scenario::{Simulator, builtin_names, load_scenario};
use std::hint::black_box;

fn step(c: &mut Criterion) {
    let mut group = c.benchmark_group("scenario_step");
    group.sample_size(30);
    for name in builtin_names() {
        let sim = load_scenario(name).and_then(|spec| Simulator::new(&spec, 1));
        let mut sim = match sim {
            Ok(sim) => sim,
            Err(e) => {
                eprintln!("skipping {name}: {e}");
                continue;
            }
        };
        let mut frame = sim.new_frame();
        for _ in 0..5 {
            sim.step(&mut frame);
        }
        group.bench_function(*name, |b| {
            b.iter(|| {
                sim.step(&mut frame);
                black_box(frame.cloud.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
