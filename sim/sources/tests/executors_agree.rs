//! Both executors publish the same tracks on the `urban` scenario when nothing is late: the
//! real-time executor as fast as possible (back-pressure, nothing dropped) against the
//! deterministic one, compared byte for byte as tracks.jsonl.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use fusionrt_runtime::sinks::TracksJsonl;
use fusionrt_runtime::{
    CameraMode, Graph, PipelineConfig, RunOptions, Sink, Source, run_deterministic, run_realtime,
};
use fusionrt_scenario::load_scenario;
use fusionrt_sources::SimSource;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A writer whose bytes the test reads back after the run.
#[derive(Clone, Default)]
struct SharedBytes(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBytes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn run(realtime: bool, frames: u64) -> (Vec<u8>, fusionrt_runtime::RunSummary) {
    let spec = load_scenario("urban").unwrap();
    let mut source = SimSource::new(&spec, 3, frames).unwrap();
    let config = PipelineConfig::default();
    let graph = Graph::new(&config, CameraMode::Sim, source.info().cameras, 3).unwrap();
    let bytes = SharedBytes::default();
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(TracksJsonl::new("mem", bytes.clone()))];
    let options = RunOptions::default();
    let summary = if realtime {
        run_realtime(graph, &mut source, &mut sinks, &options).unwrap()
    } else {
        run_deterministic(graph, &mut source, &mut sinks, &options).unwrap()
    };
    let out = bytes.0.lock().unwrap().clone();
    (out, summary)
}

#[test]
fn deterministic_and_realtime_publish_the_same_tracks_on_urban() {
    let frames = 60;
    let (det, det_summary) = run(false, frames);
    let (rt, rt_summary) = run(true, frames);
    assert_eq!(det_summary.metrics.sweeps_published, frames);
    assert_eq!(rt_summary.metrics.sweeps_published, frames);
    assert!(
        rt_summary.metrics.drops.is_empty(),
        "{:?}",
        rt_summary.metrics.drops
    );
    let lines = det.iter().filter(|b| **b == b'\n').count();
    assert_eq!(lines as u64, frames);
    assert!(
        det.windows(8).any(|w| w == b"\"class\":"),
        "some tracks were published"
    );
    assert!(det == rt, "the executors' tracks differ");
}

#[test]
fn the_deterministic_executor_repeats_itself_byte_for_byte() {
    let (a, _) = run(false, 30);
    let (b, _) = run(false, 30);
    assert_eq!(a, b);
}
