//! Prints a per-frame summary of a scenario: ego pose, points, ground truth seen by the lidar,
//! detections per camera, and the simulator's cost per frame.
//!
//! `cargo run --release -p fusionrt-scenario --example scenario_summary -- urban 200 1`
//! (scenario name or YAML path, frames, seed).

use fusionrt_core::ObjectClass;
use fusionrt_scenario::{Simulator, load_scenario};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("urban", String::as_str);
    let spec = load_scenario(name)?;
    let frames: u64 = match args.get(2) {
        Some(v) => v.parse()?,
        None => spec.default_frames,
    };
    let seed: u64 = match args.get(3) {
        Some(v) => v.parse()?,
        None => 1,
    };
    let mut sim = Simulator::new(&spec, seed)?;
    let mut frame = sim.new_frame();
    let mut total_s = 0.0;
    let mut peds_seen = 0usize;
    for _ in 0..frames {
        let t0 = Instant::now();
        sim.step(&mut frame);
        total_s += t0.elapsed().as_secs_f64();
        let seen = frame
            .ground_truth
            .iter()
            .filter(|g| g.lidar_points >= 5)
            .count();
        peds_seen += frame
            .ground_truth
            .iter()
            .filter(|g| g.class == ObjectClass::Pedestrian && g.lidar_points >= 5)
            .count();
        let dets: Vec<usize> = frame
            .detections
            .iter()
            .map(|d| d.detections.len())
            .collect();
        if frame.index % 20 == 0 {
            let t = frame.world_from_lidar.translation.vector;
            println!(
                "frame {:4} ego ({:7.1}, {:7.1}, {:5.2}) points {:6} gt {:3} seen {:3} detections {:?}",
                frame.index,
                t.x,
                t.y,
                t.z,
                frame.cloud.len(),
                frame.ground_truth.len(),
                seen,
                dets
            );
        }
    }
    println!(
        "{name}: {frames} frames, {:.2} ms/frame, {:.1} pedestrians with >= 5 points per frame",
        1e3 * total_s / frames.max(1) as f64,
        peds_seen as f64 / frames.max(1) as f64
    );
    Ok(())
}
