//! Scores published tracks against the ground truth that came with each sweep.
//!
//! Ground truth counts when at least `min_gt_points` lidar returns hit it and it lies within
//! `eval_range_m` of the lidar; tracks count when classified and within that range. Matching
//! is by BEV centre distance (CLEAR MOT, IDF1 from fusionrt-eval). A digest of every published
//! track (FNV-1a over frame, id, class and box at mm / mrad) lets two runs be compared at a
//! glance.

use fusionrt_core::ObjectClass;
use fusionrt_eval::{EvalObject, MatchCriterion, MotAccumulator};
use fusionrt_runtime::{Output, Results, Sink, SinkError};
use serde::Serialize;

/// What counts in the score.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ScoreSettings {
    /// Ground truth needs at least this many lidar returns.
    pub min_gt_points: u32,
    /// Only ground truth and tracks within this BEV range of the lidar, m.
    pub eval_range_m: f64,
    /// A track matches ground truth within this BEV centre distance, m.
    pub match_distance_m: f64,
}

/// 64-bit FNV-1a, for a compact, platform-independent digest of results.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_i64(&mut self, v: i64) {
        self.write(&v.to_le_bytes());
    }
}

/// The scoring sink.
pub struct SimScoreSink {
    settings: ScoreSettings,
    accumulator: MotAccumulator,
    digest: Fnv1a,
    gt: Vec<EvalObject>,
    hyp: Vec<EvalObject>,
    frames: u64,
    sum_fused: usize,
    sum_with_camera: usize,
    sum_tracks: usize,
}

impl SimScoreSink {
    /// A sink with `settings`.
    pub fn new(settings: ScoreSettings) -> Self {
        Self {
            settings,
            accumulator: MotAccumulator::new(MatchCriterion::CenterDistance(
                settings.match_distance_m,
            )),
            digest: Fnv1a::new(),
            gt: Vec::new(),
            hyp: Vec::new(),
            frames: 0,
            sum_fused: 0,
            sum_with_camera: 0,
            sum_tracks: 0,
        }
    }
}

impl Sink for SimScoreSink {
    fn publish(&mut self, output: &Output) -> Result<(), SinkError> {
        let ego_xy = output
            .world_from_lidar
            .map_or_else(nalgebra::Vector2::zeros, |p| p.translation.vector.xy());
        let range = self.settings.eval_range_m;
        let in_range = |c: &nalgebra::Vector3<f64>| (c.xy() - ego_xy).norm() <= range;
        self.gt.clear();
        if let Some(truth) = &output.truth {
            self.gt.extend(
                truth
                    .iter()
                    .filter(|g| {
                        g.lidar_points >= self.settings.min_gt_points && in_range(&g.bbox.center)
                    })
                    .map(|g| EvalObject {
                        id: u128::from(g.id),
                        class: g.class,
                        bbox: g.bbox,
                        score: 1.0,
                    }),
            );
        }
        self.hyp.clear();
        for track in &output.tracks {
            let b = &track.bbox;
            self.digest.write_i64(output.sweep as i64);
            self.digest.write(&track.id.0.to_le_bytes());
            self.digest.write(&[track.class as u8]);
            for v in [
                b.center.x, b.center.y, b.center.z, b.size.x, b.size.y, b.size.z, b.yaw_rad,
            ] {
                self.digest.write_i64((v * 1000.0).round() as i64);
            }
            if track.class != ObjectClass::Unknown && in_range(&b.center) {
                self.hyp.push(EvalObject {
                    id: track.id.0,
                    class: track.class,
                    bbox: track.bbox,
                    score: track.score,
                });
            }
        }
        self.accumulator.add_frame(&self.gt, &self.hyp);
        self.frames += 1;
        self.sum_fused += output.fused.len();
        self.sum_with_camera += output
            .fused
            .iter()
            .filter(|o| o.support.has_camera())
            .count();
        self.sum_tracks += output.tracks.len();
        Ok(())
    }

    fn finish(&mut self, results: &mut Results) -> Result<(), SinkError> {
        let per_frame = |sum: usize| {
            if self.frames == 0 {
                0.0
            } else {
                sum as f64 / self.frames as f64
            }
        };
        results.insert("eval".into(), to_json(&self.settings));
        results.insert("mot".into(), to_json(&self.accumulator.summary()));
        results.insert(
            "tracks_digest".into(),
            format!("{:016x}", self.digest.0).into(),
        );
        results.insert(
            "mean_fused_per_frame".into(),
            per_frame(self.sum_fused).into(),
        );
        results.insert(
            "mean_fused_with_camera_per_frame".into(),
            per_frame(self.sum_with_camera).into(),
        );
        results.insert(
            "mean_tracks_per_frame".into(),
            per_frame(self.sum_tracks).into(),
        );
        Ok(())
    }
}

/// A JSON value of a serialisable result (a non-finite number becomes null).
fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_digest_depends_on_every_byte() {
        let mut a = Fnv1a::new();
        a.write(b"track");
        let mut b = Fnv1a::new();
        b.write(b"trace");
        assert_ne!(a.0, b.0);
        // Known FNV-1a 64 test vector.
        let mut c = Fnv1a::new();
        c.write(b"a");
        assert_eq!(c.0, 0xaf63_dc4c_8601_ec8c);
    }
}
