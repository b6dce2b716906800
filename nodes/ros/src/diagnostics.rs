//! `/diagnostics` for the node: per stage `processing_time_ms` p50/p99/max and the chain's
//! `pipeline_latency_ms` (wall clock at publish minus the sweep's stamp, Autoware's figure)
//! over the last window, split by `input_age_ms` (the sweep's age when its callback ran: the
//! driver's and the middleware's share), drops and misses by reason since the start, and each
//! camera's status with the pairs whose detection lent no class for lack of evidence.
//!
//! The sink records every published sweep ([`Diagnostics::record`]); the spin thread builds a
//! DiagnosticArray at most once a second ([`Diagnostics::report`]), also when no sweep came
//! (then the node says so).

use crate::assemble::CameraStatus;
use fusionrt_bag::msgs::outputs::{DiagnosticArray, DiagnosticStatus};
use fusionrt_fusion::report::CameraStatus as FusionCameraStatus;
use fusionrt_runtime::{BudgetConfig, Output};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const OK: u8 = 0;
const WARN: u8 = 1;
const ERROR: u8 = 2;

/// The node's "now", ns: its ROS clock, which is the system clock, or the latest `/clock` with
/// `use_sim_time` (a bag played with `ros2 bag play --clock`). Latencies are measured on it, so
/// that stamps and now are on the same timeline.
pub type NowFn = std::sync::Arc<dyn Fn() -> i64 + Send + Sync>;

/// Now on the wall clock, ns since the epoch (ROS time without `use_sim_time`).
pub fn wall_now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

struct Window {
    /// Microseconds, 1 us .. 1 h at 3 significant digits (None only if hdrhistogram refused
    /// those bounds, which it does not).
    us: Option<Histogram<u64>>,
}

impl Window {
    fn new() -> Self {
        Self {
            us: Histogram::new_with_bounds(1, 3_600_000_000, 3).ok(),
        }
    }
    fn record(&mut self, d_ns: i64) {
        let us = (d_ns.max(0) / 1000).max(1) as u64;
        if let Some(h) = &mut self.us {
            h.saturating_record(us);
        }
    }
    fn ms(&self, q: f64) -> f64 {
        self.us
            .as_ref()
            .map_or(0.0, |h| h.value_at_quantile(q) as f64 * 1e-3)
    }
    fn reset(&mut self) {
        if let Some(h) = &mut self.us {
            h.reset();
        }
    }
}

/// The ages of sweeps on arrival (the node's clock when the callback handed a cloud over, minus
/// the sweep's stamp), recorded by the source thread; reported and reset with each window.
#[derive(Clone)]
pub struct ArrivalAges(Arc<Mutex<Window>>);

impl ArrivalAges {
    /// Records one sweep's age on arrival; a stamp in the future is not an age (the pipeline
    /// figure counts those).
    pub fn record(&self, age_ns: i64) {
        if age_ns >= 0 {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record(age_ns);
        }
    }
}

/// Figures kept between two reports.
pub struct Diagnostics {
    budgets: BudgetConfig,
    stages: BTreeMap<&'static str, Window>,
    latency: Window,
    arrival: ArrivalAges,
    sweeps_window: u64,
    sweeps_total: u64,
    misses: BTreeMap<String, u64>,
    stamps_in_future: u64,
    last_stamp_ns: Option<i64>,
    last_camera_reports: Vec<FusionCameraStatus>,
    /// Per camera, since the start: pairs whose detection lent no class for lack of evidence
    /// (depth, occluded, background; `fusion.evidence`).
    refused: Vec<[u64; 3]>,
}

impl Diagnostics {
    /// With the budgets that decide misses.
    pub fn new(budgets: BudgetConfig) -> Self {
        Self {
            budgets,
            stages: BTreeMap::new(),
            latency: Window::new(),
            arrival: ArrivalAges(Arc::new(Mutex::new(Window::new()))),
            sweeps_window: 0,
            sweeps_total: 0,
            misses: BTreeMap::new(),
            stamps_in_future: 0,
            last_stamp_ns: None,
            last_camera_reports: Vec::new(),
            refused: Vec::new(),
        }
    }

    /// Where the source thread records the sweeps' ages on arrival.
    pub fn arrival_ages(&self) -> ArrivalAges {
        self.arrival.clone()
    }

