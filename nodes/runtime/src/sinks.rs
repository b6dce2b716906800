//! Sinks that need no dataset crate: every sweep's published tracks as one JSON line.
//!
//! The JSON vocabulary is the project's (`center_m`, `size_m`, `yaw_rad`, `velocity_mps`);
//! numbers are written as serde_json writes them, so equal tracks give equal bytes.

use crate::graph::{Output, Results, Sink, SinkError};
use fusionrt_core::TrackState;
use serde::Serialize;
use std::io::Write;

/// One published track.
#[derive(Debug, Serialize)]
struct TrackRecord<'a> {
    id: String,
    class: &'a str,
    state: TrackState,
    existence_probability: f32,
    score: f32,
    center_m: [f64; 3],
    size_m: [f64; 3],
    yaw_rad: f64,
    velocity_mps: [f64; 3],
}

/// One sweep.
#[derive(Debug, Serialize)]
struct SweepRecord<'a> {
    frame: u64,
    stamp_ns: i64,
    frame_id: &'a str,
    tracks: Vec<TrackRecord<'a>>,
}

/// Writes `tracks.jsonl`: one line per sweep with the published tracks.
pub struct TracksJsonl<W: Write + Send> {
    name: String,
    out: W,
    lines: u64,
}

impl<W: Write + Send> TracksJsonl<W> {
    /// A sink writing to `out`; `name` (usually the path) names it in errors.
    pub fn new(name: impl Into<String>, out: W) -> Self {
        Self {
            name: name.into(),
            out,
            lines: 0,
        }
    }

    fn error(&self, e: impl std::fmt::Display) -> SinkError {
        SinkError {
            sink: self.name.clone(),
            message: e.to_string(),
        }
    }
}

impl<W: Write + Send> Sink for TracksJsonl<W> {
    fn publish(&mut self, output: &Output) -> Result<(), SinkError> {
        let record = SweepRecord {
            frame: output.sweep,
            stamp_ns: output.stamp_ns,
            frame_id: &output.frame_id,
            tracks: output
                .tracks
                .iter()
                .map(|t| TrackRecord {
                    id: t.id.to_string(),
                    class: t.class.name(),
                    state: t.state,
                    existence_probability: t.existence_probability,
                    score: t.score,
                    center_m: t.bbox.center.into(),
                    size_m: t.bbox.size.into(),
                    yaw_rad: t.bbox.yaw_rad,
                    velocity_mps: t.velocity_mps.into(),
                })
                .collect(),
        };
        serde_json::to_writer(&mut self.out, &record).map_err(|e| self.error(e))?;
        self.out.write_all(b"\n").map_err(|e| self.error(e))?;
        self.lines += 1;
        Ok(())
    }

    fn finish(&mut self, results: &mut Results) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| self.error(e))?;
        results.insert("tracks_jsonl_lines".into(), self.lines.into());
        Ok(())
    }
}
