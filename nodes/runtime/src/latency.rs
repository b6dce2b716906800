//! Per-stage latency measurement: one HDR histogram per stage, in nanoseconds.
//!
//! Stage costs are measured with a monotonic clock (`Instant`), so they mean the same in real
//! time and in replay. Histograms are allocated once at start; recording allocates nothing.
//!
//! A summary also carries the whole histogram in HdrHistogram's interchange form (V2 with
//! deflate, base64: `hdr_v2`), so tools can merge runs exactly (percentiles of the merged
//! histogram, never averaged percentiles); HdrHistogram_py's `HdrHistogram.decode` reads it.

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};
use serde::Serialize;
use std::time::Duration;

/// Highest latency a histogram records exactly: 60 s. Longer values are clamped (and counted).
const MAX_TRACKABLE_NS: u64 = 60_000_000_000;

/// Percentiles of one stage's latency, in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Stage name.
    pub stage: String,
    /// Number of samples.
    pub count: u64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// 99.9th percentile, ms.
    pub p999_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
    /// Mean, ms.
    pub mean_ms: f64,
    /// The histogram of the samples in nanoseconds, HdrHistogram V2 with deflate, base64
    /// (empty if it could not be encoded). Mergeable across runs.
    pub hdr_v2: String,
}

/// A named latency histogram.
#[derive(Debug)]
pub struct StageLatency {
    name: String,
    histogram: Histogram<u64>,
}

impl StageLatency {
    /// A histogram for one stage, 3 significant digits from 1 ns to 60 s.
    pub fn new(name: impl Into<String>) -> Self {
        // 1..=60 s at 3 significant figures is always a valid histogram configuration.
        #[allow(clippy::expect_used)]
        let histogram = Histogram::new_with_bounds(1, MAX_TRACKABLE_NS, 3)
            .expect("static histogram bounds are valid");
        Self {
            name: name.into(),
            histogram,
        }
    }

    /// Records one sample.
    pub fn record(&mut self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.histogram
            .saturating_record(ns.clamp(1, MAX_TRACKABLE_NS));
    }

    /// Stage name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds another histogram's samples (one per thread, merged at the end).
    pub fn merge(&mut self, other: &StageLatency) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.histogram.add(&other.histogram);
    }

    /// Percentiles so far.
    pub fn summary(&self) -> LatencySummary {
        let h = &self.histogram;
        let ms = |ns: u64| ns as f64 * 1e-6;
        LatencySummary {
            stage: self.name.clone(),
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() * 1e-6,
            hdr_v2: encode_v2_deflate(h),
        }
    }
}

/// `h` in HdrHistogram's V2 + deflate form, base64 (standard alphabet, padded); empty when the
/// serializer fails (it only fails on a write error, and this writes into memory).
fn encode_v2_deflate(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(&bytes),
        Err(e) => {
            tracing::warn!("latency histogram not serialized: {e}");
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_known_samples() {
        let mut s = StageLatency::new("lidar");
        for ms in 1..=100u64 {
            s.record(Duration::from_millis(ms));
        }
        let sum = s.summary();
        assert_eq!(sum.count, 100);
        assert!((sum.p50_ms - 50.0).abs() < 0.1, "{sum:?}");
        assert!((sum.p99_ms - 99.0).abs() < 0.1, "{sum:?}");
        assert!((sum.max_ms - 100.0).abs() < 0.1, "{sum:?}");
    }

    #[test]
    fn serialized_histogram_round_trips_and_merges() {
        use hdrhistogram::serialization::Deserializer;
        let mut a = StageLatency::new("lidar");
        let mut b = StageLatency::new("lidar");
        for ms in 1..=50u64 {
            a.record(Duration::from_millis(ms));
            b.record(Duration::from_millis(ms + 50));
        }
        let decode = |s: &LatencySummary| -> Histogram<u64> {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&s.hdr_v2)
                .unwrap();
            Deserializer::new()
                .deserialize(&mut std::io::Cursor::new(bytes))
                .unwrap()
        };
        let mut merged = decode(&a.summary());
        merged.add(decode(&b.summary())).unwrap();
        assert_eq!(merged.len(), 100);
        let p50_ms = merged.value_at_quantile(0.5) as f64 * 1e-6;
        let p99_ms = merged.value_at_quantile(0.99) as f64 * 1e-6;
        assert!((p50_ms - 50.0).abs() < 0.1, "{p50_ms}");
        assert!((p99_ms - 99.0).abs() < 0.1, "{p99_ms}");
        // Averaging the two runs' medians would say 50.5 / 75: the merge is what is exact.
        a.merge(&b);
        assert_eq!(decode(&a.summary()), merged);
    }

    #[test]
    fn empty_histogram_reports_zeros() {
        let sum = StageLatency::new("x").summary();
        assert_eq!((sum.count, sum.p50_ms, sum.max_ms), (0, 0.0, 0.0));
    }
}