    /// One published sweep, published at `now_ns` (the node's clock, [`NowFn`]).
    pub fn record(&mut self, output: &Output, now_ns: i64) {
        let p = &output.processing;
        let b = &self.budgets;
        let stages = [
            ("lidar", p.lidar, b.lidar_ms),
            ("fusion", p.fusion, b.fusion_ms),
            ("tracker", p.tracker, b.tracker_ms),
        ];
        for (name, d, budget_ms) in stages {
            self.stages
                .entry(name)
                .or_insert_with(Window::new)
                .record(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
            if d.as_secs_f64() * 1e3 > budget_ms {
                *self
                    .misses
                    .entry(format!("{name}_over_budget"))
                    .or_default() += 1;
            }
        }
        let age_ns = now_ns - output.stamp_ns;
        if age_ns < 0 {
            self.stamps_in_future += 1;
        } else {
            self.latency.record(age_ns);
            if age_ns as f64 * 1e-6 > b.end_to_end_ms {
                *self
                    .misses
                    .entry("end_to_end_over_budget".into())
                    .or_default() += 1;
            }
        }
        let cameras = output.fusion_report.cameras();
        self.last_camera_reports = cameras.iter().map(|c| c.status).collect();
        if self.refused.len() < cameras.len() {
            self.refused.resize(cameras.len(), [0; 3]);
        }
        for (total, c) in self.refused.iter_mut().zip(cameras) {
            total[0] += u64::from(c.rejected_depth);
            total[1] += u64::from(c.rejected_occluded);
            total[2] += u64::from(c.rejected_background);
        }
        self.sweeps_window += 1;
        self.sweeps_total += 1;
        self.last_stamp_ns = Some(output.stamp_ns);
    }

    /// The DiagnosticArray for the window just ended (then a new window starts). `drops`: every
    /// input dropped so far, by reason; `cameras`: what the source knows of each camera.
    pub fn report(
        &mut self,
        now_ns: i64,
        window: Duration,
        drops: &BTreeMap<String, u64>,
        cameras: &[CameraStatus],
    ) -> DiagnosticArray {
        let mut status = Vec::new();
        let f = |v: f64| format!("{v:.3}");
        // The pipeline.
        let mut values = vec![
            (
                "sweeps_published".to_string(),
                self.sweeps_total.to_string(),
            ),
            (
                "rate_hz".to_string(),
                f(self.sweeps_window as f64 / window.as_secs_f64().max(1e-3)),
            ),
        ];
        if self.sweeps_window > 0 {
            values.push(("pipeline_latency_ms_p50".into(), f(self.latency.ms(0.5))));
            values.push(("pipeline_latency_ms_p99".into(), f(self.latency.ms(0.99))));
            values.push(("pipeline_latency_ms_max".into(), f(self.latency.ms(1.0))));
        }
        {
            let mut arrival = self
                .arrival
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if arrival.us.as_ref().is_some_and(|h| !h.is_empty()) {
                values.push(("input_age_ms_p50".into(), f(arrival.ms(0.5))));
                values.push(("input_age_ms_p99".into(), f(arrival.ms(0.99))));
                values.push(("input_age_ms_max".into(), f(arrival.ms(1.0))));
            }
            arrival.reset();
        }
        values.push(("stamps_in_future".into(), self.stamps_in_future.to_string()));
        let total_drops: u64 = drops.values().sum();
        let total_misses: u64 = self.misses.values().sum();
        for (reason, n) in drops {
            values.push((format!("drop.{reason}"), n.to_string()));
        }
        for (reason, n) in &self.misses {
            values.push((format!("miss.{reason}"), n.to_string()));
        }
        let (level, message) = if self.sweeps_window == 0 {
            (WARN, "no point cloud in the last window".to_string())
        } else if total_drops > 0 || total_misses > 0 {
            (
                WARN,
                format!("running; {total_drops} inputs dropped, {total_misses} budget misses"),
            )
        } else {
            (OK, "running".to_string())
        };
        status.push(DiagnosticStatus {
            level,
            name: "fusionrt: pipeline".into(),
            message,
            hardware_id: String::new(),
            values,
        });
        // Stages.
        for (name, w) in &self.stages {
            let mut values = Vec::new();
            if self.sweeps_window > 0 {
                values.push(("processing_time_ms_p50".into(), f(w.ms(0.5))));
                values.push(("processing_time_ms_p99".into(), f(w.ms(0.99))));
                values.push(("processing_time_ms_max".into(), f(w.ms(1.0))));
            }
            let over = self
                .misses
                .get(&format!("{name}_over_budget"))
                .copied()
                .unwrap_or(0);
            values.push(("over_budget".into(), over.to_string()));
            status.push(DiagnosticStatus {
                level: OK,
                name: format!("fusionrt: {name}"),
                message: if self.sweeps_window > 0 {
                    "ok".into()
                } else {
                    "idle".into()
                },
                hardware_id: String::new(),
                values,
            });
        }
        // Cameras.
        for (i, c) in cameras.iter().enumerate() {
            let fused = self.last_camera_reports.get(i);
            let used = matches!(fused, Some(FusionCameraStatus::Used { .. }));
            let (level, message) = match (&c.problem, c.calibrated, used) {
                (Some(p), _, _) => (ERROR, format!("lidar-only: {p}")),
                (None, false, _) => (ERROR, "lidar-only: not calibrated".to_string()),
                (None, true, true) => (OK, "fused".to_string()),
                (None, true, false) => (
                    WARN,
                    format!(
                        "lidar-only on the last sweep: {}",
                        match fused {
                            Some(FusionCameraStatus::TooFarApart { .. }) => "frame too far apart",
                            Some(FusionCameraStatus::InvalidCalib) => "invalid calibration",
                            _ => "no detections frame",
                        }
                    ),
                ),
            };
            status.push(DiagnosticStatus {
                level,
                name: format!("fusionrt: camera{i}"),
                message,
                hardware_id: String::new(),
                values: {
                    let refused = self.refused.get(i).copied().unwrap_or_default();
                    vec![
                        ("images".into(), c.images.to_string()),
                        ("camera_infos".into(), c.infos.to_string()),
                        ("calibrated".into(), c.calibrated.to_string()),
                        ("class_refused.depth".into(), refused[0].to_string()),
                        ("class_refused.occluded".into(), refused[1].to_string()),
                        ("class_refused.background".into(), refused[2].to_string()),
                    ]
                },
            });
        }
        self.stages.values_mut().for_each(Window::reset);
        self.latency.reset();
        self.sweeps_window = 0;
        DiagnosticArray {
            stamp_ns: now_ns,
            frame_id: String::new(),
            status,
        }
    }
}
